"""Where a full-scale run spends its time: the top entries of a cProfile of one run.

Profiles ``PilotModel(spec, seed)`` construction and ``run()`` for one scenario (default
the baseline, full scale, 2015-2035) after one unprofiled warm-up run, and prints the
functions with the most own time (tottime) and the most cumulative time, restricted to
this package and Mesa (numpy's and pandas' internals are summed into their callers' cumtime).
Rewrites its section of ``docs/performance.md`` (between ``<!-- profile_model:start -->``
and ``<!-- profile_model:end -->``), keeping the first profile written there as "before"
so that an optimisation's note can show both.

    .venv/bin/python benchmarks/profile_model.py [--scenario baseline] [--scale 1] [--top 12]
                                                 [--no-write] [--as-before]

cProfile adds its own overhead per Python call (about 1.5-2x here), so the shares matter,
not the seconds.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- profile_model:start -->", "<!-- profile_model:end -->"
BEFORE, NOW = "<!-- profile_model:before -->", "<!-- profile_model:now -->"


def profile(scenario: str, scale: float, seed: int) -> tuple[pstats.Stats, float, float]:
    """One warm-up run, then one profiled run; returns the stats, the profiled run's wall
    time and an unprofiled run's wall time (for the profiler's overhead)."""
    sys.path.insert(0, str(ROOT))
    from sim.model import PilotModel
    from sim.scenario import load_scenario

    spec = load_scenario(scenario, {"run.scale": scale})

    def once() -> None:
        PilotModel(spec, seed).run()

    once()  # imports, caches
    t0 = time.perf_counter()
    once()
    plain = time.perf_counter() - t0
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(once)
    profiled = time.perf_counter() - t0
    return pstats.Stats(prof), profiled, plain


def _ours(path: str) -> bool:
    return "/sim/" in path or "/mesa/" in path


def table(stats: pstats.Stats, key: str, top: int) -> list[str]:
    """The ``top`` functions of this package and Mesa by ``key`` (tottime or cumtime)."""
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (path, line, name), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if _ours(path):
            rows.append((tt if key == "tottime" else ct, tt, ct, nc, path, line, name))
    rows.sort(reverse=True)
    out = [
        "| function | calls | own s | own % | cumulative s | cumulative % |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for _, tt, ct, nc, path, line, name in rows[:top]:
        short = path.split("/sim/")[-1] if "/sim/" in path else "mesa/" + path.split("/mesa/")[-1]
        prefix = "sim/" if "/sim/" in path else ""
        out.append(
            f"| `{prefix}{short}:{line}({name})` | {nc:,} | {tt:.3f} | {100 * tt / total:.1f} | "
            f"{ct:.3f} | {100 * ct / total:.1f} |"
        )
    return out


def _commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def section(stats: pstats.Stats, args: argparse.Namespace, profiled: float, plain: float) -> str:
    total = stats.total_tt  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "benchmarks/profile_model.py " + " ".join(sys.argv[1:])
    return "\n".join(
        [
            f"Profile of `{args.scenario}` at scale {args.scale:g}, 2015-2035, seed "
            f"{args.seed} (commit {_commit()}, {now}; `{cmd.strip()}`): {total:.2f} s "
            f"profiled ({profiled:.2f} s wall) against {plain:.2f} s without the profiler.",
            "",
            f"By own time (top {args.top}, this package and Mesa):",
            "",
            *table(stats, "tottime", args.top),
            "",
            f"By cumulative time (top {args.top}):",
            "",
            *table(stats, "cumtime", args.top),
        ]
    )


def write(text: str, as_before: bool) -> None:
    doc = DOC.read_text(encoding="utf-8")
    before = None
    if START in doc and END in doc:
        old = doc[doc.index(START) : doc.index(END)]
        if BEFORE in old and NOW in old and not as_before:
            before = old[old.index(BEFORE) + len(BEFORE) : old.index(NOW)].strip()
    if before is None:
        before = text  # the first profile written is the "before"
    block = "\n".join(
        [
            START,
            "## Where a run spends its time (`benchmarks/profile_model.py`)",
            "",
            "cProfile adds overhead per Python call, so compare shares, not seconds.",
            "",
            BEFORE,
            "### Before",
            "",
            before.removeprefix("### Before").strip(),
            "",
            NOW,
            "### Now",
            "",
            text,
            END,
        ]
    )
    if START in doc and END in doc:
        doc = doc[: doc.index(START)] + block + doc[doc.index(END) + len(END) :]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(doc, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument(
        "--as-before", action="store_true", help="write this profile as the 'before' one too"
    )
    args = ap.parse_args()
    stats, profiled, plain = profile(args.scenario, args.scale, args.seed)
    text = section(stats, args, profiled, plain)
    print(text)
    if not args.no_write:
        write(text, args.as_before)
        print(f"wrote its section of {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
