//! Name lookups over a checked [`Scenario`]: the bridge from names a user types (on the command
//! line or in a test) to the dense ids the data plane works with. Not for the hot path.

use std::net::Ipv4Addr;

use crate::model::*;

impl Scenario {
    /// The VM name nearest to `name`, when `name` looks like a typo of one ("did you mean").
    pub fn nearest_vm_name(&self, name: &str) -> Option<&str> {
        crate::diag::nearest(name, self.vms.iter().map(|v| &*v.name))
    }

    /// The VM or on-premises host name nearest to `name`, when `name` looks like a typo of one.
    pub fn nearest_endpoint_name(&self, name: &str) -> Option<&str> {
        crate::diag::nearest(
            name,
            self.vms
                .iter()
                .map(|v| &*v.name)
                .chain(self.hosts.iter().map(|h| &*h.name))
                .chain(self.internet_hosts.iter().map(|h| &*h.name))
                .chain(self.private_endpoints.iter().map(|p| &*p.name)),
        )
    }

    /// The VNet with this name.
    pub fn vnet_by_name(&self, name: &str) -> Option<VnetId> {
        self.vnets
            .iter()
            .position(|v| *v.name == *name)
            .map(|i| VnetId(i as u32))
    }

    /// The VM with this name.
    pub fn vm_by_name(&self, name: &str) -> Option<VmId> {
        self.vms
            .iter()
            .position(|v| *v.name == *name)
            .map(|i| VmId(i as u32))
    }

    /// The NIC with this name.
    pub fn nic_by_name(&self, name: &str) -> Option<NicId> {
        self.nics
            .iter()
            .position(|v| *v.name == *name)
            .map(|i| NicId(i as u32))
    }

    /// The NSG with this name.
    pub fn nsg_by_name(&self, name: &str) -> Option<NsgId> {
        self.nsgs
            .iter()
            .position(|v| *v.name == *name)
            .map(|i| NsgId(i as u32))
    }

    /// The route table with this name.
    pub fn route_table_by_name(&self, name: &str) -> Option<RouteTableId> {
        self.route_tables
            .iter()
            .position(|v| *v.name == *name)
            .map(|i| RouteTableId(i as u32))
    }

    /// The peering link with this name.
    pub fn peering_by_name(&self, name: &str) -> Option<PeeringId> {
        self.peerings
            .iter()
            .position(|v| *v.name == *name)
            .map(|i| PeeringId(i as u32))
    }

    /// The on-premises host with this name.
    pub fn host_by_name(&self, name: &str) -> Option<HostId> {
        self.hosts
            .iter()
            .position(|v| *v.name == *name)
            .map(|i| HostId(i as u32))
    }

    /// The flow with this name.
    pub fn flow_by_name(&self, name: &str) -> Option<FlowId> {
        self.traffic
            .iter()
            .position(|v| *v.name == *name)
            .map(|i| FlowId(i as u32))
    }

    /// The subnet named `vnet/subnet`.
    pub fn subnet_by_path(&self, path: &str) -> Option<SubnetId> {
        let (vnet, subnet) = path.split_once('/')?;
        let vnet = self.vnet_by_name(vnet)?;
        self.vnets[vnet.index()]
            .subnets
            .iter()
            .copied()
            .find(|s| self.subnets[s.index()].name == subnet)
    }

    /// An endpoint from a VM name, an on-premises host name, a NIC (`vm/nic` or the NIC's
    /// name), or an IPv4 address.
    pub fn endpoint_by_name(&self, name: &str) -> Option<Endpoint> {
        if let Some(vm) = self.vm_by_name(name) {
            return Some(Endpoint::Vm(vm));
        }
        if let Some(host) = self.host_by_name(name) {
            return Some(Endpoint::Host(host));
        }
        if let Some(h) = self.internet_hosts.iter().find(|h| *h.name == *name) {
            return Some(Endpoint::Ip(h.ip));
        }
        if let Some(nic) = self.nic_by_path(name) {
            return Some(Endpoint::Nic(nic));
        }
        if let Some(p) = self.private_endpoints.iter().find(|p| *p.name == *name) {
            return Some(Endpoint::Ip(p.ip));
        }
        name.parse::<Ipv4Addr>().ok().map(Endpoint::Ip)
    }

    /// A NIC written `vm/nic` (the NIC of that VM) or by its own name.
    pub fn nic_by_path(&self, name: &str) -> Option<NicId> {
        if let Some((vm, nic)) = name.split_once('/')
            && let Some(vm) = self.vm_by_name(vm)
        {
            return self.vms[vm.index()]
                .nics
                .iter()
                .copied()
                .find(|n| self.nics[n.index()].name == nic);
        }
        self.nic_by_name(name)
    }

    /// The NICs `name` names: every NIC of a VM, or one NIC written `vm/nic` or by its own
    /// name (what `routes --vm` and `rules --vm` list).
    pub fn nics_named(&self, name: &str) -> Option<Vec<NicId>> {
        if let Some(id) = self.vm_by_name(name) {
            return Some(self.vms[id.index()].nics.clone());
        }
        self.nic_by_path(name).map(|nic| vec![nic])
    }

    /// The application security group with this name.
    pub fn asg_by_name(&self, name: &str) -> Option<AsgId> {
        self.application_security_groups
            .iter()
            .position(|a| a.name == name)
            .map(|i| AsgId(i as u32))
    }

    /// Where `ip` lies when it is inside a VNet's address space and held by no NIC (and is not
    /// the VNet gateway's address): "subnet vnet/name" or "VNet name (in no subnet)". `None`
    /// for an address a NIC or gateway holds, or one outside every VNet.
    pub fn unheld_vnet_address(&self, ip: Ipv4Addr) -> Option<String> {
        if self.nics.iter().any(|n| n.ip == ip)
            || self
                .vnets
                .iter()
                .any(|v| v.gateway.as_ref().is_some_and(|g| g.ip == ip))
            || self.firewalls.iter().any(|f| f.ip == ip)
        {
            return None;
        }
        let vnet = self
            .vnets
            .iter()
            .find(|v| v.address_space.iter().any(|p| p.contains(&ip)))?;
        let subnet = vnet
            .subnets
            .iter()
            .map(|s| &self.subnets[s.index()])
            .find(|s| s.prefix.contains(&ip));
        Some(match subnet {
            Some(s) => format!("subnet {}/{}", vnet.name, s.name),
            None => format!("VNet {} (in no subnet)", vnet.name),
        })
    }

    /// The display name of an endpoint.
    pub fn endpoint_name(&self, endpoint: Endpoint) -> std::sync::Arc<str> {
        match endpoint {
            Endpoint::Vm(vm) => self.vms[vm.index()].name.clone(),
            Endpoint::Host(host) => self.hosts[host.index()].name.clone(),
            Endpoint::Ip(ip) => match self.internet_hosts.iter().find(|h| h.ip == ip) {
                Some(h) => h.name.clone(),
                None => match self.private_endpoint_at(ip) {
                    Some(p) => self.private_endpoints[p.index()].name.clone(),
                    None => ip.to_string().into(),
                },
            },
            Endpoint::Nic(nic) => self.nics[nic.index()].name.as_str().into(),
        }
    }

    /// The private endpoint holding `ip` (private endpoints never share an address with a NIC
    /// of their VNet; across VNets the first in file order).
    pub fn private_endpoint_at(&self, ip: Ipv4Addr) -> Option<PrivateEndpointId> {
        self.private_endpoints
            .iter()
            .position(|p| p.ip == ip)
            .map(|i| PrivateEndpointId(i as u32))
    }

    /// The IPv4 address of an endpoint (a VM's primary NIC, a NIC's own address).
    pub fn endpoint_ip(&self, endpoint: Endpoint) -> Option<Ipv4Addr> {
        match endpoint {
            Endpoint::Vm(vm) => {
                let nic = *self.vms[vm.index()].nics.first()?;
                Some(self.nics[nic.index()].ip)
            }
            Endpoint::Host(host) => Some(self.hosts[host.index()].ip),
            Endpoint::Ip(ip) => Some(ip),
            Endpoint::Nic(nic) => Some(self.nics[nic.index()].ip),
        }
    }

    /// `vnet/subnet` of a subnet, for display.
    pub fn subnet_path(&self, subnet: SubnetId) -> String {
        let s = &self.subnets[subnet.index()];
        format!("{}/{}", self.vnets[s.vnet.index()].name, s.name)
    }
}
