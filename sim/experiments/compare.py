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

Net benefit accounting: present values of HK value added and of the net benefit (value
added minus public and private costs) discounted at the social rate to the period's first
year, for Hong Kong and for all places; benefit-cost ratios (PV of extra value net of extra
private cost over PV of extra public cost); the deadweight share of platform clients and
displacement of private Hong Kong pilots. ``attribution_table``: the platform's effect with
each service switched off, paired with the full policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.metrics import Metric, view
from sim.metrics import annual as to_annual
from sim.reporting import fmt_interval, fmt_value, markdown_table, text_table

#: Confidence level of the intervals of paired differences.
LEVEL = 0.90
#: Quantiles of the spread of paired differences across replicates (a 90% range, the same
#: coverage as ``LEVEL``; assumption: the convention of the fan charts).
SPREAD = (0.05, 0.95)
#: Default years of the table and the default policy period (inclusive).
DEFAULT_YEARS: tuple[int, ...] = (2025, 2030, 2035)
DEFAULT_PERIOD: tuple[int, int] = (2025, 2035)


#: Social discount rate used when the batch's baseline scenario does not carry one
#: (``value.social_discount_rate`` in ``sim.params``: 3.5% real, HM Treasury Green Book).
DEFAULT_DISCOUNT_RATE = 0.035


#: A headline outcome of the comparison table: an output of ``sim.metrics`` (its ``kind``
#: says how a run's value over a period, or in a year, is formed and compared).
Outcome = Metric
#: The outcomes of the comparison table, in its order (``sim.metrics`` view ``compare``).
OUTCOMES: tuple[Outcome, ...] = view("compare")
OUTCOME_BY_NAME = {o.name: o for o in OUTCOMES}
#: Present values (discounted to the period's first year) used as numerators and
#: denominators of the benefit-cost ratios, HKD m (``sim.metrics`` view ``pv_helper``).
PV_HELPERS: dict[str, tuple[tuple[str, float], ...]] = {m.name: m.terms for m in view("pv_helper")}


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


def _columns_needed() -> set[str]:
    cols: set[str] = set()
    for o in OUTCOMES:
        if o.kind in ("flow", "stock", "mean"):
            cols.add(o.name)
        elif o.kind in ("ratio", "policy_share") and o.ratio_of:
            cols.update(o.ratio_of)
            if o.kind == "ratio":  # a year's ratio is read from its own column
                cols.add(o.name)
        cols.update(c for c, _ in o.terms)
    for terms in PV_HELPERS.values():
        cols.update(c for c, _ in terms)
    return cols


def missing_columns(panel: pd.DataFrame) -> list[str]:
    """Annual columns the outcomes need that ``panel`` lacks (their outcomes are NaN)."""
    return sorted(_columns_needed() - set(panel.columns))


def _with_all_columns(sub: pd.DataFrame) -> pd.DataFrame:
    missing = _columns_needed() - set(sub.columns)
    if not missing:
        return sub
    return sub.assign(**{c: np.nan for c in sorted(missing)})


def discount_factors(years: pd.Series | np.ndarray, first: int, rate: float) -> np.ndarray:
    """``(1 + rate) ** -(year - first)``: the value in ``first`` of one HKD in ``year``."""
    return (1.0 + rate) ** -(np.asarray(years, dtype=float) - first)


def _present_value(
    sub: pd.DataFrame, terms: Sequence[tuple[str, float]], first: int, rate: float
) -> pd.Series:
    """Per (label, replicate): sum over years of the discounted linear combination."""
    x = sum(coef * sub[col] for col, coef in terms) * discount_factors(sub["year"], first, rate)
    return x.groupby([sub["label"], sub["replicate"]], sort=True).sum(min_count=1)


def private_returns_table(
    panel: pd.DataFrame, label: str, period: tuple[int, int], rate: float = DEFAULT_DISCOUNT_RATE
) -> pd.DataFrame:
    """Realised private return by owner type in the runs of ``label`` over ``period``.

    One row per owner type (``sim.accounting.OWNER_TYPES``): the present values at the
    period's first year of what owners of that type spent on projects (pilots,
    industrialisation, projects bought) and of the income they earned from them (operating
    surplus of the functions they perform, sale proceeds), means over replicates, and
    income per HKD spent. These are flows of the same years, not the return of one cohort
    of projects: income after the period from projects paid for in it is not counted.
    """
    from sim.accounting import OWNER_TYPES

    lo, hi = period
    sub = panel[(panel["label"] == label) & (panel["year"] >= lo) & (panel["year"] <= hi)]
    rows = []
    for owner in OWNER_TYPES:
        spend, income = f"owner_spend_{owner}_hkd_m", f"owner_income_{owner}_hkd_m"
        if spend not in sub or income not in sub:
            continue
        pv_s = _present_value(sub, ((spend, 1.0),), lo, rate).mean()
        pv_i = _present_value(sub, ((income, 1.0),), lo, rate).mean()
        rows.append(
            {
                "owner": owner.replace("_", " "),
                "pv_spend_hkd_m": pv_s,
                "pv_income_hkd_m": pv_i,
                "income_per_hkd_spent": pv_i / pv_s if pv_s > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def period_values(
    panel: pd.DataFrame, period: tuple[int, int], rate: float = DEFAULT_DISCOUNT_RATE
) -> pd.DataFrame:
    """Each run's value of every outcome over ``period`` (inclusive years).

    Flows are summed, stocks averaged, ratios recomputed from the summed parts, present
    values discounted at ``rate`` to the period's first year. Columns ``label``,
    ``replicate``, one per outcome, the ``PV_HELPERS`` and, for ``policy_share`` outcomes,
    their summed parts (``num:<name>``, ``den:<name>``). An outcome whose annual columns the
    panel lacks is NaN.
    """
    lo, hi = period
    sub = _with_all_columns(panel[(panel["year"] >= lo) & (panel["year"] <= hi)])
    g = sub.groupby(["label", "replicate"], sort=True)
    out = pd.DataFrame(index=g.size().index)
    for o in OUTCOMES:
        if o.kind == "flow":
            out[o.name] = g[o.name].sum(min_count=1)
        elif o.kind in ("stock", "mean"):
            out[o.name] = g[o.name].mean()
        elif o.kind == "ratio" and o.ratio_of:
            num, den = g[o.ratio_of[0]].sum(), g[o.ratio_of[1]].sum()
            out[o.name] = num / den.where(den > 0)  # 0/0 (nothing created) is NaN, not 0
        elif o.kind == "npv":
            out[o.name] = _present_value(sub, o.terms, lo, rate)
        elif o.kind == "policy_share" and o.ratio_of:
            num = g[o.ratio_of[0]].sum(min_count=1)
            den = g[o.ratio_of[1]].sum(min_count=1)
            out[f"num:{o.name}"], out[f"den:{o.name}"] = num, den
            out[o.name] = num / den.where(den > 0)
    for name, terms in PV_HELPERS.items():
        out[name] = _present_value(sub, terms, lo, rate)
    return out.reset_index()


def year_values(panel: pd.DataFrame, year: int) -> pd.DataFrame:
    """Each run's value of every outcome in one year (outcomes with year rows)."""
    sub = _with_all_columns(panel[panel["year"] == year])
    cols = [o.name for o in OUTCOMES if o.kind not in ("per_dollar",) and not o.period_only]
    out = sub[["label", "replicate", *cols]].reset_index(drop=True)
    for o in OUTCOMES:  # a ratio with nothing in its denominator is undefined (NaN), not 0
        if o.kind == "ratio" and o.ratio_of and o.ratio_of[1] in sub.columns:
            den = sub[o.ratio_of[1]].reset_index(drop=True)
            out[o.name] = out[o.name].where(den > 0)
    return out


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


#: Bootstrap resamples for the interval of the spread's width (fixed seed: reports are
#: deterministic).
SPREAD_BOOTSTRAP = 2000


def spread_width_interval(
    x: np.ndarray, level: float = LEVEL, q: tuple[float, float] = SPREAD
) -> tuple[float, float]:
    """Bootstrap ``level`` interval of the width of the ``q`` range of ``x``.

    With a few dozen pairs the 5% and 95% quantiles are themselves noisy; this says how
    far two batches' spreads can differ by chance (e.g. with and without ``--posterior``).
    """
    x = np.asarray(x, dtype=float)
    if x.size < 5 or not np.all(np.isfinite(x)):
        return math.nan, math.nan
    rng = np.random.default_rng(np.random.SeedSequence([x.size, SPREAD_BOOTSTRAP]))
    boot = x[rng.integers(0, x.size, size=(SPREAD_BOOTSTRAP, x.size))]
    lo, hi = np.quantile(boot, q, axis=1)
    a = (1 - level) / 2
    w_lo, w_hi = np.quantile(hi - lo, (a, 1 - a))
    return float(w_lo), float(w_hi)


def _paired(values: pd.DataFrame, base: str, policy: str, col: str) -> pd.DataFrame:
    b = values[values["label"] == base].set_index("replicate")[col]
    p = values[values["label"] == policy].set_index("replicate")[col]
    both = pd.concat({"base": b, "policy": p}, axis=1, join="inner").dropna()
    return both


def _nan_row() -> dict[str, Any]:
    return dict.fromkeys(
        ("base_mean", "policy_mean", "diff_mean", "diff_low", "diff_high", "diff_pct"),
        math.nan,
    ) | dict.fromkeys(
        ("spread_low", "spread_high", "spread_width_low", "spread_width_high"), math.nan
    )


def _per_dollar_row(
    values: pd.DataFrame, base: str, policy: str, o: Outcome, level: float
) -> dict[str, Any]:
    assert o.ratio_of
    dv = _paired(values, base, policy, o.ratio_of[0])
    ds = _paired(values, base, policy, o.ratio_of[1])
    common = dv.index.intersection(ds.index)
    dv, ds = dv.loc[common], ds.loc[common]
    num = (dv["policy"] - dv["base"]).to_numpy()
    den = (ds["policy"] - ds["base"]).to_numpy()
    m, lo, hi = ratio_interval(num, den, level)
    s_lo, s_hi = spread(num / den) if len(den) and (den > 0).all() else (math.nan,) * 2
    return _nan_row() | dict(
        n_pairs=len(common), diff_mean=m, diff_low=lo, diff_high=hi, spread_low=s_lo,
        spread_high=s_hi,
    )  # fmt: skip


def _policy_share_row(
    values: pd.DataFrame, base: str, policy: str, o: Outcome, level: float
) -> dict[str, Any]:
    num, den = f"num:{o.name}", f"den:{o.name}"
    pair_n = _paired(values, base, policy, num)
    pair_d = _paired(values, base, policy, den)
    common = pair_n.index.intersection(pair_d.index)
    pn, pd_ = pair_n.loc[common], pair_d.loc[common]

    def pooled(n: pd.Series, d: pd.Series) -> float:
        total = float(d.sum())
        return float(n.sum()) / total if total > 0 else math.nan

    m, lo, hi = ratio_interval(pn["policy"].to_numpy(), pd_["policy"].to_numpy(), level)
    shares = (pn["policy"] / pd_["policy"].where(pd_["policy"] > 0)).to_numpy()
    s_lo, s_hi = spread(shares)
    return _nan_row() | dict(
        n_pairs=len(common), base_mean=pooled(pn["base"], pd_["base"]),
        policy_mean=pooled(pn["policy"], pd_["policy"]), diff_mean=m, diff_low=lo,
        diff_high=hi, spread_low=s_lo, spread_high=s_hi,
    )  # fmt: skip


def _difference_row(
    values: pd.DataFrame, base: str, policy: str, col: str, level: float
) -> dict[str, Any]:
    pair = _paired(values, base, policy, col)
    d = (pair["policy"] - pair["base"]).to_numpy()
    m, lo, hi = t_interval(d, level)
    bm = float(pair["base"].mean()) if len(pair) else math.nan
    sp = spread(d)
    width = spread_width_interval(d, level)
    return dict(
        n_pairs=len(pair), base_mean=bm,
        policy_mean=float(pair["policy"].mean()) if len(pair) else math.nan,
        diff_mean=m, diff_low=lo, diff_high=hi,
        diff_pct=100.0 * m / bm if bm and math.isfinite(bm) else math.nan,
        spread_low=sp[0], spread_high=sp[1], spread_width_low=width[0],
        spread_width_high=width[1],
    )  # fmt: skip


def summarise(
    panel: pd.DataFrame,
    base: str,
    policies: Sequence[str],
    years: Sequence[int] = DEFAULT_YEARS,
    period: tuple[int, int] = DEFAULT_PERIOD,
    level: float = LEVEL,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
    outcomes: Sequence[Outcome] = OUTCOMES,
) -> pd.DataFrame:
    """The comparison table, tidy: one row per policy, outcome and period.

    Columns: ``policy``, ``baseline``, ``outcome``, ``label``, ``period`` (a year or
    ``START-END``), ``unit``, ``n_pairs``, ``base_mean``, ``policy_mean``, ``diff_mean``,
    ``diff_low``, ``diff_high`` (the ``level`` t-interval of the mean paired difference),
    ``diff_pct`` (``diff_mean / base_mean``, percent) and ``spread_low``, ``spread_high``
    (the ``SPREAD`` quantiles of the paired differences; for the per-dollar ratios, of the
    pair-by-pair ratios when every pair has extra spend) and, for differences,
    ``spread_width_low``, ``spread_width_high`` (bootstrap ``level`` interval of the width
    of that range: how precisely the pairs pin the spread down).

    Present values (``npv`` outcomes and the benefit-cost ratios) are discounted at
    ``discount_rate`` a year to the period's first year and have no single-year rows.
    ``policy_share`` rows (deadweight) hold the level in the policy runs in the
    ``diff_*`` columns (ratio of summed parts over replicates, delta-method interval) and
    the pooled shares of each side in ``base_mean``, ``policy_mean``.
    """
    blocks: list[tuple[str, pd.DataFrame, str]] = [
        (str(y), year_values(panel, y), "year") for y in years
    ]
    blocks.append((period_label(period), period_values(panel, period, discount_rate), "period"))
    rows = []
    for policy in policies:
        for o in outcomes:
            for plabel, values, what in blocks:
                if what == "year" and o.period_only:
                    continue
                row: dict[str, Any] = {
                    "policy": policy,
                    "baseline": base,
                    "outcome": o.name,
                    "label": o.label,
                    "period": plabel,
                    "unit": o.year_unit if what == "year" else o.period_unit,
                }
                if o.kind == "per_dollar":
                    row.update(_per_dollar_row(values, base, policy, o, level))
                elif o.kind == "policy_share":
                    row.update(_policy_share_row(values, base, policy, o, level))
                else:
                    row.update(_difference_row(values, base, policy, o.name, level))
                rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ formatting
def fmt_diff(row: Mapping[str, Any]) -> str:
    """``+mean [low, high]`` of a summary row (no interval when it is undefined)."""
    unit = row["unit"]
    text = fmt_value(row["diff_mean"], unit, signed=True)
    if math.isfinite(row["diff_low"]):
        low, high = fmt_value(row["diff_low"], unit, True), fmt_value(row["diff_high"], unit, True)
        text += f" [{low}, {high}]"
    return text


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
                fmt_value(r["base_mean"], unit),
                fmt_value(r["policy_mean"], unit),
                fmt_value(r["diff_mean"], unit, signed=True),
                fmt_interval(r["diff_low"], r["diff_high"], unit),
                fmt_interval(r["spread_low"], r["spread_high"], unit),
            )
        )
    return text_table(head, rows, right=(2, 3, 4, 5, 6))


def format_markdown(summary: pd.DataFrame, policy: str, level: float = LEVEL) -> str:
    """The summary of one policy as a Markdown table (for ``report.md``)."""
    s = summary[summary["policy"] == policy]
    base = s["baseline"].iloc[0]
    pct = round(level * 100)
    header = [
        "outcome",
        "period",
        "unit",
        f"{base}",
        f"{policy}",
        "difference",
        f"{pct}% interval",
        spread_heading(),
    ]
    rows = []
    last = None
    for _, r in s.iterrows():
        name = f"**{r['label']}**" if r["label"] != last else ""
        last = r["label"]
        unit = r["unit"]
        rows.append(
            [
                name,
                f"{r['period']}",
                f"{unit}",
                fmt_value(r["base_mean"], unit),
                fmt_value(r["policy_mean"], unit),
                fmt_value(r["diff_mean"], unit, True),
                fmt_interval(r["diff_low"], r["diff_high"], unit, "n/a"),
                fmt_interval(r["spread_low"], r["spread_high"], unit, "n/a"),
            ]
        )
    return "\n".join(markdown_table(header, rows, "lllrrrrr"))


# ------------------------------------------------------------------ attribution
#: Platform services switched off one at a time by the attribution table: the switch in
#: ``platform.`` and the suffix of the variant's label.
SERVICES: tuple[tuple[str, str], ...] = (
    ("engineering", "no_engineering"),
    ("matching", "no_matching"),
    ("follow_up_support", "no_follow_up_support"),
)
SLOTS_ONLY = "slots_only"
#: The platform's claims on what is scarce, switched off one at a time (its hiring from Hong
#: Kong's pool of engineers; its lines taking floor space from private pilot lines): the
#: parameter in ``platform.``, the value that switches the channel off, the label suffix.
SCARCITY_CHANNELS: tuple[tuple[str, float, str], ...] = (
    ("engineers_per_slot", 0.0, "no_engineer_hiring"),
    ("private_space_share", 0.0, "no_private_space"),
)
#: Outcomes of the attribution table (period values).
ATTRIBUTION_OUTCOMES: tuple[str, ...] = (
    "hk_value_added_hkd_m",
    "npv_net_benefit_hkd_m",
    "benefit_cost_ratio",
)


def attribution_variants(spec: Any) -> dict[str, dict[str, Any]]:
    """The platform variants of a policy scenario: label suffix -> dotted overrides.

    One variant per service the scenario has on (that service off), ``slots_only`` (every
    service off) when more than one is on, and one per claim the platform makes on what is
    scarce (``SCARCITY_CHANNELS``: no hiring from the engineers' pool, no floor space taken
    from private lines). Empty when the platform is off.
    """
    platform = getattr(spec, "platform", None)
    if platform is None or not getattr(platform, "enabled", False):
        return {}
    on = [(s, suffix) for s, suffix in SERVICES if getattr(platform, s, False) is True]
    variants: dict[str, dict[str, Any]] = {suffix: {f"platform.{s}": False} for s, suffix in on}
    if len(on) > 1:
        variants[SLOTS_ONLY] = {f"platform.{s}": False for s, _ in on}
    for key, off, suffix in SCARCITY_CHANNELS:
        if getattr(platform, key, off) != off:
            variants[suffix] = {f"platform.{key}": off}
    return variants


#: Market failures switched off in the baseline *and* the policy (twins on the same seeds):
#: the part of the policy's effect that depends on the failure is the difference in
#: differences, (policy - baseline) - (policy twin - baseline twin). Suffix, overrides.
MARKET_FAILURES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("finance_unconstrained", {"pipeline.finance_constraints": False}),
    ("no_indivisibility", {"pipeline.indivisible_lines": False}),
    ("no_spillovers", {"spillovers.enabled": False}),
)


def market_failure_variants(spec: Any) -> dict[str, dict[str, Any]]:
    """The market-failure variants of a platform policy (suffix -> overrides of both the
    policy and the baseline); empty when the platform is off."""
    platform = getattr(spec, "platform", None)
    if platform is None or not getattr(platform, "enabled", False):
        return {}
    return {suffix: dict(over) for suffix, over in MARKET_FAILURES}


def variant_label(policy: str, suffix: str) -> str:
    return f"{policy}-{suffix}"


def attribution_table(
    panel: pd.DataFrame,
    base: str,
    policy: str,
    variants: Mapping[str, Mapping[str, Any]],
    period: tuple[int, int],
    level: float = LEVEL,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
    baselines: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Each variant's paired effect against its baseline and the part of the full effect
    attributed to what it switches off, paired by replicate: ``policy`` minus the variant
    for a service, and for a market failure switched off in both runs the difference in
    differences, (policy - base) - (variant - its baseline twin).

    Args:
        panel: annual panel holding ``base``, ``policy``, the variants' labels and their
            baseline twins.
        variants: label of each variant -> its overrides of ``policy``.
        baselines: a variant's baseline twin (label), for the market-failure variants;
            other variants are compared with ``base``.

    Returns:
        One row per variant (``full`` first) and outcome of ``ATTRIBUTION_OUTCOMES``:
        ``policy``, ``variant``, ``label``, ``switched_off``, ``outcome``, ``period``,
        ``unit``, ``n_pairs``, ``effect_mean``, ``effect_low``, ``effect_high`` (variant -
        baseline) and for sums ``attributed_mean``, ``attributed_low``,
        ``attributed_high`` (full - variant) and ``attributed_share`` (of the full effect).
        Ratios are not additive: their attributed columns are NaN.
    """
    outcomes = [OUTCOME_BY_NAME[n] for n in ATTRIBUTION_OUTCOMES]
    twins = dict(baselines or {})
    labels = [policy, *variants]
    own = [lab for lab in labels if lab not in twins]
    effect = summarise(panel, base, own, (), period, level, discount_rate, outcomes)
    for lab, twin in twins.items():
        effect = pd.concat(
            [effect, summarise(panel, twin, [lab], (), period, level, discount_rate, outcomes)]
        )
    rows = []
    full_effect = effect[effect["policy"] == policy].set_index("outcome")["diff_mean"]
    for lab in labels:
        overrides = variants.get(lab, {})
        if lab in twins:
            did = _difference_in_differences(panel, base, policy, twins[lab], lab)
            part = summarise(did, lab, [policy], (), period, level, discount_rate, outcomes)
            part = part.set_index("outcome")
        elif lab != policy:
            part = summarise(panel, lab, [policy], (), period, level, discount_rate, outcomes)
            part = part.set_index("outcome")
        for _, e in effect[effect["policy"] == lab].iterrows():
            o = e["outcome"]
            row = {
                "policy": policy,
                "variant": "full" if lab == policy else lab.removeprefix(f"{policy}-"),
                "label": lab,
                "switched_off": (
                    ", ".join(
                        k.removeprefix("platform.")
                        if v is False
                        else f"{k.removeprefix('platform.')}={v:g}"
                        for k, v in overrides.items()
                    )
                    or "nothing"
                )
                + (" (baseline too)" if lab in twins else ""),
                "outcome": o,
                "period": e["period"],
                "unit": e["unit"],
                "n_pairs": e["n_pairs"],
                "effect_mean": e["diff_mean"],
                "effect_low": e["diff_low"],
                "effect_high": e["diff_high"],
                "attributed_mean": math.nan,
                "attributed_low": math.nan,
                "attributed_high": math.nan,
                "attributed_share": math.nan,
            }
            if lab != policy and OUTCOME_BY_NAME[o].kind != "per_dollar":
                a = part.loc[o]
                full = full_effect.get(o, math.nan)
                row.update(
                    attributed_mean=a["diff_mean"],
                    attributed_low=a["diff_low"],
                    attributed_high=a["diff_high"],
                    attributed_share=a["diff_mean"] / full
                    if full and math.isfinite(full)
                    else math.nan,
                )
            rows.append(row)
    return pd.DataFrame(rows)


def _difference_in_differences(
    panel: pd.DataFrame, base: str, policy: str, twin: str, variant: str
) -> pd.DataFrame:
    """A panel in which ``policy`` minus ``variant`` is, replicate by replicate and year by
    year, (policy - base) - (variant - twin): ``variant`` is replaced by variant - twin +
    base. Exact for outcomes linear in the annual columns (sums, means, present values);
    ratios of such a panel mean nothing and are not read from it."""
    keys = ["replicate", "year"]
    parts = {
        lab: panel[panel["label"] == lab].set_index(keys).sort_index()
        for lab in (base, policy, twin, variant)
    }
    numeric = [
        c for c in parts[policy].columns
        if c not in ("label", "seed") and pd.api.types.is_numeric_dtype(parts[policy][c])
    ]  # fmt: skip
    shifted = parts[variant].copy()
    shifted[numeric] = parts[variant][numeric] - parts[twin][numeric] + parts[base][numeric]
    return pd.concat([parts[policy].reset_index(), shifted.reset_index()], ignore_index=True)


def full_positive(table: pd.DataFrame, outcome: str) -> bool:
    """Whether the full policy's effect on ``outcome`` is positive (a share of it reads
    as a share only then; the share stays in ``attribution.csv`` either way)."""
    full = table[(table["variant"] == "full") & (table["outcome"] == outcome)]["effect_mean"]
    return bool(len(full)) and float(full.iloc[0]) > 0


def format_attribution(table: pd.DataFrame, markdown: bool = False) -> str:
    """The attribution table of one policy as text (or Markdown); the share of the full
    effect is shown in brackets when that effect is positive."""
    by = {(r["label"], r["outcome"]): r for _, r in table.iterrows()}
    labels = list(dict.fromkeys(table["label"]))
    pct = round(LEVEL * 100)
    head = (
        "variant",
        "switched off",
        "HK value added, HKD m",
        "attributed to what is off",
        "HK net benefit NPV, HKD m",
        "attributed to what is off",
        "benefit-cost ratio, HK",
    )
    rows = []
    for lab in labels:
        cells = [str(by[(lab, ATTRIBUTION_OUTCOMES[0])]["variant"])]
        cells.append(str(by[(lab, ATTRIBUTION_OUTCOMES[0])]["switched_off"]))
        for o in ATTRIBUTION_OUTCOMES:
            r = by.get((lab, o))
            if r is None:
                cells += ["n/a"] if o == "benefit_cost_ratio" else ["n/a", "n/a"]
                continue
            unit = r["unit"]
            eff = fmt_value(r["effect_mean"], unit, True) + (
                " " + fmt_interval(r["effect_low"], r["effect_high"], unit)
                if math.isfinite(r["effect_low"])
                else ""
            )
            cells.append(eff)
            if o == "benefit_cost_ratio":
                continue
            if math.isfinite(r["attributed_mean"]):
                att = fmt_value(r["attributed_mean"], unit, True)
                if math.isfinite(r["attributed_low"]):
                    att += " " + fmt_interval(r["attributed_low"], r["attributed_high"], unit)
                if math.isfinite(r["attributed_share"]) and full_positive(table, o):
                    att += f" ({r['attributed_share']:.0%})"
            else:
                att = "" if r["variant"] == "full" else "n/a"
            cells.append(att)
        rows.append(tuple(cells))
    if markdown:
        return "\n".join(markdown_table(head, rows, "llrrrrr"))
    text = text_table(head, rows, right=(2, 3, 4, 5, 6))
    return text + f"\n(mean of paired seeds [{pct}% interval]; share of the full effect)"
