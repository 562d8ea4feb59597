//! Fuzz target: the scenario loader (YAML or JSON text to a checked scenario, or diagnostics),
//! then the data plane's compilation of what it accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vnetsim_fuzz::scenario_load(data);
});
