"""Paired comparisons of a baseline and policies over replicate seeds.

Every scenario of a comparison runs with the same replicate seeds (common random numbers),
so each policy run has a baseline twin; the difference policy - baseline is formed pair by
pair, and its mean gets a 90% Student-t interval over the pairs. "Value retained per public
dollar" is a ratio of paired mean differences (extra HK value added / extra public spend);
its interval is the t-interval of the delta-method (linearised) ratio estimator.

Beside the interval of the mean, every row carries the 5-95% spread of the paired
differences themselves: how much the effect varies from replicate to replicate. With
parameters drawn from the posterior (``pilotsim compare --posterior``) that spread carries
parameter uncertainty, and unlike the interval of the mean it does not shrink with more seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.metrics import annual as to_annual

#: Confidence level of the intervals of paired differences.
LEVEL = 0.90
#: Quantiles of the spread of paired differences across replicates (a 90% range, the same
#: coverage as ``LEVEL``; assumption: the convention of the fan charts).
SPREAD = (0.05, 0.95)
#: Default years of the table and the default policy period (inclusive).
DEFAULT_YEARS: tuple[int, ...] = (2025, 2030, 2035)
DEFAULT_PERIOD: tuple[int, int] = (2025, 2035)


@dataclass(frozen=True)
class Outcome:
    """A headline outcome of the comparison table.

    Attributes:
        name: annual column (or ``value_per_public_dollar``).
        label: what a reader sees.
        unit: unit of a yearly value.
        kind: ``flow`` (summed over a period), ``stock`` (averaged over a period),
            ``ratio`` (``ratio_of`` sums over a period) or ``per_dollar`` (ratio of paired
            differences of cumulated HK value added and public spend).
        period_unit: unit of the period value.
        ratio_of: numerator and denominator columns of a ratio.
    """

    name: str
    label: str
    unit: str
    kind: str
    period_unit: str
    ratio_of: tuple[str, str] | None = None


OUTCOMES: tuple[Outcome, ...] = (
    Outcome(
        "hk_value_added_hkd_m",
        "Value retained in HK (HK value added from HK research)",
        "HKD m a year",
        "flow",
        "HKD m, sum",
    ),
    Outcome(
        "local_retention_share",
        "Local retention share (HK / all value added)",
        "share",
        "ratio",
        "share of sums",
        ("hk_value_added_hkd_m", "total_value_added_hkd_m"),
    ),
    Outcome("hk_jobs", "HK jobs from HK research", "persons, year end", "stock", "persons, mean"),
    Outcome("startups", "Startups alive", "count, year end", "stock", "count, mean"),
    Outcome(
        "manufacturing_establishments",
        "Local manufacturing establishments",
        "count, year end",
        "stock",
        "count, mean",
    ),
    Outcome("projects_north", "Projects moved north", "projects a year", "flow", "projects, sum"),
    Outcome("public_spend_hkd_m", "Public spend", "HKD m a year", "flow", "HKD m, sum"),
    Outcome(
        "value_per_public_dollar",
        "HK value retained per public dollar (extra HK value / extra spend)",
        "HKD per HKD",
        "per_dollar",
        "HKD per HKD",
    ),
)
OUTCOME_BY_NAME = {o.name: o for o in OUTCOMES}


def period_label(period: tuple[int, int]) -> str:
    return f"{period[0]}-{period[1]}"


def panel_from_frames(
    frames: Mapping[str, pd.DataFrame], runs: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """Annual results of a batch as one long frame.

    Args:
        frames: stored quarterly frames by run key.
        runs: one mapping per (scenario label, replicate): ``label``, ``replicate``,
            ``seed``, ``key``.

    Returns:
        One row per label, replicate and year: ``label``, ``replicate``, ``seed``, ``year``
        and every annual metric column (``sim.metrics``; money HKD m, full economy).
    """
    annual_by_key: dict[str, pd.DataFrame] = {}
    parts = []
    for r in runs:
        key = r["key"]
        if key not in frames:
            continue
        if key not in annual_by_key:
            q = frames[key].drop(columns=["scenario_hash", "seed"], errors="ignore")
            annual_by_key[key] = to_annual(q)
        a = annual_by_key[key].copy()
        a.insert(0, "seed", int(r["seed"]))
        a.insert(0, "replicate", int(r["replicate"]))
        a.insert(0, "label", r["label"])
        parts.append(a)
    if not parts:
        raise ValueError("no stored runs to summarise")
    return pd.concat(parts, ignore_index=True)


def period_values(panel: pd.DataFrame, period: tuple[int, int]) -> pd.DataFrame:
    """Each run's value of every outcome over ``period`` (inclusive years).

    Flows are summed, stocks averaged, ratios recomputed from the summed parts. Columns
    ``label``, ``replicate`` and one per outcome, plus the sums needed for per-dollar ratios.
    """
    lo, hi = period
    sub = panel[(panel["year"] >= lo) & (panel["year"] <= hi)]
    g = sub.groupby(["label", "replicate"], sort=True)
    out = pd.DataFrame(index=g.size().index)
    for o in OUTCOMES:
        if o.kind == "flow":
            out[o.name] = g[o.name].sum()
        elif o.kind == "stock":
            out[o.name] = g[o.name].mean()
        elif o.kind == "ratio" and o.ratio_of:
            num, den = g[o.ratio_of[0]].sum(), g[o.ratio_of[1]].sum()
            out[o.name] = (num / den.where(den > 0)).fillna(0.0)
    return out.reset_index()


def year_values(panel: pd.DataFrame, year: int) -> pd.DataFrame:
    """Each run's value of every outcome in one year."""
    sub = panel[panel["year"] == year]
    cols = [o.name for o in OUTCOMES if o.kind != "per_dollar"]
    return sub[["label", "replicate", *cols]].reset_index(drop=True)


def t_interval(x: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of ``x`` and its two-sided Student-t interval (NaN bounds if fewer than 2)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    m = float(x.mean()) if n else math.nan
    if n < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half


def ratio_interval(
    num: np.ndarray, den: np.ndarray, level: float = LEVEL
) -> tuple[float, float, float]:
    """Ratio of means ``mean(num) / mean(den)`` with a delta-method t-interval.

    NaN when the mean denominator is zero (no extra public spend: the ratio is undefined).
    """
    num, den = np.asarray(num, float), np.asarray(den, float)
    n = num.size
    dbar = float(den.mean()) if n else 0.0
    if n == 0 or abs(dbar) < 1e-9:
        return math.nan, math.nan, math.nan
    r = float(num.mean()) / dbar
    if n < 2:
        return r, math.nan, math.nan
    z = (num - r * den) / dbar
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * z.std(ddof=1) / math.sqrt(n))
    return r, r - half, r + half


def spread(x: np.ndarray, q: tuple[float, float] = SPREAD) -> tuple[float, float]:
    """The ``q`` quantiles of ``x`` (NaN if fewer than 2 values or any is not finite)."""
    x = np.asarray(x, dtype=float)
    if x.size < 2 or not np.all(np.isfinite(x)):
        return math.nan, math.nan
    lo, hi = np.quantile(x, q)
    return float(lo), float(hi)


def _paired(values: pd.DataFrame, base: str, policy: str, col: str) -> pd.DataFrame:
    b = values[values["label"] == base].set_index("replicate")[col]
    p = values[values["label"] == policy].set_index("replicate")[col]
    both = pd.concat({"base": b, "policy": p}, axis=1, join="inner").dropna()
    return both


def summarise(
    panel: pd.DataFrame,
    base: str,
    policies: Sequence[str],
    years: Sequence[int] = DEFAULT_YEARS,
    period: tuple[int, int] = DEFAULT_PERIOD,
    level: float = LEVEL,
) -> pd.DataFrame:
    """The comparison table, tidy: one row per policy, outcome and period.

    Columns: ``policy``, ``baseline``, ``outcome``, ``label``, ``period`` (a year or
    ``START-END``), ``unit``, ``n_pairs``, ``base_mean``, ``policy_mean``, ``diff_mean``,
    ``diff_low``, ``diff_high`` (the ``level`` t-interval of the mean paired difference),
    ``diff_pct`` (``diff_mean / base_mean``, percent) and ``spread_low``, ``spread_high``
    (the ``SPREAD`` quantiles of the paired differences; for the per-dollar ratio, of the
    pair-by-pair ratios when every pair has extra spend).
    """
    blocks: list[tuple[str, pd.DataFrame, str]] = [
        (str(y), year_values(panel, y), "year") for y in years
    ]
    blocks.append((period_label(period), period_values(panel, period), "period"))
    rows = []
    for policy in policies:
        for o in OUTCOMES:
            for plabel, values, what in blocks:
                unit = o.unit if what == "year" else o.period_unit
                row: dict[str, Any] = {
                    "policy": policy,
                    "baseline": base,
                    "outcome": o.name,
                    "label": o.label,
                    "period": plabel,
                    "unit": unit,
                }
                if o.kind == "per_dollar":
                    dv = _paired(values, base, policy, "hk_value_added_hkd_m")
                    ds = _paired(values, base, policy, "public_spend_hkd_m")
                    common = dv.index.intersection(ds.index)
                    dv, ds = dv.loc[common], ds.loc[common]
                    num = (dv["policy"] - dv["base"]).to_numpy()
                    den = (ds["policy"] - ds["base"]).to_numpy()
                    m, lo, hi = ratio_interval(num, den, level)
                    s_lo, s_hi = (
                        spread(num / den) if len(den) and (den > 0).all() else (math.nan,) * 2
                    )
                    row.update(
                        n_pairs=len(common),
                        base_mean=math.nan,
                        policy_mean=math.nan,
                        diff_mean=m,
                        diff_low=lo,
                        diff_high=hi,
                        diff_pct=math.nan,
                        spread_low=s_lo,
                        spread_high=s_hi,
                    )
                else:
                    pair = _paired(values, base, policy, o.name)
                    d = (pair["policy"] - pair["base"]).to_numpy()
                    m, lo, hi = t_interval(d, level)
                    bm = float(pair["base"].mean()) if len(pair) else math.nan
                    row.update(
                        n_pairs=len(pair),
                        base_mean=bm,
                        policy_mean=float(pair["policy"].mean()) if len(pair) else math.nan,
                        diff_mean=m,
                        diff_low=lo,
                        diff_high=hi,
                        diff_pct=100.0 * m / bm if bm else math.nan,
                        spread_low=(sp := spread(d))[0],
                        spread_high=sp[1],
                    )
                rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ formatting
def _fmt(value: float, unit: str, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    sign = "+" if signed else ""
    if value == 0:  # exactly zero (e.g. identical paired runs): no sign, no decimals
        return "0.000" if unit.startswith("share") else "0"
    if unit.startswith("share"):
        text = f"{value:{sign}.3f}"
    elif unit.startswith("HKD per HKD") or abs(value) < 1:
        text = f"{value:{sign}.2f}"  # small counts keep two decimals: -0.03, not -0
    elif abs(value) >= 100 or unit.startswith(("count", "persons", "projects", "HKD m")):
        text = f"{value:{sign},.0f}"
    else:
        text = f"{value:{sign}.2f}"
    return text


def fmt_diff(row: Mapping[str, Any]) -> str:
    """``+mean [low, high]`` of a summary row (no interval when it is undefined)."""
    unit = row["unit"]
    text = _fmt(row["diff_mean"], unit, signed=True)
    if math.isfinite(row["diff_low"]):
        text += f" [{_fmt(row['diff_low'], unit, True)}, {_fmt(row['diff_high'], unit, True)}]"
    return text


def _range(low: float, high: float, unit: str, missing: str = "") -> str:
    """``[low, high]`` signed, or ``missing`` when undefined."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return missing
    return f"[{_fmt(low, unit, True)}, {_fmt(high, unit, True)}]"


def spread_heading(q: tuple[float, float] = SPREAD) -> str:
    return f"{q[0] * 100:g}-{q[1] * 100:g}% of pairs"


def format_table(summary: pd.DataFrame, policy: str, level: float = LEVEL) -> str:
    """The summary of one policy as a plain-text table (what ``pilotsim compare`` prints).

    Each outcome is a heading line followed by one row per year and the period.
    """
    s = summary[summary["policy"] == policy]
    base = s["baseline"].iloc[0]
    pct = round(level * 100)
    head = (
        "  period",
        "unit",
        f"{base} mean",
        f"{policy} mean",
        "difference",
        f"{pct}% interval",
        spread_heading(),
    )
    rows: list[tuple[str, ...]] = []
    last = None
    for _, r in s.iterrows():
        if r["label"] != last:
            rows.append((r["label"],))
            last = r["label"]
        unit = r["unit"]
        rows.append(
            (
                f"  {r['period']}",
                unit,
                _fmt(r["base_mean"], unit),
                _fmt(r["policy_mean"], unit),
                _fmt(r["diff_mean"], unit, signed=True),
                _range(r["diff_low"], r["diff_high"], unit),
                _range(r["spread_low"], r["spread_high"], unit),
            )
        )
    return _render(head, rows, right=(2, 3, 4, 5, 6))


def format_markdown(summary: pd.DataFrame, policy: str, level: float = LEVEL) -> str:
    """The summary of one policy as a Markdown table (for ``report.md``)."""
    s = summary[summary["policy"] == policy]
    base = s["baseline"].iloc[0]
    pct = round(level * 100)
    lines = [
        f"| outcome | period | unit | {base} | {policy} | difference | {pct}% interval "
        f"| {spread_heading()} |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    last = None
    for _, r in s.iterrows():
        name = f"**{r['label']}**" if r["label"] != last else ""
        last = r["label"]
        unit = r["unit"]
        lines.append(
            f"| {name} | {r['period']} | {unit} | {_fmt(r['base_mean'], unit)} | "
            f"{_fmt(r['policy_mean'], unit)} | {_fmt(r['diff_mean'], unit, True)} "
            f"| {_range(r['diff_low'], r['diff_high'], unit, 'n/a')} "
            f"| {_range(r['spread_low'], r['spread_high'], unit, 'n/a')} |"
        )
    return "\n".join(lines)


def _render(head: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int]) -> str:
    """Columns aligned; a row of one cell is a heading spanning the line."""
    full = [r for r in [head, *rows] if len(r) == len(head)]
    widths = [max(len(str(x[i])) for x in full) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        if len(cells) == 1:
            return cells[0]
        out = []
        for i, c in enumerate(cells):
            out.append(f"{c:>{widths[i]}}" if i in right else f"{c:<{widths[i]}}")
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep, *(line(r) for r in rows)])
