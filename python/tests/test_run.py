"""Replays: the report dict (the JSON of `vnetsim run --report`), its helpers, determinism."""

import json
import subprocess

import pytest

import vnetsim


@pytest.fixture
def latency(scenarios):
    return vnetsim.load(scenarios / "peered-latency.yaml")


def test_the_report_is_the_run_report_as_a_dict(latency):
    report = latency.run()
    assert isinstance(report, dict)
    assert report["format"] == "vnetsim-report/1"
    assert report["scenario"] == "peered-latency"
    c = report["conservation"]
    assert c["sent"] == c["delivered"] + c["dropped"] + c["in_flight"]
    assert report == json.loads(report.json)
    assert report.json.endswith("}\n")
    assert report.passed


def test_the_same_seed_gives_the_same_report(latency):
    a, b = latency.run(seed=7), latency.run(seed=7)
    assert a.json == b.json
    assert a["seed"] == 7
    assert latency.run(seed=8)["seed"] == 8


def test_the_report_is_byte_identical_to_the_command_lines(latency, cli, scenarios, tmp_path):
    out = tmp_path / "report.json"
    subprocess.run(
        [str(cli), "run", str(scenarios / "peered-latency.yaml"), "--seed", "3", "--report",
         str(out)], check=True, capture_output=True,
    )
    assert latency.run(seed=3).json == out.read_text()
    assert latency.run(seed=3, latency_cdf=True).json == out.read_text()


def test_throughput_and_latency_rows(latency):
    report = latency.run(seed=1)
    tput = {r["flow"]: r for r in report.throughput()}
    assert set(tput) == {"ping-local", "ping-peer"}
    local = tput["ping-local"]
    assert local["sent"] == local["delivered"] == report.flow("ping-local")["sent"]
    assert local["dropped"] == 0 and local["delivered_ratio"] == 1
    assert local["throughput_bps"] == report.flow("ping-local")["throughput_bps"]
    lat = {r["flow"]: r for r in report.latency()}
    p50_ns = report.flow("ping-peer")["latency_ns"]["p50"]
    assert lat["ping-peer"]["p50"] == p50_ns / 1e3
    assert {r["flow"]: r for r in report.latency("ns")}["ping-peer"]["p50"] == p50_ns
    # The scenario's own expectation: a peered round trip equals one inside a VNet (>= 30 us).
    assert lat["ping-local"]["p50"] >= 30
    with pytest.raises(ValueError):
        report.latency("fortnights")


def test_latency_cdf_points(latency):
    report = latency.run(seed=1, latency_cdf=True)
    points = report.latency_cdf("ping-peer")
    xs = [x for x, _ in points]
    fs = [f for _, f in points]
    assert xs == sorted(xs) and fs == sorted(fs)
    assert fs[-1] == 1.0
    f = report.flow("ping-peer")["latency_ns"]
    assert xs[0] * 1e3 == pytest.approx(f["min"], rel=1e-2)
    assert xs[-1] * 1e3 == pytest.approx(f["max"], rel=1e-2)
    median = report.percentile("ping-peer", 0.5)
    assert median * 1e3 == pytest.approx(f["p50"], rel=1e-2)
    with pytest.raises(ValueError):
        latency.run(seed=1).latency_cdf("ping-peer")
    with pytest.raises(vnetsim.NameNotFoundError):
        report.latency_cdf("no-such-flow")


def test_bad_seeds(latency):
    with pytest.raises(ValueError):
        latency.run(seed=-1)
    with pytest.raises(TypeError):
        latency.run(seed="1")  # type: ignore[arg-type]


def test_a_run_over_the_packet_limit_is_refused():
    huge = """
name: huge
vnets:
  - { name: v, address_space: [10.0.0.0/16], subnets: [ { name: s, prefix: 10.0.0.0/24 } ] }
vms:
  - { name: a, size: Standard_D2s_v3, nics: [ { name: a-nic, vnet: v, subnet: s, ip: 10.0.0.4 } ] }
  - { name: b, size: Standard_D2s_v3, nics: [ { name: b-nic, vnet: v, subnet: s, ip: 10.0.0.5 } ] }
traffic:
  - { name: flood, from: a, to: b, protocol: udp, dst_port: 9, rate: 10000Mpps, packet_size: 64, start: 0s, duration: 1000s }
"""
    scn = vnetsim.load(huge)
    with pytest.raises(ValueError, match="force=True"):
        scn.run()
