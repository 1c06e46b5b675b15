"""The "more R&D funding" lever (``rd_funding``): start year, public spend, more projects.

Fast: scale 0.1, runs to 2030 at most, few seeds. Expected amounts are computed here from the
parameters (the research budget rows and their growth), not from the model's own helpers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.params import DATA_YEARS, Scenario
from sim.projects import RD_CENTRE, UNIVERSITY
from sim.scenario import ScenarioError, load_scenario
from sim.units import QUARTERS_PER_YEAR

from .conftest import SCENARIOS

SCALE = 0.1
UNTIL = 2030
SEEDS = range(200, 208)  # 8 paired replicates
T_MIN = 3.0
LAST_INPUT_YEAR = 2022  # the research budgets' last published year (sim.drivers)
MULTIPLIER = 1.5  # a large lever so that one seed's difference is far above rounding


def research_budget_hkd_m(spec: Scenario, year: int) -> float:
    """Baseline research budget of ``year`` (full economy, HKD m), from the parameter rows."""
    r = spec.research
    if year <= LAST_INPUT_YEAR:
        i = year - DATA_YEARS[0]
        return r.higher_education_rd_hkd_m[i] + r.government_rd_hkd_m[i]
    last = r.higher_education_rd_hkd_m[-1] + r.government_rd_hkd_m[-1]
    return last * (1 + r.budget_growth_after_2022) ** (year - LAST_INPUT_YEAR)


def rd_run(
    seed: int,
    start_year: int = 2025,
    multiplier: float = MULTIPLIER,
    until: int = UNTIL,
    **kw: object,
) -> sim.Result:
    return sim.run(
        "baseline",
        seed=seed,
        scale=SCALE,
        until=until,
        **{
            "rd_funding.enabled": True,
            "rd_funding.start_year": start_year,
            "rd_funding.budget_multiplier": multiplier,
        },
        **kw,
    )


def t_stat(d: np.ndarray) -> float:
    se = d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean() / se) if se > 0 else float(np.sign(d.mean()) * np.inf)


# --- common random numbers before the start year ------------------------------------------------
@pytest.mark.parametrize("start", [2020, 2025])
def test_identical_to_baseline_before_the_start_year(start: int) -> None:
    base = sim.run("baseline", seed=7, scale=SCALE, until=UNTIL).quarterly
    policy = rd_run(7, start_year=start).quarterly
    pd.testing.assert_frame_equal(base[base["year"] < start], policy[policy["year"] < start])
    in_start_year = base["year"] == start
    assert not base.loc[in_start_year].equals(policy.loc[policy["year"] == start]), (
        f"rd_funding changed nothing in its start year {start}"
    )


def test_scenario_file_identical_to_baseline_before_2025(baseline_run: sim.Result) -> None:
    spec = load_scenario(SCENARIOS / "more_rd_funding.yaml")
    assert spec.rd_funding.enabled and spec.rd_funding.start_year == 2025
    assert spec.rd_funding.budget_multiplier > 1.0
    policy = sim.run(SCENARIOS / "more_rd_funding.yaml", seed=11, scale=SCALE).quarterly
    b = baseline_run.quarterly
    pd.testing.assert_frame_equal(b[b["year"] < 2025], policy[policy["year"] < 2025])


def test_disabled_or_multiplier_one_is_the_baseline() -> None:
    base = sim.run("baseline", seed=3, scale=SCALE, until=UNTIL).quarterly
    off = sim.run(
        "more_rd_funding", seed=3, scale=SCALE, until=UNTIL, **{"rd_funding.enabled": False}
    ).quarterly
    one = rd_run(3, multiplier=1.0).quarterly
    pd.testing.assert_frame_equal(base, off)
    pd.testing.assert_frame_equal(base, one)


def test_every_lab_type_gets_the_multiplied_budget() -> None:
    """Budgets of the last quarter (2026Q4) sum to multiplier x each institution's row."""
    year = 2026
    for multiplier in (1.0, MULTIPLIER):
        m = rd_run(1, multiplier=multiplier, keep_model=True, until=year).model
        r = m.spec.research
        growth = (1 + r.budget_growth_after_2022) ** (year - LAST_INPUT_YEAR)
        cols = m.labs.cols
        for inst, row in (
            (UNIVERSITY, r.higher_education_rd_hkd_m),
            (RD_CENTRE, r.government_rd_hkd_m),
        ):
            got = cols["budget_hkd_m_per_q"][cols["institution"] == inst].sum()
            want = multiplier * row[-1] * growth * SCALE / QUARTERS_PER_YEAR  # sample HKD m
            assert got == pytest.approx(want, rel=1e-9), (inst, multiplier)


# --- public spend ---------------------------------------------------------------------------------
@pytest.mark.parametrize("start", [2018, 2025])
def test_extra_public_spend_is_the_extra_research_budget_from_the_start_year(start: int) -> None:
    base = sim.run("baseline", seed=5, scale=SCALE, until=UNTIL)
    policy = rd_run(5, start_year=start)
    b, p = base.annual, policy.annual
    assert list(b["year"]) == list(p["year"])
    extra = (p["public_spend_hkd_m"] - b["public_spend_hkd_m"]).to_numpy()
    expected = np.array(
        [
            (MULTIPLIER - 1.0) * research_budget_hkd_m(policy.scenario, y) if y >= start else 0.0
            for y in p["year"]
        ]
    )
    assert (b["public_spend_hkd_m"] == 0).all()  # the baseline has no other public spend
    np.testing.assert_allclose(extra, expected, rtol=1e-9, atol=1e-9)
    assert extra[p["year"].to_numpy() == start][0] > 0


def test_scenario_file_spends_about_what_the_platform_spends() -> None:
    """Like-for-like: extra public spend 2025-2035 (the compare period) within 10% (2 seeds)."""

    def extra(name: str, seed: int) -> float:
        a = sim.run(name, seed=seed, scale=SCALE).annual
        b = sim.run("baseline", seed=seed, scale=SCALE).annual
        assert a["year"].max() == 2035
        years = a["year"].between(2025, 2035)
        return float((a["public_spend_hkd_m"] - b["public_spend_hkd_m"])[years].sum())

    for seed in (0, 1):
        rd, platform = extra("more_rd_funding", seed), extra("hk_pilot_platform", seed)
        assert platform > 0 and abs(rd / platform - 1) < 0.10, (rd, platform)


# --- more money, more research projects -----------------------------------------------------------
def test_more_research_money_starts_more_projects() -> None:
    """Paired seeds: more projects started, by about rate x extra budget (within 4 SE)."""
    lab_diff, column_diff = [], []
    for seed in SEEDS:
        base = sim.run("baseline", seed=seed, scale=SCALE, until=UNTIL, keep_model=True)
        policy = rd_run(seed, keep_model=True)
        lab_diff.append(
            int(policy.model.labs.cols["projects_started"].sum())
            - int(base.model.labs.cols["projects_started"].sum())
        )
        after = base.annual["year"] >= 2025
        column_diff.append(
            policy.annual.loc[after, "projects_started"].sum()
            - base.annual.loc[after, "projects_started"].sum()
        )
    lab_d, col_d = np.array(lab_diff, dtype=float), np.array(column_diff, dtype=float)
    assert t_stat(col_d) > T_MIN, (
        f"projects_started: mean {col_d.mean():.1f}, t {t_stat(col_d):.2f}"
    )
    spec = base.scenario
    extra_budget = sum(
        (MULTIPLIER - 1.0) * research_budget_hkd_m(spec, y) * SCALE for y in range(2025, UNTIL + 1)
    )
    expected = spec.research.projects_per_hkd_m * extra_budget  # Poisson mean, sample units
    se = lab_d.std(ddof=1) / np.sqrt(len(lab_d))
    assert abs(lab_d.mean() - expected) < 4 * se, (
        f"extra lab projects {lab_d.mean():.1f} +- {se:.1f}, expected {expected:.1f}"
    )


# --- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "bound"),
    [
        ("rd_funding.start_year", 2010, "2015"),
        ("rd_funding.start_year", 2100, "2060"),
        ("rd_funding.budget_multiplier", -0.5, "1"),
        ("rd_funding.budget_multiplier", 0.8, "1"),  # a cut: negative public spend (issue 25)
        ("rd_funding.budget_multiplier", 9.0, "5"),
    ],
)
def test_out_of_range_values_name_the_key(key: str, value: float, bound: str) -> None:
    with pytest.raises(ScenarioError) as e:
        load_scenario(SCENARIOS / "more_rd_funding.yaml", {key: value})
    assert e.value.key == key
    msg = str(e.value)
    assert f"key '{key}'" in msg and bound in msg and repr(value) in msg


def test_the_old_research_key_points_to_the_lever(tmp_path) -> None:
    p = tmp_path / "old.yaml"
    p.write_text(
        "extends: " + str(SCENARIOS / "baseline.yaml") + "\nresearch:\n  budget_multiplier: 1.2\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "old.yaml" in msg and "research.budget_multiplier" in msg
    assert "rd_funding.budget_multiplier" in msg and "rd_funding.start_year" in msg
