//! Azure's platform addresses, 168.63.129.16 and 169.254.169.254, and the service tags that
//! name their traffic.
//!
//! What it is for: saying whether a packet a VM sends goes to the platform
//! ([`PlatformEndpoint::of`]) and which platform service tag, if any, covers it
//! ([`platform_tag`]). Both addresses provide DHCP, DNS, the Instance Metadata Service and health
//! monitoring; their traffic is "not subject to the configured network security groups" unless
//! an outbound rule names it with AzurePlatformDNS, AzurePlatformIMDS or AzurePlatformLKM
//! [nsg-overview] 03/2023, and 168.63.129.16 "isn't subject to user defined routes" [ip-168]
//! 03/2023 (for 169.254.169.254 vnetsim does the same; derived, no page says so).
//!
//! What it is not: the evaluation of the rules that name the platform tags (see
//! [`crate::tables::nsg::CompiledNsg::evaluate_platform`]) or where the pipeline diverts the
//! packet (the egress step of [`crate::forward::pipeline`]). vnetsim models no KMS host: KMS
//! (AzurePlatformLKM, TCP 1688) answers on public addresses outside any scenario, so no packet
//! of a simulation is covered by AzurePlatformLKM and a rule naming it never matches.

use std::net::Ipv4Addr;

use vnetsim_scenario::ServiceTag;

use crate::wire::{FlowKey, PROTO_TCP, PROTO_UDP};

/// 168.63.129.16: the host's virtual IP (DNS, DHCP, VM agent, health probes) [ip-168].
pub const HOST_VIP: Ipv4Addr = Ipv4Addr::new(168, 63, 129, 16);

/// 169.254.169.254: the Instance Metadata Service [service-tags] (AzurePlatformIMDS).
pub const IMDS_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);

/// DNS port of the platform resolver: AzurePlatformDNS covers UDP and TCP 53 to 168.63.129.16
/// ("DNS on 53/udp+tcp unless an outbound Deny rule names AzurePlatformDNS" [ip-168] 03/2023).
pub const DNS_PORT: u16 = 53;

/// KMS port: AzurePlatformLKM covers outbound TCP 1688 [nsg-overview] 03/2023.
pub const KMS_PORT: u16 = 1688;

const HOST_VIP_U32: u32 = u32::from_be_bytes(HOST_VIP.octets());
const IMDS_U32: u32 = u32::from_be_bytes(IMDS_IP.octets());

/// A platform address a VM's packet can be delivered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlatformEndpoint {
    /// 168.63.129.16: DNS, DHCP, the VM agent and health probes [ip-168].
    HostVip,
    /// 169.254.169.254: the Instance Metadata Service [service-tags].
    Imds,
}

impl PlatformEndpoint {
    /// Both endpoints.
    pub const ALL: [PlatformEndpoint; 2] = [PlatformEndpoint::HostVip, PlatformEndpoint::Imds];

    /// The endpoint at `dst`, if `dst` is a platform address. Two comparisons: this runs on
    /// the hot path, once per packet a NIC sends.
    #[inline(always)]
    pub fn of(dst: u32) -> Option<PlatformEndpoint> {
        if dst == HOST_VIP_U32 {
            Some(PlatformEndpoint::HostVip)
        } else if dst == IMDS_U32 {
            Some(PlatformEndpoint::Imds)
        } else {
            None
        }
    }

    /// Its address.
    pub fn address(self) -> Ipv4Addr {
        match self {
            PlatformEndpoint::HostVip => HOST_VIP,
            PlatformEndpoint::Imds => IMDS_IP,
        }
    }

    /// The stable name of the destination kind (`azure-platform`, `azure-platform-imds`).
    pub fn kind(self) -> &'static str {
        match self {
            PlatformEndpoint::HostVip => "azure-platform",
            PlatformEndpoint::Imds => "azure-platform-imds",
        }
    }

    /// The display name of the destination, e.g. `168.63.129.16 (Azure platform)`.
    pub fn name(self) -> &'static str {
        match self {
            PlatformEndpoint::HostVip => "168.63.129.16 (Azure platform)",
            PlatformEndpoint::Imds => "169.254.169.254 (Azure platform IMDS)",
        }
    }

    /// Dense index (0 or 1), for compact encodings.
    pub fn index(self) -> u32 {
        match self {
            PlatformEndpoint::HostVip => 0,
            PlatformEndpoint::Imds => 1,
        }
    }

    /// The endpoint of a dense index; anything but 1 is [`PlatformEndpoint::HostVip`].
    pub fn from_index(i: u32) -> PlatformEndpoint {
        if i == 1 {
            PlatformEndpoint::Imds
        } else {
            PlatformEndpoint::HostVip
        }
    }
}

/// The platform service tag that covers `key`, a packet to `endpoint`: AzurePlatformDNS for
/// UDP or TCP port 53 to 168.63.129.16 [ip-168] 03/2023, AzurePlatformIMDS for anything to
/// 169.254.169.254 [service-tags] 01/2023. None for the rest of 168.63.129.16 (the VM agent on
/// TCP 80 and 32526, DHCP, health probes: "ignores NSGs" [ip-168] 03/2023, no tag blocks it).
#[inline]
pub fn platform_tag(endpoint: PlatformEndpoint, key: &FlowKey) -> Option<ServiceTag> {
    match endpoint {
        PlatformEndpoint::Imds => Some(ServiceTag::AzurePlatformImds),
        PlatformEndpoint::HostVip
            if (key.protocol == PROTO_UDP || key.protocol == PROTO_TCP)
                && key.dst_port == DNS_PORT =>
        {
            Some(ServiceTag::AzurePlatformDns)
        }
        PlatformEndpoint::HostVip => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dst: Ipv4Addr, protocol: u8, dst_port: u16) -> FlowKey {
        FlowKey {
            src: u32::from(Ipv4Addr::new(10, 0, 1, 4)),
            dst: u32::from(dst),
            protocol,
            src_port: 49152,
            dst_port,
        }
    }

    #[test]
    fn ip_168_nsg_overview_the_two_platform_addresses_are_recognised() {
        assert_eq!(
            PlatformEndpoint::of(u32::from(HOST_VIP)),
            Some(PlatformEndpoint::HostVip)
        );
        assert_eq!(
            PlatformEndpoint::of(u32::from(IMDS_IP)),
            Some(PlatformEndpoint::Imds)
        );
        assert_eq!(
            PlatformEndpoint::of(u32::from(Ipv4Addr::new(168, 63, 129, 17))),
            None
        );
        for e in PlatformEndpoint::ALL {
            assert_eq!(PlatformEndpoint::from_index(e.index()), e);
            assert_eq!(PlatformEndpoint::of(u32::from(e.address())), Some(e));
        }
    }

    #[test]
    fn ip_168_service_tags_platform_tags_cover_dns_and_imds_only() {
        let dns = PlatformEndpoint::HostVip;
        assert_eq!(
            platform_tag(dns, &key(HOST_VIP, PROTO_UDP, 53)),
            Some(ServiceTag::AzurePlatformDns)
        );
        assert_eq!(
            platform_tag(dns, &key(HOST_VIP, PROTO_TCP, 53)),
            Some(ServiceTag::AzurePlatformDns)
        );
        // The VM agent (80, 32526) and ICMP: no tag, never blocked.
        assert_eq!(platform_tag(dns, &key(HOST_VIP, PROTO_TCP, 80)), None);
        assert_eq!(platform_tag(dns, &key(HOST_VIP, PROTO_TCP, 32526)), None);
        assert_eq!(platform_tag(dns, &key(HOST_VIP, 1, 53)), None);
        assert_eq!(
            platform_tag(PlatformEndpoint::Imds, &key(IMDS_IP, PROTO_TCP, 80)),
            Some(ServiceTag::AzurePlatformImds)
        );
    }
}
