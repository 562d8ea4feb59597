//! The checks behind vnetsim's fuzz targets, one function per target.
//!
//! What it is for: each function takes arbitrary bytes, feeds them to one of vnetsim's entry
//! points for untrusted input (the packet parser, the scenario loader, the live intake, the
//! importer of ARM templates and Azure CLI exports) and
//! asserts what must hold whatever the input: no panic, lengths within the bytes, conservation.
//! The fuzz targets in `fuzz_targets/` call them under libFuzzer (`cargo fuzz run TARGET`, with
//! the `libfuzzer` feature); the tests in `tests/` replay the kept corpus and every crasher ever
//! found through the same functions, so CI runs them as ordinary tests. What it is not: a
//! fuzzer (libFuzzer is) or a place for fixes (those go in the crate that panicked).

use vnetsim_dataplane::wire;
use vnetsim_live::Fabric;
use vnetsim_scenario::{NicId, Scenario};

/// Fragment offset mask of the IPv4 flags-and-offset field.
const FRAGMENT_OFFSET: u16 = 0x1fff;

/// The packet parser and the TTL decrement, on any bytes.
pub fn wire_parse(data: &[u8]) {
    let Ok(meta) = wire::parse(data) else {
        return;
    };
    let total = usize::from(meta.total_len);
    assert!(total <= data.len(), "total length within the bytes");
    assert!(
        usize::from(meta.header_len) <= total,
        "header within the packet"
    );
    let offset = u16::from_be_bytes([data[6], data[7]]) & FRAGMENT_OFFSET;
    if offset != 0 {
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.icmp_type),
            (0, 0, None),
            "a non-first fragment carries no transport header"
        );
    }
    // One hop: the decremented header must still parse, with the same flow and TTL - 1.
    let mut copy = data[..total].to_vec();
    match wire::forward_hop(&mut copy) {
        Ok(ttl) => {
            assert_eq!(ttl, meta.ttl - 1);
            let again = wire::parse(&copy).expect("a forwarded packet stays valid");
            assert_eq!(again.key, meta.key);
            assert_eq!(again.ttl, ttl);
        }
        Err(_) => assert!(meta.ttl <= 1, "only an expiring TTL refuses a hop"),
    }
}

/// The scenario loader on any text, then the data plane's compilation of what it accepted.
pub fn scenario_load(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(scenario) = vnetsim_scenario::load_str(text, "fuzz.yaml") else {
        return;
    };
    let _ = vnetsim_dataplane::Dataplane::compile(&scenario);
}

/// The importer on any text, as `vnetsim import` runs it: as an ARM template (evaluated and
/// mapped, given as text so that no linked template is read from disk) and as an Azure CLI
/// export (read and mapped); whatever scenario comes out is written as YAML, loaded back and its
/// data plane compiled. One target feeds both readers the same text: an export is JSON, as a
/// template is, so one corpus (templates and exports) serves both. Errors are answers; only a
/// panic, a hang or unbounded memory fails.
pub fn arm_import(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(import) =
        vnetsim_import::arm::import_template_text(text, "fuzz.json", None, &[], "fuzz")
    {
        load_imported(&import, "the ARM template fuzz.json");
    }
    if let Ok(resources) = vnetsim_import::az::resources_from_json(text, "fuzz.json")
        && let Ok(import) = vnetsim_import::to_scenario(&resources, "fuzz")
    {
        load_imported(&import, "az exports: fuzz.json");
    }
}

/// What `vnetsim import` does with an import: writes it as YAML, loads it back (a refusal by
/// Azure's rules is an answer), then compiles the data plane of what loaded.
fn load_imported(import: &vnetsim_import::Import, source: &str) {
    let yaml = vnetsim_import::yaml::write(&import.header(source), &import.scenario);
    if let Ok(scenario) = vnetsim_scenario::load_str(&yaml, "fuzz.yaml") {
        let _ = vnetsim_dataplane::Dataplane::compile(&scenario);
    }
}

/// The scenario the live intake is fuzzed against: the bundled hub and spoke (appliance, NSGs,
/// peerings, a gateway and timed events).
pub fn live_scenario() -> Scenario {
    vnetsim_scenario::load_str(
        include_str!("../../scenarios/hub-and-spoke.yaml"),
        "hub-and-spoke.yaml",
    )
    .expect("the bundled scenario loads")
}

/// Live intake: the input is a sequence of datagrams, each `[nic, time step, length, bytes...]`,
/// ingested at non-decreasing times with the fabric advanced between them; then the fabric runs
/// until nothing is due. Every packet ends delivered, dropped or still in flight.
pub fn live_intake(data: &[u8]) {
    thread_local! {
        static SCENARIO: Scenario = live_scenario();
    }
    SCENARIO.with(|scenario| live_intake_on(scenario, data));
}

fn live_intake_on(scenario: &Scenario, mut data: &[u8]) {
    let mut fabric = Fabric::new(scenario);
    let nics = scenario.nics.len().max(1);
    let mut now = 0u64;
    let mut datagrams = 0u64;
    while let [nic, step, len, rest @ ..] = data {
        let len = usize::from(*len).min(rest.len());
        let (bytes, tail) = rest.split_at(len);
        now += u64::from(*step) * 1_000;
        fabric.advance(now);
        fabric.ingest(NicId(u32::from(*nic) % nics as u32), bytes, now);
        datagrams += 1;
        data = tail;
    }
    // Drain: everything due is processed; a bounded number of steps, so no input can hang it.
    for _ in 0..10_000 {
        let Some(at) = fabric.next_deadline() else {
            break;
        };
        now = now.max(at);
        fabric.advance(now);
    }
    let c = fabric.conservation();
    assert_eq!(c.sent, datagrams, "every datagram counted as sent");
    assert!(c.holds(), "conservation: {c:?}");
}
