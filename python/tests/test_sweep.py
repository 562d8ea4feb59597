"""Sweeps: the local sweep equals `vnetsim sweep`'s report, shards merge into it, and a sweep
on a local Ray instance equals the local one."""

import json
import subprocess

import pytest

import vnetsim
from vnetsim import _native

SCENARIO = "peered-latency.yaml"


def cli_sweep(cli, path, seeds, tmp_path, shard=None):
    out = tmp_path / ("part.json" if shard else "report.json")
    args = [str(cli), "sweep", str(path), "--seeds", seeds, "--report", str(out)]
    if shard:
        args += ["--shard", shard]
    subprocess.run(args, check=True, capture_output=True)
    return out.read_text()


def test_a_local_sweep_is_the_command_lines_report(cli, scenarios, tmp_path):
    path = scenarios / SCENARIO
    report = vnetsim.sweep(path, range(0, 12))
    assert report.json == cli_sweep(cli, path, "0..12", tmp_path)
    assert isinstance(report, dict) and report == json.loads(report.json)
    assert report["format"] == "vnetsim-sweep/1"
    assert report["seeds"] == list(range(12))
    listed = vnetsim.sweep(path, [5, 3, 9], jobs=1)
    assert listed.json == cli_sweep(cli, path, "5,3,9", tmp_path)


def test_the_same_sweep_from_text_and_on_one_worker_is_the_same(scenarios):
    path = scenarios / SCENARIO
    text = path.read_text()
    a = vnetsim.sweep(path, range(3, 9))
    assert vnetsim.sweep(text, range(3, 9), jobs=1).json == a.json
    # A range of another step is a list of seeds.
    assert vnetsim.sweep(path, range(3, 9, 1)).json == a.json
    assert vnetsim.sweep(path, range(3, 9, 2))["seeds"] == [3, 5, 7]


def test_a_shard_is_the_command_lines_part_and_parts_merge(cli, scenarios, tmp_path):
    path = scenarios / SCENARIO
    text = path.read_text()
    parts = [_native.sweep_part(text, str(path), "0..10", i, 3) for i in range(3)]
    assert parts[1] == cli_sweep(cli, path, "0..10", tmp_path, shard="1/3")
    whole = vnetsim.sweep(path, range(10)).json
    assert _native.merge_parts(list(reversed(parts))) == whole
    with pytest.raises(ValueError, match="shard"):
        _native.merge_parts(parts[:2])
    with pytest.raises(ValueError, match="shard"):
        _native.merge_parts([parts[0], parts[0], parts[2]])


def test_per_run_rows(scenarios):
    report = vnetsim.sweep(scenarios / SCENARIO, range(4))
    rows = report.runs()
    flows = [f["name"] for f in report["flows"]]
    assert len(rows) == 4 * len(flows)
    assert [r["seed"] for r in rows[:: len(flows)]] == [0, 1, 2, 3]
    first = report["runs"][0]
    assert rows[0]["flow"] == first["flows"][0]["name"]
    assert rows[0]["delivered_ratio"] == first["flows"][0]["delivered_ratio"]
    assert rows[0]["sent"] == first["conservation"]["sent"]
    assert report.passed
    pandas = pytest.importorskip("pandas")
    frame = report.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == len(rows)
    assert frame.groupby("flow")["delivered_ratio"].min().to_dict() == {
        f["name"]: f["delivered_ratio"]["min"] for f in report["flows"]
    }


def test_bad_arguments(scenarios, tmp_path):
    path = scenarios / SCENARIO
    with pytest.raises(ValueError, match="executor"):
        vnetsim.sweep(path, range(2), executor="dask")
    with pytest.raises(ValueError, match="empty"):
        vnetsim.sweep(path, [])
    with pytest.raises(TypeError):
        vnetsim.sweep(path, ["1"])
    with pytest.raises(ValueError):
        vnetsim.sweep(path, [-1])
    with pytest.raises(ValueError, match="jobs"):
        vnetsim.sweep(path, range(2), jobs=0)
    with pytest.raises(ValueError, match="shards"):
        vnetsim.sweep(path, range(2), shards=2)
    with pytest.raises(FileNotFoundError):
        vnetsim.sweep(tmp_path / "missing.yaml", range(2))
    with pytest.raises(vnetsim.ScenarioError):
        vnetsim.sweep("name: x\nvnets: 3\n", range(2))
    with pytest.raises(ValueError, match="seeds"):
        _native.sweep(path.read_text(), "x", "5..2")
    with pytest.raises(ValueError, match="shard"):
        _native.sweep_part(path.read_text(), "x", "0..4", 3, 3)
    with pytest.raises(ValueError, match="part"):
        _native.merge_parts(["{}"])


def test_ray_missing_is_a_clear_import_error(scenarios, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match="pip install ray"):
        vnetsim.sweep(scenarios / SCENARIO, range(2), executor="ray")


@pytest.fixture(scope="module")
def ray_local():
    try:
        import ray
    except ImportError:
        pytest.skip("Ray is not installed (pip install ray): the Ray sweep is not tested")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_a_ray_sweep_of_200_seeds_equals_the_local_one(ray_local, cli, scenarios, tmp_path):
    path = scenarios / SCENARIO
    local = vnetsim.sweep(path, range(200))
    on_ray = vnetsim.sweep(path, range(200), executor="ray")
    assert on_ray.json == local.json
    assert on_ray.json == cli_sweep(cli, path, "0..200", tmp_path)
    with pytest.raises(vnetsim.ScenarioError):
        vnetsim.sweep("name: x\nvnets: 3\n", range(2), executor="ray")
    with pytest.raises(ValueError, match="jobs"):
        vnetsim.sweep(path, range(2), executor="ray", jobs=2)
    # More shards than CPUs, and than seeds: empty shards merge too.
    assert vnetsim.sweep(path, [7, 1, 4], executor="ray", shards=5).json == (
        vnetsim.sweep(path, [7, 1, 4]).json
    )


def test_a_scenario_file_is_shipped_as_its_bytes(scenarios, tmp_path):
    from vnetsim._sweep import _scenario_text

    crlf = tmp_path / "crlf.yaml"
    crlf.write_bytes((scenarios / SCENARIO).read_bytes().replace(b"\n", b"\r\n"))
    text, source = _scenario_text(crlf)
    assert text.encode() == crlf.read_bytes()
    assert source == str(crlf)


def test_a_ray_sweep_over_variants_equals_the_local_one(ray_local, scenarios):
    path = scenarios / "vm-size-shaping.yaml"
    variants = scenarios / "variants/vm-size-shaping.yaml"
    local = vnetsim.sweep(path, range(3), variants=variants)
    # Default shards (one per CPU), and more shards than the 12 grid positions.
    assert vnetsim.sweep(path, range(3), variants=variants, executor="ray").json == local.json
    assert (
        vnetsim.sweep(path, range(3), variants=variants, executor="ray", shards=13).json
        == local.json
    )
    with pytest.raises(vnetsim.VariantsError, match="no item named"):
        vnetsim.sweep(
            path, range(2), variants={"x": {"remove": ["vms[nope]"]}}, executor="ray"
        )
