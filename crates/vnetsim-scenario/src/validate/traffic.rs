//! The traffic room: the scenario's settings (duration, Azure switches, latency, shaping,
//! pricing) and its flows.
//!
//! What it is for: each flow's endpoints, protocol, ports, rate and packet size, and the
//! settings that say how packets are carried and billed. Endpoints are shared with probe
//! expectations ([`Resolver::endpoint`]). What it is not: whether a flow's packets get through
//! (the data plane) or what a replay must show (the expectations room).

use std::net::Ipv4Addr;

use serde_saphyr::Spanned;

use super::resolver::{Kind, Resolver, loc};
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// The largest IPv4 packet; a shaping queue must hold at least one.
const MAX_PACKET_BYTES: u64 = 65535;

impl Resolver<'_> {
    /// The scenario's duration and Azure switches.
    pub(super) fn settings(&mut self) {
        let raw = self.raw;
        self.sc.duration = raw
            .duration
            .as_ref()
            .and_then(|d| self.duration(d, "duration"));
        let az = &raw.azure;
        let era = match az.era.as_ref() {
            None => Era::Y2016,
            Some(t) => match t.value.0.trim() {
                "2016" => Era::Y2016,
                "current" => Era::Current,
                other => {
                    self.err_help(
                        loc(t),
                        "azure.era",
                        Rule::UnknownVariant,
                        format!("`{other}` is not an era"),
                        "use `2016` (the seed's peering document, the default) or `current` \
                         (Microsoft's pages as they read now)",
                    );
                    Era::Y2016
                }
            },
        };
        let d = AzureSwitches::for_era(era);
        let tag = match az.virtual_network_tag.as_ref() {
            None => d.virtual_network_tag,
            Some(t) => match t.value.0.trim() {
                "2016" => VirtualNetworkTagMode::Y2016,
                "current" => VirtualNetworkTagMode::Current,
                other => {
                    self.err_help(
                        loc(t),
                        "azure.virtual_network_tag",
                        Rule::UnknownVariant,
                        format!("`{other}` is not a definition of the VirtualNetwork tag"),
                        "use `2016` (VNet, peers, on-premises) or `current` (also 168.63.129.16 \
                         and the prefixes of the subnet's user-defined routes)",
                    );
                    d.virtual_network_tag
                }
            },
        };
        self.sc.azure = AzureSwitches {
            era,
            global_peering: az.global_peering.unwrap_or(d.global_peering),
            cross_tenant_peering: az.cross_tenant_peering.unwrap_or(d.cross_tenant_peering),
            peering_limit: az.peering_limit.unwrap_or(d.peering_limit),
            virtual_network_access: match az.virtual_network_access {
                None => d.virtual_network_access,
                Some(RawVnetAccessMode::Tag) => VirtualNetworkAccessMode::Tag,
                Some(RawVnetAccessMode::Block) => VirtualNetworkAccessMode::Block,
            },
            forwarded_traffic: match az.forwarded_traffic {
                None => d.forwarded_traffic,
                Some(RawForwardedMode::Enforce) => ForwardedTrafficMode::Enforce,
                Some(RawForwardedMode::Ignore) => ForwardedTrafficMode::Ignore,
            },
            virtual_network_tag: tag,
            classic_gateway_transit: az
                .classic_gateway_transit
                .unwrap_or(d.classic_gateway_transit),
            address_space_update: az.address_space_update.unwrap_or(d.address_space_update),
        };
    }

    /// The latency model, shaping and pricing.
    pub(super) fn carriage(&mut self) {
        let raw = self.raw;
        let d = LatencyModel::default();
        let l = &raw.latency;
        self.sc.latency = LatencyModel {
            host_to_host: self.opt_duration(
                l.host_to_host.as_ref(),
                "latency.host_to_host",
                d.host_to_host,
            ),
            appliance: self.opt_duration(l.appliance.as_ref(), "latency.appliance", d.appliance),
            gateway: self.opt_duration(l.gateway.as_ref(), "latency.gateway", d.gateway),
            jitter: self.opt_duration(l.jitter.as_ref(), "latency.jitter", d.jitter),
        };
        let s = Shaping::default();
        self.sc.shaping = Shaping {
            queue_bytes: self.shaping_size(&raw.shaping.queue_bytes, "queue_bytes", s.queue_bytes),
            burst_bytes: self.shaping_size(&raw.shaping.burst_bytes, "burst_bytes", s.burst_bytes),
        };
        let p = Pricing::default();
        let rp = &raw.pricing;
        self.sc.pricing = Pricing {
            peering_egress_per_gb: self.price(
                &rp.peering_egress_per_gb,
                "peering_egress_per_gb",
                p.peering_egress_per_gb,
            ),
            peering_ingress_per_gb: self.price(
                &rp.peering_ingress_per_gb,
                "peering_ingress_per_gb",
                p.peering_ingress_per_gb,
            ),
        };
    }

    /// One shaping size: above zero; a queue holds the largest packet.
    fn shaping_size(&mut self, field: &Option<Spanned<u64>>, name: &str, default: u64) -> u64 {
        let Some(v) = field else {
            return default;
        };
        let path = format!("shaping.{name}");
        if v.value == 0 {
            self.err(
                loc(v),
                path,
                Rule::ShapingSizeZero,
                format!("`{name}` is 0; shaping sizes are bytes above zero"),
            );
            return default;
        }
        if name == "queue_bytes" && v.value < MAX_PACKET_BYTES {
            self.err_help(
                loc(v),
                path,
                Rule::ShapingQueueTooSmall,
                format!(
                    "a shaping queue of {} bytes cannot hold the largest IPv4 packet ({MAX_PACKET_BYTES} bytes)",
                    v.value
                ),
                format!("set `queue_bytes` to {MAX_PACKET_BYTES} or more (default {default})"),
            );
            return default;
        }
        v.value
    }

    /// One price: finite, zero or more.
    fn price(&mut self, field: &Option<Spanned<f64>>, name: &str, default: f64) -> f64 {
        match field {
            None => default,
            Some(v) if v.value.is_finite() && v.value >= 0.0 => v.value,
            Some(v) => {
                self.err(
                    loc(v),
                    format!("pricing.{name}"),
                    Rule::InvalidPrice,
                    format!(
                        "`{name}` is {}; a price is a finite number of US dollars per GB, zero or more",
                        v.value
                    ),
                );
                default
            }
        }
    }

    /// Indexes and builds every flow.
    pub(super) fn flows(&mut self) {
        let raw = self.raw;
        self.names.flows = self.index(
            "flow",
            raw.traffic
                .iter()
                .enumerate()
                .map(|(i, f)| (&f.name, format!("traffic[{i}].name"))),
        );
        for (i, f) in raw.traffic.iter().enumerate() {
            let flow = self.flow(f, &format!("traffic[{i}]"));
            self.sc.traffic.push(flow);
        }
    }

    /// One flow.
    fn flow(&mut self, f: &RawFlow, path: &str) -> Flow {
        let from = self.sender(&f.from, &format!("{path}.from"));
        let to = self.endpoint(&f.to, &format!("{path}.to"));
        let protocol = self.protocol(&f.protocol, &format!("{path}.protocol"));
        if protocol == Some(Protocol::Icmp) {
            self.icmp_ports([(&f.src_port, "src_port"), (&f.dst_port, "dst_port")], path);
        } else {
            self.nonzero_ports([(&f.src_port, "src_port"), (&f.dst_port, "dst_port")], path);
        }
        let rate = self.rate(&f.rate, &format!("{path}.rate"));
        let size = self.packet_size(&f.packet_size, protocol, path);
        let start = self.opt_duration(f.start.as_ref(), &format!("{path}.start"), 0);
        let duration = f
            .duration
            .as_ref()
            .and_then(|d| self.duration(d, &format!("{path}.duration")));
        Flow {
            name: f.name.value.as_str().into(),
            from: from.unwrap_or(Endpoint::Ip(Ipv4Addr::UNSPECIFIED)),
            to: to.unwrap_or(Endpoint::Ip(Ipv4Addr::UNSPECIFIED)),
            protocol: protocol.unwrap_or(Protocol::Udp),
            src_port: f.src_port.as_ref().map(|p| p.value),
            dst_port: f.dst_port.as_ref().map(|p| p.value),
            rate: rate.unwrap_or(Rate::PacketsPerSecond(1)),
            packet_size: size,
            start,
            duration,
            pattern: match f.pattern {
                RawPattern::Constant => Pattern::Constant,
                RawPattern::Poisson => Pattern::Poisson,
            },
            reply: f.reply,
            line: loc(&f.name).line() as u32,
        }
    }

    /// icmp-ports: no port given to an ICMP packet.
    pub(super) fn icmp_ports(&mut self, ports: [(&Option<Spanned<u16>>, &str); 2], path: &str) {
        for (p, name) in ports {
            if let Some(p) = p {
                self.err(
                    loc(p),
                    format!("{path}.{name}"),
                    Rule::IcmpPorts,
                    "ICMP has no ports; set src_port and dst_port only for tcp or udp",
                );
            }
        }
    }

    /// port-zero: TCP and UDP ports of flows and probes are 1..65535.
    pub(super) fn nonzero_ports(&mut self, ports: [(&Option<Spanned<u16>>, &str); 2], path: &str) {
        for (p, name) in ports {
            if let Some(p) = p.as_ref().filter(|p| p.value == 0) {
                self.err(
                    loc(p),
                    format!("{path}.{name}"),
                    Rule::PortZero,
                    "port 0 is reserved and never carries a TCP or UDP connection; use 1..65535",
                );
            }
        }
    }

    /// An endpoint that sends: as [`Self::endpoint`], and an address inside a VNet must be held
    /// by a NIC, since nothing else in a VNet sends (sender-unheld-address).
    pub(super) fn sender(&mut self, name: &Spanned<String>, path: &str) -> Option<Endpoint> {
        let endpoint = self.endpoint(name, path)?;
        if let Endpoint::Ip(ip) = endpoint
            && let Some(place) = self.sc.unheld_vnet_address(ip)
        {
            self.err(
                loc(name),
                path.to_owned(),
                Rule::SenderUnheldAddress,
                format!(
                    "`{ip}` lies in {place} but no NIC holds it, so nothing can send from it; \
                     name the VM, or an address a NIC holds"
                ),
            );
        }
        Some(endpoint)
    }

    /// packet-size: the headers of the protocol at least, 65535 bytes at most.
    fn packet_size(&mut self, size: &Spanned<u64>, protocol: Option<Protocol>, path: &str) -> u16 {
        let min = if protocol == Some(Protocol::Tcp) {
            40
        } else {
            28
        };
        let value = size.value;
        if value < min || value > 65535 {
            self.err(
                loc(size),
                format!("{path}.packet_size"),
                Rule::PacketSize,
                if value > 65535 {
                    format!("packet size {value} is over 65535, the largest IPv4 packet")
                } else {
                    format!(
                        "packet size {value} is under the {min} bytes of the IPv4 and {} headers",
                        if min == 40 { "TCP" } else { "UDP/ICMP" }
                    )
                },
            );
        }
        u16::try_from(value).unwrap_or(u16::MAX)
    }

    /// A flow or probe endpoint: a VM, a host or an IPv4 address.
    pub(super) fn endpoint(&mut self, name: &Spanned<String>, path: &str) -> Option<Endpoint> {
        let vms = self.raw.vms.len() as u32;
        if let Some((id, _)) = self.names.endpoints.get(name.value.as_str()) {
            return Some(if *id < vms {
                Endpoint::Vm(VmId(*id))
            } else {
                Endpoint::Host(HostId(*id - vms))
            });
        }
        if let Ok(ip) = name.value.trim().parse::<Ipv4Addr>() {
            return Some(Endpoint::Ip(ip));
        }
        self.find(Kind::Endpoint, name, path);
        None
    }
}
