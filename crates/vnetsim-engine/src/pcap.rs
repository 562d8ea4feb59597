//! Captures of simulated packets: pcapng with one interface per hop, or classic pcap.
//!
//! What it is for: writing the IPv4 packets a replay sends into files that Wireshark and
//! tshark open. Two formats ([`PcapFormat`]):
//!
//! - **pcapng** (the default of `vnetsim run --pcap`, [`PcapNgSink`]): one interface per place
//!   and side a packet passes (`web1-nic out`, `nva1-nic in`, `hub-gw out`, named by
//!   [`HopNames`]), declared when its first packet comes, so a packet through an appliance shows
//!   once on each interface it passes and never twice on one. Dropped packets go to one more
//!   interface, `dropped`, each with a comment naming the drop reason, the rule or cause that
//!   decided it, and where the packet was last seen. Nanosecond timestamps (`if_tsresol` 9),
//!   little-endian. Each packet is an Ethernet II frame (link type `LINKTYPE_ETHERNET`, 1;
//!   ethertype IPv4, the IPv4 bytes unchanged after the 14-byte header) with the addresses a
//!   capture in the VM would show ([`Ethernet`]): its NIC's MAC ([`nic_mac`], in Azure's
//!   `00:0d:3a` OUI) and Azure's virtual gateway MAC ([`AZURE_GATEWAY_MAC`]). The MACs are
//!   what lets Wireshark 4.2 and later tell a packet's hops apart in one reading of the whole
//!   file (its conversation deinterlacing key "Interface + MAC").
//! - **pcap** (classic, [`PcapSink`]): every packet at every hop in one stream, as before;
//!   no interfaces and no drops (the format has no place for either); raw IPv4
//!   (`LINKTYPE_IPV4`, 228), no Ethernet header.
//!
//! A packet's timestamp is its simulated time in nanoseconds since the start of the replay, so
//! a capture reads as starting at the Unix epoch. The output depends only on the packets and
//! times given, never on the clock or the machine. [`CaptureFilter`] keeps the packets of
//! named flows and those seen on named VMs' or NICs' interfaces.
//!
//! [`PcapCapture`] is the [`Capture`] every driver writes a file with: it remembers the first
//! write error, stops writing there and reports it when finished, and stops at its
//! [`CaptureLimit`].
//!
//! What it is not: a capture of real interfaces, or a decision of which points of a packet's
//! way are seen (the driver reports them, see [`crate::journey::Hop`]); neither writer
//! reorders (pcap and pcapng do not require increasing timestamps across interfaces).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::SectionHeaderBlock;
use pcap_file::{DataLink, Endianness, TsResolution};
use vnetsim_scenario::{DropReason, Nanos, NicId, Scenario};

use crate::journey::{Capture, Hop, Place, Seen};

/// The largest packet a capture holds: the largest IPv4 packet, also a classic file's snap
/// length (a pcapng interface's is [`ETHERNET_HEADER_BYTES`] more, for the frame's header).
pub const MAX_PACKET_BYTES: usize = 65535;

/// Bytes of the Ethernet II header before each packet of a pcapng capture.
pub const ETHERNET_HEADER_BYTES: usize = 14;

/// The ethertype of IPv4.
const ETHERTYPE_IPV4: u16 = 0x0800;

/// A MAC address, as written in a frame.
pub type Mac = [u8; 6];

/// The MAC of Azure's virtual network gateway: on an Azure VM every ARP request for an address
/// off the VM (its subnet's default gateway, another VM of its subnet) is answered with this
/// one MAC, so every frame a VM sends goes to it and every frame it receives comes from it (as
/// observed in captures and ARP tables on Azure VMs).
pub const AZURE_GATEWAY_MAC: Mac = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc];

/// The OUI of the MACs Azure gives NICs (`00-0D-3A-xx-xx-xx`, Microsoft's).
pub const AZURE_NIC_OUI: [u8; 3] = [0x00, 0x0d, 0x3a];

/// The MAC of `nic` in a capture: Azure's NIC OUI, then the NIC's position in the scenario
/// counting from 1, in 24 bits, big-endian (the first NIC is `00:0d:3a:00:00:01`, the 300th
/// `00:0d:3a:00:01:2c`). The same scenario gives the same MACs; past 16,777,215 NICs they
/// repeat. Azure draws its NICs' MACs otherwise; these are only stable stand-ins.
pub fn nic_mac(nic: NicId) -> Mac {
    let n = (nic.index() as u32).wrapping_add(1).to_be_bytes();
    let [a, b, c] = AZURE_NIC_OUI;
    [a, b, c, n[1], n[2], n[3]]
}

/// The Ethernet addresses of a frame in a pcapng capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ethernet {
    /// Source MAC.
    pub src: Mac,
    /// Destination MAC.
    pub dst: Mac,
}

impl Ethernet {
    /// The addresses of a packet seen at `hop`: leaving a NIC it goes from the NIC's MAC to
    /// the gateway MAC, reaching a NIC from the gateway MAC to the NIC's. A place that is not
    /// a NIC (a gateway, a firewall, a site, the Internet, ...) stands for Azure's fabric: the
    /// gateway MAC both ways.
    pub fn at(hop: Hop) -> Ethernet {
        match (hop.place, hop.side) {
            (Place::Nic(nic), crate::journey::Side::Out) => Ethernet {
                src: nic_mac(nic),
                dst: AZURE_GATEWAY_MAC,
            },
            (Place::Nic(nic), crate::journey::Side::In) => Ethernet {
                src: AZURE_GATEWAY_MAC,
                dst: nic_mac(nic),
            },
            _ => Ethernet {
                src: AZURE_GATEWAY_MAC,
                dst: AZURE_GATEWAY_MAC,
            },
        }
    }

    /// The addresses of a packet dropped after it was last seen at `last`: from the MAC of
    /// that NIC (the gateway MAC when it is not a NIC) to the gateway MAC.
    pub fn dropped(last: Hop) -> Ethernet {
        Ethernet {
            src: last.nic().map_or(AZURE_GATEWAY_MAC, nic_mac),
            dst: AZURE_GATEWAY_MAC,
        }
    }

    /// The 14-byte Ethernet II header: destination, source, ethertype IPv4.
    pub fn header(&self) -> [u8; ETHERNET_HEADER_BYTES] {
        let mut h = [0u8; ETHERNET_HEADER_BYTES];
        h[..6].copy_from_slice(&self.dst);
        h[6..12].copy_from_slice(&self.src);
        h[12..].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        h
    }
}

/// The latest timestamp a classic pcap record can carry: its seconds field is 32 bits.
pub const MAX_TIMESTAMP_NS: u64 = (u32::MAX as u64 + 1) * 1_000_000_000 - 1;

/// Why a capture could not be written.
#[derive(Debug)]
pub enum PcapError {
    /// Writing the file header failed.
    Header(pcap_file::PcapError),
    /// Writing a pcapng interface description failed.
    Interface {
        /// The interface's name.
        name: String,
        /// What the pcap library reported.
        source: pcap_file::PcapError,
    },
    /// Writing a packet record failed.
    Packet {
        /// Index of the packet in the capture (0 for the first).
        index: u64,
        /// Its simulated time in nanoseconds.
        at_ns: u64,
        /// What the pcap library reported.
        source: pcap_file::PcapError,
    },
    /// The packet is longer than [`MAX_PACKET_BYTES`].
    PacketTooLong {
        /// Index the packet would have had in the capture.
        index: u64,
        /// Its length in bytes.
        len: usize,
    },
    /// The time is past [`MAX_TIMESTAMP_NS`], beyond what a pcap record holds.
    TimestampOutOfRange {
        /// Index the packet would have had in the capture.
        index: u64,
        /// The time given, in nanoseconds.
        at_ns: u64,
    },
    /// Flushing the writer at the end failed.
    Flush(std::io::Error),
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::Header(e) => write!(f, "writing the pcap file header failed: {e}"),
            PcapError::Interface { name, source } => {
                write!(f, "writing the pcapng interface `{name}` failed: {source}")
            }
            PcapError::Packet {
                index,
                at_ns,
                source,
            } => write!(
                f,
                "writing pcap packet {index} (at {at_ns} ns) failed: {source}"
            ),
            PcapError::PacketTooLong { index, len } => write!(
                f,
                "pcap packet {index} is {len} bytes, more than the {MAX_PACKET_BYTES} a capture holds"
            ),
            PcapError::TimestampOutOfRange { index, at_ns } => write!(
                f,
                "pcap packet {index} is at {at_ns} ns, later than a pcap timestamp can say ({MAX_TIMESTAMP_NS} ns)"
            ),
            PcapError::Flush(e) => write!(f, "flushing the pcap file failed: {e}"),
        }
    }
}

impl std::error::Error for PcapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PcapError::Header(e)
            | PcapError::Packet { source: e, .. }
            | PcapError::Interface { source: e, .. } => Some(e),
            PcapError::Flush(e) => Some(e),
            PcapError::PacketTooLong { .. } | PcapError::TimestampOutOfRange { .. } => None,
        }
    }
}

/// A pcap file being written: nanosecond timestamps, raw IPv4 records.
///
/// Pass a buffered writer (`BufWriter`) for files: each record is written as it comes.
pub struct PcapSink<W: Write> {
    writer: PcapWriter<W>,
    packets: u64,
}

impl<W: Write> fmt::Debug for PcapSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapSink")
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl<W: Write> PcapSink<W> {
    /// Starts a capture on `writer` by writing the pcap file header.
    pub fn new(writer: W) -> Result<Self, PcapError> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: MAX_PACKET_BYTES as u32,
            datalink: DataLink::IPV4,
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
        };
        let writer = PcapWriter::with_header(writer, header).map_err(PcapError::Header)?;
        Ok(Self { writer, packets: 0 })
    }

    /// Writes one IPv4 packet seen at simulated time `at_ns` (nanoseconds). The bytes are
    /// written as given, whole; a packet longer than [`MAX_PACKET_BYTES`] or a time past
    /// [`MAX_TIMESTAMP_NS`] is refused and nothing is written.
    pub fn write(&mut self, at_ns: u64, packet: &[u8]) -> Result<(), PcapError> {
        let index = self.packets;
        if packet.len() > MAX_PACKET_BYTES {
            return Err(PcapError::PacketTooLong {
                index,
                len: packet.len(),
            });
        }
        if at_ns > MAX_TIMESTAMP_NS {
            return Err(PcapError::TimestampOutOfRange { index, at_ns });
        }
        // Fits: checked against MAX_PACKET_BYTES above.
        let len = packet.len() as u32;
        let record = PcapPacket::new(Duration::from_nanos(at_ns), len, packet);
        self.writer
            .write_packet(&record)
            .map_err(|source| PcapError::Packet {
                index,
                at_ns,
                source,
            })?;
        self.packets += 1;
        Ok(())
    }

    /// How many packets were written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Ends the capture: flushes the writer and gives it back.
    pub fn finish(self) -> Result<W, PcapError> {
        let mut writer = self.writer.into_writer();
        writer.flush().map_err(PcapError::Flush)?;
        Ok(writer)
    }
}

/// What a pcapng interface shows: the packets at one hop, or the dropped ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interface {
    /// Packets at this place and side.
    Hop(Hop),
    /// Dropped packets, each with a comment saying why.
    Dropped,
}

/// The name of the interface of dropped packets.
pub const DROPPED_INTERFACE: &str = "dropped";

/// Bytes of `len` rounded up to 32 bits, as pcapng pads every field.
fn padded(len: usize) -> u64 {
    len.div_ceil(4) as u64 * 4
}

/// Bytes of the pcapng section header block this writer starts with (no options).
const SECTION_HEADER_BYTES: u64 = 28;

/// Bytes of an interface description block named `name` (name, timestamp resolution, end).
pub(crate) fn interface_block_bytes(name: &str) -> u64 {
    12 + 8 + (4 + padded(name.len())) + (4 + 4) + 4
}

/// Bytes of an enhanced packet block of a `len`-byte IPv4 packet (in its Ethernet frame) with
/// an optional comment.
fn packet_block_bytes(len: usize, comment: Option<&str>) -> u64 {
    12 + 20 + padded(ETHERNET_HEADER_BYTES + len) + comment.map_or(0, |c| 4 + padded(c.len()) + 4)
}

/// A pcapng file being written: one section, interfaces declared as they are first used,
/// nanosecond timestamps, each IPv4 packet in an Ethernet II frame.
///
/// Pass a buffered writer (`BufWriter`) for files: each block is written as it comes.
pub struct PcapNgSink<W: Write> {
    writer: PcapNgWriter<W>,
    interfaces: InterfaceIds,
    packets: u64,
    /// The frame being written (kept to reuse its allocation).
    frame: Vec<u8>,
}

/// The id of each interface declared so far (ids in the order they were declared): a NIC's
/// two sides in a table indexed by the NIC (most records), the other places in a map.
#[derive(Debug, Default)]
struct InterfaceIds {
    /// `2 * nic + side` -> id + 1 (0: not declared).
    nics: Vec<u32>,
    others: HashMap<Interface, u32>,
    count: u32,
}

impl InterfaceIds {
    fn slot(interface: Interface) -> Option<usize> {
        match interface {
            Interface::Hop(Hop {
                place: Place::Nic(nic),
                side,
            }) => Some(2 * nic.index() + usize::from(side == crate::journey::Side::In)),
            _ => None,
        }
    }

    #[inline]
    fn get(&self, interface: Interface) -> Option<u32> {
        match Self::slot(interface) {
            Some(i) => self.nics.get(i).and_then(|&id| id.checked_sub(1)),
            None => self.others.get(&interface).copied(),
        }
    }

    fn insert(&mut self, interface: Interface) -> u32 {
        let id = self.count;
        self.count += 1;
        match Self::slot(interface) {
            Some(i) => {
                if self.nics.len() <= i {
                    self.nics.resize(i + 1, 0);
                }
                self.nics[i] = id + 1;
            }
            None => {
                self.others.insert(interface, id);
            }
        }
        id
    }
}

impl<W: Write> fmt::Debug for PcapNgSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcapNgSink")
            .field("interfaces", &self.interfaces.count)
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

impl<W: Write> PcapNgSink<W> {
    /// Starts a capture on `writer` by writing the section header (little-endian).
    pub fn new(writer: W) -> Result<Self, PcapError> {
        let section = SectionHeaderBlock {
            endianness: Endianness::Little,
            ..Default::default()
        };
        let writer =
            PcapNgWriter::with_section_header(writer, section).map_err(PcapError::Header)?;
        Ok(Self {
            writer,
            interfaces: InterfaceIds::default(),
            packets: 0,
            frame: Vec::new(),
        })
    }

    /// The id of `interface`, if it was declared.
    pub fn interface_id(&self, interface: Interface) -> Option<u32> {
        self.interfaces.get(interface)
    }

    /// Declares `interface` under `name` (its `if_name`) and gives its id; an interface
    /// declared before keeps its id and is not written again.
    pub fn declare(&mut self, interface: Interface, name: &str) -> Result<u32, PcapError> {
        if let Some(id) = self.interfaces.get(interface) {
            return Ok(id);
        }
        let block = InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: (ETHERNET_HEADER_BYTES + MAX_PACKET_BYTES) as u32,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Borrowed(name)),
                InterfaceDescriptionOption::IfTsResol(9),
            ],
        };
        self.writer
            .write_pcapng_block(block)
            .map_err(|source| PcapError::Interface {
                name: name.to_string(),
                source,
            })?;
        Ok(self.interfaces.insert(interface))
    }

    /// Writes one IPv4 packet seen at simulated time `at_ns` (nanoseconds) on interface `id`
    /// (from [`PcapNgSink::declare`]) in an Ethernet II frame with the addresses `ethernet`,
    /// with an optional comment. A packet longer than [`MAX_PACKET_BYTES`] is refused and
    /// nothing is written.
    pub fn write(
        &mut self,
        id: u32,
        at_ns: u64,
        ethernet: Ethernet,
        packet: &[u8],
        comment: Option<&str>,
    ) -> Result<(), PcapError> {
        let index = self.packets;
        if packet.len() > MAX_PACKET_BYTES {
            return Err(PcapError::PacketTooLong {
                index,
                len: packet.len(),
            });
        }
        self.frame.clear();
        self.frame.extend_from_slice(&ethernet.header());
        self.frame.extend_from_slice(packet);
        let block = EnhancedPacketBlock {
            interface_id: id,
            timestamp: Duration::from_nanos(at_ns),
            // Fits: checked against MAX_PACKET_BYTES above.
            original_len: self.frame.len() as u32,
            data: Cow::Borrowed(&self.frame),
            options: comment
                .map(|c| vec![EnhancedPacketOption::Comment(Cow::Borrowed(c))])
                .unwrap_or_default(),
        };
        self.writer
            .write_pcapng_block(block)
            .map_err(|source| PcapError::Packet {
                index,
                at_ns,
                source,
            })?;
        self.packets += 1;
        Ok(())
    }

    /// How many packets were written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Ends the capture: flushes the writer and gives it back.
    pub fn finish(self) -> Result<W, PcapError> {
        let mut writer = self.writer.into_inner();
        writer.flush().map_err(PcapError::Flush)?;
        Ok(writer)
    }
}

/// The file format of a capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PcapFormat {
    /// pcapng: one interface per hop, drops with comments.
    #[default]
    PcapNg,
    /// Classic pcap: one stream, no drops.
    Pcap,
}

impl std::str::FromStr for PcapFormat {
    type Err = String;

    /// `pcapng` or `pcap`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "pcapng" => Ok(PcapFormat::PcapNg),
            "pcap" => Ok(PcapFormat::Pcap),
            other => Err(format!("`{other}`: expected pcapng or pcap")),
        }
    }
}

impl fmt::Display for PcapFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PcapFormat::PcapNg => "pcapng",
            PcapFormat::Pcap => "pcap",
        })
    }
}

/// The interface names of a scenario's hops ([`Hop::name`]), known without the scenario.
#[derive(Clone, Debug, Default)]
pub struct HopNames {
    places: HashMap<Place, String>,
}

impl HopNames {
    /// The names of every place of `scenario`.
    pub fn new(scenario: &Scenario) -> Self {
        use vnetsim_scenario::{FirewallId, HostId, PrivateEndpointId, SiteId, VnetId};
        let mut places = vec![Place::Internet, Place::Platform];
        places.extend((0..scenario.nics.len()).map(|i| Place::Nic(NicId(i as u32))));
        places.extend(
            (0..scenario.vnets.len())
                .filter(|&i| {
                    scenario.vnets[i].gateway.is_some() || scenario.vnets[i].expressroute.is_some()
                })
                .map(|i| Place::Gateway(VnetId(i as u32))),
        );
        places.extend((0..scenario.firewalls.len()).map(|i| Place::Firewall(FirewallId(i as u32))));
        places.extend((0..scenario.sites.len()).map(|i| Place::Site(SiteId(i as u32))));
        places.extend((0..scenario.hosts.len()).map(|i| Place::Host(HostId(i as u32))));
        places.extend(
            (0..scenario.private_endpoints.len())
                .map(|i| Place::PrivateEndpoint(PrivateEndpointId(i as u32))),
        );
        let places = places
            .into_iter()
            .map(|place| {
                let hop = Hop {
                    place,
                    side: crate::journey::Side::Out,
                };
                (place, hop.place_name(scenario))
            })
            .collect();
        HopNames { places }
    }

    /// The interface name of `interface` (`web1-nic out`, `dropped`).
    pub fn name(&self, interface: Interface) -> String {
        match interface {
            Interface::Dropped => DROPPED_INTERFACE.to_string(),
            Interface::Hop(hop) => {
                let side = match hop.side {
                    crate::journey::Side::Out => "out",
                    crate::journey::Side::In => "in",
                };
                match self.places.get(&hop.place) {
                    Some(place) => format!("{place} {side}"),
                    // A place the scenario did not have when the names were taken.
                    None => format!("{:?} {side}", hop.place),
                }
            }
        }
    }
}

/// Which packets a capture keeps: all of them, or those of the named flows (every hop,
/// replies included) and those seen on the named NICs (a VM stands for its NICs) — the union.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureFilter {
    /// Flows kept, by index in the scenario's traffic (empty with `nics`: keep everything).
    flows: Vec<u32>,
    /// NICs whose interfaces are kept.
    nics: Vec<NicId>,
}

impl CaptureFilter {
    /// Keeps every packet.
    pub fn all() -> Self {
        CaptureFilter::default()
    }

    /// Whether it keeps every packet.
    pub fn is_all(&self) -> bool {
        self.flows.is_empty() && self.nics.is_empty()
    }

    /// The filter of `names` (each a flow, VM or NIC name of `scenario`; a comma-separated
    /// list counts as its names). An unknown name is an error that suggests the nearest name.
    pub fn parse<S: AsRef<str>>(scenario: &Scenario, names: &[S]) -> Result<Self, String> {
        let mut filter = CaptureFilter::all();
        for name in names
            .iter()
            .flat_map(|n| n.as_ref().split(','))
            .map(str::trim)
        {
            if name.is_empty() {
                return Err("an empty name: expected flow, VM or NIC names".to_string());
            }
            let mut found = false;
            if let Some(i) = scenario.traffic.iter().position(|f| *f.name == *name) {
                filter.flows.push(i as u32);
                found = true;
            }
            if let Some(vm) = scenario.vm_by_name(name) {
                filter.nics.extend(&scenario.vms[vm.index()].nics);
                found = true;
            }
            if let Some(nic) = scenario.nic_by_name(name) {
                filter.nics.push(nic);
                found = true;
            }
            if !found {
                let candidates = scenario
                    .traffic
                    .iter()
                    .map(|f| &*f.name)
                    .chain(scenario.vms.iter().map(|v| &*v.name))
                    .chain(scenario.nics.iter().map(|n| &*n.name));
                let hint = vnetsim_scenario::diag::nearest(name, candidates)
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                return Err(format!("no flow, VM or NIC is named `{name}`{hint}"));
            }
        }
        filter.flows.sort_unstable();
        filter.flows.dedup();
        filter.nics.sort_unstable();
        filter.nics.dedup();
        Ok(filter)
    }

    /// Whether the capture keeps the packet `seen`.
    pub fn keeps(&self, seen: &Seen<'_>) -> bool {
        self.is_all()
            || seen
                .flow
                .is_some_and(|f| self.flows.binary_search(&f).is_ok())
            || seen
                .hop
                .nic()
                .is_some_and(|n| self.nics.binary_search(&n).is_ok())
    }
}

/// The file a [`PcapCapture`] writes.
#[derive(Debug)]
enum Sink<W: Write> {
    Classic(PcapSink<W>),
    Ng {
        /// Boxed: it holds its frame buffer besides the writer.
        sink: Box<PcapNgSink<W>>,
        names: HopNames,
    },
}

/// A [`Capture`] into a pcapng or pcap file that remembers its first write error: from then
/// on it writes nothing, and [`PcapCapture::finish`] reports that error.
#[derive(Debug)]
pub struct PcapCapture<W: Write> {
    sink: Option<Sink<W>>,
    error: Option<PcapError>,
    limit: CaptureLimit,
    filter: CaptureFilter,
    /// Bytes of the file so far (header, interfaces and records).
    file_bytes: u64,
    /// Records left out because the limit was reached.
    cut: u64,
}

/// The pcap file header's size.
const FILE_HEADER_BYTES: u64 = 24;
/// A record header's size.
const RECORD_HEADER_BYTES: u64 = 16;

/// How much a capture may hold; past it, records are counted and left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureLimit {
    /// No limit.
    Unlimited,
    /// At most this many bytes of file.
    Bytes(u64),
    /// At most this many records.
    Packets(u64),
}

impl CaptureLimit {
    /// The default of `vnetsim run --pcap`: 1 GiB.
    pub const DEFAULT: CaptureLimit = CaptureLimit::Bytes(1 << 30);
}

impl std::str::FromStr for CaptureLimit {
    type Err = String;

    /// `none` (or `0`), a size (`500MB`, `1GiB`, `2000000B`; decimal or binary prefixes) or a
    /// number of records (`100000packets`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        if t == "none" || t == "0" {
            return Ok(CaptureLimit::Unlimited);
        }
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(digits);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{text}`: expected a size such as 500MB or 1GiB, a count such as 100000packets, or none"))?;
        let scale: u64 = match unit.trim() {
            "packets" => return Ok(CaptureLimit::Packets(n)),
            "" | "B" => 1,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            other => {
                return Err(format!(
                    "`{text}`: `{other}` is not a unit (B, KB, MB, GB, KiB, MiB, GiB or packets)"
                ));
            }
        };
        n.checked_mul(scale)
            .map(CaptureLimit::Bytes)
            .ok_or_else(|| format!("`{text}` is too large"))
    }
}

impl fmt::Display for CaptureLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureLimit::Unlimited => f.write_str("none"),
            CaptureLimit::Bytes(b) => write!(f, "{b} bytes"),
            CaptureLimit::Packets(p) => write!(f, "{p} packets"),
        }
    }
}

impl PcapCapture<BufWriter<File>> {
    /// Creates the file at `path` and writes the classic pcap header.
    pub fn create(path: &Path) -> Result<Self, String> {
        let file = File::create(path).map_err(|e| e.to_string())?;
        PcapCapture::new(BufWriter::new(file)).map_err(|e| e.to_string())
    }
}

impl<W: Write> PcapCapture<W> {
    /// A classic pcap capture writing to `writer` (the pcap header is written now).
    pub fn new(writer: W) -> Result<Self, PcapError> {
        Ok(PcapCapture {
            sink: Some(Sink::Classic(PcapSink::new(writer)?)),
            error: None,
            limit: CaptureLimit::Unlimited,
            filter: CaptureFilter::all(),
            file_bytes: FILE_HEADER_BYTES,
            cut: 0,
        })
    }

    /// A pcapng capture of `scenario`'s replay writing to `writer`: one interface per hop,
    /// named after the scenario's NICs, gateways, ... (the section header is written now).
    pub fn pcapng(writer: W, scenario: &Scenario) -> Result<Self, PcapError> {
        Ok(PcapCapture {
            sink: Some(Sink::Ng {
                sink: Box::new(PcapNgSink::new(writer)?),
                names: HopNames::new(scenario),
            }),
            error: None,
            limit: CaptureLimit::Unlimited,
            filter: CaptureFilter::all(),
            file_bytes: SECTION_HEADER_BYTES,
            cut: 0,
        })
    }

    /// A capture of `scenario`'s replay in `format` (see [`PcapCapture::new`] and
    /// [`PcapCapture::pcapng`]).
    pub fn with_format(
        writer: W,
        format: PcapFormat,
        scenario: &Scenario,
    ) -> Result<Self, PcapError> {
        match format {
            PcapFormat::PcapNg => Self::pcapng(writer, scenario),
            PcapFormat::Pcap => Self::new(writer),
        }
    }

    /// The same capture, stopping at `limit`: later records are counted in
    /// [`PcapCapture::cut`] and left out, so a capture never grows without bound.
    pub fn with_limit(mut self, limit: CaptureLimit) -> Self {
        self.limit = limit;
        self
    }

    /// The same capture, keeping only what `filter` keeps (packets left out by the filter
    /// are not counted anywhere).
    pub fn with_filter(mut self, filter: CaptureFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Records left out because the limit was reached.
    pub fn cut(&self) -> u64 {
        self.cut
    }

    /// Ends the capture: the first write error if there was one, else flushes the writer and
    /// gives the number of packets written.
    pub fn finish(self) -> Result<u64, PcapError> {
        self.finish_into().map(|(packets, _)| packets)
    }

    /// Like [`PcapCapture::finish`], and gives the writer back (to rename a temporary file
    /// into place, say).
    pub fn finish_into(self) -> Result<(u64, W), PcapError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.sink {
            Some(Sink::Classic(sink)) => {
                let packets = sink.packets();
                sink.finish().map(|w| (packets, w))
            }
            Some(Sink::Ng { sink, .. }) => {
                let packets = sink.packets();
                sink.finish().map(|w| (packets, w))
            }
            None => unreachable!("a capture without a write error still holds its sink"),
        }
    }

    /// Writes `bytes` at `at` on `interface` in a frame with the addresses `ethernet` (pcapng)
    /// or in the stream (pcap; `comment`, the interface and the frame are left out), within
    /// the limit.
    fn record(
        &mut self,
        at: Nanos,
        bytes: &[u8],
        interface: Interface,
        ethernet: Ethernet,
        comment: Option<&str>,
    ) {
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        let mut id = None;
        let (packets, declare, record) = match sink {
            Sink::Classic(s) => (s.packets(), 0, RECORD_HEADER_BYTES + bytes.len() as u64),
            Sink::Ng { sink, names } => {
                id = sink.interface_id(interface);
                (
                    sink.packets(),
                    match id {
                        Some(_) => 0,
                        None => interface_block_bytes(&names.name(interface)),
                    },
                    packet_block_bytes(bytes.len(), comment),
                )
            }
        };
        let full = self.cut > 0
            || match self.limit {
                CaptureLimit::Unlimited => false,
                CaptureLimit::Bytes(max) => self.file_bytes + declare + record > max,
                CaptureLimit::Packets(max) => packets >= max,
            };
        if full {
            self.cut += 1;
            return;
        }
        self.file_bytes += declare + record;
        let written = match sink {
            Sink::Classic(s) => s.write(at, bytes),
            Sink::Ng { sink, names } => {
                let id = match id {
                    Some(id) => Ok(id),
                    None => sink.declare(interface, &names.name(interface)),
                };
                id.and_then(|id| sink.write(id, at, ethernet, bytes, comment))
            }
        };
        if let Err(e) = written {
            self.error = Some(e);
            self.sink = None;
        }
    }
}

impl<W: Write> Capture for PcapCapture<W> {
    fn packet(&mut self, seen: Seen<'_>) {
        if self.filter.keeps(&seen) {
            self.record(
                seen.at,
                seen.bytes,
                Interface::Hop(seen.hop),
                Ethernet::at(seen.hop),
                None,
            );
        }
    }

    fn dropped(&mut self, seen: Seen<'_>, reason: DropReason, detail: &str) {
        let Some(Sink::Ng { names, .. }) = &self.sink else {
            return;
        };
        if !self.filter.keeps(&seen) {
            return;
        }
        let last = names.name(Interface::Hop(seen.hop));
        let comment = if detail.is_empty() {
            format!("dropped ({}); last seen at {last}", reason.as_str())
        } else {
            format!("{detail}; last seen at {last}")
        };
        self.record(
            seen.at,
            seen.bytes,
            Interface::Dropped,
            Ethernet::dropped(seen.hop),
            Some(&comment),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use pcap_file::pcap::PcapReader;
    use vnetsim_dataplane::wire::{PacketSpec, build_probe};
    use vnetsim_scenario::Protocol;

    use super::*;

    #[test]
    fn a_limited_capture_stops_and_counts_what_it_left_out() {
        let packet = probe(Protocol::Udp, 100, 1);
        let mut by_packets = PcapCapture::new(Vec::new())
            .unwrap()
            .with_limit("3packets".parse().unwrap());
        let mut by_bytes = PcapCapture::new(Vec::new())
            .unwrap()
            .with_limit(CaptureLimit::Bytes(24 + 2 * 116 + 50));
        for i in 0..10 {
            by_packets.packet(seen(i, &packet));
            by_bytes.packet(seen(i, &packet));
        }
        assert_eq!(by_packets.cut(), 7);
        assert_eq!(by_bytes.cut(), 8);
        let (n, file) = by_bytes.finish_into().unwrap();
        assert_eq!(n, 2);
        assert_eq!(file.len(), 24 + 2 * 116, "a whole file of two records");
        assert_eq!(by_packets.finish().unwrap(), 3);
    }

    /// A pcapng capture counts its bytes exactly (section header, each interface when first
    /// used, each packet and its comment), so a limit in bytes leaves a whole file within it;
    /// drops are written on the `dropped` interface, and a classic capture leaves them out.
    #[test]
    fn pcapng_bytes_are_counted_exactly_and_drops_have_their_interface() {
        let sc = vnetsim_scenario::load_str(
            "name: t\nvnets:\n  - { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] }\nvms:\n  - { name: a, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.0.0.4 } ] }\n",
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let packet = probe(Protocol::Udp, 101, 1);
        let run = |limit: CaptureLimit| {
            let mut c = PcapCapture::pcapng(Vec::new(), &sc)
                .unwrap()
                .with_limit(limit);
            for i in 0..5 {
                c.packet(seen(i, &packet));
                c.dropped(
                    seen(i, &packet),
                    DropReason::NoRoute,
                    "dropped (no-route): x",
                );
            }
            let tracked = c.file_bytes;
            let cut = c.cut();
            let (n, file) = c.finish_into().unwrap();
            (n, file, tracked, cut)
        };
        let (n, file, tracked, cut) = run(CaptureLimit::Unlimited);
        assert_eq!((n, cut), (10, 0));
        assert_eq!(file.len() as u64, tracked, "every byte counted");
        let half = tracked / 2;
        let (n, file, tracked, cut) = run(CaptureLimit::Bytes(half));
        assert_eq!(file.len() as u64, tracked);
        assert!(
            tracked <= half && n > 0 && cut == 10 - n,
            "{n} {cut} {tracked}"
        );

        let mut reader = pcap_file::pcapng::PcapNgReader::new(&file[..]).unwrap();
        let mut comments = 0;
        while let Some(block) = reader.next_block() {
            if let pcap_file::pcapng::Block::EnhancedPacket(p) = block.unwrap() {
                comments += p.options.len();
            }
        }
        assert!(comments > 0);
        let names: Vec<String> = reader
            .interfaces()
            .iter()
            .map(|i| format!("{:?}", i.options[0]))
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names[0].contains("a-nic out") && names[1].contains("dropped"),
            "{names:?}"
        );

        let mut classic = PcapCapture::new(Vec::new()).unwrap();
        classic.dropped(seen(0, &packet), DropReason::NoRoute, "x");
        assert_eq!(
            classic.finish().unwrap(),
            0,
            "no drops in a classic capture"
        );
    }

    /// Each pcapng record is an Ethernet II frame whose addresses say where the packet is: a
    /// NIC's MAC to the gateway MAC leaving it, the other way reaching it, the last NIC's MAC
    /// (or the gateway's) to the gateway's when dropped; the IPv4 bytes follow unchanged.
    #[test]
    fn pcapng_frames_carry_the_macs_of_their_hop() {
        use crate::journey::Side;
        assert_eq!(nic_mac(NicId(0)), [0x00, 0x0d, 0x3a, 0x00, 0x00, 0x01]);
        assert_eq!(nic_mac(NicId(299)), [0x00, 0x0d, 0x3a, 0x00, 0x01, 0x2c]);
        assert_eq!(
            nic_mac(NicId(0x12_3456)),
            [0x00, 0x0d, 0x3a, 0x12, 0x34, 0x57]
        );
        let sc = vnetsim_scenario::load_str(
            "name: t\nvnets:\n  - { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] }\nvms:\n  - { name: a, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.0.0.4 } ] }\n  - { name: b, size: Standard_D2s_v3, nics: [ { name: b-nic, vnet: v, subnet: s, ip: 10.0.0.5 } ] }\n",
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{}", e.render(false)));
        let packet = probe(Protocol::Udp, 101, 1);
        let at = |place, side| Seen {
            at: 5,
            bytes: &packet,
            hop: Hop { place, side },
            flow: None,
        };
        let mut c = PcapCapture::pcapng(Vec::new(), &sc).unwrap();
        c.packet(at(Place::Nic(NicId(0)), Side::Out));
        c.packet(at(Place::Nic(NicId(1)), Side::In));
        c.packet(at(Place::Internet, Side::In));
        c.dropped(at(Place::Nic(NicId(1)), Side::Out), DropReason::NoRoute, "");
        c.dropped(at(Place::Internet, Side::Out), DropReason::NoRoute, "");
        let tracked = c.file_bytes;
        let (n, file) = c.finish_into().unwrap();
        assert_eq!((n, file.len() as u64), (5, tracked), "every byte counted");

        let (a, b, gw) = (nic_mac(NicId(0)), nic_mac(NicId(1)), AZURE_GATEWAY_MAC);
        let expected = [(a, gw), (gw, b), (gw, gw), (b, gw), (gw, gw)];
        let mut reader = pcap_file::pcapng::PcapNgReader::new(&file[..]).unwrap();
        let mut frames = Vec::new();
        while let Some(block) = reader.next_block() {
            match block.unwrap() {
                pcap_file::pcapng::Block::InterfaceDescription(i) => {
                    assert_eq!(i.linktype, DataLink::ETHERNET);
                    assert_eq!(i.snaplen, 65535 + 14);
                }
                pcap_file::pcapng::Block::EnhancedPacket(p) => {
                    assert_eq!(p.original_len as usize, p.data.len());
                    frames.push(p.data.into_owned());
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(frames.len(), expected.len());
        for (frame, (src, dst)) in frames.iter().zip(expected) {
            assert_eq!(&frame[..6], &dst, "destination first");
            assert_eq!(&frame[6..12], &src);
            assert_eq!(&frame[12..14], &[0x08, 0x00], "ethertype IPv4");
            assert_eq!(&frame[14..], &packet[..], "the IPv4 bytes as they were");
        }
    }

    #[test]
    fn formats_parse() {
        assert_eq!("pcapng".parse(), Ok(PcapFormat::PcapNg));
        assert_eq!("pcap".parse(), Ok(PcapFormat::Pcap));
        assert_eq!(PcapFormat::default(), PcapFormat::PcapNg);
        assert!(
            "ng".parse::<PcapFormat>()
                .unwrap_err()
                .contains("pcapng or pcap")
        );
        assert_eq!(PcapFormat::Pcap.to_string(), "pcap");
    }

    #[test]
    fn capture_limits_parse() {
        assert_eq!("none".parse(), Ok(CaptureLimit::Unlimited));
        assert_eq!("1GiB".parse(), Ok(CaptureLimit::Bytes(1 << 30)));
        assert_eq!("500MB".parse(), Ok(CaptureLimit::Bytes(500_000_000)));
        assert_eq!("10packets".parse(), Ok(CaptureLimit::Packets(10)));
        assert!("5 parsecs".parse::<CaptureLimit>().is_err());
        assert!("-1MB".parse::<CaptureLimit>().is_err());
        assert!("99999999999999GiB".parse::<CaptureLimit>().is_err());
    }

    /// `bytes` seen at `at` leaving the first NIC.
    fn seen(at: Nanos, bytes: &[u8]) -> Seen<'_> {
        Seen {
            at,
            bytes,
            hop: Hop {
                place: Place::Nic(NicId(0)),
                side: crate::journey::Side::Out,
            },
            flow: None,
        }
    }

    fn probe(protocol: Protocol, total_len: u16, identification: u16) -> Vec<u8> {
        let spec = PacketSpec {
            src: Ipv4Addr::new(10, 1, 1, 4),
            dst: Ipv4Addr::new(10, 2, 1, 4),
            protocol,
            src_port: 49152,
            dst_port: 443,
            ttl: 64,
            total_len,
            identification,
        };
        let mut buf = vec![0u8; usize::from(total_len)];
        let n = build_probe(&mut buf, &spec).expect("probe builds");
        buf.truncate(n);
        buf
    }

    #[test]
    fn packets_read_back_with_their_times_and_bytes() {
        let packets = [
            (0, probe(Protocol::Tcp, 60, 1)),
            (1_500, probe(Protocol::Udp, 1400, 2)),
            (4_000_000_123, probe(Protocol::Icmp, 84, 3)),
        ];
        let mut sink = PcapSink::new(Vec::new()).expect("header");
        assert_eq!(sink.packets(), 0);
        for (at, bytes) in &packets {
            sink.write(*at, bytes).expect("packet");
        }
        assert_eq!(sink.packets(), 3);
        let file = sink.finish().expect("finish");

        let mut reader = PcapReader::new(&file[..]).expect("a pcap file");
        let header = reader.header();
        assert_eq!(header.datalink, DataLink::IPV4);
        assert_eq!(header.ts_resolution, TsResolution::NanoSecond);
        assert_eq!(header.snaplen, 65535);
        let mut read = Vec::new();
        while let Some(p) = reader.next_packet() {
            let p = p.expect("a record");
            assert_eq!(p.orig_len as usize, p.data.len());
            read.push((p.timestamp.as_nanos() as u64, p.data.into_owned()));
        }
        assert_eq!(read, packets.to_vec());
        assert_eq!(read[1].1.len(), 1400);
        assert_eq!(read[1].1[9], 17, "UDP protocol byte");
    }

    #[test]
    fn same_packets_same_bytes() {
        let write = || {
            let mut sink = PcapSink::new(Vec::new()).expect("header");
            sink.write(42, &probe(Protocol::Udp, 100, 9))
                .expect("packet");
            sink.finish().expect("finish")
        };
        let a = write();
        assert_eq!(a, write());
        assert_eq!(a.len(), 24 + 16 + 100, "file header, record header, packet");
        assert_eq!(
            &a[..4],
            &[0x4d, 0x3c, 0xb2, 0xa1],
            "nanosecond magic, little-endian"
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_clear_error() {
        let mut sink = PcapSink::new(Vec::new()).expect("header");
        let err = sink.write(0, &vec![0u8; 70_000]).unwrap_err();
        assert!(matches!(err, PcapError::PacketTooLong { len: 70_000, .. }));
        assert!(err.to_string().contains("70000 bytes"), "{err}");
        let err = sink.write(u64::MAX, &[0x45]).unwrap_err();
        assert!(matches!(err, PcapError::TimestampOutOfRange { .. }));
        assert!(err.to_string().contains("later than"), "{err}");
        sink.write(MAX_TIMESTAMP_NS, &probe(Protocol::Icmp, 28, 1))
            .expect("the last representable time");
        assert_eq!(sink.packets(), 1, "refused packets are not counted");
        let file = sink.finish().expect("finish");
        let mut reader = PcapReader::new(&file[..]).expect("a pcap file");
        let p = reader.next_packet().expect("one").expect("valid");
        assert_eq!(p.timestamp.as_nanos() as u64, MAX_TIMESTAMP_NS);
        assert!(reader.next_packet().is_none());
    }

    #[derive(Debug)]
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }

    /// Accepts the header, then fails.
    #[derive(Debug)]
    struct HeaderOnly(usize);
    impl Write for HeaderOnly {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.0 >= 24 {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }

    /// The capture keeps the first error (not a later write's, not the flush's) and reports
    /// it when finished; a capture without errors counts its packets.
    #[test]
    fn a_capture_reports_its_first_error() {
        let mut capture = PcapCapture::new(HeaderOnly(0)).expect("header fits");
        capture.packet(seen(7, &probe(Protocol::Udp, 28, 1)));
        capture.packet(seen(9, &probe(Protocol::Udp, 28, 2)));
        let err = capture.finish().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("writing pcap packet 0 (at 7 ns)"),
            "{err}"
        );
        let mut capture = PcapCapture::new(Vec::new()).expect("a vector takes anything");
        capture.packet(seen(7, &probe(Protocol::Udp, 28, 1)));
        capture.packet(seen(9, &probe(Protocol::Udp, 28, 2)));
        assert_eq!(capture.finish().expect("nothing failed"), 2);
    }

    #[test]
    fn writer_failures_name_what_failed() {
        let err = PcapSink::new(Broken).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("writing the pcap file header failed"),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());

        let mut sink = PcapSink::new(HeaderOnly(0)).expect("header fits");
        let err = sink.write(7, &probe(Protocol::Udp, 28, 1)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("writing pcap packet 0 (at 7 ns)"),
            "{err}"
        );
        assert_eq!(sink.packets(), 0);
        let err = sink.finish().unwrap_err();
        assert!(
            err.to_string().starts_with("flushing the pcap file failed"),
            "{err}"
        );
    }
}
