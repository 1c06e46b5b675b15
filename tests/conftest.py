"""Shared fixtures: small, fast runs (scale 0.1) reused across tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SMALL = {"scale": 0.1}


@pytest.fixture(scope="session")
def baseline_run() -> sim.Result:
    return sim.run(SCENARIOS / "baseline.yaml", seed=11, keep_model=True, **SMALL)


@pytest.fixture(scope="session")
def platform_run() -> sim.Result:
    return sim.run(SCENARIOS / "hk_pilot_platform.yaml", seed=11, keep_model=True, **SMALL)
