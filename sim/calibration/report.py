"""Diagnostics of a calibration: posterior-predictive fit, marginals, pairs, traces.

Writes ``report.md``, ``predictive.csv``, ``baseline_selection.csv`` and PNG figures under
``figures/``. The posterior-predictive check draws parameter sets from the weighted
posterior and runs each once (own seed) at the given scale, to :data:`OUTLOOK_UNTIL`: the
years to 2019 are the fit, the later ones show how far the data leave the path open. The
baseline set (``sim.calibration.select``) is shown beside it with its seed-mean error.
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
from sim.calibration.select import annual_targets, seed_groups
from sim.calibration.smc import iter_weighted
from sim.params import Scenario
from sim.reporting import CSV_FLOAT_FORMAT, markdown_table

POINT_SEEDS = 20
TOLERANCE = 0.10  # the criterion: median within 10% of the observed value
#: The posterior-predictive runs go on to this year (out of sample after 2019).
OUTLOOK_UNTIL = 2030
#: Years at which the report compares the predictive band's width with 2019's.
OUTLOOK_YEARS = (2019, 2025, 2030)


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
    until: int | None = None,
) -> pd.DataFrame:
    """Long frame: ``kind`` (posterior / point), ``draw``, ``year``, one column per series."""
    cols = tuple(dict.fromkeys(s.model_column for s in targets.series))
    until = until or targets.last_year
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    rows = list(iter_weighted(posterior, draws, seed))
    jobs: list[tuple[str, int, Any]] = []
    for j, r in enumerate(rows):
        vals = priors.overrides({p.key: posterior.iloc[r][p.key] for p in priors.priors})
        s = int(rng.integers(0, 2**31 - 1))
        jobs.append(
            ("posterior", j, executor.submit(annual_targets, base, vals, s, scale, until, cols))
        )
    if point is not None:
        for j in range(POINT_SEEDS):
            s = int(rng.integers(0, 2**31 - 1))
            jobs.append(
                (
                    "point",
                    j,
                    executor.submit(annual_targets, base, dict(point), s, scale, until, cols),
                )
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


def _save_panels(fig: Any, axes: Any, n: int, path: Path) -> None:
    """Blank the unused panels of a grid, add the legend, save and close."""
    import matplotlib.pyplot as plt

    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


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
        ax.plot(
            t["year"], t["point_mean"], "--", color="C2", lw=1, label="baseline set (seed mean)"
        )
        f = t[t["fitted"]]
        ax.plot(f["year"], f["observed"], "o", color="k", label="observed")
        ax.set_title(f"{s.name} ({s.model_column})", fontsize=9)
        ax.set_xticks(list(t["year"]))
        ax.tick_params(labelsize=8)
    _save_panels(fig, axes, n, path)


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
    selection: Any = None,
    priors: Priors | None = None,
    outlook: pd.DataFrame | None = None,
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
        f"{len(fitted)}**. Years without an observation show the model only. A moment "
        "(a series fitted as a mean over years) shows its window mean at its labelled year.",
        "",
        *_baseline_lines(table, selection),
        "",
        "![fit](figures/fit.png)",
        "",
    ]
    rows = []
    for r in table.itertuples():
        err = f"{r.rel_error:+.1%}" if r.fitted else ""
        cov = ("yes" if r.covered else "**no**") if r.fitted else ""
        if r.fitted and abs(r.rel_error) > TOLERANCE:
            err = f"**{err}**"
        pe = r.point_rel_error if r.fitted else np.nan
        perr = f"{pe:+.1%}" if np.isfinite(pe) else ""
        if np.isfinite(pe) and abs(pe) > TOLERANCE:
            perr = f"**{perr}**"
        rows.append(
            [
                f"{r.series}",
                f"{r.year}",
                (
                    f"bound {_fmt(r.bound[0])} - {_fmt(r.bound[1])}"
                    if isinstance(r.bound, tuple)
                    else _fmt(r.observed)
                ),
                _fmt(r.median),
                f"{_fmt(r.low)} - {_fmt(r.high)}",
                err,
                cov,
                _fmt(r.point_mean),
                perr,
            ]
        )
    header = [
        "series",
        "year",
        "observed",
        "predictive median",
        "90% band",
        "error",
        "in band",
        "baseline set",
        "its error",
    ]
    lines += markdown_table(header, rows)
    if outlook is not None:
        lines += ["", *_outlook_lines(outlook)]
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
    ]
    header = [
        "parameter",
        "unit",
        "prior",
        "params.py default",
        "posterior median",
        "90% interval",
        "width",
        "calibrated",
    ]
    lines += markdown_table(
        header,
        [
            [
                f"`{r.parameter}`",
                f"{r.unit}",
                f"{_fmt(r.prior_low)} - {_fmt(r.prior_high)}",
                _fmt(r.default),
                _fmt(r.median),
                f"{_fmt(r.low)} - {_fmt(r.high)}",
                f"{r.width_ratio:.2f}",
                _fmt(float(point[r.parameter])),
            ]
            for r in ident.itertuples()
        ],
    )
    if priors is not None and priors.evidence:
        lines += [
            "",
            "### Evidence-ranged parameters (not fitted)",
            "",
            "No 2015-2019 series observes these (the platform did not exist; scarcity and "
            "saturation are not measured), so they are not fitted: `priors.yaml`'s `evidence` "
            "section gives each a range from evaluations of comparable platforms and the "
            "literature. The baseline runs their `params.py` defaults; `--posterior` draws "
            "them uniformly beside the fitted posterior, except the three the client studies "
            "fitted (the second step of the calibration, `sim.evaluation.fit`), which it holds "
            "at their fitted values.",
            "",
            *markdown_table(
                ["parameter", "unit", "range", "params.py default", "source"],
                [
                    [
                        f"`{p.key}`",
                        f"{p.unit}",
                        f"{_fmt(p.low)} - {_fmt(p.high)}",
                        _fmt(p.default),
                        f"{p.source}",
                    ]
                    for p in priors.evidence
                ],
            ),
        ]
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
        *markdown_table(
            ["generation", "epsilon", "simulations", "accepted", "acceptance rate", "ESS"],
            [
                [
                    f"{int(g.t)}",
                    f"{g.epsilon:.3f}",
                    f"{int(g.simulations)}",
                    f"{int(g.accepted)}",
                    f"{g.acceptance_rate:.3f}",
                    f"{g.ess:.1f}",
                ]
                for g in gens.itertuples()
            ],
        ),
        "",
    ]
    return "\n".join(lines)


def _baseline_lines(table: pd.DataFrame, selection: Any) -> list[str]:
    """How the baseline set was chosen, and how well its seed-mean fits."""
    fitted = table[table["fitted"]]
    err = fitted["point_rel_error"].abs()
    if selection is None:
        return [
            f"`baseline set`: the mean over {POINT_SEEDS} seeds of the weighted posterior "
            "medians (`calibrated.yaml`); no set was selected."
        ]
    c = selection.candidates
    worst = fitted.iloc[int(np.argmax(err.to_numpy()))] if len(fitted) else None
    n_particles = int(c["label"].str.fullmatch(r"particle \d+").sum())
    refined = c[c["label"].str.endswith("refined")]
    lines = [
        f"**Baseline set** (`calibrated.yaml`, run by every scenario): {selection.label}. "
        f"The candidates were the weighted median set and the {n_particles} particles of "
        f"lowest ABC distance; each ran with seeds {list(selection.seeds)} at scale "
        f"{selection.scale:g}, and the set whose seed-means (of seeds "
        + " and of seeds ".join(f"{g[0]}-{g[-1]}" for g in seed_groups(selection.seeds))
        + ", each group on its own) have the smallest worst relative error over the fitted "
        "points was chosen (`baseline_selection.csv`)."
    ]
    chosen = c[c["chosen"]].iloc[0]
    lines[0] += (
        f" Worst over the groups: {chosen['max_abs_error']:.1%}, at {chosen['worst_point']}."
    )
    if len(refined):
        r = refined.iloc[0]
        lines[0] += (
            f" Every candidate missed some point by more than {TOLERANCE:.0%}, so the best was "
            f"refined by Nelder-Mead within the prior box on the same seeds "
            f"({int(r['evaluations'])} evaluations; it moved "
            f"{r['moved_rms_share_of_prior_range']:.1%} of the prior ranges, root mean "
            "square): a point estimate near the posterior's best particle, not a particle."
        )
    lines[0] += (
        f" Its mean over all {len(selection.seeds)} seeds is within {TOLERANCE:.0%} of "
        f"**{int((err <= TOLERANCE).sum())} of "
        f"{len(fitted)}** fitted points"
        + (
            f"; worst: {worst.series} {int(worst.year)}, {worst.point_rel_error:+.1%}."
            if worst is not None
            else "."
        )
    )
    lines += [
        "",
    ]
    lines += markdown_table(
        ["candidate", "ABC distance", "worst point", "its error", "distance of the seed-mean"],
        [
            [
                f"**{r.label}**" if r.chosen else f"{r.label}",
                _fmt(r.abc_distance),
                f"{r.worst_point}",
                f"{r.max_abs_error:.1%}",
                f"{r.distance:.3f}",
            ]
            for r in c.head(6).itertuples()
        ],
        "lrlrr",
    )
    med = c[c["label"] == "median"]
    if len(med) and not bool(med["chosen"].iloc[0]):
        m = med.iloc[0]
        lines += [
            "",
            f"The weighted median set (the previous rule) would be {m.max_abs_error:.1%} off "
            f"at its worst point ({m.worst_point}).",
        ]
    return lines


def outlook_table(targets: Targets, pred: pd.DataFrame) -> pd.DataFrame:
    """Width of the posterior-predictive 90% band over its median, by series and year."""
    post = pred[pred["kind"] == "posterior"]
    rows = []
    for s in targets.series:
        for y in OUTLOOK_YEARS:
            v = post.loc[post["year"] == y, s.model_column].to_numpy(float)
            v = v[np.isfinite(v)]
            if not v.size:
                continue
            lo, med, hi = np.quantile(v, [0.05, 0.5, 0.95])
            rows.append(
                {
                    "series": s.name,
                    "year": y,
                    "median": med,
                    "low": lo,
                    "high": hi,
                    "relative_width": (hi - lo) / med if med else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _outlook_lines(outlook: pd.DataFrame) -> list[str]:
    wide = outlook.pivot(index="series", columns="year", values="relative_width")
    years = list(wide.columns)
    lines = [
        f"## Beyond the data: 2015-{OUTLOOK_UNTIL}",
        "",
        "The same posterior-predictive runs continued past 2019, where no data constrain "
        "them. After 2019 startup entry follows its drivers (research spending on its path, "
        "venture investment held at its 2019 level), not an extrapolated growth rate. The "
        "band's width (5-95% over the median) shows how far the fitted data leave each "
        "path open:",
        "",
        "![outlook](figures/outlook.png)",
        "",
    ]
    lines += markdown_table(
        ["series", *(f"band width {y}" for y in years)],
        [
            [f"{name}", *(f"{r[y]:.0%}" if np.isfinite(r[y]) else "" for y in years)]
            for name, r in wide.iterrows()
        ],
        "l" + "r" * len(years),
    )
    return lines


def _fig_outlook(pred: pd.DataFrame, targets: Targets, path: Path) -> None:
    import matplotlib.pyplot as plt

    post = pred[pred["kind"] == "posterior"]
    series = [s for s in targets.series if s.mean_over is None] + [
        s for s in targets.series if s.mean_over is not None and s.model_column in post
    ]
    n = len(series)
    ncol = 3
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 2.8 * nrow), squeeze=False)
    for ax, s in zip(axes.flat, series, strict=False):
        g = post.groupby("year")[s.model_column]
        q = g.quantile([0.05, 0.5, 0.95]).unstack()
        ax.fill_between(q.index, q[0.05], q[0.95], alpha=0.3, color="C0", label="90% band")
        ax.plot(q.index, q[0.5], color="C0", label="median")
        ax.axvline(targets.last_year + 0.5, color="grey", lw=0.8, ls=":")
        if s.mean_over is None:
            ax.plot(s.years, s.observed, "o", color="k", ms=3, label="observed")
        ax.set_title(f"{s.name}", fontsize=9)
        ax.tick_params(labelsize=8)
    _save_panels(fig, axes, n, path)


def build_report(
    targets: Targets,
    priors: Priors,
    base: Scenario,
    result: Any,
    point: Mapping[str, Any],
    *,
    selection: Any = None,
    executor: Executor,
    draws: int,
    scale: float,
    seed: int,
    commands: list[str],
    summary: Mapping[str, Any],
    add_sections: Callable[[str], str] | None = None,
) -> dict[str, Callable[[Path], Any]]:
    """Run the predictive check and return writers for the report files (name -> writer).

    ``add_sections``: puts stored sections into the report's text (the caller passes the
    rolling-origin check's, ``sim.calibration.rolling``; this module does not import it)."""
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
        point=None if selection is not None else point,
        until=OUTLOOK_UNTIL,
    )
    if selection is not None:
        runs = selection.runs.rename(columns={"seed": "draw"})
        pred = pd.concat([pred, runs.assign(kind="point")[pred.columns]], ignore_index=True)
    table = fit_table(targets, pred[pred["year"] <= targets.last_year])
    outlook = outlook_table(targets, pred)
    ident = identifiability(result.posterior, priors)
    text = render_markdown(
        table,
        ident,
        result.generations,
        summary,
        commands,
        draws,
        scale,
        point,
        selection=selection,
        priors=priors,
        outlook=outlook,
    )
    if add_sections is not None:  # e.g. the stored rolling-origin check (never rerun here)
        text = add_sections(text)
    files: dict[str, Callable[[Path], Any]] = {
        "report.md": lambda p: p.write_text(text, encoding="utf-8"),
        "fit.csv": lambda p: table.to_csv(p, index=False, float_format=CSV_FLOAT_FORMAT),
        "predictive.csv": lambda p: pred.to_csv(p, index=False, float_format=CSV_FLOAT_FORMAT),
        "figures/fit.png": lambda p: _fig_fit(table, targets, p),
        "figures/marginals.png": lambda p: _fig_marginals(result.posterior, priors, p),
        "figures/pairs.png": lambda p: _fig_pairs(result.posterior, priors, p),
        "figures/traces.png": lambda p: _fig_traces(result.generations, p),
        "figures/outlook.png": lambda p: _fig_outlook(pred, targets, p),
    }
    if selection is not None:
        files["baseline_selection.csv"] = lambda p: selection.candidates.to_csv(
            p, index=False, float_format=CSV_FLOAT_FORMAT
        )
    return files
