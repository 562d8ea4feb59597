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
