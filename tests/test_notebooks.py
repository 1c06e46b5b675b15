"""The student notebooks run top to bottom at a small scale, and are committed with outputs.

All notebooks execute concurrently (one Jupyter kernel each) in a module fixture, with
``PILOTSIM_SCALE`` and ``PILOTSIM_SEEDS`` set small; each test then checks one notebook.
The committed copies carry the outputs of ``bash scripts/render_notebooks.sh`` at the same
size (so a reader sees tables and figures without running anything, on GitHub and on the
documentation site): every code cell ran, in order, none raised, each notebook that plots
holds a figure, and the outputs stay small.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The notebooks run end to end (about 50 s of one worker): in CI, not in the fast loop.
pytestmark = pytest.mark.slow
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "01_quickstart.ipynb",
    "02_inside_the_pipeline.ipynb",
    "03_your_own_scenario.ipynb",
    "04_calibration.ipynb",
    "05_policy_analysis.ipynb",
    "06_virtual_evaluation.ipynb",
}
SMALL = {
    "PILOTSIM_SCALE": "0.05",
    "PILOTSIM_SEEDS": "4",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # figures become outputs
}
CELL_TIMEOUT_S = 300
# A notebook whose code draws (matplotlib, a figure a report wrote, a result's figure())
# must show a figure.
PLOTS = re.compile(r"\bplt\.|\.plot\(|\bImage\(|\.figure\(\)")
# Committed outputs stay small: PNGs are palette images at most 1100 px wide
# (scripts/render_notebooks.py); a notebook file of more than this is a mistake.
MAX_NOTEBOOK_BYTES = 250_000
MAX_OUTPUT_CHARS = 100_000
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
def test_notebook_committed_with_outputs(path: Path) -> None:
    """The committed copy was rendered top to bottom by scripts/render_notebooks.sh at the
    test's size: every code cell ran, in order, no output is an error, and a notebook that
    plots shows a figure."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert all(counts), f"{path.name}: cells without outputs; run bash scripts/render_notebooks.sh"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), (
        f"{path.name}: cells ran out of order {counts}; run bash scripts/render_notebooks.sh"
    )
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert outputs, f"{path.name} has no outputs"
    errors = [o.get("ename") for o in outputs if o["output_type"] == "error"]
    assert not errors, f"{path.name}: error outputs {errors}"
    stderr = ["".join(o["text"]) for o in outputs if o.get("name") == "stderr"]
    assert not any("Traceback" in s for s in stderr), stderr
    source = "".join("".join(c["source"]) for c in code)
    if PLOTS.search(source):
        figures = [o for o in outputs if "image/png" in o.get("data", {})]
        assert figures, f"{path.name} plots but its committed outputs hold no figure"
    rendered = raw["metadata"].get("pilotsim", {}).get("rendered_with")
    assert rendered == {k: SMALL[k] for k in ("PILOTSIM_SCALE", "PILOTSIM_SEEDS")}, (
        f"{path.name} rendered with {rendered}, not the test's size"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_outputs_stay_small(path: Path) -> None:
    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES, f"{path.name} is too large"
    raw = json.loads(path.read_text(encoding="utf-8"))
    for cell in raw["cells"]:
        for output in cell.get("outputs", []):
            for mime, value in output.get("data", {}).items():
                size = len(value) if isinstance(value, str) else len("".join(value))
                assert size <= MAX_OUTPUT_CHARS, f"{path.name}: a {mime} output of {size} chars"


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
