//! The rule codes of the loader: one list of every rule a scenario file can break.
//!
//! What it is for: naming each rule once, as a [`Rule`] variant with its stable code (what
//! diagnostics print, e.g. `peering-self`) and its one-line statement, which is also its row in
//! the "Rules and their codes" table of the scenario reference. What it is not: the checks
//! themselves (the validator) or the wording of each diagnostic, which names the objects
//! involved.

/// Declares [`Rule`], its code and summary, and the [`RULES`] table, from one list.
macro_rules! rules {
    ($( $variant:ident = $code:literal : $summary:literal, )*) => {
        /// A rule of the scenario contract; each diagnostic names the one it breaks.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $(
                #[doc = $summary]
                $variant,
            )*
        }

        impl Rule {
            /// Every rule, in the order of the list.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The stable code diagnostics print, e.g. `peering-self`.
            pub const fn code(self) -> &'static str {
                match self {
                    $(Rule::$variant => $code,)*
                }
            }

            /// The rule in one line, as the scenario reference states it.
            pub const fn summary(self) -> &'static str {
                match self {
                    $(Rule::$variant => $summary,)*
                }
            }
        }

        /// Every rule code the loader can report, with a one-line statement of the rule (the
        /// code and summary of each [`Rule`]). The scenario reference lists the same table.
        pub const RULES: &[(&str, &str)] = &[$(($code, $summary)),*];
    };
}

rules! {
    // File format.
    YamlSyntax = "yaml-syntax":
        "The file must be well-formed YAML.",
    UnknownField = "unknown-field":
        "Only the documented fields are allowed.",
    UnknownVariant = "unknown-variant":
        "Enumerated fields take one of their documented values.",
    MissingField = "missing-field":
        "Required fields must be present.",
    InvalidType = "invalid-type":
        "A field's value must have the documented type.",
    DuplicateKey = "duplicate-key":
        "A mapping must not repeat a key.",
    IoError = "io-error":
        "The scenario file must be readable.",
    InvalidDuration = "invalid-duration":
        "Durations are a number and ns, us, ms or s (`0` alone is allowed).",
    InvalidRate = "invalid-rate":
        "Rates are a positive number and bps, kbps, Mbps, Gbps, Tbps, pps, kpps or Mpps.",
    InvalidCidr = "invalid-cidr":
        "Prefixes are IPv4 CIDR such as 10.0.0.0/16.",
    CidrHostBits = "cidr-host-bits":
        "A prefix must not have host bits set (Azure: InvalidCIDRNotation).",
    InvalidIp = "invalid-ip":
        "Addresses are IPv4 addresses such as 10.0.1.4.",
    InvalidProtocol = "invalid-protocol":
        "Protocols are tcp, udp, icmp, or in NSG rules also esp, ah and \"*\".",
    InvalidAddress = "invalid-address":
        "NSG sources and destinations are CIDR, IP, \"*\" or a service tag: VirtualNetwork, Internet, AzureLoadBalancer, AzurePlatformDNS, AzurePlatformIMDS, AzurePlatformLKM.",
    InvalidPort = "invalid-port":
        "Ports are \"*\", a port, a range lo-hi, or a list; 0..65535.",
    IcmpPorts = "icmp-ports":
        "ICMP has no ports: src_port and dst_port only with tcp or udp.",
    InvalidComparison = "invalid-comparison":
        "Flow checks are `>=`, `<=` or `==` and a value in the metric's unit.",
    // Names.
    DuplicateName = "duplicate-name":
        "Names are unique per kind (VM and host names share one namespace).",
    NameCharacters = "name-characters":
        "Names are 1 to 80 characters and hold no control character (Azure's names take letters, digits, `_`, `.` and `-`).",
    UnknownSubscription = "unknown-subscription":
        "A VNet's subscription must be declared.",
    UnknownVnet = "unknown-vnet":
        "Referenced VNets must exist.",
    UnknownSubnet = "unknown-subnet":
        "Referenced subnets must exist (`vnet/subnet`, or a name in the NIC's VNet).",
    UnknownNsg = "unknown-nsg":
        "Referenced NSGs must exist.",
    UnknownRouteTable = "unknown-route-table":
        "Referenced route tables must exist.",
    UnknownVmSize = "unknown-vm-size":
        "A VM's size must be in the size catalog.",
    UnknownGatewaySku = "unknown-gateway-sku":
        "A gateway's SKU must be in the gateway SKU catalog.",
    UnknownPeering = "unknown-peering":
        "Referenced peerings must exist.",
    UnknownNic = "unknown-nic":
        "Referenced NICs must exist.",
    UnknownFlow = "unknown-flow":
        "Referenced flows must exist.",
    UnknownEndpoint = "unknown-endpoint":
        "Endpoints are a VM, an on-premises host, a NIC (`vm/nic` or its name) or an IPv4 address.",
    SenderUnheldAddress = "sender-unheld-address":
        "A sender given as an address inside a VNet must be an address a NIC holds.",
    PortZero = "port-zero":
        "A flow's or probe's TCP or UDP port is 1..65535 (port 0 is reserved).",
    FlowShape = "flow-shape":
        "A traffic entry has either `from` and `to` or `pairs` (which chooses each flow's source port, so no `src_port`).",
    PairsCount = "pairs-count":
        "A `pairs` entry makes 1 to 10,000,000 flows, and a file's traffic holds at most 10,000,000 flows.",
    PairsEmpty = "pairs-empty":
        "A `pairs` selection names at least one endpoint, and with `cross_vnet` every sender has a receiver in another VNet.",
    UnknownConnection = "unknown-connection":
        "A site connects to a gateway, named by gateway or VNet.",
    UnknownDropReason = "unknown-drop-reason":
        "Drop reasons are the stable names of the contract.",
    // Addressing.
    VnetAddressSpaceEmpty = "vnet-address-space-empty":
        "A VNet needs at least one address range.",
    AddressSpaceOverlap = "address-space-overlap":
        "A VNet's own address ranges must not overlap.",
    AddressSpaceReserved = "address-space-reserved":
        "A VNet's address ranges leave out the ranges Azure reserves: 224.0.0.0/4, 255.255.255.255/32, 127.0.0.0/8, 169.254.0.0/16 and 168.63.129.16/32.",
    SubnetPrefixLength = "subnet-prefix-length":
        "Subnet prefixes are /8 to /29 under era 2016, /2 to /29 under era current.",
    SubnetOutsideAddressSpace = "subnet-outside-address-space":
        "A subnet's prefix must lie inside one of its VNet's address ranges.",
    SubnetOverlap = "subnet-overlap":
        "Subnets of one VNet must not overlap.",
    NicVnetMismatch = "nic-vnet-mismatch":
        "A NIC's `vnet` and the VNet in `vnet/subnet` must agree.",
    NicIpOutsideSubnet = "nic-ip-outside-subnet":
        "A NIC's IP must lie inside its subnet.",
    NicIpReserved = "nic-ip-reserved":
        "Azure reserves the network address, .1, .2, .3 and the broadcast address of each subnet.",
    NicInGatewaySubnet = "nic-in-gateway-subnet":
        "No VM's NIC may sit in GatewaySubnet, which holds only the virtual network gateway.",
    DuplicateIp = "duplicate-ip":
        "Two NICs of one VNet cannot hold the same IP.",
    HostOutsideSite = "host-outside-site":
        "A host's IP must lie inside its site's address space.",
    // Gateways and sites.
    GatewayMultiple = "gateway-multiple":
        "A VNet has at most one VPN gateway and one ExpressRoute gateway.",
    GatewaySubnetMissing = "gateway-subnet-missing":
        "A gateway needs a subnet named GatewaySubnet.",
    SiteConnectionNoGateway = "site-connection-no-gateway":
        "A site connects to a VNet that has a gateway.",
    // VMs.
    VmNoNic = "vm-no-nic":
        "A VM needs at least one NIC.",
    VmFlowLimit = "vm-flow-limit":
        "A VM's flow_limit is 1 to 4,000,000 active flows per direction.",
    VmTooManyNics = "vm-too-many-nics":
        "A VM has at most its size's maximum number of NICs.",
    VmNicsVnet = "vm-nics-vnet":
        "All NICs of a VM are in the same VNet.",
    VmBandwidthUnknown = "vm-bandwidth-unknown":
        "A size without published bandwidth (B-series) needs `bandwidth` when the scenario has traffic.",
    // NSGs and routes.
    NsgPriorityRange = "nsg-priority-range":
        "NSG rule priorities are 100..4096.",
    NsgPriorityDuplicate = "nsg-priority-duplicate":
        "Two rules of one NSG cannot share a priority and a direction.",
    NsgRuleDuplicateName = "nsg-rule-duplicate-name":
        "Rule names are unique in an NSG.",
    NsgPlatformTagOutbound = "nsg-platform-tag-outbound":
        "The platform tags AzurePlatformDNS, AzurePlatformIMDS and AzurePlatformLKM are only destinations of outbound rules.",
    NsgSeveralTags = "nsg-several-tags":
        "A rule's source, or its destination, names at most one service tag.",
    UdrNextHopIp = "udr-next-hop-ip":
        "A route has a next hop IP exactly when its next hop is VirtualAppliance.",
    UdrNextHopPeering = "udr-next-hop-peering":
        "VNetPeering routes are created by Azure only, never in a route table.",
    UdrDuplicatePrefix = "udr-duplicate-prefix":
        "A route table holds one route per prefix.",
    UdrGatewayExpressroute = "udr-gateway-expressroute":
        "A user route to VirtualNetworkGateway needs a VPN gateway, not an ExpressRoute one, nor a VPN gateway coexisting with one.",
    // Peerings.
    PeeringSelf = "peering-self":
        "A VNet cannot peer with itself.",
    PeeringDuplicateLink = "peering-duplicate-link":
        "One link per direction between two VNets.",
    PeeringAddressOverlap = "peering-address-overlap":
        "Peered VNets' address spaces must not overlap.",
    PeeringCrossRegion = "peering-cross-region":
        "Peerings stay inside one region unless `azure.global_peering`.",
    PeeringCrossTenant = "peering-cross-tenant":
        "Peered VNets share an AD tenant unless `azure.cross_tenant_peering`.",
    PeeringClassicClassic = "peering-classic-classic":
        "Two classic VNets cannot peer.",
    PeeringFromClassic = "peering-from-classic":
        "A classic VNet owns no peering link; only the Resource Manager side creates one.",
    PeeringClassicSubscription = "peering-classic-subscription":
        "A classic and a Resource Manager VNet peer only inside one subscription.",
    PeeringLimit = "peering-limit":
        "A VNet holds at most `azure.peering_limit` peering links.",
    GatewayTransitCrossModel = "gateway-transit-cross-model":
        "Gateway transit between classic and Resource Manager VNets needs `azure.classic_gateway_transit` and the gateway in the Resource Manager VNet.",
    UseRemoteGatewaysMultiple = "use-remote-gateways-multiple":
        "Only one peering of a VNet may set use_remote_gateways.",
    UseRemoteGatewaysNoTransit = "use-remote-gateways-no-transit":
        "use_remote_gateways needs the remote VNet's link back with allow_gateway_transit.",
    UseRemoteGatewaysNoRemoteGateway = "use-remote-gateways-no-remote-gateway":
        "use_remote_gateways needs a gateway in the remote VNet.",
    UseRemoteGatewaysLocalGateway = "use-remote-gateways-local-gateway":
        "A VNet with its own gateway cannot use a remote gateway.",
    GatewayTransitBasic = "gateway-transit-basic":
        "Under era current, gateway transit uses a VPN gateway of any SKU but Basic.",
    // Address spaces changed by events.
    AddressSpaceUpdatePeered = "address-space-update-peered":
        "A peered VNet's address space changes only under `azure.address_space_update` (2016: delete the peering first).",
    AddressSpaceUpdateClassic = "address-space-update-classic":
        "A VNet peered with a classic VNet cannot change its address space.",
    AddressRangeHoldsSubnets = "address-range-holds-subnets":
        "A range leaves an address space only when it holds no subnet.",
    // Traffic, events, expectations.
    PacketSize = "packet-size":
        "A packet holds at least its headers (20 + 8 for udp/icmp, 20 + 20 for tcp) and at most 65535 bytes.",
    EventAction = "event-action":
        "An event has exactly one action.",
    ExpectationShape = "expectation-shape":
        "An expectation is either a probe (verdict, reason, path) or a flow with at least one check.",
    DeliveredWithReason = "delivered-with-reason":
        "A drop reason goes with `verdict: dropped`, not `delivered`.",
    // Shaping and pricing.
    ShapingSizeZero = "shaping-size-zero":
        "Shaping sizes (queue_bytes, burst_bytes) are above zero.",
    ShapingQueueTooSmall = "shaping-queue-too-small":
        "A shaping queue holds at least the largest IPv4 packet (65535 bytes).",
    InvalidPrice = "invalid-price":
        "Prices are finite numbers, zero or more.",
    // Azure Firewall and public IPs.
    FirewallSubnetMissing = "firewall-subnet-missing":
        "An Azure Firewall needs a subnet named AzureFirewallSubnet in its VNet.",
    FirewallSubnetSize = "firewall-subnet-size":
        "AzureFirewallSubnet is at least a /26.",
    NicInFirewallSubnet = "nic-in-firewall-subnet":
        "No VM's NIC may sit in AzureFirewallSubnet, which holds only the firewall.",
    FirewallPublicIp = "firewall-public-ip":
        "An Azure Firewall has at least one public IP address.",
    UnknownFirewallPolicy = "unknown-firewall-policy":
        "A firewall's policy must name a declared firewall policy.",
    UnknownIpGroup = "unknown-ip-group":
        "A firewall rule's IP groups must be declared in `ip_groups`.",
    FirewallPriority = "firewall-priority":
        "Rule collection group and rule collection priorities run from 100 to 65000.",
    FirewallCollectionAction = "firewall-collection-action":
        "A rule collection's kind is dnat, network or application; DNAT collections translate, network and application collections allow or deny.",
    FirewallRuleField = "firewall-rule-field":
        "A firewall rule uses only the fields of its collection's kind.",
    FirewallRuleProtocol = "firewall-rule-protocol":
        "Network rules match TCP, UDP, ICMP or Any; DNAT rules TCP or UDP; application rules Http, Https or Mssql with an optional port.",
    FirewallRuleIncomplete = "firewall-rule-incomplete":
        "A firewall rule names its protocols, sources, destinations (or target FQDNs) and, unless ICMP only, destination ports.",
    FirewallDnat = "firewall-dnat":
        "A DNAT rule names one public IP of its firewall, one destination port from 1 to 63999, and a translated address and port.",
    FirewallAddress = "firewall-address":
        "Firewall rule and IP group addresses are `*`, IPs, CIDRs or ranges `a-b`; VirtualNetwork, Internet, AzureLoadBalancer and the platform tags cannot be used in Azure Firewall.",
    FirewallFqdn = "firewall-fqdn":
        "FQDNs in rules and `names` are DNS names (`*.` wildcards in rules).",
    PublicIpRange = "public-ip-range":
        "A public IP address is a public address, outside private, reserved and VNet ranges.",
    PublicIpDuplicate = "public-ip-duplicate":
        "A public IP address belongs to one resource: a NIC, a firewall or an Internet host.",
    // Application security groups.
    UnknownAsg = "unknown-asg":
        "NICs and NSG rules name application security groups declared in `application_security_groups`.",
    AsgVnet = "asg-vnet":
        "All NICs of an application security group are in the VNet of its first NIC (ASG20).",
    AsgRuleVnets = "asg-rule-vnets":
        "With application security groups as both source and destination of a rule, the NICs of both are in one VNet (ASG20).",
    AsgWithAddresses = "asg-with-addresses":
        "A rule's source (or destination) is addresses and tags or an application security group, not both.",
    AsgSeveral = "asg-several":
        "A rule's source, or its destination, names exactly one application security group when it names any (ASG20).",
    AsgLimit = "asg-limit":
        "At most 3,000 application security groups, 20 per NIC, 4,000 NICs per group and 100 named by the rules of one NSG (limits).",
    // Virtual machine scale sets.
    ScaleSetCapacity = "scale-set-capacity":
        "A scale set holds at most 100 instances in a single placement group (Azure's default), at most 1,000 otherwise.",
    ScaleSetSubnetFull = "scale-set-subnet-full":
        "A scale set's instances need a free address each in its subnet.",
    // Private endpoints.
    PrivateEndpointSubnet = "private-endpoint-subnet":
        "A private endpoint sits in a Resource Manager VNet, not in GatewaySubnet, AzureFirewallSubnet or AzureFirewallManagementSubnet, which hold only their gateway or firewall.",
    PrivateEndpointSubnetFull = "private-endpoint-subnet-full":
        "A private endpoint without a static IP needs a free address in its subnet.",
    PrivateEndpointNsg = "private-endpoint-nsg":
        "A private endpoint takes no NSG of its own (ARM privateEndpoints has no NSG property); its subnet's NSG applies with network policies.",
    PrivateEndpointService = "private-endpoint-service":
        "A private endpoint's service is the DNS name of its private-link resource.",
    PrivateEndpointSender = "private-endpoint-sender":
        "A private endpoint never initiates traffic: it is only the destination of flows and probes.",
    // Gateway connections and BGP.
    GatewayTypeSku = "gateway-type-sku":
        "A gateway's type (vpn or expressroute) is its SKU's type.",
    GatewayCoexistence = "gateway-coexistence":
        "A VPN gateway beside an ExpressRoute gateway is route-based and not Basic.",
    BgpAsnReserved = "bgp-asn-reserved":
        "A BGP ASN is 1 to 4294967295 and not one Azure reserves: 8074, 8075, 12076, 65517-65520, and 65515 for on-premises devices.",
    BgpPeeringIp = "bgp-peering-ip":
        "A BGP peering address is an IPv4 address; a site with BGP names one, a gateway's lies in its GatewaySubnet or in 169.254.21.0-169.254.22.255 (APIPA).",
    GatewayBgpBasic = "gateway-bgp-basic":
        "BGP needs a VPN gateway SKU other than Basic.",
    UnknownConnectionPeer = "unknown-connection-peer":
        "A connection goes to a declared site or gateway (by gateway or VNet name).",
    UnknownGatewayConnection = "unknown-gateway-connection":
        "Referenced gateway connections must exist.",
    ConnectionEndpoints = "connection-endpoints":
        "ipsec connects a VPN gateway to a site, vnet2vnet a VPN gateway to another VNet's VPN gateway, expressroute an ExpressRoute gateway to a site.",
    ConnectionRouteBased = "connection-route-based":
        "VNet-to-VNet connections and BGP need route-based VPN gateways.",
    ConnectionBgpSettings = "connection-bgp-settings":
        "A BGP connection needs BGP settings on both ends: the gateway and the site, or both gateways.",
    ConnectionBgpAsn = "connection-bgp-asn":
        "The two ends of a BGP connection have different ASNs.",
    ConnectionAddressOverlap = "connection-address-overlap":
        "VNets joined by a VNet-to-VNet connection have no overlapping address ranges.",
    // Azure Load Balancer.
    LbFrontend = "lb-frontend":
        "A load balancer frontend is internal (`subnet` as `vnet/subnet`, an optional `ip` inside it that is usable and no NIC's or other frontend's) or public (`public_ip` only).",
    LbUnknownName = "lb-unknown-name":
        "A load-balancing rule's frontend, backend pool and probe, and an event's load balancer, name declared ones.",
    LbHaPorts = "lb-ha-ports":
        "HA ports (protocol All, frontend and backend port 0) only on a Standard load balancer's internal frontend; protocol All only with ports 0.",
    LbPort = "lb-port":
        "Load-balancing rule ports and probe ports run from 1 to 65535 (0 only in an HA ports rule).",
    LbProbe = "lb-probe":
        "A health probe is TCP, HTTP or HTTPS (HTTPS on Standard only), at an interval of at least 5 seconds.",
    LbBackend = "lb-backend":
        "A load balancer's backends sit in one VNet (an internal frontend's VNet), each NIC listed once in a backend pool (it may be in several pools).",
    LbRuleConflict = "lb-rule-conflict":
        "Rules of a load balancer do not share a frontend, protocol and port; a backend port is reused on one pool only with floating IP; a non-floating HA ports rule is its load balancer's only rule.",
}

impl Rule {
    /// The rule whose code is `code`, if any.
    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// The row of this rule in the "Rules and their codes" table of the scenario reference.
    pub fn docs_row(self) -> String {
        format!("| `{}` | {} |", self.code(), self.summary())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            let code = rule.code();
            assert!(seen.insert(code), "{code} twice");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code}"
            );
            assert!(!rule.summary().is_empty(), "{code}");
            assert_eq!(Rule::from_code(code), Some(*rule));
        }
        assert_eq!(RULES.len(), Rule::ALL.len());
        assert_eq!(Rule::from_code("no-such-rule"), None);
    }
}
