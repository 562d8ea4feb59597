"""Effective routes and rules (Azure CLI field names), the reachability matrix, and pandas."""

import json
import subprocess

import pytest

import vnetsim

ROUTE_KEYS = ["nic", "source", "state", "addressPrefix", "nextHopType", "nextHopIpAddress",
              "name", "asPath", "note"]


def test_routes_use_the_azure_cli_field_names(hub):
    routes = hub.routes("web1")
    assert isinstance(routes, list) and all(isinstance(r, dict) for r in routes)
    assert all(list(r) == ROUTE_KEYS for r in routes)
    assert {r["nic"] for r in routes} == {"web1-nic"}
    udr = [r for r in routes if r["source"] == "User"]
    assert {"addressPrefix": "10.2.0.0/16", "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": "10.0.1.4", "name": "to-spoke2", "state": "Active"}.items() \
        <= next(r for r in udr if r["addressPrefix"] == "10.2.0.0/16").items()
    peering = next(r for r in routes if r["nextHopType"] == "VNetPeering")
    assert peering["addressPrefix"] == "10.0.0.0/16" and peering["name"] == "spoke1-to-hub"


def test_routes_follow_timed_events(scenarios):
    scn = vnetsim.load(scenarios / "peering-removed.yaml")
    def peering(at):
        return [r for r in scn.routes("vm-a", at=at) if r["nextHopType"] == "VNetPeering"]
    assert len(peering(0)) == 1
    assert peering("600ms") == []
    assert len(peering("900ms")) == 1


def test_rules_in_evaluation_order(hub):
    rules = hub.rules("web1")
    first = rules[0]
    assert first["direction"] == "Inbound" and first["stage"] == "1st"
    assert first["networkSecurityGroup"] == "spoke-nsg"
    assert first["association"] == "subnet spoke1/app"
    names = [r["name"] for r in rules]
    assert "allow-spokes-in" in names and "allow-spokes-out" in names
    allow = next(r for r in rules if r["name"] == "allow-spokes-out")
    assert (allow["priority"], allow["access"], allow["direction"]) == (200, "Allow", "Outbound")
    defaults = [r for r in rules if r["isDefault"]]
    assert [r["name"] for r in defaults][-1] == "DenyAllOutBound"
    for direction in ("Inbound", "Outbound"):
        prios = [r["priority"] for r in rules if r["direction"] == direction]
        assert prios == sorted(prios)


def test_an_unknown_vm_is_a_lookup_error(hub):
    with pytest.raises(vnetsim.NameNotFoundError, match="did you mean `web1`"):
        hub.routes("web11")
    with pytest.raises(vnetsim.NameNotFoundError):
        hub.rules("nobody")


def test_the_matrix_has_every_pair_on_every_port(hub):
    rows = hub.matrix()
    assert list(rows[0]) == ["source", "destination", "protocol", "port", "verdict", "reason",
                             "rule", "path"]
    pairs = {(r["source"], r["destination"]) for r in rows}
    assert len(rows) == len(pairs) * len(vnetsim.DEFAULT_PORTS)
    assert all(s != d for s, d in pairs)
    cell = {(r["source"], r["destination"], r["port"]): r for r in rows}
    ok = cell[("web1", "db1", 1433)]
    assert (ok["verdict"], ok["path"], ok["rule"]) == ("delivered", ["web1", "nva1", "db1"],
                                                       "spoke-nsg/allow-spokes-in")
    ssh = cell[("web1", "db1", 22)]
    assert (ssh["verdict"], ssh["reason"]) == ("dropped", "nsg-denied")
    # Each cell is stateless: the answer is the probe's on a fresh flow table.
    hub.reset_flows()
    assert hub.probe("web1", "db1", protocol="tcp", dst_port=22).reason == ssh["reason"]


def test_the_matrix_selects_groups_and_protocols(hub):
    rows = hub.matrix(ports=[443], sources="web1", destinations=["spoke2"])
    assert {r["source"] for r in rows} == {"web1"}
    assert {r["destination"] for r in rows} == {"db1"}
    icmp = hub.matrix(protocol="icmp", sources=["web1"])
    assert icmp and all(r["port"] is None and r["protocol"] == "icmp" for r in icmp)
    with pytest.raises(vnetsim.NameNotFoundError):
        hub.matrix(sources=["no-such-group"])
    with pytest.raises(ValueError):
        hub.matrix(ports=[])
    with pytest.raises(ValueError):
        hub.matrix(protocol="gre")


def test_the_matrix_rows_are_vnetsim_matrix_json_rows(hub, cli, scenarios):
    out = subprocess.run(
        [str(cli), "matrix", str(scenarios / "hub-and-spoke.yaml"), "--format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert hub.matrix() == json.loads(out)["rows"]


def test_routes_and_rules_are_the_listings_of_the_command_line(hub, cli, scenarios):
    def listed(cmd):
        out = subprocess.run(
            [str(cli), cmd, str(scenarios / "hub-and-spoke.yaml"), "--vm", "nva1", "--format",
             "json"], check=True, capture_output=True, text=True).stdout
        listing = json.loads(out)
        assert listing["format"] == f"vnetsim-{cmd}/1"
        return listing["nics"]
    routes = listed("routes")
    assert [r["addressPrefix"] for r in hub.routes("nva1")] == \
        [r["prefix"] for nic in routes for r in nic["routes"]]
    rules = listed("rules")
    assert [r["name"] for r in hub.rules("nva1")] == \
        [r["name"] for nic in rules for g in nic["groups"] for r in g["rules"]]


def test_rows_become_a_dataframe(hub):
    pandas = pytest.importorskip("pandas")
    df = hub.routes("web1").to_pandas()
    assert isinstance(df, pandas.DataFrame)
    assert list(df.columns) == ROUTE_KEYS
    assert len(df) == len(hub.routes("web1"))
    m = hub.matrix(ports=[1433]).to_pandas()
    assert set(m["verdict"]) <= {"delivered", "dropped"}
