"""Sweeps over variants: from a variants file or a dict, the report is `vnetsim sweep
--variants`'s byte for byte, shards merge into it, rows carry the variant, and bad variants
raise VariantsError naming the variant."""

import json
import subprocess

import pytest

import vnetsim
from vnetsim import _native

SCENARIO = "vm-size-shaping.yaml"
VARIANTS = "variants/vm-size-shaping.yaml"

# The example variants file, as a dict.
AS_DICT = {
    "baseline": {},
    "sender-d4s": {"set": {"vms[sender].size": "Standard_D4s_v3"}},
    "one-sided-peering": {"remove": ["peerings[b-to-a]"]},
    "nsg-denies-bulk": {
        "add": {
            "nsgs": [
                {
                    "name": "receiver-nsg",
                    "rules": [
                        {
                            "name": "deny-bulk",
                            "priority": 100,
                            "direction": "inbound",
                            "access": "deny",
                            "protocol": "udp",
                            "source": "*",
                            "destination": "*",
                            "destination_ports": "5001",
                        }
                    ],
                }
            ]
        },
        "set": {"vnets[vnet-b].subnets[default].nsg": "receiver-nsg"},
    },
}


def cli_sweep(cli, scenarios, seeds, tmp_path, shard=None):
    out = tmp_path / ("part.json" if shard else "report.json")
    args = [
        str(cli),
        "sweep",
        str(scenarios / SCENARIO),
        "--seeds",
        seeds,
        "--variants",
        str(scenarios / VARIANTS),
        "--report",
        str(out),
    ]
    if shard:
        args += ["--shard", shard]
    done = subprocess.run(args, capture_output=True)
    # 1: the baseline's expectations fail in the other variants.
    assert done.returncode in (0, 1), done.stderr
    return out.read_text()


def test_a_variants_file_and_its_dict_give_the_command_lines_report(cli, scenarios, tmp_path):
    from_file = vnetsim.sweep(scenarios / SCENARIO, range(2), variants=scenarios / VARIANTS)
    assert from_file.json == cli_sweep(cli, scenarios, "0..2", tmp_path)
    assert from_file["format"] == "vnetsim-sweep-variants/1"
    assert from_file.variants == list(AS_DICT)
    from_dict = vnetsim.sweep(scenarios / SCENARIO, range(2), variants=AS_DICT, jobs=1)
    assert from_dict.json == from_file.json
    assert not from_file.passed


def test_shards_of_the_grid_are_the_command_lines_parts_and_merge(cli, scenarios, tmp_path):
    text = (scenarios / SCENARIO).read_text()
    path = str(scenarios / SCENARIO)
    vpath = str(scenarios / VARIANTS)
    vtext = (scenarios / VARIANTS).read_text()
    parts = [
        _native.sweep_variants_part(text, path, "0..2", vtext, vpath, i, 3) for i in range(3)
    ]
    assert parts[1] == cli_sweep(cli, scenarios, "0..2", tmp_path, shard="1/3")
    whole = vnetsim.sweep(path, range(2), variants=vpath).json
    assert _native.merge_parts(list(reversed(parts))) == whole
    with pytest.raises(ValueError, match="shard"):
        _native.merge_parts(parts[:2])
    # Parts of a sweep without variants do not merge with them.
    plain = _native.sweep_part(text, path, "0..2", 0, 3)
    with pytest.raises(ValueError, match="part"):
        _native.merge_parts([parts[0], plain, parts[2]])


def test_rows_carry_the_variant_and_the_comparison_comes_first(scenarios):
    report = vnetsim.sweep(scenarios / SCENARIO, range(2), variants=AS_DICT)
    rows = report.runs()
    assert len(rows) == 4 * 2
    assert [r["variant"] for r in rows] == [v for v in AS_DICT for _ in range(2)]
    assert rows[2]["seed"] == 0 and rows[2]["flow"] == "bulk"
    cmp = report.comparison()
    assert [c["variant"] for c in cmp] == list(AS_DICT)
    assert cmp[1]["delivered_ratio"] > 0.99 > 0.6 > cmp[0]["delivered_ratio"]
    assert cmp[3]["drops_by_reason"]["nsg-denied"] > 0
    assert cmp[3]["worst_latency_p99_ns_mean"] is None
    assert report["variants"][1]["edits"] == ["set vms[sender].size = Standard_D4s_v3"]
    pandas = pytest.importorskip("pandas")
    frame = report.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns[:2]) == ["variant", "seed"]
    means = frame.groupby("variant", sort=False)["delivered_ratio"].mean()
    assert list(means.index) == list(AS_DICT)
    assert means["sender-d4s"] > means["baseline"]
    assert list(report.comparison().to_pandas()["variant"]) == list(AS_DICT)
    # A sweep without variants has no variant column and no comparison.
    plain = vnetsim.sweep(scenarios / SCENARIO, range(1))
    assert "variant" not in plain.runs()[0]
    with pytest.raises(ValueError, match="no variants"):
        plain.comparison()


def test_bad_variants_raise_variants_error(scenarios, tmp_path):
    path = scenarios / SCENARIO
    with pytest.raises(vnetsim.VariantsError, match="did you mean `sender`") as e:
        vnetsim.sweep(path, range(1), variants={"big": {"set": {"vms[sendr].size": "x"}}})
    assert e.value.variant == "big" and e.value.source == "<variants>"
    with pytest.raises(vnetsim.VariantsError) as e:
        vnetsim.sweep(path, range(1), variants={"tiny": {"set": {"vms[sender].size": "Z9"}}})
    assert e.value.rules == ["unknown-vm-size"]
    assert isinstance(e.value, ValueError)
    dup = tmp_path / "dup.yaml"
    dup.write_text("variants:\n  - name: a\n  - name: a\n")
    with pytest.raises(vnetsim.VariantsError, match="used twice") as e:
        vnetsim.sweep(path, range(1), variants=dup)
    assert (e.value.source, e.value.line, e.value.variant) == (str(dup), 3, None)
    with pytest.raises(ValueError, match="unknown edit 'sett'"):
        vnetsim.sweep(path, range(1), variants={"a": {"sett": {}}})
    with pytest.raises(TypeError):
        vnetsim.sweep(path, range(1), variants={"a": ["remove", "x"]})
    with pytest.raises(TypeError):
        vnetsim.sweep(path, range(1), variants=[{"name": "a"}])
    with pytest.raises(FileNotFoundError):
        vnetsim.sweep(path, range(1), variants=tmp_path / "missing.yaml")
    with pytest.raises(vnetsim.ScenarioError):
        vnetsim.sweep("name: x\nvnets: 3\n", range(1), variants={"a": {}})


def test_the_dict_is_written_as_the_files_json(scenarios):
    from vnetsim._sweep import _variants_text

    text, source = _variants_text({"a": None, "b": {"remove": ["expect"]}})
    assert source == "<variants>"
    assert json.loads(text) == {"variants": [{"name": "a"}, {"name": "b", "remove": ["expect"]}]}
