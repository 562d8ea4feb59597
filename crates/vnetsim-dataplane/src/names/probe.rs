//! Probes: one real packet built from a [`Probe`] and decided by the pipeline.
//!
//! What it is for: the slow path used by `run` expectations, `explain` and tests: build the
//! IPv4 packet (real headers and checksums), pick where it enters, forward it with a full trace.
//! What it is not: the hot path (it allocates a trace) and not a timed replay.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use foldhash::fast::FixedState;
use vnetsim_scenario::{
    ConnectionKind, ConnectionPeer, Endpoint, NicId, PrivateEndpointId, Probe, Protocol, Scenario,
    SiteId, VnetId,
};

use crate::forward::Dataplane;
use crate::forward::pipeline::{Destination, FlowTable, Ingress, Outcome, Step};
use crate::wire::{self, PacketSpec};

/// TTL of probe packets (Linux's default).
pub const PROBE_TTL: u8 = 64;

/// The result of one probe.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeResult {
    /// The verdict.
    pub outcome: Outcome,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// Where the packet entered.
    pub ingress: Ingress,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
}

/// Size of a probe packet: 40 bytes for a TCP SYN, 64 for UDP, 84 for an ICMP echo (ping).
pub fn probe_size(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Tcp => 40,
        Protocol::Udp => 64,
        Protocol::Icmp => 84,
    }
}

/// Where packets from `endpoint` enter the data plane.
pub fn ingress_for(scenario: &Scenario, endpoint: Endpoint) -> Ingress {
    match endpoint {
        Endpoint::Vm(vm) => match scenario.vms[vm.index()].nics.first() {
            Some(nic) => Ingress::Nic(*nic),
            None => Ingress::Internet,
        },
        Endpoint::Host(host) => Ingress::Site(scenario.hosts[host.index()].site),
        Endpoint::Ip(ip) => {
            if let Some(nic) = scenario.nics.iter().position(|n| n.ip == ip) {
                Ingress::Nic(vnetsim_scenario::NicId(nic as u32))
            } else if let Some(host) = scenario.hosts.iter().find(|h| h.ip == ip) {
                Ingress::Site(host.site)
            } else if let Some(pe) = scenario.private_endpoint_at(ip) {
                // A private endpoint's address: the answers of the service behind it.
                Ingress::PrivateEndpoint(pe)
            } else {
                Ingress::Internet
            }
        }
        Endpoint::Nic(nic) => Ingress::Nic(nic),
    }
}

/// [`ingress_for`] and [`Scenario::endpoint_ip`] for many endpoints: addresses indexed once, so
/// that a replay resolving the sender and receiver of each of 1,000,000 flows neither scans the
/// NICs for an address nor chases a VM's NIC list per flow.
#[derive(Clone, Debug)]
pub struct EndpointIndex {
    /// Each VM's primary NIC and its address.
    vms: Vec<Option<(NicId, Ipv4Addr)>>,
    /// The first NIC (in scenario order) holding each address.
    nic_by_ip: HashMap<Ipv4Addr, NicId, FixedState>,
    /// The site of the first host (in scenario order) holding each address.
    site_by_ip: HashMap<Ipv4Addr, SiteId, FixedState>,
    /// The first private endpoint (in scenario order) holding each address.
    endpoint_by_ip: HashMap<Ipv4Addr, PrivateEndpointId, FixedState>,
}

impl EndpointIndex {
    /// Indexes the VMs, NICs and hosts of `scenario`.
    pub fn new(scenario: &Scenario) -> Self {
        let vms = scenario
            .vms
            .iter()
            .map(|vm| {
                vm.nics
                    .first()
                    .map(|&nic| (nic, scenario.nics[nic.index()].ip))
            })
            .collect();
        let mut nic_by_ip = HashMap::with_hasher(FixedState::default());
        for (i, nic) in scenario.nics.iter().enumerate() {
            nic_by_ip.entry(nic.ip).or_insert(NicId(i as u32));
        }
        let mut site_by_ip = HashMap::with_hasher(FixedState::default());
        for host in &scenario.hosts {
            site_by_ip.entry(host.ip).or_insert(host.site);
        }
        let mut endpoint_by_ip = HashMap::with_hasher(FixedState::default());
        for (i, pe) in scenario.private_endpoints.iter().enumerate() {
            endpoint_by_ip
                .entry(pe.ip)
                .or_insert(PrivateEndpointId(i as u32));
        }
        Self {
            vms,
            nic_by_ip,
            site_by_ip,
            endpoint_by_ip,
        }
    }

    /// Where packets from `endpoint` enter, as [`ingress_for`] says.
    pub fn ingress(&self, scenario: &Scenario, endpoint: Endpoint) -> Ingress {
        match endpoint {
            Endpoint::Vm(vm) => match self.vms[vm.index()] {
                Some((nic, _)) => Ingress::Nic(nic),
                None => Ingress::Internet,
            },
            Endpoint::Host(host) => Ingress::Site(scenario.hosts[host.index()].site),
            Endpoint::Ip(ip) => {
                if let Some(&nic) = self.nic_by_ip.get(&ip) {
                    Ingress::Nic(nic)
                } else if let Some(&site) = self.site_by_ip.get(&ip) {
                    Ingress::Site(site)
                } else if let Some(&pe) = self.endpoint_by_ip.get(&ip) {
                    Ingress::PrivateEndpoint(pe)
                } else {
                    Ingress::Internet
                }
            }
            Endpoint::Nic(nic) => Ingress::Nic(nic),
        }
    }

    /// The address of `endpoint`, as [`Scenario::endpoint_ip`] says.
    pub fn ip(&self, scenario: &Scenario, endpoint: Endpoint) -> Option<Ipv4Addr> {
        match endpoint {
            Endpoint::Vm(vm) => self.vms[vm.index()].map(|(_, ip)| ip),
            Endpoint::Host(host) => Some(scenario.hosts[host.index()].ip),
            Endpoint::Ip(ip) => Some(ip),
            Endpoint::Nic(nic) => Some(scenario.nics[nic.index()].ip),
        }
    }
}

/// Builds the probe packet and forwards it with a full trace. Flow records created by an
/// allowed probe stay in `flows`, so a later probe in the reverse direction is a reply.
pub fn run_probe(
    scenario: &Scenario,
    dataplane: &Dataplane,
    probe: &Probe,
    identification: u16,
    flows: &mut FlowTable,
) -> ProbeResult {
    run_probe_observed(
        scenario,
        dataplane,
        probe,
        identification,
        flows,
        &mut |_, _| {},
    )
}

/// Like [`run_probe`], showing `observe` the packet bytes as sent (`false`) and, when it is
/// delivered, as they arrive (`true`, after any TTL decrements): for captures.
pub fn run_probe_observed(
    scenario: &Scenario,
    dataplane: &Dataplane,
    probe: &Probe,
    identification: u16,
    flows: &mut FlowTable,
    observe: &mut dyn FnMut(&[u8], bool),
) -> ProbeResult {
    let src = scenario
        .endpoint_ip(probe.from)
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let dst = scenario
        .endpoint_ip(probe.to)
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let ingress = ingress_for(scenario, probe.from);
    let spec = PacketSpec {
        src,
        dst,
        protocol: probe.protocol,
        src_port: probe.src_port,
        dst_port: probe.dst_port,
        ttl: PROBE_TTL,
        total_len: probe_size(probe.protocol),
        identification,
    };
    let mut buf = [0u8; 128];
    let mut steps = Vec::new();
    let outcome = match wire::build_probe(&mut buf, &spec) {
        Ok(len) => {
            let packet = &mut buf[..len];
            observe(packet, false);
            let outcome = dataplane.forward(packet, ingress, flows, probe.at, &mut steps);
            if let Outcome::Delivered(_) = outcome {
                observe(packet, true);
            }
            outcome
        }
        // A probe that cannot be built is as malformed as one that cannot be parsed.
        Err(_) => dataplane.forward(&mut [], ingress, flows, probe.at, &mut steps),
    };
    ProbeResult {
        outcome,
        steps,
        ingress,
        src,
        dst,
    }
}

/// The hops of a probe by name, as an expectation's `path` lists them: the sender, every
/// appliance VM and gateway on the way, and the receiver when delivered.
pub fn path_names(scenario: &Scenario, probe: &Probe, result: &ProbeResult) -> Vec<String> {
    let mut path = vec![scenario.endpoint_name(probe.from).to_string()];
    for (i, step) in result.steps.iter().enumerate() {
        match *step {
            Step::Forward { nic, .. } => {
                let vm = scenario.nics[nic.index()].vm;
                path.push(scenario.vms[vm.index()].name.to_string());
            }
            Step::Gateway { vnet } => {
                // A gateway that routes a packet it received (from a site or another gateway)
                // back to itself by its GatewaySubnet's routes is one hop.
                if let Some(name) = gateway_step_name(scenario, &result.steps, i, vnet)
                    && path.last() != Some(&name)
                {
                    path.push(name);
                }
            }
            Step::Firewall { fw, .. } => path.push(scenario.firewalls[fw.index()].name.clone()),
            Step::LoadBalancer { lb, .. } => {
                path.push(scenario.load_balancers[lb.index()].name.clone())
            }
            // Delivered to the Internet: the Internet host the probe names, if it does.
            Step::Deliver {
                to: Destination::Internet,
            } => path.push(match probe.to {
                Endpoint::Ip(ip) if scenario.internet_hosts.iter().any(|h| h.ip == ip) => {
                    scenario.endpoint_name(probe.to).to_string()
                }
                _ => destination_name(scenario, Destination::Internet),
            }),
            Step::Deliver { to } => path.push(destination_name(scenario, to)),
            _ => {}
        }
    }
    path
}

/// The name of the gateway that [`Step::Gateway`] `steps[i]` of `vnet` stands for (`None`: the
/// VNet holds no gateway). With a VPN and an ExpressRoute gateway side by side, traffic to and
/// from an ExpressRoute site goes through the ExpressRoute gateway ("While ExpressRoute
/// circuit is preferred over Site-to-Site VPN when both routes are the same" [ERCOEX18],
/// https://learn.microsoft.com/azure/expressroute/expressroute-howto-coexist-resource-manager):
/// the ExpressRoute gateway when the packet came from, or is delivered to, a site that an
/// ExpressRoute connection joins to `vnet`; the VPN gateway otherwise.
pub fn gateway_step_name(
    scenario: &Scenario,
    steps: &[Step],
    i: usize,
    vnet: VnetId,
) -> Option<String> {
    let v = &scenario.vnets[vnet.index()];
    let (Some(vpn), Some(er)) = (&v.gateway, &v.expressroute) else {
        return v
            .gateway
            .as_ref()
            .or(v.expressroute.as_ref())
            .map(|g| g.name.clone());
    };
    let expressroute_site = |site: SiteId| {
        scenario.connections.iter().any(|c| {
            c.kind == ConnectionKind::ExpressRoute
                && c.from == vnet
                && c.to == ConnectionPeer::Site(site)
        })
    };
    // The site the packet came from, when no other gateway came between.
    let from = steps[..i].iter().rev().find_map(|s| match *s {
        Step::FromSite { site } => Some(Some(site)),
        Step::Gateway { .. } => Some(None),
        _ => None,
    });
    // The site of the host it is delivered to, when no other gateway comes between.
    let to = steps[i + 1..].iter().find_map(|s| match *s {
        Step::Deliver {
            to: Destination::Host(h),
        } => Some(Some(scenario.hosts[h.index()].site)),
        Step::Gateway { .. } => Some(None),
        _ => None,
    });
    let site = from.flatten().or(to.flatten());
    Some(if site.is_some_and(expressroute_site) {
        er.name.clone()
    } else {
        vpn.name.clone()
    })
}

/// The display name of a destination: the VM of a NIC, a host, a private endpoint, or
/// `Internet`.
pub fn destination_name(scenario: &Scenario, to: Destination) -> String {
    match to {
        Destination::Nic(nic) => scenario.vms[scenario.nics[nic.index()].vm.index()]
            .name
            .to_string(),
        Destination::Host(host) => scenario.hosts[host.index()].name.to_string(),
        Destination::Internet => "Internet".to_string(),
        Destination::Platform(e) => e.name().to_string(),
        Destination::PrivateEndpoint(pe) => scenario.private_endpoints[pe.index()].name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two unpeered VNets with the same range: one address, two NICs (the first one wins).
    const SAME_ADDRESS_TWICE: &str = r#"
name: same-address-twice
vnets:
  - { name: a, address_space: [10.1.0.0/16], subnets: [ { name: s, prefix: 10.1.0.0/24 } ] }
  - { name: b, address_space: [10.1.0.0/16], subnets: [ { name: s, prefix: 10.1.0.0/24 } ] }
vms:
  - { name: vm-a, size: Standard_D2s_v3, nics: [ { name: nic-a, vnet: a, subnet: s, ip: 10.1.0.4 } ] }
  - { name: vm-b, size: Standard_D2s_v3, nics: [ { name: nic-b, vnet: b, subnet: s, ip: 10.1.0.4 }, { name: nic-b2, vnet: b, subnet: s, ip: 10.1.0.5 } ] }
"#;

    /// The index answers as the scans do, for every VM and host of every example (and of a
    /// network where an address repeats), for the address of every NIC and host, and for one
    /// that nothing holds.
    #[test]
    fn the_endpoint_index_answers_as_the_scans() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
        let mut files = 0;
        let mut scenarios: Vec<(String, Scenario)> = vec![(
            "inline".into(),
            vnetsim_scenario::load_str(SAME_ADDRESS_TWICE, "inline.yaml")
                .unwrap_or_else(|e| panic!("{}", e.render(false))),
        )];
        for entry in std::fs::read_dir(dir).expect("scenarios") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let sc = vnetsim_scenario::load_file(&path)
                    .unwrap_or_else(|e| panic!("{}", e.render(false)));
                scenarios.push((path.display().to_string(), sc));
            }
        }
        for (path, sc) in scenarios {
            let index = EndpointIndex::new(&sc);
            let mut endpoints: Vec<Endpoint> = (0..sc.vms.len())
                .map(|i| Endpoint::Vm(vnetsim_scenario::VmId(i as u32)))
                .chain(
                    (0..sc.hosts.len()).map(|i| Endpoint::Host(vnetsim_scenario::HostId(i as u32))),
                )
                .collect();
            endpoints.extend(sc.nics.iter().map(|n| Endpoint::Ip(n.ip)));
            endpoints.extend(sc.hosts.iter().map(|h| Endpoint::Ip(h.ip)));
            endpoints.extend(sc.private_endpoints.iter().map(|p| Endpoint::Ip(p.ip)));
            endpoints.push(Endpoint::Ip(Ipv4Addr::new(203, 0, 113, 77)));
            for e in endpoints {
                assert_eq!(index.ingress(&sc, e), ingress_for(&sc, e), "{path:?} {e:?}");
                assert_eq!(index.ip(&sc, e), sc.endpoint_ip(e), "{path:?} {e:?}");
            }
            files += 1;
        }
        assert!(files >= 14, "read {files} scenarios");
    }
}
