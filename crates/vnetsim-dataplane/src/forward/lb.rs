//! Azure Load Balancer on a packet's way: frontends, rules, healthy backends, the choice of a
//! backend and the connection state that keeps a flow on it.
//!
//! What it is for: the compiled load balancers ([`LbPlanes`], built with the [`Dataplane`]),
//! the step a packet takes at a frontend ([`Dataplane::lb_step`]), the translation of a
//! backend's replies back to the frontend ([`Dataplane::lb_reply`]), and the per-connection
//! state they keep in the caller's [`FlowTable`] ([`LbSessions`]).
//!
//! The load balancer, as Microsoft documents it:
//! - **Rules and frontends**: a packet to a frontend IP matches the rule of its protocol and
//!   frontend port; an HA ports rule (protocol All, ports 0) matches every packet, and only an
//!   HA ports rule serves a frontend used as a user route's next hop (the packet keeps its
//!   destination: the load balancer hands it to a backend appliance) [LBHA17]
//!   (learn.microsoft.com/azure/load-balancer/load-balancer-ha-ports-overview). No rule:
//!   `lb-no-rule`.
//! - **Distribution** [LBDIST23] (.../load-balancer/distribution-mode-concepts): a hash of the
//!   5-tuple by default, of the 2-tuple (source IP, destination IP) or 3-tuple (plus protocol)
//!   with session persistence, over the rule's healthy backends. The hash is symmetric (the same
//!   for a packet and its reply), which gives the flow symmetry HA ports document for backends
//!   with one IP configuration [LBHA-live]; sessions keep it across health changes.
//! - **Health** [LBPROBE18] (.../load-balancer/load-balancer-custom-probe-overview): a backend
//!   is healthy when its NSGs (subnet, then NIC) allow the probe from 168.63.129.16, the
//!   `AzureLoadBalancer` tag, to the probe's port over TCP (HTTP and HTTPS probes open a TCP
//!   connection first), and no `set_backend_health` event marked it down. A rule without a
//!   probe counts every backend healthy. "A failing probe stops new flows to the instance;
//!   established TCP flows continue": a connection keeps its backend on its session. No healthy
//!   backend: `lb-no-healthy-backend`.
//! - **Address translation** [LBFIP23] (.../load-balancer/load-balancer-floating-ip): without
//!   floating IP the destination becomes the backend's IP and the rule's backend port; with it
//!   the backend receives the frontend IP and port. The source is kept ("the backend sees the
//!   original client IP and port" [NSG23]). The backend's replies leave with the frontend's
//!   address and port as source, translated on their way out of the backend's NIC.
//! - **Reachability** [LBFAQ26] (.../load-balancer/load-balancer-faqs): a Basic load
//!   balancer's frontend cannot be reached over global peering (`lb-global-peering`); a
//!   Standard one can.
//!
//! What it is not: outbound rules, inbound NAT rules, SNAT ports, idle-timeout resets, probe
//! timing (health is decided when the data plane is compiled, by NSGs and events). A backend
//! that addresses its own internal load balancer's frontend is dropped (`lb-own-frontend`,
//! [LBFAQ26]).

use std::collections::HashMap;

use foldhash::fast::FixedState;
use vnetsim_scenario::{
    Access, Direction, DropReason, LbDistribution, LbFrontendKind, LbProtocol, LbSku,
    LoadBalancerId, Nanos, NicId, Scenario, VnetId,
};

use crate::forward::firewall::{NatKind, NatPoint};
use crate::forward::pipeline::{DropCause, FlowTable, Reliance, Step, Trace};
use crate::forward::sessions::{Session, SessionTable};
use crate::forward::{Dataplane, NicPlane, NsgPlane, addr_key};
use crate::tables::platform::HOST_VIP;
use crate::wire::{self, FlowKey};

/// The source port the health probes of the compiled tables come from (any port: NSG rules
/// for probes name the `AzureLoadBalancer` tag, not ports).
const PROBE_SRC_PORT: u16 = 63_000;
const PROTO_TCP: u8 = 6;

/// A rule, compiled on its frontend.
#[derive(Clone, Debug)]
pub(crate) struct LbRulePlane {
    /// Index into the load balancer's rules.
    rule: u32,
    /// IP protocol number; `None`: every protocol (HA ports).
    protocol: Option<u8>,
    frontend_port: u16,
    backend_port: u16,
    ha_ports: bool,
    floating: bool,
    distribution: LbDistribution,
    /// The backends that take new flows: `(NIC, its IP)`, in pool order.
    healthy: Vec<(NicId, u32)>,
}

/// A frontend, compiled.
#[derive(Clone, Debug)]
pub(crate) struct LbFrontendPlane {
    lb: LoadBalancerId,
    /// Index into the load balancer's frontends.
    frontend: u32,
    ip: u32,
    /// A Basic frontend's region (none: Standard, or public): reached from another region it
    /// drops [LBFAQ26].
    basic_region: Option<u32>,
    /// A Standard load balancer's public frontend: "closed to inbound flows unless allowed by
    /// a network security group" [LBSKU23], so a backend without any NSG takes nothing from
    /// the Internet (a Basic one is open).
    closed_unguarded: bool,
    /// An internal frontend: the addresses of every backend of its load balancer (sorted),
    /// which cannot reach it [LBFAQ26]. Empty for a public frontend.
    own_backends: Vec<u32>,
    rules: Vec<LbRulePlane>,
}

/// The compiled load balancers of a data plane: empty for a scenario without any.
#[derive(Clone, Debug, Default)]
pub(crate) struct LbPlanes {
    frontends: Vec<LbFrontendPlane>,
    /// `(vnet << 32) | ip` -> frontend, for internal frontends.
    internal: HashMap<u64, u32, FixedState>,
    /// ip -> frontend, for public frontends.
    pub(crate) public: Vec<(u32, u32)>,
    /// Region number of each VNet (for Basic frontends only; empty otherwise).
    vnet_region: Vec<u32>,
    /// Per NIC: whether it is a backend of some load balancer (empty without load balancers).
    backend: Vec<bool>,
}

impl LbPlanes {
    /// Compiles the load balancers of `scenario`: frontends, rules, and each rule's healthy
    /// backends judged by the compiled NSGs of their NICs and subnets and the events' marks.
    pub(crate) fn compile(
        scenario: &Scenario,
        nics: &[NicPlane],
        subnet_nsg: impl Fn(usize) -> Option<u32>,
        nsgs: &[NsgPlane],
    ) -> Self {
        if scenario.load_balancers.is_empty() {
            return LbPlanes::default();
        }
        let mut regions: Vec<&str> = Vec::new();
        let vnet_region = scenario
            .vnets
            .iter()
            .map(|v| match regions.iter().position(|r| *r == v.region) {
                Some(i) => i as u32,
                None => {
                    regions.push(&v.region);
                    (regions.len() - 1) as u32
                }
            })
            .collect::<Vec<u32>>();
        let mut backend = vec![false; scenario.nics.len()];
        let mut out = LbPlanes::default();
        for (l, lb) in scenario.load_balancers.iter().enumerate() {
            let id = LoadBalancerId(l as u32);
            for pool in &lb.pools {
                for nic in &pool.nics {
                    backend[nic.index()] = true;
                }
            }
            // A backend answers a probe when its NSGs allow it: subnet NSG, then NIC NSG.
            let probe_allows = |nic: NicId, port: u16| {
                let n = &nics[nic.index()];
                let key = FlowKey {
                    src: u32::from(HOST_VIP),
                    dst: n.ip,
                    protocol: PROTO_TCP,
                    src_port: PROBE_SRC_PORT,
                    dst_port: port,
                };
                [subnet_nsg(n.subnet.index()), n.nsg]
                    .into_iter()
                    .flatten()
                    .all(|i| {
                        nsgs[i as usize]
                            .compiled
                            .evaluate(Direction::Inbound, &key)
                            .access
                            == Access::Allow
                    })
            };
            for (f, fe) in lb.frontends.iter().enumerate() {
                let index = out.frontends.len() as u32;
                let basic_region = match (lb.sku, fe.kind) {
                    (LbSku::Basic, LbFrontendKind::Internal { vnet, .. }) => {
                        Some(vnet_region[vnet.index()])
                    }
                    _ => None,
                };
                let rules = lb
                    .rules
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.frontend as usize == f)
                    .map(|(r, rule)| {
                        let probe = rule.probe.map(|p| &lb.probes[p as usize]);
                        let healthy = lb.pools[rule.pool as usize]
                            .nics
                            .iter()
                            .filter(|nic| !lb.down.contains(nic))
                            .filter(|nic| probe.is_none_or(|p| probe_allows(**nic, p.port)))
                            .map(|nic| (*nic, nics[nic.index()].ip))
                            .collect();
                        LbRulePlane {
                            rule: r as u32,
                            protocol: match rule.protocol {
                                LbProtocol::Tcp => Some(6),
                                LbProtocol::Udp => Some(17),
                                LbProtocol::All => None,
                            },
                            frontend_port: rule.frontend_port,
                            backend_port: rule.backend_port,
                            ha_ports: rule.is_ha_ports(),
                            floating: rule.floating_ip,
                            distribution: rule.distribution,
                            healthy,
                        }
                    })
                    .collect();
                let ip = u32::from(fe.ip);
                match fe.kind {
                    LbFrontendKind::Internal { vnet, .. } => {
                        out.internal.insert(addr_key(vnet.0, ip), index);
                    }
                    LbFrontendKind::Public => out.public.push((ip, index)),
                }
                out.frontends.push(LbFrontendPlane {
                    lb: id,
                    frontend: f as u32,
                    ip,
                    basic_region,
                    closed_unguarded: lb.sku == LbSku::Standard
                        && matches!(fe.kind, LbFrontendKind::Public),
                    own_backends: match fe.kind {
                        LbFrontendKind::Public => Vec::new(),
                        LbFrontendKind::Internal { .. } => {
                            let mut ips: Vec<u32> = lb
                                .pools
                                .iter()
                                .flat_map(|p| &p.nics)
                                .map(|n| nics[n.index()].ip)
                                .collect();
                            ips.sort_unstable();
                            ips.dedup();
                            ips
                        }
                    },
                    rules,
                });
            }
        }
        out.vnet_region = vnet_region;
        out.backend = backend;
        out
    }

    /// The internal frontend at `ip` in `vnet`, if any.
    #[inline]
    pub(crate) fn internal_at(&self, vnet: VnetId, ip: u32) -> Option<u32> {
        if self.internal.is_empty() {
            return None;
        }
        self.internal.get(&addr_key(vnet.0, ip)).copied()
    }

    /// Whether `nic` is a backend of some load balancer.
    #[inline]
    pub(crate) fn is_backend(&self, nic: NicId) -> bool {
        self.backend.get(nic.index()).copied().unwrap_or(false)
    }

    /// The healthy backends of rule `rule` of load balancer `lb` (explanations, tests).
    pub(crate) fn healthy(&self, lb: LoadBalancerId, rule: u32) -> Vec<NicId> {
        self.frontends
            .iter()
            .filter(|f| f.lb == lb)
            .flat_map(|f| &f.rules)
            .filter(|r| r.rule == rule)
            .flat_map(|r| r.healthy.iter().map(|(n, _)| *n))
            .collect()
    }
}

/// How a load balancer chose the backend of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbDecision {
    /// The packet belongs to a connection the load balancer already placed: its backend is
    /// kept (healthy or not).
    Session,
    /// This rule (index into the load balancer's rules) matched and its distribution chose
    /// the backend among the healthy ones.
    Rule(u32),
}

/// A symmetric hash of the tuple `distribution` reads: a packet and its reply hash alike.
#[inline]
fn tuple_hash(key: &FlowKey, distribution: LbDistribution) -> u64 {
    let a = (u64::from(key.src) << 16) | u64::from(key.src_port);
    let b = (u64::from(key.dst) << 16) | u64::from(key.dst_port);
    let (lo, hi) = match distribution {
        LbDistribution::Default => (a.min(b), a.max(b) ^ (u64::from(key.protocol) << 56)),
        LbDistribution::SourceIp => {
            let (x, y) = (u64::from(key.src), u64::from(key.dst));
            (x.min(y), x.max(y))
        }
        LbDistribution::SourceIpProtocol => {
            let (x, y) = (u64::from(key.src), u64::from(key.dst));
            (x.min(y), x.max(y) ^ (u64::from(key.protocol) << 40))
        }
    };
    mix(mix(lo) ^ hi)
}

/// splitmix64's finalizer: every input bit moves every output bit.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a load balancer keeps beside one direction of a connection it placed: the backend and
/// the rule that placed the connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placed {
    backend: NicId,
    rule: u32,
}

/// The scope of the entries that translate a backend's replies (not a frontend's number).
const REPLY_SCOPE: u32 = u32::MAX;

/// The connections load balancers placed: per frontend (the scope) and arriving 5-tuple, the
/// translation and the backend; per backend reply 5-tuple, its translation back to the
/// frontend. Idle for 4 minutes (the load balancer's default idle timeout [LBIDLE]) an entry no
/// longer admits packets. An expired entry replaced by a new connection gets a new slot, so
/// that a slot always names one connection and its backend.
#[derive(Clone, Debug, Default)]
pub struct LbSessions {
    table: SessionTable<Placed>,
    /// Entries of the reply scope ever opened (a backend's egress looks only when some exist).
    replies: usize,
}

impl LbSessions {
    /// Number of entries (two per connection).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Forgets every connection.
    pub fn clear(&mut self) {
        self.table.clear();
        self.replies = 0;
    }

    /// Whether the session in `slot` is alive and passes `key` unchanged (refreshing it).
    #[inline]
    pub(crate) fn passes(&mut self, slot: u32, key: &FlowKey, now: Nanos) -> bool {
        self.table.passes(slot, key, now)
    }

    fn put(&mut self, scope: u32, session: Session<Placed>) -> u32 {
        let (slot, new) = self.table.push(scope, session);
        if new && scope == REPLY_SCOPE {
            self.replies += 1;
        }
        slot
    }
}

impl Dataplane {
    /// The frontend `fe` takes the packet (reached from VNet `from`; none: from the Internet):
    /// a session or a rule chooses its backend, its destination is translated unless the rule
    /// keeps it (floating IP, a next-hop frontend). Returns the new key, the backend and
    /// whether the backend receives a floating IP destination.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lb_step<T: Trace, R: Reliance>(
        &self,
        fe: u32,
        from: Option<VnetId>,
        packet: &mut [u8],
        key: &FlowKey,
        flows: &mut FlowTable,
        now: Nanos,
        trace: &mut T,
        rec: &mut R,
    ) -> Result<(FlowKey, NicId, bool), (DropReason, DropCause)> {
        let f = &self.lb.frontends[fe as usize];
        let (lb, frontend) = (f.lb, f.frontend);
        if let (Some(region), Some(from)) = (f.basic_region, from)
            && self.lb.vnet_region[from.index()] != region
        {
            return Err((
                DropReason::LbGlobalPeering,
                DropCause::LbGlobalPeering { lb, frontend, from },
            ));
        }
        let addressed = key.dst == f.ip;
        if addressed && f.own_backends.binary_search(&key.src).is_ok() {
            return Err((
                DropReason::LbOwnFrontend,
                DropCause::LbOwnFrontend { lb, frontend },
            ));
        }
        let (s, slot, decision) = match flows.lb.table.hit(fe, key, now) {
            Some((s, slot)) => (s, slot, LbDecision::Session),
            None => {
                // Placing a connection: never remembered.
                rec.stateful();
                let Some(r) = f.rules.iter().find(|r| {
                    r.protocol.is_none_or(|p| p == key.protocol)
                        && (r.ha_ports || (addressed && key.dst_port == r.frontend_port))
                }) else {
                    return Err((DropReason::LbNoRule, DropCause::LbNoRule { lb, frontend }));
                };
                if r.healthy.is_empty() {
                    return Err((
                        DropReason::LbNoHealthyBackend,
                        DropCause::LbNoHealthyBackend { lb, rule: r.rule },
                    ));
                }
                let h = tuple_hash(key, r.distribution);
                let (backend, ip) = r.healthy[(h % r.healthy.len() as u64) as usize];
                if f.closed_unguarded && from.is_none() && !self.nsg_guarded(backend) {
                    return Err((
                        DropReason::PublicIpClosed,
                        DropCause::LbPublicClosed {
                            lb,
                            frontend,
                            nic: backend,
                        },
                    ));
                }
                let to = if addressed && !r.floating {
                    FlowKey {
                        dst: ip,
                        dst_port: if r.ha_ports {
                            key.dst_port
                        } else {
                            r.backend_port
                        },
                        ..*key
                    }
                } else {
                    *key
                };
                let s = Session {
                    from: *key,
                    to,
                    last: now,
                    data: Placed {
                        backend,
                        rule: r.rule,
                    },
                };
                let slot = flows.lb.put(fe, s);
                // The other direction: a next-hop frontend sees the reply and keeps it on the
                // same backend; an addressed frontend's backend replies from its own NIC, whose
                // egress gives the reply the frontend's address back.
                let back = Session {
                    from: to.reverse(),
                    to: key.reverse(),
                    ..s
                };
                if addressed {
                    flows.lb.put(REPLY_SCOPE, back);
                } else {
                    flows.lb.put(fe, back);
                }
                (s, slot, LbDecision::Rule(r.rule))
            }
        };
        let floating = addressed && s.to.dst == f.ip;
        trace.step(Step::LoadBalancer {
            lb,
            frontend,
            decision,
            rule: s.data.rule,
            backend: s.data.backend,
        });
        if s.to == *key {
            rec.lb_session(slot);
        } else {
            rec.stateful();
            wire::translate(packet, key, &s.to);
            trace.step(Step::Translate {
                at: NatPoint::LoadBalancer(lb),
                kind: NatKind::Dnat,
                addr: s.to.dst,
                port: s.to.dst_port,
            });
        }
        Ok((s.to, s.data.backend, floating))
    }

    /// A packet a backend `nic` sends: if it answers a connection a load balancer placed on it,
    /// the translation back to the frontend's address and port (equal to `key` with floating
    /// IP, whose replies already come from the frontend IP). `None`: no such connection.
    #[inline]
    pub(crate) fn lb_reply<R: Reliance>(
        &self,
        nic: NicId,
        key: &FlowKey,
        flows: &mut FlowTable,
        now: Nanos,
        rec: &mut R,
    ) -> Option<FlowKey> {
        if flows.lb.replies == 0 || !self.lb.is_backend(nic) {
            return None;
        }
        // Whether a connection is answered depends on the sessions: never remembered.
        rec.stateful();
        match flows.lb.table.hit(REPLY_SCOPE, key, now) {
            Some((s, _)) if s.data.backend == nic => Some(s.to),
            _ => None,
        }
    }

    /// Traces the translation of a backend's reply to its frontend's address.
    pub(crate) fn lb_reply_traced<T: Trace>(
        &self,
        key: &FlowKey,
        to: &FlowKey,
        packet: &mut [u8],
        trace: &mut T,
    ) {
        if to == key {
            return;
        }
        wire::translate(packet, key, to);
        let lb = self
            .lb
            .frontends
            .iter()
            .find(|f| f.ip == to.src)
            .map(|f| f.lb);
        if let Some(lb) = lb {
            trace.step(Step::Translate {
                at: NatPoint::LoadBalancer(lb),
                kind: NatKind::Snat,
                addr: to.src,
                port: to.src_port,
            });
        }
    }

    /// The backends of rule `rule` of load balancer `lb` that take new flows in this data
    /// plane (healthy by probe and not marked down).
    pub fn lb_healthy_backends(&self, lb: LoadBalancerId, rule: u32) -> Vec<NicId> {
        self.lb.healthy(lb, rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(src: u32, sp: u16, dst: u32, dp: u16) -> FlowKey {
        FlowKey {
            src,
            dst,
            protocol: 6,
            src_port: sp,
            dst_port: dp,
        }
    }

    #[test]
    fn lbha_the_hash_is_the_same_for_a_packet_and_its_reply() {
        for d in [
            LbDistribution::Default,
            LbDistribution::SourceIp,
            LbDistribution::SourceIpProtocol,
        ] {
            for i in 0..200u32 {
                let k = key(0x0a01_0104 + i, 40000 + i as u16, 0x0a02_0104, 443);
                assert_eq!(tuple_hash(&k, d), tuple_hash(&k.reverse(), d), "{d:?}");
            }
        }
    }

    #[test]
    fn lbdist23_source_ip_ignores_ports_and_default_does_not() {
        let a = key(0x0a01_0104, 40000, 0x0a02_0104, 443);
        let b = key(0x0a01_0104, 40001, 0x0a02_0104, 443);
        assert_eq!(
            tuple_hash(&a, LbDistribution::SourceIp),
            tuple_hash(&b, LbDistribution::SourceIp)
        );
        assert_eq!(
            tuple_hash(&a, LbDistribution::SourceIpProtocol),
            tuple_hash(&b, LbDistribution::SourceIpProtocol)
        );
        // The 5-tuple hash spreads source ports: over many ports both of two backends are used.
        let picks: std::collections::HashSet<u64> = (0..64u16)
            .map(|p| {
                tuple_hash(
                    &key(0x0a01_0104, 40000 + p, 0x0a02_0104, 443),
                    LbDistribution::Default,
                ) % 2
            })
            .collect();
        assert_eq!(picks.len(), 2);
    }
}
