//! The TCP connection and ICMP echo numbering a flow's packets carry.
//!
//! What it is for: giving each packet of a traffic flow the headers a real connection would
//! show, so that a capture reads as one. A TCP flow's packets are its SYN until the connection
//! is established (its source has received an answer; for a flow whose answers are not
//! modeled, one of its packets was delivered): a SYN that gets no answer is sent again, as a
//! real client retransmits it. The server answers a SYN with the SYN-ACK. After that every
//! segment is an ACK whose sequence number advances by the payload of the segments before it
//! and whose acknowledgment number is the end of what the other side has received so far; the
//! last packet of a flow carries FIN, and the answer to it FIN too. An ICMP echo flow numbers
//! its requests 1, 2, 3, ... and answers echo them.
//!
//! The handshake segments are the flow's own packets, not extra ones: every packet keeps the
//! flow's size (a SYN carries the same payload as the segments after it, as data on a SYN may
//! in TCP), so the counts and bytes of the report do not change. A receiver acknowledges the
//! end of the furthest segment it has received: without loss and reordering that is TCP's
//! cumulative acknowledgment; after a loss (the replay never retransmits) it acknowledges past
//! the gap, and a capture shows the lost segment as "not captured".
//!
//! What it is not: a TCP implementation. Windows, retransmission of data, timers and options
//! are not modeled; the engine's rates decide when packets leave, never the connection.
//! Nothing here decides a packet's fate. The data plane reads one TCP flag: a firewall opens a
//! session for a SYN only. Every packet used to be a SYN; now the packets after the SYN are
//! sent only once a packet of the flow went the whole way (so through any firewall on it,
//! which opened the session they find), and decisions are the ones they were. A session that
//! ends while a connection goes on (idle expiry, or a firewall a timed change puts on the way)
//! now drops its later segments as `firewall-no-session`, as a stateful firewall does.

use vnetsim_dataplane::wire::{TCP_ACK, TCP_FIN, TCP_SYN};

/// What each side of a flow with replies has received: the end of the furthest segment, as an
/// offset from the sender's initial sequence number (0: nothing yet); and how many data
/// segments (not SYN-ACKs) the server sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Received {
    /// By the flow's destination (the server), of the source's sequence space.
    pub(super) by_server: u64,
    /// By the flow's source (the client), of the server's sequence space.
    pub(super) by_client: u64,
    /// Data segments the server sent.
    pub(super) server_data: u64,
}

/// Where the `k`-th segment (from 1) of a side sending `payload` bytes per segment starts in
/// its sequence space (offset from the initial sequence number): the first is the SYN (or
/// SYN-ACK), which takes one more.
#[inline]
pub(super) fn segment_start(k: u64, payload: u64) -> u64 {
    if k <= 1 { 0 } else { 1 + (k - 1) * payload }
}

/// The flags of a data segment of a flow's source, once its connection is established (before,
/// every packet is the SYN); `last` when no packet follows.
#[inline]
pub(super) fn client_flags(last: bool) -> u8 {
    if last { TCP_ACK | TCP_FIN } else { TCP_ACK }
}

/// The flags of the server's answer to a segment with flags `request`: SYN-ACK to a SYN, FIN
/// to a FIN, else ACK.
#[inline]
pub(super) fn server_flags(request: u8) -> u8 {
    if request & TCP_SYN != 0 {
        TCP_SYN | TCP_ACK
    } else {
        TCP_ACK | (request & TCP_FIN)
    }
}

/// The server's initial sequence number, derived from the client's.
#[inline]
pub(super) fn server_isn(client_isn: u32) -> u32 {
    client_isn.rotate_left(16) ^ 0x5a5a_5a5a
}

/// The 64-bit offset of sequence number `seq` from `isn`, taken as the one nearest to `near`
/// (serial number arithmetic: a sequence space wraps every 4 GiB).
#[inline]
pub(super) fn offset_near(seq: u32, isn: u32, near: u64) -> u64 {
    let off = seq.wrapping_sub(isn);
    let delta = off.wrapping_sub(near as u32) as i32;
    near.saturating_add_signed(i64::from(delta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_each_other() {
        // SYN with 460 bytes takes 461; then 460 each.
        assert_eq!(segment_start(1, 460), 0);
        assert_eq!(segment_start(2, 460), 461);
        assert_eq!(segment_start(3, 460), 921);
        assert_eq!(segment_start(2, 0), 1, "a bare SYN takes one");
        assert_eq!(client_flags(false), TCP_ACK);
        assert_eq!(client_flags(true), TCP_ACK | TCP_FIN);
        assert_eq!(server_flags(TCP_SYN), TCP_SYN | TCP_ACK);
        assert_eq!(server_flags(TCP_ACK), TCP_ACK);
        assert_eq!(server_flags(TCP_ACK | TCP_FIN), TCP_ACK | TCP_FIN);
        assert_ne!(server_isn(7), 7);
    }

    #[test]
    fn offsets_unwrap_near_the_last_one() {
        assert_eq!(offset_near(1_000, 0, 0), 1_000);
        assert_eq!(offset_near(100, u32::MAX - 99, 0), 200);
        let near = 5u64 << 32 | 10;
        assert_eq!(offset_near(20, 0, near), (5u64 << 32) | 20);
        assert_eq!(offset_near(u32::MAX, 0, near), (5u64 << 32) - 1);
        assert_eq!(offset_near(u32::MAX, 0, 0), 0, "never below zero");
    }
}
