"""ARM templates imported as scenarios, from a file, JSON text or a dict."""

import json

import pytest

import vnetsim


@pytest.fixture
def peering_template(repo):
    return repo / "crates/vnetsim-import/tests/data/quickstart/vnet-to-vnet-peering/azuredeploy.json"


VMS = """
  - { name: vm1, size: Standard_D2s_v3, nics: [ { name: vm1-nic, subnet: %s/subnet1, ip: 10.0.0.4 } ] }
  - { name: vm2, size: Standard_D2s_v3, nics: [ { name: vm2-nic, subnet: %s/subnet1, ip: 192.168.0.4 } ] }
"""


def with_vms(scn, a="vNet1", b="vNet2"):
    """The imported scenario with a VM in each VNet."""
    text = scn.yaml
    if "\nvms:\n" in text:
        text = text.replace("\nvms:\n", "\nvms:\n" + (VMS % (a, b)).lstrip("\n"), 1)
    else:
        text += "\nvms:\n" + (VMS % (a, b)).lstrip("\n")
    return vnetsim.load(text)


def test_a_template_file_imports_and_its_vnets_peer(peering_template):
    scn = vnetsim.import_arm(peering_template, name="peering")
    assert scn.name == "peering"
    assert "vNet1" in scn.yaml and "vNet2" in scn.yaml
    assert "from the ARM template azuredeploy.json." in scn.yaml
    assert isinstance(scn.warnings, list)
    v = with_vms(scn).probe("vm1", "vm2", protocol="tcp", dst_port=443)
    assert v.delivered and v.path == ["vm1", "vm2"]


def test_parameters_and_overrides(peering_template):
    template = json.loads(peering_template.read_text())
    by_values = vnetsim.import_arm(template, parameters={"vnet1Name": "alpha"})
    assert "alpha" in by_values.yaml and "vNet1" not in by_values.yaml
    by_set = vnetsim.import_arm(json.dumps(template), set={"vnet2Name": "beta"})
    assert "beta" in by_set.yaml and "vNet2" not in by_set.yaml
    assert "template.json (given as JSON) --set vnet2Name=beta" in by_set.yaml
    v = with_vms(by_values, "alpha", "vNet2").probe("vm2", "vm1")
    assert v.delivered


def test_a_bad_template_raises_template_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(vnetsim.TemplateError):
        vnetsim.import_arm(bad)
    with pytest.raises(FileNotFoundError):
        vnetsim.import_arm(tmp_path / "missing.json")
