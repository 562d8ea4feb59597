"""Shared fixtures of the Python package's tests: the repository's example scenarios."""

from pathlib import Path

import pytest

import vnetsim

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"


@pytest.fixture
def hub() -> vnetsim.Scenario:
    """The bundled hub-and-spoke example."""
    return vnetsim.load(SCENARIOS / "hub-and-spoke.yaml")


@pytest.fixture
def scenarios() -> Path:
    """The directory of the example scenarios."""
    return SCENARIOS


@pytest.fixture
def repo() -> Path:
    """The repository's root."""
    return REPO


@pytest.fixture
def cli() -> Path:
    """The `vnetsim` command line built from this repository (`VNETSIM_BIN`, else
    `target/debug` or `target/release`), to compare answers with; skips when none is built."""
    import os

    given = os.environ.get("VNETSIM_BIN")
    candidates = [Path(given)] if given else [REPO / "target/debug/vnetsim", REPO / "target/release/vnetsim"]
    for c in candidates:
        if c.is_file():
            return c
    pytest.skip("no vnetsim binary built (cargo build -p vnetsim-cli, or set VNETSIM_BIN)")
