//! Brings a real Azure network into vnetsim: resources exported with the Azure CLI (and, with
//! the ARM template evaluator, resources of a template) become a scenario file that `vnetsim`
//! loads, with `azure: { era: current }`.
//!
//! What it is for: [`az::resources_from_json`] reads what `az network vnet list`, `az network
//! nic list`, `az network nsg list`, `az network route-table list`, `az vm list` and `az network
//! public-ip list` print (or one `az graph query` over those types, whose rows keep their
//! `properties`); [`map::to_scenario`] maps the resources vnetsim models to a scenario document
//! (names from the resources, dynamic private IPs allocated lowest first from the subnet's `.4`
//! in the order the resources come, as Azure does), listing every resource type it does not
//! model with its count; [`yaml::write`] writes it as YAML with a header saying what was
//! imported. What it is not: a validator (the scenario loader checks the result against Azure's
//! rules and says which file, line and rule) or a client of Azure (it reads files only).

pub mod arm;
pub mod az;
pub mod map;
pub mod resource;
pub mod yaml;

pub use map::{Import, to_scenario};
pub use resource::Resource;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file is not JSON, or not the shape the Azure CLI prints.
    #[error("{file}: {message}")]
    Input {
        /// The file.
        file: String,
        /// What is wrong, with the line and column where the JSON reader stopped.
        message: String,
    },
    /// A resource cannot be mapped (a reference to nothing, an address outside its subnet).
    #[error("{resource}: {message}")]
    Resource {
        /// The resource (type and name) and the JSON path of the field.
        resource: String,
        /// What is wrong.
        message: String,
    },
}
