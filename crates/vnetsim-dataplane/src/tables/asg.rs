//! Application security groups compiled to address sets: each ASG is the set of the private IPs
//! of its member NICs.
//!
//! What it is for: [`crate::tables::nsg::TagSets::resolve`] turns a rule's
//! [`AddressMatch::Asg`](vnetsim_scenario::AddressMatch::Asg) entry into the group's
//! [`AddrSet`], so an NSG rule naming an ASG compiles to the same numeric rule as one listing the
//! member IPs, and a packet pays nothing more to be matched against it. Azure: "a rule naming an
//! ASG applies only to member NICs, even when the NSG is on the subnet" [ASG20]: the member
//! addresses are exactly the packets such a rule can match as source or destination.
//!
//! What it is not: the membership rules (one VNet per group, limits: the loader's `asg` room)
//! or the evaluation order (the pipeline). Membership never changes during a run (no event
//! changes it), so the sets are built once per compile.

use std::sync::Arc;

use ipnet::Ipv4Net;
use vnetsim_scenario::{AsgId, Scenario};

use crate::tables::addrset::AddrSet;

/// The address set of every application security group of a scenario, by [`AsgId`]; cheap to
/// clone (shared), empty for a scenario without ASGs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AsgSets(Arc<[AddrSet]>);

impl AsgSets {
    /// Each ASG of `scenario` as the set of its member NICs' addresses (/32 each).
    pub fn of(scenario: &Scenario) -> Self {
        if scenario.application_security_groups.is_empty() {
            return Self::default();
        }
        Self(
            scenario
                .application_security_groups
                .iter()
                .map(|g| {
                    AddrSet::from_prefixes(
                        g.members
                            .iter()
                            .map(|n| Ipv4Net::from(scenario.nics[n.index()].ip)),
                    )
                })
                .collect(),
        )
    }

    /// The addresses of `asg`; empty for an id outside the scenario (a model built in code
    /// that names an ASG it does not declare matches nothing rather than panicking).
    pub fn get(&self, asg: AsgId) -> AddrSet {
        self.0
            .get(asg.index())
            .cloned()
            .unwrap_or_else(AddrSet::empty)
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the scenario has no group.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proptest::prelude::*;
    use vnetsim_scenario::model::{
        self, Access, AddressMatch, ApplicationSecurityGroup, Direction, Nic, NicId, NsgRule,
        PortRange, Protocol, RuleProtocol, SubnetId, VmId, VnetId,
    };

    use super::*;
    use crate::tables::nsg::{CompiledNsg, TagSets};
    use crate::wire::FlowKey;

    fn nic(ip: u32) -> Nic {
        Nic {
            name: format!("nic-{ip}"),
            vm: VmId(0),
            vnet: VnetId(0),
            subnet: SubnetId(0),
            ip: Ipv4Addr::from(ip),
            ip_forwarding: false,
            nsg: None,
            public_ip: None,
        }
    }

    /// A scenario with NICs at 10.0.1.4.. and groups of the given member indices.
    fn scenario(groups: &[Vec<usize>], nics: usize) -> Scenario {
        let base = u32::from(Ipv4Addr::new(10, 0, 1, 4));
        Scenario {
            nics: (0..nics as u32).map(|i| nic(base + i)).collect(),
            application_security_groups: groups
                .iter()
                .enumerate()
                .map(|(i, m)| ApplicationSecurityGroup {
                    name: format!("asg{i}"),
                    members: m.iter().map(|&n| NicId(n as u32)).collect(),
                })
                .collect(),
            ..Scenario::default()
        }
    }

    #[test]
    fn asg20_a_group_is_the_addresses_of_its_member_nics() {
        let sc = scenario(&[vec![0, 2], vec![], vec![1]], 3);
        let sets = AsgSets::of(&sc);
        assert_eq!(sets.len(), 3);
        let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        let web = sets.get(AsgId(0));
        assert!(web.contains(ip("10.0.1.4")) && web.contains(ip("10.0.1.6")));
        assert!(!web.contains(ip("10.0.1.5")));
        assert!(
            sets.get(AsgId(1)).is_empty(),
            "a group without members matches nothing"
        );
        assert_eq!(sets.get(AsgId(9)), AddrSet::empty());
        assert!(AsgSets::of(&Scenario::default()).is_empty());
    }

    /// One side of a rule: a group, or the same group written as its member IPs.
    fn sides(
        asg: usize,
        members: &[Vec<usize>],
        sc: &Scenario,
    ) -> (AddressMatch, Vec<AddressMatch>) {
        let ips = members[asg]
            .iter()
            .map(|&n| AddressMatch::Prefix(Ipv4Net::from(sc.nics[n].ip)))
            .collect::<Vec<_>>();
        (AddressMatch::Asg(AsgId(asg as u32)), ips)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// asg20: an NSG whose rules name ASGs decides every packet exactly as the same NSG with
        /// each ASG written as the list of its member NICs' IPs.
        #[test]
        fn asg20_a_rule_naming_a_group_equals_the_rule_with_its_member_ips(
            members in proptest::collection::vec(proptest::collection::btree_set(0usize..6, 1..4), 1..4),
            rules in proptest::collection::vec(
                (0usize..4, 0usize..4, any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), prop_oneof![Just(None), Just(Some(80u16)), Just(Some(443u16))]),
                1..6,
            ),
            keys in proptest::collection::vec((0u32..8, 0u32..8, prop_oneof![Just(6u8), Just(17u8), Just(1u8)], prop_oneof![Just(80u16), Just(443u16), Just(22u16)]), 1..20),
        ) {
            let members: Vec<Vec<usize>> = members.into_iter().map(|s| s.into_iter().collect()).collect();
            let sc = scenario(&members, 6);
            let mut with_asgs = Vec::new();
            let mut with_ips = Vec::new();
            for (i, (src, dst, src_asg, dst_asg, inbound, allow, port)) in rules.into_iter().enumerate() {
                let (src, dst) = (src % members.len(), dst % members.len());
                let (src_g, src_ips) = sides(src, &members, &sc);
                let (dst_g, dst_ips) = sides(dst, &members, &sc);
                let rule = |source: Vec<AddressMatch>, destination: Vec<AddressMatch>| NsgRule {
                    name: format!("r{i}"),
                    priority: 100 + i as u16,
                    direction: if inbound { Direction::Inbound } else { Direction::Outbound },
                    access: if allow { Access::Allow } else { Access::Deny },
                    protocol: if port.is_some() { RuleProtocol::One(Protocol::Tcp) } else { RuleProtocol::Any },
                    source,
                    source_ports: vec![PortRange::ANY],
                    destination,
                    destination_ports: vec![port.map_or(PortRange::ANY, |p| PortRange { lo: p, hi: p })],
                };
                let any = vec![AddressMatch::Any];
                with_asgs.push(rule(
                    if src_asg { vec![src_g] } else { any.clone() },
                    if dst_asg { vec![dst_g] } else { any.clone() },
                ));
                with_ips.push(rule(
                    if src_asg { src_ips } else { any.clone() },
                    if dst_asg { dst_ips } else { any },
                ));
            }
            let tags = TagSets {
                application_security_groups: AsgSets::of(&sc),
                ..TagSets::default()
            };
            let a = CompiledNsg::compile(&model::Nsg { name: "asg".into(), rules: with_asgs }, &tags);
            let b = CompiledNsg::compile(&model::Nsg { name: "ips".into(), rules: with_ips }, &tags);
            let base = u32::from(Ipv4Addr::new(10, 0, 1, 4));
            for (s, d, protocol, port) in keys {
                let key = FlowKey { src: base + s, dst: base + d, protocol, src_port: 50000, dst_port: port };
                for dir in [Direction::Inbound, Direction::Outbound] {
                    prop_assert_eq!(a.evaluate(dir, &key), b.evaluate(dir, &key), "{:?} {:?}", dir, key);
                }
            }
        }
    }
}
