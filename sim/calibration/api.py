"""The calibration's Python API: what ``pilotsim calibrate`` and the notebooks call.

- :func:`calibrate`: ABC-SMC (default) or a differential-evolution point fit, writing the
  posterior, ``calibrated.yaml``, ``calibration.json`` and the report into ``out``, all or
  nothing (only the pyabc database grows during the run, which is what ``resume`` continues).
- :func:`point_fit`: :func:`calibrate` with ``method="de"``.
- :func:`model_runs`: a scenario's annual target columns over several seeds.
- :func:`target_table`, :func:`fit_table`: which model output matches which data series,
  and the model against the data (re-exported from ``sim.calibration.fit``).

Bad settings raise :class:`~sim.errors.UsageError`, bad inputs
:class:`~sim.errors.CalibrationError` (both ``PilotsimError``), before anything runs or is
written.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.calibration.config import (
    Priors,
    Targets,
    check_overrides,
    load_priors,
    load_targets,
)
from sim.calibration.defaults import (
    CALIBRATION_DIR,
    DB_NAME,
    DEFAULT_PRIORS,
    DEFAULT_TARGETS,
    FULL,
    OUTPUT_NAMES,
    QUICK,
    QUICK_CANDIDATES,
    QUICK_REFINE_EVALS,
    ROLLING,
    ROLLING_DIR,
)
from sim.calibration.fit import fit_table, target_table
from sim.errors import CalibrationError, ExecutorError, UsageError
from sim.params import Scenario
from sim.provenance import git_commit, package_versions, write_files

__all__ = [
    "FULL",
    "QUICK",
    "CalibrationOutcome",
    "CalibrationSettings",
    "calibrate",
    "canonical_command",
    "fit_table",
    "load_priors",
    "load_targets",
    "model_runs",
    "point_fit",
    "run_settings",
    "target_table",
]

#: Versions recorded with a calibration besides ``provenance.PACKAGES``.
EXTRA_PACKAGES = ("pyabc",)

Log = Callable[[str], Any]


def _need[T](value: T | None) -> T:
    """A setting that ``CalibrationSettings.resolved`` has filled in."""
    if value is None:
        raise ValueError("calibration settings are not resolved: call .resolved() first")
    return value


@dataclass
class CalibrationSettings:
    """Everything a calibration run depends on (the options of ``pilotsim calibrate``).

    ``None`` for ``population``, ``generations``, ``scale``, ``predictive_draws`` and
    ``predictive_scale`` takes the value of :data:`FULL` (or :data:`QUICK` with ``quick``);
    ``out=None`` is ``calibration/`` (``quick``: ``results/calibration-quick``; method
    ``de``: ``results/calibration-de``).
    """

    method: str = "abc"
    targets: str | Path = DEFAULT_TARGETS
    priors: str | Path = DEFAULT_PRIORS
    scenario: str | Path | None = None
    out: str | Path | None = None
    population: int | None = None
    generations: int | None = None
    scale: float | None = None
    seed: int = 2024
    min_epsilon: float = 0.0
    min_acceptance: float = 0.0
    max_simulations: int | None = None
    max_minutes: float | None = None
    bank_runs: bool = True
    resume: bool = False
    fresh: bool = False
    report_only: bool = False
    no_report: bool = False
    predictive_draws: int | None = None
    predictive_scale: float | None = None
    quick: bool = False
    rolling_origin: bool = False
    de_maxiter: int = 30
    de_popsize: int = 6
    de_seeds: int = 2
    jobs: int | None = None
    dask: bool = False
    scheduler: str | None = None
    quiet: bool = False
    yes: bool = False

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> CalibrationSettings:
        """The settings of parsed ``pilotsim calibrate`` arguments."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(args).items() if k in names})

    def resolved(self) -> CalibrationSettings:
        """A checked copy with the defaults filled in.

        Raises:
            UsageError: a setting out of range or two that exclude each other.
        """
        s = dataclasses.replace(self)
        table = QUICK if s.quick else ROLLING if s.rolling_origin else FULL
        if s.rolling_origin and s.predictive_scale is None:
            s.predictive_scale = s.scale if s.scale is not None else table["scale"]
        for k, v in table.items():
            if getattr(s, k) is None:
                setattr(s, k, v)
        if s.method not in ("abc", "de"):
            raise UsageError(f"method must be 'abc' or 'de', got {s.method!r}")
        population, generations, scale = _need(s.population), _need(s.generations), _need(s.scale)
        p_scale, p_draws = _need(s.predictive_scale), _need(s.predictive_draws)
        checks = [
            ("--population", population, population >= 2, ">= 2"),
            ("--generations", generations, generations >= 1, ">= 1"),
            ("--scale", scale, 0 < scale <= 5, "in (0, 5]"),
            ("--predictive-scale", p_scale, 0 < p_scale <= 5, "in (0, 5]"),
            ("--predictive-draws", p_draws, p_draws >= 2, ">= 2"),
            ("--seed", s.seed, s.seed >= 0, ">= 0"),
            ("--min-epsilon", s.min_epsilon, s.min_epsilon >= 0, ">= 0"),
            ("--min-acceptance", s.min_acceptance, 0 <= s.min_acceptance < 1, "in [0, 1)"),
            ("--de-maxiter", s.de_maxiter, s.de_maxiter >= 1, ">= 1"),
            ("--de-popsize", s.de_popsize, s.de_popsize >= 2, ">= 2"),
            ("--de-seeds", s.de_seeds, s.de_seeds >= 1, ">= 1"),
        ]
        if s.max_simulations is not None:
            checks.append(("--max-simulations", s.max_simulations, s.max_simulations >= 1, ">= 1"))
        if s.max_minutes is not None:
            checks.append(("--max-minutes", s.max_minutes, s.max_minutes > 0, "> 0"))
        for name, value, ok, allowed in checks:
            if not ok:
                raise UsageError(f"{name} must be {allowed}, got {value}")
        if s.resume and s.fresh:
            raise UsageError("--resume and --fresh exclude each other: choose one")
        if s.rolling_origin and (s.method != "abc" or s.no_report):
            raise UsageError(
                "--rolling-origin is an ABC-SMC fit with its own report section: "
                "not with --method de or --no-report"
            )
        if s.report_only and (s.fresh or s.method != "abc"):
            raise UsageError("--report-only reads an ABC database: not with --fresh or --method de")
        if s.out is None:
            s.out = str(
                Path("results/calibration-quick")
                if s.quick
                else Path("results/calibration-de")
                if s.method == "de"
                else CALIBRATION_DIR
            )
        return s


@dataclass
class CalibrationOutcome:
    """What a calibration wrote.

    Attributes:
        method: ``abc`` or ``de``.
        out: the output folder.
        files: names written into ``out``.
        summary: method, generations/iterations, distance or final epsilon, simulations,
            wall seconds (as recorded in ``calibration.json``).
        calibrated: the calibrated parameter values by dotted key.
        command: the equivalent ``pilotsim calibrate`` command.
    """

    method: str
    out: Path
    files: list[str]
    summary: dict[str, Any]
    calibrated: dict[str, Any]
    command: str
    meta: dict[str, Any] = field(default_factory=dict)


def canonical_command(s: CalibrationSettings | argparse.Namespace) -> str:
    """The command with every setting spelled out (recorded with the results)."""
    parts = ["pilotsim", "calibrate", "--method", s.method]
    rel = _rel
    parts += ["--targets", rel(s.targets), "--priors", rel(s.priors)]
    if s.scenario:
        parts += ["--scenario", rel(s.scenario)]
    parts += ["--out", rel(s.out)]
    if s.method == "abc" and not s.report_only:
        parts += ["--population", str(s.population), "--generations", str(s.generations)]
    elif s.method == "de":
        parts += [
            "--de-maxiter",
            str(s.de_maxiter),
            "--de-popsize",
            str(s.de_popsize),
            "--de-seeds",
            str(s.de_seeds),
        ]
    if not s.report_only:
        parts += ["--scale", f"{s.scale:g}"]
    parts += ["--seed", str(s.seed)]
    for flag, v in (("--min-epsilon", s.min_epsilon), ("--min-acceptance", s.min_acceptance)):
        if v:
            parts += [flag, f"{v:g}"]
    if s.max_simulations is not None:
        parts += ["--max-simulations", str(s.max_simulations)]
    if s.max_minutes is not None:
        parts += ["--max-minutes", f"{s.max_minutes:g}"]
    parts += [
        "--predictive-draws",
        str(s.predictive_draws),
        "--predictive-scale",
        f"{s.predictive_scale:g}",
    ]
    if s.jobs is not None:
        parts += ["--jobs", str(s.jobs)]
    if s.dask:
        parts.append("--dask")
    if s.method == "abc" and not s.report_only and not getattr(s, "bank_runs", True):
        parts.append("--no-bank-runs")
    for flag in ("rolling_origin", "resume", "report_only", "no_report"):
        if getattr(s, flag):
            parts.append("--" + flag.replace("_", "-"))
    return shlex.join(parts)


def _rel(p: str | Path | None) -> str:
    path = Path(str(p)).resolve()
    try:
        return str(path.relative_to(CALIBRATION_DIR.parent))
    except ValueError:
        return str(p)


def _base(scenario: str | Path | None) -> Scenario:
    from sim.scenario import load_scenario

    return load_scenario(scenario) if scenario else Scenario()


def _quiet(_: str) -> None:
    return None


def calibrate(
    settings: CalibrationSettings | None = None, /, log: Log | None = print, **kwargs: Any
) -> CalibrationOutcome:
    """Run a calibration and write its outputs (see :class:`CalibrationSettings`).

    Args:
        settings: the settings, or ``None`` to build them from ``kwargs``
            (``calibrate(quick=True, out="results/cal")``).
        log: called with each progress line (``None``: silent; also set ``quiet=True`` to
            silence pyabc's per-generation log).

    Raises:
        UsageError: bad settings. CalibrationError: bad targets, priors or database state.
    """
    if settings is None:
        settings = CalibrationSettings(**kwargs)
    elif kwargs:
        settings = dataclasses.replace(settings, **kwargs)
    return run_settings(settings, log=log)


def point_fit(log: Log | None = print, **kwargs: Any) -> CalibrationOutcome:
    """A differential-evolution point fit: :func:`calibrate` with ``method="de"``."""
    return calibrate(None, log=log, **{**kwargs, "method": "de"})


def run_settings(settings: CalibrationSettings, log: Log | None = print) -> CalibrationOutcome:
    """Check ``settings`` and the inputs they name, then run; see :func:`calibrate`."""
    say: Log = log or _quiet
    s = settings.resolved()
    targets = load_targets(s.targets)
    priors = load_priors(s.priors)
    base = _base(s.scenario)
    check_overrides(base, priors)
    if s.method == "abc" and not s.report_only:
        _check_size(s, targets)
    out = Path(str(s.out))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    if s.rolling_origin:
        from sim.calibration.rolling import run_rolling_origin

        command = canonical_command(s)
        written, meta = run_rolling_origin(s, targets, priors, base, log=say, command=command)
        return CalibrationOutcome("abc", out, written, meta["fit"], {}, command, meta)
    from sim.experiments.folder_lock import hold_out_dir

    # held until the outputs are written: a second calibration (--resume or --fresh) on
    # this folder is refused before it reads or changes the database
    with hold_out_dir(out, OUTPUT_NAMES):
        db = out / DB_NAME
        if s.method == "abc":
            if s.report_only or s.resume:
                if not db.is_file():
                    raise CalibrationError(db, "no database to read (run without --resume)")
            elif db.exists() and not s.fresh:
                raise CalibrationError(
                    db, "database exists; pass --resume to continue it or --fresh to replace it"
                )
        command = canonical_command(s)
        from sim.experiments.executors import open_executor

        try:
            with open_executor(s.jobs, dask=s.dask, scheduler=s.scheduler) as engine:
                if s.method == "de":
                    return _run_de(s, targets, priors, base, out, engine, command, say)
                return _run_abc(s, targets, priors, base, out, db, engine, command, say)
        except ExecutorError as e:
            raise UsageError(str(e)) from None


def _check_size(s: CalibrationSettings, targets: Targets) -> None:
    """Refuse an ABC run of more runs than a batch may have without ``--yes``.

    The same gate and message as ``compare``/``sweep`` (``check_batch_size``): at least
    one run per particle and generation, and the posterior-predictive runs.
    """
    from sim.experiments.batch import BatchError, check_batch_size

    population, generations = _need(s.population), _need(s.generations)
    n_runs = population * generations + _need(s.predictive_draws)
    try:
        check_batch_size(
            n_runs,
            f"at least --population {population:,} x --generations {generations} and "
            f"{_need(s.predictive_draws)} predictive draws",
            scale=_need(s.scale),
            until=targets.last_year,
            jobs=s.jobs,
            yes=s.yes,
        )
    except BatchError as e:
        raise UsageError(f"calibrate: {e}") from None


def _run_abc(
    s: CalibrationSettings,
    targets: Targets,
    priors: Priors,
    base: Scenario,
    out: Path,
    db: Path,
    engine: Any,
    command: str,
    say: Log,
) -> CalibrationOutcome:
    from sim.calibration.smc import SMCSettings, fit_or_load, run_smc

    smc = SMCSettings(
        population=_need(s.population),
        generations=_need(s.generations),
        scale=_need(s.scale),
        seed=s.seed,
        min_epsilon=s.min_epsilon,
        min_acceptance=s.min_acceptance,
        max_simulations=s.max_simulations,
        max_minutes=s.max_minutes,
        bank=s.bank_runs,
    )

    def run() -> Any:
        say(
            f"ABC-SMC: {len(priors.priors)} parameters, {len(targets.labels)} target points, "
            f"population {s.population}, scale {s.scale:g}, {engine.description}"
        )
        return run_smc(
            targets, priors, base, smc, db, engine.executor, resume=s.resume, quiet=s.quiet
        )

    result, calls = fit_or_load(
        db,
        priors,
        run,
        report_only=s.report_only,
        fresh=s.fresh,
        command=command,
        executor=engine.description,
    )
    return _write_abc_outputs(s, targets, priors, base, out, engine, command, result, calls, say)


def _summary(result: Any, calls: list[dict[str, Any]]) -> dict[str, Any]:
    g = result.generations
    return {
        "method": "ABC-SMC (pyabc, seeded static sampler)",
        "generations": int(len(g)),
        "final_epsilon": round(float(g["epsilon"].iloc[-1]), 4),
        "simulations": int(result.simulations),
        "wall_seconds": round(sum(c["seconds"] for c in calls), 1),
    }


def _write_abc_outputs(
    s: CalibrationSettings,
    targets: Targets,
    priors: Priors,
    base: Scenario,
    out: Path,
    engine: Any,
    command: str,
    result: Any,
    calls: list[dict[str, Any]],
    say: Log,
) -> CalibrationOutcome:
    from sim.calibration.posterior import calibrated_yaml, header_lines, point_estimate

    summary = _summary(result, calls)
    commands = [c["command"] for c in calls]
    selection = None
    if s.no_report:
        point = point_estimate(result.posterior, priors)
        how = "the weighted posterior median of each parameter (run without the report, so "
        how += "no set was selected)"
    else:
        from sim.calibration.select import (
            REFINE_EVALS,
            SELECT_CANDIDATES,
            refine,
            select_baseline,
        )

        t0 = time.perf_counter()
        selection = select_baseline(
            targets,
            priors,
            base,
            result.posterior,
            executor=engine.executor,
            scale=_need(s.predictive_scale),
            candidates=SELECT_CANDIDATES if not s.quick else QUICK_CANDIDATES,
        )
        selection = refine(
            selection,
            targets,
            priors,
            base,
            executor=engine.executor,
            max_evals=REFINE_EVALS if not s.quick else QUICK_REFINE_EVALS,
        )
        point = selection.values
        best = selection.candidates.iloc[0]
        refined = "refined" in selection.label
        how = (
            f"{selection.label} of the posterior: of the weighted median set and the "
            f"{SELECT_CANDIDATES if not s.quick else QUICK_CANDIDATES} particles of lowest ABC "
            f"distance, the set whose means over seeds {list(selection.seeds)} at scale "
            f"{selection.scale:g} (seeds 0-3 and 4-7, each group on its own) have the smallest "
            "worst relative error over the fitted points"
            + (
                ", then refined by Nelder-Mead on the same seeds because it missed a point by "
                "more than 10%"
                if refined
                else ""
            )
            + f" (worst: {best['max_abs_error']:.1%}, at {best['worst_point']})"
        )
        say(
            f"baseline set: {selection.label}, worst point {best['worst_point']} "
            f"{best['max_abs_error']:+.1%} ({len(selection.candidates)} candidates x "
            f"{len(selection.seeds)} seeds in {time.perf_counter() - t0:.0f} s)"
        )
    if command not in commands:
        commands.append(command)
    meta = {
        **summary,
        "command": command,
        "commands": commands,
        "calls": calls,
        "targets": _rel(targets.path),
        "priors": _rel(priors.path),
        "base_scenario": str(s.scenario) if s.scenario else "sim/params.py defaults",
        "population": len(result.posterior),
        "predictive": {
            "draws": s.predictive_draws,
            "scale": s.predictive_scale,
            "seed": s.seed,
        },
        "calibrated": point,
        "calibrated_set": how,
        "versions": package_versions(EXTRA_PACKAGES),
        "git_commit": git_commit(),
    }
    files: dict[str, Any] = {
        "posterior.csv": lambda p: result.posterior.to_csv(p, index=False, float_format="%.8g"),
        "generations.csv": lambda p: result.generations.to_csv(p, index=False),
        "calibrated.yaml": lambda p: p.write_text(
            calibrated_yaml(point, header_lines(commands, summary, how)), encoding="utf-8"
        ),
        "calibration.json": lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"),
    }
    if not s.no_report:
        from sim.calibration.report import build_report
        from sim.calibration.rolling import report_section, with_section

        t0 = time.perf_counter()
        report_files = build_report(
            targets,
            priors,
            base,
            result,
            point,
            selection=selection,
            executor=engine.executor,
            draws=_need(s.predictive_draws),
            scale=_need(s.predictive_scale),
            seed=s.seed,
            commands=commands,
            summary=summary,
            add_sections=lambda text: with_section(text, report_section(out / ROLLING_DIR)),
        )
        files.update(report_files)
        say(
            f"report: {s.predictive_draws} posterior-predictive runs at scale "
            f"{s.predictive_scale:g} in {time.perf_counter() - t0:.0f} s"
        )
    write_files(out, files)
    say(
        f"{summary['generations']} generations, final epsilon {summary['final_epsilon']}, "
        f"{summary['simulations']} simulations, {summary['wall_seconds']} s"
    )
    say(f"wrote {out}/: " + " ".join(sorted(files)))
    return CalibrationOutcome("abc", out, sorted(files), summary, dict(point), command, meta)


def _run_de(
    s: CalibrationSettings,
    targets: Targets,
    priors: Priors,
    base: Scenario,
    out: Path,
    engine: Any,
    command: str,
    say: Log,
) -> CalibrationOutcome:
    from sim.calibration.pointfit import run_point_fit
    from sim.calibration.posterior import calibrated_yaml, header_lines

    say(
        f"differential evolution: {len(priors.priors)} parameters, scale {s.scale:g}, "
        f"{engine.description}"
    )
    fit = run_point_fit(
        targets,
        priors,
        base,
        scale=_need(s.scale),
        seed=s.seed,
        seeds_per_point=s.de_seeds,
        maxiter=s.de_maxiter,
        popsize=s.de_popsize,
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
        "versions": package_versions(EXTRA_PACKAGES),
        "git_commit": git_commit(),
    }
    files = {
        "calibrated.yaml": lambda p: p.write_text(calibrated_yaml(fit.values, header)),
        "calibration.json": lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"),
    }
    write_files(out, files)
    say(
        f"distance {fit.distance:.4f} after {fit.iterations} generations, "
        f"{fit.simulations} simulations, {fit.seconds:.0f} s"
    )
    say(f"wrote {out}/: calibrated.yaml calibration.json")
    return CalibrationOutcome("de", out, sorted(files), summary, dict(fit.values), command, meta)


# --------------------------------------------------------------------------- model vs data


def model_runs(
    scenario: str | Path | Scenario = "baseline",
    seeds: int | Iterable[int] = 10,
    *,
    scale: float = 0.2,
    targets: Targets | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Annual outputs of ``scenario`` to the last target year, one run per seed, stacked.

    Args:
        scenario: name, file or :class:`~sim.params.Scenario` (default ``baseline``, which
            extends the committed calibration).
        seeds: the seeds, or how many (``range(seeds)``).
        scale: population scale (outputs are in full-economy units at any scale).
        targets: which years and columns (default: ``calibration/targets.yaml``).
        overrides: dotted-key parameter overrides.

    Returns:
        Columns ``seed``, ``year`` and the targets' model columns; use with
        :func:`fit_table`.
    """
    import sim

    targets = targets or load_targets()
    cols = list(dict.fromkeys(s.model_column for s in targets.series))
    frames = []
    for seed in range(seeds) if isinstance(seeds, int) else seeds:
        res = sim.run(
            scenario, seed=int(seed), scale=scale, until=targets.last_year, **dict(overrides or {})
        )
        a = res.annual[["year", *cols]].copy()
        a.insert(0, "seed", int(seed))
        frames.append(a)
    return pd.concat(frames, ignore_index=True)
