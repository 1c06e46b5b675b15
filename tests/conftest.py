"""Shared fixtures: small, fast runs (scale 0.1) reused across tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


#: Root's capabilities that bypass file permissions; a process without them is refused a
#: folder its mode forbids, as any user is (``setpriv``, util-linux).
FILE_RIGHTS = "-dac_override,-dac_read_search,-fowner"


def pilotsim_without_file_rights(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``pilotsim argv`` in a subprocess that file modes bind: as root (CI runs as root),
    without the capabilities that override them; as another user, as is."""
    cmd = [sys.executable, "-m", "sim.cli", *argv]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root needs setpriv (util-linux) to test permissions")
        cmd = [setpriv, f"--bounding-set={FILE_RIGHTS}", *cmd]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
