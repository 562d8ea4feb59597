//! Network Watcher's two one-question diagnostics, answered from the compiled tables: IP flow
//! verify (which security rule allows or denies one packet at one NIC) [IPFV] and next hop
//! (which effective route takes a destination from a NIC's subnet) [NEXTHOP].
//!
//! What it is for: `vnetsim flow-verify` and `vnetsim next-hop`, which answer what `az network
//! watcher test-ip-flow` and `az network watcher show-next-hop` answer, so a user can compare
//! vnetsim with a real subscription question by question. What it is not: a packet's journey.
//! IP flow verify looks at the NSGs of one NIC and one direction only (no routes, no flow
//! records, no appliance, no peering switch), and next hop at one subnet's routes only; `explain`
//! follows a packet end to end.

use std::net::Ipv4Addr;

use vnetsim_scenario::{Access, Direction, NicId, NsgId, Scenario};

use crate::forward::Dataplane;
use crate::pipeline::NsgPoint;
use crate::platform::{PlatformEndpoint, platform_tag};
use crate::routes::{EffectiveRoute, RouteSource};
use crate::tables::nsg::{CompiledNsg, RuleRef};
use crate::wire::FlowKey;

/// The packet IP flow verify asks about, as the Azure CLI's `test-ip-flow` takes it: seen from
/// the NIC (local) and the other end (remote) [IPFV].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowQuestion {
    /// Inbound (remote to local) or outbound (local to remote).
    pub direction: Direction,
    /// IPv4 protocol number (6 TCP, 17 UDP).
    pub protocol: u8,
    /// The NIC's address.
    pub local_ip: Ipv4Addr,
    /// The NIC's port; `None` is `*`, allowed where it is the source port (outbound).
    pub local_port: Option<u16>,
    /// The other end's address.
    pub remote_ip: Ipv4Addr,
    /// The other end's port; `None` is `*`, allowed where it is the source port (inbound).
    pub remote_port: Option<u16>,
}

/// The rule that decided an IP flow verify question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecidingRule {
    /// The NSG holding the rule.
    pub nsg: NsgId,
    /// Where that NSG is attached: the NIC's subnet or the NIC.
    pub point: NsgPoint,
    /// The rule.
    pub rule: RuleRef,
    /// The rule's name (a user rule's as written, a default rule's as Azure names it).
    pub name: String,
}

impl DecidingRule {
    /// Whether this is one of Azure's default rules.
    pub fn is_default(&self) -> bool {
        matches!(self.rule, RuleRef::Default(_))
    }

    /// The rule as IP flow verify names it: `securityRules/NAME` or
    /// `defaultSecurityRules/NAME` [IPFV].
    pub fn azure_name(&self) -> String {
        if self.is_default() {
            format!("defaultSecurityRules/{}", self.name)
        } else {
            format!("securityRules/{}", self.name)
        }
    }
}

/// The answer to an IP flow verify question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowVerdict {
    /// Allow or Deny.
    pub access: Access,
    /// The first denying rule; when nothing denies, the allowing rule of the last NSG
    /// evaluated. `None` when neither the NIC nor its subnet has an NSG, or when the packet
    /// goes to a platform address no rule names (the platform's traffic is not subject to
    /// NSGs unless a rule names its service tag [nsg-overview]).
    pub rule: Option<DecidingRule>,
}

/// Answers an IP flow verify question at `nic`: the NSGs of the NIC and its subnet in Azure's
/// order (inbound: subnet, then NIC; outbound: NIC, then subnet [nsg-how]); the first deny
/// decides. A `*` source port matches only rules open to every source port.
pub fn ip_flow_verify(
    scenario: &Scenario,
    dataplane: &Dataplane,
    nic: NicId,
    question: &FlowQuestion,
) -> FlowVerdict {
    let (src, src_port, dst, dst_port) = match question.direction {
        Direction::Outbound => (
            question.local_ip,
            question.local_port,
            question.remote_ip,
            question.remote_port,
        ),
        Direction::Inbound => (
            question.remote_ip,
            question.remote_port,
            question.local_ip,
            question.local_port,
        ),
    };
    let key = FlowKey {
        src: u32::from(src),
        dst: u32::from(dst),
        protocol: question.protocol,
        src_port: src_port.unwrap_or(0),
        dst_port: dst_port.unwrap_or(0),
    };
    let any_src_port = src_port.is_none();
    let n = &scenario.nics[nic.index()];
    let subnet = (NsgPoint::Subnet(n.subnet), dataplane.subnet_nsg(n.subnet));
    let own = (NsgPoint::Nic(nic), dataplane.nic_nsg(nic));
    let order = match question.direction {
        Direction::Inbound => [subnet, own],
        Direction::Outbound => [own, subnet],
    };
    // Traffic to 168.63.129.16 and 169.254.169.254 meets only the rules naming a platform
    // service tag [nsg-overview], as the forwarding decision applies them.
    let platform = match question.direction {
        Direction::Outbound => PlatformEndpoint::of(key.dst).map(|e| platform_tag(e, &key)),
        Direction::Inbound => None,
    };
    let mut last = None;
    for (point, nsg) in order {
        let Some((id, compiled)) = nsg else { continue };
        let verdict = match platform {
            Some(None) => None,
            Some(Some(tag)) => compiled
                .evaluate_platform(tag, &key)
                .map(|v| (v.rule, v.access)),
            None if any_src_port => first_match_any_source_port(compiled, question.direction, &key),
            None => {
                let v = compiled.evaluate(question.direction, &key);
                Some((v.rule, v.access))
            }
        };
        let Some((rule, access)) = verdict else {
            continue;
        };
        let decided = DecidingRule {
            nsg: id,
            point,
            rule,
            name: rule_name(scenario, id, rule),
        };
        if access == Access::Deny {
            return FlowVerdict {
                access,
                rule: Some(decided),
            };
        }
        last = Some(decided);
    }
    FlowVerdict {
        access: Access::Allow,
        rule: last,
    }
}

/// The first rule of `direction` matching `key` with its source port left open: only rules
/// open to every source port can match.
fn first_match_any_source_port(
    compiled: &CompiledNsg,
    direction: Direction,
    key: &FlowKey,
) -> Option<(RuleRef, Access)> {
    compiled
        .rules(direction)
        .find(|r| {
            r.source_ports.is_any()
                && r.protocol.is_none_or(|p| p == key.protocol)
                && (!key.has_ports() || r.destination_ports.contains(key.dst_port))
                && r.source.contains(key.src)
                && r.destination.contains(key.dst)
        })
        .map(|r| (r.rule, r.access))
}

fn rule_name(scenario: &Scenario, nsg: NsgId, rule: RuleRef) -> String {
    match rule {
        RuleRef::User(i) => scenario.nsgs[nsg.index()].rules[i as usize].name.clone(),
        RuleRef::Default(d) => d.name().to_string(),
    }
}

/// The answer to a next hop question.
#[derive(Clone, Debug, PartialEq)]
pub struct NextHop<'a> {
    /// The effective route that forwards the destination; `None` when no route matches (the
    /// packet is dropped, next hop type `None`).
    pub route: Option<&'a EffectiveRoute>,
    /// The route table holding that route when it is a user-defined route; `None` for a
    /// system route (Network Watcher's `System Route`) [NEXTHOP].
    pub route_table: Option<String>,
}

impl NextHop<'_> {
    /// Azure's next hop type: the route's, or `None` when no route matches.
    pub fn next_hop_type(&self) -> &'static str {
        self.route.map_or("None", |r| r.next_hop.as_str())
    }
}

/// Why a next hop question has no answer from the routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHopError {
    /// The destination is a platform address (168.63.129.16 or 169.254.169.254), which the host
    /// answers without user-defined routes [ip-168].
    Platform(PlatformEndpoint),
}

/// Answers a next hop question from `nic` to `dst`: the longest-prefix match of the Active
/// effective routes of the NIC's subnet, as forwarding uses them.
pub fn next_hop<'a>(
    scenario: &Scenario,
    dataplane: &'a Dataplane,
    nic: NicId,
    dst: Ipv4Addr,
) -> Result<NextHop<'a>, NextHopError> {
    if let Some(endpoint) = PlatformEndpoint::of(u32::from(dst)) {
        return Err(NextHopError::Platform(endpoint));
    }
    let subnet = scenario.nics[nic.index()].subnet;
    let route = dataplane.route_for(subnet, dst);
    let route_table = match route {
        Some(r) if r.source == RouteSource::User => scenario.subnets[subnet.index()]
            .route_table
            .map(|t| scenario.route_tables[t.index()].name.clone()),
        _ => None,
    };
    Ok(NextHop { route, route_table })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
name: watcher
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - { name: nva, prefix: 10.0.1.0/24 }
  - name: spoke
    address_space: [10.1.0.0/16]
    subnets:
      - { name: web, prefix: 10.1.1.0/24, nsg: web-nsg, route_table: spoke-rt }
peerings:
  - { name: hub-to-spoke, from: hub, to: spoke }
  - { name: spoke-to-hub, from: spoke, to: hub, allow_forwarded_traffic: true }
route_tables:
  - name: spoke-rt
    routes:
      - { name: to-internet, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4 }
nsgs:
  - name: web-nsg
    rules:
      - name: deny-ssh
        priority: 100
        direction: inbound
        access: deny
        protocol: tcp
        source: "*"
        destination: "*"
        destination_ports: "22"
      - name: allow-web
        priority: 200
        direction: inbound
        access: allow
        protocol: tcp
        source: "*"
        source_ports: "1024-65535"
        destination: "*"
        destination_ports: "80"
vms:
  - name: nva1
    size: Standard_D2s_v3
    forwarding: true
    nics:
      - { name: nva1-nic, vnet: hub, subnet: nva, ip: 10.0.1.4, ip_forwarding: true }
  - name: web1
    size: Standard_D2s_v3
    nics:
      - { name: web1-nic, vnet: spoke, subnet: web, ip: 10.1.1.4 }
"#;

    fn setup() -> (Scenario, Dataplane, NicId) {
        let scenario = vnetsim_scenario::load_str(SCENARIO, "watcher.yaml").expect("valid");
        let dataplane = Dataplane::compile(&scenario);
        let nic = scenario.nics_named("web1").expect("web1")[0];
        (scenario, dataplane, nic)
    }

    fn inbound(port: u16, remote_port: Option<u16>) -> FlowQuestion {
        FlowQuestion {
            direction: Direction::Inbound,
            protocol: 6,
            local_ip: "10.1.1.4".parse().unwrap(),
            local_port: Some(port),
            remote_ip: "10.0.1.4".parse().unwrap(),
            remote_port,
        }
    }

    /// IP flow verify names the denying user rule as `securityRules/NAME` [IPFV].
    #[test]
    fn ip_flow_verify_names_the_denying_user_rule() {
        let (s, d, nic) = setup();
        let v = ip_flow_verify(&s, &d, nic, &inbound(22, Some(50_000)));
        assert_eq!(v.access, Access::Deny);
        let rule = v.rule.expect("a rule decided");
        assert_eq!(rule.azure_name(), "securityRules/deny-ssh");
        assert!(matches!(rule.point, NsgPoint::Subnet(_)));
    }

    /// A port no user rule names falls to the default rules: inbound from the peered hub is
    /// AllowVNetInBound, as Azure's default rules read [nsg-overview].
    #[test]
    fn ip_flow_verify_falls_to_the_default_rules() {
        let (s, d, nic) = setup();
        let v = ip_flow_verify(&s, &d, nic, &inbound(8080, Some(50_000)));
        assert_eq!(v.access, Access::Allow);
        assert_eq!(
            v.rule.expect("a rule").azure_name(),
            "defaultSecurityRules/AllowVNetInBound"
        );
        let mut from_internet = inbound(8080, Some(50_000));
        from_internet.remote_ip = "203.0.113.9".parse().unwrap();
        let v = ip_flow_verify(&s, &d, nic, &from_internet);
        assert_eq!(v.access, Access::Deny);
        assert_eq!(
            v.rule.expect("a rule").azure_name(),
            "defaultSecurityRules/DenyAllInbound"
        );
    }

    /// A `*` remote (source) port inbound skips rules that name source ports: allow-web names
    /// 1024-65535, so port 80 from the Internet with `*` falls to DenyAllInBound, and with a
    /// port in range it is allowed by allow-web.
    #[test]
    fn a_wildcard_source_port_matches_only_rules_open_to_every_source_port() {
        let (s, d, nic) = setup();
        let mut q = inbound(80, None);
        q.remote_ip = "203.0.113.9".parse().unwrap();
        let v = ip_flow_verify(&s, &d, nic, &q);
        assert_eq!(v.access, Access::Deny);
        q.remote_port = Some(40_000);
        let v = ip_flow_verify(&s, &d, nic, &q);
        assert_eq!(v.access, Access::Allow);
        assert_eq!(
            v.rule.expect("a rule").azure_name(),
            "securityRules/allow-web"
        );
    }

    /// Next hop returns the route table of a user-defined route, `System Route` otherwise, and
    /// the longest prefix wins (the peering's /16 over the user's 0.0.0.0/0) [NEXTHOP].
    #[test]
    fn next_hop_takes_the_longest_active_prefix_and_names_its_table() {
        let (s, d, nic) = setup();
        let hop = next_hop(&s, &d, nic, "8.8.8.8".parse().unwrap()).expect("routed");
        assert_eq!(hop.next_hop_type(), "VirtualAppliance");
        assert_eq!(
            hop.route.and_then(|r| r.next_hop_ip),
            Some("10.0.1.4".parse().unwrap())
        );
        assert_eq!(hop.route_table.as_deref(), Some("spoke-rt"));
        let hop = next_hop(&s, &d, nic, "10.0.1.9".parse().unwrap()).expect("routed");
        assert_eq!(hop.next_hop_type(), "VNetPeering");
        assert_eq!(hop.route_table, None);
        let hop = next_hop(&s, &d, nic, "10.1.1.9".parse().unwrap()).expect("routed");
        assert_eq!(hop.next_hop_type(), "VnetLocal");
    }

    /// Platform addresses are not routed [ip-168]: next hop says so rather than guessing.
    #[test]
    fn next_hop_refuses_platform_addresses() {
        let (s, d, nic) = setup();
        assert_eq!(
            next_hop(&s, &d, nic, "168.63.129.16".parse().unwrap()),
            Err(NextHopError::Platform(PlatformEndpoint::HostVip))
        );
    }
}
