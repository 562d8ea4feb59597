//! Generated scenarios for benchmarks and large studies.
//!
//! What it is for: writing, reproducibly from a seed, large scenario files anyone can replay
//! (`vnetsim generate hub-spoke ...`): a hub VNet with a network virtual appliance, spokes
//! peered with it, VMs in every spoke, and flows between VMs of different spokes chained through
//! the appliance by user-defined routes. The flows are one compact `pairs` entry (a few lines
//! whatever their number), drawn by the loader from the seed. What it is not: a random topology fuzzer (see the data
//! plane's property tests) or a validator (the output is loaded and checked like any file).

use std::fmt::Write;

/// Parameters of a generated hub-and-spoke scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HubSpoke {
    /// Spoke VNets (at most 250).
    pub spokes: u32,
    /// VMs per spoke (at most 4,000: one /20 subnet per spoke).
    pub vms_per_spoke: u32,
    /// Flows between VMs of different spokes (at most [`crate::model::MAX_FLOWS`]).
    pub flows: u32,
    /// Packets per second of each flow.
    pub pps: u32,
    /// Size of each packet in bytes.
    pub packet_size: u16,
    /// Simulated duration in milliseconds.
    pub duration_ms: u32,
    /// Seed of the pairing of senders and receivers (and of the scenario).
    pub seed: u64,
    /// Whether every spoke subnet has an NSG (`spoke-nsg`: the flows' UDP port allowed out to
    /// and in from the other spokes, everything else denied), so that every packet's segments
    /// rely on NSG flow records.
    pub nsgs: bool,
    /// Whether the hub's inspecting hop is an Azure Firewall (Standard, a network rule
    /// allowing the flows' UDP port between the spokes) instead of a VM appliance.
    pub firewall: bool,
}

impl Default for HubSpoke {
    /// The benchmark of the performance targets: 100 spokes, 10,000 VMs, 100,000 flows.
    fn default() -> Self {
        Self {
            spokes: 100,
            vms_per_spoke: 100,
            flows: 100_000,
            pps: 10,
            packet_size: 64,
            duration_ms: 1000,
            seed: 1,
            nsgs: false,
            firewall: false,
        }
    }
}

impl HubSpoke {
    /// The scenario as YAML text, or why the parameters cannot make one.
    pub fn to_yaml(&self) -> Result<String, String> {
        if !(1..=250).contains(&self.spokes) {
            return Err(format!("spokes must be 1..=250, not {}", self.spokes));
        }
        if !(1..=4000).contains(&self.vms_per_spoke) {
            return Err(format!(
                "vms per spoke must be 1..=4000, not {}",
                self.vms_per_spoke
            ));
        }
        if self.spokes < 2 && self.flows > 0 {
            return Err("flows between spokes need at least 2 spokes".into());
        }
        if u64::from(self.flows) > crate::model::MAX_FLOWS {
            return Err(format!(
                "flows must be at most {} (the loader's bound), not {}",
                crate::model::MAX_FLOWS,
                self.flows
            ));
        }
        if self.pps == 0 {
            return Err(
                "pps must be at least 1 (a flow of 0 packets per second sends nothing)".into(),
            );
        }
        if self.duration_ms == 0
            || u64::from(self.duration_ms) * 1_000_000 > crate::units::MAX_DURATION
        {
            return Err(format!(
                "duration must be 1 ms to 365 days (31536000000 ms), not {} ms",
                self.duration_ms
            ));
        }
        if self.packet_size < 28 {
            return Err(format!(
                "packet size {} is under the 28 bytes of IPv4 + UDP headers",
                self.packet_size
            ));
        }
        let mut y = String::with_capacity(400 * self.spokes as usize + 4096);
        let _ = writeln!(
            y,
            "# Generated: vnetsim generate hub-spoke --spokes {} --vms-per-spoke {} --flows {} \
             --pps {} --packet-size {} --duration-ms {} --seed {}{}{}",
            self.spokes,
            self.vms_per_spoke,
            self.flows,
            self.pps,
            self.packet_size,
            self.duration_ms,
            self.seed,
            if self.nsgs { " --nsgs" } else { "" },
            if self.firewall { " --firewall" } else { "" }
        );
        let _ = writeln!(
            y,
            "name: generated-hub-spoke\nseed: {}\nduration: {}ms",
            self.seed, self.duration_ms
        );
        y.push_str("azure: { peering_limit: 500 }\n");
        // The inspecting hop: a VM appliance at 10.0.1.4, or an Azure Firewall at 10.0.2.4 (the
        // first usable address of its AzureFirewallSubnet).
        let hop = if self.firewall {
            "10.0.2.4"
        } else {
            "10.0.1.4"
        };
        y.push_str("vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    subnets: [ { name: appliances, prefix: 10.0.1.0/24 }, { name: AzureFirewallSubnet, prefix: 10.0.2.0/26 } ]\n");
        if self.firewall {
            y.push_str("    firewall: { name: hub-fw, sku: Standard, policy: hub-policy, public_ips: [203.0.113.10] }\n");
        }
        let nsg = if self.nsgs { ", nsg: spoke-nsg" } else { "" };
        for s in 1..=self.spokes {
            let _ = writeln!(
                y,
                "  - name: spoke{s}\n    address_space: [10.{s}.0.0/16]\n    subnets: [ {{ name: app, prefix: 10.{s}.16.0/20, route_table: via-nva{nsg} }} ]"
            );
        }
        if self.nsgs {
            // The spokes are not peered with each other, so they are outside each other's
            // VirtualNetwork tag: the rules name the spokes' range.
            y.push_str(
                "nsgs:\n  - name: spoke-nsg\n    rules:\n\
                 \x20     - { name: app-out, priority: 100, direction: outbound, access: allow, protocol: udp, source: VirtualNetwork, destination: 10.0.0.0/8, destination_ports: \"5001\" }\n\
                 \x20     - { name: app-in, priority: 100, direction: inbound, access: allow, protocol: udp, source: 10.0.0.0/8, destination: VirtualNetwork, destination_ports: \"5001\" }\n\
                 \x20     - { name: deny-out, priority: 4000, direction: outbound, access: deny, protocol: \"*\", source: \"*\", destination: \"*\" }\n\
                 \x20     - { name: deny-in, priority: 4000, direction: inbound, access: deny, protocol: \"*\", source: \"*\", destination: \"*\" }\n",
            );
        }
        let _ = writeln!(
            y,
            "route_tables:\n  - name: via-nva\n    routes: [ {{ name: spokes, prefix: 10.0.0.0/8, next_hop: VirtualAppliance, next_hop_ip: {hop} }} ]"
        );
        if self.firewall {
            y.push_str(
                "firewall_policies:\n  - name: hub-policy\n    rule_collection_groups:\n\
                 \x20     - name: spokes\n        priority: 100\n        rule_collections:\n\
                 \x20         - { name: east-west, priority: 100, kind: network, action: allow, rules: [ { name: app, protocols: [UDP], source_addresses: [10.0.0.0/8], destination_addresses: [10.0.0.0/8], destination_ports: [\"5001\"] } ] }\n",
            );
        }
        y.push_str("vms:\n  - { name: nva, size: Standard_F72s_v2, forwarding: true, nics: [ { name: nva-nic, vnet: hub, subnet: appliances, ip: 10.0.1.4, ip_forwarding: true } ] }\n");
        // Each spoke's VMs: scale sets of up to 1,000 instances (`s<spoke>_<i>`, then
        // `s<spoke>-<set>_<i>`), at 10.<spoke>.16.4 upwards in order.
        y.push_str("scale_sets:\n");
        for s in 1..=self.spokes {
            let mut left = self.vms_per_spoke;
            let mut set = 0;
            while left > 0 {
                let n = left.min(1000);
                let name = if set == 0 {
                    format!("s{s}")
                } else {
                    format!("s{s}-{set}")
                };
                let group = if n > 100 {
                    ", single_placement_group: false"
                } else {
                    ""
                };
                let _ = writeln!(
                    y,
                    "  - {{ name: {name}, size: Standard_D2s_v3, instances: {n}{group}, subnet: spoke{s}/app }}"
                );
                left -= n;
                set += 1;
            }
        }
        y.push_str("peerings:\n");
        for s in 1..=self.spokes {
            let _ = writeln!(
                y,
                "  - {{ name: hub-to-spoke{s}, from: hub, to: spoke{s}, allow_forwarded_traffic: true }}"
            );
            let _ = writeln!(
                y,
                "  - {{ name: spoke{s}-to-hub, from: spoke{s}, to: hub, allow_forwarded_traffic: true }}"
            );
        }
        if self.flows > 0 {
            // One compact entry: the loader draws the pairs (sender and receiver in different
            // spokes) and spreads the first packets over one period, from the seed.
            let spokes = (1..=self.spokes)
                .map(|s| format!("vnet:spoke{s}"))
                .collect::<Vec<_>>()
                .join(", ");
            let period_ns = 1_000_000_000u64 / u64::from(self.pps.max(1));
            let spread = match period_ns {
                ns if ns % 1_000_000 == 0 => format!("{}ms", ns / 1_000_000),
                ns if ns % 1_000 == 0 => format!("{}us", ns / 1_000),
                ns => format!("{ns}ns"),
            };
            let _ = write!(
                y,
                "traffic:\n  - name: f\n    pairs:\n      from: [{spokes}]\n      to: [{spokes}]\n\
                 \x20     count: {}\n      seed: {}\n      cross_vnet: true\n      spread: {spread}\n\
                 \x20   protocol: udp\n    dst_port: 5001\n    rate: {}pps\n    packet_size: {}\n",
                self.flows, self.seed, self.pps, self.packet_size
            );
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::HubSpoke;

    #[test]
    fn parameters_the_loader_would_refuse_are_refused_here() {
        for bad in [
            HubSpoke {
                pps: 0,
                ..HubSpoke::default()
            },
            HubSpoke {
                duration_ms: 0,
                ..HubSpoke::default()
            },
            HubSpoke {
                packet_size: 20,
                ..HubSpoke::default()
            },
            HubSpoke {
                spokes: 1,
                ..HubSpoke::default()
            },
            HubSpoke {
                vms_per_spoke: 0,
                ..HubSpoke::default()
            },
            HubSpoke {
                flows: 10_000_001,
                ..HubSpoke::default()
            },
        ] {
            assert!(bad.to_yaml().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_small_generated_scenario_loads_and_is_reproducible() {
        let p = HubSpoke {
            spokes: 3,
            vms_per_spoke: 2,
            flows: 10,
            ..HubSpoke::default()
        };
        let a = p.to_yaml().unwrap();
        assert_eq!(a, p.to_yaml().unwrap());
        let s =
            crate::load_str(&a, "generated.yaml").unwrap_or_else(|e| panic!("{}", e.render(false)));
        assert_eq!(s.vnets.len(), 4);
        assert_eq!(s.vms.len(), 7);
        assert_eq!(s.traffic.len(), 10);
        assert_ne!(a, HubSpoke { seed: 2, ..p }.to_yaml().unwrap());
    }

    #[test]
    fn with_nsgs_every_spoke_subnet_has_one() {
        let p = HubSpoke {
            spokes: 4,
            vms_per_spoke: 2,
            flows: 8,
            nsgs: true,
            ..HubSpoke::default()
        };
        let s = crate::load_str(&p.to_yaml().unwrap(), "generated.yaml")
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        assert_eq!(s.nsgs.len(), 1);
        let with_nsg = s.subnets.iter().filter(|sub| sub.nsg.is_some()).count();
        assert_eq!(
            with_nsg, 4,
            "the hub's subnet has none, each spoke's has one"
        );
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(
            HubSpoke {
                spokes: 0,
                ..HubSpoke::default()
            }
            .to_yaml()
            .is_err()
        );
        assert!(
            HubSpoke {
                spokes: 1,
                ..HubSpoke::default()
            }
            .to_yaml()
            .is_err()
        );
        assert!(
            HubSpoke {
                packet_size: 20,
                ..HubSpoke::default()
            }
            .to_yaml()
            .is_err()
        );
    }
}
