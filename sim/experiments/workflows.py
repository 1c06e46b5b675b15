"""The two jobs of a policy modeller, as functions: compare scenarios, sweep parameters.

``run_comparison`` is what ``pilotsim compare`` does and ``run_sweep`` what
``pilotsim sweep`` does; both validate every input before writing anything, run the batch
(resuming), then write the summary table, the report and the figures. A comparison's
results are a :class:`Comparison` (tables, figures drawn on demand, ``write(folder)``),
built by :func:`comparison_of` from the batch that ran.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments import ownership
from sim.experiments.batch import (
    VARIANT_SOURCE,
    Batch,
    BatchError,
    Execution,
    check_batch_size,
    check_same_run_settings,
    check_years,
    claim_out_dir,
    execute,
    policy_start,
    remove_stale_outputs,
)
from sim.experiments.compare import (
    DEFAULT_DISCOUNT_RATE,
    DEFAULT_PERIOD,
    DEFAULT_YEARS,
    LEVEL,
    attribution_table,
    attribution_variants,
    format_table,
    market_failure_variants,
    panel_from_frames,
    private_returns_table,
    summarise,
    variant_label,
)
from sim.experiments.defaults import DEFAULT_BASE as DEFAULT_BASE  # re-exported
from sim.experiments.defaults import DEFAULT_POLICY as DEFAULT_POLICY
from sim.experiments.defaults import DEFAULT_SEEDS as DEFAULT_SEEDS
from sim.experiments.defaults import DEFAULT_SWEEP_SEEDS as DEFAULT_SWEEP_SEEDS
from sim.experiments.uncertainty import PosteriorDraws
from sim.params import FIRST_YEAR, Scenario
from sim.reporting import CSV_FLOAT_FORMAT, markdown_table
from sim.scenario import load_scenario, with_overrides


@dataclass(frozen=True, eq=False)
class Comparison:
    """A comparison's results: its tables, figures drawn on demand, its report and files.

    Attributes:
        panel: the annual panel of every run (``compare.panel_from_frames``).
        summary: the paired differences (``compare.summarise``; ``summary.csv``).
        attribution: per policy with the platform on, its attribution table
            (``compare.attribution_table``; together ``attribution.csv``).
        private_returns: the private returns table (``compare.private_returns_table``).
        draws: each replicate's posterior draw (``draws.csv``), or None without one.
        meta: what the report says of the batch (scenarios, seeds, runs, provenance).
        labels: the baseline, then the policies; period: the summed years; start: the
            policies' first year (marked on the figures).
    """

    panel: pd.DataFrame
    summary: pd.DataFrame
    attribution: dict[str, pd.DataFrame]
    private_returns: pd.DataFrame
    draws: pd.DataFrame | None
    meta: dict[str, Any]
    labels: list[str]
    period: tuple[int, int]
    start: int | None

    def names(self, figures: bool = True) -> list[str]:
        """The files :meth:`write` produces (with or without the figures)."""
        from sim.experiments.report import FIGURE_NAMES

        return [*self._writers(figures), *(FIGURE_NAMES if figures else ())]

    def tables(self) -> dict[str, str]:
        """Each policy's table as printed on the terminal (``compare.format_table``)."""
        return {p: format_table(self.summary, p) for p in self.labels[1:]}

    @property
    def attribution_table(self) -> pd.DataFrame | None:
        """Every policy's attribution table, one below the other (``attribution.csv``)."""
        if not self.attribution:
            return None
        return pd.concat(self.attribution.values(), ignore_index=True)

    def figure(self, name: str) -> Any:
        """The figure ``name`` (one of ``report.FIGURE_NAMES``), drawn now."""
        from sim.experiments.report import figure

        return figure(name, self.panel, self.labels, self.period, self.start)

    def report(self, figures: bool = True) -> str:
        """The text of ``report.md`` (linking the figures when ``figures``)."""
        from sim.experiments.report import FIGURE_NAMES, markdown_report

        return markdown_report(
            self.summary,
            self.meta,
            list(FIGURE_NAMES) if figures else [],
            attribution=self.attribution,
            private_returns=self.private_returns,
        )

    def _writers(self, figures: bool) -> dict[str, Any]:
        writers: dict[str, Any] = {
            "summary.csv": lambda p: self.summary.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            ),
            "report.md": lambda p: p.write_text(self.report(figures), encoding="utf-8"),
        }
        attr = self.attribution_table
        if attr is not None:
            writers["attribution.csv"] = lambda p: attr.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            )
        draws = self.draws
        if draws is not None:
            writers["draws.csv"] = lambda p: draws.to_csv(p, index=False, float_format="%.8g")
        return writers

    def write(self, out: str | Path, figures: bool = True) -> list[str]:
        """Write the figures (unless not ``figures``), then the tables and ``report.md``
        into ``out``, each file atomically; return the names written (:meth:`names`)."""
        from sim.experiments.report import FIGURE_NAMES, write_outputs
        from sim.reporting import save_figure

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        names = list(FIGURE_NAMES) if figures else []
        for name in names:
            save_figure(self.figure(name), out / name)
        writers = self._writers(figures)
        write_outputs(out, writers)
        return [*writers, *names]


@dataclass
class ComparisonResult:
    """Outputs of a comparison: the tidy summary, the printed tables, where files went."""

    out: Path
    summary: pd.DataFrame | None
    tables: dict[str, str]
    execution: Execution
    files: list[str]
    #: Per policy with the platform on: the attribution table (``compare.attribution_table``).
    attribution: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: The results as an object (tables, figures on demand, ``write``); None if nothing ran.
    comparison: Comparison | None = None

    @property
    def complete(self) -> bool:
        return self.execution.report.failed == 0


def provenance(command: str | None) -> dict[str, Any]:
    from sim.provenance import code_commit, git_commit, package_versions

    versions = package_versions(["distributed"], skip_missing_extra=True)
    return {
        "command": command or "pilotsim " + shlex.join(sys.argv[1:]),
        "git_commit": git_commit(),
        "code_commit": code_commit(),
        "versions": versions,
    }


def run_option_range(key: str) -> tuple[str, Any, Any, bool, bool]:
    """The allowed range of ``run.<key>`` from ``RunSpec``: text, low, high, and whether
    each bound is included (e.g. ``("(0, 5]", 0, 5, False, True)`` for the scale)."""
    from sim.params import RunSpec

    lo = hi = None
    lo_in = hi_in = True
    for m in RunSpec.model_fields[key].metadata:
        if getattr(m, "gt", None) is not None:
            lo, lo_in = m.gt, False
        if getattr(m, "ge", None) is not None:
            lo, lo_in = m.ge, True
        if getattr(m, "lt", None) is not None:
            hi, hi_in = m.lt, False
        if getattr(m, "le", None) is not None:
            hi, hi_in = m.le, True
    text = f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
    return text, lo, hi, lo_in, hi_in


def check_run_option(option: str, key: str, value: Any) -> Any:
    """``value`` of a command-line option that sets ``run.<key>`` (``--scale``,
    ``--until``), or a ``BatchError`` that names the option and its range, not a file."""
    import math
    import numbers

    text, lo, hi, lo_in, hi_in = run_option_range(key)
    integral = key == "end_year"
    kind = "a whole year" if integral else "a number"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok and integral:
        ok = float(value).is_integer()
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v >= lo if lo_in else v > lo) and (v <= hi if hi_in else v < hi)
    if not ok:
        raise BatchError(f"{option} {value!r}: must be {kind} in {text}")
    return int(value) if integral else float(value)


def _overrides(scale: float | None, until: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if scale is not None:
        out["run.scale"] = check_run_option("--scale", "scale", scale)
    if until is not None:
        out["run.end_year"] = check_run_option("--until", "end_year", until)
    return out


def _label(spec: Scenario, taken: Sequence[str]) -> str:
    label, i = spec.name, 2
    while label in taken:
        label, i = f"{spec.name}-{i}", i + 1
    return label


def load_scenarios(
    names: Sequence[str | Path | Scenario], scale: float | None, until: int | None
) -> tuple[dict[str, Scenario], dict[str, str]]:
    """Scenarios by unique label (their names), and where each came from."""
    over = _overrides(scale, until)
    specs: dict[str, Scenario] = {}
    sources: dict[str, str] = {}
    for n in names:
        if isinstance(n, Scenario):
            from sim.scenario import with_overrides

            spec, src = with_overrides(n, over), f"<Scenario {n.name}>"
        else:
            spec, src = load_scenario(n, over), str(n)
        lab = _label(spec, list(specs))
        specs[lab], sources[lab] = spec, src
    check_same_run_settings(specs)
    return specs, sources


def default_out(labels: Sequence[str], posterior: bool = False) -> Path:
    stem = f"{labels[0]}_vs_{'_'.join(labels[1:])}"
    return Path("results") / (f"{stem}-posterior" if posterior else stem)


def _draws(
    posterior: str | Path | None,
    n_seeds: int,
    root_seed: int,
    specs: dict[str, Scenario],
    fixed: Sequence[str] = (),
) -> PosteriorDraws | None:
    """Posterior draws for a batch (None without ``posterior``); checked before any run."""
    if posterior is None:
        return None
    from sim.experiments.uncertainty import draw_posterior

    return draw_posterior(posterior, n_seeds, root_seed, specs, fixed)


def default_years_and_period(
    years: Sequence[int] | None,
    period: tuple[int, int] | None,
    until: int,
    start: int | None = None,
) -> tuple[Sequence[int] | None, tuple[int, int] | None]:
    """Defaults that follow the horizon. Beyond 2035 (``--until 2050``): table years every
    five years to the last year, and the period from 2025 to the last year. Before 2025
    (``--until 2020``): the period from the policies' first year ``start`` (or 2015) to the
    last year, and those two years in the table. Given values are returned as they are
    (``batch.check_years`` checks them).

    Raises:
        BatchError: a default is needed but the horizon ends before the policies start
            (the table would compare identical runs).
    """
    if start is not None and until < start and (years is None or period is None):
        raise BatchError(
            f"--until {until}: the horizon ends before the policies start in {start}, so "
            "policy and baseline runs are identical; give --until "
            f"{max(start, DEFAULT_PERIOD[0])} or later (or --years and --period explicitly)"
        )
    if until < DEFAULT_PERIOD[0]:
        first = max(start if start is not None else FIRST_YEAR, FIRST_YEAR)
        if years is None:
            years = sorted({first, until})
        if period is None:
            period = (first, until)
        return years, period
    last = DEFAULT_PERIOD[1]
    if until <= last:
        return years, period
    if years is None:
        years = [y for y in DEFAULT_YEARS if FIRST_YEAR <= y < until]
        years += list(range(last + 5, until, 5)) + [until]
    if period is None:
        period = (DEFAULT_PERIOD[0], until)
    return years, period


def add_attribution_variants(
    specs: dict[str, Scenario], sources: dict[str, str], policies: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Add to ``specs`` (after the policies) each platform policy's variants with one
    service switched off, and "slots only" (``compare.attribution_variants``).

    Variants share the policy's seeds (and draws) in the batch: replicate ``i`` of a
    variant is the twin of replicate ``i`` of the policy and of the baseline.

    Returns:
        Per policy label: variant label -> its overrides of the policy.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for policy in policies:
        spec = specs[policy]
        variants = attribution_variants(spec)
        if not variants:
            continue
        out[policy] = {}
        for suffix, over in variants.items():
            lab = _label_text(variant_label(policy, suffix), list(specs))
            specs[lab] = with_overrides(spec, over).model_copy(update={"name": lab})
            sources[lab] = variant_source(sources[policy], over)
            out[policy][lab] = dict(over)
    return out


def add_market_failure_twins(
    specs: dict[str, Scenario], sources: dict[str, str], base: str, policies: Sequence[str]
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, str]]:
    """Add to ``specs`` each platform policy's market-failure variants
    (``compare.market_failure_variants``) and the baseline's twin for each, the failure
    switched off in both, on the policy's seeds.

    Returns:
        Per policy label, variant label -> its overrides; and variant label -> the label of
        its baseline twin (``attribution_table``'s ``baselines``).
    """
    variants: dict[str, dict[str, dict[str, Any]]] = {}
    twins: dict[str, str] = {}
    for policy in policies:
        failures = market_failure_variants(specs[policy])
        for suffix, over in failures.items():
            twin = variant_label(base, suffix)
            if twin not in specs:
                specs[twin] = with_overrides(specs[base], over).model_copy(update={"name": twin})
                sources[twin] = variant_source(sources[base], over)
            lab = _label_text(variant_label(policy, suffix), list(specs))
            specs[lab] = with_overrides(specs[policy], over).model_copy(update={"name": lab})
            sources[lab] = variant_source(sources[policy], over)
            variants.setdefault(policy, {})[lab] = dict(over)
            twins[lab] = twin
    return variants, twins


def variant_source(source: str, overrides: Mapping[str, Any]) -> str:
    """Where a variant came from: its scenario's source and what it overrides."""
    return f"{source}{VARIANT_SOURCE}" + ", ".join(
        f"{k}={str(v).lower()}" for k, v in overrides.items()
    )


def _label_text(label: str, taken: Sequence[str]) -> str:
    out, i = label, 2
    while out in taken:
        out, i = f"{label}-{i}", i + 1
    return out


def check_seeds(n_seeds: Any, root_seed: Any) -> None:
    """``--seeds`` a positive and ``--root-seed`` a non-negative integer, or a BatchError."""
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise BatchError(f"--seeds must be a positive integer, got {n_seeds!r}")
    if isinstance(root_seed, bool) or not isinstance(root_seed, int) or root_seed < 0:
        raise BatchError(f"--root-seed must be a non-negative integer, got {root_seed!r}")


@contextmanager
def _run(
    b: Batch,
    out: Path,
    job: tuple[str, ...],
    force: bool,
    jobs: int | None,
    dask: bool,
    scheduler: str | None,
    progress: bool,
    command: str | None,
) -> Iterator[tuple[Execution, pd.DataFrame | None]]:
    """Hold ``out`` for ``job``, run the batch (resuming) and yield what ran with the
    batch's annual panel (None when no run is stored); reports are written inside."""
    with claim_out_dir(out, job, force=force, origins=b.origins):
        ex = execute(
            b,
            out,
            jobs=jobs,
            dask=dask,
            scheduler=scheduler,
            progress=progress,
            provenance=provenance(command),
        )
        runs = b.runs()
        frames = ex.store.load({r["key"] for r in runs})
        yield ex, panel_from_frames(frames, runs) if frames else None


def run_comparison(
    base: str | Path | Scenario = DEFAULT_BASE,
    policies: Sequence[str | Path | Scenario] = (DEFAULT_POLICY,),
    *,
    n_seeds: int = DEFAULT_SEEDS,
    root_seed: int = 0,
    scale: float | None = None,
    until: int | None = None,
    out: str | Path | None = None,
    jobs: int | None = None,
    dask: bool = False,
    scheduler: str | None = None,
    years: Sequence[int] | None = None,
    period: tuple[int, int] | None = None,
    progress: bool = True,
    figures: bool = True,
    command: str | None = None,
    posterior: str | Path | None = None,
    attribution: bool = True,
    force: bool = False,
    yes: bool = False,
) -> ComparisonResult:
    """Run a baseline and policies over paired seeds; write summary, report and figures.

    Args:
        base: baseline scenario (file, name or ``Scenario``).
        policies: one or more policy scenarios.
        n_seeds: replicate seeds shared by all scenarios.
        root_seed: root of ``SeedSequence(root).spawn(n_seeds)``.
        scale: population scale for every scenario (default: the scenarios' own).
        until: last simulated year for every scenario (default: the scenarios' own).
        out: output folder (default ``results/<base>_vs_<policy>``).
        jobs: worker processes of the executor (see ``executors.open_executor``).
        dask: run on Dask instead of the process pool.
        scheduler: a Dask scheduler to join (``tcp://HOST:PORT``).
        years: years of the table (default 2025, 2030, 2035 within the horizon).
        period: first and last year of the summed period (default 2025-2035).
        progress: show a progress bar.
        figures: write the PNG figures.
        command: the command line to record (default: ``sys.argv``).
        posterior: posterior samples file (``calibration/posterior.csv``): replicate ``i``
            of every scenario runs with weighted draw ``i`` of the parameters, so the
            differences carry parameter uncertainty (see ``sim.experiments.uncertainty``).
        attribution: for each policy with the platform on, also run (same seeds, same
            store) the policy with each platform service switched off and with slots
            only, and write ``attribution.csv`` and a report section.
        force: clear an output folder that holds another comparison, sweep or run instead
            of refusing it (see ``batch.claim_out_dir``).
        yes: run a batch of more than ``batch.MAX_RUNS_WITHOUT_YES`` runs.

    Raises:
        BatchError, ScenarioError, ExecutorError: bad input; nothing is written.
    """
    if not policies:
        raise BatchError("compare needs a baseline and at least one POLICY scenario")
    check_seeds(n_seeds, root_seed)
    specs, sources = load_scenarios([base, *policies], scale, until)
    labels = list(specs)
    draws = _draws(posterior, n_seeds, root_seed, specs)
    variants = add_attribution_variants(specs, sources, labels[1:]) if attribution else {}
    twins: dict[str, str] = {}
    if attribution:
        failures, twins = add_market_failure_twins(specs, sources, labels[0], labels[1:])
        for p, vs in failures.items():
            variants.setdefault(p, {}).update(vs)
    first = specs[labels[0]].run
    check_batch_size(
        len(specs) * n_seeds, f"{len(specs)} scenarios x {n_seeds:,} seeds",
        scale=first.scale, until=first.end_year, jobs=jobs, yes=yes,
    )  # fmt: skip
    b = Batch("compare", specs, sources, root_seed, n_seeds, draws=draws.draws if draws else None)
    start = policy_start([specs[lab] for lab in labels[1:]])
    years, period = check_years(*default_years_and_period(years, period, b.until, start), b.until)
    rate = discount_rate_of(specs[labels[0]])
    b.settings = {
        "years": list(years),
        "period": list(period),
        "level": LEVEL,
        "policies": labels[1:],
        "discount_rate": rate,
    }
    if variants:
        b.settings["attribution"] = variants
    if twins:
        b.settings["attribution_baselines"] = twins
    if draws:
        b.settings["posterior"] = draws.describe()
    out = Path(out) if out is not None else default_out(labels, draws is not None)
    run = _run(b, out, ("compare", *labels), force, jobs, dask, scheduler, progress, command)
    with run as (ex, panel):
        files: list[str] = []
        if panel is None:
            return ComparisonResult(out, None, {}, ex, files)
        present = set(panel["label"])
        summary = summarise(panel, labels[0], labels[1:], years, period, discount_rate=rate)
        if summary["n_pairs"].max() == 0:
            return ComparisonResult(out, None, {}, ex, files)
        tables = {p: format_table(summary, p) for p in labels[1:]}
        attr = {
            p: attribution_table(
                panel, labels[0], p,
                {v: o for v, o in vs.items() if v in present and twins.get(v, v) in present},
                period, discount_rate=rate,
                baselines={v: t for v, t in twins.items() if v in present and t in present},
            )
            for p, vs in variants.items()
        }  # fmt: skip
        comparison = comparison_of(b, ex, panel, summary, period, attr)
        files = write_comparison(out, comparison, figures)
        return ComparisonResult(out, summary, tables, ex, files, attr, comparison)


def discount_rate_of(spec: Scenario) -> float:
    """The social discount rate of a scenario (``value.social_discount_rate``)."""
    return float(getattr(spec.value, "social_discount_rate", DEFAULT_DISCOUNT_RATE))


def comparison_of(
    b: Batch,
    ex: Execution,
    panel: pd.DataFrame,
    summary: pd.DataFrame,
    period: tuple[int, int],
    attribution: dict[str, pd.DataFrame] | None = None,
) -> Comparison:
    """The :class:`Comparison` of a batch that ran: its tables and what the report says."""
    labels = [b.base, *b.settings.get("policies", b.labels[1:])]
    keys = {r["key"] for r in b.runs()}
    m = ex.store.manifest
    failed = {
        k: e["error"]
        for k in sorted(keys)
        if (e := ex.store.runs.get(k, {})).get("status") == "failed"
    }
    meta = {
        "base": labels[0],
        "policies": labels[1:],
        "sources": b.sources,
        "hashes": b.hashes,
        "n_seeds": b.n_seeds,
        "root_seed": b.root_seed,
        "scale": b.scale,
        "until": b.until,
        "period": period,
        "engine": ex.engine,
        "seconds": ex.seconds,
        "runs_done": sum(ex.store.runs.get(k, {}).get("status") == "done" for k in keys),
        "runs_failed": len(failed),
        "runs_skipped": ex.report.skipped,
        "failures": failed,
        "bytes_per_run": ex.store.bytes_per_run(keys),
        "git_commit": m.get("git_commit", "unknown"),
        "code_commit": m.get("code_commit", "unknown"),
        "code": m.get("code", "unknown"),
        "versions": m.get("versions", {}),
        "command": m.get("command", ""),
        "posterior": b.settings.get("posterior"),
        "variants": [lab for lab in b.labels if lab not in labels],
        "discount_rate": b.settings.get("discount_rate", DEFAULT_DISCOUNT_RATE),
    }
    return Comparison(
        panel=panel,
        summary=summary,
        attribution=attribution or {},
        private_returns=private_returns_table(panel, labels[0], (FIRST_YEAR, b.until)),
        draws=draws_frame(b) if b.draws else None,
        meta=meta,
        labels=labels,
        period=period,
        start=policy_start([b.scenarios[lab] for lab in labels[1:]]),
    )


def write_comparison(out: Path, comparison: Comparison, figures: bool = True) -> list[str]:
    """Write the comparison into ``out`` (:meth:`Comparison.write`), removing what an
    earlier call there wrote and this one does not (figures, draws, attribution)."""
    remove_stale_outputs(out, comparison.names(figures))  # e.g. figures of an earlier call
    names = comparison.write(out, figures)
    if comparison.draws is None:
        ownership.remove(out, ["draws.csv"])  # left by an earlier --posterior call
    if not comparison.attribution:
        ownership.remove(out, ["attribution.csv"])  # left by an earlier call
    return names


def draws_frame(b: Batch) -> pd.DataFrame:
    """The parameters of each replicate of a batch with draws: ``replicate``, ``seed``, keys."""
    return pd.DataFrame(
        [
            {"replicate": i, "seed": seed, **d}
            for i, (seed, d) in enumerate(zip(b.seeds, b.draws or [], strict=True))
        ]
    )


@dataclass
class SweepResult:
    """Outputs of a sweep: one summary row per point and outcome, files written."""

    out: Path
    table: pd.DataFrame | None
    execution: Execution
    files: list[str]
    keys: list[str]


def run_sweep(
    params: Sequence[Any],
    *,
    scenario: str | Path | Scenario = DEFAULT_POLICY,
    baseline: str | Path | Scenario = DEFAULT_BASE,
    design: str = "grid",
    samples: int | None = None,
    n_seeds: int = DEFAULT_SWEEP_SEEDS,
    root_seed: int = 0,
    scale: float | None = None,
    until: int | None = None,
    period: tuple[int, int] | None = None,
    out: str | Path | None = None,
    jobs: int | None = None,
    dask: bool = False,
    scheduler: str | None = None,
    progress: bool = True,
    figures: bool = True,
    command: str | None = None,
    source: str | None = None,
    posterior: str | Path | None = None,
    force: bool = False,
    yes: bool = False,
) -> SweepResult:
    """Run a design of ``scenario`` parameter values, each paired with ``baseline``.

    Args:
        params: ``sweep.Param`` objects (``sweep.parse_param("key=lo:hi:n")``).
        scenario: the policy whose parameters vary.
        baseline: the scenario every point is compared with.
        design: ``grid`` or ``lhs``.
        samples: number of Latin hypercube points.
        source: the sweep file, if any (recorded).
        posterior: as in :func:`run_comparison` (a swept parameter may not be drawn).

    The other arguments (``n_seeds``, ``root_seed``, ``scale``, ``until``, ``period``,
    ``out``, ``jobs``, ``dask``, ``scheduler``, ``progress``, ``figures``, ``command``,
    ``force``, ``yes``) are as in :func:`run_comparison`.

    Writes ``sweep.csv`` (period differences for every point and outcome), ``sweep.png``
    and ``report.md`` next to the store.
    """
    from sim.experiments import sweep as sw

    check_seeds(n_seeds, root_seed)
    points = sw.design_points(params, design, samples, root_seed)
    specs, sources = load_scenarios([baseline, scenario], scale, until)
    base_label, policy_label = list(specs)
    first = specs[base_label].run
    check_batch_size(
        (len(points) + 1) * n_seeds,
        f"{len(points):,} points and the baseline x {n_seeds:,} seeds",
        scale=first.scale, until=first.end_year, jobs=jobs, yes=yes,
    )  # fmt: skip
    pts = sw.point_scenarios(specs[policy_label], points)
    scenarios = {base_label: specs[base_label], **pts}
    keys = [p.key for p in params]
    draws = _draws(posterior, n_seeds, root_seed, specs, fixed=keys)
    b = Batch(
        "sweep",
        scenarios,
        {base_label: sources[base_label], **{lab: sources[policy_label] for lab in pts}},
        root_seed,
        n_seeds,
        points={lab: dict(pt) for lab, pt in zip(pts, points, strict=True)},
        draws=draws.draws if draws else None,
    )
    start = policy_start([specs[policy_label]])
    _, period = check_years((), default_years_and_period((), period, b.until, start)[1], b.until)
    b.settings = {
        "design": design,
        "samples": samples,
        "parameters": keys,
        "policy": policy_label,
        "period": list(period),
        "sweep_file": source,
    }
    if draws:
        b.settings["posterior"] = draws.describe()
    stem = (
        Path(source).stem
        if source
        else f"{policy_label}-{'-'.join(k.split('.')[-1] for k in keys)}"
    )
    if draws:
        stem += "-posterior"
    out = Path(out) if out is not None else Path("results") / f"sweep-{stem}"
    job = ("sweep", base_label, policy_label, *keys)
    with _run(b, out, job, force, jobs, dask, scheduler, progress, command) as (ex, panel):
        if panel is None:
            return SweepResult(out, None, ex, [], keys)
        labels = [lab for lab in pts if lab in set(panel["label"])]
        summary = summarise(
            panel, base_label, labels, years=(), period=period,
            discount_rate=discount_rate_of(specs[base_label]),
        )  # fmt: skip
        table = sw.sweep_table(summary, b.points)
        files = ["sweep.csv"]
        writers: dict[str, Any] = {
            "sweep.csv": lambda p: table.to_csv(p, index=False, float_format=CSV_FLOAT_FORMAT),
        }
        if figures:
            sw.plot_sweep(table, keys, base_label, f"{period[0]}-{period[1]}", out / "sweep.png")
            files.append("sweep.png")
        text = _sweep_markdown(b, ex, table, keys, period, files)
        writers["report.md"] = lambda p: p.write_text(text, encoding="utf-8")
        from sim.experiments.report import write_outputs

        remove_stale_outputs(out, [*writers, *files])
        write_outputs(out, writers)
        return SweepResult(out, table, ex, [*files, "report.md"], keys)


def _sweep_markdown(
    b: Batch,
    ex: Execution,
    table: pd.DataFrame,
    keys: Sequence[str],
    period: tuple[int, int],
    files: Sequence[str],
) -> str:
    from sim.experiments.compare import OUTCOME_BY_NAME, fmt_diff
    from sim.experiments.sweep import SWEEP_OUTCOMES

    m = ex.store.manifest
    s = b.settings
    lines = [
        f"# Sweep of {s['policy']} against {b.base}",
        "",
        f"Design `{s['design']}` over {', '.join(f'`{k}`' for k in keys)}: "
        f"{len(b.points)} points x {b.n_seeds} paired seeds (root seed {b.root_seed}), "
        f"scale {b.scale:g}, simulated 2015-{b.until}. Each point is compared with "
        f"{b.base} seed by seed (common random numbers); values are mean paired "
        f"differences over {period[0]}-{period[1]} with 90% Student-t intervals "
        "(flows summed, stocks averaged; per public dollar = extra HK value added / "
        "extra public spend)."
        + (
            f" Each replicate's calibrated parameters are drawn from the posterior "
            f"`{s['posterior']['path']}` ({s['posterior']['distinct_draws']} distinct draws; "
            "the same draw for every point and the baseline), so the intervals carry "
            "parameter uncertainty."
            if s.get("posterior")
            else ""
        ),
        "",
    ]
    header = [
        "point",
        *(f"`{k}`" for k in keys),
        *(OUTCOME_BY_NAME[o].label.split(" (")[0] for o, _ in SWEEP_OUTCOMES),
    ]
    body = []
    for point, rows in table.groupby("point", sort=True):
        vals = rows.iloc[0]
        body.append(
            [
                f"{point}",
                *(f"{vals[k]:g}" if isinstance(vals[k], float) else str(vals[k]) for k in keys),
                *(fmt_diff(rows[rows["outcome"] == o].iloc[0]) for o, _ in SWEEP_OUTCOMES),
            ]
        )
    lines += markdown_table(header, body, "l" + "r" * (len(keys) + len(SWEEP_OUTCOMES)))
    lines += [
        "",
        "Units: "
        + "; ".join(
            f"{OUTCOME_BY_NAME[o].label.split(' (')[0]}: {OUTCOME_BY_NAME[o].period_unit}"
            for o, _ in SWEEP_OUTCOMES
        )
        + ".",
        "",
    ]
    if "sweep.png" in files:
        lines += ["![outcomes against swept parameters](sweep.png)", ""]
    from sim.experiments.report import provenance_lines

    lines += [f"- Runs: {ex.report.total} ({ex.report.failed} failed).", *provenance_lines(m)]
    return "\n".join(lines) + "\n"
