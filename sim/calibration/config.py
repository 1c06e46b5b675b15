"""The calibration's inputs: targets (what is fitted, how weighted) and priors (free parameters).

Both are YAML files under ``calibration/``. Every error raises :class:`CalibrationError`
naming the file, the key and what is allowed; nothing is run or written before both files
load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import yamlio
from sim.calibration.defaults import CALIBRATION_DIR as CALIBRATION_DIR  # re-exported
from sim.calibration.defaults import DEFAULT_PRIORS, DEFAULT_TARGETS
from sim.errors import CalibrationError, ScenarioError
from sim.params import DATA_YEARS, Scenario, Spec
from sim.scenario import with_overrides

#: Last year that may be fitted (MISSION.md: later years are for out-of-sample checks).
LAST_FIT_YEAR = DATA_YEARS[-1]
FIRST_FIT_YEAR = DATA_YEARS[0]


def read_yaml(path: Path, what: str) -> dict[str, Any]:
    """A YAML file holding a mapping; ``what`` names the file in the ``CalibrationError``
    raised when it is missing, malformed or not a mapping."""
    if not path.is_file():
        raise CalibrationError(path, f"{what} file not found")
    try:
        data = yamlio.load_file(path)
    except yamlio.YamlInputError as e:
        raise CalibrationError(path, e.problem) from None
    if not isinstance(data, dict):
        raise CalibrationError(path, f"expected a mapping, got {type(data).__name__}")
    return data


def _check_keys(
    path: Path,
    data: Mapping[str, Any],
    allowed: set[str],
    required: set[str],
    where: str,
    prefix: str = "",
) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise CalibrationError(
            path,
            f"unknown key; allowed keys{where}: {', '.join(sorted(allowed))}",
            key=prefix + str(unknown[0]),
        )
    missing = sorted(required - set(data))
    if missing:
        raise CalibrationError(path, f"missing required key{where}", key=prefix + missing[0])


def _number(path: Path, key: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CalibrationError(path, f"expected a finite number, got {value!r}", key=key)
    if positive and value <= 0:
        raise CalibrationError(path, f"must be > 0, got {value!r}", key=key)
    return float(value)


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Series:
    """One fitted series.

    Attributes:
        name: label in reports.
        model_column: column of ``sim.Result.annual``.
        years: fitted years, ascending.
        observed: observed values in model units (data x factor), one per year.
        level_sd: log-level deviation that counts as one standard unit.
        growth_sd: annualised log-growth deviation (per year) counting as one unit.
        weight: weight of the series in the distance.
        data_series: row name in the data file; factor: data unit -> model unit.
        source: publisher and table, from the data file.
        mean_over: for a moment, the (first, last) years whose model values are averaged
            and compared with the single observed value (``years`` then holds one year,
            the label); None for a yearly series.
        data_path: the CSV the observed values come from.
        bound: for a bound (evidence too weak to fit a value), the (low, high) range the
            moment must lie in: no deviation inside, ``log`` distance to the nearer edge
            over ``level_sd`` outside; ``observed`` is then the range's geometric middle,
            for tables only.
    """

    name: str
    model_column: str
    years: tuple[int, ...]
    observed: tuple[float, ...]
    level_sd: float
    growth_sd: float
    weight: float
    data_series: str
    factor: float
    source: str
    mean_over: tuple[int, int] | None = None
    data_path: Path | None = None
    bound: tuple[float, float] | None = None

    def values(self, annual: pd.DataFrame) -> np.ndarray:
        """The model's values at this series' points from one run's annual frame."""
        return self.values_of(annual["year"].to_numpy(), annual[self.model_column].to_numpy(float))

    def values_of(self, years: np.ndarray, column: np.ndarray) -> np.ndarray:
        """``values`` from the frame's year and model columns as arrays (one row per year)."""
        if self.mean_over is None:
            at = {int(y): i for i, y in enumerate(years.tolist())}
            try:
                return np.array([column[at[y]] for y in self.years], dtype=float)
            except KeyError as e:
                raise KeyError(f"{self.name}: the run has no year {e.args[0]}") from None
        first, last = self.mean_over
        window = column[(years >= first) & (years <= last)]
        ok = window[np.isfinite(window)]
        return np.array([float(ok.mean()) if ok.size else np.nan])


def relative_error(value: float, observed: float, bound: tuple[float, float] | None) -> float:
    """``value / observed - 1``; for a bound, 0 inside it and the relative distance to the
    nearer edge outside."""
    if bound is None:
        return float(value / observed - 1)
    if value < bound[0]:
        return float(value / bound[0] - 1)
    if value > bound[1]:
        return float(value / bound[1] - 1)
    return 0.0


@dataclass(frozen=True)
class Targets:
    """The fitted series and the distance between model output and data."""

    path: Path
    data_path: Path
    series: tuple[Series, ...]
    level_weight: float
    growth_weight: float

    @property
    def labels(self) -> list[str]:
        """One label per (series, year) point, in the order of :meth:`simulated`."""
        return [f"{s.name}:{y}" for s in self.series for y in s.years]

    @property
    def observed(self) -> np.ndarray:
        """Observed values (model units), one per (series, year) point."""
        return np.array([v for s in self.series for v in s.observed], dtype=float)

    @property
    def last_year(self) -> int:
        return max(y for s in self.series for y in s.years)

    def simulated(self, annual: pd.DataFrame) -> np.ndarray:
        """Model values at the target points from an annual frame (full-economy units)."""
        years = annual["year"].to_numpy()
        return np.concatenate(
            [s.values_of(years, annual[s.model_column].to_numpy(float)) for s in self.series]
        )

    def standardised(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Standardised deviations of simulated points ``x`` from the data, and their weights.

        Levels: ``log(x / obs) / level_sd``. Growth: difference of annualised log growth
        between consecutive observed years, over ``growth_sd``.
        """
        x = np.asarray(x, dtype=float)
        z: list[float] = []
        w: list[float] = []
        i = 0
        for s in self.series:
            n = len(s.years)
            # A run without the quantity (NaN: e.g. no startup cohort) is as far off as a
            # value of 1e-9.
            lm = np.log(np.maximum(np.nan_to_num(x[i : i + n], nan=1e-9), 1e-9))
            if s.bound is not None:
                low, high = np.log(s.bound[0]), np.log(s.bound[1])
                z.extend(np.maximum(0.0, np.maximum(low - lm, lm - high)) / s.level_sd)
                w.extend([s.weight * self.level_weight] * n)
                i += n
                continue
            lo = np.log(np.asarray(s.observed))
            z.extend((lm - lo) / s.level_sd)
            w.extend([s.weight * self.level_weight] * n)
            for k in range(n - 1):
                dt = s.years[k + 1] - s.years[k]
                gm = (lm[k + 1] - lm[k]) / dt
                go = (lo[k + 1] - lo[k]) / dt
                z.append((gm - go) / s.growth_sd)
                w.append(s.weight * self.growth_weight)
            i += n
        return np.array(z), np.array(w)

    def relative_errors(self, x: np.ndarray) -> np.ndarray:
        """Per point, :func:`relative_error` of the simulated ``x`` (bounds as ranges)."""
        bounds = [s.bound for s in self.series for _ in s.years]
        return np.array(
            [relative_error(v, o, b) for v, o, b in zip(x, self.observed, bounds, strict=True)]
        )

    def distance(self, x: np.ndarray) -> float:
        """Root of the weighted mean squared standardised deviation (0 = exact fit)."""
        z, w = self.standardised(x)
        return float(np.sqrt(np.sum(w * z * z) / np.sum(w)))

    def through(self, year: int) -> Targets:
        """The terms a run has settled by the end of ``year``: each yearly series cut to its
        years up to ``year`` (its growth terms between them), moments whose window has
        ended; series with no such point are left out."""
        cut: list[Series] = []
        for s in self.series:
            last = s.mean_over[1] if s.mean_over is not None else None
            if last is not None:
                if last <= year:
                    cut.append(s)
                continue
            m = sum(1 for y in s.years if y <= year)
            if m:
                cut.append(replace(s, years=s.years[:m], observed=s.observed[:m]))
        return replace(self, series=tuple(cut))

    @property
    def total_weight(self) -> float:
        """The sum of all terms' weights (the denominator of ``distance``)."""
        return float(np.sum(self.standardised(self.observed)[1]))

    def lower_bound(self, annual: pd.DataFrame, total_weight: float) -> float:
        """A lower bound of the full targets' ``distance`` for a run whose first years
        ``annual`` holds, with these targets ``full.through(year)`` for its last complete
        year and ``total_weight`` the full targets'. Every term of the distance is a weight
        times a square, so the settled terms over all the weights cannot exceed the whole
        (up to rounding: callers leave a margin)."""
        if not self.series:
            return 0.0
        z, w = self.standardised(self.simulated(annual))
        return float(np.sqrt(np.sum(w * z * z) / total_weight))


_TARGET_TOP = {"data", "fit_years", "level_weight", "growth_weight", "series"}
_SERIES_KEYS = {
    "bound",
    "reason",
    "data",
    "mean_over",
    "data_series",
    "model_column",
    "factor",
    "years",
    "level_sd",
    "growth_sd",
    "weight",
}


def load_targets(path: str | Path = DEFAULT_TARGETS) -> Targets:
    """Read and check ``targets.yaml`` and the data file it names.

    Raises:
        CalibrationError: missing/malformed file, unknown key, unknown series or model
            column, a year outside 2015-2019 or without data, a bad weight or scale.
    """
    from sim.metrics import describe

    path = Path(path)
    data = read_yaml(path, "targets")
    _check_keys(path, data, _TARGET_TOP, {"data", "series"}, " at the top level")
    fit_years = data.get("fit_years", [FIRST_FIT_YEAR, LAST_FIT_YEAR])
    if (
        not isinstance(fit_years, list)
        or len(fit_years) != 2
        or not all(isinstance(y, int) and not isinstance(y, bool) for y in fit_years)
        or not FIRST_FIT_YEAR <= fit_years[0] <= fit_years[1] <= LAST_FIT_YEAR
    ):
        raise CalibrationError(
            path,
            f"expected [first, last] years within {FIRST_FIT_YEAR}-{LAST_FIT_YEAR} "
            f"(later years are for out-of-sample checks only), got {fit_years!r}",
            key="fit_years",
        )
    data_path = _read_table(path, data["data"], "data")[0]
    columns = set(describe()["column"]) - {"year"}
    raw = data["series"]
    if not isinstance(raw, dict) or not raw:
        raise CalibrationError(path, "expected a non-empty mapping of series", key="series")
    lw = _number(path, "level_weight", data.get("level_weight", 1.0))
    gw = _number(path, "growth_weight", data.get("growth_weight", 1.0))
    if lw < 0 or gw < 0 or lw + gw == 0:
        raise CalibrationError(path, "level_weight and growth_weight must be >= 0, not both 0")
    series: list[Series] = []
    for name, spec in raw.items():
        where = f"series.{name}"
        if not isinstance(spec, dict):
            raise CalibrationError(path, "expected a mapping", key=where)
        _check_keys(
            path,
            spec,
            _SERIES_KEYS,
            {"model_column", "years", "bound", "reason", "mean_over"}
            if "bound" in spec
            else {"data_series", "model_column", "years"},
            f" in '{where}'",
            f"{where}.",
        )
        if "bound" in spec:
            series.append(_bound_series(path, str(name), spec, columns, fit_years))
            continue
        col = spec["model_column"]
        if col not in columns:
            raise CalibrationError(
                path,
                f"unknown model column {col!r}; allowed: {', '.join(sorted(columns))}",
                key=f"{where}.model_column",
            )
        s_path, table = _read_table(path, spec.get("data", data["data"]), f"{where}.data")
        rows = table[table["series"] == spec["data_series"]]
        if rows.empty:
            known = sorted(table["series"].unique())
            raise CalibrationError(
                path,
                f"no rows {spec['data_series']!r} in {s_path.name}; series there: "
                f"{', '.join(known)}",
                key=f"{where}.data_series",
            )
        years = spec["years"]
        if (
            not isinstance(years, list)
            or not years
            or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)
            or sorted(set(years)) != years
        ):
            raise CalibrationError(
                path,
                f"expected ascending distinct integer years, got {years!r}",
                key=f"{where}.years",
            )
        for y in years:
            if not fit_years[0] <= y <= fit_years[1]:
                raise CalibrationError(
                    path,
                    f"year {y} outside the fit window {fit_years[0]}-{fit_years[1]} "
                    f"(years after {LAST_FIT_YEAR} are never fitted)",
                    key=f"{where}.years",
                )
        mean_over = _mean_over(path, spec.get("mean_over"), years, fit_years, where)
        have = dict(zip(rows["year"].astype(int), rows["value"], strict=True))
        missing = [y for y in years if y not in have]
        if missing:
            raise CalibrationError(
                path,
                f"no data for years {missing}; {spec['data_series']} has {sorted(have)}",
                key=f"{where}.years",
            )
        factor = _number(path, f"{where}.factor", spec.get("factor", 1.0), positive=True)
        obs = tuple(float(have[y]) * factor for y in years)
        if min(obs) <= 0:
            raise CalibrationError(path, "observed values must be > 0", key=f"{where}.years")
        src = rows["source"].iloc[0] if "source" in rows.columns else ""
        series.append(
            Series(
                name=str(name),
                model_column=col,
                years=tuple(years),
                observed=obs,
                level_sd=_number(
                    path, f"{where}.level_sd", spec.get("level_sd", 0.05), positive=True
                ),
                growth_sd=_number(
                    path, f"{where}.growth_sd", spec.get("growth_sd", 0.03), positive=True
                ),
                weight=_number(path, f"{where}.weight", spec.get("weight", 1.0), positive=True),
                data_series=str(spec["data_series"]),
                factor=factor,
                source=str(src),
                mean_over=mean_over,
                data_path=s_path,
            )
        )
    return Targets(path, data_path, tuple(series), lw, gw)


def _bound_series(
    path: Path, name: str, spec: dict[str, Any], columns: set[str], fit_years: list[int]
) -> Series:
    """A bound: a moment (``mean_over``) that must lie in ``bound: [low, high]``, with the
    ``reason`` the evidence is used as a bound and not as a value."""
    where = f"series.{name}"
    extra = set(spec) - {
        "bound",
        "reason",
        "model_column",
        "years",
        "mean_over",
        "level_sd",
        "weight",
    }
    if extra:
        raise CalibrationError(
            path,
            f"a bound takes no {sorted(extra)}; allowed: bound, reason, model_column, years, "
            "mean_over, level_sd, weight",
            key=f"{where}.{sorted(extra)[0]}",
        )
    col = spec["model_column"]
    if col not in columns:
        raise CalibrationError(
            path,
            f"unknown model column {col!r}; allowed: {', '.join(sorted(columns))}",
            key=f"{where}.model_column",
        )
    raw = spec["bound"]
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw)
        or not 0 < raw[0] < raw[1]
    ):
        raise CalibrationError(
            path, f"expected [low, high] with 0 < low < high, got {raw!r}", key=f"{where}.bound"
        )
    reason = spec["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise CalibrationError(
            path, "say why the evidence is a bound, not a value", key=f"{where}.reason"
        )
    years = spec["years"]
    mean_over = _mean_over(path, spec["mean_over"], years, fit_years, where)
    low, high = float(raw[0]), float(raw[1])
    return Series(
        name=name,
        model_column=col,
        years=tuple(years),
        observed=(float(np.sqrt(low * high)),),
        level_sd=_number(path, f"{where}.level_sd", spec.get("level_sd", 0.1), positive=True),
        growth_sd=1.0,
        weight=_number(path, f"{where}.weight", spec.get("weight", 1.0), positive=True),
        data_series="",
        factor=1.0,
        source=reason.strip(),
        mean_over=mean_over,
        bound=(low, high),
    )


def _read_table(path: Path, name: Any, key: str) -> tuple[Path, pd.DataFrame]:
    """A target data CSV named in ``path`` (relative to it), checked for its columns."""
    data_path = (path.parent / str(name)).resolve()
    if not data_path.is_file():
        raise CalibrationError(path, f"data file {data_path} not found", key=key)
    try:
        table = pd.read_csv(data_path)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise CalibrationError(data_path, f"cannot read CSV: {e}") from None
    need = {"series", "year", "value"}
    if not need <= set(table.columns):
        raise CalibrationError(
            data_path, f"CSV needs columns {sorted(need)}, has {list(table.columns)}"
        )
    return data_path, table


def _mean_over(
    path: Path, raw: Any, years: list[int], fit_years: list[int], where: str
) -> tuple[int, int] | None:
    """Check a moment's ``mean_over: [first, last]`` (one labelled year, inside the window)."""
    if raw is None:
        return None
    key = f"{where}.mean_over"
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not all(isinstance(y, int) and not isinstance(y, bool) for y in raw)
        or not fit_years[0] <= raw[0] <= raw[1] <= fit_years[1]
    ):
        raise CalibrationError(
            path,
            f"expected [first, last] years within {fit_years[0]}-{fit_years[1]}, got {raw!r}",
            key=key,
        )
    if len(years) != 1 or not raw[0] <= years[0] <= raw[1]:
        raise CalibrationError(
            path,
            f"a moment has one labelled year inside its window {raw}, got years {years!r}",
            key=f"{where}.years",
        )
    return (raw[0], raw[1])


def targets_from_frame(
    annual: pd.DataFrame, template: Targets, path: str | Path = "<synthetic>"
) -> Targets:
    """The same targets with observed values replaced by a model run's (for recovery tests)."""
    sim = template.simulated(annual)
    if not np.all(np.isfinite(sim)) or np.any(sim <= 0):
        raise ValueError("the run gives no positive finite value at some target point")
    out: list[Series] = []
    i = 0
    for s in template.series:
        n = len(s.years)
        out.append(Series(**{**s.__dict__, "observed": tuple(sim[i : i + n])}))
        i += n
    return Targets(
        Path(path), template.data_path, tuple(out), template.level_weight, template.growth_weight
    )


# --------------------------------------------------------------------------- priors


@dataclass(frozen=True)
class Prior:
    """A uniform prior on one parameter.

    Attributes:
        key: dotted parameter key (``group.name``).
        low, high: range in the parameter's unit.
        integer: the parameter is a count (rounded when the model runs).
        source: where the range comes from.
        unit: the parameter's unit (from ``sim/params.py``).
        default: its value in ``sim/params.py``.
    """

    key: str
    low: float
    high: float
    integer: bool
    source: str
    unit: str
    default: float


def param_field(key: str) -> tuple[Any, Any] | None:
    """``(field, spec class)`` of the dotted parameter ``key`` (``group.name``) of
    ``sim.params.Scenario``, or ``None`` when it is not one."""
    group, _, name = key.partition(".")
    gf = Scenario.model_fields.get(group)
    if gf is None or not (isinstance(gf.annotation, type) and issubclass(gf.annotation, Spec)):
        return None
    f = gf.annotation.model_fields.get(name)
    return (f, gf.annotation) if f is not None else None


def param_bounds(field: Any) -> tuple[float, float, bool, bool]:
    """``(low, high, low_open, high_open)``: the bounds a parameter's field declares
    (``ge``/``gt``/``le``/``lt``), infinite where it declares none."""
    lo, hi, lo_open, hi_open = -math.inf, math.inf, False, False
    for m in field.metadata:
        for attr, is_lo, is_open in (
            ("ge", True, False),
            ("gt", True, True),
            ("le", False, False),
            ("lt", False, True),
        ):
            v = getattr(m, attr, None)
            if v is not None:
                if is_lo:
                    lo, lo_open = float(v), is_open
                else:
                    hi, hi_open = float(v), is_open
    return lo, hi, lo_open, hi_open


def numeric_parameters() -> list[str]:
    """Dotted keys of every scalar numeric parameter (the ones that may be calibrated)."""
    out: list[str] = []
    for group, gf in Scenario.model_fields.items():
        cls = gf.annotation
        if not (isinstance(cls, type) and issubclass(cls, Spec)):
            continue
        for name, f in cls.model_fields.items():
            if f.annotation in (int, float) and group != "run":
                out.append(f"{group}.{name}")
    return out


@dataclass(frozen=True)
class Priors:
    """The free parameters with their uniform priors, and the evidence-ranged ones.

    ``priors`` are fitted by the calibration; ``evidence`` are not fitted (no 2015-2019 data
    observes them) and are drawn uniformly from their ranges by ``--posterior``.
    """

    path: Path
    priors: tuple[Prior, ...]
    evidence: tuple[Prior, ...] = ()

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.priors]

    def overrides(self, values: Mapping[str, float]) -> dict[str, float | int]:
        """Dotted-key overrides for ``sim.run``; counts rounded to integers."""
        return {
            p.key: int(round(float(values[p.key]))) if p.integer else float(values[p.key])
            for p in self.priors
        }

    def contains(self, values: Mapping[str, float]) -> bool:
        return all(p.low <= float(values[p.key]) <= p.high for p in self.priors)


def load_priors(path: str | Path = DEFAULT_PRIORS) -> Priors:
    """Read and check ``priors.yaml``: fitted ``parameters`` and evidence-ranged ``evidence``.

    Raises:
        CalibrationError: missing/malformed file, a key that is not a numeric parameter of
            ``sim/params.py``, a range that is not ``[low, high]`` with low < high or that
            leaves the parameter's allowed bounds, a missing source, a key in both sections.
    """
    path = Path(path)
    data = read_yaml(path, "priors")
    _check_keys(path, data, {"parameters", "evidence"}, {"parameters"}, " at the top level")
    allowed = numeric_parameters()
    sections: dict[str, tuple[Prior, ...]] = {}
    for section in ("parameters", "evidence"):
        params = data.get(section, {} if section == "evidence" else None)
        if not isinstance(params, dict) or (section == "parameters" and not params):
            raise CalibrationError(path, "expected a non-empty mapping of parameters", key=section)
        sections[section] = tuple(
            _parse_prior(path, f"{section}.{key}", str(key), spec, allowed)
            for key, spec in params.items()
        )
    both = sorted({p.key for p in sections["parameters"]} & {p.key for p in sections["evidence"]})
    if both:
        raise CalibrationError(
            path,
            "a parameter is either fitted or evidence-ranged, not both",
            key=f"evidence.{both[0]}",
        )
    return Priors(path, sections["parameters"], sections["evidence"])


def _parse_prior(path: Path, where: str, key: str, spec: Any, allowed: list[str]) -> Prior:
    found = param_field(key)
    if found is None or key not in allowed:
        raise CalibrationError(
            path,
            "not a numeric parameter of sim/params.py; allowed: " + ", ".join(allowed),
            key=where,
        )
    field, _ = found
    if not isinstance(spec, dict):
        raise CalibrationError(path, "expected a mapping with 'range' and 'source'", key=where)
    _check_keys(path, spec, {"range", "source"}, {"range", "source"}, f" in '{where}'", f"{where}.")
    rng = spec["range"]
    if not isinstance(rng, list) or len(rng) != 2:
        raise CalibrationError(path, f"expected [low, high], got {rng!r}", key=f"{where}.range")
    low = _number(path, f"{where}.range", rng[0])
    high = _number(path, f"{where}.range", rng[1])
    if not low < high:
        raise CalibrationError(
            path, f"low must be < high, got [{low}, {high}]", key=f"{where}.range"
        )
    blo, bhi, lo_open, hi_open = param_bounds(field)
    bad_lo = low < blo or (lo_open and low <= blo)
    bad_hi = high > bhi or (hi_open and high >= bhi)
    if bad_lo or bad_hi:
        lo_s = ("(" if lo_open else "[") + f"{blo:g}"
        hi_s = f"{bhi:g}" + (")" if hi_open else "]")
        raise CalibrationError(
            path,
            f"range [{low:g}, {high:g}] leaves the allowed bounds {lo_s}, {hi_s} of sim/params.py",
            key=f"{where}.range",
        )
    source = spec["source"]
    if not isinstance(source, str) or not source.strip():
        raise CalibrationError(path, "give the source of the range as text", key=f"{where}.source")
    extra = field.json_schema_extra or {}
    return Prior(
        key=key,
        low=low,
        high=high,
        integer=field.annotation is int,
        source=" ".join(source.split()),
        unit=str(extra.get("unit", "")),
        default=float(field.default),
    )


def check_overrides(base: Scenario, priors: Priors) -> None:
    """Check that the prior's corners give valid scenarios (cross-field validators)."""
    for corner in ("low", "high"):
        vals = {p.key: getattr(p, corner) for p in priors.priors}
        try:
            with_overrides(base, priors.overrides(vals))
        except ScenarioError as e:
            raise CalibrationError(
                priors.path, f"the {corner} corner is not a valid scenario: {e}"
            ) from None
