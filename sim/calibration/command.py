"""``pilotsim calibrate``: ABC-SMC (default) or a point fit; writes ``calibration/``.

Inputs are checked before anything runs or is written; bad input exits 2 with a message
naming the file, the key and what is allowed. Outputs (posterior, calibrated set, metadata,
report) are written all or nothing; only the pyabc database grows during the run (that is
what ``--resume`` continues).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from sim.calibration.config import (
    CALIBRATION_DIR,
    DEFAULT_PRIORS,
    DEFAULT_TARGETS,
    CalibrationError,
    Priors,
    Targets,
    check_overrides,
    load_priors,
    load_targets,
)
from sim.params import Scenario

#: Settings of a full run and of ``--quick`` (options given on the command line win).
FULL = {
    "population": 150,
    "generations": 18,
    "scale": 0.25,
    "predictive_draws": 100,
    "predictive_scale": 1.0,
}
QUICK = {
    "population": 24,
    "generations": 2,
    "scale": 0.1,
    "predictive_draws": 8,
    "predictive_scale": 0.1,
}
DB_NAME = "abc.db"


def add_calibrate_command(sub: Any) -> None:
    """Register ``calibrate`` on the ``pilotsim`` sub-command parser."""
    c = sub.add_parser(
        "calibrate",
        help="fit free parameters to Hong Kong 2015-2019 (ABC-SMC or a point fit)",
        description=__doc__.splitlines()[0],
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
        help="particles per generation (default 150; --quick 24)",
    )
    c.add_argument(
        "--generations",
        type=int,
        default=None,
        help="most generations in this call, added to a resumed run (default 18; --quick 2)",
    )
    c.add_argument(
        "--scale",
        type=float,
        default=None,
        help="population scale of the runs (default 0.25; --quick 0.1)",
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
        help="stop after this wall time (checked between generations)",
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
    c.add_argument("--de-maxiter", type=int, default=30, help="DE generations")
    c.add_argument("--de-popsize", type=int, default=6, help="DE population x parameters")
    c.add_argument("--de-seeds", type=int, default=2, help="model seeds averaged per point")
    c.add_argument("--jobs", type=int, default=None, help="parallel runs (default: all cores)")
    c.add_argument("--dask", action="store_true", help="run on a local Dask cluster")
    c.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT")
    c.add_argument("--quiet", action="store_true", help="no per-generation log")
    c.set_defaults(func=cmd_calibrate)


def _usage(msg: str) -> Exception:
    from sim.cli import UsageError

    return UsageError(msg)


def _check_args(args: argparse.Namespace) -> None:
    for k, v in (QUICK if args.quick else FULL).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    checks = [
        ("--population", args.population, args.population >= 2, ">= 2"),
        ("--generations", args.generations, args.generations >= 1, ">= 1"),
        ("--scale", args.scale, 0 < args.scale <= 5, "in (0, 5]"),
        ("--predictive-scale", args.predictive_scale, 0 < args.predictive_scale <= 5, "in (0, 5]"),
        ("--predictive-draws", args.predictive_draws, args.predictive_draws >= 2, ">= 2"),
        ("--seed", args.seed, args.seed >= 0, ">= 0"),
        ("--min-epsilon", args.min_epsilon, args.min_epsilon >= 0, ">= 0"),
        ("--min-acceptance", args.min_acceptance, 0 <= args.min_acceptance < 1, "in [0, 1)"),
        ("--de-maxiter", args.de_maxiter, args.de_maxiter >= 1, ">= 1"),
        ("--de-popsize", args.de_popsize, args.de_popsize >= 2, ">= 2"),
        ("--de-seeds", args.de_seeds, args.de_seeds >= 1, ">= 1"),
    ]
    if args.max_simulations is not None:
        checks.append(
            ("--max-simulations", args.max_simulations, args.max_simulations >= 1, ">= 1")
        )
    if args.max_minutes is not None:
        checks.append(("--max-minutes", args.max_minutes, args.max_minutes > 0, "> 0"))
    for name, value, ok, allowed in checks:
        if not ok:
            raise _usage(f"{name} must be {allowed}, got {value}")
    if args.resume and args.fresh:
        raise _usage("--resume and --fresh exclude each other: choose one")
    if args.report_only and (args.fresh or args.method != "abc"):
        raise _usage("--report-only reads an ABC database: not with --fresh or --method de")


def canonical_command(args: argparse.Namespace) -> str:
    """The command with every setting spelled out (recorded with the results)."""
    parts = ["pilotsim", "calibrate", "--method", args.method]
    rel = _rel
    parts += ["--targets", rel(args.targets), "--priors", rel(args.priors)]
    if args.scenario:
        parts += ["--scenario", rel(args.scenario)]
    parts += ["--out", rel(args.out)]
    if args.method == "abc" and not args.report_only:
        parts += ["--population", str(args.population), "--generations", str(args.generations)]
    elif args.method == "de":
        parts += [
            "--de-maxiter",
            str(args.de_maxiter),
            "--de-popsize",
            str(args.de_popsize),
            "--de-seeds",
            str(args.de_seeds),
        ]
    if not args.report_only:
        parts += ["--scale", f"{args.scale:g}"]
    parts += ["--seed", str(args.seed)]
    for flag, v in (("--min-epsilon", args.min_epsilon), ("--min-acceptance", args.min_acceptance)):
        if v:
            parts += [flag, f"{v:g}"]
    if args.max_simulations is not None:
        parts += ["--max-simulations", str(args.max_simulations)]
    if args.max_minutes is not None:
        parts += ["--max-minutes", f"{args.max_minutes:g}"]
    parts += [
        "--predictive-draws",
        str(args.predictive_draws),
        "--predictive-scale",
        f"{args.predictive_scale:g}",
    ]
    if args.jobs is not None:
        parts += ["--jobs", str(args.jobs)]
    if args.dask:
        parts.append("--dask")
    for flag in ("resume", "report_only", "no_report"):
        if getattr(args, flag):
            parts.append("--" + flag.replace("_", "-"))
    return shlex.join(parts)


def _rel(p: str | Path) -> str:
    path = Path(p).resolve()
    try:
        return str(path.relative_to(CALIBRATION_DIR.parent))
    except ValueError:
        return str(p)


def _base(args: argparse.Namespace) -> Scenario:
    from sim.scenario import load_scenario

    return load_scenario(args.scenario) if args.scenario else Scenario()


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Run the calibration the options describe; 0 on success."""
    _check_args(args)
    targets = load_targets(args.targets)
    priors = load_priors(args.priors)
    base = _base(args)
    check_overrides(base, priors)
    if args.out is None:
        args.out = str(
            Path("results/calibration-quick")
            if args.quick
            else Path("results/calibration-de")
            if args.method == "de"
            else CALIBRATION_DIR
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _usage(f"--out {out}: exists and is not a directory")
    db = out / DB_NAME
    if args.method == "abc":
        if args.report_only or args.resume:
            if not db.is_file():
                raise CalibrationError(db, "no database to read (run without --resume)")
        elif db.exists() and not args.fresh:
            raise CalibrationError(
                db, "database exists; pass --resume to continue it or --fresh to replace it"
            )
    command = canonical_command(args)
    from sim.experiments.executors import ExecutorError, open_executor

    try:
        with open_executor(args.jobs, dask=args.dask, scheduler=args.scheduler) as engine:
            if args.method == "de":
                return _run_de(args, targets, priors, base, out, engine, command)
            return _run_abc(args, targets, priors, base, out, db, engine, command)
    except ExecutorError as e:
        raise _usage(str(e)) from None


def _run_abc(
    args: argparse.Namespace,
    targets: Targets,
    priors: Priors,
    base: Scenario,
    out: Path,
    db: Path,
    engine: Any,
    command: str,
) -> int:
    from sim.calibration.smc import SMCSettings, load_history, run_smc

    settings = SMCSettings(
        population=args.population,
        generations=args.generations,
        scale=args.scale,
        seed=args.seed,
        min_epsilon=args.min_epsilon,
        min_acceptance=args.min_acceptance,
        max_simulations=args.max_simulations,
        max_minutes=args.max_minutes,
    )
    log_path = db.with_suffix(".json")
    if args.report_only:
        result = load_history(db, priors)
        calls = json.loads(log_path.read_text()).get("calls", []) if log_path.is_file() else []
    else:
        if args.fresh:
            for p in (db, log_path):
                p.unlink(missing_ok=True)
        print(
            f"ABC-SMC: {len(priors.priors)} parameters, {len(targets.labels)} target points, "
            f"population {args.population}, scale {args.scale:g}, {engine.description}"
        )
        result = run_smc(
            targets,
            priors,
            base,
            settings,
            db,
            engine.executor,
            engine.workers,
            resume=args.resume,
            quiet=args.quiet,
        )
        log = json.loads(log_path.read_text()) if log_path.is_file() else {}
        calls = log.get("calls", [])
        calls.append(
            {
                "command": command,
                "seconds": round(result.seconds, 1),
                "simulations_total_after": result.simulations,
                "executor": engine.description,
            }
        )
        log["calls"] = calls
        log_path.write_text(json.dumps(log, indent=2) + "\n")
    _write_outputs(args, targets, priors, base, out, engine, command, result, calls)
    return 0


def _summary(result: Any, calls: list[dict[str, Any]]) -> dict[str, Any]:
    g = result.generations
    return {
        "method": "ABC-SMC (pyabc, seeded static sampler)",
        "generations": int(len(g)),
        "final_epsilon": round(float(g["epsilon"].iloc[-1]), 4),
        "simulations": int(result.simulations),
        "wall_seconds": round(sum(c["seconds"] for c in calls), 1),
    }


def _write_outputs(
    args: argparse.Namespace,
    targets: Targets,
    priors: Priors,
    base: Scenario,
    out: Path,
    engine: Any,
    command: str,
    result: Any,
    calls: list[dict[str, Any]],
) -> None:
    from sim.calibration.posterior import calibrated_yaml, header_lines, point_estimate
    from sim.cli import git_commit, package_versions

    summary = _summary(result, calls)
    point = point_estimate(result.posterior, priors)
    commands = [c["command"] for c in calls]
    if command not in commands:
        commands.append(command)
    meta = {
        **summary,
        "command": command,
        "commands": commands,
        "calls": calls,
        "targets": _rel(targets.path),
        "priors": _rel(priors.path),
        "base_scenario": args.scenario or "sim/params.py defaults",
        "population": len(result.posterior),
        "predictive": {
            "draws": args.predictive_draws,
            "scale": args.predictive_scale,
            "seed": args.seed,
        },
        "calibrated": point,
        "versions": {**package_versions(), "pyabc": _version("pyabc")},
        "git_commit": git_commit(),
    }
    files: dict[str, Any] = {
        "posterior.csv": lambda p: result.posterior.to_csv(p, index=False, float_format="%.8g"),
        "generations.csv": lambda p: result.generations.to_csv(p, index=False),
        "calibrated.yaml": lambda p: p.write_text(
            calibrated_yaml(point, header_lines(commands, summary)), encoding="utf-8"
        ),
        "calibration.json": lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"),
    }
    if not args.no_report:
        from sim.calibration.report import build_report

        t0 = time.perf_counter()
        report_files = build_report(
            targets,
            priors,
            base,
            result,
            point,
            executor=engine.executor,
            draws=args.predictive_draws,
            scale=args.predictive_scale,
            seed=args.seed,
            commands=commands,
            summary=summary,
        )
        files.update(report_files)
        print(
            f"report: {args.predictive_draws} posterior-predictive runs at scale "
            f"{args.predictive_scale:g} in {time.perf_counter() - t0:.0f} s"
        )
    _write_all(out, files)
    print(
        f"{summary['generations']} generations, final epsilon {summary['final_epsilon']}, "
        f"{summary['simulations']} simulations, {summary['wall_seconds']} s"
    )
    print(f"wrote {out}/: " + " ".join(sorted(files)))


def _run_de(
    args: argparse.Namespace,
    targets: Targets,
    priors: Priors,
    base: Scenario,
    out: Path,
    engine: Any,
    command: str,
) -> int:
    from sim.calibration.pointfit import run_point_fit
    from sim.calibration.posterior import calibrated_yaml, header_lines
    from sim.cli import git_commit, package_versions

    print(
        f"differential evolution: {len(priors.priors)} parameters, scale {args.scale:g}, "
        f"{engine.description}"
    )
    fit = run_point_fit(
        targets,
        priors,
        base,
        scale=args.scale,
        seed=args.seed,
        seeds_per_point=args.de_seeds,
        maxiter=args.de_maxiter,
        popsize=args.de_popsize,
        executor=engine.executor,
    )
    summary = {
        "method": "differential evolution point fit (scipy)",
        "distance": round(fit.distance, 4),
        "iterations": fit.iterations,
        "simulations": fit.simulations,
        "wall_seconds": round(fit.seconds, 1),
    }
    header = header_lines([command], summary)
    header[1:3] = [
        "Each value is a differential-evolution point fit (no posterior) against",
        "Hong Kong 2015-2019 (targets and priors as named in calibration.json).",
    ]
    meta = {
        **summary,
        "command": command,
        "calibrated": fit.values,
        "versions": {**package_versions(), "pyabc": _version("pyabc")},
        "git_commit": git_commit(),
    }
    _write_all(
        out,
        {
            "calibrated.yaml": lambda p: p.write_text(calibrated_yaml(fit.values, header)),
            "calibration.json": lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"),
        },
    )
    print(
        f"distance {fit.distance:.4f} after {fit.iterations} generations, "
        f"{fit.simulations} simulations, {fit.seconds:.0f} s"
    )
    print(f"wrote {out}/: calibrated.yaml calibration.json")
    return 0


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _write_all(out: Path, files: dict[str, Any]) -> None:
    """Write every file into a temporary folder, then move them in: all or nothing."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".tmp-") as tmp:
        t = Path(tmp)
        for name, writer in files.items():
            (t / name).parent.mkdir(parents=True, exist_ok=True)
            writer(t / name)
        for name in files:
            dest = out / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_dir():
                shutil.rmtree(dest)
            (t / name).replace(dest)
