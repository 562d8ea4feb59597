//! Per-VM flow limits: how many connections a VM's host keeps state for at once.
//!
//! What it is for: Azure tracks at most 500,000 active flows per VM in each direction, at every
//! size; "once this limit is hit, other connections are dropped". A TCP or UDP connection uses
//! one flow each way at its endpoints; an appliance that forwards it holds two each way ("each
//! forwarded connection creates a new flow to the next hop", hence 250,000 connections for an
//! NVA) (Virtual machine network bandwidth, 2023 revised 2025). [`VmFlows`] counts, per VM, the
//! connections seen in the last [`FLOW_IDLE_TIMEOUT`] and refuses a new one that would not
//! fit. A connection is its 5-tuple in either direction.
//!
//! What it is not: free on every VM. A VM is tracked only when the scenario can bring more
//! connections to it than its limit (every flow and probe naming it, and for a forwarding VM
//! every flow and probe at all): elsewhere no packet can ever be refused, no table is kept,
//! and the hot path pays one branch. At a tracked VM every packet is decided in full (the memo
//! and the flow cache do not remember a decision that relied on a VM's table). Not NSG state
//! either (see [`crate::forward::pipeline::FlowTable`]).

use std::collections::HashMap;

use foldhash::fast::FixedState;
use vnetsim_scenario::{Endpoint, Expectation, Nanos, NicId, Scenario};

use crate::forward::pipeline::FLOW_IDLE_TIMEOUT;
use crate::wire::FlowKey;

/// The most connections the VMs' tables reserve room for up front, all together (they grow
/// beyond).
const CONNS_RESERVED_MAX: usize = 1 << 20;

/// The part a VM plays in a connection, which decides the flows it uses in each direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The VM sends or receives it: one flow each way.
    Endpoint,
    /// The VM forwards it (an appliance): two flows each way.
    Forwarder,
}

impl Role {
    fn flows(self) -> u32 {
        match self {
            Role::Endpoint => 1,
            Role::Forwarder => 2,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct VmTable {
    /// Flows per direction the VM may hold.
    limit: u32,
    /// Flows per direction in use (the sum over `conns`, expired ones included until a sweep).
    used: u32,
    /// Connection (canonical 5-tuple) -> (last packet, flows it uses).
    conns: HashMap<FlowKey, (Nanos, u8), FixedState>,
    /// No connection can have expired before this time: a sweep earlier frees nothing.
    sweep_after: Nanos,
    /// Whether any packet was admitted or refused here (see [`VmFlows::tables_in_use`]).
    touched: bool,
}

/// Per-VM connection counts for the VMs that can reach their limit (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct VmFlows {
    /// The table index of each NIC's VM, when that VM is tracked.
    table_of_nic: Vec<Option<u32>>,
    tables: Vec<VmTable>,
    /// New connections refused.
    refused: u64,
}

/// The 5-tuple of a connection the same in both directions.
#[inline]
fn canonical(key: &FlowKey) -> FlowKey {
    if (key.src, key.src_port) <= (key.dst, key.dst_port) {
        *key
    } else {
        key.reverse()
    }
}

impl VmFlows {
    /// A table for every VM of `scenario`, for drivers whose traffic is not the scenario's
    /// own (live mode, where applications open connections).
    pub fn every_vm(scenario: &Scenario) -> VmFlows {
        VmFlows {
            table_of_nic: scenario.nics.iter().map(|n| Some(n.vm.0)).collect(),
            tables: scenario
                .vms
                .iter()
                .map(|vm| VmTable {
                    limit: vm.flow_limit,
                    ..VmTable::default()
                })
                .collect(),
            refused: 0,
        }
    }

    /// The tables a replay of `scenario`'s own traffic and probes needs: none at all (`None`)
    /// when no VM can reach its limit.
    pub fn for_scenario(scenario: &Scenario) -> Option<VmFlows> {
        // Connections that may reach each VM: the flows and probes naming it, plus those
        // naming a bare address (which may be any VM's); a forwarding VM may see them all.
        let mut naming = vec![0u64; scenario.vms.len()];
        let mut anywhere = 0u64;
        let mut total = 0u64;
        let count = |e: &Endpoint, naming: &mut Vec<u64>, anywhere: &mut u64| match e {
            Endpoint::Vm(vm) => naming[vm.index()] += 1,
            Endpoint::Ip(_) => *anywhere += 1,
            Endpoint::Host(_) => {}
            Endpoint::Nic(nic) => naming[scenario.nics[nic.index()].vm.index()] += 1,
        };
        for f in &scenario.traffic {
            total += 1;
            count(&f.from, &mut naming, &mut anywhere);
            count(&f.to, &mut naming, &mut anywhere);
        }
        for x in &scenario.expectations {
            if let Expectation::Probe { probe, .. } = x {
                total += 1;
                count(&probe.from, &mut naming, &mut anywhere);
                count(&probe.to, &mut naming, &mut anywhere);
            }
        }
        let mut tables = Vec::new();
        let mut table_of_vm = vec![None; scenario.vms.len()];
        let mut reserved = 0usize;
        for (v, vm) in scenario.vms.iter().enumerate() {
            let forwards = vm.forwarding
                && vm
                    .nics
                    .iter()
                    .any(|n| scenario.nics[n.index()].ip_forwarding);
            let reach = if forwards {
                2 * total
            } else {
                naming[v] + anywhere
            };
            if reach > u64::from(vm.flow_limit) {
                table_of_vm[v] = Some(tables.len() as u32);
                // It may fill up (more connections can reach it than fit): sized up front for
                // the connections it can hold (a forwarder's use two flows each), so that it
                // does not grow and rehash while they arrive; all tables together reserve at
                // most CONNS_RESERVED_MAX.
                let per_conn = if forwards { 2 } else { 1 };
                let fit = (u64::from(vm.flow_limit) / per_conn).min(reach) as usize;
                let fit = fit.min(CONNS_RESERVED_MAX - reserved);
                reserved += fit;
                tables.push(VmTable {
                    limit: vm.flow_limit,
                    conns: HashMap::with_capacity_and_hasher(fit, FixedState::default()),
                    ..VmTable::default()
                });
            }
        }
        if tables.is_empty() {
            return None;
        }
        let table_of_nic = scenario
            .nics
            .iter()
            .map(|n| table_of_vm[n.vm.index()])
            .collect();
        Some(VmFlows {
            table_of_nic,
            tables,
            refused: 0,
        })
    }

    /// Whether the VM of `nic` keeps a table (it can reach its limit).
    #[inline]
    pub(crate) fn tracks(&self, nic: NicId) -> bool {
        self.table_of_nic
            .get(nic.index())
            .is_some_and(Option::is_some)
    }

    /// Admits a packet of `key` at the VM of `nic` playing `role`: an open connection is
    /// refreshed; a new one is recorded if its flows fit, else refused (`false`).
    pub(crate) fn admit(&mut self, nic: NicId, key: &FlowKey, role: Role, now: Nanos) -> bool {
        let Some(Some(t)) = self.table_of_nic.get(nic.index()) else {
            return true;
        };
        let table = &mut self.tables[*t as usize];
        table.touched = true;
        let conn = canonical(key);
        if let Some((seen, flows)) = table.conns.get_mut(&conn) {
            if now.saturating_sub(*seen) <= FLOW_IDLE_TIMEOUT {
                *seen = now;
                return true;
            }
            // Expired: it is a new connection.
            table.used -= u32::from(*flows);
            table.conns.remove(&conn);
        }
        let need = role.flows();
        if table.used + need > table.limit && now > table.sweep_after {
            table.sweep(now);
        }
        if table.used + need > table.limit {
            self.refused += 1;
            return false;
        }
        table.used += need;
        table.conns.insert(conn, (now, need as u8));
        true
    }

    /// Forgets every connection (the limits stay).
    pub(crate) fn clear(&mut self) {
        for t in &mut self.tables {
            t.conns.clear();
            t.used = 0;
            t.touched = false;
            t.sweep_after = 0;
        }
    }

    /// New connections refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Whether each tracked VM's table has admitted or refused a packet.
    pub fn tables_in_use(&self) -> impl Iterator<Item = bool> + '_ {
        self.tables.iter().map(|t| t.touched)
    }
}

impl VmTable {
    /// Forgets the connections idle for longer than the timeout.
    fn sweep(&mut self, now: Nanos) {
        let mut oldest = Nanos::MAX;
        self.conns.retain(|_, (seen, _)| {
            let keep = now.saturating_sub(*seen) <= FLOW_IDLE_TIMEOUT;
            if keep {
                oldest = oldest.min(*seen);
            }
            keep
        });
        self.used = self.conns.values().map(|(_, f)| u32::from(*f)).sum();
        self.sweep_after = oldest.saturating_add(FLOW_IDLE_TIMEOUT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            src: 0x0a00_0104,
            dst: 0x0a01_0104,
            protocol: 6,
            src_port: port,
            dst_port: 443,
        }
    }

    fn one_vm(limit: u32) -> VmFlows {
        VmFlows {
            table_of_nic: vec![Some(0)],
            tables: vec![VmTable {
                limit,
                ..VmTable::default()
            }],
            refused: 0,
        }
    }

    #[test]
    fn vm_bandwidth_2023_new_connections_beyond_the_limit_are_refused() {
        let mut v = one_vm(3);
        let nic = NicId(0);
        for p in 1..=3 {
            assert!(v.admit(nic, &key(p), Role::Endpoint, 0));
        }
        assert!(!v.admit(nic, &key(4), Role::Endpoint, 1));
        // Packets of open connections, in either direction, still pass.
        assert!(v.admit(nic, &key(2), Role::Endpoint, 2));
        assert!(v.admit(nic, &key(2).reverse(), Role::Endpoint, 3));
        assert_eq!(v.refused(), 1);
    }

    #[test]
    fn vm_bandwidth_2023_a_forwarded_connection_uses_two_flows_each_way() {
        let mut v = one_vm(4);
        let nic = NicId(0);
        assert!(v.admit(nic, &key(1), Role::Forwarder, 0));
        assert!(v.admit(nic, &key(2), Role::Forwarder, 0));
        assert!(!v.admit(nic, &key(3), Role::Endpoint, 0));
    }

    #[test]
    fn idle_connections_expire_and_free_their_flows() {
        let mut v = one_vm(1);
        let nic = NicId(0);
        assert!(v.admit(nic, &key(1), Role::Endpoint, 0));
        assert!(!v.admit(nic, &key(2), Role::Endpoint, FLOW_IDLE_TIMEOUT));
        // A packet of the open connection refreshes it...
        assert!(v.admit(nic, &key(1), Role::Endpoint, FLOW_IDLE_TIMEOUT));
        assert!(!v.admit(nic, &key(2), Role::Endpoint, 2 * FLOW_IDLE_TIMEOUT));
        // ... and idle since then it is gone a timeout later.
        let later = 2 * FLOW_IDLE_TIMEOUT + 1;
        assert!(v.admit(nic, &key(2), Role::Endpoint, later));
        assert!(!v.admit(nic, &key(1), Role::Endpoint, later));
    }

    #[test]
    fn untracked_nics_always_pass() {
        let mut v = VmFlows {
            table_of_nic: vec![None],
            tables: vec![],
            refused: 0,
        };
        assert!(!v.tracks(NicId(0)));
        assert!(v.admit(NicId(0), &key(1), Role::Endpoint, 0));
    }
}
