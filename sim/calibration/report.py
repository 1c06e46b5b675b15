"""Diagnostics of a calibration: posterior-predictive fit, marginals, pairs, traces.

Writes ``report.md``, ``predictive.csv`` and PNG figures under ``figures/``. The
posterior-predictive check draws parameter sets from the weighted posterior and runs each
once (own seed) at the given scale, to 2019; the calibrated point (weighted medians) is run
with several seeds for comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.config import Priors, Targets
from sim.calibration.fit import fit_table as _fit_table
from sim.calibration.posterior import weighted_quantile
from sim.calibration.smc import iter_weighted
from sim.params import Scenario

POINT_SEEDS = 20
TOLERANCE = 0.10  # the criterion: median within 10% of the observed value


def _predict(
    base: Scenario,
    overrides: Mapping[str, Any],
    seed: int,
    scale: float,
    until: int,
    columns: tuple[str, ...],
) -> pd.DataFrame:
    """One run's annual target columns (full-economy units)."""
    import sim

    res = sim.run(base, seed=seed, scale=scale, until=until, **dict(overrides))
    return res.annual[["year", *columns]]


def posterior_predictive(
    targets: Targets,
    priors: Priors,
    base: Scenario,
    posterior: pd.DataFrame,
    *,
    draws: int,
    scale: float,
    seed: int,
    executor: Executor,
    point: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Long frame: ``kind`` (posterior / point), ``draw``, ``year``, one column per series."""
    cols = tuple(dict.fromkeys(s.model_column for s in targets.series))
    until = targets.last_year
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    rows = list(iter_weighted(posterior, draws, seed))
    jobs: list[tuple[str, int, Any]] = []
    for j, r in enumerate(rows):
        vals = priors.overrides({p.key: posterior.iloc[r][p.key] for p in priors.priors})
        s = int(rng.integers(0, 2**31 - 1))
        jobs.append(("posterior", j, executor.submit(_predict, base, vals, s, scale, until, cols)))
    if point is not None:
        for j in range(POINT_SEEDS):
            s = int(rng.integers(0, 2**31 - 1))
            jobs.append(
                ("point", j, executor.submit(_predict, base, dict(point), s, scale, until, cols))
            )
    frames = []
    for kind, j, fut in jobs:
        df = fut.result().copy()
        df.insert(0, "draw", j)
        df.insert(0, "kind", kind)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def fit_table(targets: Targets, pred: pd.DataFrame) -> pd.DataFrame:
    """Per series and year 2015-2019: observed (if any), predictive median and 90% band."""
    return _fit_table(targets, pred[pred["kind"] == "posterior"], pred[pred["kind"] == "point"])


def _fig_fit(table: pd.DataFrame, targets: Targets, path: Path) -> None:
    import matplotlib.pyplot as plt

    n = len(targets.series)
    ncol = 3
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.0 * nrow), squeeze=False)
    for ax, s in zip(axes.flat, targets.series, strict=False):
        t = table[table["series"] == s.name]
        ax.fill_between(
            t["year"], t["low"], t["high"], alpha=0.3, color="C0", label="posterior predictive 90%"
        )
        ax.plot(t["year"], t["median"], "-", color="C0", label="median")
        ax.plot(t["year"], t["point_median"], "--", color="C2", lw=1, label="calibrated point")
        f = t[t["fitted"]]
        ax.plot(f["year"], f["observed"], "o", color="k", label="observed")
        ax.set_title(f"{s.name} ({s.model_column})", fontsize=9)
        ax.set_xticks(list(t["year"]))
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fig_marginals(posterior: pd.DataFrame, priors: Priors, path: Path) -> None:
    import matplotlib.pyplot as plt

    n = len(priors.priors)
    ncol = 4
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.5 * nrow), squeeze=False)
    w = posterior["weight"].to_numpy(float)
    for ax, p in zip(axes.flat, priors.priors, strict=False):
        x = posterior[p.key].to_numpy(float)
        bins = np.linspace(p.low, p.high, 25)
        ax.hist(
            x,
            bins=bins,
            weights=w / w.sum() / np.diff(bins)[0],
            color="C0",
            alpha=0.7,
            label="posterior",
        )
        ax.hlines(1 / (p.high - p.low), p.low, p.high, color="k", lw=1.5, label="prior")
        ax.axvline(p.default, color="C3", lw=1, ls="--", label="params.py default")
        ax.set_title(p.key, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fig_pairs(posterior: pd.DataFrame, priors: Priors, path: Path) -> None:
    import matplotlib.pyplot as plt

    ps = priors.priors
    n = len(ps)
    fig, axes = plt.subplots(n, n, figsize=(1.25 * n, 1.25 * n), squeeze=False)
    w = posterior["weight"].to_numpy(float)
    size = 40 * w / w.max()
    for i, pi in enumerate(ps):
        for j, pj in enumerate(ps):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                ax.hist(posterior[pi.key], bins=15, weights=w, range=(pi.low, pi.high), color="C0")
                ax.set_xlim(pi.low, pi.high)
            else:
                ax.scatter(posterior[pj.key], posterior[pi.key], s=size, alpha=0.4, lw=0)
                ax.set_xlim(pj.low, pj.high)
                ax.set_ylim(pi.low, pi.high)
            if i == n - 1:
                ax.set_xlabel(pj.key.split(".")[-1], fontsize=6, rotation=30)
            if j == 0:
                ax.set_ylabel(pi.key.split(".")[-1], fontsize=6, rotation=60, labelpad=14)
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _fig_traces(gens: pd.DataFrame, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(12, 3.2))
    a.semilogy(gens["t"], gens["epsilon"], "o-")
    a.set_ylabel("epsilon (standardised distance)")
    b.plot(gens["t"], gens["acceptance_rate"], "o-", color="C1")
    b.set_ylabel("acceptance rate")
    b.set_ylim(0, None)
    c.plot(gens["t"], gens["ess"], "o-", color="C2")
    c.set_ylabel("effective sample size")
    c.set_ylim(0, None)
    for ax in (a, b, c):
        ax.set_xlabel("generation")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def identifiability(posterior: pd.DataFrame, priors: Priors) -> pd.DataFrame:
    """Per parameter: prior range, posterior median and 90% interval, width ratio."""
    w = posterior["weight"].to_numpy(float)
    rows = []
    for p in priors.priors:
        lo, med, hi = weighted_quantile(posterior[p.key].to_numpy(float), w, [0.05, 0.5, 0.95])
        rows.append(
            {
                "parameter": p.key,
                "unit": p.unit,
                "prior_low": p.low,
                "prior_high": p.high,
                "default": p.default,
                "median": med,
                "low": lo,
                "high": hi,
                "width_ratio": (hi - lo) / (0.9 * (p.high - p.low)),
            }
        )
    return pd.DataFrame(rows)


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return ""
    a = abs(v)
    return f"{v:,.0f}" if a >= 100 else f"{v:.3g}"


def render_markdown(
    table: pd.DataFrame,
    ident: pd.DataFrame,
    gens: pd.DataFrame,
    summary: Mapping[str, Any],
    commands: list[str],
    draws: int,
    scale: float,
    point: Mapping[str, Any],
) -> str:
    """The report text."""
    fitted = table[table["fitted"]]
    within = int((fitted["rel_error"].abs() <= TOLERANCE).sum())
    covered = int(fitted["covered"].sum())
    lines = [
        "# Calibration report: Hong Kong 2015-2019",
        "",
        "Written by `pilotsim calibrate` (`sim/calibration/report.py`); do not edit by hand.",
        "",
        "Commands (the calibration run(s), then the one that wrote this report if different):",
        "",
        *(f"    {c}" for c in commands),
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in summary.items()),
        f"| posterior-predictive runs | {draws} draws from the weighted posterior, one seed "
        f"each, scale {scale:g} |",
        "",
        "## Fit: observed vs posterior predictive",
        "",
        f"Fitted points with the predictive median within {TOLERANCE:.0%} of the observed "
        f"value: **{within} of {len(fitted)}**; inside the 90% band: **{covered} of "
        f"{len(fitted)}**. Years without an observation show the model only. "
        f"`point` is the median over {POINT_SEEDS} seeds of the calibrated parameter set "
        "(weighted posterior medians, `calibrated.yaml`).",
        "",
        "![fit](figures/fit.png)",
        "",
        "| series | year | observed | median | 90% band | error | in band | point |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        err = f"{r.rel_error:+.1%}" if r.fitted else ""
        cov = ("yes" if r.covered else "**no**") if r.fitted else ""
        if r.fitted and abs(r.rel_error) > TOLERANCE:
            err = f"**{err}**"
        lines.append(
            f"| {r.series} | {r.year} | {_fmt(r.observed)} | {_fmt(r.median)} | "
            f"{_fmt(r.low)} - {_fmt(r.high)} | {err} | {cov} | {_fmt(r.point_median)} |"
        )
    lines += [
        "",
        "## Parameters: posterior against prior (identifiability)",
        "",
        "Uniform priors (ranges and sources in `priors.yaml`). `width` is the 90% posterior "
        "interval over 90% of the prior range: near 1 the data say little about the "
        "parameter (not identified), small values mean it is pinned down.",
        "",
        "![marginals](figures/marginals.png)",
        "",
        "| parameter | unit | prior | params.py default | posterior median | 90% interval "
        "| width | calibrated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ident.itertuples():
        lines.append(
            f"| `{r.parameter}` | {r.unit} | {_fmt(r.prior_low)} - {_fmt(r.prior_high)} | "
            f"{_fmt(r.default)} | {_fmt(r.median)} | {_fmt(r.low)} - {_fmt(r.high)} | "
            f"{r.width_ratio:.2f} | {_fmt(float(point[r.parameter]))} |"
        )
    lines += [
        "",
        "## Pairwise posterior",
        "",
        "Lower triangle: particles of the last generation (size by weight), axes span the "
        "prior ranges; diagonal: weighted marginals.",
        "",
        "![pairs](figures/pairs.png)",
        "",
        "## Epsilon and acceptance by generation",
        "",
        "![traces](figures/traces.png)",
        "",
        "ESS: effective sample size of the importance weights, 1 / sum(w^2).",
        "",
        "| generation | epsilon | simulations | accepted | acceptance rate | ESS |",
        "|---|---|---|---|---|---|",
        *(
            f"| {int(g.t)} | {g.epsilon:.3f} | {int(g.simulations)} | {int(g.accepted)} | "
            f"{g.acceptance_rate:.3f} | {g.ess:.1f} |"
            for g in gens.itertuples()
        ),
        "",
    ]
    return "\n".join(lines)


def build_report(
    targets: Targets,
    priors: Priors,
    base: Scenario,
    result: Any,
    point: Mapping[str, Any],
    *,
    executor: Executor,
    draws: int,
    scale: float,
    seed: int,
    commands: list[str],
    summary: Mapping[str, Any],
) -> dict[str, Callable[[Path], Any]]:
    """Run the predictive check and return writers for the report files (name -> writer)."""
    import matplotlib

    matplotlib.use("Agg")
    pred = posterior_predictive(
        targets,
        priors,
        base,
        result.posterior,
        draws=draws,
        scale=scale,
        seed=seed,
        executor=executor,
        point=point,
    )
    table = fit_table(targets, pred)
    ident = identifiability(result.posterior, priors)
    text = render_markdown(table, ident, result.generations, summary, commands, draws, scale, point)
    return {
        "report.md": lambda p: p.write_text(text, encoding="utf-8"),
        "fit.csv": lambda p: table.to_csv(p, index=False, float_format="%.6g"),
        "predictive.csv": lambda p: pred.to_csv(p, index=False, float_format="%.6g"),
        "figures/fit.png": lambda p: _fig_fit(table, targets, p),
        "figures/marginals.png": lambda p: _fig_marginals(result.posterior, priors, p),
        "figures/pairs.png": lambda p: _fig_pairs(result.posterior, priors, p),
        "figures/traces.png": lambda p: _fig_traces(result.generations, p),
    }
