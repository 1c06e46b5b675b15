"""Rolling-origin check of the calibration: fit 2015-2017 only, forecast 2018-2019.

The full calibration fits 2015-2019, so its fit says nothing about how the model forecasts.
This check refits on the terms settled by the end of 2017 (``Targets.through(2017)``: yearly
points to 2017, moments whose window ends by 2017), with its own ABC-SMC run in
``<out>/rolling_origin/abc.db`` (never the full run's particles, which were selected on
2018-2019 data), then runs posterior-predictive draws to 2019 and compares their median and
90% band with every 2018-2019 observation of the data file for the targets' yearly series,
beside a naive forecast: a straight line in logs through the series' observed 2015-2017
values. Writes ``forecast.csv``, ``predictive.csv``, ``posterior.csv``, ``rolling_origin.json`` and
``report.md`` (the report section) into ``<out>/rolling_origin/`` and
``<out>/figures/rolling_origin.png``, and puts the section into an existing
``<out>/report.md``, all or nothing; the calibration report includes the section whenever
these files exist (:func:`report_section`, :func:`with_section`), without rerunning it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.calibration.config import FIRST_FIT_YEAR, Priors, Targets
from sim.calibration.defaults import DB_NAME, ROLLING_DIR
from sim.calibration.fit import BAND
from sim.errors import CalibrationError, ExecutorError, UsageError
from sim.params import Scenario
from sim.reporting import CSV_FLOAT_FORMAT, fmt_value, markdown_table

if TYPE_CHECKING:
    from sim.calibration.api import CalibrationSettings

#: Last year the fit sees (the issue: fit 2015-2017, forecast 2018-2019).
FIT_LAST_YEAR = 2017
#: The forecast years: the rest of the 2015-2019 data.
FORECAST_YEARS = (2018, 2019)
#: The section's title (the calibration report finds and replaces it by this).
TITLE = "## Rolling-origin check"
#: Files of the check inside ``<out>/rolling_origin/``.
FORECAST_CSV = "forecast.csv"
META_JSON = "rolling_origin.json"
#: The figure, relative to ``<out>``.
FIGURE = "figures/rolling_origin.png"
#: Start of the heading the report puts this section before (after the fit and outlook).
BEFORE = "## Parameters: posterior against prior"

#: An effective sample size below this share of the population is flagged in the report
#: (assumption: under 10% the weighted posterior is a handful of particles).
FEW_PARTICLES = 0.1

Log = Callable[[str], Any]


# --------------------------------------------------------------------------- pure parts


def naive_trend(years: Sequence[int], values: Sequence[float], at: Sequence[int]) -> np.ndarray:
    """The naive forecast: a straight line in logs through ``(years, values)`` by least
    squares, evaluated at the years ``at`` (constant growth at the historical rate). A
    single value gives a flat forecast.

    Raises:
        ValueError: no value, unequal lengths, or a value that is not positive.
    """
    x = np.asarray(years, dtype=float)
    v = np.asarray(values, dtype=float)
    t = np.asarray(at, dtype=float)
    if x.size == 0 or x.size != v.size:
        raise ValueError(f"need one or more (year, value) pairs, got {x.size} and {v.size}")
    if np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise ValueError(f"values must be finite and > 0 (a line in logs), got {v.tolist()}")
    if x.size == 1:
        return np.full(t.size, v[0])
    xc = x - x.mean()  # centred: the slope and mean are computed without cancellation
    ly = np.log(v)
    slope = float(np.sum(xc * (ly - ly.mean())) / np.sum(xc * xc))
    return np.asarray(np.exp(ly.mean() + slope * (t - x.mean())), dtype=float)


@dataclass(frozen=True)
class Case:
    """One yearly target series as the check sees it.

    Attributes:
        series, model_column: the target series and the model column it is compared with.
        history: observed values (model units) in the fit years, from the data file.
        observed: observed values (model units) in the forecast years, from the data file.
    """

    series: str
    model_column: str
    history: dict[int, float]
    observed: dict[int, float]


def forecast_cases(targets: Targets) -> list[Case]:
    """Every yearly series of ``targets`` with an observation in a forecast year in its data
    file (also years the targets do not fit), with its observations of 2015 to
    :data:`FIT_LAST_YEAR`. Moments are left out: a window mean
    has no yearly forecast."""
    tables: dict[Path, pd.DataFrame] = {}
    out: list[Case] = []
    for s in targets.series:
        if s.mean_over is not None:
            continue
        path = s.data_path or targets.data_path
        if path not in tables:
            tables[path] = pd.read_csv(path)
        rows = tables[path]
        rows = rows[rows["series"] == s.data_series]
        values = {
            int(y): float(v) * s.factor for y, v in zip(rows["year"], rows["value"], strict=True)
        }
        history = {y: v for y, v in sorted(values.items()) if FIRST_FIT_YEAR <= y <= FIT_LAST_YEAR}
        observed = {y: v for y, v in sorted(values.items()) if y in FORECAST_YEARS}
        if observed:
            out.append(Case(s.name, s.model_column, history, observed))
    return out


def forecast_table(cases: Sequence[Case], runs: pd.DataFrame) -> pd.DataFrame:
    """Per case and forecast year with an observation: the observed value, the model's
    median and 90% band over ``runs`` (annual frames stacked: ``year`` and model columns),
    the naive trend, each forecast's error as a log ratio (forecast / observed) and in
    percent, whether the observation is inside the band, and whether the model is closer
    (smaller absolute percent error; NaN-free only where a naive forecast exists)."""
    rows = []
    for c in cases:
        years = sorted(c.observed)
        naive = (
            naive_trend(list(c.history), list(c.history.values()), years)
            if c.history
            else np.full(len(years), np.nan)
        )
        for y, nv in zip(years, naive, strict=True):
            o = c.observed[y]
            v = runs.loc[runs["year"] == y, c.model_column].to_numpy(float)
            v = v[np.isfinite(v)]
            lo, med, hi = np.quantile(v, [BAND[0], 0.5, BAND[1]]) if v.size else (np.nan,) * 3
            m_pct, n_pct = med / o - 1, nv / o - 1
            rows.append(
                {
                    "series": c.series,
                    "year": y,
                    "observed": o,
                    "median": med,
                    "low": lo,
                    "high": hi,
                    "naive": nv,
                    "model_log_error": float(np.log(med / o)),
                    "model_pct_error": m_pct,
                    "naive_log_error": float(np.log(nv / o)),
                    "naive_pct_error": n_pct,
                    "in_band": bool(lo <= o <= hi),
                    "model_better": bool(abs(m_pct) < abs(n_pct)) if np.isfinite(nv) else None,
                    "fit_points_of_naive": len(c.history),
                }
            )
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """Mean absolute percent error of the model and of the naive trend over the points that
    have both forecasts, how many of them the model is closer at, and band coverage."""
    both = table[np.isfinite(table["naive"].to_numpy(float))]
    return {
        "points": int(len(table)),
        "compared": int(len(both)),
        "model_mape": float(both["model_pct_error"].abs().mean()) if len(both) else np.nan,
        "naive_mape": float(both["naive_pct_error"].abs().mean()) if len(both) else np.nan,
        "model_better": int(both["model_better"].astype(bool).sum()),
        "in_band": int(table["in_band"].sum()),
        "model_mape_all": float(table["model_pct_error"].abs().mean()) if len(table) else np.nan,
    }


def fit_and_dropped(full: Targets, cut: Targets) -> tuple[list[str], list[str]]:
    """The fitted points of ``cut`` and what of ``full`` it leaves out (why, per item)."""
    kept = {s.name: s for s in cut.series}
    dropped = []
    for s in full.series:
        k = kept.get(s.name)
        if s.mean_over is not None and k is None:
            first, last = s.mean_over
            dropped.append(f"{s.name} (moment, mean over {first}-{last}: window ends after 2017)")
        elif k is None:
            dropped.append(
                f"{s.name} (no point by {FIT_LAST_YEAR}: {', '.join(map(str, s.years))})"
            )
        elif len(k.years) < len(s.years):
            later = [str(y) for y in s.years if y not in k.years]
            dropped.append(f"{s.name} {', '.join(later)}")
    return cut.labels, dropped


# --------------------------------------------------------------------------- report


def _pct(x: float) -> str:
    return f"{x:+.1%}" if np.isfinite(x) else "n/a"


def render_section(table: pd.DataFrame, meta: Mapping[str, Any], figure: str = FIGURE) -> list[str]:
    """The Markdown lines of the section (title :data:`TITLE`): what was fitted, settings,
    dropped targets, the error table, the summary and a one-sentence reading.
    ``figure``: the figure's path relative to the Markdown file."""
    st, fit, summ = meta["settings"], meta["fit"], meta["summary"]
    ess = float(fit.get("last_ess", np.nan))
    few = ess < FEW_PARTICLES * st["population"]
    lines = [
        TITLE,
        "",
        f"Out-of-sample discipline: the model is refitted on 2015-{FIT_LAST_YEAR} only (the "
        f"targets cut to the terms settled by the end of {FIT_LAST_YEAR}: yearly points to "
        f"{FIT_LAST_YEAR}, no moment whose window ends later) by its own ABC-SMC run "
        f"(`{ROLLING_DIR}/{DB_NAME}`; the full fit's particles were selected on 2018-2019 "
        "data and are not used), then forecasts 2018-2019 by posterior-predictive runs. The "
        "naive forecast is a straight line in logs fitted by least squares through the "
        f"series' observed 2015-{FIT_LAST_YEAR} values (one value: flat). Observations are "
        "those of the data file, including years the calibration does not fit. The model's "
        "runs use its exogenous inputs to 2019 as observed (e.g. venture investment), which "
        "the line does not.",
        "",
        "Command:",
        "",
        *(f"    {c}" for c in meta.get("commands", [meta.get("command", "")])),
        "",
        *markdown_table(
            ["", ""],
            [
                [
                    "fit",
                    f"population {st['population']}, up to {st['generations']} generations, "
                    f"scale {st['scale']:g}, seed {st['seed']}, --max-minutes "
                    + (f"{st['max_minutes']:g}" if st.get("max_minutes") else "none"),
                ],
                [
                    "fit result",
                    f"{fit['generations']} generations, final epsilon {fit['final_epsilon']}, "
                    f"{fit['simulations']:,} runs, {fit['wall_seconds']:.0f} s; effective "
                    f"sample size of the last generation {ess:.1f} of {st['population']}"
                    + (" (the forecast band rests on few particles)" if few else ""),
                ],
                [
                    "forecast",
                    f"{st['draws']} draws from the weighted 2015-{FIT_LAST_YEAR} posterior, one "
                    f"seed each, scale {st['forecast_scale']:g} (the fit's scale by default: the "
                    f"posterior is conditioned on runs at that scale), run to "
                    f"{FORECAST_YEARS[-1]}; band 5-95%",
                ],
                ["fitted points", ", ".join(meta["fitted_points"])],
                ["dropped from the targets", "; ".join(meta["dropped"]) or "none"],
            ],
        ),
        "",
        f"![rolling origin]({figure})",
        "",
    ]
    rows = []
    for r in table.itertuples():
        naive_ok = np.isfinite(r.naive)
        rows.append(
            [
                str(r.series),
                str(r.year),
                fmt_value(r.observed, ""),
                fmt_value(r.median, ""),
                f"{fmt_value(r.low, '')} - {fmt_value(r.high, '')}",
                "yes" if r.in_band else "**no**",
                fmt_value(r.naive, "") if naive_ok else "n/a",
                f"{_pct(r.model_pct_error)} ({r.model_log_error:+.3f})",
                f"{_pct(r.naive_pct_error)} ({r.naive_log_error:+.3f})" if naive_ok else "n/a",
                ("**model**" if r.model_better else "naive") if naive_ok else "",
            ]
        )
    lines += markdown_table(
        [
            "series",
            "year",
            "observed",
            "model median",
            "90% band",
            "in band",
            "naive trend",
            "model error % (log)",
            "naive error % (log)",
            "closer",
        ],
        rows,
        "llrrrlrrrl",
    )
    no_naive = sorted(set(table.loc[~np.isfinite(table["naive"].to_numpy(float)), "series"]))
    lines += [
        "",
        "Errors: forecast / observed - 1 and, in brackets, log(forecast / observed)."
        + (" " if no_naive else "")
        + (
            f"No naive forecast for {', '.join(no_naive)} (no observation in 2015-"
            f"{FIT_LAST_YEAR}): its points count only in the band's coverage and in the "
            f"model's mean absolute error over all {summ['points']} points, "
            f"{summ['model_mape_all']:.1%}."
            if no_naive
            else ""
        ),
        "",
        f"**Summary.** Over the {summ['compared']} points with both forecasts, mean absolute "
        f"percent error: model **{summ['model_mape']:.1%}**, naive trend "
        f"**{summ['naive_mape']:.1%}**; the model is closer at **{summ['model_better']} of "
        f"{summ['compared']}**. The model's 90% band holds **{summ['in_band']} of "
        f"{summ['points']}** observations.",
        "",
        f"**Reading.** {reading(summ)}",
        "",
    ]
    return lines


def reading(summ: Mapping[str, Any]) -> str:
    """One honest sentence on what the numbers say (generated from them)."""
    n, k = summ["compared"], summ["model_better"]
    m, v = summ["model_mape"], summ["naive_mape"]
    if not n or not (np.isfinite(m) and np.isfinite(v)):
        return "No point has both forecasts, so the check cannot compare the model with a line."
    verdict = (
        "forecasts better than a straight line"
        if m < v and 2 * k > n
        else "does not forecast better than a straight line"
        if m >= v and 2 * k <= n
        else "is not clearly better or worse than a straight line"
    )
    return (
        f"On these {n} points, two years out, the model fitted to 2015-{FIT_LAST_YEAR} "
        f"{verdict} ({m:.1%} against {v:.1%} mean absolute error, closer at {k} of {n}); "
        "with so few points this is a weak test, and the band's coverage says as much about "
        "whether the model's uncertainty is honest."
    )


def report_section(folder: Path, figure: str = FIGURE) -> list[str]:
    """The section from a stored check in ``folder`` (``<out>/rolling_origin``), or no line
    when there is none. Reads only the files: never simulates."""
    folder = Path(folder)
    csv, js = folder / FORECAST_CSV, folder / META_JSON
    if not (csv.is_file() and js.is_file()):
        return []
    table = pd.read_csv(csv)
    table["model_better"] = table["model_better"].astype("object")
    return render_section(table, json.loads(js.read_text()), figure)


def with_section(text: str, section: Sequence[str]) -> str:
    """``text`` (a report) with ``section`` in place of its rolling-origin section, or
    inserted before :data:`BEFORE` (appended when that is missing); unchanged when
    ``section`` is empty."""
    if not section:
        return text
    lines = text.split("\n")
    block = list(section)
    if TITLE in lines:
        i = lines.index(TITLE)
        j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
        lines[i:j] = block
    elif any(x.startswith(BEFORE) for x in lines):
        i = next(k for k, x in enumerate(lines) if x.startswith(BEFORE))
        lines[i:i] = block
    else:
        if lines and lines[-1] != "":
            lines.append("")
        lines += block
    return "\n".join(lines)


def draw_figure(cases: Sequence[Case], runs: pd.DataFrame, table: pd.DataFrame, path: Path) -> None:
    """Per series: observed points (fit years and forecast years), the model's median and
    90% band over 2015-2019 and the naive trend from its fit years on."""
    from sim.reporting import pyplot, save_figure, tick_formatter

    plt = pyplot()
    n = len(cases)
    ncol = min(3, n)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 3.2 * nrow), squeeze=False)
    for ax, c in zip(axes.flat, cases, strict=False):
        g = runs.groupby("year")[c.model_column]
        q = g.quantile([BAND[0], 0.5, BAND[1]]).unstack()
        ax.fill_between(q.index, q[BAND[0]], q[BAND[1]], alpha=0.25, color="C0", label="model 90%")
        ax.plot(q.index, q[0.5], color="C0", label="model median")
        if c.history:
            years = [*c.history, *FORECAST_YEARS]
            line = naive_trend(list(c.history), list(c.history.values()), years)
            ax.plot(years, line, "--", color="C1", label="naive trend")
            ax.plot(list(c.history), list(c.history.values()), "o", color="k", label="observed")
        ax.plot(
            list(c.observed),
            list(c.observed.values()),
            "o",
            mfc="none",
            color="k",
            label="observed (forecast years)",
        )
        ax.axvline(FIT_LAST_YEAR + 0.5, color="grey", lw=0.8, ls=":")
        ax.set_title(c.series)
        ax.yaxis.set_major_formatter(tick_formatter())
        ax.set_xticks(list(range(int(q.index.min()), FORECAST_YEARS[-1] + 1)))
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


# --------------------------------------------------------------------------- running


def run_rolling_origin(
    s: CalibrationSettings,
    targets: Targets,
    priors: Priors,
    base: Scenario,
    log: Log,
    command: str,
) -> tuple[list[str], dict[str, Any]]:
    """Fit the targets cut to 2015-2017 by ABC-SMC (or, with ``report_only``, read that fit),
    forecast 2018-2019 and write the check into ``<out>/rolling_origin/`` (settings ``s``
    resolved by ``CalibrationSettings.resolved``; ``command`` its canonical command line).
    Returns the files written (relative to ``<out>``) and the check's metadata.

    Raises:
        CalibrationError: nothing to fit or forecast, or the database state does not fit
            the options (as for the full fit). UsageError: a bad executor setting.
    """
    from sim.calibration.report import posterior_predictive
    from sim.calibration.smc import SMCSettings, fit_or_load, run_smc
    from sim.experiments.executors import open_executor
    from sim.experiments.folder_lock import hold_out_dir
    from sim.provenance import git_commit, package_versions, write_files

    t_start = time.perf_counter()
    cut = targets.through(FIT_LAST_YEAR)
    cases = forecast_cases(targets)
    if not cut.series or not cases:
        raise CalibrationError(
            targets.path,
            f"the rolling-origin check needs a yearly series with points by {FIT_LAST_YEAR} "
            f"and an observation in {FORECAST_YEARS[0]}-{FORECAST_YEARS[-1]}; these targets "
            "have " + ("no forecast point" if cut.series else f"no point by {FIT_LAST_YEAR}"),
        )
    out = Path(str(s.out))
    folder = out / ROLLING_DIR
    db = folder / DB_NAME
    smc = SMCSettings(
        population=int(s.population or 0),
        generations=int(s.generations or 0),
        scale=float(s.scale or 0),
        seed=s.seed,
        min_epsilon=s.min_epsilon,
        min_acceptance=s.min_acceptance,
        max_simulations=s.max_simulations,
        max_minutes=s.max_minutes,
    )
    draws, f_scale = int(s.predictive_draws or 0), float(s.predictive_scale or 0)
    with hold_out_dir(out, (ROLLING_DIR, "figures", "report.md")):
        if s.report_only or s.resume:
            if not db.is_file():
                raise CalibrationError(db, "no database to read (run --rolling-origin first)")
        elif db.exists() and not s.fresh:
            raise CalibrationError(
                db, "database exists; pass --resume to continue it or --fresh to replace it"
            )
        try:
            with open_executor(s.jobs, dask=s.dask, scheduler=s.scheduler) as engine:

                def run() -> Any:
                    log(
                        f"rolling origin: ABC-SMC on 2015-{FIT_LAST_YEAR} ({len(cut.labels)} "
                        f"points), population {smc.population}, up to {smc.generations} "
                        f"generations, scale {smc.scale:g}, {engine.description}"
                    )
                    return run_smc(
                        cut, priors, base, smc, db, engine.executor, resume=s.resume, quiet=s.quiet
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
                t0 = time.perf_counter()
                runs = posterior_predictive(
                    targets,
                    priors,
                    base,
                    result.posterior,
                    draws=draws,
                    scale=f_scale,
                    seed=s.seed,
                    executor=engine.executor,
                    until=FORECAST_YEARS[-1],
                )
                forecast_seconds = time.perf_counter() - t0
        except ExecutorError as e:
            raise UsageError(str(e)) from None
        table = forecast_table(cases, runs)
        summ = summarise(table)
        fitted, dropped = fit_and_dropped(targets, cut)
        gens = result.generations
        commands = list(dict.fromkeys([c["command"] for c in calls] + [command]))
        meta = {
            "command": command,
            "commands": commands,
            "calls": calls,
            "settings": {
                "population": smc.population,
                "generations": smc.generations,
                "scale": smc.scale,
                "seed": smc.seed,
                "max_minutes": smc.max_minutes,
                "draws": draws,
                "forecast_scale": f_scale,
            },
            "fit": {
                "generations": int(len(gens)),
                "final_epsilon": round(float(gens["epsilon"].iloc[-1]), 4),
                "simulations": int(result.simulations),
                "wall_seconds": round(sum(c["seconds"] for c in calls), 1),
                "last_ess": round(float(gens["ess"].iloc[-1]), 1),
            },
            "forecast_seconds": round(forecast_seconds, 1),
            "this_call_seconds": round(time.perf_counter() - t_start, 1),
            "fitted_points": fitted,
            "dropped": dropped,
            "summary": summ,
            "versions": package_versions(("pyabc",)),
            "git_commit": git_commit(),
        }
        section = render_section(table, meta, figure=f"../{FIGURE}")
        files: dict[str, Callable[[Path], Any]] = {
            f"{ROLLING_DIR}/{FORECAST_CSV}": lambda p: table.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            ),
            f"{ROLLING_DIR}/predictive.csv": lambda p: runs.to_csv(
                p, index=False, float_format=CSV_FLOAT_FORMAT
            ),
            # the fit's last generation, as calibration/posterior.csv (a full refit for
            # ``--retune --refit-posterior``: the retune to the same cut targets is checked
            # against it)
            f"{ROLLING_DIR}/posterior.csv": lambda p: result.posterior.to_csv(
                p, index=False, float_format="%.8g"
            ),
            f"{ROLLING_DIR}/{META_JSON}": lambda p: p.write_text(
                json.dumps(meta, indent=2, default=float) + "\n"
            ),
            f"{ROLLING_DIR}/report.md": lambda p: p.write_text(
                "\n".join(section), encoding="utf-8"
            ),
            FIGURE: lambda p: draw_figure(cases, runs, table, p),
        }
        report = out / "report.md"
        if report.is_file():  # the calibration report shows the check without a rerun
            text = with_section(report.read_text(encoding="utf-8"), render_section(table, meta))
            files["report.md"] = lambda p: p.write_text(text, encoding="utf-8")
        write_files(out, files)
    log(
        f"rolling origin: model MAPE {summ['model_mape']:.1%} vs naive {summ['naive_mape']:.1%} "
        f"over {summ['compared']} points, model closer at {summ['model_better']}; "
        f"{summ['in_band']} of {summ['points']} in the 90% band "
        f"({time.perf_counter() - t_start:.0f} s; forecast {forecast_seconds:.0f} s)"
    )
    log(f"wrote {out}/: " + " ".join(sorted(files)))
    return sorted(files), meta
