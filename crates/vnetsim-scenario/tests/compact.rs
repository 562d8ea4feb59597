//! Compact traffic: a `pairs` entry stands for many flows, expanded at load into ordinary flows
//! with deterministic names, ends, source ports and starts, checked like written-out flows.

use std::collections::HashSet;
use std::time::Instant;

use vnetsim_scenario::generate::HubSpoke;
use vnetsim_scenario::{Endpoint, Expectation, LoadError, Scenario, load_str};

/// A hub and `spokes` spokes of `vms` VMs each, with no traffic.
fn network(spokes: u32, vms: u32) -> String {
    HubSpoke {
        spokes,
        vms_per_spoke: vms,
        flows: 0,
        ..HubSpoke::default()
    }
    .to_yaml()
    .expect("valid parameters")
}

fn load(text: &str) -> Scenario {
    load_str(text, "compact.yaml").unwrap_or_else(|e| panic!("{}", e.render(false)))
}

fn refused(text: &str) -> LoadError {
    match load_str(text, "compact.yaml") {
        Ok(_) => panic!("loaded, though it breaks a rule"),
        Err(e) => e,
    }
}

/// The (rule, line, field path) of every diagnostic.
fn problems(err: &LoadError) -> Vec<(&'static str, u32, String)> {
    err.diagnostics
        .iter()
        .map(|d| (d.rule, d.line, d.path.clone()))
        .collect()
}

/// The line (1-based) of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"))
}

fn vnet_of(s: &Scenario, e: Endpoint) -> u32 {
    match e {
        Endpoint::Vm(vm) => s.nics[s.vms[vm.0 as usize].nics[0].0 as usize].vnet.0,
        other => panic!("not a VM: {other:?}"),
    }
}

#[test]
fn a_hundred_thousand_generated_flows_load_from_a_few_lines() {
    let p = HubSpoke {
        spokes: 10,
        vms_per_spoke: 40,
        flows: 100_000,
        ..HubSpoke::default()
    };
    let text = p.to_yaml().unwrap();
    let traffic = &text[text.find("\ntraffic:").unwrap()..];
    assert!(traffic.lines().count() <= 15, "{traffic}");
    let s = load(&text);
    assert_eq!(s.traffic.len(), 100_000);
    let mut tuples = HashSet::new();
    let mut sent = std::collections::HashMap::new();
    for (i, f) in s.traffic.iter().enumerate() {
        assert_eq!(&*f.name, format!("f-{i}"));
        assert_ne!(
            vnet_of(&s, f.from),
            vnet_of(&s, f.to),
            "{} crosses spokes",
            f.name
        );
        assert_eq!(f.dst_port, Some(5001));
        let k = sent.entry(f.from).or_insert(0u16);
        assert_eq!(
            f.src_port,
            Some(1024 + *k),
            "a sender's flows count their ports"
        );
        *k += 1;
        assert!(f.start < 100_000_000, "spread over one period of 10 pps");
        assert!(
            tuples.insert((f.from, f.to, f.src_port)),
            "{} is its own 5-tuple",
            f.name
        );
    }
    // Every spoke sends and receives (the pairing is not stuck on a few VMs).
    let senders: HashSet<_> = s.traffic.iter().map(|f| f.from).collect();
    let receivers: HashSet<_> = s.traffic.iter().map(|f| f.to).collect();
    assert_eq!((senders.len(), receivers.len()), (400, 400));
}

#[test]
fn the_same_file_gives_the_same_flows_and_another_seed_others() {
    let mut text = network(4, 5);
    text.push_str(
        "traffic:\n  - name: mesh\n    pairs:\n      from: [vnet:spoke1, vnet:spoke2]\n      \
         to: [vnet:spoke3, s4_0]\n      count: 1000\n      seed: 7\n      spread: 1ms\n    \
         protocol: tcp\n    dst_port: 443\n    rate: 1pps\n    packet_size: 200\n    start: 2ms\n",
    );
    let (a, b) = (load(&text), load(&text));
    assert_eq!(a.traffic, b.traffic);
    assert!(
        a.traffic
            .iter()
            .all(|f| (2_000_000..3_000_000).contains(&f.start))
    );
    let starts: HashSet<_> = a.traffic.iter().map(|f| f.start).collect();
    assert!(starts.len() > 900, "starts are spread");
    let other = load(&text.replace("seed: 7", "seed: 8"));
    assert_ne!(a.traffic, other.traffic);
    // Senders only from spokes 1 and 2, receivers only in spoke 3 or s4_0.
    for f in &a.traffic {
        assert!([1, 2].contains(&vnet_of(&a, f.from)), "{f:?}");
        assert!([3, 4].contains(&vnet_of(&a, f.to)), "{f:?}");
    }
}

#[test]
fn flows_written_out_and_compact_entries_mix_and_expectations_name_made_flows() {
    let mut text = network(2, 3);
    text.push_str(
        "traffic:\n  - { name: one, from: s1_0, to: s2_0, protocol: udp, rate: 1pps, packet_size: 100 }\n\
         \x20 - name: mesh\n    pairs: { from: [vnet:spoke1], to: [vnet:spoke2], count: 5 }\n    \
         protocol: udp\n    rate: 1pps\n    packet_size: 100\n\
         \x20 - { name: mesh-5, from: s1_1, to: s2_1, protocol: udp, rate: 1pps, packet_size: 100 }\n\
         \x20 - { name: mesh-03, from: s1_1, to: s2_1, protocol: udp, rate: 1pps, packet_size: 100 }\n\
         expect:\n  - { flow: mesh-3, delivered_ratio: \">= 1\" }\n  - { flow: mesh-5, delivered_ratio: \">= 1\" }\n\
         \x20 - { flow: one, delivered_ratio: \">= 1\" }\n",
    );
    let s = load(&text);
    let names: Vec<_> = s.traffic.iter().map(|f| f.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "one", "mesh-0", "mesh-1", "mesh-2", "mesh-3", "mesh-4", "mesh-5", "mesh-03"
        ]
    );
    let flows: Vec<_> = s
        .expectations
        .iter()
        .map(|e| match e {
            Expectation::Flow { flow, .. } => flow.0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(flows, [4, 6, 0]);
    // Without `dst_port` a made flow still has its own source port.
    assert_eq!(s.traffic[1].src_port, Some(1024));
    assert_eq!(s.traffic[1].dst_port, None);
}

#[test]
fn a_flow_written_out_must_not_take_a_made_name() {
    let mut text = network(2, 2);
    text.push_str(
        "traffic:\n  - name: mesh\n    pairs: { from: [vnet:spoke1], to: [vnet:spoke2], count: 10 }\n    \
         protocol: udp\n    rate: 1pps\n    packet_size: 100\n\
         \x20 - { name: mesh-9, from: s1_1, to: s2_1, protocol: udp, rate: 1pps, packet_size: 100 }\n",
    );
    let err = refused(&text);
    assert_eq!(
        problems(&err),
        [(
            "duplicate-name",
            line_of(&text, "name: mesh-9"),
            "traffic[1].name".to_owned()
        )]
    );
    assert!(err.diagnostics[0].message.contains("`mesh`"), "{err:?}");
}

#[test]
fn an_expectation_names_no_flow_beyond_the_count_nor_the_entry_itself() {
    let mut text = network(2, 2);
    text.push_str(
        "traffic:\n  - name: mesh\n    pairs: { from: [vnet:spoke1], to: [vnet:spoke2], count: 10 }\n    \
         protocol: udp\n    rate: 1pps\n    packet_size: 100\n\
         expect:\n  - { flow: mesh-10, delivered_ratio: \">= 1\" }\n  - { flow: mesh, delivered_ratio: \">= 1\" }\n",
    );
    let err = refused(&text);
    let got = problems(&err);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got.iter().all(|(rule, _, _)| *rule == "unknown-flow"),
        "{got:?}"
    );
}

/// A two-spoke network with one `pairs` entry whose `pairs` mapping is `pairs` and whose
/// other fields are `extra`.
fn entry(pairs: &str, extra: &str) -> String {
    let mut text = network(2, 2);
    text.push_str(&format!(
        "traffic:\n  - name: mesh\n    pairs: {pairs}\n    protocol: udp\n    rate: 1pps\n    \
         packet_size: 100\n{extra}"
    ));
    text
}

#[test]
fn each_broken_pairing_is_named_with_its_line_field_and_rule() {
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            entry(
                "{ from: [vnet:spoke1], to: [vnet:spoke2], count: 3 }",
                "    from: s1_0\n",
            ),
            "flow-shape",
            "from: s1_0",
            "traffic[0].from",
        ),
        (
            entry(
                "{ from: [vnet:spoke1], to: [vnet:spoke2], count: 3 }",
                "    src_port: 9\n",
            ),
            "flow-shape",
            "src_port: 9",
            "traffic[0].src_port",
        ),
        (
            entry("{ from: [vnet:spoke9], to: [vnet:spoke2], count: 3 }", ""),
            "unknown-vnet",
            "pairs:",
            "traffic[0].pairs.from[0]",
        ),
        (
            entry("{ from: [s1_0], to: [nobody], count: 3 }", ""),
            "unknown-endpoint",
            "pairs:",
            "traffic[0].pairs.to[0]",
        ),
        (
            entry("{ from: [vnet:empty], to: [vnet:spoke2], count: 3 }", "").replace(
                "vnets:\n",
                "vnets:\n  - { name: empty, address_space: [10.200.0.0/16] }\n",
            ),
            "pairs-empty",
            "pairs:",
            "traffic[0].pairs.from[0]",
        ),
        (
            entry("{ from: [vnet:spoke1], to: [], count: 3 }", ""),
            "pairs-empty",
            "pairs:",
            "traffic[0].pairs.to",
        ),
        (
            entry(
                "{ from: [vnet:spoke1, vnet:spoke2], to: [vnet:spoke1], count: 3, cross_vnet: true }",
                "",
            ),
            "pairs-empty",
            "pairs:",
            "traffic[0].pairs.cross_vnet",
        ),
        (
            entry("{ from: [vnet:spoke1], to: [vnet:spoke2], count: 0 }", ""),
            "pairs-count",
            "pairs:",
            "traffic[0].pairs.count",
        ),
        (
            entry(
                "{ from: [vnet:spoke1], to: [vnet:spoke2], count: 3, spread: 5 }",
                "",
            ),
            "invalid-duration",
            "pairs:",
            "traffic[0].pairs.spread",
        ),
    ];
    for (text, rule, at, field) in cases {
        let err = refused(&text);
        assert_eq!(
            problems(&err),
            [(rule, line_of(&text, at), field.to_owned())],
            "{}",
            err.render(false)
        );
    }
}

#[test]
fn the_whole_file_holds_at_most_ten_million_flows() {
    let mut text = network(2, 2);
    text.push_str(
        "traffic:\n  - name: a\n    pairs: { from: [vnet:spoke1], to: [vnet:spoke2], count: 6000000 }\n    \
         protocol: udp\n    rate: 1pps\n    packet_size: 100\n\
         \x20 - name: b\n    pairs: { from: [vnet:spoke1], to: [vnet:spoke2], count: 5000000 }\n    \
         protocol: udp\n    rate: 1pps\n    packet_size: 100\n",
    );
    let err = refused(&text);
    assert_eq!(
        problems(&err),
        [(
            "pairs-count",
            line_of(&text, "count: 5000000"),
            "traffic[1].pairs.count".to_owned()
        )]
    );
    assert!(err.diagnostics[0].message.contains("11000000"), "{err:?}");
}

#[test]
fn hosts_and_addresses_pair_too_and_a_lone_receiver_may_be_the_sender() {
    let mut text = network(2, 1);
    text.push_str(
        "traffic:\n  - name: mesh\n    pairs: { from: [s1_0, 10.2.16.4], to: [s1_0], count: 4, seed: 3 }\n    \
         protocol: icmp\n    rate: 1pps\n    packet_size: 100\n",
    );
    let s = load(&text);
    assert_eq!(s.traffic.len(), 4);
    assert!(
        s.traffic.iter().all(|f| f.src_port.is_none()),
        "icmp has no ports"
    );
}

/// The figure: 4,000,000 flows, described in a few lines, load. About 5 s in a debug
/// build, under a second in release.
#[test]
fn four_million_flows_load() {
    let p = HubSpoke {
        spokes: 10,
        vms_per_spoke: 400,
        flows: 4_000_000,
        pps: 1,
        ..HubSpoke::default()
    };
    let text = p.to_yaml().unwrap();
    assert!(text.len() < 1 << 20, "{} bytes", text.len());
    let t = Instant::now();
    let s = load(&text);
    let took = t.elapsed();
    assert_eq!(s.traffic.len(), 4_000_000);
    assert_eq!(&*s.traffic[3_999_999].name, "f-3999999");
    eprintln!("4,000,000 flows loaded in {took:?}");
}

/// The draws are one sequence: a shorter entry's flows are the first flows of a longer one with
/// the same seed. The counts cross the blocks a large entry is expanded in (131,072 flows) and
/// the size from which its flows are built on all cores, so a block or a worker that started
/// from the wrong draw, port count or index would show.
#[test]
fn a_shorter_entry_is_the_start_of_a_longer_one_across_expansion_blocks() {
    let with = |count: u32| {
        let mut text = network(3, 7);
        text.push_str(&format!(
            "traffic:\n  - name: mesh\n    pairs: {{ from: [vnet:spoke1, vnet:spoke2], \
             to: [vnet:spoke2, vnet:spoke3], count: {count}, seed: 3, cross_vnet: true, \
             spread: 1s }}\n    protocol: udp\n    dst_port: 53\n    rate: 1pps\n    \
             packet_size: 100\n"
        ));
        load(&text).traffic
    };
    let short = with(70_001);
    let long = with(2 * 131_072 + 9);
    assert_eq!(long.len(), 2 * 131_072 + 9);
    assert_eq!(short[..], long[..short.len()]);
    for (i, f) in long.iter().enumerate() {
        assert_eq!(&*f.name, format!("mesh-{i}"));
    }
    // Fourteen senders share the long entry's 262,153 flows: each counts its source ports
    // past one block and on, wrapping after 64,306 of them (1024 to 65329: never 65330, the
    // UDP source port Azure reserves for the host).
    let mut sent = std::collections::HashMap::new();
    for f in &long {
        let k = sent.entry(f.from).or_insert(0u32);
        assert_eq!(f.src_port, Some(1024 + (*k % 64_306) as u16), "{}", f.name);
        *k += 1;
    }
}

/// One sender's source ports cycle through 1024 to 65329 and never reach 65330, the UDP source
/// port the Virtual Network FAQ reserves for the host ("What protocols can I use within
/// VNets?"), which Azure would not carry.
#[test]
fn a_senders_ports_cycle_below_the_port_azure_reserves_for_the_host() {
    let mut text = network(2, 2);
    text.push_str(
        "traffic:\n  - name: one\n    pairs: { from: [s1_0], to: [vnet:spoke2], count: 64310 }\n    \
         protocol: udp\n    dst_port: 53\n    rate: 1pps\n    packet_size: 100\n",
    );
    let s = load(&text);
    let ports: Vec<u16> = s.traffic.iter().map(|f| f.src_port.unwrap()).collect();
    assert_eq!(ports[0], 1024);
    assert_eq!(ports[64_305], 65_329);
    assert_eq!(&ports[64_306..], &[1024, 1025, 1026, 1027]);
    assert!(!ports.contains(&65_330));
}
