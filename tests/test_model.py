"""Determinism, common random numbers, limiting cases and invariants of the model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import sim
from sim.accounting import FUNCTIONS
from sim.agents import LocalManufacturer, PRDFactory, ResearchLab, Startup
from sim.metrics import METRICS, describe
from sim.model import PilotModel
from sim.params import LEVER_GROUPS
from sim.projects import Stage, Status

from .conftest import SCENARIOS

REQUIRED_COLUMNS = (
    "year hk_value_added_hkd_m prd_value_added_hkd_m elsewhere_value_added_hkd_m "
    "local_retention_share hk_jobs startups manufacturing_establishments "
    "manufacturing_employment manufacturing_value_added_hkd_m it_value_added_hkd_m "
    "it_employment projects_started projects_shelved projects_licensed projects_spun_off "
    "projects_north projects_piloted_hk projects_in_production platform_utilisation "
    "public_spend_hkd_m"
).split()
ALL_SCENARIOS = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


def _digest(df: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(df, index=False).sum())


# --- outputs -------------------------------------------------------------------------------
def test_annual_frame_has_documented_columns(baseline_run: sim.Result) -> None:
    a = baseline_run.annual
    assert list(a["year"]) == list(range(2015, 2036))
    missing = [c for c in REQUIRED_COLUMNS if c not in a.columns]
    assert not missing
    documented = set(describe()["column"])
    assert set(a.columns) <= documented
    assert len(baseline_run.quarterly) == 84
    assert set(baseline_run.quarterly["quarter"]) == {1, 2, 3, 4}


def test_until_and_scale_arguments(baseline_run: sim.Result) -> None:
    r = sim.run("baseline", seed=1, scale=0.05, until=2018)
    assert r.annual["year"].max() == 2018 and r.scenario.run.scale == 0.05


# --- determinism ----------------------------------------------------------------------------
def test_same_seed_same_output(baseline_run: sim.Result) -> None:
    again = sim.run(SCENARIOS / "baseline.yaml", seed=11, scale=0.1)
    pd.testing.assert_frame_equal(baseline_run.quarterly, again.quarterly)
    pd.testing.assert_frame_equal(baseline_run.annual, again.annual)


def test_same_seed_same_output_in_fresh_process() -> None:
    code = (
        "import pandas as pd, sim; r = sim.run('baseline', seed=5, scale=0.05, until=2022);"
        "print(int(pd.util.hash_pandas_object(r.quarterly, index=False).sum()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=SCENARIOS.parent,
    )
    here = sim.run("baseline", seed=5, scale=0.05, until=2022)
    assert int(out.stdout.strip()) == _digest(here.quarterly)


def test_different_seed_differs(baseline_run: sim.Result) -> None:
    other = sim.run(SCENARIOS / "baseline.yaml", seed=12, scale=0.1)
    assert _digest(other.quarterly) != _digest(baseline_run.quarterly)


# --- common random numbers and limiting cases -------------------------------------------------
#: Scenario files that change the world, not a policy: each is the baseline of the policies
#: written for it.
WORLDS = {"crowded_world": ("platform_crowds_out",)}
BASE_OF = {p: w for w, ps in WORLDS.items() for p in ps}
#: Levers whose users are rare: few owners industrialise in Hong Kong (model 5: 2 of about
#: 300 projects started from 2025, seed 0, scale 1), so at scale 0.1 the RFS-style grant
#: may find no line to pay; a larger sample gives it some.
RARE_USE_SCALE = {"rfs_matching_grant": 0.3}


@pytest.mark.parametrize("name", [s for s in ALL_SCENARIOS if s != "baseline" and s not in WORLDS])
def test_policy_identical_to_baseline_before_it_starts(name: str, baseline_run: sim.Result) -> None:
    scale = RARE_USE_SCALE.get(name, 0.1)
    policy = sim.run(SCENARIOS / f"{name}.yaml", seed=11, scale=scale)
    if name in BASE_OF or scale != 0.1:
        base = BASE_OF.get(name, "baseline")
        baseline_run = sim.run(SCENARIOS / f"{base}.yaml", seed=11, scale=scale)
    start = 2025
    assert all(
        getattr(policy.scenario, g).start_year == start
        for g in LEVER_GROUPS
        if getattr(policy.scenario, g).enabled
    )
    before_b = baseline_run.quarterly[baseline_run.quarterly["year"] < start]
    before_p = policy.quarterly[policy.quarterly["year"] < start]
    pd.testing.assert_frame_equal(before_b, before_p)
    after_b = baseline_run.quarterly[baseline_run.quarterly["year"] >= start]
    after_p = policy.quarterly[policy.quarterly["year"] >= start]
    assert _digest(after_b) != _digest(after_p), f"{name} changed nothing after it started"


def test_platform_with_zero_capacity_equals_baseline(baseline_run: sim.Result) -> None:
    zero = sim.run(
        SCENARIOS / "hk_pilot_platform.yaml",
        seed=11,
        scale=0.1,
        **{"platform.public_budget_hkd_m": 0.0},
    )
    pd.testing.assert_frame_equal(baseline_run.quarterly, zero.quarterly)
    tiny = sim.run(
        SCENARIOS / "hk_pilot_platform.yaml",
        seed=11,
        scale=0.1,
        **{"platform.slot_cost_hkd_m": 1e6},
    )
    pd.testing.assert_frame_equal(baseline_run.quarterly, tiny.quarterly)


def test_platform_is_used_and_never_over_capacity() -> None:
    spec = sim.load_scenario(
        SCENARIOS / "hk_pilot_platform.yaml",
        {"run.scale": 0.1, "run.end_year": 2030, "platform.public_budget_hkd_m": 60.0},
    )
    m = PilotModel(spec, seed=3)
    used, queued = [], []
    while m.running:
        m.step()
        assert m.platform.in_service() <= m.platform.capacity
        used.append(m.platform.in_service())
        queued.append(m.platform.queue_length())
    assert m.platform.capacity > 0 and max(used) == m.platform.capacity  # binding capacity
    assert max(queued) > 0  # a queue forms
    q = m.recorder.quarterly()
    assert (q["platform_utilisation"] <= 1.0).all()
    assert (q.loc[q["year"] >= 2025, "public_spend_hkd_m"] > 0).all()
    assert (q.loc[q["year"] < 2025, "public_spend_hkd_m"] == 0).all()


# --- agents and scale ---------------------------------------------------------------------------
def test_four_agent_types_through_mesa(baseline_run: sim.Result) -> None:
    m = baseline_run.model
    by_type = m.agents_by_type
    for cls, pop in (
        (ResearchLab, m.labs),
        (Startup, m.startups),
        (LocalManufacturer, m.manufacturers),
        (PRDFactory, m.prd),
    ):
        agents = by_type[cls]
        assert len(agents) == pop.n_alive > 0
        a = next(iter(agents))
        assert a.alive and a.population is pop
    s = next(iter(by_type[Startup]))
    assert s.cash_hkd_m == m.startups.cols["cash_hkd_m"][s.row]
    assert sum(len(v) for v in by_type.values()) == len(m.agents)


def test_scale_shrinks_populations_but_not_outputs() -> None:
    small = PilotModel(sim.load_scenario("baseline", {"run.scale": 0.1}), seed=2)
    full = PilotModel(sim.load_scenario("baseline"), seed=2)
    for pop in ("labs", "startups", "manufacturers", "prd"):
        ratio = getattr(small, pop).n_alive / getattr(full, pop).n_alive
        assert ratio == pytest.approx(0.1, rel=0.02), pop
    assert full.manufacturers.n_alive == full.spec.manufacturing.initial_count
    assert full.startups.n_alive == full.spec.startups.initial_count
    assert full.prd.n_alive == 22000
    small.step()
    full.step()
    qs, qf = small.recorder.quarterly().iloc[0], full.recorder.quarterly().iloc[0]
    for col in (
        "manufacturing_establishments",
        "manufacturing_employment",
        "manufacturing_value_added_hkd_m",
        "it_value_added_hkd_m",
    ):
        assert qs[col] == pytest.approx(qf[col], rel=0.05), col


# --- invariants ---------------------------------------------------------------------------------
def test_projects_conserved_every_quarter() -> None:
    spec = sim.load_scenario(
        SCENARIOS / "hk_pilot_platform.yaml", {"run.scale": 0.1, "platform.start_year": 2017}
    )
    m = PilotModel(spec, seed=4)
    # The warm start leaves projects of the burn-in; the record starts at 2015Q1.
    n0 = len(m.projects)
    shelved0 = int((m.projects["status"] == Status.SHELVED).sum())
    failed0 = int((m.projects["status"] == Status.FAILED).sum())
    assert n0 > 0 and shelved0 > 0
    while m.running:
        m.step()
        b = m.projects
        counts = b.stage_counts()
        assert sum(counts.values()) == len(b)
        stage, status = b["stage"], b["status"]
        assert np.all(
            (stage == Stage.DONE) == np.isin(status, [Status.SHELVED, Status.FAILED, Status.ENDED])
        )
        assert np.all((status != Status.QUEUED) | (stage == Stage.PILOT))
    q = m.recorder.quarterly()
    b = m.projects
    assert q["projects_started"].sum() * m.scale == pytest.approx(len(b) - n0)
    shelved = int((b["status"] == Status.SHELVED).sum()) - shelved0
    assert q["projects_shelved"].sum() * m.scale == pytest.approx(shelved)
    failed = int((b["status"] == Status.FAILED).sum()) - failed0
    assert q["projects_failed"].sum() * m.scale == pytest.approx(failed)


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_value_identities_and_no_negative_stocks(name: str) -> None:
    r = sim.run(SCENARIOS / f"{name}.yaml", seed=8, scale=0.1)
    for df in (r.quarterly, r.annual):
        parts = df[
            ["hk_value_added_hkd_m", "prd_value_added_hkd_m", "elsewhere_value_added_hkd_m"]
        ].sum(axis=1)
        np.testing.assert_allclose(parts, df["total_value_added_hkd_m"], rtol=1e-12, atol=1e-9)
        functions = df[[f"hk_{f}_hkd_m" for f in FUNCTIONS]].sum(axis=1)
        np.testing.assert_allclose(functions, df["hk_value_added_hkd_m"], rtol=1e-12, atol=1e-9)
        share = df["local_retention_share"]
        assert ((share >= 0) & (share <= 1)).all()
        extensive = [m.name for m in METRICS if m.extensive]
        assert (df[extensive] >= -1e-9).all().all(), "negative stock or flow"
    a = r.annual
    expected = a["hk_value_added_hkd_m"] / a["total_value_added_hkd_m"]
    np.testing.assert_allclose(a["local_retention_share"], expected, rtol=1e-12)


def test_no_negative_agent_state(baseline_run: sim.Result) -> None:
    m = baseline_run.model
    assert (m.manufacturers.cols["employees"] > 0).all()
    assert (m.manufacturers.cols["productivity"] > 0).all()
    assert (m.startups.cols["employees"] > 0).all()
    assert (m.labs.cols["budget_hkd_m_per_q"] >= 0).all()
    b = m.projects
    assert (b["spent_hkd_m"] >= 0).all() and (b["value_hkd_m_per_q"] >= 0).all()
