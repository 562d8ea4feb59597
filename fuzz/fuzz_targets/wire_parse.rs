//! Fuzz target: the IPv4 parser (`vnetsim_dataplane::wire::parse`) and the TTL decrement.
//!
//! Whatever the bytes: no panic; a parsed packet's lengths fit the bytes; a non-first fragment
//! carries no ports; a hop that decrements the TTL keeps the header checksum valid.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vnetsim_fuzz::wire_parse(data);
});
