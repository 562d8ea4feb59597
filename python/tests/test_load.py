"""Loading scenarios: from a path or YAML text, and the errors a bad one raises."""

import pathlib

import pytest

import vnetsim

TWO_VNETS = """
name: two-peered-vnets
vnets:
  - { name: vnet-a, address_space: [10.10.0.0/16], subnets: [ { name: default, prefix: 10.10.0.0/24 } ] }
  - { name: vnet-b, address_space: [10.20.0.0/16], subnets: [ { name: default, prefix: 10.20.0.0/24 } ] }
vms:
  - { name: vm-a, size: Standard_D2s_v3, nics: [ { name: vm-a-nic, vnet: vnet-a, subnet: default, ip: 10.10.0.4 } ] }
  - { name: vm-b, size: Standard_D2s_v3, nics: [ { name: vm-b-nic, vnet: vnet-b, subnet: default, ip: 10.20.0.4 } ] }
peerings:
  - { name: a-to-b, from: vnet-a, to: vnet-b }
  - { name: b-to-a, from: vnet-b, to: vnet-a }
"""


def test_a_path_as_str_or_pathlib_loads(scenarios):
    for source in (scenarios / "hub-and-spoke.yaml", str(scenarios / "hub-and-spoke.yaml")):
        scn = vnetsim.load(source)
        assert scn.name == "hub-and-spoke"
        assert "web1" in scn.vms and "db1" in scn.vms
        assert repr(scn).startswith("<vnetsim.Scenario 'hub-and-spoke'")


def test_yaml_text_loads():
    scn = vnetsim.load(TWO_VNETS)
    assert scn.name == "two-peered-vnets"
    assert scn.vms == ["vm-a", "vm-b"]
    assert scn.probe("vm-a", "vm-b", protocol="tcp", dst_port=443).path == ["vm-a", "vm-b"]


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        vnetsim.load(tmp_path / "nope.yaml")
    assert err.value.filename == str(tmp_path / "nope.yaml")


def test_a_broken_rule_raises_scenario_error_with_its_diagnostics():
    bad = TWO_VNETS.replace("10.20.0.0/16], subnets: [ { name: default, prefix: 10.20.0.0/24",
                            "10.10.0.0/16], subnets: [ { name: default, prefix: 10.10.1.0/24")
    with pytest.raises(vnetsim.ScenarioError) as err:
        vnetsim.load(bad)
    e = err.value
    assert isinstance(e, ValueError) and isinstance(e, vnetsim.VnetsimError)
    assert e.diagnostics, "at least one diagnostic"
    assert "peering-address-overlap" in e.rules
    d = next(d for d in e.diagnostics if d.rule == "peering-address-overlap")
    assert d.file == "<inline>"
    assert d.line > 0 and d.column > 0
    assert [x.line for x in e.diagnostics] == sorted(x.line for x in e.diagnostics)
    assert d.rule in str(e)
    assert str(d).startswith(f"<inline>:{d.line}:{d.column}:")


def test_a_file_with_an_error_names_the_file_and_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nvnets:\n  - { name: v, address_space: [10.0.0.0/33], subnets: [] }\n")
    with pytest.raises(vnetsim.ScenarioError) as err:
        vnetsim.load(f)
    d = err.value.diagnostics[0]
    assert pathlib.Path(d.file).name == "bad.yaml"
    assert d.line == 3
    assert d.path.startswith("vnets[0]")


def test_an_unknown_field_is_a_diagnostic_too():
    with pytest.raises(vnetsim.ScenarioError) as err:
        vnetsim.load("name: x\nvnetz: []\n")
    assert err.value.diagnostics[0].line == 2


def test_load_refuses_what_is_neither_path_nor_text():
    with pytest.raises(TypeError):
        vnetsim.load(42)  # type: ignore[arg-type]
