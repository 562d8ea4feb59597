//! Fuzz target: the importer (any text as an ARM template, evaluated and mapped, and as an
//! Azure CLI export), then the loader and the data plane's compilation of the scenario it gave.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vnetsim_fuzz::arm_import(data);
});
