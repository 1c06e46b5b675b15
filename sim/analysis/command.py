"""``pilotsim analyse``: the policy analyses from the command line.

Each analysis lives in its own module of ``sim.analysis`` and follows one contract:

- its sizes, help and options are in ``sim.analysis.sizes`` (``DEFAULTS[name]``, finishing
  within 60 minutes on 2 cores, and ``QUICKS[name]`` for tests and notebooks), so that
  ``--help`` loads none of the analysis libraries;
- ``run(out, size, settings, options)``: runs through
  ``experiment.open_lab(out, [NAME], settings, **options.lab())``, computes its result
  object (an ``AnalysisResult`` of ``sim.analysis.result``: tables as DataFrames, findings,
  figures on demand), writes it with ``result.write(out)`` (tables as CSV, figures as PNG,
  its ``report.md`` section), calls ``experiment.finish(out, lab, NAME, result.record())``
  and returns the result, whose ``summary`` is printed;
- its result class reads the folder back (``read(out)``, ``sim.analysis.load(NAME, out)``):
  the index (``report.write_index``) is built from the results read so.

Options common to every analysis (scale, horizon, period, seeds, executor, output folder)
are added here. The default folder is ``results/policy_analysis/<NAME>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from sim.analysis.sizes import ANALYSES

DEFAULT_ROOT = Path("results") / "policy_analysis"


@dataclasses.dataclass(frozen=True)
class Options:
    """Executor and output options of an analysis (see ``experiment.open_lab``)."""

    jobs: int | None = None
    dask: bool = False
    scheduler: str | None = None
    progress: bool = True
    force: bool = False
    command: str | None = None

    def lab(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def module(name: str) -> Any:
    if name not in ANALYSES:
        from sim.errors import BatchError

        raise BatchError(f"unknown analysis {name!r}; allowed: {', '.join(ANALYSES)}")
    return importlib.import_module(f"sim.analysis.{name}")


def add_common(p: argparse.ArgumentParser) -> None:
    from sim.experiments.command import (
        add_executor_options,
        non_negative_int,
        period_arg,
        scale_arg,
    )
    from sim.experiments.defaults import MAX_RUNS_WITHOUT_YES

    p.add_argument("--quick", action="store_true", help="the small size (tests, notebooks)")
    p.add_argument("--scale", type=scale_arg, help="population scale of every run (default 0.25)")
    p.add_argument("--until", type=int, help="last simulated year (default 2035)")
    p.add_argument("--period", type=period_arg, help="START-END of effects (default 2025-2035)")
    p.add_argument("--root-seed", type=non_negative_int, help="root of seeds and designs (0)")
    p.add_argument("--out", help=f"output folder (default {DEFAULT_ROOT}/<analysis>)")
    p.add_argument("--force", action="store_true", help="--out holds another job: clear it first")
    p.add_argument(
        "--yes",
        action="store_true",
        help=f"run an analysis planning more than {MAX_RUNS_WITHOUT_YES:,} runs (refused "
        "otherwise, with its estimated time)",
    )
    add_executor_options(p)


def add_analyse_command(sub: Any) -> None:
    """Add ``pilotsim analyse <analysis>`` (the modules load only when one runs)."""
    a = sub.add_parser(
        "analyse",
        help="policy analyses: sensitivity, scenario discovery, equal-cost instruments, "
        "design frontier, horizons",
        description="Global sensitivity (Morris, Sobol), scenario discovery (PRIM), "
        "equal-cost instruments with regret, a platform design frontier (NSGA-II) and "
        "horizons, all on paired effects (policy minus baseline, same future and seeds). "
        "Rerunning a command resumes from its stored runs.",
    )
    asub = a.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    from sim.analysis import sizes

    for name in ANALYSES:
        spec = sizes.SPECS[name]
        p = asub.add_parser(name, help=spec["help"], description=spec["help"])
        add_common(p)
        for field, (typ, text) in spec["options"].items():
            p.add_argument("--" + field.replace("_", "-"), type=typ, help=text)
        p.set_defaults(func=cmd_analyse)
    p = asub.add_parser("all", help="every analysis at its size, then the index report")
    add_common(p)
    p.set_defaults(func=cmd_analyse)


#: Settings of ``--quick``: small, short runs (tests and notebooks).
QUICK_SETTINGS = {"scale": 0.05, "until": 2030, "period": (2025, 2030)}


def settings_from(args: argparse.Namespace) -> Any:
    from sim.analysis.experiment import Settings
    from sim.experiments.batch import check_years
    from sim.experiments.workflows import check_run_option

    d = Settings(**QUICK_SETTINGS) if args.quick else Settings()  # type: ignore[arg-type]
    until = check_run_option("--until", "end_year", args.until) if args.until else d.until
    period = tuple(args.period) if args.period is not None else d.period
    check_years((), period, until)  # a BatchError naming --period outside the run
    return Settings(
        scale=args.scale if args.scale is not None else d.scale,
        until=until,
        period=period,
        root_seed=args.root_seed if args.root_seed is not None else d.root_seed,
    )


def size_from(name: str, args: argparse.Namespace) -> Any:
    """The analysis' size: quick or default, with the options given on the command line
    (``--scale`` and ``--until`` of ``horizons`` are its own size's, default 0.5 and 2050)."""
    from sim.analysis.sizes import DEFAULTS, QUICKS

    size = QUICKS[name] if args.quick else DEFAULTS[name]
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(size)
        if getattr(args, f.name, None) is not None
    }
    return dataclasses.replace(size, **given)


def _check_runs(name: str, size: Any, settings: Any, args: argparse.Namespace) -> None:
    """Refuse an analysis planning more than ``MAX_RUNS_WITHOUT_YES`` runs without ``--yes``
    (a BatchError with the runs and their estimated time), before any run."""
    from sim.analysis.sizes import planned_runs
    from sim.experiments.batch import check_batch_size

    own = name == "horizons"  # horizons runs at its own scale and horizon
    check_batch_size(
        planned_runs(name, size),
        f"analyse {name}",
        scale=size.scale if own else settings.scale,
        until=size.until if own else settings.until,
        jobs=args.jobs,
        yes=args.yes,
    )


def cmd_analyse(args: argparse.Namespace) -> int:
    from sim.experiments.command import run_guarded

    def go() -> int:
        names = list(ANALYSES) if args.analysis == "all" else [args.analysis]
        root = Path(args.out) if args.out and args.analysis == "all" else DEFAULT_ROOT
        settings = settings_from(args)
        opts = Options(args.jobs, args.dask, args.scheduler, not args.no_progress, args.force)
        sizes = {name: size_from(name, args) for name in names}
        for name in names:  # every size checked before any analysis runs
            check = getattr(module(name), "check", None)
            if check is not None:
                check(sizes[name], settings)
            _check_runs(name, sizes[name], settings, args)
        done = {}
        for name in names:
            out = Path(args.out) if args.out and args.analysis != "all" else root / name
            result = module(name).run(out, sizes[name], settings, opts)
            done[name] = result.summary
            print(json.dumps({name: done[name]}, indent=1, default=str))
        if args.analysis == "all" or not args.out:  # the index of the analyses' folder
            from sim.analysis.report import write_index

            print(f"wrote {write_index(root)}")
        return 0

    try:
        return run_guarded(go)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
