//! Namespace mode: every VM is a Linux network namespace, every NIC a TUN interface in it, so
//! real programs (`ip netns exec NS ping ...`) send their packets through the simulated fabric.
//!
//! What it is for: `vnetsim live --mode netns` (root with `/dev/net/tun` and the `ip` command
//! of iproute2). For each VM, [`NetnsFabric::create`] makes the namespace `PREFIX-VM` (the VM
//! name with characters other than letters, digits, `-`, `_` and `.` replaced by `-`) with `lo`
//! up, and for each of its NICs a TUN interface, made in the root namespace, moved into the
//! VM's namespace and renamed `eth0`, `eth1`, ... (NIC order in the VM), holding the NIC's IP
//! with its subnet's prefix length; `eth0` carries the default route. The descriptor of each
//! interface stays in this process: what the VM's stack sends on `ethK` is read from it and
//! handed to [`Fabric::ingest`] as sent by that NIC, and what the fabric delivers to the NIC is
//! written to it. TUN (layer 3) rather than TAP: the fabric works on IPv4 packets, and TUN
//! gives exactly those, with no Ethernet header and no ARP to answer. Frames that are not
//! IPv4 (the IPv6 router solicitations and MLD reports a new interface sends) are dropped
//! before the fabric and not counted.
//!
//! Clean-up: the TUN interfaces disappear with their descriptors (they are not persistent), so
//! they go when the fabric stops and even when the process is killed. The namespaces are
//! deleted (`ip netns del`) when the run ends, and by a guard when the fabric is dropped
//! without running (an error, a panic). Each run records what it makes in
//! `/run/vnetsim/PREFIX.json` with its process id before making it; a later run with the same
//! prefix deletes what a dead process left there, and refuses to start while the recorded
//! process still runs. A namespace of the same name that no run recorded is never touched:
//! the run refuses instead.
//!
//! What it is not: a bridge to the host's network. The namespaces have no other interface;
//! only what the fabric delivers enters them, and packets to on-premises hosts or the Internet
//! end in the fabric's sink.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::io::{self, ErrorKind};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vnetsim_scenario::{NicId, Scenario};

use crate::drive::{ClockThread, Endpoints, drive};
use crate::fabric::{Delivery, Fabric};
use crate::report::LiveReport;
use crate::tun::{self, Tun};
use crate::udp::RunOptions;

/// Namespace map schema name and version.
pub const NETNS_MAP_FORMAT: &str = "vnetsim-netns/1";

/// Where each run records the namespaces it makes (`PREFIX.json`).
pub const STATE_DIR: &str = "/run/vnetsim";

/// Where iproute2 keeps named namespaces.
const NETNS_DIR: &str = "/run/netns";

/// The name template of new TUN interfaces in the root namespace (the kernel fills in `%d`).
const TUN_TEMPLATE: &str = "vnetsim%d";

/// The largest packet read from an interface.
const MAX_PACKET: usize = 65535;

/// The longest namespace prefix accepted.
const MAX_PREFIX: usize = 32;

/// The longest VM part of a namespace name.
const MAX_VM_PART: usize = 40;

/// Why namespace mode could not start.
#[derive(Debug)]
pub enum NetnsError {
    /// This process may not make namespaces or TUN interfaces here (not root, no
    /// `/dev/net/tun`, no `ip` command, a container without the capabilities); UDP mode works
    /// without any of them.
    Unavailable(String),
    /// The prefix is taken: another run uses it, or a namespace of that name exists that no
    /// run recorded.
    Conflict(String),
    /// A bad prefix, or a step of the set-up failed.
    Failed(String),
}

impl NetnsError {
    /// Whether the cause is missing privileges or tools (so UDP mode is the way out).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, NetnsError::Unavailable(_))
    }
}

impl fmt::Display for NetnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetnsError::Unavailable(why) => write!(f, "namespace mode is not available: {why}"),
            NetnsError::Conflict(why) | NetnsError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for NetnsError {}

/// One NIC's interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetnsEntry {
    /// NIC name.
    pub nic: String,
    /// Its VM.
    pub vm: String,
    /// The VM's namespace (`ip netns exec NAMESPACE ...`).
    pub namespace: String,
    /// The interface inside the namespace (`eth0`, `eth1`, ... in the VM's NIC order).
    pub interface: String,
    /// The NIC's IPv4 address, on the interface.
    pub ip: Ipv4Addr,
    /// The prefix length of the NIC's subnet, on the interface.
    pub prefix_len: u8,
}

/// Which namespace and interface stand for which NIC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetnsMap {
    /// [`NETNS_MAP_FORMAT`].
    pub format: &'static str,
    /// Scenario name.
    pub scenario: String,
    /// The prefix of every namespace name.
    pub prefix: String,
    /// One entry per NIC, in scenario order.
    pub nics: Vec<NetnsEntry>,
}

impl NetnsMap {
    /// The namespace of the VM (or NIC) named `name`.
    pub fn namespace_of(&self, name: &str) -> Option<&str> {
        self.nics
            .iter()
            .find(|e| e.nic == name || e.vm == name)
            .map(|e| e.namespace.as_str())
    }

    /// The map as a table for a person, with a command to try.
    pub fn render_text(&self) -> String {
        let width = |f: fn(&NetnsEntry) -> usize, min: usize| {
            self.nics.iter().map(f).max().unwrap_or(min).max(min)
        };
        let w_ns = width(|e| e.namespace.len(), 9);
        let w_if = width(|e| e.interface.len(), 9);
        let w_nic = width(|e| e.nic.len(), 3);
        let w_vm = width(|e| e.vm.len(), 2);
        let mut out = format!(
            "scenario '{}': one network namespace per VM, one TUN interface per NIC\n",
            self.scenario
        );
        out.push_str(&format!(
            "{:<w_ns$}  {:<w_if$}  {:<w_nic$}  {:<w_vm$}  ip\n",
            "namespace", "interface", "nic", "vm"
        ));
        for e in &self.nics {
            out.push_str(&format!(
                "{:<w_ns$}  {:<w_if$}  {:<w_nic$}  {:<w_vm$}  {}/{}\n",
                e.namespace, e.interface, e.nic, e.vm, e.ip, e.prefix_len
            ));
        }
        if let (Some(a), Some(b)) = (
            self.nics.first(),
            self.nics
                .iter()
                .find(|e| e.namespace != self.nics[0].namespace),
        ) {
            out.push_str(&format!(
                "try: ip netns exec {} ping -c 3 {}\n",
                a.namespace, b.ip
            ));
        }
        out
    }
}

/// What a namespace-mode run did, and what it could not clean up.
#[derive(Clone, Debug, PartialEq)]
pub struct NetnsRun {
    /// The live report (`mode` is `netns`).
    pub report: LiveReport,
    /// Namespaces that could not be deleted, with the reason (empty when all went).
    pub leftovers: Vec<String>,
}

/// The default prefix for `scenario`: `vn` and four hex digits of a hash of its name, so
/// namespaces of different scenarios do not collide and a scenario's names stay the same from
/// run to run.
pub fn default_prefix(scenario: &Scenario) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in scenario.name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("vn{:04x}", (h ^ (h >> 16)) & 0xffff)
}

/// Checks what namespace mode needs before changing anything: root, `/dev/net/tun` openable,
/// the `ip` command present. (Whether `ip netns add` is allowed shows at the first namespace.)
pub fn check_privileges() -> Result<(), NetnsError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(NetnsError::Unavailable(format!(
            "it needs root (making namespaces and TUN interfaces), and this process runs as \
             user id {euid}"
        )));
    }
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(tun::CLONE_DEVICE)
    {
        return Err(NetnsError::Unavailable(format!(
            "cannot open {}: {e}",
            tun::CLONE_DEVICE
        )));
    }
    match Command::new("ip").arg("-V").output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(NetnsError::Unavailable(format!(
            "`ip -V` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(NetnsError::Unavailable(
            "the `ip` command is not installed (it comes with iproute2)".to_string(),
        )),
        Err(e) => Err(NetnsError::Unavailable(format!("cannot run `ip`: {e}"))),
    }
}

/// The VM part of a namespace name: letters, digits, `-`, `_`, `.` kept, the rest `-`.
fn sanitize(vm: &str) -> String {
    let mut s: String = vm
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(MAX_VM_PART)
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        s = "vm".to_string();
    }
    s
}

fn check_prefix(prefix: &str) -> Result<(), NetnsError> {
    let ok = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && prefix.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(NetnsError::Failed(format!(
            "namespace prefix '{prefix}': use 1 to {MAX_PREFIX} letters, digits, '-' or '_', \
             starting with a letter or digit"
        )))
    }
}

/// The namespace name of every VM (index = VM index), unique, `PREFIX-VM`.
fn namespace_names(scenario: &Scenario, prefix: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    scenario
        .vms
        .iter()
        .enumerate()
        .map(|(i, vm)| {
            let mut name = format!("{prefix}-{}", sanitize(&vm.name));
            if !seen.insert(name.clone()) {
                name = format!("{name}-{i}");
                seen.insert(name.clone());
            }
            name
        })
        .collect()
}

fn namespace_exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

fn state_path(prefix: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{prefix}.json"))
}

/// What a run records before making anything.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    pid: u32,
    namespaces: Vec<String>,
}

/// Runs `ip ARGS`; the error is its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    tracing::debug!(command = %args.join(" "), "ip");
    match Command::new("ip").args(args).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run `ip {}`: {e}", args.join(" "))),
    }
}

/// Deletes a namespace this process (or a dead run with its prefix) made; fine if it is gone.
fn delete_namespace(name: &str) -> Result<(), String> {
    match ip(&["netns", "del", name]) {
        Ok(()) => Ok(()),
        Err(_) if !namespace_exists(name) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes every namespace it holds, and the state file, when dropped or asked.
#[derive(Debug)]
struct Cleanup {
    namespaces: Vec<String>,
    state_file: Option<PathBuf>,
}

impl Cleanup {
    /// Deletes everything recorded; returns what could not be deleted, and why.
    fn run(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        for ns in self.namespaces.drain(..) {
            match delete_namespace(&ns) {
                Ok(()) => tracing::debug!(namespace = %ns, "namespace deleted"),
                Err(e) => {
                    tracing::warn!(namespace = %ns, error = %e, "namespace not deleted");
                    left.push(format!("namespace {ns}: {e}"));
                }
            }
        }
        if let Some(path) = self.state_file.take() {
            if left.is_empty() {
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), error = %e, "state file not removed");
                }
            } else {
                // Keep the record so the next run with this prefix retries.
                tracing::warn!(path = %path.display(), "state file kept for the next run");
            }
        }
        left
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.run();
    }
}

/// Whether process `pid` runs (a zombie, killed but not yet reaped, does not).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `PID (COMM) STATE ...`; COMM may hold spaces and parentheses.
        Ok(stat) => match stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].trim_start().chars().next())
        {
            Some('Z' | 'X' | 'x') | None => false,
            Some(_) => true,
        },
        Err(_) => false,
    }
}

/// Deletes what a dead run with this prefix left, and refuses while a live one holds it.
fn claim_prefix(prefix: &str, wanted: &[String]) -> Result<PathBuf, NetnsError> {
    let path = state_path(prefix);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let state: Option<State> = serde_json::from_str(&text).ok();
            match state {
                Some(s) if s.pid != std::process::id() && process_alive(s.pid) => {
                    return Err(NetnsError::Conflict(format!(
                        "another run (process {}) uses the namespace prefix '{prefix}'; stop it, \
                         or pass another --netns-prefix (if that process is not vnetsim, \
                         delete {})",
                        s.pid,
                        path.display()
                    )));
                }
                Some(s) => {
                    let ours = format!("{prefix}-");
                    for ns in s.namespaces.iter().filter(|n| n.starts_with(&ours)) {
                        if namespace_exists(ns) {
                            tracing::info!(namespace = %ns, pid = s.pid, "deleting a leftover of an earlier run");
                            delete_namespace(ns).map_err(|e| {
                                NetnsError::Failed(format!(
                                    "cannot delete the leftover namespace {ns}: {e}"
                                ))
                            })?;
                        }
                    }
                }
                None => tracing::warn!(path = %path.display(), "unreadable state file replaced"),
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => {
            return Err(NetnsError::Failed(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    }
    if let Some(ns) = wanted.iter().find(|n| namespace_exists(n)) {
        return Err(NetnsError::Conflict(format!(
            "the namespace {ns} exists and no vnetsim run recorded it; delete it (ip netns del \
             {ns}) or pass another --netns-prefix"
        )));
    }
    let state = State {
        pid: std::process::id(),
        namespaces: wanted.to_vec(),
    };
    let write = std::fs::create_dir_all(STATE_DIR).and_then(|()| {
        let json = serde_json::to_string(&state).map_err(io::Error::other)?;
        std::fs::write(&path, json)
    });
    write.map_err(|e| NetnsError::Failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

fn is_permission_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("operation not permitted") || m.contains("permission denied")
}

/// The fabric with one namespace per VM and one TUN interface per NIC (see the module docs).
#[derive(Debug)]
pub struct NetnsFabric {
    // Field order matters: the interfaces close before the guard deletes the namespaces.
    tuns: Vec<Tun>,
    fabric: Fabric,
    clock: ClockThread,
    map: NetnsMap,
    cleanup: Cleanup,
}

impl NetnsFabric {
    /// Checks the privileges, then makes the namespaces and interfaces of `scenario`, their
    /// names starting with `prefix` ([`default_prefix`] when the user gave none). On an error
    /// everything made so far is deleted again.
    pub fn create(scenario: &Scenario, prefix: &str) -> Result<NetnsFabric, NetnsError> {
        check_prefix(prefix)?;
        check_privileges()?;
        let clock = ClockThread::spawn()
            .map_err(|e| NetnsError::Failed(format!("cannot start the clock thread: {e}")))?;
        let names = namespace_names(scenario, prefix);
        let used: Vec<String> = scenario
            .vms
            .iter()
            .enumerate()
            .filter(|(i, _)| scenario.nics.iter().any(|n| n.vm.index() == *i))
            .map(|(i, _)| names[i].clone())
            .collect();
        let state_file = claim_prefix(prefix, &used)?;
        let mut cleanup = Cleanup {
            namespaces: Vec::new(),
            state_file: Some(state_file),
        };
        for ns in &used {
            if let Err(e) = ip(&["netns", "add", ns]) {
                return Err(if is_permission_error(&e) {
                    NetnsError::Unavailable(e)
                } else {
                    NetnsError::Failed(e)
                });
            }
            cleanup.namespaces.push(ns.clone());
            ip(&["-n", ns, "link", "set", "lo", "up"]).map_err(NetnsError::Failed)?;
        }
        let mut tuns = Vec::with_capacity(scenario.nics.len());
        let mut entries = Vec::with_capacity(scenario.nics.len());
        let mut per_vm = vec![0usize; scenario.vms.len()];
        for nic in &scenario.nics {
            let vm = nic.vm.index();
            let ns = &names[vm];
            let k = per_vm[vm];
            per_vm[vm] += 1;
            let interface = format!("eth{k}");
            let prefix_len = scenario.subnets[nic.subnet.index()].prefix.prefix_len();
            let tun = Tun::create(TUN_TEMPLATE).map_err(|e| {
                let message = format!("cannot create a TUN interface: {e}");
                if e.kind() == ErrorKind::PermissionDenied {
                    NetnsError::Unavailable(message)
                } else {
                    NetnsError::Failed(message)
                }
            })?;
            let address = format!("{}/{prefix_len}", nic.ip);
            let steps: [&[&str]; 4] = [
                &["link", "set", tun.name(), "netns", ns],
                &["-n", ns, "link", "set", tun.name(), "name", &interface],
                &["-n", ns, "address", "add", &address, "dev", &interface],
                &["-n", ns, "link", "set", &interface, "up"],
            ];
            for step in steps {
                ip(step).map_err(NetnsError::Failed)?;
            }
            if k == 0 {
                ip(&["-n", ns, "route", "add", "default", "dev", &interface])
                    .map_err(NetnsError::Failed)?;
            }
            tracing::info!(nic = %nic.name, namespace = %ns, %interface, %address, "NIC attached");
            entries.push(NetnsEntry {
                nic: nic.name.clone(),
                vm: scenario.vms[vm].name.to_string(),
                namespace: ns.clone(),
                interface,
                ip: nic.ip,
                prefix_len,
            });
            tuns.push(tun);
        }
        Ok(NetnsFabric {
            tuns,
            fabric: Fabric::new(scenario),
            clock,
            map: NetnsMap {
                format: NETNS_MAP_FORMAT,
                scenario: scenario.name.clone(),
                prefix: prefix.to_string(),
                nics: entries,
            },
            cleanup,
        })
    }

    /// Which namespace and interface stand for which NIC.
    pub fn netns_map(&self) -> &NetnsMap {
        &self.map
    }

    /// The fabric (to attach a capture before running).
    pub fn fabric_mut(&mut self) -> &mut Fabric {
        &mut self.fabric
    }

    /// Forwards packets in real time until `shutdown` completes (Ctrl-C, a duration, a test's
    /// signal), then closes the interfaces, deletes the namespaces and returns what happened.
    pub async fn run(self, options: RunOptions, shutdown: impl Future<Output = ()>) -> NetnsRun {
        let NetnsFabric {
            tuns,
            fabric,
            clock,
            map: _,
            mut cleanup,
        } = self;
        let mut devices = Vec::with_capacity(tuns.len());
        for tun in tuns {
            let name = tun.name().to_string();
            match tun.into_async() {
                Ok(t) => devices.push(Some(Arc::new(t))),
                Err(e) => {
                    tracing::warn!(interface = %name, error = %e, "cannot poll the interface");
                    devices.push(None);
                }
            }
        }
        let (inbox, intake) = clock.inbox::<(u32, Vec<u8>)>();
        let mut readers = Vec::with_capacity(devices.len());
        for (i, device) in devices.iter().enumerate() {
            let Some(device) = device.clone() else {
                continue;
            };
            let inbox = inbox.clone();
            readers.push(tokio::spawn(async move {
                let mut buf = vec![0u8; MAX_PACKET];
                loop {
                    match device.recv(&mut buf).await {
                        Ok(n) if n > 0 && buf[0] >> 4 == 4 => {
                            if !inbox.send((i as u32, buf[..n].to_vec())).await {
                                break;
                            }
                        }
                        Ok(n) => tracing::trace!(nic = i, bytes = n, "non-IPv4 frame ignored"),
                        Err(e) => {
                            tracing::warn!(nic = i, error = %e, "interface read failed");
                            break;
                        }
                    }
                }
            }));
        }
        drop(inbox);
        let endpoints = TunEndpoints {
            devices: devices.clone(),
        };
        let (fabric, endpoints, now) = drive(
            clock,
            fabric,
            endpoints,
            intake,
            options.stats_every,
            shutdown,
        )
        .await;
        let report = fabric.report(now, "netns");
        for r in readers {
            r.abort();
            let _ = r.await;
        }
        // The last references: the interfaces go with their descriptors.
        drop(endpoints);
        drop(devices);
        let leftovers = cleanup.run();
        NetnsRun { report, leftovers }
    }
}

/// Namespace mode's endpoints: a delivery is written to the NIC's TUN device.
struct TunEndpoints {
    devices: Vec<Option<Arc<tun::AsyncTun>>>,
}

impl Endpoints for TunEndpoints {
    type Msg = (u32, Vec<u8>);

    fn received(&mut self, (nic, bytes): Self::Msg) -> Option<(NicId, Vec<u8>)> {
        Some((NicId(nic), bytes))
    }

    fn deliver(&mut self, d: &Delivery) -> bool {
        let Some(device) = self.devices.get(d.nic.index()).and_then(Option::as_ref) else {
            return false;
        };
        if let Err(e) = device.send_now(&d.bytes) {
            tracing::warn!(nic = d.nic.0, error = %e, "interface write failed");
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = "
name: names
vnets:
  - { name: v, address_space: [10.10.0.0/16], subnets: [ { name: s, prefix: 10.10.0.0/24 } ] }
vms:
  - { name: web/1, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.10.0.4 } ] }
  - { name: web:1, size: Standard_D2s_v3, nics: [ { name: b-nic, vnet: v, subnet: s, ip: 10.10.0.5 } ] }
  - { name: db.1, size: Standard_D2s_v3, nics: [ { name: c-nic, vnet: v, subnet: s, ip: 10.10.0.6 } ] }
";

    fn scenario() -> Scenario {
        vnetsim_scenario::load_str(SCENARIO, "names.yaml").expect("loads")
    }

    #[test]
    fn vm_names_become_unique_safe_namespace_names() {
        let names = namespace_names(&scenario(), "p");
        assert_eq!(names, ["p-web-1", "p-web-1-1", "p-db.1"]);
        assert_eq!(sanitize(".."), "vm");
        assert_eq!(sanitize(&"x".repeat(100)).len(), MAX_VM_PART);
    }

    #[test]
    fn the_default_prefix_is_stable_and_short() {
        let sc = scenario();
        let p = default_prefix(&sc);
        assert_eq!(p, default_prefix(&sc));
        assert_eq!(p.len(), 6);
        assert!(p.starts_with("vn"));
        assert!(check_prefix(&p).is_ok());
    }

    #[test]
    fn this_process_is_alive_and_an_impossible_one_is_not() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(1 << 30));
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in ["", "-x", "a/b", "a b", &"x".repeat(MAX_PREFIX + 1)] {
            assert!(
                matches!(check_prefix(bad), Err(NetnsError::Failed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_map_renders_a_table_and_a_command_to_try() {
        let entry = |nic: &str, vm: &str, ip: [u8; 4]| NetnsEntry {
            nic: nic.into(),
            vm: vm.into(),
            namespace: format!("p-{vm}"),
            interface: "eth0".into(),
            ip: Ipv4Addr::from(ip),
            prefix_len: 24,
        };
        let map = NetnsMap {
            format: NETNS_MAP_FORMAT,
            scenario: "s".into(),
            prefix: "p".into(),
            nics: vec![
                entry("a-nic", "a", [10, 10, 0, 4]),
                entry("b-nic", "b", [10, 20, 0, 4]),
            ],
        };
        let text = map.render_text();
        assert!(
            text.contains("p-a        eth0       a-nic  a   10.10.0.4/24"),
            "{text}"
        );
        assert!(
            text.contains("try: ip netns exec p-a ping -c 3 10.20.0.4"),
            "{text}"
        );
        assert_eq!(map.namespace_of("b-nic"), Some("p-b"));
        assert_eq!(map.namespace_of("b"), Some("p-b"));
    }
}
