//! The network room: subscriptions, VNets with their address spaces and subnets, VMs and NICs.
//!
//! What it is for: building the address plan and checking it (address ranges and subnet
//! prefixes that fit and do not overlap, NIC addresses inside their subnet and not reserved,
//! one address per NIC in a VNet, NIC counts of the VM size). What it is not: gateways (the
//! gateways room), NSG and route table contents (the security room) or peerings.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_saphyr::{Location, Spanned};

use super::resolver::{FastMap, Kind, Resolver, first_usable, loc, overlaps, reserved_overlap};
use crate::diag::{FieldPath, LazyPath, nearest};
use crate::model::*;
use crate::raw::*;
use crate::rules::Rule;
use crate::sizes;

/// The addresses held in each VNet: (VNet, IP) -> (NIC name, line).
type Held<'r> = FastMap<(VnetId, Ipv4Addr), (&'r str, u64)>;

/// Where VM `i` is written: `vms[i]`, or `scale_sets[k]` for an instance of a scale set.
fn vm_path(v: &RawVm, i: usize) -> FieldPath<'static> {
    match v.scale_set {
        Some(k) => FieldPath::Index(&FieldPath::Text("scale_sets"), k as usize),
        None => FieldPath::Index(&FieldPath::Text("vms"), i),
    }
}

impl<'r> Resolver<'r> {
    /// Subscriptions; "default" in tenant "default" when a VNet needs it and none is declared.
    pub(super) fn subscriptions(&mut self) {
        let raw = self.raw;
        self.names.subscriptions = self.index(
            "subscription",
            raw.subscriptions
                .iter()
                .enumerate()
                .map(|(i, s)| (&s.name, format!("subscriptions[{i}].name"))),
        );
        self.sc.subscriptions = raw
            .subscriptions
            .iter()
            .map(|s| Subscription {
                name: s.name.value.clone(),
                tenant: s.tenant.clone(),
            })
            .collect();
        let needs_default =
            raw.subscriptions.is_empty() || raw.vnets.iter().any(|v| v.subscription.is_none());
        self.default_subscription = match self.names.subscriptions.get("default") {
            Some((id, _)) => *id,
            None if needs_default => {
                self.sc.subscriptions.push(Subscription {
                    name: "default".into(),
                    tenant: "default".into(),
                });
                (self.sc.subscriptions.len() - 1) as u32
            }
            None => 0,
        };
    }

    /// Indexes and builds every VNet with its address space and subnets (gateways come
    /// later, from the gateways room).
    pub(super) fn vnets(&mut self) {
        let raw = self.raw;
        self.names.vnets = self.index(
            "VNet",
            raw.vnets
                .iter()
                .enumerate()
                .map(|(i, n)| (&n.name, format!("vnets[{i}].name"))),
        );
        for (i, v) in raw.vnets.iter().enumerate() {
            let subscription = match &v.subscription {
                Some(s) => self
                    .find(Kind::Subscription, s, format!("vnets[{i}].subscription"))
                    .unwrap_or(self.default_subscription),
                None => self.default_subscription,
            };
            let space = self.address_space(v, i);
            // A subnet may lie in a range an `update_address_space` event adds later (subnets
            // are declared once, in the file): it is reachable once the range is there.
            let mut reachable = space.clone();
            reachable.extend(
                raw.events
                    .iter()
                    .filter_map(|e| e.value.update_address_space.as_ref())
                    .filter(|u| u.vnet.value == v.name.value)
                    .flat_map(|u| &u.address_space)
                    .filter_map(|a| a.value.trim().parse::<Ipv4Net>().ok()),
            );
            let subnets = self.subnets(v, i, &reachable);
            self.sc.vnets.push(Vnet {
                name: v.name.value.clone(),
                subscription: SubscriptionId(subscription),
                region: v.region.clone().unwrap_or_else(|| "default".into()),
                deployment: match v.deployment {
                    RawDeployment::ResourceManager => Deployment::ResourceManager,
                    RawDeployment::Classic => Deployment::Classic,
                },
                address_space: space,
                subnets,
                gateway: None,
                firewall: None,
                expressroute: None,
            });
        }
    }

    /// A VNet's address ranges: at least one, none overlapping another.
    fn address_space(&mut self, v: &RawVnet, i: usize) -> Vec<Ipv4Net> {
        if v.address_space.is_empty() {
            self.err(
                loc(&v.name),
                format!("vnets[{i}].address_space"),
                Rule::VnetAddressSpaceEmpty,
                format!(
                    "VNet `{}` has no address range; a VNet needs at least one",
                    v.name.value
                ),
            );
        }
        let mut space: Vec<Ipv4Net> = Vec::new();
        for (k, a) in v.address_space.iter().enumerate() {
            let path = format!("vnets[{i}].address_space[{k}]");
            if let Some(net) = self.cidr(a, &path) {
                if let Some((reserved, what)) = reserved_overlap(net) {
                    self.err(
                        loc(a),
                        path.clone(),
                        Rule::AddressSpaceReserved,
                        format!(
                            "{net} overlaps {reserved} ({what}), which Azure reserves; VNet `{}` cannot hold it",
                            v.name.value
                        ),
                    );
                }
                if let Some(other) = space.iter().find(|o| overlaps(**o, net)) {
                    self.err(
                        loc(a),
                        path,
                        Rule::AddressSpaceOverlap,
                        format!(
                            "{net} overlaps {other}, another range of VNet `{}`; a VNet's address ranges must not overlap",
                            v.name.value
                        ),
                    );
                }
                space.push(net);
            }
        }
        space
    }

    /// A VNet's subnets: prefixes /8 (era current: /2) to /29, inside the address space, not
    /// overlapping.
    fn subnets(&mut self, v: &'r RawVnet, i: usize, space: &[Ipv4Net]) -> Vec<SubnetId> {
        self.index(
            "subnet",
            v.subnets
                .iter()
                .enumerate()
                .map(|(k, s)| (&s.name, format!("vnets[{i}].subnets[{k}].name"))),
        );
        let mut ids = Vec::new();
        let mut prefixes: Vec<(Ipv4Net, String)> = Vec::new();
        for (k, s) in v.subnets.iter().enumerate() {
            let path = format!("vnets[{i}].subnets[{k}]");
            let prefix = self.cidr(&s.prefix, format!("{path}.prefix"));
            if let Some(p) = prefix {
                self.subnet_prefix(v, s, p, space, &prefixes, &format!("{path}.prefix"));
                prefixes.push((p, s.name.value.clone()));
            }
            let nsg = s
                .nsg
                .as_ref()
                .and_then(|n| self.find(Kind::Nsg, n, format!("{path}.nsg")).map(NsgId));
            let route_table = s.route_table.as_ref().and_then(|n| {
                self.find(Kind::RouteTable, n, format!("{path}.route_table"))
                    .map(RouteTableId)
            });
            let sid = SubnetId(self.sc.subnets.len() as u32);
            ids.push(sid);
            self.sc.subnets.push(Subnet {
                name: s.name.value.clone(),
                vnet: VnetId(i as u32),
                prefix: prefix.unwrap_or_default(),
                nsg,
                route_table,
                default_outbound_access: s
                    .default_outbound_access
                    .unwrap_or(self.sc.azure.default_outbound_access),
                // Read by the private endpoint room.
                private_endpoint_network_policies: Default::default(),
            });
        }
        ids
    }

    /// The rules of one subnet prefix `p` against its VNet's space and earlier subnets.
    fn subnet_prefix(
        &mut self,
        v: &RawVnet,
        s: &RawSubnet,
        p: Ipv4Net,
        space: &[Ipv4Net],
        earlier: &[(Ipv4Net, String)],
        path: &str,
    ) {
        // Virtual Network FAQ: "/29 ... the largest is /8" (2016-2019 versions); today "The
        // smallest supported IPv4 subnet is /29, and the largest is /2".
        let largest = match self.sc.azure.era {
            Era::Y2016 => 8,
            Era::Current => 2,
        };
        if !(largest..=29).contains(&p.prefix_len()) {
            self.err(
                loc(&s.prefix),
                path,
                Rule::SubnetPrefixLength,
                format!(
                    "subnet prefix {p} is /{}; Azure subnets are /{largest} to /29 (era {})",
                    p.prefix_len(),
                    self.sc.azure.era.as_str()
                ),
            );
        }
        if !space.is_empty() && !space.iter().any(|a| a.contains(&p)) {
            self.err(
                loc(&s.prefix),
                path,
                Rule::SubnetOutsideAddressSpace,
                format!(
                    "subnet prefix {p} is not inside the address space of VNet `{}` ({})",
                    v.name.value,
                    space
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Some((other, name)) = earlier.iter().find(|(o, _)| overlaps(*o, p)) {
            self.err(
                loc(&s.prefix),
                path,
                Rule::SubnetOverlap,
                format!("subnet prefix {p} overlaps {other} of subnet `{name}`; subnets of a VNet must not overlap"),
            );
        }
    }

    /// Indexes VMs and NICs and builds them.
    pub(super) fn vms(&mut self) {
        let raw = self.raw;
        self.names.endpoints = self.index(
            "VM",
            raw.vms
                .iter()
                .enumerate()
                .map(|(i, v)| (&v.name, LazyPath(move || format!("{}.name", vm_path(v, i))))),
        );
        self.names.nics = self.index(
            "NIC",
            raw.vms.iter().enumerate().flat_map(|(i, v)| {
                v.nics.value.iter().enumerate().map(move |(k, n)| {
                    let path = move || match v.scale_set {
                        Some(_) => format!("{}.name", vm_path(v, i)),
                        None => format!("{}.nics[{k}].name", vm_path(v, i)),
                    };
                    (&n.name, LazyPath(path))
                })
            }),
        );
        let mut held = Held::default();
        for (i, v) in raw.vms.iter().enumerate() {
            self.vm(v, i, &mut held);
        }
    }

    /// One VM: size, bandwidth, NICs.
    fn vm(&mut self, v: &'r RawVm, i: usize, held: &mut Held<'r>) {
        let path = vm_path(v, i);
        let size = self.vm_size(v, path);
        let bandwidth = v.bandwidth.as_ref().and_then(|b| match self.rate(b, format!("{path}.bandwidth")) {
            Some(Rate::BitsPerSecond(bps)) => Some(bps),
            Some(Rate::PacketsPerSecond(_)) => {
                self.err(loc(b), format!("{path}.bandwidth"), Rule::InvalidRate, "a VM's bandwidth is in bits per second (e.g. 1Gbps), not packets per second");
                None
            }
            None => None,
        });
        if let Some(sz) = &size {
            self.vm_size_limits(v, sz, path);
        }
        if v.nics.value.is_empty() {
            self.err(
                loc(&v.name),
                format!("{path}.nics"),
                Rule::VmNoNic,
                format!(
                    "VM `{}` has no NIC; an Azure VM needs at least one",
                    v.name.value
                ),
            );
        }
        let mut nic_ids = Vec::new();
        let mut first_vnet: Option<VnetId> = None;
        let nics = path.field("nics");
        for (k, n) in v.nics.value.iter().enumerate() {
            // A scale set's NIC settings are the scale set's own fields.
            let npath = match v.scale_set {
                Some(_) => path,
                None => nics.at(k),
            };
            let (nic, vnet) = self.nic(v, n, VmId(i as u32), first_vnet, npath, held);
            first_vnet = first_vnet.or(vnet);
            nic_ids.push(NicId(self.sc.nics.len() as u32));
            self.sc.nics.push(nic);
        }
        let flow_limit = match &v.flow_limit {
            None => DEFAULT_FLOW_LIMIT,
            Some(f) if (1..=u64::from(MAX_FLOW_LIMIT)).contains(&f.value) => f.value as u32,
            Some(f) => {
                self.err_help(
                    loc(f),
                    format!("{path}.flow_limit"),
                    Rule::VmFlowLimit,
                    format!("flow_limit {} is out of range", f.value),
                    format!(
                        "a VM holds 1 to {MAX_FLOW_LIMIT} active flows per direction; Azure's figure is {DEFAULT_FLOW_LIMIT} at any size"
                    ),
                );
                DEFAULT_FLOW_LIMIT
            }
        };
        self.sc.vms.push(Vm {
            name: v.name.value.as_str().into(),
            size: size.map_or_else(|| v.size.value.clone(), |s| s.name.to_owned()),
            bandwidth,
            forwarding: v.forwarding,
            flow_limit,
            nics: nic_ids,
        });
    }

    /// unknown-vm-size: the VM size in the catalog.
    fn vm_size(&mut self, v: &RawVm, path: FieldPath<'_>) -> Option<sizes::VmSize> {
        let size = sizes::lookup(&v.size.value);
        if size.is_none() {
            let best = nearest(&v.size.value, sizes::all().iter().map(|s| s.name));
            self.unknown(
                loc(&v.size),
                format!("{path}.size"),
                Rule::UnknownVmSize,
                format!("VM size `{}` is not in the size catalog", v.size.value),
                best,
                Some("see data/vm-sizes.csv for the known sizes, or set `bandwidth`".into()),
            );
        }
        size
    }

    /// The limits of a known size: NIC count, and published bandwidth when there is traffic.
    fn vm_size_limits(&mut self, v: &RawVm, sz: &sizes::VmSize, path: FieldPath<'_>) {
        if v.nics.value.len() > sz.max_nics as usize {
            self.err(
                loc(&v.nics),
                format!("{path}.nics"),
                Rule::VmTooManyNics,
                format!(
                    "VM `{}` has {} NICs; size {} allows at most {} ({})",
                    v.name.value,
                    v.nics.value.len(),
                    sz.name,
                    sz.max_nics,
                    sz.source
                ),
            );
        }
        if sz.bandwidth_bps.is_none() && v.bandwidth.is_none() && !self.raw.traffic.is_empty() {
            self.err_help(
                loc(&v.size),
                format!("{path}.size"),
                Rule::VmBandwidthUnknown,
                format!("Azure publishes no network bandwidth for size {} (B-series bandwidth is variable), and the scenario sends traffic", sz.name),
                "set `bandwidth` on the VM, e.g. `bandwidth: 1Gbps`",
            );
        }
    }

    /// One NIC of VM `v`: its VNet and subnet, its address, its NSG. Returns the NIC and its
    /// VNet when that resolved.
    fn nic(
        &mut self,
        v: &RawVm,
        n: &'r RawNic,
        vm: VmId,
        first_vnet: Option<VnetId>,
        npath: FieldPath<'_>,
        held: &mut Held<'r>,
    ) -> (Nic, Option<VnetId>) {
        let (vnet, subnet, subnet_loc) = self.nic_subnet(n, npath);
        if let (Some(vid), Some(first)) = (vnet, first_vnet)
            && vid != first
        {
            let vnets = &self.sc.vnets;
            let msg = format!(
                "NIC `{}` is in VNet `{}` but VM `{}`'s first NIC is in `{}`; all NICs of a VM are in one VNet",
                n.name.value,
                vnets[vid.index()].name,
                v.name.value,
                vnets[first.index()].name
            );
            self.err(subnet_loc, format!("{npath}.subnet"), Rule::VmNicsVnet, msg);
        }
        // A scale-set instance's address is known; its text, written from it, reads as it.
        let ip = match n.address {
            Some(ip) => Some(ip),
            None => self.ip(&n.ip, npath.field("ip")),
        };
        if let (Some(ip), Some(sid)) = (ip, subnet) {
            self.nic_ip_in_subnet(n, ip, sid, npath);
        }
        if let (Some(ip), Some(vid)) = (ip, vnet) {
            if let Some((other, line)) = held.get(&(vid, ip)) {
                let msg = format!(
                    "IP {ip} is already held by NIC `{other}` (line {line}) in VNet `{}`",
                    self.sc.vnets[vid.index()].name
                );
                self.err(loc(&n.ip), format!("{npath}.ip"), Rule::DuplicateIp, msg);
            } else {
                held.insert((vid, ip), (n.name.value.as_str(), loc(&n.ip).line()));
            }
        }
        let nsg = n
            .nsg
            .as_ref()
            .and_then(|x| self.find(Kind::Nsg, x, npath.field("nsg")).map(NsgId));
        let nic = Nic {
            name: n.name.value.clone(),
            vm,
            vnet: vnet.unwrap_or(VnetId(0)),
            subnet: subnet.unwrap_or(SubnetId(0)),
            ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            ip_forwarding: n.ip_forwarding,
            nsg,
            public_ip: None,
        };
        (nic, vnet)
    }

    /// A NIC's VNet and subnet (`vnet/subnet`, or a subnet name and `vnet`), and where the
    /// subnet is written.
    fn nic_subnet(
        &mut self,
        n: &RawNic,
        npath: FieldPath<'_>,
    ) -> (Option<VnetId>, Option<SubnetId>, Location) {
        let subnet_loc = loc(&n.subnet);
        let (vnet_name, subnet_name) = match n.subnet.value.split_once('/') {
            Some((vn, sn)) => {
                if let Some(given) = &n.vnet
                    && given.value != vn
                {
                    self.err(
                        loc(given),
                        format!("{npath}.vnet"),
                        Rule::NicVnetMismatch,
                        format!(
                            "NIC `{}` names VNet `{}` but its subnet `{}` is in VNet `{vn}`",
                            n.name.value, given.value, n.subnet.value
                        ),
                    );
                }
                let vn = Spanned::new(vn.to_owned(), subnet_loc, n.subnet.defined);
                (Some(vn), sn.to_owned())
            }
            None => (n.vnet.clone(), n.subnet.value.clone()),
        };
        let vnet = match &vnet_name {
            Some(vn) => self.find(Kind::Vnet, vn, npath.field("vnet")).map(VnetId),
            None => {
                self.err_help(
                    subnet_loc,
                    format!("{npath}.subnet"),
                    Rule::UnknownSubnet,
                    format!(
                        "subnet `{subnet_name}` of NIC `{}` has no VNet",
                        n.name.value
                    ),
                    "set `vnet` on the NIC or write the subnet as `vnet/subnet`",
                );
                None
            }
        };
        let subnet = vnet
            .and_then(|vid| self.subnet_of(vid, &subnet_name, subnet_loc, npath.field("subnet")));
        (vnet, subnet, subnet_loc)
    }

    /// The subnet of VNet `vid` named `name`, reporting an unknown one.
    fn subnet_of(
        &mut self,
        vid: VnetId,
        name: &str,
        at: Location,
        path: impl Into<String>,
    ) -> Option<SubnetId> {
        let sc = &self.sc;
        let vnet = &sc.vnets[vid.index()];
        let found = vnet
            .subnets
            .iter()
            .copied()
            .find(|s| sc.subnets[s.index()].name == name);
        if found.is_none() {
            let names = vnet
                .subnets
                .iter()
                .map(|s| sc.subnets[s.index()].name.as_str());
            let best = nearest(name, names).map(str::to_owned);
            let msg = format!("VNet `{}` has no subnet named `{name}`", vnet.name);
            self.unknown(at, path, Rule::UnknownSubnet, msg, best.as_deref(), None);
        }
        found
    }

    /// A NIC's address inside its subnet and not one Azure reserves.
    fn nic_ip_in_subnet(&mut self, n: &RawNic, ip: Ipv4Addr, sid: SubnetId, npath: FieldPath<'_>) {
        let prefix = self.sc.subnets[sid.index()].prefix;
        let ipath = npath.field("ip");
        if self.sc.subnets[sid.index()].name == "GatewaySubnet" {
            // [vpn-gateway-settings] "Never deploy other resources (for example, additional
            // VMs) to the gateway subnet"; vnetsim gives its first usable address to the
            // gateway.
            self.err_help(
                loc(&n.subnet),
                format!("{npath}.subnet"),
                Rule::NicInGatewaySubnet,
                format!(
                    "NIC `{}` is in GatewaySubnet; Azure reserves that subnet for the virtual network gateway",
                    n.name.value
                ),
                "put the VM in another subnet of the VNet",
            );
            return;
        }
        if prefix.prefix_len() > 0 && !prefix.contains(&ip) {
            let msg = format!(
                "IP {ip} is not inside subnet `{}` ({prefix})",
                self.sc.subnet_path(sid)
            );
            self.err(loc(&n.ip), ipath, Rule::NicIpOutsideSubnet, msg);
        } else if prefix.prefix_len() > 0 {
            let off = u32::from(ip) - u32::from(prefix.network());
            if off <= 3 || ip == prefix.broadcast() {
                self.err_help(
                    loc(&n.ip),
                    ipath,
                    Rule::NicIpReserved,
                    format!("IP {ip} is reserved by Azure in subnet {prefix} (the network address, .1, .2, .3 and the broadcast address are reserved)"),
                    format!("the first usable address is {}", first_usable(prefix)),
                );
            }
        }
    }
}
