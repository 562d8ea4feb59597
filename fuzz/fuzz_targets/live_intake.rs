//! Fuzz target: the live fabric's intake of datagrams from programs (any bytes, any NIC, any
//! time order), then the fabric run to its end; conservation must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vnetsim_fuzz::live_intake(data);
});
