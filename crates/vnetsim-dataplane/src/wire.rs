//! Real IPv4 packet bytes: flow keys, zero-copy parsing, probe builders and the per-hop TTL
//! update.
//!
//! What it is for: the packet-facing edge of the data plane. [`parse`] reads the fields the
//! pipeline needs from borrowed bytes (verifying the header checksum), [`build_probe`] and
//! [`build_reply`] write valid IPv4 + TCP/UDP/ICMP packets into a caller-owned buffer (the
//! bytes etherparse's `PacketBuilder` writes, written directly and property-tested against
//! it), [`forward_hop`] decrements the TTL in place with an
//! incremental checksum update, and [`set_tcp_segment`] and [`set_icmp_echo_seq`] restamp a
//! built packet's TCP sequence, acknowledgment and flags or ICMP echo sequence number the same
//! way (how a traffic source numbers its copies of a template). None of them allocates or
//! panics. The parser is hand-written
//! (a few fixed offsets, faster than a full slice parse) and property-tested to agree with
//! etherparse on every packet it accepts.
//!
//! What it is not: not a TCP/IP stack (no options, no reassembly, no connection state), not
//! Ethernet or IPv6, and not a general packet dissector (use etherparse for `explain`-style
//! views).

use std::net::Ipv4Addr;

use vnetsim_scenario::model::Protocol;

/// IPv4 protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IPv4 protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IPv4 protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// Length of an IPv4 header without options, as built here.
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of a TCP header without options, as built here.
pub const TCP_HEADER_LEN: usize = 20;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// Length of an ICMP echo header.
pub const ICMP_HEADER_LEN: usize = 8;
/// TTL of the packets [`build_reply`] writes.
pub const REPLY_TTL: u8 = 64;

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
const TCP_WINDOW: u16 = 64240;
/// The IPv4 flags and fragment offset field of a built packet: don't fragment.
const IPV4_DONT_FRAGMENT: u16 = 0x4000;

/// The 5-tuple an NSG and a flow table see. Addresses are host-order `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// Source address.
    pub src: u32,
    /// Destination address.
    pub dst: u32,
    /// IPv4 protocol number.
    pub protocol: u8,
    /// Source port (TCP/UDP), echo identifier (ICMP echo), else 0.
    pub src_port: u16,
    /// Destination port (TCP/UDP), echo identifier (ICMP echo), else 0.
    pub dst_port: u16,
}

/// Hashed as two words (addresses; protocol and ports): flow tables hash one key per packet.
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.src) << 32) | u64::from(self.dst));
        state.write_u64(
            (u64::from(self.protocol) << 32)
                | (u64::from(self.src_port) << 16)
                | u64::from(self.dst_port),
        );
    }
}

impl FlowKey {
    /// The key of the reply direction: addresses and ports swapped.
    #[inline]
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            protocol: self.protocol,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }

    /// Whether the protocol carries ports (TCP or UDP). A non-first fragment of a TCP or UDP
    /// packet still answers true; its ports read as 0.
    #[inline]
    pub fn has_ports(&self) -> bool {
        self.protocol == PROTO_TCP || self.protocol == PROTO_UDP
    }
}

/// What [`parse`] reads from a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketMeta {
    /// The flow key.
    pub key: FlowKey,
    /// Time to live.
    pub ttl: u8,
    /// IPv4 total length (bytes past it in the buffer are ignored).
    pub total_len: u16,
    /// IPv4 header length in bytes (20..=60).
    pub header_len: u8,
    /// ICMP type, for ICMP packets whose header was read.
    pub icmp_type: Option<u8>,
    /// TCP sequence number or ICMP echo sequence number (0 otherwise), so that
    /// [`build_reply`] can acknowledge or echo it.
    pub seq: u32,
    /// TCP flags (byte 13 of the TCP header: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10); 0 for
    /// other protocols and non-first fragments.
    pub tcp_flags: u8,
}

/// Why bytes are not a usable IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Malformed {
    /// Fewer than 20 bytes, or fewer bytes than the total length says.
    Truncated,
    /// The version field is not 4.
    NotIpv4,
    /// IHL below 5 (a header shorter than 20 bytes).
    BadHeaderLength,
    /// The total length is smaller than the header length.
    BadTotalLength,
    /// The IPv4 header checksum does not verify.
    BadChecksum,
    /// The TCP, UDP or ICMP header does not fit in the packet.
    TruncatedTransport,
    /// TCP data offset below 5.
    BadTcpDataOffset,
}

impl Malformed {
    /// A stable short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::Truncated => "truncated",
            Malformed::NotIpv4 => "not-ipv4",
            Malformed::BadHeaderLength => "bad-header-length",
            Malformed::BadTotalLength => "bad-total-length",
            Malformed::BadChecksum => "bad-checksum",
            Malformed::TruncatedTransport => "truncated-transport",
            Malformed::BadTcpDataOffset => "bad-tcp-data-offset",
        }
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Malformed {}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

/// One's-complement sum of `data` as big-endian 16-bit words (odd tail padded), added to
/// `acc`, not folded.
///
/// It adds 32-bit words, four bytes a step: a 32-bit word is two 16-bit words whose sum it
/// equals modulo 0xffff, so [`fold`] gives the same checksum (RFC 1071, section 2).
#[inline]
fn sum16(data: &[u8], mut acc: u64) -> u64 {
    let mut words = data.chunks_exact(4);
    for c in &mut words {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let mut chunks = words.remainder().chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a sum to 16 bits with end-around carry.
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Parses an IPv4 packet from `bytes` without copying.
///
/// Checks: at least 20 bytes, version 4, IHL >= 5, header length <= total length <=
/// `bytes.len()`, a valid header checksum. Ports (and the ICMP type) are read only from a packet
/// that is not a non-first fragment; then TCP needs a full 20-byte header with data offset >= 5
/// (and the whole header inside the packet), UDP 8 bytes and ICMP 8 bytes. ICMP echo requests
/// and replies get the echo identifier as both ports; other ICMP and other protocols get 0.
pub fn parse(bytes: &[u8]) -> Result<PacketMeta, Malformed> {
    let Some(h) = bytes.get(..IPV4_HEADER_LEN) else {
        return Err(Malformed::Truncated);
    };
    if h[0] >> 4 != 4 {
        return Err(Malformed::NotIpv4);
    }
    let header_len = usize::from(h[0] & 0x0f) * 4;
    if header_len < IPV4_HEADER_LEN {
        return Err(Malformed::BadHeaderLength);
    }
    let total_len = be16(h, 2);
    let total = usize::from(total_len);
    if total < header_len {
        return Err(Malformed::BadTotalLength);
    }
    let Some(packet) = bytes.get(..total) else {
        return Err(Malformed::Truncated);
    };
    let (header, transport) = packet.split_at(header_len);
    if fold(sum16(header, 0)) != 0xffff {
        return Err(Malformed::BadChecksum);
    }
    let protocol = h[9];
    let mut key = FlowKey {
        src: be32(h, 12),
        dst: be32(h, 16),
        protocol,
        src_port: 0,
        dst_port: 0,
    };
    let mut icmp_type = None;
    let mut seq = 0;
    let mut tcp_flags = 0;
    let fragment_offset = be16(h, 6) & 0x1fff;
    if fragment_offset == 0 {
        match protocol {
            PROTO_TCP => {
                if transport.len() < TCP_HEADER_LEN {
                    return Err(Malformed::TruncatedTransport);
                }
                let data_offset = usize::from(transport[12] >> 4);
                if data_offset < 5 {
                    return Err(Malformed::BadTcpDataOffset);
                }
                if data_offset * 4 > transport.len() {
                    return Err(Malformed::TruncatedTransport);
                }
                key.src_port = be16(transport, 0);
                key.dst_port = be16(transport, 2);
                seq = be32(transport, 4);
                tcp_flags = transport[13];
            }
            PROTO_UDP => {
                if transport.len() < UDP_HEADER_LEN {
                    return Err(Malformed::TruncatedTransport);
                }
                key.src_port = be16(transport, 0);
                key.dst_port = be16(transport, 2);
            }
            PROTO_ICMP => {
                if transport.len() < ICMP_HEADER_LEN {
                    return Err(Malformed::TruncatedTransport);
                }
                let t = transport[0];
                icmp_type = Some(t);
                if t == ICMP_ECHO_REQUEST || t == ICMP_ECHO_REPLY {
                    let id = be16(transport, 4);
                    key.src_port = id;
                    key.dst_port = id;
                    seq = u32::from(be16(transport, 6));
                }
            }
            _ => {}
        }
    }
    Ok(PacketMeta {
        key,
        ttl: h[8],
        total_len,
        header_len: header_len as u8,
        icmp_type,
        seq,
        tcp_flags,
    })
}

/// What [`build_probe`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketSpec {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// TCP (a SYN), UDP or ICMP (an echo request).
    pub protocol: Protocol,
    /// TCP/UDP source port; the echo identifier for ICMP.
    pub src_port: u16,
    /// TCP/UDP destination port; ignored for ICMP.
    pub dst_port: u16,
    /// Time to live.
    pub ttl: u8,
    /// IPv4 total length; the payload is zero-filled to reach it.
    pub total_len: u16,
    /// IPv4 identification; also the TCP sequence seed and the ICMP echo sequence number.
    pub identification: u16,
}

/// Why a packet could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuildError {
    /// The buffer is shorter than the total length.
    BufferTooSmall {
        /// Bytes needed.
        needed: u16,
    },
    /// The total length cannot hold the IPv4 and transport headers.
    TotalLenTooSmall {
        /// Smallest total length for this protocol.
        min: u16,
    },
    /// [`build_reply`] was given a packet that has no reply here (not TCP, UDP or an ICMP echo
    /// request).
    NoReply,
}

impl BuildError {
    /// A stable short name.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildError::BufferTooSmall { .. } => "buffer-too-small",
            BuildError::TotalLenTooSmall { .. } => "total-len-too-small",
            BuildError::NoReply => "no-reply",
        }
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::BufferTooSmall { needed } => {
                write!(f, "buffer too small: {needed} bytes needed")
            }
            BuildError::TotalLenTooSmall { min } => write!(f, "total length below {min}"),
            BuildError::NoReply => f.write_str("no reply for this packet"),
        }
    }
}

impl std::error::Error for BuildError {}

/// The transport header to write.
#[derive(Clone, Copy)]
enum Transport {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: Option<u32>,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    IcmpEcho {
        icmp_type: u8,
        id: u16,
        seq: u16,
    },
}

impl Transport {
    fn protocol(self) -> u8 {
        match self {
            Transport::Tcp { .. } => PROTO_TCP,
            Transport::Udp { .. } => PROTO_UDP,
            Transport::IcmpEcho { .. } => PROTO_ICMP,
        }
    }

    fn header_len(self) -> usize {
        match self {
            Transport::Tcp { .. } => TCP_HEADER_LEN,
            Transport::Udp { .. } => UDP_HEADER_LEN,
            Transport::IcmpEcho { .. } => ICMP_HEADER_LEN,
        }
    }
}

/// What [`write_packet`] writes: the IPv4 header's fields and the transport header.
#[derive(Clone, Copy)]
struct Headers {
    src: u32,
    dst: u32,
    ttl: u8,
    total_len: u16,
    identification: u16,
    transport: Transport,
}

/// Writes a whole packet: the IPv4 header, the transport header and a zero payload, with
/// every length and checksum filled in; returns its length.
///
/// The bytes are those etherparse's `PacketBuilder` writes (the tests hold it to that), written
/// directly: the payload is zeros, so it adds nothing to a checksum and is only filled, not
/// summed (a flow's template of 1,500 bytes costs a few dozen instructions, not a thousand).
fn write_packet(buf: &mut [u8], packet: &Headers) -> Result<usize, BuildError> {
    let Headers {
        src,
        dst,
        ttl,
        total_len,
        identification,
        transport,
    } = *packet;
    let th = transport.header_len();
    let min = IPV4_HEADER_LEN + th;
    if usize::from(total_len) < min {
        return Err(BuildError::TotalLenTooSmall { min: min as u16 });
    }
    let total = usize::from(total_len);
    let Some(p) = buf.get_mut(..total) else {
        return Err(BuildError::BufferTooSmall { needed: total_len });
    };
    let (ip, rest) = p.split_at_mut(IPV4_HEADER_LEN);
    let (t, payload) = rest.split_at_mut(th);
    payload.fill(0);
    // IPv4: version 4, IHL 5, no DSCP/ECN, don't fragment (as etherparse's `Ipv4Header::new`).
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&total_len.to_be_bytes());
    ip[4..6].copy_from_slice(&identification.to_be_bytes());
    ip[6..8].copy_from_slice(&IPV4_DONT_FRAGMENT.to_be_bytes());
    ip[8] = ttl;
    ip[9] = transport.protocol();
    ip[10..12].fill(0);
    ip[12..16].copy_from_slice(&src.to_be_bytes());
    ip[16..20].copy_from_slice(&dst.to_be_bytes());
    let check = !fold(sum16(ip, 0));
    ip[10..12].copy_from_slice(&check.to_be_bytes());
    // The pseudo-header of TCP and UDP checksums (RFC 793, RFC 768).
    let segment_len = (total - IPV4_HEADER_LEN) as u64;
    let pseudo = u64::from(src >> 16)
        + u64::from(src & 0xffff)
        + u64::from(dst >> 16)
        + u64::from(dst & 0xffff)
        + u64::from(transport.protocol())
        + segment_len;
    match transport {
        Transport::Tcp {
            sport,
            dport,
            seq,
            ack,
        } => {
            t[0..2].copy_from_slice(&sport.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[4..8].copy_from_slice(&seq.to_be_bytes());
            t[8..12].copy_from_slice(&ack.unwrap_or(0).to_be_bytes());
            t[12] = 0x50;
            t[13] = if ack.is_some() {
                TCP_SYN | TCP_ACK
            } else {
                TCP_SYN
            };
            t[14..16].copy_from_slice(&TCP_WINDOW.to_be_bytes());
            t[16..20].fill(0);
            let check = !fold(sum16(t, pseudo));
            t[16..18].copy_from_slice(&check.to_be_bytes());
        }
        Transport::Udp { sport, dport } => {
            t[0..2].copy_from_slice(&sport.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[4..6].copy_from_slice(&(segment_len as u16).to_be_bytes());
            t[6..8].fill(0);
            // A computed 0 is sent as all ones: 0 means "no checksum" (RFC 768).
            let check = match !fold(sum16(t, pseudo)) {
                0 => 0xffff,
                c => c,
            };
            t[6..8].copy_from_slice(&check.to_be_bytes());
        }
        Transport::IcmpEcho { icmp_type, id, seq } => {
            t[0] = icmp_type;
            t[1] = 0;
            t[2..4].fill(0);
            t[4..6].copy_from_slice(&id.to_be_bytes());
            t[6..8].copy_from_slice(&seq.to_be_bytes());
            let check = !fold(sum16(t, 0));
            t[2..4].copy_from_slice(&check.to_be_bytes());
        }
    }
    Ok(total)
}

/// The TCP initial sequence number of a probe, derived from its identification.
#[inline]
pub fn probe_seq(identification: u16) -> u32 {
    u32::from(identification).wrapping_mul(0x9E37_79B1)
}

/// Writes the probe described by `spec` into `buf` (the first `spec.total_len` bytes); returns
/// the packet length. TCP: a SYN with sequence number [`probe_seq`]`(identification)`. UDP:
/// the given ports. ICMP: an echo request with identifier `src_port` and sequence number
/// `identification`. The payload is zero-filled; all checksums are valid. No allocation.
pub fn build_probe(buf: &mut [u8], spec: &PacketSpec) -> Result<usize, BuildError> {
    let transport = match spec.protocol {
        Protocol::Tcp => Transport::Tcp {
            sport: spec.src_port,
            dport: spec.dst_port,
            seq: probe_seq(spec.identification),
            ack: None,
        },
        Protocol::Udp => Transport::Udp {
            sport: spec.src_port,
            dport: spec.dst_port,
        },
        Protocol::Icmp => Transport::IcmpEcho {
            icmp_type: ICMP_ECHO_REQUEST,
            id: spec.src_port,
            seq: spec.identification,
        },
    };
    write_packet(
        buf,
        &Headers {
            src: u32::from(spec.src),
            dst: u32::from(spec.dst),
            ttl: spec.ttl,
            total_len: spec.total_len,
            identification: spec.identification,
            transport,
        },
    )
}

/// Writes the reply to the packet `request` describes into `buf`; returns its length. TCP: a
/// SYN-ACK acknowledging `request.seq + 1` (its own sequence number is derived from the
/// request's); UDP: the ports swapped; ICMP echo request: an echo reply with the same
/// identifier and sequence number. TTL [`REPLY_TTL`]; payload zero-filled to `total_len`.
/// Anything else: [`BuildError::NoReply`].
pub fn build_reply(
    buf: &mut [u8],
    request: &PacketMeta,
    total_len: u16,
) -> Result<usize, BuildError> {
    let k = request.key.reverse();
    let identification = request.seq as u16;
    let transport = match (k.protocol, request.icmp_type) {
        (PROTO_TCP, _) => Transport::Tcp {
            sport: k.src_port,
            dport: k.dst_port,
            seq: probe_seq(identification ^ 0x5a5a),
            ack: Some(request.seq.wrapping_add(1)),
        },
        (PROTO_UDP, _) => Transport::Udp {
            sport: k.src_port,
            dport: k.dst_port,
        },
        (PROTO_ICMP, Some(ICMP_ECHO_REQUEST)) => Transport::IcmpEcho {
            icmp_type: ICMP_ECHO_REPLY,
            id: k.src_port,
            seq: request.seq as u16,
        },
        _ => return Err(BuildError::NoReply),
    };
    write_packet(
        buf,
        &Headers {
            src: k.src,
            dst: k.dst,
            ttl: REPLY_TTL,
            total_len,
            identification,
            transport,
        },
    )
}

/// The TTL of a packet ran out at this hop (it was 0 or 1 on arrival).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TtlExpired;

impl std::fmt::Display for TtlExpired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ttl expired")
    }
}

impl std::error::Error for TtlExpired {}

/// Forwards a packet one hop: decrements the TTL in place and patches the header checksum
/// incrementally (RFC 1624, `HC' = ~(~HC + ~m + m')`); returns the new TTL.
///
/// A TTL of 0 or 1 gives `Err(TtlExpired)` and leaves the bytes unchanged. The packet is
/// expected to have passed [`parse`]; a buffer shorter than an IPv4 header is left unchanged
/// and answered like a TTL of 0.
#[inline]
pub fn forward_hop(buf: &mut [u8]) -> Result<u8, TtlExpired> {
    let Some(h) = buf.get_mut(..IPV4_HEADER_LEN) else {
        return Err(TtlExpired);
    };
    let ttl = h[8];
    if ttl <= 1 {
        return Err(TtlExpired);
    }
    let old_word = u16::from_be_bytes([h[8], h[9]]);
    let new_word = old_word - 0x0100;
    let hc = u16::from_be_bytes([h[10], h[11]]);
    let sum = u32::from(!hc) + u32::from(!old_word) + u32::from(new_word);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    let new_hc = !(sum as u16);
    h[8] = ttl - 1;
    h[10..12].copy_from_slice(&new_hc.to_be_bytes());
    Ok(ttl - 1)
}

/// TCP SYN flag.
pub const TCP_SYN: u8 = 0x02;
/// TCP ACK flag.
pub const TCP_ACK: u8 = 0x10;

/// Whether a TCP packet with `flags` opens a connection (SYN without ACK).
#[inline]
pub fn opens_connection(flags: u8) -> bool {
    flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

/// One's-complement checksum `hc` updated for a 16-bit word changed from `old` to `new`
/// (RFC 1624, `HC' = ~(~HC + ~m + m')`).
#[inline]
fn csum_update(hc: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// Rewrites a parsed packet's addresses and ports in place from `from` (its current key) to
/// `to` (what network address translation makes of it): source and destination addresses in
/// the IPv4 header, and for TCP and UDP (first fragments) the ports, with the IPv4 header
/// checksum and the TCP or UDP checksum (its pseudo-header holds the addresses) patched
/// incrementally (RFC 1624). A UDP checksum of 0 (none) stays 0. ICMP echo identifiers are
/// left alone. Nothing is written for fields that do not change; a buffer too short for the
/// headers `parse` accepted is left unchanged.
pub fn translate(buf: &mut [u8], from: &FlowKey, to: &FlowKey) {
    let Ok(meta) = parse(buf) else {
        return;
    };
    let hl = usize::from(meta.header_len);
    let first_fragment = be16(buf, 6) & 0x1fff == 0;
    let words = |a: u32| [(a >> 16) as u16, a as u16];
    let mut ip_hc = be16(buf, 10);
    // (offset in the IPv4 header, old, new) for each address word.
    let mut changes: [(usize, u16, u16); 4] = [(0, 0, 0); 4];
    let mut n = 0;
    for (off, old, new) in [(12, from.src, to.src), (16, from.dst, to.dst)] {
        if old != new {
            let (o, w) = (words(old), words(new));
            for k in 0..2 {
                changes[n] = (off + 2 * k, o[k], w[k]);
                n += 1;
            }
        }
    }
    for &(off, old, new) in &changes[..n] {
        ip_hc = csum_update(ip_hc, old, new);
        buf[off..off + 2].copy_from_slice(&new.to_be_bytes());
    }
    buf[10..12].copy_from_slice(&ip_hc.to_be_bytes());
    if !first_fragment {
        return;
    }
    let csum_at = match meta.key.protocol {
        PROTO_TCP => hl + 16,
        PROTO_UDP => hl + 6,
        _ => return,
    };
    if buf.len() < csum_at + 2 {
        return;
    }
    let mut hc = be16(buf, csum_at);
    let udp_none = meta.key.protocol == PROTO_UDP && hc == 0;
    for &(_, old, new) in &changes[..n] {
        hc = csum_update(hc, old, new);
    }
    for (off, old, new) in [
        (hl, from.src_port, to.src_port),
        (hl + 2, from.dst_port, to.dst_port),
    ] {
        if old != new {
            hc = csum_update(hc, old, new);
            buf[off..off + 2].copy_from_slice(&new.to_be_bytes());
        }
    }
    if !udp_none {
        // A UDP checksum that computes to 0 is sent as 0xffff (RFC 768).
        if meta.key.protocol == PROTO_UDP && hc == 0 {
            hc = 0xffff;
        }
        buf[csum_at..csum_at + 2].copy_from_slice(&hc.to_be_bytes());
    }
}

/// Sets the IPv4 identification of a built packet in place and patches the header checksum
/// incrementally (RFC 1624): how a traffic source stamps each copy of its template packet.
/// A buffer shorter than an IPv4 header is left unchanged.
#[inline]
pub fn set_identification(buf: &mut [u8], identification: u16) {
    let Some(h) = buf.get_mut(..IPV4_HEADER_LEN) else {
        return;
    };
    let old_word = u16::from_be_bytes([h[4], h[5]]);
    let hc = u16::from_be_bytes([h[10], h[11]]);
    let sum = u32::from(!hc) + u32::from(!old_word) + u32::from(identification);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    h[4..6].copy_from_slice(&identification.to_be_bytes());
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// TCP FIN flag.
pub const TCP_FIN: u8 = 0x01;

/// Where the transport header of an unfragmented-or-first-fragment IPv4 packet starts, if the
/// buffer holds at least `need` bytes of it.
fn transport_at(buf: &[u8], protocol: u8, need: usize) -> Option<usize> {
    let h = buf.get(..IPV4_HEADER_LEN)?;
    if h[0] >> 4 != 4 || h[9] != protocol || be16(h, 6) & 0x1fff != 0 {
        return None;
    }
    let hl = usize::from(h[0] & 0x0f) * 4;
    (hl >= IPV4_HEADER_LEN && buf.len() >= hl + need).then_some(hl)
}

/// Sets a TCP packet's sequence number, acknowledgment number and flags (byte 13) in place,
/// patching the TCP checksum incrementally (RFC 1624): how a traffic source turns each copy
/// of its template segment into the next segment of its connection. Returns whether it wrote:
/// a packet that is not TCP, a non-first fragment or too short a buffer is left unchanged.
pub fn set_tcp_segment(buf: &mut [u8], seq: u32, ack: u32, flags: u8) -> bool {
    let Some(t) = transport_at(buf, PROTO_TCP, TCP_HEADER_LEN) else {
        return false;
    };
    let mut hc = be16(buf, t + 16);
    let words = |x: u32| [(x >> 16) as u16, x as u16];
    let (seq_w, ack_w) = (words(seq), words(ack));
    let flags_w = (u16::from(buf[t + 12]) << 8) | u16::from(flags);
    let new = [seq_w[0], seq_w[1], ack_w[0], ack_w[1], flags_w];
    for (k, &word) in new.iter().enumerate() {
        let at = t + 4 + 2 * k;
        let old = be16(buf, at);
        if old != word {
            hc = csum_update(hc, old, word);
            buf[at..at + 2].copy_from_slice(&word.to_be_bytes());
        }
    }
    buf[t + 16..t + 18].copy_from_slice(&hc.to_be_bytes());
    true
}

/// Sets an ICMP echo's sequence number in place, patching the ICMP checksum incrementally
/// (RFC 1624). Returns whether it wrote: a packet that is not ICMP or too short a buffer is
/// left unchanged.
pub fn set_icmp_echo_seq(buf: &mut [u8], seq: u16) -> bool {
    let Some(t) = transport_at(buf, PROTO_ICMP, ICMP_HEADER_LEN) else {
        return false;
    };
    let old = be16(buf, t + 6);
    let hc = csum_update(be16(buf, t + 2), old, seq);
    buf[t + 6..t + 8].copy_from_slice(&seq.to_be_bytes());
    buf[t + 2..t + 4].copy_from_slice(&hc.to_be_bytes());
    true
}

/// The bytes of sequence space a TCP segment takes: its payload, plus one for SYN and one for
/// FIN; `None` for anything else than a whole first-fragment TCP segment.
pub fn tcp_segment_len(buf: &[u8]) -> Option<u32> {
    let t = transport_at(buf, PROTO_TCP, TCP_HEADER_LEN)?;
    let total = usize::from(be16(buf, 2));
    let data_offset = usize::from(buf[t + 12] >> 4) * 4;
    let payload = total.checked_sub(t + data_offset)?;
    let flags = buf[t + 13];
    Some(payload as u32 + u32::from(flags & TCP_SYN != 0) + u32::from(flags & TCP_FIN != 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Ipv4Header, NetSlice, SlicedPacket, TransportSlice};
    use proptest::prelude::*;

    fn spec(protocol: Protocol, total_len: u16) -> PacketSpec {
        PacketSpec {
            src: Ipv4Addr::new(192, 0, 2, 10),
            dst: Ipv4Addr::new(198, 51, 100, 20),
            protocol,
            src_port: 49152,
            dst_port: 443,
            ttl: 64,
            total_len,
            identification: 0x1234,
        }
    }

    proptest! {
        /// The hand-written packet writer gives etherparse's bytes (or its error) for every
        /// transport, address, TTL, length and identification, whatever the buffer held.
        #[test]
        fn write_packet_writes_what_etherparse_writes(
            kind in 0u8..5,
            src in any::<u32>(),
            dst in any::<u32>(),
            ttl in any::<u8>(),
            total_len in 0u16..1600,
            identification in any::<u16>(),
            sport in any::<u16>(),
            dport in any::<u16>(),
            seq in any::<u32>(),
            ack in any::<u32>(),
            garbage in any::<u8>(),
            short in any::<bool>(),
        ) {
            let transport = match kind {
                0 => Transport::Tcp { sport, dport, seq, ack: None },
                1 => Transport::Tcp { sport, dport, seq, ack: Some(ack) },
                2 => Transport::Udp { sport, dport },
                3 => Transport::IcmpEcho { icmp_type: ICMP_ECHO_REQUEST, id: sport, seq: dport },
                _ => Transport::IcmpEcho { icmp_type: ICMP_ECHO_REPLY, id: sport, seq: dport },
            };
            let len = if short { usize::from(total_len / 2) } else { 1600 };
            let mut ours = vec![garbage; len];
            let mut theirs = vec![garbage; len];
            let headers = Headers { src, dst, ttl, total_len, identification, transport };
            let a = write_packet(&mut ours, &headers);
            let b = write_packet_etherparse(&mut theirs, &headers);
            prop_assert_eq!(a, b);
            if let Ok(n) = a {
                prop_assert_eq!(&ours[..n], &theirs[..n]);
                etherparse_checks(&ours[..n]);
            }
        }

        /// Summing four bytes a step folds to the checksum of 16-bit words, whatever the
        /// length, the bytes and the sum carried in.
        #[test]
        fn sum16_folds_to_the_sum_of_16_bit_words(
            data in proptest::collection::vec(any::<u8>(), 0..120),
            carried in 0u64..(1 << 40),
        ) {
            let mut words = carried;
            for c in data.chunks(2) {
                words += (u64::from(c[0]) << 8) + c.get(1).map_or(0, |&b| u64::from(b));
            }
            prop_assert_eq!(fold(sum16(&data, carried)), fold(words));
        }

        /// A TCP segment rewritten in place keeps valid checksums and reads back as written.
        #[test]
        fn set_tcp_segment_keeps_checksums(seq in any::<u32>(), ack in any::<u32>(), flags in any::<u8>(), len in 40u16..200) {
            let mut buf = vec![0u8; usize::from(len)];
            let n = build_probe(&mut buf, &spec(Protocol::Tcp, len)).unwrap();
            prop_assert!(set_tcp_segment(&mut buf[..n], seq, ack, flags));
            etherparse_checks(&buf[..n]);
            let m = parse(&buf[..n]).unwrap();
            prop_assert_eq!(m.seq, seq);
            prop_assert_eq!(m.tcp_flags, flags);
            prop_assert_eq!(be32(&buf, 28), ack);
            let syn_fin = u32::from(flags & TCP_SYN != 0) + u32::from(flags & TCP_FIN != 0);
            prop_assert_eq!(tcp_segment_len(&buf[..n]), Some(u32::from(len) - 40 + syn_fin));
        }

        /// An ICMP echo's sequence number rewritten in place keeps a valid checksum.
        #[test]
        fn set_icmp_echo_seq_keeps_the_checksum(seq in any::<u16>(), len in 28u16..200) {
            let mut buf = vec![0u8; usize::from(len)];
            let n = build_probe(&mut buf, &spec(Protocol::Icmp, len)).unwrap();
            prop_assert!(set_icmp_echo_seq(&mut buf[..n], seq));
            etherparse_checks(&buf[..n]);
            prop_assert_eq!(parse(&buf[..n]).unwrap().seq, u32::from(seq));
        }
    }

    #[test]
    fn segment_setters_leave_other_packets_alone() {
        let mut udp = vec![0u8; 60];
        build_probe(&mut udp, &spec(Protocol::Udp, 60)).unwrap();
        let before = udp.clone();
        assert!(!set_tcp_segment(&mut udp, 1, 2, TCP_ACK));
        assert!(!set_icmp_echo_seq(&mut udp, 3));
        assert_eq!(udp, before);
        assert_eq!(tcp_segment_len(&udp), None);
        let mut short = [0x45u8, 0, 0, 40, 0, 0, 0, 0, 64, 6];
        assert!(!set_tcp_segment(&mut short, 1, 2, TCP_ACK));
        assert_eq!(tcp_segment_len(&short), None);
        assert!(!set_tcp_segment(&mut [], 1, 2, TCP_ACK));
    }

    /// Checks every checksum with etherparse's own computation; returns the TCP flags
    /// (syn, ack, ack number) for TCP packets.
    fn etherparse_checks(bytes: &[u8]) -> Option<(bool, bool, u32)> {
        let p = SlicedPacket::from_ip(bytes).expect("etherparse parses it");
        let ip: Ipv4Header = match p.net {
            Some(NetSlice::Ipv4(s)) => s.header().to_header(),
            _ => panic!("not IPv4"),
        };
        assert_eq!(
            ip.header_checksum,
            ip.calc_header_checksum(),
            "IPv4 checksum"
        );
        match p.transport {
            Some(TransportSlice::Tcp(t)) => {
                let h = t.to_header();
                assert_eq!(
                    t.checksum(),
                    h.calc_checksum_ipv4(&ip, t.payload()).unwrap()
                );
                Some((h.syn, h.ack, h.acknowledgment_number))
            }
            Some(TransportSlice::Udp(u)) => {
                let h = u.to_header();
                assert_eq!(
                    u.checksum(),
                    h.calc_checksum_ipv4(&ip, u.payload()).unwrap()
                );
                None
            }
            Some(TransportSlice::Icmpv4(i)) => {
                assert_eq!(i.checksum(), i.icmp_type().calc_checksum(i.payload()));
                None
            }
            _ => panic!("unexpected transport"),
        }
    }

    #[test]
    fn build_and_parse_each_protocol() {
        let mut buf = [0xAAu8; 1600];
        for (proto, len) in [
            (Protocol::Tcp, 40u16),
            (Protocol::Tcp, 1500),
            (Protocol::Udp, 28),
            (Protocol::Udp, 1499),
            (Protocol::Icmp, 28),
            (Protocol::Icmp, 84),
        ] {
            buf.fill(0xAA);
            let s = spec(proto, len);
            let n = build_probe(&mut buf, &s).unwrap();
            assert_eq!(n, usize::from(len));
            let m = parse(&buf[..n]).unwrap();
            assert_eq!(m.total_len, len);
            assert_eq!(m.header_len, 20);
            assert_eq!(m.ttl, 64);
            assert_eq!(m.key.src, u32::from(s.src));
            assert_eq!(m.key.dst, u32::from(s.dst));
            assert_eq!(m.key.protocol, proto.number());
            let headers = if proto == Protocol::Tcp { 40 } else { 28 };
            assert!(
                buf[headers..n].iter().all(|&b| b == 0),
                "payload zero-filled"
            );
            let tcp = etherparse_checks(&buf[..n]);
            match proto {
                Protocol::Tcp => {
                    assert_eq!((m.key.src_port, m.key.dst_port), (49152, 443));
                    assert_eq!(m.seq, probe_seq(0x1234));
                    assert_eq!(tcp, Some((true, false, 0)));
                    assert!(m.key.has_ports());
                }
                Protocol::Udp => {
                    assert_eq!((m.key.src_port, m.key.dst_port), (49152, 443));
                    assert!(m.key.has_ports());
                }
                Protocol::Icmp => {
                    assert_eq!((m.key.src_port, m.key.dst_port), (49152, 49152));
                    assert_eq!(m.icmp_type, Some(8));
                    assert_eq!(m.seq, 0x1234);
                    assert!(!m.key.has_ports());
                }
            }
            // Bytes after the packet are left alone.
            assert_eq!(buf[n], 0xAA);
        }
    }

    #[test]
    fn replies_reverse_the_flow() {
        let mut buf = [0u8; 256];
        let mut out = [0u8; 256];
        for proto in [Protocol::Tcp, Protocol::Udp, Protocol::Icmp] {
            let n = build_probe(&mut buf, &spec(proto, 100)).unwrap();
            let req = parse(&buf[..n]).unwrap();
            let r = build_reply(&mut out, &req, 60).unwrap();
            let rep = parse(&out[..r]).unwrap();
            assert_eq!(rep.key, req.key.reverse());
            assert_eq!(rep.ttl, REPLY_TTL);
            assert_eq!(rep.total_len, 60);
            let tcp = etherparse_checks(&out[..r]);
            match proto {
                Protocol::Tcp => assert_eq!(tcp, Some((true, true, req.seq.wrapping_add(1)))),
                Protocol::Icmp => {
                    assert_eq!(rep.icmp_type, Some(0));
                    assert_eq!(rep.seq, req.seq);
                }
                Protocol::Udp => assert_eq!(rep.key.dst_port, 49152),
            }
        }
        // An echo reply has no reply of its own.
        let n = build_probe(&mut buf, &spec(Protocol::Icmp, 28)).unwrap();
        let req = parse(&buf[..n]).unwrap();
        let r = build_reply(&mut out, &req, 28).unwrap();
        let rep = parse(&out[..r]).unwrap();
        assert_eq!(build_reply(&mut buf, &rep, 28), Err(BuildError::NoReply));
    }

    #[test]
    fn build_errors() {
        let mut small = [0u8; 39];
        assert_eq!(
            build_probe(&mut small, &spec(Protocol::Tcp, 40)),
            Err(BuildError::BufferTooSmall { needed: 40 })
        );
        let mut buf = [0u8; 64];
        assert_eq!(
            build_probe(&mut buf, &spec(Protocol::Tcp, 39)),
            Err(BuildError::TotalLenTooSmall { min: 40 })
        );
        assert_eq!(
            build_probe(&mut buf, &spec(Protocol::Udp, 27)),
            Err(BuildError::TotalLenTooSmall { min: 28 })
        );
        assert_eq!(BuildError::NoReply.as_str(), "no-reply");
    }

    fn probe_bytes(proto: Protocol, len: u16) -> Vec<u8> {
        let mut buf = vec![0u8; usize::from(len)];
        build_probe(&mut buf, &spec(proto, len)).unwrap();
        buf
    }

    /// Rewrites the IPv4 header checksum after a test edits the header.
    fn fix_checksum(b: &mut [u8]) {
        let hl = usize::from(b[0] & 0x0f) * 4;
        b[10] = 0;
        b[11] = 0;
        let sum = !fold(sum16(&b[..hl], 0));
        b[10..12].copy_from_slice(&sum.to_be_bytes());
    }

    #[test]
    fn malformed_reasons() {
        let good = probe_bytes(Protocol::Tcp, 60);
        assert!(parse(&good).is_ok());
        assert_eq!(parse(&good[..19]), Err(Malformed::Truncated));
        assert_eq!(parse(&good[..59]), Err(Malformed::Truncated));
        assert_eq!(parse(&[]), Err(Malformed::Truncated));

        let mut b = good.clone();
        b[0] = 0x65;
        assert_eq!(parse(&b), Err(Malformed::NotIpv4));
        let mut b = good.clone();
        b[0] = 0x44;
        fix_checksum(&mut b[..20]);
        assert_eq!(parse(&b), Err(Malformed::BadHeaderLength));
        let mut b = good.clone();
        b[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(parse(&b), Err(Malformed::BadTotalLength));
        let mut b = good.clone();
        b[11] ^= 1;
        assert_eq!(parse(&b), Err(Malformed::BadChecksum));
        let mut b = good.clone();
        b[15] ^= 0x80; // source address bit
        assert_eq!(parse(&b), Err(Malformed::BadChecksum));

        // TCP header cut by the total length.
        let mut b = good.clone();
        b[2..4].copy_from_slice(&39u16.to_be_bytes());
        fix_checksum(&mut b);
        assert_eq!(parse(&b), Err(Malformed::TruncatedTransport));
        // TCP data offset 4, then 15 (60 bytes, more than the 40 present).
        let mut b = good.clone();
        b[32] = 4 << 4;
        assert_eq!(parse(&b), Err(Malformed::BadTcpDataOffset));
        b[32] = 15 << 4;
        assert_eq!(parse(&b), Err(Malformed::TruncatedTransport));

        let mut udp = probe_bytes(Protocol::Udp, 28);
        udp[2..4].copy_from_slice(&27u16.to_be_bytes());
        fix_checksum(&mut udp);
        assert_eq!(parse(&udp), Err(Malformed::TruncatedTransport));
        let mut icmp = probe_bytes(Protocol::Icmp, 28);
        icmp[2..4].copy_from_slice(&27u16.to_be_bytes());
        fix_checksum(&mut icmp);
        assert_eq!(parse(&icmp), Err(Malformed::TruncatedTransport));

        assert_eq!(Malformed::BadChecksum.as_str(), "bad-checksum");
        assert_eq!(Malformed::Truncated.to_string(), "truncated");
    }

    #[test]
    fn non_first_fragment_has_no_ports_and_extra_bytes_are_ignored() {
        let mut b = probe_bytes(Protocol::Udp, 60);
        b[6..8].copy_from_slice(&0x0010u16.to_be_bytes()); // offset 16 * 8 bytes
        fix_checksum(&mut b);
        let m = parse(&b).unwrap();
        assert_eq!((m.key.src_port, m.key.dst_port), (0, 0));
        // Even a non-first fragment with a short "transport" part parses.
        b[2..4].copy_from_slice(&22u16.to_be_bytes());
        fix_checksum(&mut b);
        assert_eq!(parse(&b).unwrap().total_len, 22);
        // A first fragment (more-fragments flag, offset 0) keeps its ports.
        let mut b = probe_bytes(Protocol::Udp, 60);
        b[6..8].copy_from_slice(&0x2000u16.to_be_bytes());
        fix_checksum(&mut b);
        assert_eq!(parse(&b).unwrap().key.dst_port, 443);
        // Trailing bytes past the total length (e.g. link padding) are ignored.
        let mut long = probe_bytes(Protocol::Tcp, 40);
        long.extend_from_slice(&[0xff; 6]);
        assert_eq!(parse(&long).unwrap().total_len, 40);
    }

    #[test]
    fn options_and_other_protocols() {
        // A 24-byte header (one NOP-padded option word) carrying protocol 50 (ESP).
        let mut b = vec![0u8; 32];
        b[0] = 0x46;
        b[2..4].copy_from_slice(&32u16.to_be_bytes());
        b[8] = 9;
        b[9] = 50;
        b[12..16].copy_from_slice(&[203, 0, 113, 1]);
        b[16..20].copy_from_slice(&[10, 0, 0, 4]);
        b[20..24].copy_from_slice(&[1, 1, 1, 0]);
        fix_checksum(&mut b);
        let m = parse(&b).unwrap();
        assert_eq!(m.header_len, 24);
        assert_eq!(m.key.protocol, 50);
        assert_eq!((m.key.src_port, m.key.dst_port, m.icmp_type), (0, 0, None));
        assert!(Ipv4Header::from_slice(&b).is_ok());
    }

    #[test]
    fn forward_hop_decrements_until_expired() {
        let mut b = probe_bytes(Protocol::Udp, 28);
        b[8] = 3;
        fix_checksum(&mut b);
        assert_eq!(forward_hop(&mut b), Ok(2));
        assert_eq!(parse(&b).unwrap().ttl, 2);
        assert_eq!(forward_hop(&mut b), Ok(1));
        assert!(parse(&b).is_ok());
        let before = b.clone();
        assert_eq!(forward_hop(&mut b), Err(TtlExpired));
        assert_eq!(b, before, "left unchanged");
        b[8] = 0;
        assert_eq!(forward_hop(&mut b), Err(TtlExpired));
        assert_eq!(forward_hop(&mut [0u8; 10]), Err(TtlExpired));
    }

    #[test]
    fn flow_key_reverse() {
        let k = FlowKey {
            src: 1,
            dst: 2,
            protocol: PROTO_UDP,
            src_port: 3,
            dst_port: 4,
        };
        let r = k.reverse();
        assert_eq!((r.src, r.dst, r.src_port, r.dst_port), (2, 1, 4, 3));
        assert_eq!(r.reverse(), k);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Stamping an identification keeps the header checksum valid (equal to a full
        /// recomputation).
        /// Address translation keeps every checksum valid (equal to etherparse's full
        /// recomputation) and the packet parses to the target key.
        #[test]
        fn translate_keeps_checksums_valid(
            proto in prop_oneof![Just(Protocol::Tcp), Just(Protocol::Udp), Just(Protocol::Icmp)],
            src in any::<u32>(), dst in any::<u32>(), sport in any::<u16>(), dport in any::<u16>(),
            len in 84u16..200,
        ) {
            let mut buf = [0u8; 200];
            let sp = spec(proto, len);
            build_probe(&mut buf, &sp).unwrap();
            let from = parse(&buf).unwrap().key;
            let to = if proto == Protocol::Icmp {
                FlowKey { src, dst, ..from }
            } else {
                FlowKey { src, dst, src_port: sport, dst_port: dport, ..from }
            };
            translate(&mut buf, &from, &to);
            let meta = parse(&buf).unwrap();
            prop_assert_eq!(meta.key, to);
            etherparse_checks(&buf[..usize::from(len)]);
        }

        #[test]
        fn set_identification_keeps_the_checksum_valid(id in any::<u16>(), first in any::<u16>()) {
            let mut buf = [0u8; 64];
            let mut sp = spec(Protocol::Udp, 64);
            sp.identification = first;
            build_probe(&mut buf, &sp).unwrap();
            set_identification(&mut buf, id);
            let (header, _) = Ipv4Header::from_slice(&buf).unwrap();
            prop_assert_eq!(header.identification, id);
            prop_assert_eq!(header.header_checksum, header.calc_header_checksum());
            prop_assert!(parse(&buf).is_ok());
        }


        #[test]
        fn forward_hop_equals_full_recomputation(
            words in proptest::array::uniform20(any::<u8>()),
            options in proptest::collection::vec(any::<u8>(), 0..=10).prop_map(|v| v.len() * 4),
            ttl in 2u8..=255,
        ) {
            let mut h = vec![0u8; 20 + options];
            h[..20].copy_from_slice(&words);
            for (i, x) in h.iter_mut().enumerate().skip(20) {
                *x = (i as u8).wrapping_mul(37);
            }
            h[0] = 0x40 | ((20 + options) / 4) as u8;
            h[8] = ttl;
            // etherparse's header type has no field for the reserved flag bit: keep it clear.
            h[6] &= 0x7f;
            fix_checksum(&mut h);
            let before = Ipv4Header::from_slice(&h).unwrap().0;
            prop_assert_eq!(before.header_checksum, before.calc_header_checksum());
            prop_assert_eq!(forward_hop(&mut h), Ok(ttl - 1));
            let after = Ipv4Header::from_slice(&h).unwrap().0;
            prop_assert_eq!(after.time_to_live, ttl - 1);
            prop_assert_eq!(after.header_checksum, after.calc_header_checksum());
            prop_assert_eq!(fold(sum16(&h, 0)), 0xffff);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = parse(&bytes);
            let mut b = bytes.clone();
            let _ = forward_hop(&mut b);
        }

        #[test]
        fn parse_never_panics_on_damaged_packets(
            proto in prop_oneof![Just(Protocol::Tcp), Just(Protocol::Udp), Just(Protocol::Icmp)],
            edits in proptest::collection::vec((0usize..60, any::<u8>()), 1..4),
            cut in 0usize..=60,
            fix in any::<bool>(),
        ) {
            let mut b = probe_bytes(proto, 60);
            for (i, v) in edits {
                b[i] = v;
            }
            // etherparse's header type has no field for the reserved flag bit: keep it clear.
            b[6] &= 0x7f;
            if fix && b[0] & 0x0f >= 5 {
                let hl = usize::from(b[0] & 0x0f) * 4;
                fix_checksum(&mut b[..hl.min(60)]);
            }
            b.truncate(cut);
            // Whatever parse accepts, etherparse accepts too and reads the same fields.
            if let Ok(m) = parse(&b) {
                let (h, _) = Ipv4Header::from_slice(&b).unwrap();
                prop_assert_eq!(h.header_checksum, h.calc_header_checksum());
                prop_assert_eq!(m.ttl, h.time_to_live);
                prop_assert_eq!(m.key.src, u32::from_be_bytes(h.source));
                prop_assert_eq!(m.key.protocol, h.protocol.0);
            }
        }
    }

    /// Zero bytes for payloads: packets are built without allocating.
    static ZEROS: [u8; 65535] = [0; 65535];

    /// The reference [`super::write_packet`] is held to: the packet etherparse's `PacketBuilder`
    /// writes (headers, lengths and all checksums computed by etherparse).
    pub(super) fn write_packet_etherparse(
        buf: &mut [u8],
        packet: &Headers,
    ) -> Result<usize, BuildError> {
        use etherparse::{IpHeaders, IpNumber, Ipv4Header, PacketBuilder};
        let (total_len, transport) = (packet.total_len, packet.transport);
        let min = IPV4_HEADER_LEN + transport.header_len();
        if usize::from(total_len) < min {
            return Err(BuildError::TotalLenTooSmall { min: min as u16 });
        }
        let total = usize::from(total_len);
        if buf.len() < total {
            return Err(BuildError::BufferTooSmall { needed: total_len });
        }
        let payload = &ZEROS[..total - min];
        let mut ip = Ipv4Header::new(
            (total - IPV4_HEADER_LEN) as u16,
            packet.ttl,
            IpNumber(transport.protocol()),
            packet.src.to_be_bytes(),
            packet.dst.to_be_bytes(),
        )
        .map_err(|_| BuildError::BufferTooSmall { needed: total_len })?;
        ip.identification = packet.identification;
        let builder = PacketBuilder::ip(IpHeaders::Ipv4(ip, Default::default()));
        let written = match transport {
            Transport::Tcp {
                sport,
                dport,
                seq,
                ack,
            } => {
                let tcp = builder.tcp(sport, dport, seq, TCP_WINDOW).syn();
                match ack {
                    Some(ack) => tcp.ack(ack).write_to_slice(buf, payload),
                    None => tcp.write_to_slice(buf, payload),
                }
            }
            Transport::Udp { sport, dport } => {
                builder.udp(sport, dport).write_to_slice(buf, payload)
            }
            Transport::IcmpEcho { icmp_type, id, seq } => {
                if icmp_type == ICMP_ECHO_REPLY {
                    builder
                        .icmpv4_echo_reply(id, seq)
                        .write_to_slice(buf, payload)
                } else {
                    builder
                        .icmpv4_echo_request(id, seq)
                        .write_to_slice(buf, payload)
                }
            }
        };
        written.map_err(|_| BuildError::BufferTooSmall { needed: total_len })
    }
}
