"""``pilotsim calibrate``: the command line of :mod:`sim.calibration.api`.

Parses the options into :class:`~sim.calibration.api.CalibrationSettings` and calls
:func:`~sim.calibration.api.run_settings`, which checks inputs before anything runs or is
written (bad input: ``UsageError``/``CalibrationError``, exit 2 with a message naming the
file, the key and what is allowed) and writes the outputs all or nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sim.calibration.defaults import (
    CALIBRATION_DIR,
    DB_NAME,
    DEFAULT_PRIORS,
    DEFAULT_TARGETS,
    FULL,
    QUICK,
    RETUNE_ESS_FLOOR,
    RETUNE_OUT,
    ROLLING,
)

#: The first line of the command's help (as before the split into api and command).
DESCRIPTION = "``pilotsim calibrate``: ABC-SMC (default) or a point fit; writes ``calibration/``."

__all__ = [
    "DB_NAME",
    "FULL",
    "QUICK",
    "add_calibrate_command",
    "add_validate_model_command",
    "cmd_calibrate",
]


def add_calibrate_command(sub: Any) -> None:
    """Register ``calibrate`` on the ``pilotsim`` sub-command parser."""
    c = sub.add_parser(
        "calibrate",
        help="fit free parameters to Hong Kong 2015-2019 (ABC-SMC or a point fit)",
        description=DESCRIPTION,
    )
    c.add_argument(
        "--method",
        choices=("abc", "de"),
        default="abc",
        help="abc: ABC-SMC posterior (default); de: differential-evolution point",
    )
    c.add_argument("--targets", default=str(DEFAULT_TARGETS), help="targets YAML")
    c.add_argument("--priors", default=str(DEFAULT_PRIORS), help="priors YAML")
    c.add_argument(
        "--scenario",
        default=None,
        help="base scenario for the fixed parameters (default: sim/params.py "
        "defaults, i.e. not the previous calibration)",
    )
    c.add_argument(
        "--out",
        default=None,
        help="output folder (default calibration/; --quick: "
        "results/calibration-quick; --method de: results/calibration-de)",
    )
    c.add_argument(
        "--population",
        type=int,
        default=None,
        help=f"particles per generation (default {FULL['population']}; "
        f"--quick {QUICK['population']})",
    )
    c.add_argument(
        "--generations",
        type=int,
        default=None,
        help="most generations of the run; --resume continues up to this many in all, so a "
        "killed run resumed with the same options ends as an uninterrupted one (default "
        f"{FULL['generations']}, the committed calibration; --quick {QUICK['generations']})",
    )
    c.add_argument(
        "--scale",
        type=float,
        default=None,
        help=f"population scale of the runs (default {FULL['scale']}; --quick {QUICK['scale']})",
    )
    c.add_argument(
        "--seed",
        type=int,
        default=2024,
        help="root seed (the run is deterministic; the defaults reproduce the committed run)",
    )
    c.add_argument("--min-epsilon", type=float, default=0.0, help="stop below this distance")
    c.add_argument(
        "--min-acceptance",
        type=float,
        default=0.0,
        help="stop when a generation's acceptance rate falls below this",
    )
    c.add_argument("--max-simulations", type=int, default=None, help="stop after this many runs")
    c.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop after this wall time (between generations, or inside one, whose "
        "particles are then dropped and --resume redoes; default "
        f"{FULL['max_minutes']:g}, a guard: the default run took 13 to 25 minutes on 2 cores)",
    )
    c.add_argument(
        "--bank-runs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="record every ABC run, rejected ones included, with its statistics in "
        "OUT/abc.bank.parquet, so that --retune can re-weight them exactly (early rejection "
        "is then off: the posterior is the same, the run about 6%% slower; default on)",
    )
    c.add_argument("--resume", action="store_true", help="continue the run in OUT/abc.db")
    c.add_argument("--fresh", action="store_true", help="replace an existing OUT/abc.db")
    c.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite outputs and report from OUT/abc.db without simulating",
    )
    c.add_argument("--no-report", action="store_true", help="skip the report and figures")
    c.add_argument(
        "--predictive-draws",
        type=int,
        default=None,
        help="posterior draws for the posterior-predictive check (default 100; --quick 8)",
    )
    c.add_argument(
        "--predictive-scale",
        type=float,
        default=None,
        help="scale of the posterior-predictive runs (default 1; --quick 0.1)",
    )
    c.add_argument(
        "--quick",
        action="store_true",
        help="tiny run for tests: population 24, 2 generations, scale 0.1, "
        "8 predictive draws at scale 0.1",
    )
    c.add_argument(
        "--rolling-origin",
        action="store_true",
        help="out-of-sample check: fit 2015-2017 only (own ABC-SMC in OUT/rolling_origin/; "
        f"defaults population {ROLLING['population']}, {ROLLING['generations']} generations, "
        f"scale {ROLLING['scale']}, --max-minutes {ROLLING['max_minutes']:g}), forecast "
        f"2018-2019 ({ROLLING['predictive_draws']} posterior draws at the fit's scale) beside "
        "a straight-line trend; --report-only redoes only the forecast from the stored fit",
    )
    c.add_argument("--de-maxiter", type=int, default=30, help="DE generations")
    c.add_argument("--de-popsize", type=int, default=6, help="DE population x parameters")
    c.add_argument("--de-seeds", type=int, default=2, help="model seeds averaged per point")
    c.add_argument("--jobs", type=int, default=None, help="parallel runs (default: all cores)")
    c.add_argument("--dask", action="store_true", help="run on a local Dask cluster")
    c.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT")
    c.add_argument("--quiet", action="store_true", help="no per-generation log")
    c.add_argument(
        "--yes",
        action="store_true",
        help="run an ABC calibration of more runs (population x generations and predictive "
        "draws) than a batch may have without confirmation (as compare and sweep)",
    )
    add_retune_arguments(c)
    c.set_defaults(func=cmd_calibrate)


def add_retune_arguments(c: Any) -> None:
    """The ``--retune`` options of ``pilotsim calibrate`` (the others it shares are
    ``--targets`` (the bank's), ``--priors``, ``--scenario``, ``--out``, ``--jobs``,
    ``--quick`` and ``--predictive-scale``, the baseline set's scale)."""
    c.add_argument(
        "--retune",
        default=None,
        metavar="TARGETS.yaml",
        help="re-weight the stored ABC runs (--bank) to these targets instead of running ABC: "
        "a new posterior, baseline set and report in minutes (default --out "
        f"{RETUNE_OUT})",
    )
    c.add_argument(
        "--bank",
        default=str(CALIBRATION_DIR / DB_NAME),
        help="with --retune: the ABC database to re-weight (fitted to --targets)",
    )
    c.add_argument(
        "--ess-floor",
        type=float,
        default=RETUNE_ESS_FLOOR,
        help=f"with --retune: effective sample size the new posterior must reach "
        f"(default {RETUNE_ESS_FLOOR:g})",
    )
    c.add_argument(
        "--refit-posterior",
        default=None,
        help="with --retune: posterior.csv of a full ABC refit on the new targets, compared "
        "in the report",
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Run the calibration the options describe; 0 on success."""
    from sim.calibration.api import CalibrationSettings, run_settings

    if getattr(args, "retune", None):
        from sim.calibration.retune import cmd_retune

        return cmd_retune(args)
    run_settings(CalibrationSettings.from_namespace(args))
    return 0


def add_validate_model_command(sub: Any) -> None:
    """Register ``validate-model`` (the stylised-facts check) on the sub-command parser."""
    v = sub.add_parser(
        "validate-model",
        help="check the calibrated model against stylised facts of the research pipeline",
        description="Run a scenario (default baseline) with several seeds and compare "
        "survival, licensing, spin-off, funnel, location and industry facts with their "
        "observed figures; writes stylised_facts.md and .csv.",
    )
    v.add_argument("--scenario", default="baseline", help="scenario file or name")
    v.add_argument("--seeds", type=int, default=4, help="runs, seeds 0..N-1 (default 4)")
    v.add_argument("--scale", type=float, default=0.5, help="population scale (default 0.5)")
    v.add_argument("--out", default=str(CALIBRATION_DIR), help="output folder (calibration/)")
    v.add_argument("--jobs", type=int, default=None, help="parallel runs (default: all cores)")
    v.add_argument(
        "--no-client-studies",
        action="store_true",
        help="skip the published client studies (pilotsim evaluate on hk_pilot_platform)",
    )
    v.add_argument(
        "--client-seeds",
        type=int,
        default=None,
        help="pairs of runs for the client studies (default: pilotsim evaluate's, 16)",
    )
    v.add_argument(
        "--client-scale",
        type=float,
        default=None,
        help="population scale of the client studies (default: pilotsim evaluate's, 1)",
    )
    v.set_defaults(func=cmd_validate_model)


def cmd_validate_model(args: argparse.Namespace) -> int:
    """Print the stylised-facts table and write it; 0 whether facts pass or miss."""
    from sim.calibration import facts
    from sim.errors import UsageError
    from sim.experiments.executors import open_executor
    from sim.scenario import load_scenario

    if args.seeds < 1:
        raise UsageError(f"validate-model: --seeds must be >= 1, got {args.seeds}")
    if not 0 < args.scale <= 3:
        raise UsageError(f"validate-model: --scale must be in (0, 3], got {args.scale}")
    spec = load_scenario(args.scenario)
    with open_executor(args.jobs) as engine:
        futures = [
            engine.executor.submit(facts.run_stats, spec, seed, args.scale)
            for seed in range(args.seeds)
        ]
        stats = [f.result() for f in futures]
    table = facts.evaluate(stats)
    client_size = None
    if not args.no_client_studies:
        import pandas as pd

        from sim.evaluation import command as evaluate_command
        from sim.evaluation.evaluate import evaluate

        # The client studies need many client firms: they run at the evaluation's own size,
        # not the facts' (a handful of clients per seed at scale 0.5 is noise).
        c_seeds = args.client_seeds or evaluate_command.SEEDS
        c_scale = args.client_scale or evaluate_command.SCALE
        if c_seeds < 1 or not 0 < c_scale <= 3:
            raise UsageError(
                f"validate-model: --client-seeds must be >= 1 and --client-scale in (0, 3], "
                f"got {c_seeds} and {c_scale}"
            )
        ev = evaluate(seeds=c_seeds, scale=c_scale, jobs=args.jobs)
        table = pd.concat([table, facts.client_study_rows(ev)], ignore_index=True)
        client_size = (c_seeds, c_scale)
    text = facts.markdown(
        table, scenario=spec.name, seeds=args.seeds, scale=args.scale, client_size=client_size
    )
    print(text, end="")
    from sim.calibration.defaults import FACTS_NAMES
    from sim.experiments.folder_lock import hold_out_dir

    with hold_out_dir(Path(args.out), FACTS_NAMES) as out:  # never a user's file of that name
        written = facts.write(table, out, text)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
