//! UDP mode end to end: real datagrams on loopback ports, carrying real IPv4 packets between
//! two NICs across a peering, one delivered and one denied by an NSG. Every wait is bounded.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::timeout;
use vnetsim_dataplane::wire::{self, PacketSpec, build_probe, build_reply};
use vnetsim_live::{RunOptions, UdpFabric};
use vnetsim_scenario::{Protocol, Scenario};

const WAIT: Duration = Duration::from_secs(5);

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(name);
    vnetsim_scenario::load_file(&path).expect("the example loads")
}

fn tcp_syn(src: Ipv4Addr, dst: Ipv4Addr, dst_port: u16, id: u16) -> Vec<u8> {
    let spec = PacketSpec {
        src,
        dst,
        protocol: Protocol::Tcp,
        src_port: 40000 + id,
        dst_port,
        ttl: 64,
        total_len: 60,
        identification: id,
    };
    let mut buf = vec![0u8; 60];
    let n = build_probe(&mut buf, &spec).expect("builds");
    buf.truncate(n);
    buf
}

async fn recv(socket: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; 65535];
    match timeout(WAIT, socket.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) => Some((buf[..n].to_vec(), from)),
        _ => None,
    }
}

#[tokio::test]
async fn a_packet_crosses_the_peering_and_the_nsg_denies_another() {
    // app1 (10.50.1.4, vnet-app) and sql1 (10.60.2.4, vnet-data) are peered; the data subnet's
    // NSG allows TCP 1433 from vnet-app and denies the rest of vnet-app.
    let fabric = UdpFabric::bind(&scenario("nsg-blocks-peer.yaml"), 0)
        .await
        .expect("binds loopback ports");
    let map = fabric.port_map().clone();
    let app_port = map.addr_of("app1-nic").unwrap();
    let sql_port = map.addr_of("sql1").unwrap();
    assert!(map.nics.iter().all(|e| e.port != 0));
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(fabric.run(RunOptions::default(), async {
        let _ = stopped.await;
    }));

    let app = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sql = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // sql1's program registers with an empty datagram, so deliveries know where to go.
    sql.send_to(&[], sql_port).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let (app_ip, sql_ip) = (Ipv4Addr::new(10, 50, 1, 4), Ipv4Addr::new(10, 60, 2, 4));
    let allowed = tcp_syn(app_ip, sql_ip, 1433, 1);
    let denied = tcp_syn(app_ip, sql_ip, 22, 2);
    app.send_to(&denied, app_port).await.unwrap();
    app.send_to(&allowed, app_port).await.unwrap();
    app.send_to(b"not an IPv4 packet", app_port).await.unwrap();

    let (got, from) = recv(&sql)
        .await
        .expect("the 1433 packet is delivered within 5 s");
    assert_eq!(from, sql_port, "delivered from sql1's NIC port");
    assert_eq!(
        got, allowed,
        "the packet arrives unchanged (no appliance on the way)"
    );
    let meta = wire::parse(&got).unwrap();
    assert_eq!(meta.key.dst_port, 1433);

    // sql1 answers with a SYN-ACK; app1 registered by sending, so the reply reaches it.
    let mut reply = vec![0u8; 60];
    let n = build_reply(&mut reply, &meta, 60).unwrap();
    sql.send_to(&reply[..n], sql_port).await.unwrap();
    let (back, from) = recv(&app).await.expect("the reply is delivered within 5 s");
    assert_eq!(from, app_port);
    assert_eq!(wire::parse(&back).unwrap().key, meta.key.reverse());

    // Nothing else arrives at sql1: the port 22 packet was denied.
    let mut buf = [0u8; 100];
    assert!(
        timeout(Duration::from_millis(300), sql.recv_from(&mut buf))
            .await
            .is_err()
    );

    stop.send(()).unwrap();
    let report = timeout(WAIT, running)
        .await
        .expect("stops within 5 s")
        .unwrap();
    let c = report.conservation;
    assert_eq!((c.sent, c.delivered, c.dropped, c.in_flight), (4, 2, 2, 0));
    assert_eq!(report.drops_by_reason.get("nsg-denied"), Some(&1));
    assert_eq!(report.drops_by_reason.get("malformed"), Some(&1));
    let app1 = report.nic("app1-nic").unwrap();
    assert_eq!(
        (
            app1.counters.tx_packets,
            app1.counters.rx_packets,
            app1.malformed
        ),
        (3, 1, 1)
    );
    let sql1 = report.nic("sql1-nic").unwrap();
    assert_eq!((sql1.counters.tx_packets, sql1.counters.rx_packets), (1, 1));
    assert_eq!(report.mode, "udp");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["format"], "vnetsim-live-report/1");
    assert_eq!(json["nics"][0]["nic"], "app1-nic");
    assert_eq!(json["nics"][0]["malformed"], 1);
}

#[tokio::test]
async fn a_delivery_before_anyone_listens_is_counted_and_the_run_stops_on_time() {
    let fabric = UdpFabric::bind(&scenario("basic-peering.yaml"), 0)
        .await
        .unwrap();
    let a = fabric.port_map().addr_of("vm-a").unwrap();
    // The 400 ms run starts counting once the datagram is on its way, so a slow machine cannot
    // stop the run before the fabric has read it.
    let (sent, on_sent) = oneshot::channel::<()>();
    let running = tokio::spawn(fabric.run(RunOptions::default(), async move {
        let _ = on_sent.await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let packet = tcp_syn(
        Ipv4Addr::new(10, 10, 0, 4),
        Ipv4Addr::new(10, 20, 0, 4),
        443,
        1,
    );
    client.send_to(&packet, a).await.unwrap();
    sent.send(()).unwrap();
    let report = timeout(WAIT, running)
        .await
        .expect("stops by itself")
        .unwrap();
    assert!(report.wall_ns >= 400_000_000);
    assert_eq!(report.conservation.delivered, 1);
    assert_eq!(report.nic("vm-b-nic").unwrap().no_listener, 1);
}

#[tokio::test]
async fn ports_follow_the_base_port_in_nic_order() {
    // Find a free run of ports: try bases until one run of five is free (another program may
    // hold a port of a run; a hundred busy runs in a row would be a real failure).
    let sc = scenario("hub-and-spoke.yaml");
    let mut found = None;
    for base in (20000..40000u16).step_by(200).take(100) {
        if let Ok(fabric) = UdpFabric::bind(&sc, base).await {
            found = Some((base, fabric));
            break;
        }
    }
    let (base, fabric) = found.expect("a free run of five loopback UDP ports");
    let map = fabric.port_map();
    let ports: Vec<u16> = map.nics.iter().map(|e| e.port).collect();
    let expected: Vec<u16> = (0..sc.nics.len() as u16).map(|i| base + i).collect();
    assert_eq!(ports, expected);
    assert_eq!(map.port_of("web1"), Some(base + 2));
    let json = serde_json::to_value(map).unwrap();
    assert_eq!(json["format"], "vnetsim-ports/1");
    assert_eq!(json["address"], "127.0.0.1");
    assert_eq!(json["nics"][2]["nic"], "web1-nic");
    assert_eq!(json["nics"][2]["ip"], "10.1.1.4");
    assert!(map.render_text().contains("web1-nic"));

    let err = UdpFabric::bind(&sc, 65533).await.unwrap_err();
    assert!(err.to_string().contains("passes 65535"), "{err}");
}

/// Another local process cannot take a NIC over by sending to its port: the first program
/// keeps the deliveries, the intruder's datagrams are refused and counted; with
/// `allow_rebind` the last sender wins.
async fn intruder_run(allow_rebind: bool) -> (bool, bool, vnetsim_live::LiveReport) {
    let fabric = UdpFabric::bind(&scenario("basic-peering.yaml"), 0)
        .await
        .unwrap();
    let map = fabric.port_map().clone();
    let (a_port, b_port) = (map.addr_of("vm-a").unwrap(), map.addr_of("vm-b").unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let options = RunOptions {
        allow_rebind,
        ..RunOptions::default()
    };
    let running = tokio::spawn(fabric.run(options, async {
        let _ = stopped.await;
    }));
    let owner = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let intruder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    owner.send_to(&[], b_port).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    intruder.send_to(&[], b_port).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let syn = tcp_syn(
        Ipv4Addr::new(10, 10, 0, 4),
        Ipv4Addr::new(10, 20, 0, 4),
        443,
        1,
    );
    sender.send_to(&syn, a_port).await.unwrap();
    let mut buf = [0u8; 1500];
    let quick = Duration::from_millis(1500);
    let owner_got = timeout(quick, owner.recv_from(&mut buf)).await.is_ok();
    let intruder_got = timeout(Duration::from_millis(300), intruder.recv_from(&mut buf))
        .await
        .is_ok();
    stop.send(()).unwrap();
    let report = timeout(WAIT, running).await.unwrap().unwrap();
    (owner_got, intruder_got, report)
}

#[tokio::test]
async fn the_first_program_keeps_its_nic() {
    let (owner_got, intruder_got, report) = intruder_run(false).await;
    assert!(
        owner_got && !intruder_got,
        "the first program gets the packet"
    );
    let b = report.nic("vm-b-nic").unwrap();
    assert_eq!(b.foreign_senders, 1);
    assert_eq!(b.dropped_by_kernel, 0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["nics"][1]["foreign_senders"], 1);
}

#[tokio::test]
async fn allow_rebind_lets_the_last_sender_take_the_nic() {
    let (owner_got, intruder_got, report) = intruder_run(true).await;
    assert!(
        !owner_got && intruder_got,
        "the last sender gets the packet"
    );
    assert_eq!(report.nic("vm-b-nic").unwrap().foreign_senders, 0);
}
