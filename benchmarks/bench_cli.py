"""How fast the CLI answers: ``pilotsim --help``, ``columns`` and ``validate``, as whole processes.

Run from the repository root (under a minute):

    .venv/bin/python benchmarks/bench_cli.py [--repeats 7] [--no-write]

Each command runs ``--repeats`` times in a fresh process, interleaved with the others so
that load from other processes hits them alike; beside them, a process that only imports
the model (``import sim.model``: Mesa, pandas, scipy), which is what every command used to
load first. Prints the best and median wall time of each (the best is the figure to quote on
a shared machine: other processes only ever add time) and rewrites its section of
``docs/performance.md`` (between ``<!-- bench_cli:start -->`` and ``<!-- bench_cli:end -->``).
The goal (issue 13): under 1 s each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
COMMANDS: dict[str, list[str]] = {
    "pilotsim --help": [PY, "-m", "sim.cli", "--help"],
    "pilotsim columns": [PY, "-m", "sim.cli", "columns"],
    "pilotsim validate scenarios/baseline.yaml": [
        PY,
        "-m",
        "sim.cli",
        "validate",
        "scenarios/baseline.yaml",
    ],
    "python -c 'import sim.model' (the old floor)": [PY, "-c", "import sim.model"],
}
GOAL_SECONDS = 1.0
START, END = "<!-- bench_cli:start -->", "<!-- bench_cli:end -->"


def measure(repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for _ in range(repeats):
        for name, cmd in COMMANDS.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            times[name].append(time.perf_counter() - t0)
    return times


def table(times: dict[str, list[float]]) -> list[str]:
    lines = ["| command | best, s | median, s | under 1 s |", "|---|--:|--:|---|"]
    for name, t in times.items():
        goal = "" if "old floor" in name else ("yes" if min(t) < GOAL_SECONDS else "**no**")
        lines.append(f"| `{name}` | {min(t):.2f} | {statistics.median(t):.2f} | {goal} |")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    times = measure(args.repeats)
    body = [
        START,
        "## CLI start-up (`benchmarks/bench_cli.py`)",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_cli.py --repeats {args.repeats}`. Each "
        f"command as a fresh process, {args.repeats} repeats interleaved; 1-minute load "
        f"average {load:.2f} at start. The commands import Mesa, pandas and scipy only when "
        "they run a model (`tests/test_cli.py` checks that these three do not).",
        "",
        *table(times),
        END,
    ]
    print("\n".join(body[4:-1]))
    if not args.no_write:
        doc = ROOT / "docs" / "performance.md"
        text = doc.read_text(encoding="utf-8")
        block = "\n".join(body)
        if START in text:
            head, rest = text.split(START, 1)
            text = head + block + rest.split(END, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        doc.write_text(text, encoding="utf-8")
        print(f"rewrote its section of {doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
