//! The compiled tables: the structures a forwarding decision looks things up in.
//!
//! What it is for: [`addrset`] (merged address ranges), [`lpm`] (longest-prefix match over
//! sorted intervals), [`platform`] (Azure's platform addresses and the service tags naming their
//! traffic), [`nsg`] (NSGs compiled to numeric rules with Azure's default rules),
//! [`firewall`] (Azure Firewall rules in Azure's order), [`peering`] (which links exist, their states, the edges between connected VNets) and
//! [`routes`] (a subnet's effective routes exactly as Azure lists them), with the gateway
//! routes of [`bgp`] (static and BGP-learned, a fixed point computed at compile time); [`asg`]
//! (application security groups as the address sets of their member NICs, which [`nsg`]
//! resolves). Each depends only on
//! the scenario, on [`crate::wire`] and on the tables listed before it. What it is not: the
//! decision itself ([`crate::forward`]) or per-flow state.

pub mod addrset;
pub mod asg;
pub mod bgp;
pub mod firewall;
pub mod lpm;
pub mod nsg;
pub mod peering;
pub mod platform;
pub mod routes;
