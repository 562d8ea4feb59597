//! A run report's per-flow and per-NIC rows written as pretty JSON directly, byte for byte what
//! serde_json's pretty printer writes for them as elements of a top-level array.
//!
//! What it is for: a 1,000,000-flow report is over 500 MB of JSON, and serde's generic path
//! (one call and one small copy per bracket, indent, key and value) took most of the time of
//! writing it. These writers put each key with its newline and indent as one constant, and
//! format numbers and strings as serde_json does (its own float and integer formatting, its
//! string escaping when a string needs any). The property tests below hold every row to
//! serde_json's output; the sweep's report writes its runs and spreads with the same pieces
//! ([`push_u64`], [`push_f64`], [`push_str`], [`pretty_object!`](crate::pretty_object)). What it
//! is not: a JSON serializer for anything else; a new field of a row must be added here too
//! (the tests fail until it is).

use serde_json::ser::Formatter;

use crate::report::{DirectionReport, Drops, FlowReport, Latency, NicReport};

/// `,\n`, the indent `$spaces`, then `"$name": `, as one constant: a field of a pretty JSON
/// object after its first (`$name` must need no escaping).
#[macro_export]
macro_rules! pretty_field {
    ($spaces:literal, $name:literal) => {
        concat!(",\n", $spaces, "\"", $name, "\": ").as_bytes()
    };
}

/// The first field of a pretty JSON object: as [`pretty_field!`] without the comma.
#[macro_export]
macro_rules! pretty_first {
    ($spaces:literal, $name:literal) => {
        concat!("\n", $spaces, "\"", $name, "\": ").as_bytes()
    };
}

/// Appends a pretty JSON object whose fields are indented by `$inner` and whose closing brace
/// by `$outer`: `{`, each `"name": value` in order (its newline, indent and key one constant;
/// its value appended by `write(out, value)`), then the brace. Keys must need no escaping; an
/// object has at least one field here (serde_json writes `{}` for none).
#[macro_export]
macro_rules! pretty_object {
    ($out:expr, $inner:literal, $outer:literal,
     $first:literal => $write:expr, $value:expr
     $(; $name:literal => $w:expr, $v:expr)* $(;)?) => {{
        let out: &mut Vec<u8> = $out;
        out.push(b'{');
        out.extend_from_slice($crate::pretty_first!($inner, $first));
        ($write)(&mut *out, $value);
        $(
            out.extend_from_slice($crate::pretty_field!($inner, $name));
            ($w)(&mut *out, $v);
        )*
        out.extend_from_slice(concat!("\n", $outer, "}").as_bytes());
    }};
}

use crate::pretty_object as object;

/// Indents of the depths a row reaches: its fields (3 levels deep), those of its nested
/// objects (4) and of its replies' nested objects (5).
const D3: &str = "      ";
const D4: &str = "        ";
const D5: &str = "          ";

/// Appends `n` as serde_json writes an integer.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    // serde_json's own integer formatting (writing into a vector cannot fail).
    let _ = serde_json::ser::CompactFormatter.write_u64(out, n);
}

/// Appends `x` as serde_json writes a float: `null` when it is not finite.
#[inline]
pub fn push_f64(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() {
        // serde_json's own float formatting (writing into a vector cannot fail).
        let _ = serde_json::ser::CompactFormatter.write_f64(out, x);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it.
#[inline]
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    let plain = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a vector cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Writes `drops` (a map of reason names to counts) as an object whose fields are indented by
/// `inner` and whose closing brace by `outer`.
#[inline]
fn drops_(out: &mut Vec<u8>, drops: &Drops, inner: &[u8], outer: &[u8]) {
    out.push(b'{');
    let mut any = false;
    for (reason, n) in drops.iter() {
        out.extend_from_slice(if any { b",\n" } else { b"\n" });
        out.extend_from_slice(inner);
        push_str(out, reason.as_str());
        out.extend_from_slice(b": ");
        push_u64(out, n);
        any = true;
    }
    if any {
        out.push(b'\n');
        out.extend_from_slice(outer);
    }
    out.push(b'}');
}

/// Defines `$name`, which writes a latency (or `null`) as an object whose fields are indented
/// by `$inner` and whose closing brace by `$outer`.
macro_rules! latency_writer {
    ($name:ident, $inner:literal, $outer:literal) => {
        fn $name(out: &mut Vec<u8>, l: &Option<Latency>) {
            let Some(l) = l else {
                return out.extend_from_slice(b"null");
            };
            object!(out, $inner, $outer,
                "min" => push_u64, l.min;
                "p50" => push_u64, l.p50;
                "p90" => push_u64, l.p90;
                "p99" => push_u64, l.p99;
                "p999" => push_u64, l.p999;
                "max" => push_u64, l.max;
                "mean" => push_f64, l.mean;
            );
        }
    };
}

// A flow's latency is 4 levels deep, its replies' 5.
latency_writer!(latency_at_4, "        ", "      ");
latency_writer!(latency_at_5, "          ", "        ");

/// Writes the replies' counters (or `null`), an object 4 levels deep.
fn replies(out: &mut Vec<u8>, r: &Option<Box<DirectionReport>>) {
    let Some(r) = r else {
        return out.extend_from_slice(b"null");
    };
    object!(out, "        ", "      ",
        "sent" => push_u64, r.sent;
        "delivered" => push_u64, r.delivered;
        "dropped" => |o: &mut Vec<u8>, d| drops_(o, d, D5.as_bytes(), D4.as_bytes()), &r.dropped;
        "in_flight" => push_u64, r.in_flight;
        "bytes_sent" => push_u64, r.bytes_sent;
        "bytes_delivered" => push_u64, r.bytes_delivered;
        "delivered_ratio" => push_f64, r.delivered_ratio;
        "throughput_bps" => push_f64, r.throughput_bps;
        "latency_ns" => latency_at_5, &r.latency_ns;
    );
}

/// Appends `row` as serde_json's pretty printer writes it as an element of an array that is the
/// value of a top-level key (two levels deep: its fields indented by six spaces, its closing
/// brace by four). The caller writes what goes before the element (`\n    ` or `,\n    `).
pub fn write_flow(out: &mut Vec<u8>, row: &FlowReport) {
    out.reserve(1024);
    object!(out, "      ", "    ",
        "name" => push_str, &row.name;
        "from" => push_str, &row.from;
        "to" => push_str, &row.to;
        "protocol" => push_str, row.protocol;
        "packet_size" => push_u64, u64::from(row.packet_size);
        "offered_bps" => push_f64, row.offered_bps;
        "start_ns" => push_u64, row.start_ns;
        "end_ns" => push_u64, row.end_ns;
        "sent" => push_u64, row.sent;
        "delivered" => push_u64, row.delivered;
        "dropped" => |o: &mut Vec<u8>, d| drops_(o, d, D4.as_bytes(), D3.as_bytes()), &row.dropped;
        "in_flight" => push_u64, row.in_flight;
        "bytes_sent" => push_u64, row.bytes_sent;
        "bytes_delivered" => push_u64, row.bytes_delivered;
        "delivered_ratio" => push_f64, row.delivered_ratio;
        "throughput_bps" => push_f64, row.throughput_bps;
        "latency_ns" => latency_at_4, &row.latency_ns;
        "replies" => replies, &row.replies;
    );
}

/// Appends `row` as [`write_flow`] appends a flow's.
pub fn write_nic(out: &mut Vec<u8>, row: &NicReport) {
    out.reserve(256);
    object!(out, "      ", "    ",
        "nic" => push_str, &row.nic;
        "vm" => push_str, &row.vm;
        "tx_packets" => push_u64, row.tx_packets;
        "tx_bytes" => push_u64, row.tx_bytes;
        "rx_packets" => push_u64, row.rx_packets;
        "rx_bytes" => push_u64, row.rx_bytes;
        "forwarded_packets" => push_u64, row.forwarded_packets;
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::PrettyAt;
    use proptest::prelude::*;
    use serde::Serialize;
    use std::sync::Arc;
    use vnetsim_scenario::DropReason;

    /// serde_json's pretty output of `value` two levels deep.
    fn serde_at_2<T: Serialize>(value: &T) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, PrettyAt::depth(2));
        value.serialize(&mut ser).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(0.0),
            Just(-0.0),
            Just(1.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::MIN_POSITIVE / 3.0),
            (0u64..1_000_000_000).prop_map(|n| n as f64 / 1000.0),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9-]{0,12}",
            "[a-z\"\\\\\n\t\r\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}é€😀 ]{0,8}",
            any::<String>(),
        ]
    }

    fn drops() -> impl Strategy<Value = Drops> {
        proptest::collection::vec(
            (
                0..DropReason::ALL.len(),
                prop_oneof![Just(0u64), 1u64..5, any::<u64>()],
            ),
            0..4,
        )
        .prop_map(|pairs| {
            let mut d = Drops::default();
            for (r, n) in pairs {
                // Counts that would overflow a sum are not what a replay makes.
                if d.total().checked_add(n).is_some() {
                    d.add_n(DropReason::ALL[r], n);
                }
            }
            d
        })
    }

    fn latency() -> impl Strategy<Value = Option<Latency>> {
        proptest::option::of(
            (
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                float(),
            )
                .prop_map(|(min, p50, p90, p99, p999, max, mean)| Latency {
                    min,
                    p50,
                    p90,
                    p99,
                    p999,
                    max,
                    mean,
                }),
        )
    }

    fn direction() -> impl Strategy<Value = DirectionReport> {
        (
            (any::<u64>(), any::<u64>(), drops(), any::<u64>()),
            (any::<u64>(), any::<u64>(), float(), float(), latency()),
        )
            .prop_map(
                |(
                    (sent, delivered, dropped, in_flight),
                    (bytes_sent, bytes_delivered, delivered_ratio, throughput_bps, latency_ns),
                )| DirectionReport {
                    sent,
                    delivered,
                    dropped,
                    in_flight,
                    bytes_sent,
                    bytes_delivered,
                    delivered_ratio,
                    throughput_bps,
                    latency_ns,
                },
            )
    }

    fn flow() -> impl Strategy<Value = FlowReport> {
        (
            (
                text(),
                text(),
                text(),
                prop_oneof![Just("tcp"), Just("udp"), Just("icmp")],
            ),
            (any::<u16>(), float(), any::<u64>(), any::<u64>()),
            direction(),
            proptest::option::of(direction()),
        )
            .prop_map(
                |(
                    (name, from, to, protocol),
                    (packet_size, offered_bps, start_ns, end_ns),
                    d,
                    r,
                )| {
                    FlowReport {
                        name: Arc::from(name),
                        from: Arc::from(from),
                        to: Arc::from(to),
                        protocol,
                        packet_size,
                        offered_bps,
                        start_ns,
                        end_ns,
                        sent: d.sent,
                        delivered: d.delivered,
                        dropped: d.dropped,
                        in_flight: d.in_flight,
                        bytes_sent: d.bytes_sent,
                        bytes_delivered: d.bytes_delivered,
                        delivered_ratio: d.delivered_ratio,
                        throughput_bps: d.throughput_bps,
                        latency_ns: d.latency_ns,
                        replies: r.map(Box::new),
                        latency_cdf: Vec::new(),
                        reply_latency_cdf: Vec::new(),
                        delivered_timeline: Vec::new(),
                        reply_timeline: Vec::new(),
                    }
                },
            )
    }

    proptest! {
        /// A flow's row is the bytes serde_json's pretty printer writes for it in place.
        #[test]
        fn a_flow_row_is_what_serde_json_writes(row in flow()) {
            let mut mine = Vec::new();
            write_flow(&mut mine, &row);
            prop_assert_eq!(String::from_utf8(mine).unwrap(), serde_at_2(&row));
        }

        /// A NIC's row is the bytes serde_json's pretty printer writes for it in place.
        #[test]
        fn a_nic_row_is_what_serde_json_writes(
            nic in text(), vm in text(),
            counts in proptest::array::uniform5(any::<u64>()),
        ) {
            let row = NicReport {
                nic,
                vm,
                tx_packets: counts[0],
                tx_bytes: counts[1],
                rx_packets: counts[2],
                rx_bytes: counts[3],
                forwarded_packets: counts[4],
            };
            let mut mine = Vec::new();
            write_nic(&mut mine, &row);
            prop_assert_eq!(String::from_utf8(mine).unwrap(), serde_at_2(&row));
        }
    }

    /// Every drop reason at once, in both directions: the map's keys in name order.
    #[test]
    fn every_drop_reason_is_written_in_name_order() {
        let mut all = Drops::default();
        for (i, r) in DropReason::ALL.into_iter().enumerate() {
            all.add_n(r, i as u64 + 1);
        }
        let d = DirectionReport {
            dropped: all.clone(),
            ..DirectionReport::default()
        };
        let row = FlowReport {
            name: Arc::from("f"),
            from: Arc::from("a"),
            to: Arc::from("b"),
            protocol: "udp",
            packet_size: 1500,
            offered_bps: 1e6,
            start_ns: 0,
            end_ns: 1,
            sent: 1,
            delivered: 0,
            dropped: all,
            in_flight: 0,
            bytes_sent: 1500,
            bytes_delivered: 0,
            delivered_ratio: 0.0,
            throughput_bps: 0.0,
            latency_ns: None,
            replies: Some(Box::new(d)),
            latency_cdf: Vec::new(),
            reply_latency_cdf: Vec::new(),
            delivered_timeline: Vec::new(),
            reply_timeline: Vec::new(),
        };
        let mut mine = Vec::new();
        write_flow(&mut mine, &row);
        assert_eq!(String::from_utf8(mine).unwrap(), serde_at_2(&row));
    }
}
