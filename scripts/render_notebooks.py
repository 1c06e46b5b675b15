"""Execute the student notebooks top to bottom at a small scale and save them WITH outputs.

The committed notebooks carry their outputs (tables, printed numbers and PNG figures) so that
a reader browsing the repository or the documentation site sees them without running
anything; ``tests/test_notebooks.py`` checks that each has outputs, no error, a figure where
it plots, and the size it was rendered at. Rerun after a model change:

    bash scripts/render_notebooks.sh                     # all notebooks, in place
    bash scripts/render_notebooks.sh notebooks/01_quickstart.ipynb

Size: ``PILOTSIM_SCALE`` and ``PILOTSIM_SEEDS`` as the notebook test uses (RENDER below,
recorded in each notebook's metadata under ``pilotsim``). Figures are PNG at ``DPI`` so the
repository stays small. Two kernels run at once (2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
#: The size the committed outputs are rendered at (the notebook test's size).
RENDER = {"PILOTSIM_SCALE": "0.05", "PILOTSIM_SEEDS": "4"}
#: Resolution of the embedded PNG figures (Jupyter's inline default is 72-100).
DPI = 72
#: Wider embedded PNGs (figures a notebook shows from a report folder, 150 dpi) are scaled
#: down to this width; every PNG is stored with a 256-colour palette.
MAX_WIDTH_PX = 1100
CELL_TIMEOUT_S = 600
CONCURRENT_KERNELS = 2


def _matplotlibrc(folder: Path) -> Path:
    rc = folder / "matplotlibrc"
    rc.write_text(f"figure.dpi: {DPI}\nsavefig.dpi: {DPI}\n", encoding="utf-8")
    return rc


def _shrink_png(data: str) -> str:
    """A base64 PNG scaled to at most MAX_WIDTH_PX wide and stored with a palette."""
    img = Image.open(io.BytesIO(base64.b64decode(data)))
    if img.width > MAX_WIDTH_PX:
        height = round(img.height * MAX_WIDTH_PX / img.width)
        img = img.resize((MAX_WIDTH_PX, height), Image.Resampling.LANCZOS)
    img = img.convert("RGBA").quantize(256, method=Image.Quantize.FASTOCTREE)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _shrink_figures(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                data["image/png"] = _shrink_png(data["image/png"])
                output.get("metadata", {}).pop("image/png", None)  # stale width/height


async def _render(paths: list[Path]) -> list[str]:
    sem = asyncio.Semaphore(CONCURRENT_KERNELS)
    failures: list[str] = []

    async def one(path: Path) -> None:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:  # start clean: no output survives from an earlier render
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
                cell.metadata.pop("execution", None)
        client = NotebookClient(
            nb,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            record_timing=False,  # no timestamps: a rerun changes only what the model changed
            resources={"metadata": {"path": str(path.parent)}},
        )
        async with sem:
            t0 = time.perf_counter()
            try:
                await client.async_execute()
            except Exception as e:
                failures.append(f"{path.name}: {e}")
                print(f"FAILED {path.name} after {time.perf_counter() - t0:.0f} s", flush=True)
                return
            seconds = time.perf_counter() - t0
        _shrink_figures(nb)
        nb.metadata["pilotsim"] = {"rendered_with": dict(RENDER)}
        nbformat.write(nb, path)
        print(
            f"rendered {path.relative_to(ROOT)} in {seconds:.0f} s "
            f"({path.stat().st_size / 1024:.0f} KiB)",
            flush=True,
        )

    await asyncio.gather(*(one(p) for p in paths))
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = ap.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(RENDER)  # inherited by the kernels
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        os.environ["MATPLOTLIBRC"] = str(_matplotlibrc(Path(tmp)))
        t0 = time.perf_counter()
        failures = asyncio.run(_render(paths))
    print(
        f"{len(paths) - len(failures)} of {len(paths)} notebooks rendered "
        f"in {time.perf_counter() - t0:.0f} s"
    )
    for f in failures:
        print(f"error: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
