//! The slow path: what names things for people.
//!
//! What it is for: [`probe`] (build a probe packet between named endpoints and walk it through
//! the decision with a full trace), [`expect`] (check a scenario's probe expectations),
//! [`explain`] (name every step of a packet's way in Azure's vocabulary) and [`views`]
//! (effective routes and security rules of a VM, as the portal lists them), [`matrix`] (every
//! pair of endpoints decided on the fast path, named only where printed). They call the
//! forwarding decision ([`crate::forward`]) and read the compiled tables ([`crate::tables`]);
//! nothing below calls them. What it is not: the hot path: they allocate, format strings and
//! scan the scenario by name.

pub mod expect;
pub mod explain;
pub mod matrix;
pub mod probe;
pub mod views;
pub mod watcher;
