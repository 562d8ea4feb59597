//! IPv4 packet bytes: flow keys, zero-copy parsing, probe builders and the per-hop TTL update.

/// The 5-tuple an NSG and a flow table see. Addresses are host-order `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// Whether the protocol carries ports (TCP or UDP).
    #[inline]
    pub fn has_ports(&self) -> bool {
        self.protocol == 6 || self.protocol == 17
    }
}
