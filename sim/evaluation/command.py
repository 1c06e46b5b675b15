"""``pilotsim evaluate``: the published client studies rerun on the model (``evaluate``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

#: Default output folder, beside the committed comparisons.
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "results" / "evaluation"
#: Seeds and scale of a full evaluation (assumption: 16 pairs give intervals of a few
#: percentage points on the value-added rows at scale 1, measured in the committed report).
SEEDS = 16
SCALE = 1.0
#: ``--quick``: a smoke run for trying the command (assumption: seconds, not a result).
QUICK_SEEDS = 2
QUICK_SCALE = 0.5
#: ``--fit``: Latin-hypercube points and seeds per point (assumption: enough points for a
#: quadratic emulator in three parameters, 10 terms, with room to spare; ``--quick`` uses
#: ``QUICK_FIT_POINTS``).
FIT_POINTS = 24
FIT_SEEDS = 6
QUICK_FIT_POINTS = 12


def add_evaluate_command(sub: Any) -> None:
    from sim.experiments.command import positive_int, scale_arg

    e = sub.add_parser(
        "evaluate",
        help="rerun the published client studies (Fraunhofer, TO2, TNO, Innovate UK, MEP, "
        "ERDF) on the model's firms, beside the true effect from the baseline twins",
        description="For each seed, run the baseline and the platform scenario with a firm "
        "panel, apply each study's design to the platform run's firms and compare with the "
        "published figure and with the true effect on the same firms (baseline twins). "
        "Writes report.md, evaluations.csv, estimates_by_seed.csv, additionality.csv, "
        "additionality_by_seed.csv, evaluation.json and evaluations.png (read back in Python "
        "with sim.evaluation.evaluate.Evaluation.read).",
    )
    e.add_argument("--scenario", default="hk_pilot_platform", help="platform scenario")
    e.add_argument(
        "--seeds", type=positive_int("--seeds"), default=None, help=f"pairs (default {SEEDS})"
    )
    e.add_argument(
        "--scale", type=scale_arg, default=None, help=f"population scale (default {SCALE:g})"
    )
    e.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SEEDS} seeds at scale {QUICK_SCALE:g}: a smoke run, not a result",
    )
    e.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (results/evaluation)")
    e.add_argument(
        "--jobs",
        type=positive_int("--jobs"),
        default=None,
        help="parallel runs (default: all cores)",
    )
    e.add_argument(
        "--fit",
        action="store_true",
        help="fit the platform's engineering service to the studies (sim.evaluation.fit: "
        f"{FIT_POINTS} points x {FIT_SEEDS} seeds, then the fitted point with --seeds): "
        "writes service_fit.md and its tables; about 10 min on 2 cores at scale 1",
    )
    e.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sim.errors import UsageError
    from sim.evaluation.evaluate import NAMES, evaluate
    from sim.experiments.folder_lock import hold_out_dir
    from sim.run import resolve

    seeds = args.seeds or (QUICK_SEEDS if args.quick else SEEDS)
    scale = args.scale or (QUICK_SCALE if args.quick else SCALE)
    policy = resolve(args.scenario)  # a bad scenario fails here, before any run
    if not policy.platform.enabled:
        raise UsageError(
            f"evaluate: scenario {args.scenario!r} has no platform (platform.enabled is false); "
            "the studies evaluate the platform's clients: choose a scenario with it, e.g. "
            "hk_pilot_platform"
        )
    if args.quick and args.out == str(DEFAULT_OUT):
        raise UsageError(
            "evaluate: --quick is a smoke run; give --out (the default folder, "
            f"{DEFAULT_OUT}, holds the committed evaluation)"
        )
    if args.fit:
        return _fit(args, seeds, scale)
    ev = evaluate(policy, seeds=seeds, scale=scale, jobs=args.jobs)
    with hold_out_dir(Path(args.out), NAMES) as out:
        written = ev.write(out)
    t = ev.table
    print(
        f"{int(t['within'].sum())} of {len(t)} published figures met, in "
        f"{t.loc[t['within'], 'study'].nunique()} of {t['study'].nunique()} studies"
    )
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _fit(args: argparse.Namespace, seeds: int, scale: float) -> int:
    from sim.evaluation import fit
    from sim.experiments.folder_lock import hold_out_dir
    from sim.run import resolve

    spec = resolve(args.scenario)
    current = {k: float(getattr(spec.platform, k.split(".")[1])) for k in fit.PARAMETERS}
    result = fit.fit(
        spec,
        n_points=QUICK_FIT_POINTS if args.quick else FIT_POINTS,
        seeds=QUICK_SEEDS if args.quick else FIT_SEEDS,
        scale=scale,
        jobs=args.jobs,
        include=current,
    )
    raced = fit.race(result, spec, seeds=seeds, scale=scale, jobs=args.jobs)
    with hold_out_dir(Path(args.out), fit.FIT_NAMES) as out:
        written = fit.write(result, raced, out)
    print("fitted: " + ", ".join(f"{k}={v:.3f}" for k, v in fit.fitted(raced).items()))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
