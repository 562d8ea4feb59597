//! A flow's source: what the engine keeps per flow, and its emissions.
//!
//! What it is for: the state a flow costs (at most 256 bytes, laid out by hand in four cache
//! lines in the order an emission touches them: what the emission reads, the template headers
//! and the flow's segment memos, then its counters), building it from the scenario's flow
//! (the template packet, its rate and times), and emitting: constant flows wait in
//! per-interval FIFOs (only each FIFO's head is an event), Poisson flows in the event heap, and
//! the state of the next emissions is prefetched so their cache misses overlap. The layout
//! tests guard the hand-made layout. What it is not: the packet's way after its emission
//! (the event loop in [`super`]) or the report (see [`super::report`]).

use std::collections::VecDeque;

use rand::RngExt;
use vnetsim_dataplane::probe::{EndpointIndex, probe_size};
use vnetsim_dataplane::wire::{self, PacketSpec};
use vnetsim_dataplane::{Ingress, SegmentMemo};
use vnetsim_scenario::{DropReason, Endpoint, Nanos, Pattern, Protocol, Rate, Scenario, VmId};

use super::segments::{self, Received};
use super::{Engine, What, default_src_port};
use crate::journey::SegmentStart;
use crate::latency::LatencyHistogram;
use crate::prefetch;
use crate::report::Drops;
use crate::shaper::Limit;

/// How many emissions ahead a flow's state is prefetched (its VM's shaper half as far).
pub(super) const PREFETCH_AHEAD: usize = 4;

/// Segments of a flow's way remembered beside it (the way through an appliance has two).
pub(super) const MEMOS: usize = 2;

/// Per-direction counters of a flow while it runs (88 bytes, plus the histogram's buckets
/// beyond the first if its latency varies, and the drop counters once one of its packets is
/// dropped). Every packet of a flow, and every reply, has the flow's size (TTL decrements do
/// not change it), so bytes are `packets * size`.
#[derive(Clone, Debug, Default)]
#[repr(C)]
pub(super) struct DirStats {
    pub(super) sent: u64,
    pub(super) delivered: u64,
    /// Drops by reason (inline while they have one reason: no allocation per dropping flow).
    pub(super) dropped: Drops,
    pub(super) latency: LatencyHistogram,
}

impl DirStats {
    pub(super) fn drop_one(&mut self, reason: DropReason) {
        self.dropped.add(reason);
    }
}

/// Longest header a template holds: IPv4 + TCP without options.
pub(super) const TEMPLATE_LEN: usize = 40;

#[derive(Clone, Debug)]
#[repr(C)]
pub(super) struct Source {
    // Laid out by hand, in the order a packet touches it (with 100,000 flows each emission
    // starts with a cache miss on its flow): first cache line, what its emission reads.
    pub(super) emitted: u64,
    pub(super) start: Nanos,
    pub(super) end: Nanos,
    pub(super) interval: f64,
    pub(super) next_time: f64,
    pub(super) ingress: Ingress,
    /// The VM whose egress shaper the flow's packets wait in ([`NO_SHAPER`]: none; see
    /// [`Source::shaper`]).
    pub(super) shaper_vm: u32,
    /// TCP: how many of its packets were SYNs (sent until the connection is established).
    pub(super) syns: u32,
    pub(super) size: u16,
    pub(super) poisson: bool,
    /// Whether the template could be built (a packet size under the headers cannot).
    pub(super) template_ok: bool,
    /// The data plane generation (low 32 bits) the memos were made in.
    pub(super) memo_generation: u32,
    // Second and third cache lines: the headers every packet copies, then the decisions its
    // segments reuse, then the counters its delivery updates.
    /// The flow's packet headers, built once with valid checksums for a zero payload of
    /// `size` bytes; each packet is a copy with its own IPv4 identification.
    pub(super) template: [u8; TEMPLATE_LEN],
    /// The decisions of the first segments of the flow's way (see [`SegmentMemo`]).
    pub(super) memos: [SegmentMemo; MEMOS],
    pub(super) forward: DirStats,
    /// Counters of the destination's answers, for flows with `reply: true`.
    pub(super) replies: Option<Box<Replies>>,
}

/// A flow's answers: their counters, and what each side of its TCP connection received.
#[derive(Clone, Debug, Default)]
pub(super) struct Replies {
    pub(super) stats: DirStats,
    pub(super) received: Received,
}

impl Source {
    /// The source of flow `i` of `sc` in its initial state (`endpoints` indexes the scenario's
    /// addresses; `scratch` is reused for building templates).
    pub(super) fn new(
        sc: &Scenario,
        i: usize,
        f: &vnetsim_scenario::Flow,
        endpoints: &EndpointIndex,
        scratch: &mut Vec<u8>,
    ) -> Source {
        let ingress = endpoints.ingress(sc, f.from);
        let shaper_vm = match (f.from, ingress) {
            // A VM sends from its primary NIC.
            (Endpoint::Vm(vm), Ingress::Nic(_)) => vm.0,
            (_, Ingress::Nic(nic)) => sc.nics[nic.index()].vm.0,
            _ => NO_SHAPER,
        };
        let size = f.packet_size.max(probe_size_min(f.protocol));
        let interval = match f.rate {
            Rate::BitsPerSecond(bps) => f64::from(size) * 8.0 * 1e9 / bps.max(1) as f64,
            Rate::PacketsPerSecond(pps) => 1e9 / pps.max(1) as f64,
        };
        let (start, end) = crate::estimate::flow_window(sc, f);
        let src = endpoints
            .ip(sc, f.from)
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        let dst = endpoints
            .ip(sc, f.to)
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        let src_port = f.src_port.unwrap_or_else(|| default_src_port(i));
        let dst_port = f.dst_port.unwrap_or(match f.protocol {
            Protocol::Icmp => 0,
            _ => 80,
        });
        scratch.clear();
        scratch.resize(usize::from(size), 0);
        let full = scratch;
        let spec = PacketSpec {
            src,
            dst,
            protocol: f.protocol,
            src_port,
            dst_port,
            ttl: 64,
            total_len: size,
            // The template's TCP initial sequence number (or ICMP echo sequence number, which
            // each packet overwrites) differs from flow to flow.
            identification: (i as u16).wrapping_add(1),
        };
        let template_ok = wire::build_probe(full, &spec).is_ok();
        let mut template = [0u8; TEMPLATE_LEN];
        let n = TEMPLATE_LEN.min(full.len());
        template[..n].copy_from_slice(&full[..n]);
        Source {
            template,
            template_ok,
            size,
            ingress,
            shaper_vm,
            syns: 0,
            interval,
            poisson: f.pattern == Pattern::Poisson,
            start,
            end,
            emitted: 0,
            next_time: start as f64,
            memo_generation: 0,
            memos: [SegmentMemo::default(); MEMOS],
            forward: DirStats::default(),
            replies: f.reply.then(Box::default),
        }
    }
}

impl Source {
    /// The state of a flow of `size`-byte packets as the waypoints' stage of a replay on two
    /// cores keeps it (see `sim/pipeline.rs`): only its size, segment memos and counters are
    /// used there, each as a new flow's.
    pub(super) fn blank(size: u16) -> Source {
        Source {
            template: [0; TEMPLATE_LEN],
            template_ok: false,
            size,
            ingress: Ingress::Internet,
            shaper_vm: NO_SHAPER,
            syns: 0,
            interval: 0.0,
            poisson: false,
            start: 0,
            end: 0,
            emitted: 0,
            next_time: 0.0,
            memo_generation: 0,
            memos: [SegmentMemo::default(); MEMOS],
            forward: DirStats::default(),
            replies: None,
        }
    }
}

/// [`Source::shaper_vm`] of a flow whose packets are not shaped at their sender (from a site,
/// the Internet or a private endpoint's service).
pub(super) const NO_SHAPER: u32 = u32::MAX;

impl Source {
    /// The VM whose egress shaper the flow's packets wait in.
    #[inline]
    pub(super) fn shaper(&self) -> Option<u32> {
        (self.shaper_vm != NO_SHAPER).then_some(self.shaper_vm)
    }

    /// The initial sequence number of a TCP flow's source (its template's).
    #[inline]
    pub(super) fn client_isn(&self) -> u32 {
        u32::from_be_bytes([
            self.template[24],
            self.template[25],
            self.template[26],
            self.template[27],
        ])
    }

    /// The TCP payload of each of its packets.
    #[inline]
    pub(super) fn payload(&self) -> u64 {
        u64::from(self.size).saturating_sub(40)
    }
}

impl Engine<'_> {
    /// Schedules flow `f`'s next packet. Constant flows of one interval keep their next
    /// emissions in a FIFO (they stay in time order, as each adds the same interval), so the
    /// tens of thousands of pending emissions never enter the heap; Poisson flows use the heap.
    #[inline]
    pub(super) fn schedule_emit(&mut self, at: Nanos, f: u32) {
        let s = &self.sources[f as usize];
        if s.poisson {
            self.schedule(at, What::Emit(f));
            return;
        }
        let bits = s.interval.to_bits();
        let i = match self.fifos.iter().position(|(b, _)| *b == bits) {
            Some(i) => i,
            None => {
                self.fifos.push((bits, VecDeque::new()));
                self.fifos.len() - 1
            }
        };
        let fifo = &mut self.fifos[i].1;
        // A FIFO holds its emissions in time order. A flow whose next emission falls before
        // the last one queued by more than rounding (a flow that started early, behind one
        // queued at a later start) waits in the heap instead, until it catches up: queued
        // behind, it would be held back to that later start.
        if let Some(&(last, _)) = fifo.back()
            && at.saturating_add(1) < last
        {
            self.schedule(at.max(self.now), What::Emit(f));
            return;
        }
        // Rounding to whole ns may put a flow 1 ns before the last one queued: keep the order.
        let at = fifo
            .back()
            .map_or(at, |&(last, _)| at.max(last))
            .max(self.now);
        fifo.push_back((at, f));
        // Only each FIFO's head waits in the heap.
        if fifo.len() == 1 {
            self.schedule(at, What::Fifo(i as u32));
        }
    }

    /// The head of emission FIFO `i` is due: its flow emits, and the next head takes its place
    /// in the heap.
    #[inline]
    pub(super) fn fifo_head(&mut self, i: u32) {
        let fifo = &mut self.fifos[i as usize].1;
        let Some((_, f)) = fifo.pop_front() else {
            return;
        };
        if let Some(&(next, _)) = fifo.front() {
            self.schedule(next, What::Fifo(i));
        }
        self.prefetch_emissions(i);
        self.emit(f);
    }

    /// Starts loading what the next emissions of FIFO `i` will touch, so that their cache
    /// misses overlap this packet's work (with 100,000 flows and 10,000 VMs nearly every
    /// emission misses): the flow [`PREFETCH_AHEAD`] emissions ahead, and for the one half as
    /// far (whose flow an earlier call loaded) its VM's shaper and its destination's counters.
    /// Hints only: no effect on results.
    #[inline]
    fn prefetch_emissions(&self, i: u32) {
        let fifo = &self.fifos[i as usize].1;
        if let Some(&(_, after)) = fifo.get(PREFETCH_AHEAD) {
            let s: *const Source = &self.sources[after as usize];
            for line in 0..std::mem::size_of::<Source>().div_ceil(64) {
                prefetch(s.cast::<u8>().wrapping_add(line * 64));
            }
        }
        if let Some(&(_, next)) = fifo.get(PREFETCH_AHEAD / 2) {
            let s = &self.sources[next as usize];
            if let Some(vm) = s.shaper() {
                self.shapers.prefetch(Limit::Vm(VmId(vm)));
            }
            if let Some(nic) = s.memos.iter().find_map(|m| m.delivered_nic()) {
                prefetch(&self.nic_counts[nic.index()]);
            }
        }
    }

    #[inline]
    pub(super) fn emit(&mut self, f: u32) {
        let fi = f as usize;
        let (size, ingress, shaper, identification, ok) = {
            let s = &mut self.sources[fi];
            s.emitted += 1;
            (
                s.size,
                s.ingress,
                s.shaper(),
                s.emitted as u16,
                s.template_ok,
            )
        };
        let p = self.alloc(f, false, SegmentStart::Ingress(ingress), usize::from(size));
        {
            // Copy the template's headers (the payload is already zero) and stamp the id.
            let buf = &mut self.packets[p as usize].buf;
            let template = &self.sources[fi].template;
            match buf.get_mut(..TEMPLATE_LEN) {
                // A fixed-size copy: a few vector moves, not a call.
                Some(head) => head.copy_from_slice(template),
                None => {
                    let n = buf.len();
                    buf.copy_from_slice(&template[..n]);
                }
            }
            wire::set_identification(buf, identification);
        }
        if ok {
            self.stamp_segment(fi, p, identification);
        }
        {
            let d = &mut self.sources[fi].forward;
            d.sent += 1;
        }
        if ok {
            self.send(p, shaper);
        } else {
            self.drop_packet(p, DropReason::Malformed);
        }
        // The next packet of the flow.
        let s = &mut self.sources[fi];
        let gap = if s.poisson {
            let u: f64 = self.rng.random();
            -(1.0 - u).ln() * s.interval
        } else {
            s.interval
        };
        let next = if s.poisson {
            s.next_time += gap;
            round_ns(s.next_time)
        } else {
            // From the packet count, so that rounding never accumulates.
            vnetsim_scenario::units::after(s.start, round_ns(s.emitted as f64 * s.interval))
        };
        if next < s.end {
            self.schedule_emit(next.max(self.now), f);
        }
    }
}

impl Engine<'_> {
    /// Gives packet `p`, just copied from flow `fi`'s template, the headers of its place in the
    /// flow (see [`segments`]): a TCP segment's sequence and acknowledgment numbers and flags,
    /// an ICMP echo's sequence number.
    #[inline]
    fn stamp_segment(&mut self, fi: usize, p: u32, identification: u16) {
        let protocol = self.sources[fi].template[9];
        if protocol == wire::PROTO_ICMP {
            wire::set_icmp_echo_seq(&mut self.packets[p as usize].buf, identification);
            return;
        }
        if protocol != wire::PROTO_TCP {
            return;
        }
        let last = self.is_last_emission(fi);
        let s = &mut self.sources[fi];
        let isn = s.client_isn();
        let server = segments::server_isn(isn);
        // Established once the source has an answer (its SYN-ACK), or, for a flow whose
        // answers are not modeled, once one of its packets was delivered.
        let (established, ack) = match &s.replies {
            Some(r) => (
                r.received.by_client > 0,
                server.wrapping_add(r.received.by_client as u32),
            ),
            None => (s.forward.delivered > 0, server.wrapping_add(1)),
        };
        let (seq, ack, flags) = if established {
            // The j-th data segment (from 1) follows the SYN's payload.
            let j = s.emitted - u64::from(s.syns);
            let start = segments::segment_start(j + 1, s.payload());
            (
                isn.wrapping_add(start as u32),
                ack,
                segments::client_flags(last),
            )
        } else {
            s.syns = s.syns.saturating_add(1);
            (isn, 0, wire::TCP_SYN)
        };
        wire::set_tcp_segment(&mut self.packets[p as usize].buf, seq, ack, flags);
    }

    /// Whether flow `fi`'s packet just emitted is its last: the time of the next one, as
    /// [`Engine::emit`] computes it after sending, is past the flow's end. A Poisson flow's
    /// next gap is drawn after this packet is sent, from the one random stream, after the
    /// jitter its first segment may draw: both are tried on a copy of the stream, and the
    /// packet is the last only when both say so (so an answer never differs from the run's).
    fn is_last_emission(&self, fi: usize) -> bool {
        let s = &self.sources[fi];
        if !s.poisson {
            let next =
                vnetsim_scenario::units::after(s.start, round_ns(s.emitted as f64 * s.interval));
            return next >= s.end;
        }
        let next_after = |rng: &mut rand::rngs::ChaCha8Rng| {
            let u: f64 = rng.random();
            round_ns(s.next_time + -(1.0 - u).ln() * s.interval) >= s.end
        };
        let copy = || rand::rngs::ChaCha8Rng::deserialize_state(&self.rng.serialize_state());
        let no_jitter = next_after(&mut copy());
        if self.jitter == 0 {
            return no_jitter;
        }
        let mut rng = copy();
        let _: Nanos = rng.random_range(0..=self.jitter);
        no_jitter && next_after(&mut rng)
    }
}

/// `x.round() as Nanos` for `x >= 0` without a call into the maths library (the baseline
/// x86-64 target has no rounding instruction): the integer part plus one when the fraction is
/// at least a half. `x - t` is exact (both are within one of each other, below 2^53; above,
/// `x` is a whole number).
#[inline]
fn round_ns(x: f64) -> Nanos {
    let t = x as Nanos;
    if x - t as f64 >= 0.5 { t + 1 } else { t }
}

fn probe_size_min(protocol: Protocol) -> u16 {
    // The smallest packet of each protocol (headers only); the loader refuses smaller sizes.
    match protocol {
        Protocol::Tcp => 40,
        Protocol::Udp | Protocol::Icmp => 28,
    }
    .min(probe_size(protocol))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state a flow costs the engine (the scenario's own description aside): its source
    /// with counters, the memos of its way and an empty latency histogram. The performance
    /// target is 256 bytes.
    #[test]
    fn a_flow_costs_at_most_256_bytes_of_engine_state() {
        let size = std::mem::size_of::<Source>();
        assert!(size <= 256, "Source is {size} bytes");
    }

    proptest::proptest! {
        /// The same as the maths library's rounding, for every time a flow can emit at.
        #[test]
        fn round_ns_is_round(x in 0.0f64..1.8e19, whole in 0u64..1 << 62, half in proptest::bool::ANY) {
            proptest::prop_assert_eq!(round_ns(x), x.round() as Nanos);
            let y = whole as f64 + if half { 0.5 } else { 0.0 };
            proptest::prop_assert_eq!(round_ns(y), y.round() as Nanos);
        }
    }

    #[test]
    fn round_ns_edges() {
        for x in [
            0.0,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            4503599627370495.5,
            1e17 + 0.7,
        ] {
            assert_eq!(round_ns(x), x.round() as Nanos, "{x}");
        }
    }

    /// What a constant flow's emission touches fits the first cache line, and the memos
    /// follow the template.
    #[test]
    fn the_emission_fields_fill_the_first_cache_line() {
        assert_eq!(std::mem::offset_of!(Source, template), 64);
        assert_eq!(
            std::mem::offset_of!(Source, memos),
            64 + TEMPLATE_LEN,
            "memos follow the template"
        );
    }
}
