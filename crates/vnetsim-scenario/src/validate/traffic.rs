//! The traffic room: the scenario's settings (duration, Azure switches, latency, shaping,
//! pricing) and its flows.
//!
//! What it is for: each flow's endpoints, protocol, ports, rate and packet size, and the
//! settings that say how packets are carried and billed. Endpoints are shared with probe
//! expectations ([`Resolver::endpoint`]). What it is not: whether a flow's packets get through
//! (the data plane) or what a replay must show (the expectations room).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::resolver::{FastMap, Kind, Resolver, loc};
use crate::diag::{FieldPath, LazyPath};
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;

/// How often a pairing draws a receiver again when the one drawn is the sender (or, with
/// `cross_vnet`, in the sender's VNet) before it takes the next fitting one in the list.
const MAX_REDRAWS: u32 = 64;

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
            default_outbound_access: az
                .default_outbound_access
                .unwrap_or(d.default_outbound_access),
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

    /// Indexes and builds every flow; a `pairs` entry becomes its `count` flows, in place.
    pub(super) fn flows(&mut self) {
        let raw = self.raw;
        self.names.flows = self.index(
            "flow",
            raw.traffic
                .iter()
                .enumerate()
                .map(|(i, f)| (&f.name, LazyPath(move || format!("traffic[{i}].name")))),
        );
        // Each entry's first flow id and its number of flows, the total bounded.
        let mut firsts = Vec::with_capacity(raw.traffic.len());
        let mut total: u64 = 0;
        for (i, f) in raw.traffic.iter().enumerate() {
            firsts.push((total as u32, 0u32));
            let count = match &f.pairs {
                None => 1,
                Some(p) => self.pairs_count(&p.value.count, total, &format!("traffic[{i}]")),
            };
            total += u64::from(count);
            if let Some(last) = firsts.last_mut() {
                last.1 = count;
            }
        }
        // Names resolve to dense flow ids; a `pairs` entry's own name names no flow.
        let mut pair_names = Vec::new();
        self.names.flows.retain(|_, (id, _)| {
            let Some(&(first, _)) = firsts.get(*id as usize) else {
                return false;
            };
            let entry = *id as usize;
            *id = first;
            raw.traffic.get(entry).is_none_or(|f| f.pairs.is_none())
        });
        for (f, &(first, count)) in raw.traffic.iter().zip(&firsts) {
            if f.pairs.is_some() {
                pair_names.push(PairEntry {
                    name: f.name.value.as_str(),
                    first,
                    count,
                    line: loc(&f.name).line() as u32,
                });
            }
        }
        self.pair_entries = pair_names;
        self.expanded_names_are_unique();
        let by_vnet = self.vms_by_vnet();
        self.sc.traffic.reserve(total as usize);
        let traffic = FieldPath::Text("traffic");
        for (i, f) in raw.traffic.iter().enumerate() {
            let path = traffic.at(i);
            match &f.pairs {
                None => {
                    let flow = self.flow(f, path);
                    self.sc.traffic.push(flow);
                }
                Some(p) => {
                    let count = firsts.get(i).map_or(0, |c| c.1);
                    self.pair_flows(f, p, count, &by_vnet, &path.to_string());
                }
            }
        }
    }

    /// pairs-count: an entry's count is 1..=MAX_FLOWS and the file's flows stay within it.
    /// The count used (0 when broken).
    fn pairs_count(&mut self, count: &Spanned<u64>, total: u64, path: &str) -> u32 {
        let n = count.value;
        let message = if n == 0 {
            "`count` is 0; a `pairs` entry makes at least one flow".to_owned()
        } else if n > MAX_FLOWS {
            format!("`count` is {n}; a `pairs` entry makes at most {MAX_FLOWS} flows")
        } else if total + n > MAX_FLOWS {
            format!(
                "this entry brings the file's flows to {}; a scenario holds at most {MAX_FLOWS} flows",
                total + n
            )
        } else {
            return n as u32;
        };
        self.err(
            loc(count),
            format!("{path}.pairs.count"),
            Rule::PairsCount,
            message,
        );
        0
    }

    /// duplicate-name: a flow written out must not take a name a `pairs` entry makes.
    fn expanded_names_are_unique(&mut self) {
        if self.pair_entries.is_empty() {
            return;
        }
        let entries: HashMap<&str, (u32, u32)> = self
            .pair_entries
            .iter()
            .map(|e| (e.name, (e.count, e.line)))
            .collect();
        let raw = self.raw;
        for (i, f) in raw.traffic.iter().enumerate() {
            if f.pairs.is_some() {
                continue;
            }
            let Some((entry, digits)) = f.name.value.rsplit_once('-') else {
                continue;
            };
            if let (Some(&(count, line)), Some(n)) = (entries.get(entry), flow_index(digits))
                && n < count
            {
                self.err(
                    loc(&f.name),
                    format!("traffic[{i}].name"),
                    Rule::DuplicateName,
                    format!(
                        "flow name `{}` is also the name of a flow made by the `pairs` entry \
                         `{entry}` (line {line})",
                        f.name.value
                    ),
                );
            }
        }
    }

    /// A flow named in an expectation: a flow written out, or one a `pairs` entry makes
    /// (`<entry>-<n>`); an unknown name is reported.
    pub(super) fn flow_ref(&mut self, name: &Spanned<String>, path: String) -> Option<u32> {
        if let Some((entry, digits)) = name.value.rsplit_once('-')
            && let Some(n) = flow_index(digits)
            && let Some(e) = self.pair_entries.iter().find(|e| e.name == entry)
            && n < e.count
        {
            return Some(e.first + n);
        }
        self.find(Kind::Flow, name, path)
    }

    /// The VMs of each VNet (those whose primary NIC is in it), in file order.
    fn vms_by_vnet(&self) -> Vec<Vec<VmId>> {
        let mut by_vnet = vec![Vec::new(); self.sc.vnets.len()];
        if self.raw.traffic.iter().all(|f| f.pairs.is_none()) {
            return by_vnet;
        }
        for (i, vm) in self.sc.vms.iter().enumerate() {
            let vnet = vm
                .nics
                .first()
                .and_then(|n| self.sc.nics.get(n.0 as usize))
                .map(|n| n.vnet.0 as usize);
            if let Some(list) = vnet.and_then(|v| by_vnet.get_mut(v)) {
                list.push(VmId(i as u32));
            }
        }
        by_vnet
    }

    /// The endpoints a `pairs.from` or `pairs.to` list selects, in the order written.
    fn selection(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        senders: bool,
        by_vnet: &[Vec<VmId>],
        path: &str,
    ) -> Vec<Endpoint> {
        let mut out = Vec::new();
        let mut resolved = true;
        for (k, item) in list.value.iter().enumerate() {
            let ipath = format!("{path}[{k}]");
            if let Some(vnet) = item.value.strip_prefix("vnet:") {
                let vnet = Spanned::new(vnet.trim().to_owned(), item.referenced, item.defined);
                let Some(id) = self.find(Kind::Vnet, &vnet, ipath.clone()) else {
                    resolved = false;
                    continue;
                };
                let vms = by_vnet.get(id as usize).map_or(&[][..], Vec::as_slice);
                if vms.is_empty() {
                    self.err(
                        loc(item),
                        ipath,
                        Rule::PairsEmpty,
                        format!(
                            "VNet `{}` holds no VM, so `{}` selects nothing",
                            vnet.value, item.value
                        ),
                    );
                    resolved = false;
                }
                out.extend(vms.iter().map(|&vm| Endpoint::Vm(vm)));
                continue;
            }
            let endpoint = if senders {
                self.sender(item, FieldPath::Text(&ipath))
            } else {
                self.endpoint(item, FieldPath::Text(&ipath))
            };
            match endpoint {
                Some(e) => out.push(e),
                None => resolved = false,
            }
        }
        if list.value.is_empty() && resolved {
            self.err_help(
                loc(list),
                path.to_owned(),
                Rule::PairsEmpty,
                format!(
                    "`{}` is empty; a `pairs` entry needs at least one {}",
                    path.rsplit('.').next().unwrap_or(path),
                    if senders { "sender" } else { "receiver" }
                ),
                "list VM or host names, or `vnet:<name>` for the VMs of a VNet",
            );
        }
        if resolved { out } else { Vec::new() }
    }

    /// The VNet (or site, or address) an endpoint sits in, for `cross_vnet`.
    fn place(&self, e: Endpoint) -> u64 {
        match e {
            Endpoint::Vm(vm) => self
                .sc
                .vms
                .get(vm.0 as usize)
                .and_then(|v| v.nics.first())
                .and_then(|n| self.sc.nics.get(n.0 as usize))
                .map_or(3 << 32 | u64::from(vm.0), |n| u64::from(n.vnet.0)),
            Endpoint::Host(h) => self
                .sc
                .hosts
                .get(h.0 as usize)
                .map_or(4 << 32 | u64::from(h.0), |h| 1 << 32 | u64::from(h.site.0)),
            Endpoint::Ip(ip) => 2 << 32 | u64::from(u32::from(ip)),
            Endpoint::Nic(nic) => self
                .sc
                .nics
                .get(nic.index())
                .map_or(5 << 32 | u64::from(nic.0), |n| u64::from(n.vnet.0)),
        }
    }

    /// The flows of one `pairs` entry, appended to the scenario's traffic.
    fn pair_flows(
        &mut self,
        f: &RawFlow,
        pairs: &Spanned<RawPairs>,
        count: u32,
        by_vnet: &[Vec<VmId>],
        path: &str,
    ) {
        let p = &pairs.value;
        for (field, name) in [(&f.from, "from"), (&f.to, "to")] {
            if let Some(v) = field {
                self.err_help(
                    loc(v),
                    format!("{path}.{name}"),
                    Rule::FlowShape,
                    format!("`{name}` is given beside `pairs`"),
                    format!("with `pairs`, write the {name} side as `pairs.{name}`"),
                );
            }
        }
        if let Some(v) = &f.src_port {
            self.err_help(
                loc(v),
                format!("{path}.src_port"),
                Rule::FlowShape,
                "`src_port` is given beside `pairs`",
                "a `pairs` entry gives a sender's k-th flow the source port 1024 + k mod 64306; remove `src_port`",
            );
        }
        let senders = self.selection(&p.from, true, by_vnet, &format!("{path}.pairs.from"));
        let receivers = self.selection(&p.to, false, by_vnet, &format!("{path}.pairs.to"));
        let t = self.flow_settings(f, FieldPath::Text(path));
        let spread = self.opt_duration(p.spread.as_ref(), format!("{path}.pairs.spread"), 0);
        if senders.is_empty() || receivers.is_empty() || count == 0 {
            return;
        }
        let places: Vec<u64> = if p.cross_vnet {
            receivers.iter().map(|&e| self.place(e)).collect()
        } else {
            Vec::new()
        };
        // For each receiver, the next one (cyclically) in another place: two passes from the
        // end, the second seeing the first's answer for the wrap-around.
        let n = places.len();
        let mut other: Vec<Option<usize>> = vec![None; n];
        if p.cross_vnet {
            for k in (0..2 * n).rev() {
                let i = k % n;
                let j = (i + 1) % n;
                other[i] = if places[j] != places[i] {
                    Some(j)
                } else {
                    other[j]
                };
            }
            if places.iter().all(|&q| q == places[0])
                && let Some(s) = senders.iter().find(|&&s| self.place(s) == places[0])
            {
                let name = self.endpoint_name(*s);
                self.err_help(
                    loc(pairs),
                    format!("{path}.pairs.cross_vnet"),
                    Rule::PairsEmpty,
                    format!(
                        "every receiver is in the same VNet as the sender `{name}`, so `cross_vnet` leaves it none"
                    ),
                    "add receivers in other VNets, or drop `cross_vnet`",
                );
                return;
            }
        }
        // Each sender's flows count their own source ports: one slot per distinct sender.
        let mut slot_of: FastMap<Endpoint, u32> = FastMap::default();
        let slots: Vec<u32> = senders
            .iter()
            .map(|&e| {
                let next = slot_of.len() as u32;
                *slot_of.entry(e).or_insert(next)
            })
            .collect();
        let mut sent = vec![0u32; slot_of.len()];
        let sender_places: Vec<u64> = if p.cross_vnet {
            senders.iter().map(|&e| self.place(e)).collect()
        } else {
            Vec::new()
        };
        let (n, m) = (senders.len() as u64, receivers.len() as u64);
        let mut state = p.seed;
        let entry = f.name.value.as_str();
        let line = loc(&f.name).line() as u32;
        let workers = if count as usize >= PARALLEL_PAIRS {
            crate::worker_threads()
        } else {
            1
        };
        // Block by block: the draws first, in order (each depends on the state the one before
        // left); the block's flows then, each from its draw alone, on all cores for a large
        // entry. A block bounds the draws kept in memory.
        let mut draws: Vec<Draw> = Vec::with_capacity((count as usize).min(PAIRS_BLOCK));
        let mut done = 0usize;
        while done < count as usize {
            draws.clear();
            let block = (count as usize - done).min(PAIRS_BLOCK);
            for _ in 0..block {
                let k = (splitmix(&mut state) % n) as usize;
                let from = senders[k];
                let port = match sent.get_mut(slots[k] as usize) {
                    Some(c) => {
                        *c += 1;
                        1024 + ((*c - 1) % PAIRS_PORTS) as u16
                    }
                    None => 1024,
                };
                let here = sender_places.get(k).copied().unwrap_or(0);
                let unfit = |j: usize| {
                    if p.cross_vnet {
                        places[j] == here
                    } else {
                        receivers[j] == from && m > 1
                    }
                };
                let mut j = (splitmix(&mut state) % m) as usize;
                for _ in 0..MAX_REDRAWS {
                    if !unfit(j) {
                        break;
                    }
                    j = (splitmix(&mut state) % m) as usize;
                }
                if unfit(j) {
                    j = if p.cross_vnet {
                        other[j].unwrap_or(j)
                    } else {
                        (j + 1) % m as usize
                    };
                }
                let offset = if spread > 0 {
                    splitmix(&mut state) % spread
                } else {
                    0
                };
                draws.push(Draw {
                    from,
                    to: receivers[j],
                    port,
                    offset,
                });
            }
            crate::par::extend_in_parallel(
                &mut self.sc.traffic,
                block,
                workers,
                |name: &mut String, k| {
                    let (d, i) = (&draws[k], done + k);
                    name.clear();
                    name.push_str(entry);
                    name.push('-');
                    crate::append::push_u64(name, i as u64);
                    Flow {
                        name: Arc::from(name.as_str()),
                        from: d.from,
                        to: d.to,
                        protocol: t.protocol,
                        src_port: (t.protocol != Protocol::Icmp).then_some(d.port),
                        dst_port: t.dst_port,
                        rate: t.rate,
                        packet_size: t.packet_size,
                        start: t.start.saturating_add(d.offset),
                        duration: t.duration,
                        pattern: t.pattern,
                        reply: t.reply,
                        line,
                    }
                },
            );
            done += block;
        }
    }

    /// An endpoint's name as the file writes it.
    fn endpoint_name(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Vm(vm) => self
                .sc
                .vms
                .get(vm.0 as usize)
                .map_or_else(String::new, |v| v.name.to_string()),
            Endpoint::Host(h) => self
                .sc
                .hosts
                .get(h.0 as usize)
                .map_or_else(String::new, |h| h.name.to_string()),
            Endpoint::Ip(ip) => ip.to_string(),
            Endpoint::Nic(nic) => self
                .sc
                .nics
                .get(nic.index())
                .map_or_else(String::new, |n| n.name.clone()),
        }
    }

    /// One flow written out.
    fn flow(&mut self, f: &RawFlow, path: FieldPath<'_>) -> Flow {
        let from = match &f.from {
            Some(v) => self.sender(v, path.field("from")),
            None => self.missing_end(f, "from", path),
        };
        let to = match &f.to {
            Some(v) => self.endpoint(v, path.field("to")),
            None => self.missing_end(f, "to", path),
        };
        let t = self.flow_settings(f, path);
        Flow {
            from: from.unwrap_or(Endpoint::Ip(Ipv4Addr::UNSPECIFIED)),
            to: to.unwrap_or(Endpoint::Ip(Ipv4Addr::UNSPECIFIED)),
            src_port: f.src_port.as_ref().map(|p| p.value),
            ..t
        }
    }

    /// flow-shape: a flow without `pairs` names both ends.
    fn missing_end(&mut self, f: &RawFlow, name: &str, path: FieldPath<'_>) -> Option<Endpoint> {
        self.err_help(
            loc(&f.name),
            format!("{path}.{name}"),
            Rule::FlowShape,
            format!("flow `{}` has no `{name}`", f.name.value),
            "give `from` and `to`, or `pairs` for many flows",
        );
        None
    }

    /// What every flow of an entry shares: protocol, destination port, rate, size, timing.
    /// Its ends are placeholders and its source port is absent.
    fn flow_settings(&mut self, f: &RawFlow, path: FieldPath<'_>) -> Flow {
        let protocol = self.protocol(&f.protocol, path.field("protocol"));
        if protocol == Some(Protocol::Icmp) {
            self.icmp_ports([(&f.src_port, "src_port"), (&f.dst_port, "dst_port")], path);
        } else {
            self.nonzero_ports([(&f.src_port, "src_port"), (&f.dst_port, "dst_port")], path);
        }
        let rate = self.rate(&f.rate, path.field("rate"));
        let size = self.packet_size(&f.packet_size, protocol, path);
        let start = self.opt_duration(f.start.as_ref(), path.field("start"), 0);
        let duration = f
            .duration
            .as_ref()
            .and_then(|d| self.duration(d, path.field("duration")));
        Flow {
            name: f.name.value.as_str().into(),
            from: Endpoint::Ip(Ipv4Addr::UNSPECIFIED),
            to: Endpoint::Ip(Ipv4Addr::UNSPECIFIED),
            protocol: protocol.unwrap_or(Protocol::Udp),
            src_port: None,
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
    pub(super) fn icmp_ports(
        &mut self,
        ports: [(&Option<Spanned<u16>>, &str); 2],
        path: impl std::fmt::Display,
    ) {
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
    pub(super) fn nonzero_ports(
        &mut self,
        ports: [(&Option<Spanned<u16>>, &str); 2],
        path: impl std::fmt::Display,
    ) {
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
    pub(super) fn sender(
        &mut self,
        name: &Spanned<String>,
        path: FieldPath<'_>,
    ) -> Option<Endpoint> {
        let endpoint = self.endpoint(name, path)?;
        if let Endpoint::Ip(ip) = endpoint
            && self.private_endpoint_sender(name, ip, path)
        {
            return Some(endpoint);
        }
        if let Endpoint::Ip(ip) = endpoint
            && let Some(place) = self.sc.unheld_vnet_address(ip)
        {
            self.err(
                loc(name),
                path,
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
    fn packet_size(
        &mut self,
        size: &Spanned<u64>,
        protocol: Option<Protocol>,
        path: FieldPath<'_>,
    ) -> u16 {
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
    pub(super) fn endpoint(
        &mut self,
        name: &Spanned<String>,
        path: FieldPath<'_>,
    ) -> Option<Endpoint> {
        let vms = self.raw.vms.len() as u32;
        if let Some((id, _)) = self.names.endpoints.get(name.value.as_str()) {
            let hosts = vms + self.sc.hosts.len() as u32;
            return Some(if *id < vms {
                Endpoint::Vm(VmId(*id))
            } else if *id < hosts {
                Endpoint::Host(HostId(*id - vms))
            } else if *id >= hosts + self.raw.internet.len() as u32 {
                // A private endpoint is its private address.
                Endpoint::Ip(
                    self.sc
                        .private_endpoints
                        .get((*id - hosts) as usize - self.raw.internet.len())
                        .map_or(Ipv4Addr::UNSPECIFIED, |p| p.ip),
                )
            } else {
                // An Internet host is its public address.
                Endpoint::Ip(
                    self.sc
                        .internet_hosts
                        .get((*id - hosts) as usize)
                        .map_or(Ipv4Addr::UNSPECIFIED, |h| h.ip),
                )
            });
        }
        if let Some(nic) = self.nic_endpoint(&name.value) {
            return Some(Endpoint::Nic(nic));
        }
        if let Ok(ip) = name.value.trim().parse::<Ipv4Addr>() {
            return Some(Endpoint::Ip(ip));
        }
        self.find(Kind::Endpoint, name, path);
        None
    }

    /// A NIC named as an endpoint: `vm/nic` (that VM's NIC) or the NIC's own name. Packets
    /// then leave from (and arrive at) that NIC, not the VM's primary one.
    fn nic_endpoint(&self, name: &str) -> Option<NicId> {
        let nic_of = |nic: &str| {
            self.names
                .nics
                .get(nic)
                .map(|(id, _)| NicId(*id))
                .filter(|id| id.index() < self.sc.nics.len())
        };
        if let Some((vm, nic)) = name.split_once('/')
            && let Some((vm, _)) = self.names.endpoints.get(vm)
            && (*vm as usize) < self.raw.vms.len()
        {
            return nic_of(nic).filter(|id| self.sc.nics[id.index()].vm == VmId(*vm));
        }
        nic_of(name)
    }
}

/// A `pairs` entry: its name, its first flow id and how many flows it makes.
pub(super) struct PairEntry<'r> {
    pub(super) name: &'r str,
    pub(super) first: u32,
    pub(super) count: u32,
    pub(super) line: u32,
}

/// The `n` of a made flow name `<entry>-<n>`: decimal digits, no leading zero.
fn flow_index(digits: &str) -> Option<u32> {
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical { digits.parse().ok() } else { None }
}

/// One flow of a `pairs` entry as its draws decided it.
struct Draw {
    from: Endpoint,
    to: Endpoint,
    port: u16,
    offset: u64,
}

/// Flows of one `pairs` entry at or above which they are made on all cores.
const PARALLEL_PAIRS: usize = 1 << 16;

/// Flows of a `pairs` entry drawn before they are made (a block's draws are kept in memory).
const PAIRS_BLOCK: usize = 1 << 17;

/// How many source ports a `pairs` sender's flows cycle through: 1024 to 65329. UDP source
/// port 65330 is Azure's ("UDP source port 65330 which is reserved for the host", Virtual
/// Network FAQ, "What protocols can I use within VNets?").
const PAIRS_PORTS: u32 = 65330 - 1024;

/// SplitMix64, the pairing's generator: small and stable, so a seed means the same flows in
/// every version.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
