//! NSGs are stateful [nsg-overview], [security-overview]: a flow record is kept for each allowed
//! connection, and its return traffic is admitted without rule checks; a new connection in the
//! reverse direction is still evaluated against the rules.

mod common;

use common::{Net, dropped, nsg_passes};
use vnetsim_dataplane::nsg::RuleRef;
use vnetsim_dataplane::pipeline::{DropCause, FLOW_IDLE_TIMEOUT, NsgDecision, NsgPoint};
use vnetsim_dataplane::probe::{ProbeResult, run_probe};
use vnetsim_dataplane::{Destination, FlowTable, Outcome};
use vnetsim_scenario::{Direction, DropReason, Nanos, Probe, Protocol};

/// `client` (NIC NSG `client-nsg`) and `server` (NIC NSG `server-nsg`) in one VNet.
fn net(client_rules: &str, server_rules: &str) -> Net {
    Net::new(&format!(
        r#"
name: stateful
vnets:
  - name: v
    address_space: [10.0.0.0/16]
    subnets:
      - {{ name: front, prefix: 10.0.1.0/24 }}
      - {{ name: back, prefix: 10.0.2.0/24 }}
vms:
  - {{ name: client, size: Standard_D2s_v3, nics: [ {{ name: client-nic, subnet: v/front, ip: 10.0.1.4, nsg: client-nsg }} ] }}
  - {{ name: server, size: Standard_D2s_v3, nics: [ {{ name: server-nic, subnet: v/back, ip: 10.0.2.4, nsg: server-nsg }} ] }}
nsgs:
  - {{ name: client-nsg, rules: {client_rules} }}
  - {{ name: server-nsg, rules: {server_rules} }}
"#
    ))
}

const DENY_ALL_IN: &str =
    "[ { name: deny-all-in, priority: 100, direction: inbound, access: deny, protocol: '*' } ]";
const DENY_ALL_OUT: &str =
    "[ { name: deny-all-out, priority: 100, direction: outbound, access: deny, protocol: '*' } ]";

fn tcp(
    net: &Net,
    from: &str,
    to: &str,
    src_port: u16,
    dst_port: u16,
    at: Nanos,
    flows: &mut FlowTable,
) -> ProbeResult {
    let probe = Probe {
        from: net.endpoint(from),
        to: net.endpoint(to),
        protocol: Protocol::Tcp,
        src_port,
        dst_port,
        at,
    };
    run_probe(&net.sc, &net.dp, &probe, 1, flows)
}

const SECOND: Nanos = 1_000_000_000;

/// A client whose NIC NSG denies every inbound packet still receives the replies of the
/// connection it opened; without the flow record the same reply is denied.
#[test]
fn reply_of_an_allowed_outbound_flow_passes_a_deny_all_inbound_nsg() {
    let net = net(DENY_ALL_IN, "[]");
    let client = net.nic("client-nic");
    let mut flows = FlowTable::new();
    let request = tcp(&net, "client", "server", 49152, 80, 0, &mut flows);
    assert_eq!(
        request.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("server-nic")))
    );
    assert!(!flows.is_empty());

    let reply = tcp(&net, "server", "client", 80, 49152, SECOND, &mut flows);
    assert_eq!(
        reply.outcome,
        Outcome::Delivered(Destination::Nic(client)),
        "{:#?}",
        reply.steps
    );
    assert!(
        nsg_passes(&reply.steps).contains(&(
            NsgPoint::Nic(client),
            net.nsg("client-nsg"),
            NsgDecision::FlowRecord
        )),
        "{:#?}",
        reply.steps
    );

    // The same reply without the flow record meets the deny-all rule.
    let cold = tcp(
        &net,
        "server",
        "client",
        80,
        49152,
        SECOND,
        &mut FlowTable::new(),
    );
    let denied = DropCause::Nsg {
        point: NsgPoint::Nic(client),
        nsg: net.nsg("client-nsg"),
        direction: Direction::Inbound,
        rule: RuleRef::User(0),
    };
    assert_eq!(dropped(&cold), (DropReason::NsgDenied, denied));
}

/// The flow record admits the reverse 5-tuple only: a new connection from the server to the
/// client is still evaluated against the rules and denied.
#[test]
fn new_connection_in_the_reverse_direction_is_still_denied() {
    let net = net(DENY_ALL_IN, "[]");
    let client = net.nic("client-nic");
    let mut flows = FlowTable::new();
    let request = tcp(&net, "client", "server", 49152, 80, 0, &mut flows);
    assert!(matches!(request.outcome, Outcome::Delivered(_)));
    let denied = DropCause::Nsg {
        point: NsgPoint::Nic(client),
        nsg: net.nsg("client-nsg"),
        direction: Direction::Inbound,
        rule: RuleRef::User(0),
    };
    // Server-initiated connection to the client's port 80.
    let fresh = tcp(&net, "server", "client", 49152, 80, SECOND, &mut flows);
    assert_eq!(dropped(&fresh), (DropReason::NsgDenied, denied));
    // Same ports as the reply but another source port: not the recorded flow either.
    let other = tcp(&net, "server", "client", 81, 49152, SECOND, &mut flows);
    assert_eq!(dropped(&other), (DropReason::NsgDenied, denied));
}

/// The reverse holds too [nsg-overview]: a server whose NIC NSG denies every outbound packet
/// still answers a connection it accepted.
#[test]
fn reply_of_an_allowed_inbound_flow_passes_a_deny_all_outbound_nsg() {
    let net = net("[]", DENY_ALL_OUT);
    let server = net.nic("server-nic");
    let mut flows = FlowTable::new();
    assert!(matches!(
        tcp(&net, "client", "server", 49152, 443, 0, &mut flows).outcome,
        Outcome::Delivered(_)
    ));
    let reply = tcp(&net, "server", "client", 443, 49152, SECOND, &mut flows);
    assert_eq!(
        reply.outcome,
        Outcome::Delivered(Destination::Nic(net.nic("client-nic")))
    );
    assert!(nsg_passes(&reply.steps).contains(&(
        NsgPoint::Nic(server),
        net.nsg("server-nsg"),
        NsgDecision::FlowRecord
    )));
    // The server cannot open a connection of its own.
    let own = tcp(&net, "server", "client", 50000, 22, SECOND, &mut flows);
    let denied = DropCause::Nsg {
        point: NsgPoint::Nic(server),
        nsg: net.nsg("server-nsg"),
        direction: Direction::Outbound,
        rule: RuleRef::User(0),
    };
    assert_eq!(dropped(&own), (DropReason::NsgDenied, denied));
}

/// [security-overview] Flows end once idle: a reply after the idle timeout is a new packet to
/// the rules.
#[test]
fn flow_record_expires_after_the_idle_timeout() {
    let net = net(DENY_ALL_IN, "[]");
    let mut flows = FlowTable::new();
    assert!(matches!(
        tcp(&net, "client", "server", 49152, 80, 0, &mut flows).outcome,
        Outcome::Delivered(_)
    ));
    let late = tcp(
        &net,
        "server",
        "client",
        80,
        49152,
        FLOW_IDLE_TIMEOUT + SECOND,
        &mut flows,
    );
    assert_eq!(dropped(&late).0, DropReason::NsgDenied);
    // Within the timeout it passes.
    let mut flows = FlowTable::new();
    assert!(matches!(
        tcp(&net, "client", "server", 49152, 80, 0, &mut flows).outcome,
        Outcome::Delivered(_)
    ));
    let timely = tcp(
        &net,
        "server",
        "client",
        80,
        49152,
        FLOW_IDLE_TIMEOUT - SECOND,
        &mut flows,
    );
    assert!(matches!(timely.outcome, Outcome::Delivered(_)));
}
