"""The committed posterior: weighted samples, the calibrated parameter set, weighted draws.

``calibration/posterior.csv`` holds the last ABC-SMC generation (one row per particle:
``particle``, ``weight``, every free parameter by dotted key in its unit, ``distance``).
``calibration/calibrated.yaml`` is a scenario file with the calibrated value of every free
parameter (the weighted posterior median, counts rounded); ``scenarios/baseline.yaml``
extends it, so every scenario uses it by default.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim import yamlio
from sim.calibration.config import CalibrationError, Priors
from sim.calibration.defaults import DEFAULT_CALIBRATED as DEFAULT_CALIBRATED  # re-exported
from sim.calibration.defaults import DEFAULT_POSTERIOR

#: Parameters that are counts (``int`` fields); rounded when drawn.
_NON_PARAMETER = {"particle", "weight", "distance"}


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float | Sequence[float]) -> np.ndarray:
    """Quantiles of ``x`` under normalised weights ``w`` (midpoint interpolation)."""
    order = np.argsort(x)
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    cw = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(np.atleast_1d(q), cw, x)


def point_estimate(posterior: pd.DataFrame, priors: Priors) -> dict[str, float | int]:
    """Weighted posterior median of every free parameter (counts rounded)."""
    w = posterior["weight"].to_numpy(float)
    med = {
        p.key: float(weighted_quantile(posterior[p.key].to_numpy(float), w, 0.5)[0])
        for p in priors.priors
    }
    return priors.overrides(med)


def nest(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, v in values.items():
        group, _, name = key.partition(".")
        out.setdefault(group, {})[name] = v
    return out


def calibrated_yaml(values: Mapping[str, float | int], header: Sequence[str]) -> str:
    """A scenario file (groups of keys) with a comment header."""
    clean = {
        k: (int(v) if isinstance(v, int | np.integer) else float(round(float(v), 6)))
        for k, v in values.items()
    }
    body = yaml.safe_dump(nest(clean), sort_keys=False)
    return "".join(f"# {line}\n".replace("# \n", "#\n") for line in header) + body


def load_posterior(path: str | Path = DEFAULT_POSTERIOR) -> pd.DataFrame:
    """Read ``posterior.csv`` and check it (weights >= 0 with a positive sum, parameters).

    Raises:
        CalibrationError: missing file, no ``weight`` column, bad weights, unknown keys.
    """
    from sim.calibration.config import numeric_parameters

    path = Path(path)
    if not path.is_file():
        raise CalibrationError(path, "posterior file not found (run `pilotsim calibrate`)")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise CalibrationError(path, f"cannot read CSV: {e}") from None
    if "weight" not in df.columns:
        raise CalibrationError(path, "no 'weight' column", key="weight")
    for c in df.columns:
        numbers = pd.to_numeric(df[c], errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() & df[c].notna().to_numpy())
        if bad.size:
            i = int(bad[0])
            raise CalibrationError(
                path,
                f"row {i + 1} (line {i + 2} of the file, after the header): "
                f"{yamlio.excerpt(df[c].iloc[i], 40)} is not a number; every cell of "
                "posterior.csv must be a number",
                key=c,
            )
    w = df["weight"].to_numpy(float)
    if len(w) == 0 or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
        raise CalibrationError(
            path, "weights must be finite, >= 0, with a positive sum", key="weight"
        )
    allowed = set(numeric_parameters())
    for c in df.columns:
        if c not in _NON_PARAMETER and c not in allowed:
            raise CalibrationError(
                path, "column is not a numeric parameter of sim/params.py", key=c
            )
    return df


def parameter_columns(posterior: pd.DataFrame) -> list[str]:
    """The parameter columns (dotted keys) of a posterior frame."""
    return [c for c in posterior.columns if c not in _NON_PARAMETER]


def posterior_overrides(
    n: int, seed: int, path: str | Path = DEFAULT_POSTERIOR
) -> list[dict[str, float]]:
    """``n`` weighted draws (with replacement) from the posterior as dotted-key overrides.

    For ``pilotsim compare --posterior``: replicate ``i`` of every scenario uses draw ``i``
    (paired), so scenario differences carry parameter uncertainty as well as seed noise.
    Counts (``int`` parameters) are rounded. Deterministic given ``seed``.

    Args:
        n: number of draws (replicates), >= 1.
        seed: seed of the draw.
        path: posterior samples with weights (default ``calibration/posterior.csv``).

    Raises:
        CalibrationError: missing or malformed posterior file.
        ValueError: ``n < 1``.
    """
    return draw_overrides(load_posterior(path), n, seed)


def draw_overrides(posterior: pd.DataFrame, n: int, seed: int) -> list[dict[str, float]]:
    """:func:`posterior_overrides` from a posterior frame already loaded."""
    from sim.calibration.config import param_field

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    df = posterior
    cols = parameter_columns(df)
    ints = {c for c in cols if (f := param_field(c)) is not None and f[0].annotation is int}
    w = df["weight"].to_numpy(float)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x9E3779B9]))
    rows = rng.choice(len(df), size=int(n), replace=True, p=w / w.sum())
    out: list[dict[str, float]] = []
    for r in rows:
        out.append(
            {c: (int(round(float(df.at[r, c]))) if c in ints else float(df.at[r, c])) for c in cols}
        )
    return out


def header_lines(
    commands: Sequence[str], summary: Mapping[str, Any], how: str | None = None
) -> list[str]:
    """Comment header of ``calibrated.yaml``: what it is and the commands that made it."""
    import textwrap

    how = how or "the weighted posterior median of each parameter"
    return [
        "Calibrated parameters: written by `pilotsim calibrate`; do not edit by hand.",
        "From an ABC-SMC calibration against Hong Kong 2015-2019 (calibration/targets.yaml,",
        "priors in calibration/priors.yaml; samples with weights in calibration/posterior.csv;",
        "fit in calibration/report.md). The set is",
        *textwrap.wrap(how + ".", 88),
        "scenarios/baseline.yaml extends this file, so every scenario uses these values.",
        "",
        *(f"command: {c}" for c in commands),
        *(f"{k}: {v}" for k, v in summary.items()),
        f"written: {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]
