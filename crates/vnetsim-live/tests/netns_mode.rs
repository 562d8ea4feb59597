//! Namespace mode end to end, when this process may make namespaces (root, `/dev/net/tun`,
//! the `ip` and `ping` commands): the real `ping` of one VM's namespace reaches a VM across a
//! peering, a ping to a VM whose NSG denies ICMP fails, and every namespace made is gone
//! afterwards. Without the privileges each test prints why and returns. Every wait is bounded;
//! the only addresses used are the scenario's, inside the namespaces the tests make.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::timeout;
use vnetsim_live::netns::{self, NetnsError, NetnsFabric, STATE_DIR};
use vnetsim_live::{NetnsRun, RunOptions};
use vnetsim_scenario::Scenario;

const SCENARIO: &str = "
name: netns-peering
vnets:
  - { name: vnet-a, address_space: [10.71.0.0/16], subnets: [ { name: app, prefix: 10.71.1.0/24 } ] }
  - name: vnet-b
    address_space: [10.72.0.0/16]
    subnets:
      - { name: web, prefix: 10.72.1.0/24 }
      - { name: data, prefix: 10.72.2.0/24, nsg: data-nsg }
vms:
  - { name: app1, size: Standard_D2s_v3, nics: [ { name: app1-nic, vnet: vnet-a, subnet: app, ip: 10.71.1.4 } ] }
  - { name: web1, size: Standard_D2s_v3, nics: [ { name: web1-nic, vnet: vnet-b, subnet: web, ip: 10.72.1.4 } ] }
  - { name: db1, size: Standard_D2s_v3, nics: [ { name: db1-nic, vnet: vnet-b, subnet: data, ip: 10.72.2.4 } ] }
nsgs:
  - name: data-nsg
    rules:
      - { name: deny-icmp-from-a, priority: 100, direction: inbound, access: deny, protocol: icmp,
          source: 10.71.0.0/16, destination: '*' }
peerings:
  - { name: a-to-b, from: vnet-a, to: vnet-b }
  - { name: b-to-a, from: vnet-b, to: vnet-a }
";

const WAIT: Duration = Duration::from_secs(10);

fn scenario() -> Scenario {
    vnetsim_scenario::load_str(SCENARIO, "netns-peering.yaml").expect("the scenario loads")
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Why namespace mode cannot be tested here, if it cannot.
fn skip_reason() -> Option<String> {
    netns::check_privileges().err().map(|e| e.to_string())
}

/// Fails the test when namespace mode cannot run here. These tests are `#[ignore]`d so that a
/// plain `cargo test` without root passes; CI runs them as root with `--ignored`, where a
/// missing privilege or tool is a failure, never a silent pass.
fn require_privileges() {
    if let Some(reason) = skip_reason() {
        panic!("namespace mode cannot be tested here: {reason}");
    }
}

/// Makes the fabric; fails the test when namespace mode cannot start.
fn create(prefix: &str) -> NetnsFabric {
    require_privileges();
    NetnsFabric::create(&scenario(), prefix)
        .unwrap_or_else(|e| panic!("namespace mode did not start: {e}"))
}

fn namespaces() -> String {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

async fn ping(ns: &str, ip: &str) -> Output {
    let (ns, ip) = (ns.to_string(), ip.to_string());
    let ping = tokio::task::spawn_blocking(move || {
        Command::new("ip")
            .args([
                "netns", "exec", &ns, "ping", "-n", "-c", "1", "-W", "2", &ip,
            ])
            .output()
            .expect("ip netns exec runs")
    });
    timeout(WAIT, ping)
        .await
        .expect("ping ends within 10 s")
        .expect("the ping task ends")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, ping and /dev/net/tun: run with --ignored (CI does, as root)"]
async fn ping_crosses_the_peering_and_the_nsg_denies_another() {
    let prefix = format!("vnt{}", std::process::id());
    assert!(
        on_path("ping"),
        "the `ping` command is not installed (iputils-ping)"
    );
    let fabric = create(&prefix);
    let map = fabric.netns_map().clone();
    let app = map.namespace_of("app1").unwrap().to_string();
    let made: Vec<String> = map.nics.iter().map(|e| e.namespace.clone()).collect();
    assert_eq!(
        made,
        [
            format!("{prefix}-app1"),
            format!("{prefix}-web1"),
            format!("{prefix}-db1")
        ]
    );
    let listed = namespaces();
    for ns in &made {
        assert!(
            listed.contains(ns.as_str()),
            "{ns} in `ip netns list`:\n{listed}"
        );
    }
    assert!(
        map.nics
            .iter()
            .all(|e| e.interface == "eth0" && e.prefix_len == 24)
    );

    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(fabric.run(RunOptions::default(), async {
        let _ = stopped.await;
    }));

    let allowed = ping(&app, "10.72.1.4").await;
    let denied = ping(&app, "10.72.2.4").await;

    stop.send(()).unwrap();
    let NetnsRun { report, leftovers } = timeout(WAIT, running)
        .await
        .expect("stops within 10 s")
        .unwrap();

    assert!(
        allowed.status.success(),
        "app1 pings web1 across the peering:\n{}{}",
        String::from_utf8_lossy(&allowed.stdout),
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert!(
        !denied.status.success(),
        "data-nsg denies app1's ping to db1:\n{}",
        String::from_utf8_lossy(&denied.stdout)
    );
    assert_eq!(report.mode, "netns");
    assert!(
        report
            .drops_by_reason
            .get("nsg-denied")
            .copied()
            .unwrap_or(0)
            >= 1,
        "{report:?}"
    );
    let web1 = report.nic("web1-nic").unwrap();
    assert!(
        web1.counters.rx_packets >= 1 && web1.counters.tx_packets >= 1,
        "{web1:?}"
    );
    assert!(report.nic("app1-nic").unwrap().counters.rx_packets >= 1);
    assert_eq!(report.nic("db1-nic").unwrap().counters.rx_packets, 0);
    let c = report.conservation;
    assert_eq!(c.sent, c.delivered + c.dropped + c.in_flight);

    assert!(leftovers.is_empty(), "{leftovers:?}");
    let listed = namespaces();
    for ns in &made {
        assert!(!exists(ns), "{ns} deleted; `ip netns list`:\n{listed}");
    }
    assert!(!Path::new(STATE_DIR).join(format!("{prefix}.json")).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root, ip, ping and /dev/net/tun: run with --ignored (CI does, as root)"]
async fn leftovers_of_a_dead_run_go_and_a_dropped_fabric_cleans_up() {
    let prefix = format!("vnl{}", std::process::id());
    require_privileges();
    // A run that died: its record names a namespace it made, under a process id that cannot
    // be running (above the kernel's limit).
    let leftover = format!("{prefix}-app1");
    let dead = 1u32 << 30;
    assert!(!Path::new(&format!("/proc/{dead}")).exists());
    std::fs::create_dir_all(STATE_DIR).unwrap();
    let state = Path::new(STATE_DIR).join(format!("{prefix}.json"));
    std::fs::write(
        &state,
        format!(r#"{{"pid":{dead},"namespaces":["{leftover}"]}}"#),
    )
    .unwrap();
    let made = Command::new("ip")
        .args(["netns", "add", &leftover])
        .status()
        .unwrap();
    assert!(made.success());

    let fabric = match NetnsFabric::create(&scenario(), &prefix) {
        Ok(f) => f,
        Err(e) => {
            let _ = Command::new("ip")
                .args(["netns", "del", &leftover])
                .status();
            panic!("namespace mode did not start: {e}");
        }
    };
    let names: Vec<String> = fabric
        .netns_map()
        .nics
        .iter()
        .map(|e| e.namespace.clone())
        .collect();
    assert!(names.iter().all(|n| exists(n)));
    let recorded = std::fs::read_to_string(&state).unwrap();
    assert!(
        recorded.contains(&std::process::id().to_string()),
        "{recorded}"
    );
    drop(fabric);
    for ns in &names {
        assert!(!exists(ns), "{ns} deleted by the guard");
    }
    assert!(!state.exists());
}

#[test]
#[ignore = "needs root, ip, ping and /dev/net/tun: run with --ignored (CI does, as root)"]
fn a_namespace_nobody_recorded_is_left_alone() {
    let prefix = format!("vnc{}", std::process::id());
    require_privileges();
    let foreign = format!("{prefix}-web1");
    if !Command::new("ip")
        .args(["netns", "add", &foreign])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: `ip netns add` is not allowed here");
        return;
    }
    let result = NetnsFabric::create(&scenario(), &prefix);
    let still_there = exists(&foreign);
    let _ = Command::new("ip").args(["netns", "del", &foreign]).status();
    match result {
        Err(NetnsError::Conflict(message)) => assert!(message.contains(&foreign), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(still_there, "the foreign namespace was not touched");
    assert!(
        !exists(&format!("{prefix}-app1")),
        "nothing of the run is left"
    );
    assert!(!Path::new(STATE_DIR).join(format!("{prefix}.json")).exists());
}
