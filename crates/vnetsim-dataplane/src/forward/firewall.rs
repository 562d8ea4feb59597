//! Azure Firewall and public IPs on a packet's way: connection state, rules, address
//! translation.
//!
//! What it is for: the step a packet takes at an Azure Firewall ([`Dataplane::firewall_step`])
//! and at the edge between a VNet and the Internet (a NIC's public IP, default outbound
//! access), and the per-connection state they keep in the caller's
//! [`FlowTable`](crate::forward::pipeline::FlowTable) ([`FirewallSessions`]).
//!
//! The firewall, as Microsoft documents it:
//! - **Stateful** [FWRULE23]: a connection's first packet is matched against the rules; an
//!   allowed connection's later packets and replies pass on its session without rules. A TCP
//!   packet that does not open a connection (anything but a SYN without ACK) and belongs to no
//!   session is dropped: "the firewall drops return packets of sessions it has not seen"
//!   [FWLB20], the asymmetric-routing trap of a return path that bypasses the firewall.
//! - **Rules**: DNAT, then network, then application rules, each by rule collection group
//!   priority then collection priority; default deny (see [`crate::tables::firewall`]).
//! - **SNAT** [FWSNAT23]: network rules translate the source unless the destination is in the
//!   policy's private ranges (IANA RFC 1918 and RFC 6598 by default); application rules always
//!   translate (a transparent proxy): to the firewall's (first) public IP toward the Internet
//!   (the firewall subnet's route for the destination has next hop Internet), to its private
//!   IP toward anything else (private ranges, registered ranges used for private networks in
//!   a VNet or behind a gateway: "Azure Firewall SNATs the traffic to one of the firewall's
//!   private IP addresses in AzureFirewallSubnet"). DNAT translates
//!   the destination to the rule's address and port and the source to the firewall's private
//!   IP ("Inbound DNAT traffic is also SNATed to a firewall private IP" [FWKI23]); translated
//!   traffic "isn't subject to any further processing by other network rules" [FWRULE23].
//!   Ports keep their values (vnetsim does not model SNAT port allocation).
//!
//! Public IPs: a packet from the Internet to a NIC's public IP is translated to its private IP
//! before the NSGs see it ("NSGs run after inbound public-to-private translation" [NSG23]); a
//! Standard public IP is closed to inbound connections unless an NSG at the NIC or its subnet
//! allows them [public-ip-sku]; a packet a NIC sends to the Internet leaves with its source
//! translated to the NIC's public IP, or through default outbound access when its subnet has
//! it, and is dropped as `no-outbound-access` from a private subnet [DOA], [TCPRIV26].
//!
//! What it is not: a model of SNAT port exhaustion, threat intelligence, IDPS, TLS inspection,
//! or scale-out (the SKU's throughput is a fixed shaper in the drivers).

use vnetsim_scenario::{
    DropReason, FirewallAction, FirewallId, Nanos, NextHopType, NicId, PublicIpSku, RuleKind,
};

use crate::forward::Dataplane;
use crate::forward::pipeline::{DropCause, FlowTable, NotCarried, Reliance, Step, Trace};
use crate::forward::sessions::{Session, SessionTable};
use crate::tables::firewall::FirewallRuleRef;
use crate::wire::{self, FlowKey};

/// How a firewall let a packet pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirewallDecision {
    /// The packet belongs to a connection the firewall allowed: no rule was evaluated.
    Session,
    /// This rule allowed (or translated) the connection's first packet.
    Rule(FirewallRuleRef),
}

/// Which address translation happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatKind {
    /// The source was translated.
    Snat,
    /// The destination was translated.
    Dnat,
}

/// Where an address translation happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatPoint {
    /// At this firewall.
    Firewall(FirewallId),
    /// At this NIC's public IP.
    PublicIp(NicId),
    /// At this load balancer (a frontend's destination to a backend, a backend's reply back).
    LoadBalancer(vnetsim_scenario::LoadBalancerId),
}

/// The connections firewalls allowed: per firewall (the scope) and arriving 5-tuple, the
/// translation and when a packet last used it. Each connection has two entries, one per
/// direction; idle for 4 minutes (Azure Firewall's TCP idle timeout [FWFAQ23]), an entry no
/// longer admits packets. A slot always holds the same (firewall, arriving key): an entry is
/// only ever replaced by a newer session of that pair.
pub type FirewallSessions = SessionTable<()>;

/// Opens a session at firewall `fw` (both directions); returns the slot of `from`'s direction.
fn open(t: &mut FirewallSessions, fw: FirewallId, from: FlowKey, to: FlowKey, now: Nanos) -> u32 {
    let session = |from, to| Session {
        from,
        to,
        last: now,
        data: (),
    };
    let forward = t.put(fw.0, session(from, to));
    t.put(fw.0, session(to.reverse(), from.reverse()));
    forward
}

impl Dataplane {
    /// The firewall `fw` takes the packet: its session or its rules decide, the packet's
    /// addresses are translated as documented (module documentation), its TTL decremented.
    /// Returns the packet's new key; the caller routes it from the firewall's subnet.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn firewall_step<T: Trace, R: Reliance>(
        &self,
        fw: FirewallId,
        packet: &mut [u8],
        key: &FlowKey,
        tcp_flags: u8,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
        rec: &mut R,
    ) -> Result<FlowKey, (DropReason, DropCause)> {
        let plane = &self.firewalls[fw.index()];
        let (to, decision, slot) = match flows.firewall.hit(fw.0, key, now) {
            Some((s, slot)) => (s.to, FirewallDecision::Session, slot),
            None => {
                // A refusal is never remembered: a session opened later (the other way, or
                // after an idle timeout) changes it. An opened session that passes the packet
                // unchanged is remembered below by its slot, as the session's later packets
                // would be: they pass on it whatever their rules or TCP flags.
                if key.protocol == PROTO_TCP && !wire::opens_connection(tcp_flags) {
                    rec.stateful();
                    return Err((
                        DropReason::FirewallNoSession,
                        DropCause::FirewallNoSession { fw },
                    ));
                }
                let Some(m) = plane.compiled.evaluate(key) else {
                    rec.stateful();
                    return Err((
                        DropReason::FirewallDenied,
                        DropCause::Firewall { fw, rule: None },
                    ));
                };
                if m.action == FirewallAction::Deny {
                    rec.stateful();
                    return Err((
                        DropReason::FirewallDenied,
                        DropCause::Firewall {
                            fw,
                            rule: Some(m.rule),
                        },
                    ));
                }
                let c = &plane.compiled;
                // SNAT leaves from the public IP only toward the Internet: "If your
                // organization uses registered IP address ranges outside of IANA RFC 1918 or
                // IANA RFC 6598 for private networks, Azure Firewall SNATs the traffic to one of
                // the firewall's private IP addresses in AzureFirewallSubnet" [FWSNAT23]
                // (https://learn.microsoft.com/azure/firewall/snat-private-range): a
                // destination the firewall's subnet does not route to the Internet (a VNet, a
                // site) gets the private IP, so "always SNAT" toward a spoke does too.
                let toward_internet = self
                    .route_for(c.subnet, std::net::Ipv4Addr::from(key.dst))
                    .is_some_and(|r| r.next_hop == NextHopType::Internet);
                let snat_to = if toward_internet {
                    c.public_ips.first().copied().unwrap_or(c.ip)
                } else {
                    c.ip
                };
                let to = match (m.rule.kind, m.translated) {
                    (RuleKind::Dnat, Some((addr, port))) => FlowKey {
                        src: c.ip,
                        dst: addr,
                        dst_port: port,
                        ..*key
                    },
                    (RuleKind::Network, _) if c.private.contains(key.dst) => *key,
                    (RuleKind::Application, _) if c.private.contains(key.dst) => {
                        FlowKey { src: c.ip, ..*key }
                    }
                    _ => FlowKey {
                        src: snat_to,
                        ..*key
                    },
                };
                // "Network filtering rules for non-TCP/UDP protocols don't work with SNAT to
                // your public IP address" [FWKI23]: such a packet toward the Internet goes no
                // further; between spokes and VNets it passes.
                if toward_internet
                    && to.src != key.src
                    && to.src != c.ip
                    && key.protocol != PROTO_TCP
                    && key.protocol != wire::PROTO_UDP
                {
                    rec.stateful();
                    return Err((
                        DropReason::ProtocolBlocked,
                        DropCause::NotCarried(NotCarried::FirewallNonTcpUdpSnat),
                    ));
                }
                let slot = open(&mut flows.firewall, fw, *key, to, now);
                (to, FirewallDecision::Rule(m.rule), slot)
            }
        };
        trace.step(Step::Firewall { fw, decision });
        // A session that passes the packet unchanged is what later packets rely on; a
        // translated packet's decision holds for this packet only.
        if to == *key {
            rec.firewall_session(slot);
        } else {
            rec.stateful();
        }
        if to != *key {
            wire::translate(packet, key, &to);
            let at = NatPoint::Firewall(fw);
            if to.dst != key.dst || to.dst_port != key.dst_port {
                trace.step(Step::Translate {
                    at,
                    kind: NatKind::Dnat,
                    addr: to.dst,
                    port: to.dst_port,
                });
            }
            if to.src != key.src || to.src_port != key.src_port {
                trace.step(Step::Translate {
                    at,
                    kind: NatKind::Snat,
                    addr: to.src,
                    port: to.src_port,
                });
            }
        }
        if wire::forward_hop(packet).is_err() {
            return Err((DropReason::TtlExceeded, DropCause::TtlAtFirewall { fw }));
        }
        Ok(to)
    }

    /// A packet `nic` sends is routed to the Internet: it leaves with its source translated to
    /// the NIC's public IP, or through default outbound access (the source stays as it is, the
    /// implicit public IP is not modelled), or is dropped from a private subnet. A packet the
    /// NIC forwards for another source leaves untranslated.
    pub(crate) fn to_internet<T: Trace, R: Reliance>(
        &self,
        nic: NicId,
        packet: &mut [u8],
        key: &FlowKey,
        trace: &mut T,
        rec: &mut R,
    ) -> Result<FlowKey, (DropReason, DropCause)> {
        let n = &self.nics[nic.index()];
        if key.src != n.ip {
            return Ok(*key);
        }
        if let Some(public) = n.public_ip {
            rec.stateful();
            let to = FlowKey {
                src: public,
                ..*key
            };
            wire::translate(packet, key, &to);
            trace.step(Step::Translate {
                at: NatPoint::PublicIp(nic),
                kind: NatKind::Snat,
                addr: public,
                port: to.src_port,
            });
            return Ok(to);
        }
        if self.subnets[n.subnet.index()].default_outbound {
            return Ok(*key);
        }
        Err((
            DropReason::NoOutboundAccess,
            DropCause::NoOutboundAccess { nic },
        ))
    }

    /// A packet from the Internet to the public IP of `nic`: translated to its private IP.
    /// A Standard public IP admits a new inbound connection only where an NSG (at the NIC or
    /// its subnet) exists to allow it; replies of the NIC's own connections come back. Returns
    /// the new key.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn inbound_public_ip<T: Trace, R: Reliance>(
        &self,
        nic: NicId,
        packet: &mut [u8],
        key: &FlowKey,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
        rec: &mut R,
    ) -> Result<FlowKey, (DropReason, DropCause)> {
        rec.stateful();
        let n = &self.nics[nic.index()];
        let to = FlowKey { dst: n.ip, ..*key };
        wire::translate(packet, key, &to);
        trace.step(Step::Translate {
            at: NatPoint::PublicIp(nic),
            kind: NatKind::Dnat,
            addr: n.ip,
            port: to.dst_port,
        });
        if n.public_sku == Some(PublicIpSku::Standard)
            && !self.nsg_guarded(nic)
            && !flows.hit(nic, false, &to, now)
        {
            return Err((
                DropReason::PublicIpClosed,
                DropCause::PublicIpClosed { nic },
            ));
        }
        Ok(to)
    }

    /// Remembers at `nic` that it sent `key` out through its public IP, so that a Standard
    /// public IP without NSGs admits the replies.
    pub(crate) fn note_outbound(
        &self,
        nic: NicId,
        key: &FlowKey,
        flows: &mut FlowTable,
        now: Nanos,
    ) {
        if self.nics[nic.index()].public_sku == Some(PublicIpSku::Standard) {
            flows.record_outbound(nic, key, now);
        }
    }

    /// Whether an NSG sits on NIC `nic` or its subnet: a Standard public IP or public load
    /// balancer frontend is open inbound only through one [public-ip-sku], [LBSKU23].
    #[inline]
    pub(crate) fn nsg_guarded(&self, nic: NicId) -> bool {
        let n = &self.nics[nic.index()];
        n.nsg.is_some() || self.subnets[n.subnet.index()].nsg.is_some()
    }
}

const PROTO_TCP: u8 = 6;
