"""Statistical tests of mechanisms over many paired seeds, with tolerances from standard errors.

Each test compares two settings run with the same seeds (common random numbers) and asks
that the mean paired difference has the expected sign by more than ``T_MIN`` standard errors.
These test that a mechanism works, not how large the policy's effect is: the platform's
effect on the retention share is an output to measure and is never asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.model import PilotModel
from sim.projects import Route, Stage

from .conftest import SCENARIOS

pytestmark = pytest.mark.slow

SEEDS = range(100, 116)  # 16 paired replicates
T_MIN = 3.0
SMALL = {"scale": 0.2, "until": 2030}


def paired(
    a_kw: dict, b_kw: dict, column: str, years: tuple[int, int], scenario: str = "hk_pilot_platform"
) -> np.ndarray:
    """Per-seed difference (b - a) of ``column`` summed over ``years`` (inclusive)."""
    diffs = []
    for seed in SEEDS:
        out = []
        for kw in (a_kw, b_kw):
            r = sim.run(SCENARIOS / f"{scenario}.yaml", seed=seed, **SMALL, **kw)
            a = r.annual
            out.append(a.loc[a["year"].between(*years), column].sum())
        diffs.append(out[1] - out[0])
    return np.array(diffs)


def t_stat(d: np.ndarray) -> float:
    se = d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean() / se) if se > 0 else float(np.sign(d.mean()) * np.inf)


def test_more_platform_capacity_more_pilots_in_hong_kong() -> None:
    d = paired(
        {"platform.public_budget_hkd_m": 100.0},
        {"platform.public_budget_hkd_m": 400.0},
        "projects_piloted_hk",
        (2025, 2030),
    )
    assert t_stat(d) > T_MIN, f"mean {d.mean():.1f}, t {t_stat(d):.2f}"


def test_dearer_prd_means_fewer_projects_moving_north() -> None:
    d = paired(
        {}, {"pipeline.prd_cost_factor": 1.0}, "projects_north", (2016, 2024), scenario="baseline"
    )
    assert t_stat(-d) > T_MIN, f"mean {d.mean():.1f}, t {t_stat(-d):.2f}"


def test_upgrade_programme_raises_adoption_by_local_plants() -> None:
    d = paired(
        {},
        {"traditional_upgrade.enabled": True},
        "manufacturers_using_hk_technology",
        (2030, 2030),
        scenario="baseline",
    )
    assert t_stat(d) > T_MIN


def test_matching_service_brings_products_to_hk_owned_prd_factories() -> None:
    d = []
    for seed in SEEDS[:8]:
        lines = []
        for matching in (False, True):
            spec = sim.load_scenario(
                SCENARIOS / "hk_pilot_platform.yaml",
                {"run.scale": 0.2, "run.end_year": 2030, "platform.matching": matching},
            )
            m = PilotModel(spec, seed=seed)
            m.run()
            lines.append(int(m.prd.cols["child_lines"].sum()))
        d.append(lines[1] - lines[0])
    assert t_stat(np.array(d, dtype=float)) > T_MIN, d


def test_startup_survival_near_bls() -> None:
    """Two-year survival of startups born 2016-2018 against US BLS 0.66 (priors row)."""
    survived, born = 0, 0
    for seed in SEEDS[:4]:
        m = PilotModel(
            sim.load_scenario("baseline", {"run.scale": 0.3, "run.end_year": 2021}), seed=seed
        )
        m.run()
        c = m.startups.cols
        cohort = (c["born_q"] >= 4) & (c["born_q"] < 16) & ~c["relocated"]
        alive_2y = (c["closed_q"] < 0) | (c["closed_q"] - c["born_q"] >= 8)
        survived += int((cohort & alive_2y).sum())
        born += int(cohort.sum())
    share = survived / born
    se = np.sqrt(share * (1 - share) / born)
    assert abs(share - 0.66) < 0.12 + T_MIN * se, f"2-year survival {share:.3f}"


def test_route_shares_near_autm_ratios() -> None:
    """Licences and spin-offs per research project near AUTM ratios (priors rows)."""
    lic, spin, n = 0, 0, 0
    for seed in SEEDS[:4]:
        m = PilotModel(
            sim.load_scenario("baseline", {"run.scale": 0.5, "run.end_year": 2024}), seed=seed
        )
        m.run()
        b = m.projects
        cohort = (b["origin_lab"] >= 0) & (b["started_q"] < 24)  # decided by the end (2024)
        assert (b["stage"][cohort] != Stage.RESEARCH).mean() > 0.95
        n += int(cohort.sum())
        lic += int((cohort & (b["route"] == Route.LICENSE)).sum())
        spin += int((cohort & (b["route"] == Route.SPIN_OFF)).sum())
    assert 0.15 < lic / n < 0.45, f"licences per project {lic / n:.3f} (AUTM 0.3)"
    assert 0.015 < spin / n < 0.08, f"spin-offs per project {spin / n:.3f} (AUTM 0.04)"
