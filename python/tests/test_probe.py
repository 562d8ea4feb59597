"""Probes and explanations: verdicts, hops, times, and the errors of bad arguments."""

import datetime

import pytest

import vnetsim


def test_spoke_to_spoke_goes_through_the_appliance(hub):
    v = hub.probe("web1", "db1", protocol="tcp", dst_port=1433)
    assert v.delivered and not v.dropped
    assert v.reason is None
    assert v.delivered_to == "db1"
    assert v.path == ["web1", "nva1", "db1"]
    assert [h.kind for h in v.hops] == [
        "send", "nsg", "route", "peering", "arrive", "forward", "route", "peering", "arrive",
        "nsg", "deliver",
    ]
    route = v.hops[2]
    assert route.place == "spoke1/app"
    assert route.route["prefix"] == "10.2.0.0/16"
    assert route.route["next_hop_type"] == "VirtualAppliance"
    assert route.route["next_hop_ip"] == "10.0.1.4"
    assert v.hops[1].rule["rule"] == "allow-spokes-out"
    assert v.hops[1].rule["priority"] == 200
    assert v.allowed_by == [
        "spoke-nsg allow-spokes-out (priority 200)",
        "spoke-nsg allow-spokes-in (priority 200)",
    ]
    assert repr(v) == "<Verdict delivered tcp web1 -> db1:1433 via web1 -> nva1 -> db1>"
    assert "Hop('route', 'spoke1/app'" in repr(v.hops[2])


def test_a_drop_names_its_reason_and_the_switch_behind_it(hub):
    v = hub.probe("web1", "batch1", protocol="tcp", dst_port=443)
    assert v.dropped
    assert v.reason == "forwarded-traffic-blocked"
    assert "allow_forwarded_traffic" in v.detail
    assert v.hops[-1].kind == "drop"
    assert "forwarded-traffic-blocked" in repr(v)
    assert v.explanation["verdict"] == "dropped"


def test_explain_is_the_text_of_vnetsim_explain(hub):
    text = hub.explain("web1", "db1", protocol="tcp", dst_port=1433)
    lines = text.splitlines()
    assert lines[0] == "web1 (10.1.1.4) -> db1 (10.2.1.4) tcp 49152 -> 1433"
    assert "route 10.2.0.0/16 -> VirtualAppliance 10.0.1.4 (User, to-spoke2)" in text
    assert lines[-1] == "verdict: delivered to db1; path web1 -> nva1 -> db1"
    # The connection is open now: the same packet again passes on NSG flow records.
    again = hub.explain("web1", "db1", protocol="tcp", dst_port=1433)
    assert "existing flow record" in again
    hub.reset_flows()
    assert str(hub.probe("web1", "db1", protocol="tcp", dst_port=1433)) == text


def test_probes_at_a_time_see_the_timed_events_up_to_then(scenarios):
    scn = vnetsim.load(scenarios / "peering-removed.yaml")
    assert scn.probe("vm-a", "vm-b", at="100ms").delivered
    assert scn.probe("vm-a", "vm-b", at=0.6).reason == "no-route"
    assert scn.probe("vm-a", "vm-b", at=datetime.timedelta(milliseconds=600)).reason == "no-route"
    assert scn.probe("vm-a", "vm-b", at="900ms").delivered


def test_udp_icmp_and_ports(hub):
    v = hub.probe("web1", "db1", protocol="UDP", dst_port=53, src_port=5353)
    assert v.explanation["protocol"] == "udp"
    assert v.explanation["src_port"] == 5353 and v.explanation["dst_port"] == 53
    icmp = hub.probe("web1", "db1")
    assert icmp.explanation["protocol"] == "icmp"
    assert icmp.explanation["dst_port"] is None
    assert hub.probe("web1", "db1", protocol="tcp").explanation["dst_port"] == 80


def test_probes_share_flow_state_until_reset(scenarios):
    # web1's NSG denies everything inbound from the data VNet: db1 reaches web1 only as the
    # reply of a connection web1 opened (stateful NSGs, as in the Rust harness).
    scn = vnetsim.load(scenarios / "probe-sees-open-connections.yaml")
    back = dict(protocol="tcp", src_port=5432, dst_port=50001)
    assert scn.probe("db1", "web1", **back).reason == "nsg-denied"
    assert scn.probe("web1", "db1", protocol="tcp", src_port=50001, dst_port=5432).delivered
    assert scn.probe("db1", "web1", **back).delivered
    scn.reset_flows()
    assert scn.probe("db1", "web1", **back).reason == "nsg-denied"


def test_an_unknown_endpoint_is_a_lookup_error_with_a_hint(hub):
    with pytest.raises(vnetsim.NameNotFoundError) as err:
        hub.probe("web1", "db11")
    assert isinstance(err.value, LookupError)
    assert err.value.name == "db11"
    assert "did you mean `db1`?" in str(err.value)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"protocol": "sctp"}, ValueError),
        ({"protocol": "icmp", "dst_port": 22}, ValueError),
        ({"protocol": "tcp", "dst_port": 70000}, ValueError),
        ({"protocol": "tcp", "dst_port": "22"}, TypeError),
        ({"at": "10 parsecs"}, ValueError),
        ({"at": "10"}, ValueError),
        ({"at": -1}, ValueError),
        ({"at": float("nan")}, ValueError),
        ({"at": float("inf")}, ValueError),
        ({"at": 10**12}, ValueError),
        ({"at": [1]}, TypeError),
    ],
)
def test_bad_arguments_raise_python_errors(hub, kwargs, error):
    with pytest.raises(error):
        hub.probe("web1", "db1", **kwargs)
