//! Scenario generators for the criterion benchmarks of the forwarding path.
//!
//! What it is for: building, reproducibly, the large scenarios the benches measure (1,000 user
//! routes, 100-rule NSGs at subnet and NIC level). What it is not: a benchmark itself (those are
//! in `benches/`) or a general scenario generator for users.

use std::fmt::Write;

/// A two-VNet peered scenario whose sending subnet has a route table of `routes` user routes
/// and where the sending and receiving subnets and NICs each carry an NSG of `rules` rules
/// (none of which match the benchmark packet, so every rule is evaluated before the defaults
/// decide). The packet `src -> dst` (10.1.1.4 -> 10.2.1.4, UDP to port 5001) is delivered.
pub fn peered_scenario_yaml(routes: usize, rules: usize) -> String {
    let mut y = String::from(
        "name: bench-first-packet\n\
         vnets:\n\
         \x20 - name: src\n    address_space: [10.1.0.0/16]\n    subnets: [ { name: app, prefix: 10.1.1.0/24, nsg: subnet-nsg, route_table: big-rt } ]\n\
         \x20 - name: dst\n    address_space: [10.2.0.0/16]\n    subnets: [ { name: app, prefix: 10.2.1.0/24, nsg: subnet-nsg } ]\n\
         vms:\n\
         \x20 - { name: sender, size: Standard_D2s_v3, nics: [ { name: sender-nic, vnet: src, subnet: app, ip: 10.1.1.4, nsg: nic-nsg } ] }\n\
         \x20 - { name: receiver, size: Standard_D2s_v3, nics: [ { name: receiver-nic, vnet: dst, subnet: app, ip: 10.2.1.4, nsg: nic-nsg } ] }\n\
         peerings:\n\
         \x20 - { name: src-to-dst, from: src, to: dst }\n\
         \x20 - { name: dst-to-src, from: dst, to: src }\n\
         route_tables:\n  - name: big-rt\n",
    );
    y.push_str(if routes == 0 {
        "    routes: []\n"
    } else {
        "    routes:\n"
    });
    // /24 user routes spread over 172.16.0.0/12 and 100.64.0.0/10: they shape the LPM table but
    // do not cover the destination.
    for i in 0..routes {
        let (a, b, c) = if i < 4096 {
            (172, 16 + (i / 256) as u32, (i % 256) as u32)
        } else {
            (
                100,
                64 + ((i - 4096) / 256) as u32,
                ((i - 4096) % 256) as u32,
            )
        };
        let _ = writeln!(
            y,
            "      - {{ name: r{i}, prefix: {a}.{b}.{c}.0/24, next_hop: VirtualAppliance, next_hop_ip: 10.1.1.100 }}"
        );
    }
    y.push_str("nsgs:\n");
    for nsg in ["subnet-nsg", "nic-nsg"] {
        let _ = writeln!(y, "  - name: {nsg}\n    rules:");
        for i in 0..rules {
            let direction = if i % 2 == 0 { "inbound" } else { "outbound" };
            // Rules on other ports: each is checked and none matches.
            let _ = writeln!(
                y,
                "      - {{ name: r{i}, priority: {}, direction: {direction}, access: deny, protocol: udp, source: 10.0.0.0/8, destination: 10.0.0.0/8, destination_ports: \"{}\" }}",
                100 + i,
                10000 + i
            );
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::peered_scenario_yaml;

    #[test]
    fn the_generated_scenario_loads() {
        let s = vnetsim_scenario::load_str(&peered_scenario_yaml(1000, 100), "bench.yaml")
            .unwrap_or_else(|e| panic!("{}", e.render(false)));
        assert_eq!(s.route_tables[0].routes.len(), 1000);
        assert_eq!(s.nsgs[0].rules.len(), 100);
    }
}
