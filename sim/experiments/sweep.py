"""Parameter sweeps: a grid or a Latin hypercube of scenario parameters, paired with a baseline.

A sweep varies dotted parameters of a policy scenario (``platform.public_budget_hkd_m``
...). Each design point is a scenario run with the batch's replicate seeds, and so is the
baseline: every point's outcome is a paired difference from the baseline, as in
``compare``. Designs:

- ``grid``: every combination of each parameter's values (``values: [..]`` or
  ``low``/``high``/``num``, evenly spaced);
- ``lhs``: ``samples`` points of a Latin hypercube over each parameter's ``[low, high]``
  (``scipy.stats.qmc.LatinHypercube``, seeded from the root seed; integer parameters are
  rounded).

A sweep file (YAML) holds the same settings as the command line::

    scenario: hk_pilot_platform     # the policy whose parameters vary
    baseline: baseline              # what each point is compared with
    design: lhs                     # grid | lhs
    samples: 12                     # lhs only
    seeds: 8
    parameters:
      platform.public_budget_hkd_m: {low: 50, high: 1000}
      platform.fee_subsidy_share: {low: 0.0, high: 0.9}
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim import yamlio
from sim.experiments.batch import BatchError
from sim.experiments.seeds import design_rng
from sim.metrics import view
from sim.params import Scenario, parameter_table
from sim.scenario import ScenarioError, with_overrides

DESIGNS = ("grid", "lhs")
#: Run settings a paired difference needs equal in both runs (``batch.check_same_run_settings``),
#: so a sweep may not vary them, with the option that sets them for the whole sweep.
PAIRED_RUN_SETTINGS = {"run.scale": "--scale", "run.end_year": "--until"}
FILE_KEYS = (
    "scenario",
    "baseline",
    "design",
    "samples",
    "seeds",
    "root_seed",
    "scale",
    "until",
    "period",
    "parameters",
    "posterior",
)
#: Outcomes plotted against the swept parameters: (summary outcome, axis label), the
#: ``sim.metrics`` view ``sweep``.
SWEEP_OUTCOMES: tuple[tuple[str, str], ...] = tuple(
    (m.name, m.caption("sweep")) for m in view("sweep")
)


@dataclass(frozen=True)
class Param:
    """One swept parameter: a list of values, or a range ``[low, high]`` (``num`` levels
    on a grid).

    Attributes:
        key: dotted parameter key.
        values: explicit values (grid only).
        low, high: range bounds.
        num: number of evenly spaced grid levels over the range.
        integer: the parameter is an integer (LHS values are rounded).
    """

    key: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    num: int | None = None
    integer: bool = False

    def grid_values(self) -> list[Any]:
        if self.values is not None:
            return list(self.values)
        assert self.low is not None and self.high is not None and self.num is not None
        vals = np.linspace(self.low, self.high, self.num)
        return [int(round(v)) for v in vals] if self.integer else [float(v) for v in vals]


def _param_types() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in Scenario.model_fields.items():
        cls = field.annotation
        if isinstance(cls, type) and hasattr(cls, "model_fields"):
            for k, f in cls.model_fields.items():
                out[f"{name}.{k}"] = f.annotation
    return out


def check_key(key: str, where: str) -> type:
    """The type of a dotted parameter key, or an error listing close matches."""
    import difflib

    types = _param_types()
    if key not in types:
        keys = [r["key"] for r in parameter_table()]
        close = difflib.get_close_matches(key, keys, n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise BatchError(
            f"{where}: unknown parameter '{key}'{hint} (`pilotsim validate --show` or "
            "sim.params.parameter_table() list every key)"
        )
    return types[key]


def parse_param(text: str) -> Param:
    """``KEY=LOW:HIGH``, ``KEY=LOW:HIGH:NUM`` or ``KEY=V1,V2,...`` -> ``Param``."""
    where = f"--param {text}"
    if "=" not in text:
        raise BatchError(
            f"{where}: expects KEY=LOW:HIGH[:NUM] or KEY=V1,V2,... "
            "(e.g. platform.public_budget_hkd_m=100:1000:4)"
        )
    key, spec = (s.strip() for s in text.split("=", 1))
    typ = check_key(key, where)
    try:
        if ":" in spec:
            parts = spec.split(":")
            if len(parts) not in (2, 3):
                raise ValueError("LOW:HIGH or LOW:HIGH:NUM")
            num = int(parts[2]) if len(parts) == 3 else None
            return _range_param(key, float(parts[0]), float(parts[1]), num, typ, where)
        values = tuple(yaml.safe_load(v) for v in spec.split(",") if v.strip())
    except (ValueError, yaml.YAMLError) as e:
        raise BatchError(f"{where}: cannot parse {spec!r} ({e})") from None
    if not values:
        raise BatchError(f"{where}: no values given")
    return Param(key, values=values, integer=typ is int)


def _range_param(
    key: str, low: float, high: float, num: int | None, typ: type, where: str
) -> Param:
    if typ not in (int, float):
        raise BatchError(f"{where}: a range needs a numeric parameter; '{key}' is {typ}")
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise BatchError(f"{where}: expects LOW <= HIGH, got {low:g} and {high:g}")
    if num is not None and num < 1:
        raise BatchError(f"{where}: NUM must be a positive integer, got {num}")
    return Param(key, low=low, high=high, num=num, integer=typ is int)


def params_from_mapping(data: Mapping[str, Any], where: str) -> list[Param]:
    """The ``parameters:`` block of a sweep file."""
    if not isinstance(data, Mapping) or not data:
        raise BatchError(f"{where}: 'parameters' must map parameter keys to ranges or lists")
    out = []
    for key, spec in data.items():
        w = f"{where}: parameters.{key}"
        typ = check_key(str(key), w)
        if isinstance(spec, list):
            if not spec:
                raise BatchError(f"{w}: empty list of values")
            out.append(Param(str(key), values=tuple(spec), integer=typ is int))
        elif isinstance(spec, Mapping):
            unknown = set(spec) - {"low", "high", "num"}
            if unknown or not {"low", "high"} <= set(spec):
                raise BatchError(
                    f"{w}: expects {{low, high}} or {{low, high, num}}, got keys {sorted(spec)}"
                )
            try:
                low, high = float(spec["low"]), float(spec["high"])
                num = int(spec["num"]) if "num" in spec else None
            except (TypeError, ValueError):
                raise BatchError(f"{w}: low, high must be numbers and num an integer") from None
            out.append(_range_param(str(key), low, high, num, typ, w))
        else:
            raise BatchError(f"{w}: expects a list of values or {{low, high[, num]}}")
    return out


def read_sweep_file(path: str | Path) -> dict[str, Any]:
    """A sweep file's settings (keys ``FILE_KEYS``); errors name the file and key."""
    p = Path(path)
    if not p.is_file():
        raise BatchError(f"{p}: sweep file not found")
    try:
        data = yamlio.load_file(p) or {}
    except yamlio.YamlInputError as e:
        raise BatchError(str(e)) from None
    if not isinstance(data, dict):
        raise BatchError(f"{p}: expected a mapping with keys {', '.join(FILE_KEYS)}")
    unknown = sorted(map(str, set(data) - set(FILE_KEYS)))
    if unknown:
        raise BatchError(
            f"{p}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(FILE_KEYS)}"
        )
    return data


def design_points(
    params: Sequence[Param], design: str, samples: int | None, root_seed: int
) -> list[dict[str, Any]]:
    """The design's points, each a mapping of dotted key -> value."""
    if design not in DESIGNS:
        raise BatchError(f"--design: '{design}' is not one of {', '.join(DESIGNS)}")
    if not params:
        raise BatchError("sweep needs at least one parameter (--param KEY=... or 'parameters:')")
    keys = [p.key for p in params]
    if len(set(keys)) != len(keys):
        raise BatchError(f"--param: a parameter is given twice ({', '.join(keys)})")
    for p in params:
        if p.key in PAIRED_RUN_SETTINGS:
            raise BatchError(
                f"--param {p.key}: a sweep pairs every point with the baseline, which runs at "
                f"one scale and horizon, so {p.key} cannot vary (compare refuses such pairs "
                f"too); pass {PAIRED_RUN_SETTINGS[p.key]} and run one sweep per value"
            )
    if design == "grid":
        if samples is not None:
            raise BatchError("--samples applies to --design lhs only; a grid has NUM per range")
        for p in params:
            if p.values is None and p.num is None:
                raise BatchError(
                    f"--param {p.key}: a grid needs LOW:HIGH:NUM (number of levels) or a "
                    "list of values"
                )
        return [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(p.grid_values() for p in params))
        ]
    from scipy.stats import qmc

    if samples is None or samples < 1:
        raise BatchError("--design lhs needs --samples N (a positive number of points)")
    for p in params:
        if p.values is not None:
            raise BatchError(f"--param {p.key}: a Latin hypercube needs a range LOW:HIGH")
        if p.num is not None:
            raise BatchError(f"--param {p.key}: NUM applies to grids; use --samples for lhs")
    lhs = qmc.LatinHypercube(d=len(params), rng=design_rng(root_seed))
    unit = lhs.random(samples)
    lows = np.array([p.low for p in params], dtype=float)
    highs = np.array([p.high for p in params], dtype=float)
    pts = qmc.scale(unit, lows, highs) if np.all(highs > lows) else lows + unit * (highs - lows)
    out = []
    for row in pts:
        out.append(
            {
                p.key: int(round(v)) if p.integer else float(v)
                for p, v in zip(params, row, strict=True)
            }
        )
    return out


def point_scenarios(policy: Scenario, points: Sequence[Mapping[str, Any]]) -> dict[str, Scenario]:
    """One validated scenario per point, labelled ``p000``, ``p001`` ...; bad values are
    errors naming the key."""
    width = max(3, len(str(len(points) - 1)))
    out = {}
    for i, pt in enumerate(points):
        label = f"p{i:0{width}d}"
        try:
            out[label] = with_overrides(policy, dict(pt)).model_copy(
                update={"name": f"{policy.name}[{label}]"}
            )
        except ScenarioError as e:
            raise BatchError(f"sweep point {label} {dict(pt)}: {e}") from None
    return out


def sweep_table(summary: pd.DataFrame, points: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Summary rows of the period for every point, with the point's parameter values."""
    s = summary.copy()
    keys = list(next(iter(points.values())))
    for k in keys:
        s.insert(1, k, s["policy"].map(lambda lab, k=k: points[lab][k]))
    return s.rename(columns={"policy": "point"})


def plot_sweep(
    table: pd.DataFrame, keys: Sequence[str], base: str, period: str, path: Path
) -> Path:
    """Outcome differences (mean and 90% interval) against each swept parameter."""
    from sim.reporting import pyplot, save_figure, tick_formatter

    plt = pyplot()
    rows = [(o, lab) for o, lab in SWEEP_OUTCOMES if o in set(table["outcome"])]
    one = len(keys) == 1  # one parameter: outcomes side by side, else outcomes x parameters
    nr, nc = (1, len(rows)) if one else (len(rows), len(keys))
    fig, axes = plt.subplots(
        nr,
        nc,
        figsize=(4.4 * nc + 0.4, 3.4 * nr + 0.9),
        layout="constrained",
        squeeze=False,
        sharex="col" if not one else False,
        sharey="row" if not one else False,
    )
    for i, (outcome, label) in enumerate(rows):
        t = table[table["outcome"] == outcome]
        unit = t["unit"].iloc[0]
        div, shown = 1.0, unit
        if unit.startswith("HKD m"):
            big = np.nanmax(np.abs(t[["diff_low", "diff_high", "diff_mean"]].to_numpy()))
            if big >= 2000:
                div, shown = 1000.0, unit.replace("HKD m", "HKD bn")
        for j, key in enumerate(keys):
            ax = axes[0][i] if one else axes[i][j]
            d = t.sort_values(key)
            x = d[key].to_numpy(dtype=float)
            m = d["diff_mean"].to_numpy() / div
            lo = d["diff_low"].to_numpy() / div
            hi = d["diff_high"].to_numpy() / div
            ok = np.isfinite(m)
            yerr = np.vstack([m - lo, hi - m])
            yerr = np.where(np.isfinite(yerr), yerr, 0.0)
            ax.errorbar(
                x[ok],
                m[ok],
                yerr=yerr[:, ok],
                fmt="o",
                color="#1f6fb4",
                ecolor="#7aa6d2",
                elinewidth=1.5,
                capsize=3,
                ms=5,
            )
            if one:
                ax.plot(x[ok], m[ok], color="#1f6fb4", lw=1, alpha=0.6)
                ax.set_title(f"{label}\n({shown})", fontsize=10.5)
                ax.set_xlabel(key)
            else:
                if i == len(rows) - 1:
                    ax.set_xlabel(key)
                if j == 0:
                    ax.set_ylabel(f"{label}\n({shown})", fontsize=9.5)
            ax.axhline(0, color="#333333", lw=0.8)
            ax.yaxis.set_major_formatter(tick_formatter())
    fig.suptitle(
        f"Sweep: paired difference from {base}, {period}\n"
        "dots: mean over seeds; bars: 90% t-interval of the mean",
        fontweight="bold",
        fontsize=11.5,
    )
    save_figure(fig, path)
    return path
