//! One `static` [`Sim`] serves a hundred tests with one load: every test of this binary probes
//! the same loaded hub-and-spoke scenario, on the test harness's threads, and checks that this
//! process compiled exactly one scenario ([`vnetsim::sim::loads`]) and that its own clone shares
//! the static's compiled network. Only this file's tests run in this binary, so any second load
//! would show in the count.

use std::path::PathBuf;
use std::sync::LazyLock;

use vnetsim::{DropReason, Sim};

/// The scenario, loaded once for every test below.
static SIM: LazyLock<Sim> = LazyLock::new(|| {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/hub-and-spoke.yaml");
    Sim::load(path).expect("the example loads")
});

// Compile-time: a `Sim` (and what a test keeps of it) crosses and is shared between threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Sim>();
    assert_send_sync::<vnetsim::Verdict>();
    assert_send_sync::<vnetsim::Replay>();
    assert_send_sync::<vnetsim::Error>();
};

/// Test `n` of the hundred: a probe whose verdict depends on `n` (SQL delivered through the
/// appliance, SSH denied by the spoke NSG), sent from the static or from a clone of it.
fn probe_the_shared_sim(n: u32) {
    let sim: &Sim = &SIM;
    let own;
    let sim = if n.is_multiple_of(2) {
        sim
    } else {
        own = SIM.fresh();
        assert!(
            own.shares_network_with(&SIM),
            "a fresh Sim shares the network"
        );
        &own
    };
    if n.is_multiple_of(3) {
        let v = sim
            .probe("web1", "db1")
            .tcp(22)
            .src_port(50000 + n as u16)
            .send();
        v.assert_dropped(DropReason::NsgDenied);
    } else {
        let v = sim
            .probe("web1", "db1")
            .tcp(1433)
            .src_port(50000 + n as u16)
            .send();
        v.assert_delivered().assert_path(&["web1", "nva1", "db1"]);
    }
    let clone = SIM.clone();
    assert!(clone.shares_network_with(&SIM));
    assert!(
        std::ptr::eq(clone.dataplane(), SIM.dataplane()),
        "one compiled data plane"
    );
    assert_eq!(vnetsim::sim::loads(), 1, "the scenario was loaded once");
}

macro_rules! hundred_tests {
    ($($name:ident = $n:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                probe_the_shared_sim($n);
            }
        )*
        /// Every test above, by its number: the macro wrote a hundred of them.
        const TESTS: &[u32] = &[$($n),*];
    };
}

hundred_tests!(
    t000 = 0,
    t001 = 1,
    t002 = 2,
    t003 = 3,
    t004 = 4,
    t005 = 5,
    t006 = 6,
    t007 = 7,
    t008 = 8,
    t009 = 9,
    t010 = 10,
    t011 = 11,
    t012 = 12,
    t013 = 13,
    t014 = 14,
    t015 = 15,
    t016 = 16,
    t017 = 17,
    t018 = 18,
    t019 = 19,
    t020 = 20,
    t021 = 21,
    t022 = 22,
    t023 = 23,
    t024 = 24,
    t025 = 25,
    t026 = 26,
    t027 = 27,
    t028 = 28,
    t029 = 29,
    t030 = 30,
    t031 = 31,
    t032 = 32,
    t033 = 33,
    t034 = 34,
    t035 = 35,
    t036 = 36,
    t037 = 37,
    t038 = 38,
    t039 = 39,
    t040 = 40,
    t041 = 41,
    t042 = 42,
    t043 = 43,
    t044 = 44,
    t045 = 45,
    t046 = 46,
    t047 = 47,
    t048 = 48,
    t049 = 49,
    t050 = 50,
    t051 = 51,
    t052 = 52,
    t053 = 53,
    t054 = 54,
    t055 = 55,
    t056 = 56,
    t057 = 57,
    t058 = 58,
    t059 = 59,
    t060 = 60,
    t061 = 61,
    t062 = 62,
    t063 = 63,
    t064 = 64,
    t065 = 65,
    t066 = 66,
    t067 = 67,
    t068 = 68,
    t069 = 69,
    t070 = 70,
    t071 = 71,
    t072 = 72,
    t073 = 73,
    t074 = 74,
    t075 = 75,
    t076 = 76,
    t077 = 77,
    t078 = 78,
    t079 = 79,
    t080 = 80,
    t081 = 81,
    t082 = 82,
    t083 = 83,
    t084 = 84,
    t085 = 85,
    t086 = 86,
    t087 = 87,
    t088 = 88,
    t089 = 89,
    t090 = 90,
    t091 = 91,
    t092 = 92,
    t093 = 93,
    t094 = 94,
    t095 = 95,
    t096 = 96,
    t097 = 97,
    t098 = 98,
    t099 = 99,
);

#[test]
fn the_macro_wrote_a_hundred_distinct_tests() {
    let mut seen = TESTS.to_vec();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 100);
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    // This test touches the static too, so the count holds whichever test runs first.
    assert!(SIM.source().is_some());
    assert_eq!(vnetsim::sim::loads(), 1);
}

#[test]
fn threads_share_one_sim_and_its_flow_records() {
    // A probe and its reply from two threads through the same static: the reply passes on the
    // flow record the first left (stateful NSGs), so the two threads saw one flow table.
    let sim = SIM.fresh();
    std::thread::scope(|s| {
        s.spawn(|| {
            sim.probe("web1", "db1")
                .tcp(1433)
                .src_port(61000)
                .send()
                .assert_delivered();
        });
    });
    let reply = std::thread::scope(|s| {
        s.spawn(|| sim.probe("db1", "web1").tcp(61000).src_port(1433).send())
            .join()
            .expect("the thread ends")
    });
    reply.assert_delivered();
    assert!(
        reply
            .hops()
            .iter()
            .filter_map(|h| h.rule.as_ref())
            .any(|r| r.rule == "flow-record"),
        "{reply}"
    );
    assert_eq!(vnetsim::sim::loads(), 1);
}
