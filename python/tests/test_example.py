"""The notebook-style example runs as a script and writes its plot."""

import os
import subprocess
import sys

import pytest


def test_the_latency_cdf_example_writes_a_png(repo, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("pandas")
    out = tmp_path / "cdf.png"
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(repo / "python/examples/latency_cdf.py"),
         str(repo / "scenarios/peered-latency.yaml"), str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "expectations held: True" in done.stdout
    assert "ping-peer" in done.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
