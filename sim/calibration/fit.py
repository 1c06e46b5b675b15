"""Model output against the calibration targets: which output matches which series, and the
fit table (observed value beside the model's median and 90% band, per series and year).

Pure functions of a :class:`~sim.calibration.config.Targets` and model runs; used by the
calibration report, the Python API (``sim.calibration.api``) and the calibration notebook.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibration.config import FIRST_FIT_YEAR, Series, Targets, relative_error

#: The band of the fit table (5-95%).
BAND = (0.05, 0.95)


def target_table(targets: Targets) -> pd.DataFrame:
    """One row per fitted point: the data series, the model column it is compared with,
    the factor from the data's unit to the model's, the year and the observed value in
    model units (data value x factor), with the series' weight, tolerances and source."""
    rows = [
        {
            "series": s.name,
            "data_series": s.data_series,
            "model_column": s.model_column,
            "factor": s.factor,
            "year": y,
            "observed": o,
            "data_value": o / s.factor,
            "level_sd": s.level_sd,
            "growth_sd": s.growth_sd,
            "weight": s.weight,
            "source": s.source,
        }
        for s in targets.series
        for y, o in zip(s.years, s.observed, strict=True)
    ]
    return pd.DataFrame(rows)


def fit_table(
    targets: Targets, runs: pd.DataFrame, point_runs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per series and year from 2015 to the last target year: observed (if fitted), the
    median and 90% band of ``runs`` and the median of ``point_runs``.

    Args:
        targets: the fitted series.
        runs: annual frames of several runs stacked (columns ``year`` and the targets'
            model columns; full-economy units), e.g. posterior-predictive draws or seeds.
        point_runs: optional runs of one parameter set (the calibrated point).

    Returns:
        Columns ``series, year, fitted, observed, median, low, high, point_median,
        point_mean, rel_error`` (median / observed - 1; for a bound, the distance to it),
        ``point_rel_error`` (the same for ``point_mean``), ``covered`` (observed inside the
        band; for a bound, band and bound overlap) and ``bound`` (its range, or None).
    """
    rows = []
    for s in targets.series:
        obs = dict(zip(s.years, s.observed, strict=True))
        for y in range(FIRST_FIT_YEAR, targets.last_year + 1):
            v = _values(s, runs, y)
            finite = v[np.isfinite(v)]
            if finite.size:
                lo, med, hi = np.quantile(finite, [BAND[0], 0.5, BAND[1]])
            else:
                lo = med = hi = np.nan
            pv = _values(s, point_runs, y) if point_runs is not None else np.empty(0)
            pv = pv[np.isfinite(pv)]
            o = obs.get(y, np.nan)
            pmean = float(np.mean(pv)) if len(pv) else np.nan
            fitted = y in obs
            rows.append(
                {
                    "series": s.name,
                    "year": y,
                    "fitted": y in obs,
                    "observed": o,
                    "median": med,
                    "low": lo,
                    "high": hi,
                    "point_median": float(np.median(pv)) if len(pv) else np.nan,
                    "point_mean": pmean,
                    "rel_error": relative_error(med, o, s.bound) if fitted else np.nan,
                    "point_rel_error": relative_error(pmean, o, s.bound) if fitted else np.nan,
                    "covered": (
                        (
                            bool(lo <= o <= hi)
                            if s.bound is None
                            else bool(hi >= s.bound[0] and lo <= s.bound[1])
                        )
                        if fitted
                        else None
                    ),
                    "bound": s.bound if fitted else None,
                }
            )
    return pd.DataFrame(rows)


#: Columns that identify one run in a stacked frame of annual outputs.
RUN_ID_COLUMNS = ("kind", "draw", "seed")


def _values(s: Series, runs: pd.DataFrame, year: int) -> np.ndarray:
    """One value per run at ``year``: the annual value, or for a moment at its labelled
    year the mean over its window (each run's own mean)."""
    if s.mean_over is None or year not in s.years:
        return runs.loc[runs["year"] == year, s.model_column].to_numpy(float)
    first, last = s.mean_over
    window = runs[(runs["year"] >= first) & (runs["year"] <= last)]
    ids = [c for c in RUN_ID_COLUMNS if c in window.columns]
    if not ids:
        return np.array([float(np.nanmean(window[s.model_column].to_numpy(float)))])
    return window.groupby(ids, sort=False)[s.model_column].mean().to_numpy(float)
