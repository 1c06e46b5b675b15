"""How much noise pairing removes once a policy has started: before and after keyed streams.

Run from the repository root (about a minute on 2 cores at the defaults):

    .venv/bin/python benchmarks/bench_pairing.py [--seeds 12] [--scale 0.25] [--jobs 2]
                                                 [--before 1c35dad] [--before-tree PATH]
                                                 [--json out.json]

Issue 9, point 9: with sequential random streams (commit ``1c35dad`` and before), baseline and
policy runs with the same seed draw the same numbers only until the policy first changes how
many draws a stream makes; after that every later draw is shifted, and pairing removes less
noise. The working tree keys every stream by (stream, quarter) and gives each research project
its own random numbers at creation (``sim/rng.py``, ``sim/projects.py``).

For each code (``before``: the commit ``--before``, checked out into a temporary git worktree
unless ``--before-tree`` names one; ``after``: this working tree) the script runs, in a fresh
interpreter with that tree first on ``sys.path`` and a process pool of ``--jobs`` workers,
``baseline`` and ``hk_pilot_platform`` (the ``scenarios/*.yaml`` of that tree) with the same
``--seeds`` seeds at ``--scale``. For each outcome summed over 2025-2035 (HK value added,
projects started, projects launched) it reports:

- the variance over seeds of the paired difference ``P_i - B_i``;
- the variance of an unpaired difference ``P_i - B_{(i+1) mod N}`` (same model, same runs,
  the policy run set against another seed's baseline);
- their ratio, and the share of the variance pairing removes (1 - ratio), with a 90%
  bootstrap interval over seeds;
- the first year the two runs of a pair differ in ``projects_started``.

The model itself changed between the two codes (new mechanisms, a warm start), so its
variances are not comparable across codes; the ratio paired / unpaired is. Prints a table;
``--json`` writes all figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("baseline", "hk_pilot_platform")
OUTCOMES = ("hk_value_added_hkd_m", "projects_started", "projects_launched")
PERIOD = (2025, 2035)  # the platform starts in 2025 (scenarios/hk_pilot_platform.yaml)
BOOT = 4000  # bootstrap resamples of the seeds
BOOT_SEED = 20250


# --------------------------------------------------------------------------- worker side


def _one(task: tuple[str, int, float]) -> dict:
    """One run in a pool worker: the annual series of the outcomes, by year."""
    import sim

    path, seed, scale = task
    res = sim.run(path, seed=seed, scale=scale, until=PERIOD[1])
    a = res.annual
    years = [int(y) for y in a["year"]]
    return {
        "scenario": Path(path).stem,
        "seed": seed,
        "years": years,
        **{c: [float(v) for v in a[c]] for c in OUTCOMES},
        "seconds": res.seconds,
    }


def worker(tree: Path, seeds: list[int], scale: float, jobs: int) -> dict:
    """Run both scenarios with all seeds on the code in ``tree``; print one JSON line."""
    from concurrent.futures import ProcessPoolExecutor

    import sim

    where = Path(sim.__file__).resolve()
    if tree.resolve() not in where.parents:
        raise SystemExit(f"imported sim from {where}, expected it under {tree}")
    tasks = [
        (str(tree / "scenarios" / f"{s}.yaml"), seed, scale) for s in SCENARIOS for seed in seeds
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        runs = list(pool.map(_one, tasks))
    return {"sim_file": str(where), "wall_s": time.perf_counter() - t0, "runs": runs}


# --------------------------------------------------------------------------- statistics


def _var(xs) -> float:
    import numpy as np

    return float(np.var(np.asarray(xs, dtype=float), ddof=1))


def pairing_stats(base: dict[int, dict], pol: dict[int, dict], seeds: list[int]) -> dict:
    """Paired vs unpaired variance of the policy effect, per outcome, and divergence years."""
    import numpy as np

    n = len(seeds)
    out: dict = {"outcomes": {}, "divergence": {}}
    years = base[seeds[0]]["years"]
    in_period = [i for i, y in enumerate(years) if PERIOD[0] <= y <= PERIOD[1]]
    rng = np.random.default_rng(BOOT_SEED)
    boot_idx = rng.integers(0, n, size=(BOOT, n))
    for c in OUTCOMES:
        b = np.array([sum(base[s][c][i] for i in in_period) for s in seeds])
        p = np.array([sum(pol[s][c][i] for i in in_period) for s in seeds])
        d = p - b  # paired
        u = p - np.roll(b, -1)  # policy seed i against baseline seed i+1 (mod N)
        vd, vu = _var(d), _var(u)
        ratio = vd / vu if vu > 0 else float("nan")
        # Bootstrap over seeds: resample i, keep each pair (P_i, B_i) and (P_i, B_{i+1}).
        bd = d[boot_idx].var(axis=1, ddof=1)
        bu = u[boot_idx].var(axis=1, ddof=1)
        ok = bu > 0
        br = bd[ok] / bu[ok]
        lo, hi = np.quantile(br, [0.05, 0.95]).tolist() if br.size else [float("nan")] * 2
        out["outcomes"][c] = {
            "baseline_mean": float(b.mean()),
            "effect_mean": float(d.mean()),
            "var_baseline": _var(b),
            "var_policy": _var(p),
            "var_paired": vd,
            "var_unpaired": vu,
            "ratio": ratio,
            "ratio_90": [lo, hi],
            "removed": 1 - ratio,
            "se_paired": float(np.sqrt(vd / n)),
            "se_unpaired": float(np.sqrt(vu / n)),
        }
    first = {}
    for s in seeds:
        diff = [
            y
            for y, x, z in zip(
                years, base[s]["projects_started"], pol[s]["projects_started"], strict=True
            )
            if x != z
        ]
        first[s] = diff[0] if diff else None
    diverged = [y for y in first.values() if y is not None]
    out["divergence"] = {
        "first_year_by_seed": first,
        "pairs_identical_whole_run": sum(y is None for y in first.values()),
        "pairs_identical_in_period": sum(y is None or y > PERIOD[1] for y in first.values()),
        "earliest": min(diverged) if diverged else None,
        "latest": max(diverged) if diverged else None,
        "years": [years[0], years[-1]],
    }
    return out


# --------------------------------------------------------------------------- driver


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def run_code(tree: Path, seeds: list[int], scale: float, jobs: int) -> dict:
    """Run the worker on ``tree`` in a fresh interpreter, outside any checkout (cwd)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    with tempfile.TemporaryDirectory(prefix="bench_pairing_") as cwd:
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                str(tree),
                "--seeds",
                str(len(seeds)),
                "--first-seed",
                str(seeds[0]),
                "--scale",
                repr(scale),
                "--jobs",
                str(jobs),
            ],
            cwd=cwd,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_1min() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def fmt(x: float) -> str:
    if x != x:
        return "n/a"
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1e5 or a < 1e-2:
        return f"{x:.3g}"
    return f"{x:,.0f}" if a >= 100 else f"{x:.3g}"


def table(res: dict) -> list[str]:
    codes = res["codes"]
    lines = [
        f"| outcome, sum {PERIOD[0]}-{PERIOD[1]} | code | mean effect | var paired | var unpaired "
        "| paired / unpaired (90% bootstrap) | share of variance pairing removes |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in OUTCOMES:
        for code in ("before", "after"):
            o = codes[code]["stats"]["outcomes"][c]
            lo, hi = o["ratio_90"]
            label = f"{code} ({codes[code]['label']})"
            lines.append(
                f"| {c} | {label} | {o['effect_mean']:+,.1f} | {fmt(o['var_paired'])} "
                f"| {fmt(o['var_unpaired'])} | {o['ratio']:.3f} ({lo:.3f}-{hi:.3f}) "
                f"| {o['removed']:.1%} |"
            )
    lines += [
        "",
        "| code | pairs with identical `projects_started` every year | first year a pair differs "
        "(earliest-latest) | seconds (runs) |",
        "|---|---:|---|---:|",
    ]
    for code in ("before", "after"):
        dv = codes[code]["stats"]["divergence"]
        span = "never" if dv["earliest"] is None else f"{dv['earliest']}-{dv['latest']}"
        lines.append(
            f"| {code} ({codes[code]['label']}) | {dv['pairs_identical_whole_run']} "
            f"of {res['n_seeds']} "
            f"({dv['years'][0]}-{dv['years'][1]}) | {span} | {codes[code]['wall_s']:.1f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=12, help="seeds per scenario (default 12)")
    ap.add_argument(
        "--first-seed", type=int, default=1, help="seeds are first..first+N-1 (default 1)"
    )
    ap.add_argument("--scale", type=float, default=0.25, help="population scale (default 0.25)")
    ap.add_argument("--jobs", type=int, default=2, help="process-pool workers (default 2)")
    ap.add_argument(
        "--before", default="1c35dad", help="commit with the old code (default 1c35dad)"
    )
    ap.add_argument("--before-tree", type=Path, help="an existing checkout of the old code")
    ap.add_argument("--json", type=Path, help="write all figures here")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.seeds < 3:
        ap.error("--seeds must be at least 3")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))

    if args.worker:
        print(json.dumps(worker(args.worker, seeds, args.scale, args.jobs)))
        return 0

    t0 = time.perf_counter()
    res: dict = {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": ".venv/bin/python benchmarks/bench_pairing.py "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "n_seeds": args.seeds,
        "seeds": seeds,
        "scale": args.scale,
        "jobs": args.jobs,
        "period": list(PERIOD),
        "load_1min": [load_1min()],
        "codes": {},
    }
    dirty = bool(git("status", "--porcelain", "--", "sim", "scenarios"))
    head = git("rev-parse", "--short", "HEAD")
    made_tree = None
    if args.before_tree:
        before_tree = args.before_tree.resolve()
    else:
        made_tree = Path(tempfile.mkdtemp(prefix="pilotsim_before_")) / "tree"
        git("worktree", "add", "--detach", str(made_tree), args.before)
        before_tree = made_tree
    try:
        before_rev = git("rev-parse", "--short", "HEAD", cwd=before_tree)
        trees = {
            "before": (before_tree, f"{before_rev}, sequential streams"),
            "after": (ROOT, f"{head}{' + uncommitted' if dirty else ''}, keyed streams"),
        }
        for code, (tree, label) in trees.items():
            print(
                f"running {code}: {label} ({2 * args.seeds} runs at scale {args.scale:g}, "
                f"{args.jobs} workers) ...",
                flush=True,
            )
            got = run_code(tree, seeds, args.scale, args.jobs)
            by = {s: {r["seed"]: r for r in got["runs"] if r["scenario"] == s} for s in SCENARIOS}
            res["codes"][code] = {
                "label": label,
                "tree": str(tree),
                "sim_file": got["sim_file"],
                "wall_s": got["wall_s"],
                "stats": pairing_stats(by["baseline"], by["hk_pilot_platform"], seeds),
            }
    finally:
        if made_tree is not None:
            git("worktree", "remove", "--force", str(made_tree))
    res["load_1min"].append(load_1min())
    res["total_s"] = time.perf_counter() - t0

    print()
    print(
        f"{res['date']}; {args.seeds} seeds ({seeds[0]}-{seeds[-1]}), scale {args.scale:g}, "
        f"baseline vs hk_pilot_platform; 1-min load {res['load_1min'][0]} at start, "
        f"{res['load_1min'][1]} at end; {res['total_s']:.0f} s in all"
    )
    print()
    print("\n".join(table(res)))
    print()
    print(
        "Unpaired: policy seed i against baseline seed i+1 (mod N), same runs. The model changed "
        "between the two codes, so compare the ratio paired / unpaired (and the share removed), "
        "not the variances themselves."
    )
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
