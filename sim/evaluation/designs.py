"""The published client studies' designs, applied to a firm panel (``sim.evaluation.panel``).

Each design sees only what its evaluator saw: the policy run's firms, who was a client and
when, and the firms' outcomes. None of them sees the baseline. ``true_effects`` is what no
real study can compute: the same clients' outcomes in the baseline run with the same seed
(their twins), so design minus truth is the bias of the design on this model's selection.

Definitions shared by every design:

- **cohort**: a client's first year with a platform pilot (``t0``); clients of cohorts
  ``cohorts`` that were in the panel the year before (``t0 - 1``: the studies' pre-treatment
  observation) are the treated. Firms alive in ``t0 - 1`` that are not yet clients by the
  horizon ``t0 + e`` are the comparison pool of cohort ``t0`` (``pool``).
- **effect in percent** of a difference in differences: in logs of group means, the
  treated's growth factor from the year before over the comparison's, minus one (the
  studies regress log outcomes; growth rates, not levels, are assumed parallel). Firms are
  followed while they survive (the studies' firms are those still reporting); survival is
  its own outcome, in percentage points.
- **matching** (Innovate UK, Fraunhofer, MEP): a logit propensity score on the
  pre-treatment covariates (log value added, log staff, pilots in the three years before,
  sector), each treated firm matched to its nearest firm of the same cohort's pool, with
  replacement (Frontier Economics 2017, market_failure_evidence row Innovate UK).

Outcomes: ``va`` value added (the studies' sales or turnover and value added), ``emp``
employment, ``prod`` value added per worker, ``alive`` survival in Hong Kong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Years of pre-treatment R&D activity the matching sees (assumption: the three-year window
#: of the Community Innovation Survey's innovation questions, which the Comin et al. panel
#: uses).
PRE_RD_YEARS = 3
#: Staff below which a client is "small" (market_failure_evidence row NIST MEP: largest
#: effects for firms of 1-19 staff).
SMALL_FIRM_STAFF = 20
#: Ridge penalty of the propensity logit (assumption: keeps the score finite when a sector
#: has only treated or only untreated firms; small against the sample sizes here).
LOGIT_RIDGE = 1e-3
LOGIT_ITERATIONS = 50
PERCENT = 100.0


@dataclass
class Wide:
    """A panel as firms x years matrices; after a firm leaves, ``alive`` is False and its
    flows are zero; before it enters they are NaN (``observed`` is False)."""

    va: pd.DataFrame
    emp: pd.DataFrame
    pilots: pd.DataFrame
    platform: pd.DataFrame
    alive: pd.DataFrame
    observed: pd.DataFrame
    sector: pd.Series
    t0: pd.Series = field(init=False)

    def __post_init__(self) -> None:
        used = self.platform.fillna(0) > 0
        first = used.idxmax(axis=1).where(used.any(axis=1))
        self.t0 = first.astype(float)

    @property
    def prod(self) -> pd.DataFrame:
        return self.va / self.emp.where(self.emp > 0)

    def outcome(self, name: str) -> pd.DataFrame:
        return self.prod if name == "prod" else getattr(self, name)

    @property
    def years(self) -> np.ndarray:
        return self.va.columns.to_numpy()


def wide(panel: pd.DataFrame) -> Wide:
    """The panel (``FirmPanel.frame``) as firms x years matrices, firms keyed by kind and row."""
    key = ["kind", "firm"]

    def pivot(col: str) -> pd.DataFrame:
        return panel.pivot_table(index=key, columns="year", values=col, aggfunc="first")

    alive = pivot("alive").astype(float)
    observed = alive.notna()
    # A firm's rows end with the year it left: later years are "gone", not "not yet".
    seen_before = observed.cumsum(axis=1) > 0
    gone = seen_before & ~observed
    alive_b = (alive.fillna(0) > 0) & observed

    def flows(col: str) -> pd.DataFrame:
        f = pivot(col)
        return f.mask(gone, 0.0)

    sector = panel.groupby(key)["sector"].first()
    return Wide(
        va=flows("value_added_hkd_m"),
        emp=flows("employees"),
        pilots=flows("pilots"),
        platform=flows("platform_pilots"),
        alive=alive_b,
        observed=observed | gone,
        sector=sector.loc[alive.index],
    )


def incumbents(w: Wide, year: int) -> Wide:
    """The panel of the firms in it in ``year`` (the register before the policy): every
    design compares clients with firms of the same register, as a panel study does."""
    if year not in w.observed.columns:
        return w
    keep = w.observed.index[w.observed[year].to_numpy()]

    def sub(f: pd.DataFrame) -> pd.DataFrame:
        return f.loc[keep]

    return Wide(
        va=sub(w.va),
        emp=sub(w.emp),
        pilots=sub(w.pilots),
        platform=sub(w.platform),
        alive=sub(w.alive),
        observed=sub(w.observed),
        sector=w.sector.loc[keep],
    )


def _at(frame: pd.DataFrame, firms: pd.Index, years: np.ndarray) -> np.ndarray:
    """``frame[firm, year]`` for each pair (NaN where the year is outside the panel)."""
    cols = {y: i for i, y in enumerate(frame.columns)}
    j = np.array([cols.get(int(y), -1) for y in years], dtype=np.int64)
    rows = frame.index.get_indexer(firms)
    vals = frame.to_numpy(dtype=float)
    out = np.full(len(firms), np.nan)
    ok = (j >= 0) & (rows >= 0)
    out[ok] = vals[rows[ok], j[ok]]
    return out


def treated(w: Wide, cohorts: tuple[int, int], present_in: int | None = None) -> pd.Series:
    """Clients of cohorts ``cohorts`` (first and last year) alive the year before: their t0.

    ``present_in``: keep only firms in the panel that year (the year before the policy: the
    firms a baseline run shares row for row, ``sim.evaluation.panel``)."""
    t0 = w.t0.dropna()
    t0 = t0[(t0 >= cohorts[0]) & (t0 <= cohorts[1])]
    pre = _at(w.alive.astype(float), t0.index, t0.to_numpy() - 1)
    keep = pre > 0
    if present_in is not None:
        keep &= _at(w.observed.astype(float), t0.index, np.full(len(t0), present_in)) > 0
    return t0[keep].astype(int)


def pool(w: Wide, year: int, until: int) -> pd.Index:
    """The comparison pool of cohort ``year`` followed to ``until``: firms alive in
    ``year - 1`` that are not yet clients by ``until`` (not-yet-treated controls, as in
    Callaway and Sant'Anna 2021). "Never a client" would look into the future: a firm that
    becomes a client later had to survive to do so, so dropping it strips survivors from the
    comparison (immortal-time bias)."""
    not_yet = (w.t0.isna() | (w.t0 > until)).to_numpy()
    alive = w.alive[year - 1] if (year - 1) in w.alive.columns else pd.Series(False, w.alive.index)
    return w.alive.index[not_yet & alive.to_numpy()]


def covariates(w: Wide, firms: pd.Index, year: int) -> np.ndarray:
    """Pre-treatment covariates in ``year - 1``: log value added, log staff, pilots in the
    ``PRE_RD_YEARS`` years before, sector dummies, and a constant."""
    pre = np.full(len(firms), year - 1)
    va = np.log1p(np.nan_to_num(_at(w.va, firms, pre)))
    emp = np.log1p(np.nan_to_num(_at(w.emp, firms, pre)))
    rd = sum(np.nan_to_num(_at(w.pilots, firms, pre - k)) for k in range(PRE_RD_YEARS))
    sectors = w.sector.loc[firms].to_numpy()
    dummies = (sectors[:, None] == np.unique(w.sector.to_numpy())[None, 1:]).astype(float)
    return np.column_stack([np.ones(len(firms)), va, emp, rd, dummies])


def propensity(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Fitted probabilities of a logit of ``d`` on ``x`` (Newton steps, ridge penalised)."""
    beta = np.zeros(x.shape[1])
    for _ in range(LOGIT_ITERATIONS):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))
        grad = x.T @ (d - p) - LOGIT_RIDGE * beta
        hess = (x * (p * (1 - p))[:, None]).T @ x + LOGIT_RIDGE * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    return 1 / (1 + np.exp(-np.clip(x @ beta, -30, 30)))


def matched(w: Wide, t0: pd.Series, e: int) -> pd.DataFrame:
    """Each treated firm with its nearest firm of the same cohort's pool (not yet a client
    by ``t0 + e``) by propensity score, with replacement: columns ``firm``, ``control``,
    ``t0``."""
    pairs = []
    for year, group in t0.groupby(t0):
        controls = pool(w, int(year), int(year) + e)
        if len(controls) == 0:
            continue
        firms = group.index.append(controls)
        d = np.r_[np.ones(len(group)), np.zeros(len(controls))]
        score = propensity(covariates(w, firms, int(year)), d)
        s_t, s_c = score[: len(group)], score[len(group) :]
        nearest = np.abs(s_t[:, None] - s_c[None, :]).argmin(axis=1)
        pairs.append(
            pd.DataFrame(
                {"firm": list(group.index), "control": list(controls[nearest]), "t0": int(year)}
            )
        )
    if not pairs:
        return pd.DataFrame(columns=["firm", "control", "t0"])
    return pd.concat(pairs, ignore_index=True)


def growth_ratio_percent(
    pre_t: np.ndarray, post_t: np.ndarray, pre_c: np.ndarray, post_c: np.ndarray
) -> float:
    """Difference in differences of log group means, in percent: the treated's growth
    factor over the comparison's, minus one (parallel trends in growth rates, so selection
    on size does not bias it)."""
    keep = np.isfinite(pre_t + post_t + pre_c + post_c)
    if not keep.any():
        return float("nan")
    pre_t, post_t, pre_c, post_c = (a[keep] for a in (pre_t, post_t, pre_c, post_c))
    if min(pre_t.sum(), pre_c.sum(), post_c.sum()) <= 0:
        return float("nan")
    return float(PERCENT * ((post_t.sum() / pre_t.sum()) / (post_c.sum() / pre_c.sum()) - 1))


def did_percent(
    w: Wide, outcome: str, treat: pd.Index, control: pd.Index, t0: np.ndarray, e: int
) -> float:
    """Difference in differences at event year ``e`` against ``t0 - 1``
    (``growth_ratio_percent``), over pairs where both firms survive to ``t0 + e``."""
    y = w.outcome(outcome)
    alive = w.alive.astype(float)
    ok = (_at(alive, treat, t0 + e) > 0) & (_at(alive, control, t0 + e) > 0)
    return growth_ratio_percent(
        _at(y, treat, t0 - 1)[ok],
        _at(y, treat, t0 + e)[ok],
        _at(y, control, t0 - 1)[ok],
        _at(y, control, t0 + e)[ok],
    )


def survival_pp(w: Wide, treat: pd.Index, control: pd.Index, t0: np.ndarray, e: int) -> float:
    """Survival to ``t0 + e`` of the treated minus that of their controls, in points."""
    alive = w.alive.astype(float)
    horizon = t0 + e
    inside = horizon <= w.years.max()
    if not inside.any():
        return float("nan")
    s_t = _at(alive, treat[inside], horizon[inside])
    s_c = _at(alive, control[inside], horizon[inside])
    return float(PERCENT * (np.nanmean(s_t) - np.nanmean(s_c)))


def _within(t0: pd.Series, e: int, last_year: int) -> pd.Series:
    return t0[t0 + e <= last_year]


# Designs --------------------------------------------------------------------------------
def tno_naive(w: Wide, t0: pd.Series, e: int = 1) -> float:
    """TNO (2019): partners' value added against firms doing R&D alone (a pilot in the
    partners' first year, not yet clients by ``t0 + e``), both in ``t0 + e``, cohort by
    cohort; no counterfactual for selection."""
    t0 = _within(t0, e, int(w.years.max()))
    if t0.empty:
        return float("nan")
    active = w.va.mask(~w.alive, np.nan)  # firms still reporting that year
    treated, control = [], []
    for year, group in t0.groupby(t0):
        y = int(year)
        if y not in w.pilots.columns:
            continue
        rd = w.pilots[y].fillna(0).to_numpy() > 0
        not_yet = (w.t0.isna() | (w.t0 > y + e)).to_numpy()
        firms = w.va.index[rd & not_yet]
        treated.append(_at(active, group.index, np.full(len(group), y + e)))
        control.append(_at(active, firms, np.full(len(firms), y + e)))
    va_t = np.concatenate(treated) if treated else np.array([])
    va_c = np.concatenate(control) if control else np.array([])
    if not np.isfinite(va_t).any() or not np.isfinite(va_c).any():
        return float("nan")
    return float(PERCENT * (np.nanmean(va_t) / np.nanmean(va_c) - 1))


def to2_panel(w: Wide, t0: pd.Series, e: int) -> float:
    """SEO for the Dutch ministry (TO2): value added of partners against firms with R&D that
    were not yet partners by ``t0 + e``, difference in differences from the year before, at
    event year ``e`` (0: during the collaboration, 1: the year after). The comparison is
    every R&D firm of the cohort's pool (a panel with firm effects, no matching)."""
    t0 = _within(t0, e, int(w.years.max()))
    effects, weights = [], []
    for year, group in t0.groupby(t0):
        controls = pool(w, int(year), int(year) + e)
        rd = (
            w.pilots.loc[
                controls,
                [y for y in range(int(year) - PRE_RD_YEARS, int(year) + 1) if y in w.pilots],
            ]
            .fillna(0)
            .sum(axis=1)
            > 0
        )
        controls = controls[rd.to_numpy()]
        if len(controls) == 0:
            continue
        # Every treated firm against the cohort's whole comparison group: pair each control
        # with each treated firm through their means (same t0).
        n = len(group)
        est = _did_groups(w, "va", group.index, controls, int(year), e)
        if np.isfinite(est):
            effects.append(est)
            weights.append(n)
    if not effects:
        return float("nan")
    return float(np.average(effects, weights=weights))


def _did_groups(
    w: Wide, outcome: str, treat: pd.Index, control: pd.Index, year: int, e: int
) -> float:
    """Group-mean difference in differences for one cohort, survivors at ``year + e``."""
    y = w.outcome(outcome)
    alive = w.alive
    t_ok = treat[alive.loc[treat, year + e].to_numpy()]
    c_ok = control[alive.loc[control, year + e].to_numpy()]
    if len(t_ok) == 0 or len(c_ok) == 0:
        return float("nan")
    return _group_growth(y, t_ok, c_ok, year, e)


def _group_growth(y: pd.DataFrame, t_ok: pd.Index, c_ok: pd.Index, year: int, e: int) -> float:
    """``growth_ratio_percent`` of two groups of different sizes (group means)."""
    pre_t, post_t = y.loc[t_ok, year - 1].mean(), y.loc[t_ok, year + e].mean()
    pre_c, post_c = y.loc[c_ok, year - 1].mean(), y.loc[c_ok, year + e].mean()
    return growth_ratio_percent(*(np.array([v]) for v in (pre_t, post_t, pre_c, post_c)))


def _matched_pairs(w: Wide, t0: pd.Series, e: int) -> tuple[pd.Index, pd.Index, np.ndarray] | None:
    """Treated firms, their matches and their first years, for clients followed to
    ``t0 + e`` within the panel; None without any pair."""
    pairs = matched(w, _within(t0, e, int(w.years.max())), e)
    if pairs.empty:
        return None
    return pd.Index(pairs["firm"]), pd.Index(pairs["control"]), pairs["t0"].to_numpy()


def matched_did(w: Wide, t0: pd.Series, outcome: str, e: int) -> float:
    """Propensity-score matched difference in differences at ``t0 + e`` (Innovate UK,
    Fraunhofer, MEP designs); survival in points, other outcomes in percent."""
    found = _matched_pairs(w, t0, e)
    if found is None:
        return float("nan")
    treat, control, years = found
    if outcome == "alive":
        return survival_pp(w, treat, control, years, e)
    return did_percent(w, outcome, treat, control, years, e)


def mep_small_minus_large(w: Wide, t0: pd.Series, e: int) -> float:
    """NIST MEP: the matched productivity effect for clients of fewer than
    ``SMALL_FIRM_STAFF`` staff (the year before) minus that for larger clients, in points."""
    staff = pd.Series(_at(w.emp, t0.index, t0.to_numpy() - 1), index=t0.index)
    small = t0[staff < SMALL_FIRM_STAFF]
    large = t0[staff >= SMALL_FIRM_STAFF]
    if small.empty or large.empty:
        return float("nan")
    return matched_did(w, small, "prod", e) - matched_did(w, large, "prod", e)


def matched_jobs(w: Wide, t0: pd.Series, e: int) -> float:
    """Jobs a matched difference in differences attributes to the clients at ``t0 + e``:
    the treated's staff change minus their matches', summed over pairs that survive."""
    found = _matched_pairs(w, t0, e)
    if found is None:
        return float("nan")
    treat, control, years = found
    alive = w.alive.astype(float)
    ok = (_at(alive, treat, years + e) > 0) & (_at(alive, control, years + e) > 0)
    change_t = _at(w.emp, treat, years + e) - _at(w.emp, treat, years - 1)
    change_c = _at(w.emp, control, years + e) - _at(w.emp, control, years - 1)
    return float(np.nansum((change_t - change_c)[ok]))


def monitored_jobs(w: Wide, t0: pd.Series, e: int) -> float:
    """Gross jobs a monitoring system records: surviving clients' staff change from the
    year before to ``t0 + e`` (DG REGIO's "monitored" jobs)."""
    t0 = _within(t0, e, int(w.years.max()))
    alive = _at(w.alive.astype(float), t0.index, t0.to_numpy() + e) > 0
    change = _at(w.emp, t0.index, t0.to_numpy() + e) - _at(w.emp, t0.index, t0.to_numpy() - 1)
    return float(np.nansum(change[alive]))


# The truth --------------------------------------------------------------------------------
def true_effect(policy: Wide, twin: Wide, t0: pd.Series, outcome: str, e: int) -> float:
    """The clients' causal effect at ``t0 + e``: their outcome in the policy run against the
    same firms in the baseline run (exits count as zero); percent of the baseline level, or
    points of survival."""
    t0 = _within(t0, e, int(policy.years.max()))
    years = t0.to_numpy() + e
    if outcome == "alive":
        a = _at(policy.alive.astype(float), t0.index, years)
        b = _at(twin.alive.astype(float), t0.index, years)
        return float(PERCENT * (np.nanmean(a) - np.nanmean(b)))
    y_p = np.nan_to_num(_at(policy.outcome(outcome).fillna(0), t0.index, years))
    y_b = np.nan_to_num(_at(twin.outcome(outcome).fillna(0), t0.index, years))
    if outcome == "prod":  # productivity of the survivors in both runs
        both = (_at(policy.alive.astype(float), t0.index, years) > 0) & (
            _at(twin.alive.astype(float), t0.index, years) > 0
        )
        y_p, y_b = y_p[both], y_b[both]
    return (
        float(PERCENT * (y_p.mean() / y_b.mean() - 1))
        if y_b.size and y_b.mean() > 0
        else float("nan")
    )


def true_jobs(policy: Wide, twin: Wide, t0: pd.Series, e: int) -> float:
    """Clients' staff in ``t0 + e`` in the policy run minus in the baseline run (exits as
    zero): the jobs the platform created in its clients (DG REGIO's "counterfactual")."""
    t0 = _within(t0, e, int(policy.years.max()))
    years = t0.to_numpy() + e
    y_p = np.nan_to_num(_at(policy.emp.fillna(0), t0.index, years))
    y_b = np.nan_to_num(_at(twin.emp.fillna(0), t0.index, years))
    return float((y_p - y_b).sum())


def true_small_minus_large(policy: Wide, twin: Wide, t0: pd.Series, e: int) -> float:
    staff = pd.Series(_at(policy.emp, t0.index, t0.to_numpy() - 1), index=t0.index)
    small, large = t0[staff < SMALL_FIRM_STAFF], t0[staff >= SMALL_FIRM_STAFF]
    if small.empty or large.empty:
        return float("nan")
    return true_effect(policy, twin, small, "prod", e) - true_effect(policy, twin, large, "prod", e)
