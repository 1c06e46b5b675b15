"""Net benefit accounting of `pilotsim compare` on synthetic annual panels (issue 9, point 11).

The panels are built here, so every number is checked against a hand computation without
running the model: present values, the benefit-cost ratio and its delta-method interval,
deadweight and displacement.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.experiments.compare import (
    OUTCOME_BY_NAME,
    OUTCOMES,
    discount_factors,
    format_markdown,
    format_table,
    missing_columns,
    period_values,
    ratio_interval,
    summarise,
)
from sim.experiments.report import evaluations_section, net_benefit_method, net_benefit_section

YEARS = list(range(2023, 2031))
PERIOD = (2025, 2030)
R = 0.035
N = 5


def synthetic_panel(n: int = N, seed: int = 0, with_platform: bool = True) -> pd.DataFrame:
    """Baseline and policy, ``n`` replicates, 2023-2030; the policy acts from 2025."""
    noise_of = np.random.default_rng(seed).normal(0, 5, size=(n, len(YEARS)))  # paired
    rows = []
    for i in range(n):
        for label in ("baseline", "policy"):
            for y in YEARS:
                on = label == "policy" and y >= 2025
                k = y - 2022
                noise = noise_of[i, y - YEARS[0]]
                clients = (10.0 + i + k) if on and with_platform else 0.0
                rows.append(
                    {
                        "label": label,
                        "replicate": i,
                        "seed": 100 + i,
                        "year": y,
                        "hk_value_added_hkd_m": 100.0 * k + i + (40.0 + 3 * i) * on + noise,
                        "prd_value_added_hkd_m": 200.0 * k - 10.0 * on,
                        "elsewhere_value_added_hkd_m": 50.0,
                        "total_value_added_hkd_m": 100.0 * k + i + 200.0 * k + 50.0
                        + (30.0 + 3 * i) * on + noise,
                        "local_retention_share": 0.3,
                        "hk_jobs": 1000.0 + 10 * on,
                        "startups": 50.0,
                        "manufacturing_establishments": 7000.0,
                        "projects_north": 20.0 - 2 * on,
                        "projects_piloted_hk": 30.0 + 0.5 * clients,
                        "public_spend_hkd_m": 5.0 + (20.0 + i) * on,
                        "private_spend_hkd_m": 60.0 + (8.0 + 0.5 * i) * on,
                        "hk_private_spend_hkd_m": 30.0 + (5.0 + 0.2 * i) * on,
                        "hk_site_private_spend_hkd_m": 12.0 + (2.0 + 0.1 * i) * on,
                        "hk_outside_private_spend_hkd_m": 18.0 + (3.0 + 0.1 * i) * on,
                        "hk_income_from_outside_hkd_m": 4.0 + (1.0 + 0.05 * i) * on,
                        "gba_public_spend_hkd_m": 2.0 + (1.0 + 0.1 * i) * on,
                        "platform_clients": clients,
                        "platform_deadweight_clients": 0.25 * clients + (i % 2),
                        "projects_piloted_hk_private": 30.0 - (0.2 + 0.1 * i) * clients,
                    }
                )  # fmt: skip
    return pd.DataFrame(rows)


def _pv(panel: pd.DataFrame, label: str, i: int, expr) -> float:  # noqa: ANN001
    sub = panel[(panel["label"] == label) & (panel["replicate"] == i)]
    sub = sub[(sub["year"] >= PERIOD[0]) & (sub["year"] <= PERIOD[1])]
    return float(sum(expr(r) / (1 + R) ** (r["year"] - PERIOD[0]) for _, r in sub.iterrows()))


def _period_row(s: pd.DataFrame, outcome: str) -> pd.Series:
    r = s[(s["outcome"] == outcome) & (s["period"] == f"{PERIOD[0]}-{PERIOD[1]}")]
    assert len(r) == 1, outcome
    return r.iloc[0]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return synthetic_panel()


@pytest.fixture(scope="module")
def summary(panel: pd.DataFrame) -> pd.DataFrame:
    return summarise(panel, "baseline", ["policy"], (2025, 2030), PERIOD, discount_rate=R)


def test_discount_factors_are_one_in_the_first_year() -> None:
    f = discount_factors(np.array([2025, 2026, 2035]), 2025, 0.035)
    assert f == pytest.approx([1.0, 1 / 1.035, 1.035**-10])


def test_npv_of_hk_value_added_is_the_hand_computation(
    panel: pd.DataFrame, summary: pd.DataFrame
) -> None:
    def va(r: pd.Series) -> float:
        return r["hk_value_added_hkd_m"]

    d = [_pv(panel, "policy", i, va) - _pv(panel, "baseline", i, va) for i in range(N)]
    row = _period_row(summary, "npv_hk_value_added_hkd_m")
    assert row["diff_mean"] == pytest.approx(np.mean(d), rel=1e-12)
    half = stats.t.ppf(0.95, N - 1) * np.std(d, ddof=1) / math.sqrt(N)
    assert row["diff_high"] - row["diff_mean"] == pytest.approx(half, rel=1e-9)
    assert row["base_mean"] == pytest.approx(
        np.mean([_pv(panel, "baseline", i, va) for i in range(N)])
    )
    # the noise-free part by hand: extra (40 + 3i) a year, 2025-2030, discounted to 2025
    annuity = sum(1.035**-t for t in range(6))
    clean = np.mean([(40.0 + 3 * i) * annuity for i in range(N)])
    assert row["diff_mean"] == pytest.approx(clean, rel=1e-12)  # noise is paired


def test_npv_of_net_benefit_hk_and_all_places(panel: pd.DataFrame, summary: pd.DataFrame) -> None:
    annuity = sum(1.035**-t for t in range(6))
    # territorial: extra value (40 + 3i) - extra public (20 + i) - extra spend at HK sites
    # (2 + 0.1i); resident: that + extra income from outside (1 + 0.05i) - extra HK spend
    # outside (3 + 0.1i); the headline is the resident frame
    ter = np.mean([(40 + 3 * i - 20 - i - 2 - 0.1 * i) * annuity for i in range(N)])
    res = np.mean(
        [(40 + 3 * i - 20 - i - 2 - 0.1 * i + 1 + 0.05 * i - 3 - 0.1 * i) * annuity
         for i in range(N)]
    )  # fmt: skip
    assert _period_row(summary, "npv_net_benefit_territorial_hkd_m")["diff_mean"] == (
        pytest.approx(ter)
    )
    assert _period_row(summary, "npv_net_benefit_resident_hkd_m")["diff_mean"] == (
        pytest.approx(res)
    )
    assert _period_row(summary, "npv_net_benefit_hkd_m")["diff_mean"] == pytest.approx(res)
    # all places: extra (30 + 3i) - (20 + i) - all private (8 + 0.5i) - Guangdong (1 + 0.1i)
    al = np.mean([(30 + 3 * i - 20 - i - 8 - 0.5 * i - 1 - 0.1 * i) * annuity for i in range(N)])
    assert _period_row(summary, "npv_net_benefit_all_hkd_m")["diff_mean"] == pytest.approx(al)
    tot = _period_row(summary, "npv_total_value_added_hkd_m")["diff_mean"]
    assert tot == pytest.approx(np.mean([(30 + 3 * i) * annuity for i in range(N)]))


def test_benefit_cost_ratio_and_its_delta_method_interval(
    panel: pd.DataFrame, summary: pd.DataFrame
) -> None:
    def benefit(r: pd.Series) -> float:  # the resident frame, before public spend
        return (
            r["hk_value_added_hkd_m"]
            - r["hk_site_private_spend_hkd_m"]
            - r["hk_outside_private_spend_hkd_m"]
            + r["hk_income_from_outside_hkd_m"]
        )

    def public(r: pd.Series) -> float:
        return r["public_spend_hkd_m"]

    num = np.array([_pv(panel, "policy", i, benefit) - _pv(panel, "baseline", i, benefit)
                    for i in range(N)])  # fmt: skip
    den = np.array([_pv(panel, "policy", i, public) - _pv(panel, "baseline", i, public)
                    for i in range(N)])  # fmt: skip
    r = num.mean() / den.mean()
    z = (num - r * den) / den.mean()
    half = stats.t.ppf(0.95, N - 1) * z.std(ddof=1) / math.sqrt(N)
    row = _period_row(summary, "benefit_cost_ratio")
    assert row["diff_mean"] == pytest.approx(r, rel=1e-12)
    assert (row["diff_low"], row["diff_high"]) == pytest.approx((r - half, r + half), rel=1e-9)
    assert (row["diff_low"], row["diff_high"]) == pytest.approx(ratio_interval(num, den)[1:])
    assert row["n_pairs"] == N and math.isnan(row["base_mean"])
    # the Green Book identity: BCR - 1 = NPV of net benefit / PV of extra public cost
    npv = _period_row(summary, "npv_net_benefit_hkd_m")["diff_mean"]
    assert row["diff_mean"] - 1 == pytest.approx(npv / den.mean(), rel=1e-9)
    assert (row["diff_mean"] > 1) == (npv > 0)
    # all places likewise, with all private spend
    row_all = _period_row(summary, "benefit_cost_ratio_all")
    npv_all = _period_row(summary, "npv_net_benefit_all_hkd_m")["diff_mean"]
    assert row_all["diff_mean"] - 1 == pytest.approx(npv_all / den.mean(), rel=1e-9)


def test_discount_rate_is_applied(panel: pd.DataFrame) -> None:
    zero = summarise(panel, "baseline", ["policy"], (), PERIOD, discount_rate=0.0)
    flat = _period_row(zero, "npv_hk_value_added_hkd_m")["diff_mean"]
    summed = _period_row(zero, "hk_value_added_hkd_m")["diff_mean"]
    assert flat == pytest.approx(summed)  # at 0% the NPV is the period sum
    high = summarise(panel, "baseline", ["policy"], (), PERIOD, discount_rate=0.1)
    assert _period_row(high, "npv_hk_value_added_hkd_m")["diff_mean"] < flat


def test_deadweight_share_is_pooled_over_the_policy_runs(summary: pd.DataFrame) -> None:
    # per replicate: clients c_t = 10 + i + (t - 2022) for 2025-2030; deadweight 0.25 c + i%2
    c = np.array([sum(10 + i + (y - 2022) for y in range(2025, 2031)) for i in range(N)], float)
    dw = np.array([0.25 * c[i] + 6 * (i % 2) for i in range(N)])
    row = _period_row(summary, "platform_deadweight_share")
    assert row["policy_mean"] == pytest.approx(dw.sum() / c.sum())
    assert row["diff_mean"] == pytest.approx(dw.mean() / c.mean())
    assert (row["diff_low"], row["diff_high"]) == pytest.approx(ratio_interval(dw, c)[1:])
    assert math.isnan(row["base_mean"])  # the baseline has no clients
    assert row["unit"] == "share of platform clients"
    assert 0.25 < row["diff_mean"] < 0.3
    clients = _period_row(summary, "platform_clients")
    assert clients["diff_mean"] == pytest.approx(c.mean())


def test_displacement_is_the_paired_fall_in_private_hk_pilots(summary: pd.DataFrame) -> None:
    c = np.array([sum(10 + i + (y - 2022) for y in range(2025, 2031)) for i in range(N)], float)
    fall = np.array([(0.2 + 0.1 * i) * c[i] for i in range(N)])
    row = _period_row(summary, "projects_piloted_hk_private")
    assert row["diff_mean"] == pytest.approx(-fall.mean())
    text = "\n".join(net_benefit_section(summary, "policy", PERIOD))
    assert "would have piloted in Hong Kong anyway (deadweight)" in text
    assert f"{fall.mean():,.0f} crowded out" in text
    assert f"{fall.mean() / c.mean():.1%} of the platform's clients" in text


def test_present_values_have_period_rows_only(summary: pd.DataFrame) -> None:
    for name in (
        "npv_hk_value_added_hkd_m",
        "npv_net_benefit_hkd_m",
        "npv_net_benefit_all_hkd_m",
        "benefit_cost_ratio",
        "benefit_cost_ratio_all",
        "platform_deadweight_share",
    ):
        assert set(summary[summary["outcome"] == name]["period"]) == {"2025-2030"}, name
    assert set(summary[summary["outcome"] == "platform_clients"]["period"]) == {
        "2025",
        "2030",
        "2025-2030",
    }
    # printed and Markdown tables show every outcome
    text, md = format_table(summary, "policy"), format_markdown(summary, "policy")
    for o in OUTCOMES:
        assert o.label in text and o.label in md


def test_issue_names_are_outcomes() -> None:
    for name in ("npv_hk_value_added_hkd_m", "npv_net_benefit_hkd_m", "benefit_cost_ratio"):
        assert OUTCOME_BY_NAME[name].period_only
    terms = dict(OUTCOME_BY_NAME["npv_net_benefit_hkd_m"].terms)
    resident = {
        "hk_value_added_hkd_m": 1.0,
        "public_spend_hkd_m": -1.0,
        "hk_site_private_spend_hkd_m": -1.0,
        "hk_income_from_outside_hkd_m": 1.0,
        "hk_outside_private_spend_hkd_m": -1.0,
    }
    assert terms == resident  # the headline is the resident frame
    assert dict(OUTCOME_BY_NAME["npv_net_benefit_resident_hkd_m"].terms) == resident
    assert dict(OUTCOME_BY_NAME["npv_net_benefit_territorial_hkd_m"].terms) == {
        "hk_value_added_hkd_m": 1.0,
        "public_spend_hkd_m": -1.0,
        "hk_site_private_spend_hkd_m": -1.0,
    }


def test_missing_model_columns_give_nan_not_an_error() -> None:
    old = synthetic_panel().drop(
        columns=["private_spend_hkd_m", "hk_site_private_spend_hkd_m", "platform_clients",
                 "platform_deadweight_clients", "projects_piloted_hk_private"]
    )  # fmt: skip
    assert "private_spend_hkd_m" in missing_columns(old)
    s = summarise(old, "baseline", ["policy"], (2025,), PERIOD, discount_rate=R)
    assert math.isnan(_period_row(s, "npv_net_benefit_hkd_m")["diff_mean"])
    assert math.isnan(_period_row(s, "platform_deadweight_share")["diff_mean"])
    assert _period_row(s, "npv_hk_value_added_hkd_m")["diff_mean"] > 0
    assert _period_row(s, "hk_value_added_hkd_m")["n_pairs"] == N


def test_no_platform_no_deadweight_and_undefined_ratio() -> None:
    p = synthetic_panel(with_platform=False)
    p.loc[p["label"] == "policy", "public_spend_hkd_m"] = 5.0  # no extra public cost
    s = summarise(p, "baseline", ["policy"], (), PERIOD)
    assert math.isnan(_period_row(s, "platform_deadweight_share")["diff_mean"])
    assert math.isnan(_period_row(s, "benefit_cost_ratio")["diff_mean"])
    text = "\n".join(net_benefit_section(s, "policy", PERIOD))
    assert "no clients in this period" in text


def test_period_values_hold_the_helpers(panel: pd.DataFrame) -> None:
    v = period_values(panel, PERIOD, R)
    for c in ("pv_public_spend_hkd_m", "pv_hk_benefit_hkd_m", "pv_all_benefit_hkd_m"):
        assert v[c].notna().all()


def test_method_and_evaluations_sections(summary: pd.DataFrame) -> None:
    method = "\n".join(net_benefit_method({"discount_rate": 0.035}, PERIOD))
    assert "3.5% a year" in method and "Green Book" in method
    assert "gross of the alternative use" in method and "Horizon truncation" in method
    ev = "\n".join(evaluations_section(summary, ["policy"], PERIOD))
    assert "| institution | figure | definition | source |" in ev
    for name in ("Fraunhofer (Germany)", "TNO (Netherlands)", "NIST MEP (USA)"):
        assert name in ev
    assert "Grant, Figus and Schubert (2022)" in ev and "fiscal ratio" in ev
    assert "benefit-cost ratio HK" in ev
