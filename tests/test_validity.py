"""Issue 25, points 4, 5, 7 and 14: validated values run, or are refused with the reason.

- 4: values inside the declared bounds that crashed the model (no PRD factories, no local
  manufacturers, negative or zero research budgets, a near-vertical engineer supply curve).
- 5: values inside the declared ranges that exhausted memory are refused by the footprint
  check (``sim.footprint``), naming the parameters.
- 7: the platform never runs more slots in use than it staffs (utilisation in [0, 1]).
- 14: ``rd_funding.budget_multiplier < 1`` is refused; a text cell in a posterior CSV is a
  clear error naming file, column and row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.errors import CalibrationError, ScenarioError
from sim.footprint import MEMORY_BOUND_BYTES, footprint
from sim.metrics import MAY_BE_NAN

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
TINY = {"scale": 0.05, "until": 2018}


def _finite_and_non_negative(result: sim.Result) -> None:
    q = result.quarterly.select_dtypes("number").drop(columns=list(MAY_BE_NAN))
    assert np.isfinite(q.to_numpy()).all()
    spend = ("public_spend_hkd_m", "private_spend_hkd_m", "hk_private_spend_hkd_m")
    assert (q[list(spend)] >= 0).all().all()


# --- point 4: worlds with zero agents of a type run ------------------------------------------
@pytest.mark.parametrize(
    "overrides",
    [
        {"prd.count": 10},  # 10 x 0.05 rounds to no factory
        {"prd.count": 0},
        {"manufacturing.initial_count": 0},
        {"startups.initial_count": 0},
    ],
)
def test_zero_agents_of_a_type_is_a_world_that_runs(overrides: dict[str, int]) -> None:
    for name in ("baseline", "hk_pilot_platform"):
        r = sim.run(SCENARIOS / f"{name}.yaml", seed=0, scale=0.05, until=2027, **overrides)
        _finite_and_non_negative(r)
    if "prd.count" in overrides:
        assert (r.quarterly["prd_hk_owned_employment"] == 0).all()
    if "manufacturing.initial_count" in overrides:
        assert (r.quarterly["manufacturing_establishments"] == 0).all()


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        (
            {
                "research.higher_education_rd_hkd_m": [
                    -1.0,
                    10271.0,
                    10837.0,
                    12338.0,
                    13432.0,
                    14099.0,
                    14800.0,
                    16356.0,
                ]
            },
            "research.higher_education_rd_hkd_m",
            ">= 0",
        ),
        (
            {
                "research.government_rd_hkd_m": [
                    726.0,
                    914.0,
                    -5.0,
                    1148.0,
                    1284.0,
                    1303.0,
                    1322.0,
                    1412.0,
                ]
            },
            "research.government_rd_hkd_m",
            ">= 0",
        ),
        (
            {
                "research.higher_education_rd_hkd_m": [0.0] * 8,
                "research.government_rd_hkd_m": [0.0] * 8,
            },
            "research",
            "2015 research budget",
        ),
        (
            {"scarcity.engineer_supply_elasticity": 1e-7},
            "scarcity.engineer_supply_elasticity",
            "0.1",
        ),
    ],
)
def test_values_that_crashed_are_refused_with_the_reason(
    overrides: dict[str, object], key: str, words: str
) -> None:
    with pytest.raises(ScenarioError) as e:
        sim.run("baseline", seed=0, **TINY, **overrides)
    assert e.value.key is not None and e.value.key.startswith(key)
    assert words in str(e.value)


def test_research_budgets_of_zero_after_2015_run() -> None:
    he = [9551.0] + [0.0] * 7
    r = sim.run(
        "baseline",
        seed=0,
        **TINY,
        **{"research.higher_education_rd_hkd_m": he, "research.government_rd_hkd_m": [1.0] * 8},
    )
    _finite_and_non_negative(r)


def test_steepest_allowed_engineer_supply_runs_with_the_platform() -> None:
    r = sim.run(
        SCENARIOS / "hk_pilot_platform.yaml",
        seed=0,
        scale=0.05,
        until=2027,
        **{"scarcity.engineer_supply_elasticity": 0.1, "scarcity.engineers_2015": 10.0},
    )
    _finite_and_non_negative(r)
    assert r.quarterly["engineer_wage_index"].max() > 1.0


# --- point 5: memory --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("manufacturing.entry_rate", 0.5, "manufacturing.entry_rate"),
        ("research.budget_per_lab_hkd_m", 1e-6, "research.budget_per_lab_hkd_m"),
        ("research.projects_per_hkd_m", 1e6, "research.projects_per_hkd_m"),
        ("startups.entry_per_year_2015", 1e6, "startups.entry_per_year_2015"),
    ],
)
def test_values_that_exhaust_memory_are_refused_naming_the_keys(
    key: str, value: float, named: str
) -> None:
    with pytest.raises(ScenarioError) as e:
        sim.load_scenario("baseline", {key: value, "run.scale": 0.05})
    msg = str(e.value)
    assert named in msg and "GB" in msg and "scale 1" in msg


def test_shipped_scenarios_fit_the_memory_bound() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert footprint(sim.load_scenario(path)).bytes < MEMORY_BOUND_BYTES / 2, path.name


def test_footprint_overstates_a_real_run() -> None:
    """Projects are estimated at their expected number (the memory per row is what is
    rounded up); agent rows are overstated (every row priced as a living agent)."""
    r = sim.run("baseline", seed=0, scale=0.2, until=2022, keep_model=True)
    m = r.model
    assert m is not None
    fp = footprint(r.scenario)
    scale = r.scenario.run.scale
    assert fp.projects * scale == pytest.approx(m.projects.n, rel=0.1)
    assert fp.labs * scale >= m.labs.cols.n
    assert fp.startups * scale > m.startups.cols.n
    assert fp.manufacturers * scale == pytest.approx(m.manufacturers.cols.n, rel=0.1)
    rows = m.labs.cols.n + m.startups.cols.n + m.manufacturers.cols.n + m.prd.cols.n
    assert fp.agent_rows * scale > rows


# --- point 7: utilisation ---------------------------------------------------------------------
#: A pool of engineers short enough that the platform's hiring raises their wage, so the
#: budget buys fewer slots than are in use (model 5's baseline leaves the default pool slack).
SHORT_POOL = {"scarcity.engineers_2015": 600.0}


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_platform_utilisation_never_exceeds_one(seed: int) -> None:
    """At scale 0.05 the wage-driven capacity fell below the slots in use (1.2 before)."""
    spec = sim.load_scenario(
        SCENARIOS / "hk_pilot_platform.yaml",
        {"run.scale": 0.05, "run.end_year": 2035, **SHORT_POOL},
    )
    from sim.model import PilotModel

    m = PilotModel(spec, seed=seed)
    fell = False
    while m.running:
        m.step()
        plat = m.platform
        assert plat.in_service() <= plat.staffed_slots() or not plat.active(m.year)
        fell |= plat.capacity > plat.funded  # occupied slots above what the budget pays
    q = m.recorder.quarterly()
    assert q["platform_utilisation"].between(0.0, 1.0).all()
    assert fell or seed != 0  # seed 0 is a case where the budget's slots fell below use


def test_occupied_slots_beyond_the_budget_are_paid_and_admit_nobody() -> None:
    spec = sim.load_scenario(
        SCENARIOS / "hk_pilot_platform.yaml",
        {"run.scale": 0.05, "run.end_year": 2035, **SHORT_POOL},
    )
    from sim.model import PilotModel

    m = PilotModel(spec, seed=0)
    seen = False
    while m.running:
        m.step()
        plat = m.platform
        if plat.active(m.year) and plat.capacity > plat.funded:
            seen = True
            # admissions are limited by the funded slots, not the staffed ones
            assert plat.free_slots() == max(0, plat.funded - plat.in_service())
            row = m.recorder.quarterly().iloc[-1]
            budget = spec.platform.public_budget_hkd_m / 4
            assert row["public_spend_hkd_m"] > budget  # the overrun is public spend
    assert seen


# --- point 14 ---------------------------------------------------------------------------------
def test_a_research_cut_is_refused_not_booked_as_negative_spend() -> None:
    with pytest.raises(ScenarioError) as e:
        sim.load_scenario(SCENARIOS / "more_rd_funding.yaml", {"rd_funding.budget_multiplier": 0.5})
    assert e.value.key == "rd_funding.budget_multiplier"
    assert "greater than or equal to 1" in str(e.value)


def test_text_cell_in_posterior_names_file_column_and_row(tmp_path: Path) -> None:
    from sim.calibration.posterior import load_posterior

    src = (SCENARIOS.parent / "calibration" / "posterior.csv").read_text().splitlines()
    header = src[0].split(",")
    col = header[3]
    cells = src[3].split(",")
    cells[3] = "oops"
    src[3] = ",".join(cells)
    bad = tmp_path / "posterior.csv"
    bad.write_text("\n".join(src) + "\n")
    with pytest.raises(CalibrationError) as e:
        load_posterior(bad)
    msg = str(e.value)
    assert str(bad) in msg and e.value.key == col and "row 3" in msg and "'oops'" in msg


def test_text_cell_in_posterior_exits_2_from_compare(tmp_path: Path, capsys) -> None:
    from sim.cli import main

    src = (SCENARIOS.parent / "calibration" / "posterior.csv").read_text().splitlines()
    cells = src[1].split(",")
    cells[1] = "heavy"
    src[1] = ",".join(cells)
    bad = tmp_path / "posterior.csv"
    bad.write_text("\n".join(src) + "\n")
    code = main(
        [
            "compare",
            "baseline",
            "hk_pilot_platform",
            "--posterior",
            str(bad),
            "--seeds",
            "2",
            "--scale",
            "0.05",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "weight" in err and "row 1" in err and "Traceback" not in err


# --- point 5: calibrate's size gate -----------------------------------------------------------
def test_a_huge_calibration_needs_yes(tmp_path: Path, capsys) -> None:
    from sim.cli import main

    out = tmp_path / "cal"
    code = main(["calibrate", "--population", "100000000", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "--yes" in err and "100,000,000" in err
    assert not out.exists()  # refused before anything ran or was written
