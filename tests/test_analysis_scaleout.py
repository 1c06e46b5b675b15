"""Analyses on any executor, and resumed after a kill (issue 11, scale out)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis import horizons
from sim.analysis.command import Options
from sim.analysis.experiment import Settings
from sim.analysis.sizes import QUICKS
from sim.experiments.store import is_temporary

QUICK = Settings(scale=0.05, until=2030, period=(2025, 2030))
CLI = [sys.executable, "-c", "import sys; from sim.cli import main; sys.exit(main(sys.argv[1:]))"]


@pytest.mark.slow
def test_dask_gives_the_same_analysis_as_the_process_pool(tmp_path: Path) -> None:
    size = QUICKS["horizons"]
    horizons.run(tmp_path / "pool", size, QUICK, Options(jobs=2, progress=False))
    horizons.run(tmp_path / "dask", size, QUICK, Options(jobs=1, dask=True, progress=False))
    for f in ("yearly_effects.csv", "horizons.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "pool" / f), pd.read_csv(tmp_path / "dask" / f)
        )
    info = json.loads((tmp_path / "dask" / "analysis.json").read_text())
    assert info["engine"].startswith("Dask LocalCluster")


def _stored(out: Path) -> int:
    """Whole part files (a run being written is a temporary file with the same suffix)."""
    return sum(not is_temporary(p) for p in (out / "runs").glob("*.parquet"))


@pytest.mark.slow
def test_a_killed_analysis_resumes_from_its_stored_runs(tmp_path: Path) -> None:
    out = tmp_path / "h"
    cmd = [
        *CLI,
        "analyse",
        "horizons",
        "--quick",
        "--jobs",
        "1",
        "--no-progress",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if _stored(out) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the analysis finished before it could be killed"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    stored = _stored(out)
    assert 2 <= stored < 3 * QUICKS["horizons"].seeds
    assert not (out / "report.md").exists()  # nothing half-written
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    info = json.loads((out / "analysis.json").read_text())
    assert info["runs_skipped"] >= stored
    assert info["runs_done"] + info["runs_skipped"] == 3 * QUICKS["horizons"].seeds
    assert (out / "report.md").is_file()
