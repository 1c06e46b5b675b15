"""The student notebooks run top to bottom at a small scale, and are committed without outputs.

All notebooks execute concurrently (one Jupyter kernel each) in a module fixture, with
``PILOTSIM_SCALE`` and ``PILOTSIM_SEEDS`` set small; each test then checks one notebook.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01_quickstart.ipynb",
    "02_inside_the_pipeline.ipynb",
    "03_your_own_scenario.ipynb",
    "04_calibration.ipynb",
    "05_policy_analysis.ipynb",
}
SMALL = {
    "PILOTSIM_SCALE": "0.05",
    "PILOTSIM_SEEDS": "4",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # figures become outputs
}
CELL_TIMEOUT_S = 300
CONCURRENT_KERNELS = 2  # CI has 2 cores


def _require(module: str):
    """Import an extra's module; on CI a missing extra is an error, locally a skip."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(
        module, reason=f"{module} missing: pip install -e '.[notebooks]' (the notebooks extra)"
    )


def _load(path: Path):
    nbformat = _require("nbformat")
    return nbformat.read(path, as_version=4)


async def _execute_all(paths: list[Path]) -> dict[str, tuple[object, BaseException | None, float]]:
    from nbclient import NotebookClient

    sem = asyncio.Semaphore(CONCURRENT_KERNELS)
    out: dict[str, tuple[object, BaseException | None, float]] = {}

    async def one(path: Path) -> None:
        nb = _load(path)
        client = NotebookClient(
            nb,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        async with sem:
            t0 = time.perf_counter()
            try:
                await client.async_execute()
                err = None
            except Exception as e:  # recorded and reported by the notebook's own test
                err = e
            out[path.name] = (nb, err, time.perf_counter() - t0)

    await asyncio.gather(*(one(p) for p in paths))
    return out


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    _require("nbclient")
    _require("ipykernel")
    nbformat = _require("nbformat")
    saved = {k: os.environ.get(k) for k in SMALL}
    os.environ.update(SMALL)  # inherited by the kernels
    try:
        results = asyncio.run(_execute_all(NOTEBOOKS))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out_dir = tmp_path_factory.mktemp("executed_notebooks")
    for name, (nb, _, _) in results.items():
        nbformat.write(nb, out_dir / name)  # kept for inspection after a failure
    return results


def test_all_expected_notebooks_exist() -> None:
    assert EXPECTED <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_committed_without_outputs(path: Path) -> None:
    """Stale outputs would disagree with the code; the test run regenerates them instead."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, cell in enumerate(raw["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_reads_small_parameters(path: Path) -> None:
    """The first code cell is tagged ``parameters`` and reads PILOTSIM_SCALE from the env."""
    nb = _load(path)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    assert 'os.environ.get("PILOTSIM_SCALE"' in first.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, executed: dict) -> None:
    nb, err, seconds = executed[path.name]
    assert err is None, f"{path.name} failed after {seconds:.0f} s:\n{err}"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "some cells did not run"
    outputs = [o for c in code for o in c.outputs]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} drew no figure"
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not any("Traceback" in s for s in stderr), stderr


def test_quickstart_shows_common_random_numbers(executed: dict) -> None:
    nb, err, _ = executed["01_quickstart.ipynb"]
    assert err is None
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "identical before 2025: True" in text


def test_calibration_data_is_a_faithful_copy() -> None:
    """The notebook's copy of the targets keeps every row and its source column."""
    import pandas as pd

    local = pd.read_csv(NOTEBOOK_DIR / "data" / "hk_targets_2015_2019.csv")
    assert {"series", "year", "value", "unit", "source"} <= set(local.columns)
    assert local["source"].notna().all()
    shared = ROOT.parent / "shared" / "data" / "hk_targets_2015_2019.csv"
    if shared.is_file():
        pd.testing.assert_frame_equal(local, pd.read_csv(shared))
