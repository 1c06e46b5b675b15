"""Cost of the policy analyses: runs per minute on the process pool, and each analysis'
cost at its default size.

Runs a paired experiment of ``--futures`` Latin-hypercube futures (baseline and platform,
one seed each) at the analyses' default settings (scale 0.25, 2015-2035) through
``sim.analysis.experiment`` on a ``--jobs``-process pool into a temporary store, and reports
runs per minute (wall time, pool start-up included). Then, for each analysis, the most runs
its default size makes (``sizes.planned_runs``), the minutes they take at that rate, and,
where a committed analysis exists in ``results/policy_analysis/<name>/analysis.json``, the
runs it made and the wall time it took. Rewrites its section of ``docs/performance.md``
(between ``<!-- bench_analysis:start -->`` and ``<!-- bench_analysis:end -->``).

    .venv/bin/python benchmarks/bench_analysis.py [--futures 40] [--jobs 2] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench_analysis:start -->", "<!-- bench_analysis:end -->"


def runs_per_minute(futures: int, jobs: int) -> tuple[float, int, float]:
    from sim.analysis.command import Options
    from sim.analysis.experiment import Settings, open_lab, paired_batch, prepare
    from sim.analysis.space import load_space
    from sim.scenario import load_scenario

    settings = Settings()
    base = prepare(load_scenario("baseline"), settings)
    policy = prepare(load_scenario("hk_pilot_platform"), settings)
    space = load_space(base)
    points = [space.overrides(r) for r in space.latin_hypercube(futures, 7).to_dict("records")]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with open_lab(
            Path(tmp) / "bench", ["bench"], settings, **Options(jobs=jobs, progress=False).lab()
        ) as lab:
            batch = paired_batch(base, {"platform": policy}, points, settings.seeds(1))
            lab.run(batch)
            lab.effects(batch, 1)
        seconds = time.perf_counter() - t0
    runs = 2 * futures
    return runs / seconds * 60, runs, seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--futures", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    from sim.analysis.sizes import ANALYSES, DEFAULTS, planned_runs

    load = os.getloadavg()[0]
    rpm, runs, seconds = runs_per_minute(args.futures, args.jobs)
    rows = [
        "| analysis | default size | most runs | minutes at this rate "
        "| committed: runs made | committed: wall min |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for name in ANALYSES:
        size = DEFAULTS[name]
        planned = planned_runs(name, size)
        factor = 2.0 if name == "horizons" else 1.0  # assumption: scale 0.5 to 2050, about 2x a run
        made = wall = ""
        info_path = ROOT / "results" / "policy_analysis" / name / "analysis.json"
        if info_path.is_file():
            info = json.loads(info_path.read_text(encoding="utf-8"))
            made = f"{int(info.get('runs_done', 0)) + int(info.get('runs_skipped', 0)):,}"
            wall = f"{float(info.get('wall_seconds', info.get('run_seconds', 0))) / 60:.1f}"
        fields = ", ".join(f"{k}={v}" for k, v in size.__dict__.items())
        rows.append(
            f"| {name} | {fields} | {planned:,} | {planned * factor / rpm:.1f} | {made} | {wall} |"
        )
    body = [
        START,
        "## Policy analyses (`benchmarks/bench_analysis.py`)",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_analysis.py --futures {args.futures} "
        f"--jobs {args.jobs}`; 1-minute load average {load:.2f} at start. A paired experiment "
        f"of {args.futures} futures (baseline and platform, scale 0.25, 2015-2035) made "
        f"{runs} runs in {seconds:.1f} s on {args.jobs} processes: **{rpm:.0f} runs per "
        "minute** (pool start-up, store and effects included). Minutes at this rate are an "
        "estimate from the most runs each default size can make (horizons runs at scale 0.5 "
        "to 2050, counted as two runs each); the committed columns are what the committed "
        "analysis in `results/policy_analysis/` measured.",
        "",
        *rows,
        END,
    ]
    print("\n".join(body[2:-1]))
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
