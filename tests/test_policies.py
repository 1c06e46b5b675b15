"""The policy levers of ``sim/policies/``: off is the baseline, on acts only from its start year,
costs are public spend, each mechanism has its stated direction, bad input names the key.

Fast: scale 0.1, runs to 2030 at most (a few to 2032), paired seeds (common random numbers).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

import sim
from sim.agents.research_lab import sector_weights
from sim.model import PilotModel
from sim.params import SECTORS, TRADITIONAL_SECTORS
from sim.policies import Policies
from sim.policies.base import Lever
from sim.policies.innohk import allocate
from sim.projects import FUNDED_INSTITUTIONS, INNOHK, RD_CENTRE, UNIVERSITY
from sim.scenario import ScenarioError, load_scenario, with_overrides

from .conftest import SCENARIOS

SCALE = 0.1
UNTIL = 2030
START = 2026
SEEDS = range(300, 308)  # 8 paired replicates
T_MIN = 3.0
TRAD = np.array([SECTORS.index(s) for s in TRADITIONAL_SECTORS])

#: Each lever switched on from START, with settings strong enough to show in small runs.
ON: dict[str, dict[str, object]] = {
    "rd_funding": {"rd_funding.budget_multiplier": 1.5},
    "itf_rebalance": {"itf_rebalance.high_end_share": 0.0, "itf_rebalance.traditional_share": 0.9},
    "innohk": {"innohk.budget_hkd_m_per_year": 2000.0},
    "rfs": {"rfs.annual_budget_hkd_m": 5000.0},
    "mother_factory": {},
    "traditional_upgrade": {},
    "prd_upgrade": {},
}
#: A non-default setting per lever, to show that it is ignored while the lever is off.
OFF_SETTING: dict[str, tuple[str, object]] = {
    "rd_funding": ("rd_funding.budget_multiplier", 2.0),
    "itf_rebalance": ("itf_rebalance.high_end_share", 0.0),
    "innohk": ("innohk.budget_hkd_m_per_year", 5000.0),
    "rfs": ("rfs.annual_budget_hkd_m", 5000.0),
    "mother_factory": ("mother_factory.success_uplift", 2.0),
    "traditional_upgrade": ("traditional_upgrade.adoption_rate", 0.5),
    "prd_upgrade": ("prd_upgrade.adoption_multiplier", 20.0),
}
LEVERS = tuple(ON)


def on(group: str, start: int = START, **extra: object) -> dict[str, object]:
    return {f"{group}.enabled": True, f"{group}.start_year": start, **ON[group], **extra}


@cache
def run(seed: int, until: int = UNTIL, scale: float = SCALE, **overrides: object) -> sim.Result:
    return sim.run("baseline", seed=seed, scale=scale, until=until, **overrides)


def run_on(
    group: str, seed: int, until: int = UNTIL, scale: float = SCALE, **extra: object
) -> sim.Result:
    return run(seed, until, scale, **on(group, **extra))


def t_stat(d: np.ndarray) -> float:
    se = d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean() / se) if se > 0 else float(np.sign(d.mean()) * np.inf)


def paired(
    group: str,
    column: str,
    years: tuple[int, int],
    until: int = UNTIL,
    scale: float = SCALE,
    **kw: object,
) -> np.ndarray:
    """Policy minus baseline of ``column`` summed over ``years``, one value per seed."""
    out = []
    for seed in SEEDS:
        a, b = run_on(group, seed, until, scale, **kw).annual, run(seed, until, scale).annual
        sel = a["year"].between(*years)
        out.append(a.loc[sel, column].sum() - b.loc[sel, column].sum())
    return np.array(out, dtype=float)


def extra_spend(group: str, seed: int, **kw: object) -> pd.Series:
    """Yearly public spend of the lever over the baseline's (full economy, HKD m)."""
    a, b = run_on(group, seed, **kw).annual, run(seed).annual
    return pd.Series((a["public_spend_hkd_m"] - b["public_spend_hkd_m"]).to_numpy(), a["year"])


# --- the container and the null objects -----------------------------------------------------------
def test_every_lever_is_a_null_object_in_the_baseline() -> None:
    m = PilotModel(load_scenario("baseline", {"run.scale": SCALE}), seed=0)
    pol = Policies(m)
    assert len(pol.all()) == 8
    for lever in pol.all()[1:]:
        assert isinstance(lever, Lever) and type(lever).__name__.startswith("No")
        assert not any(lever.active(y) for y in range(2015, 2061))


@pytest.mark.parametrize("group", LEVERS)
def test_an_enabled_lever_is_its_active_class(group: str) -> None:
    spec = load_scenario("baseline", {"run.scale": SCALE, **on(group)})
    m = PilotModel(spec, seed=0)
    pol = Policies(m)
    lever = getattr(pol, group)
    assert not type(lever).__name__.startswith("No")
    assert not lever.active(START - 1) and lever.active(START)


# --- (a) switched off it is the baseline; (b) on, identical before its start year -----------------
@pytest.mark.parametrize("group", LEVERS)
def test_switched_off_equals_the_baseline(group: str) -> None:
    key, value = OFF_SETTING[group]
    base = run(1, 2027).quarterly
    off = run(1, 2027, **{f"{group}.enabled": False, f"{group}.start_year": 2015, key: value})
    pd.testing.assert_frame_equal(base, off.quarterly)


@pytest.mark.parametrize("group", LEVERS)
def test_switched_on_identical_to_the_baseline_before_its_start_year(group: str) -> None:
    base, policy = run(2).quarterly, run_on(group, 2).quarterly
    before = base["year"] < START
    pd.testing.assert_frame_equal(base[before], policy[policy["year"] < START])
    # From its start year it acts. A lever that acts on rare events (rfs: Hong Kong
    # production sites, a few a year at this scale) may find none in one seed: look at a few.
    for seed in (2, 3, 4, 5):
        if seed != 2:
            base, policy = run(seed).quarterly, run_on(group, seed).quarterly
        after_b = base[base["year"] >= START].reset_index(drop=True)
        after_p = policy[policy["year"] >= START].reset_index(drop=True)
        if not after_b.equals(after_p):
            break
    else:
        pytest.fail(f"{group} changed nothing from its start year in seeds 2-5")


# --- (c) costs are public spend -------------------------------------------------------------------
def test_rd_funding_books_the_extra_research_budget() -> None:
    extra = extra_spend("rd_funding", 3)
    spec = run_on("rd_funding", 3).scenario
    r = spec.research
    for year, amount in extra.items():
        last = r.higher_education_rd_hkd_m[-1] + r.government_rd_hkd_m[-1]
        budget = last * (1 + r.budget_growth_after_2022) ** (year - 2022)
        assert amount == pytest.approx(0.5 * budget if year >= START else 0.0, abs=1e-6)
    assert RD_CENTRE in FUNDED_INSTITUTIONS and UNIVERSITY in FUNDED_INSTITUTIONS


def test_innohk_books_its_budget_every_year_from_the_start() -> None:
    extra = extra_spend("innohk", 3)
    want = np.where(extra.index >= START, 2000.0, 0.0)
    np.testing.assert_allclose(extra.to_numpy(), want, atol=1e-6)


def test_rfs_grants_are_public_spend_within_the_annual_budget() -> None:
    budget = 300.0  # 30 in sample units: two lines of 15 a year at most, so it binds
    runs = [extra_spend("rfs", s, **{"rfs.annual_budget_hkd_m": budget}) for s in SEEDS[:4]]
    extra = pd.concat(runs)
    assert (extra[extra.index < START] == 0).all()
    after = extra[extra.index >= START]
    assert after.sum() > 0 and (after <= budget + 1e-6).all(), after.to_dict()
    # Each line gets at most HKD 15 m: 1/3 of the cost or the cap.
    grant = min(run(0).scenario.pipeline.industrialisation_cost_hkd_m / 3, 15.0)
    lines = after.to_numpy() * SCALE / grant
    np.testing.assert_allclose(lines, np.round(lines), atol=1e-6)


@pytest.mark.parametrize(
    ("group", "grant_key"),
    [
        ("mother_factory", "line_grant_hkd_m"),
        ("traditional_upgrade", "grant_per_adoption_hkd_m"),
        ("prd_upgrade", "grant_per_adoption_hkd_m"),
    ],
)
def test_grants_per_line_or_adoption_are_public_spend(group: str, grant_key: str) -> None:
    grant = getattr(getattr(run_on(group, 3).scenario, group), grant_key)
    extra = pd.concat([extra_spend(group, s) for s in (3, 4)])
    assert (extra[extra.index < START] == 0).all()
    assert extra.sum() > 0
    units = extra.to_numpy() * SCALE / grant  # lines or adoptions in the sample
    np.testing.assert_allclose(units, np.round(units), atol=1e-6)


def test_itf_rebalance_moves_money_between_sectors_at_no_cost() -> None:
    assert (extra_spend("itf_rebalance", 3) == 0).all()


# --- (d) mechanisms, paired -----------------------------------------------------------------------
def _budgets(overrides: dict[str, object], year: int = 2027) -> PilotModel:
    """A model stepped to the end of ``year``; its horizon reaches a lever's later start year
    (a lever starting after ``run.end_year`` is refused)."""
    starts = [int(v) for k, v in overrides.items() if k.endswith(".start_year")]  # type: ignore[call-overload]
    end = max([year, *starts])
    spec = load_scenario("baseline", {"run.scale": SCALE, "run.end_year": end, **overrides})
    m = PilotModel(spec, seed=5)
    while m.running and m.year <= year:
        m.step()
    return m


def test_itf_rebalance_moves_only_the_itf_money() -> None:
    """Traditional-sector university budgets gain exactly their share of 0.8 x the ITF's money."""
    year = 2027
    base = _budgets({}, year)
    pol = _budgets(on("itf_rebalance"), year)
    itf = pol.spec.itf_rebalance.itf_hkd_m_per_year
    cols_b, cols_p = base.labs.cols, pol.labs.cols
    uni = cols_b["institution"] == UNIVERSITY
    assert set(np.unique(cols_b["sector"][uni])) == set(range(len(SECTORS)))  # no share passed on
    trad = uni & np.isin(cols_b["sector"], TRAD)
    totals = {i: base.labs.total_budget_hkd_m(year, i) for i in FUNDED_INSTITUTIONS}
    uni_share = totals[UNIVERSITY] / sum(totals.values())
    shift = (cols_p["budget_hkd_m_per_q"][trad] - cols_b["budget_hkd_m_per_q"][trad]).sum()
    want = itf * uni_share * (0.9 - base.spec.research.traditional_share) * SCALE / 4
    assert shift == pytest.approx(want, rel=1e-9)
    # The total is unchanged: money moves between sectors.
    assert cols_p["budget_hkd_m_per_q"].sum() == pytest.approx(cols_b["budget_hkd_m_per_q"].sum())
    # With no ITF money there is nothing to re-weight.
    none = _budgets({**on("itf_rebalance"), "itf_rebalance.itf_hkd_m_per_year": 0.0}, year)
    np.testing.assert_array_equal(
        none.labs.cols["budget_hkd_m_per_q"], cols_b["budget_hkd_m_per_q"]
    )


def test_itf_weights_blend_the_itf_split_with_the_rest() -> None:
    m = _budgets(on("itf_rebalance"), 2026)
    r = m.spec.research
    base = sector_weights(r.high_end_share, r.traditional_share)
    lever = m.policies.itf_rebalance
    s = lever.itf_share(2026)
    assert 0.0 < s < 0.15  # the ITF is about a tenth of the research budget, not all of it
    want = s * sector_weights(0.0, 0.9) + (1 - s) * base
    np.testing.assert_allclose(lever.sector_weights(2026, base), want)
    assert lever.sector_weights(2025, base) is base


def test_itf_rebalance_starts_more_traditional_research() -> None:
    d = []
    for seed in SEEDS:
        counts = []
        for model in (_trad_projects({}, seed), _trad_projects(on("itf_rebalance"), seed)):
            counts.append(model)
        d.append(counts[1] - counts[0])
    d = np.array(d, dtype=float)
    assert t_stat(d) > T_MIN, (d.mean(), t_stat(d))


def _trad_projects(overrides: dict[str, object], seed: int) -> int:
    res = sim.run("baseline", seed=seed, scale=SCALE, until=UNTIL, keep_model=True, **overrides)
    cols = res.model.labs.cols
    return int(cols["projects_started"][np.isin(cols["sector"], TRAD)].sum())


def test_innohk_founds_applied_groups_in_its_sectors_from_the_start_year() -> None:
    m = _budgets(on("innohk"), START)
    cols = m.labs.cols
    mine = cols["institution"] == INNOHK
    spec = m.spec.innohk
    n = round(spec.budget_hkd_m_per_year * SCALE / m.spec.research.budget_per_lab_hkd_m)
    assert mine.sum() == n
    assert cols["budget_hkd_m_per_q"][mine].sum() == pytest.approx(2000.0 * SCALE / 4)
    assert cols["applied"][mine].mean() == pytest.approx(spec.applied_orientation, abs=0.02)
    assert cols["applied"][mine].mean() > cols["applied"][cols["institution"] == UNIVERSITY].mean()
    got = np.bincount(cols["sector"][mine], minlength=len(SECTORS)) / n
    for s, share in spec.sector_shares.items():
        assert got[SECTORS.index(s)] == pytest.approx(share, abs=1 / n)
    before = _budgets(on("innohk"), START - 1)
    assert not (before.labs.cols["institution"] == INNOHK).any()


def test_allocate_is_deterministic_and_exact() -> None:
    codes = allocate(7, {"biotech": 0.5, "it": 0.25, "electronics": 0.25})
    counts = np.bincount(codes, minlength=len(SECTORS))
    assert counts.sum() == 7 and counts[SECTORS.index("biotech")] in (3, 4)
    np.testing.assert_array_equal(
        codes, allocate(7, {"biotech": 0.5, "it": 0.25, "electronics": 0.25})
    )


def test_innohk_centres_start_more_research_projects() -> None:
    d = paired("innohk", "projects_started", (START, UNTIL))
    assert t_stat(d) > T_MIN, (d.mean(), t_stat(d))
    # About the labs' rate per HKD m times the centres' money (within 4 SE).
    rate = run(0).scenario.research.projects_per_hkd_m
    want = rate * 2000.0 * (UNTIL - START + 1)
    se = d.std(ddof=1) / np.sqrt(len(d))
    assert abs(d.mean() - want) < 4 * se + 0.05 * want, (d.mean(), se, want)


def test_traditional_upgrade_raises_adoption_by_local_plants() -> None:
    d = paired("traditional_upgrade", "manufacturers_using_hk_technology", (UNTIL, UNTIL))
    assert t_stat(d) > T_MIN, (d.mean(), t_stat(d))


@pytest.mark.slow
def test_traditional_upgrade_follows_the_supply_of_hk_research() -> None:
    """More traditional-sector research (the ITF rebalance) raises the programme's adoption;
    with a research elasticity of 0 (a flat rate) it does not."""
    col = "manufacturers_using_hk_technology"
    both = {**on("itf_rebalance"), "itf_rebalance.itf_hkd_m_per_year": 6000.0}
    d_tied, d_flat = [], []
    for seed in SEEDS:
        for elasticity, out in ((1.0, d_tied), (0.0, d_flat)):
            up = on(
                "traditional_upgrade", **{"traditional_upgrade.research_elasticity": elasticity}
            )
            a = run(seed, **up, **both).annual
            b = run(seed, **up).annual
            out.append(float(a[col].iloc[-1] - b[col].iloc[-1]))
    tied, flat = np.array(d_tied), np.array(d_flat)
    assert t_stat(tied) > T_MIN, (tied.mean(), t_stat(tied))
    assert t_stat(tied - flat) > T_MIN, (tied.mean(), flat.mean())


def test_traditional_upgrade_supply_index_is_one_in_2015_and_tracks_research() -> None:
    m = PilotModel(load_scenario("baseline", {"run.scale": SCALE, **on("traditional_upgrade")}))
    m.step()  # 2015Q1 sets the reference (plants enter and exit after it is taken)
    assert m.policies.traditional_upgrade.supply_index() == pytest.approx(1.0, rel=0.05)
    more = _budgets({**on("traditional_upgrade"), **on("itf_rebalance")}, 2027)
    less = _budgets(on("traditional_upgrade"), 2027)
    assert more.policies.traditional_upgrade.supply_index() > (
        less.policies.traditional_upgrade.supply_index()
    )


def test_prd_upgrade_raises_adoption_and_brings_headquarters_home() -> None:
    d = paired("prd_upgrade", "prd_factories_using_hk_technology", (UNTIL, UNTIL))
    assert t_stat(d) > T_MIN, (d.mean(), t_stat(d))
    hq = paired("prd_upgrade", "prd_factories_hq_in_hk", (UNTIL, UNTIL))
    assert (hq > 0).all(), hq


def test_rfs_grant_brings_production_lines_to_hong_kong() -> None:
    """More projects choose a Hong Kong production line (counted in the project book; their
    value is heavy-tailed, so a count has the power a value sum lacks at small scale)."""
    from sim.projects import ProductionSite

    d = []
    for seed in SEEDS:
        counts = [
            int((r.model.projects["production_site"] == ProductionSite.HK).sum())  # type: ignore[union-attr]
            for r in (
                sim.run("baseline", seed=seed, scale=0.3, until=2032, keep_model=True),
                sim.run("baseline", seed=seed, scale=0.3, until=2032, keep_model=True, **on("rfs")),
            )
        ]
        d.append(counts[1] - counts[0])
    assert t_stat(np.array(d, dtype=float)) > T_MIN, d


def test_rfs_terms_and_budget() -> None:
    """A third of the cost, capped at HKD 15 m, first come first served within the budget."""
    cost = np.array([30.0, 60.0, 90.0, 9.0])
    m = _budgets({**on("rfs"), "rfs.annual_budget_hkd_m": 1000.0}, START)  # now START + 1
    lever = m.policies.rfs
    assert lever.remaining_hkd_m() == pytest.approx(1000.0 * SCALE)  # a new budget year
    np.testing.assert_allclose(lever.grant_hkd_m(cost), [10.0, 15.0, 15.0, 3.0])
    before = m.ledger.flows["public_spend"]
    lever.award(np.array([10.0, 15.0, 15.0, 3.0]))
    assert m.ledger.flows["public_spend"] == pytest.approx(before + 43.0)
    assert lever.remaining_hkd_m() == pytest.approx(100.0 - 43.0)
    lever.award(np.array([15.0, 15.0, 15.0]))  # 12 left in sample units
    np.testing.assert_allclose(lever.grant_hkd_m(cost), [10.0, 0.0, 0.0, 0.0])
    lever.award(np.array([10.0]))
    np.testing.assert_array_equal(lever.grant_hkd_m(cost), np.zeros(4))
    for off in (_budgets({}, START), _budgets(on("rfs"), START - 2)):  # off; before the start
        np.testing.assert_array_equal(off.policies.rfs.grant_hkd_m(cost), np.zeros(4))


def test_mother_factory_eligibility_and_terms() -> None:
    m = _budgets(on("mother_factory"), START)
    lever = m.policies.mother_factory
    hk = np.array([True, True, False, False])
    piloted = np.array([True, False, True, False])
    np.testing.assert_array_equal(lever.eligible(hk, piloted), [True, False, False, False])
    spec = m.spec.mother_factory
    assert lever.success_multiplier == 1 + spec.success_uplift
    assert lever.kept_share == spec.mother_share_of_production
    assert lever.demand_threshold == spec.demand_threshold > 0
    assert lever.demand_test_quarters == spec.demand_test_quarters
    null = _budgets({}, START).policies.mother_factory
    assert not null.eligible(hk, piloted).any()
    assert (null.success_multiplier, null.kept_share, null.demand_threshold) == (1.0, 0.0, 0.0)
    early = _budgets(on("mother_factory"), START - 2).policies.mother_factory  # now START - 1
    assert not early.eligible(hk, piloted).any()


def test_mother_factories_keep_production_in_hong_kong() -> None:
    """Products made through a mother factory book ``kept_share`` of mass production in Hong
    Kong: the same products' Hong Kong mass production falls by exactly that without it."""
    from sim.accounting import MASS, market_value_hkd_m_per_q, product_value_by_place, shares
    from sim.policies.mother_factory import NoMotherFactory
    from sim.projects import PRODUCTION_SITE_PLACE, Place, Stage

    # to 2035: mother-factory products are few (model 5: in-house Hong Kong pilots are rare)
    res = run_on("mother_factory", 6, 2035, 0.3, keep_model=True)
    m = res.model
    b = m.projects
    rows = np.flatnonzero(b["mother"] & (b["stage"] == Stage.MARKET))
    offshore = rows[PRODUCTION_SITE_PLACE[b["production_site"][rows]] != Place.HK]
    assert offshore.size > 0, "no mother-factory product is mass-produced outside Hong Kong"
    with_lever = product_value_by_place(m, offshore)[Place.HK, MASS]
    lever, spec = m.policies.mother_factory, m.spec
    m.policies.mother_factory = NoMotherFactory(m)  # the same products without the kept share
    m.spec = with_overrides(spec, {"mother_factory.mother_share_of_production": 0.0})
    try:
        without = product_value_by_place(m, offshore)[Place.HK, MASS]
    finally:
        m.policies.mother_factory, m.spec = lever, spec
    mass = (market_value_hkd_m_per_q(m, offshore) * shares(m)[MASS]).sum()  # crowding included
    assert with_lever - without == pytest.approx(lever.kept_share * mass, rel=1e-9)
    assert with_lever > without


# --- scenario files -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("innohk_centres", "innohk"),
        ("rfs_matching_grant", "rfs"),
        ("itf_rebalance", "itf_rebalance"),
    ],
)
def test_scenario_files_switch_their_lever_on(name: str, group: str) -> None:
    spec = load_scenario(SCENARIOS / f"{name}.yaml")
    lever = getattr(spec, group)
    assert lever.enabled and lever.start_year == 2025 and spec.description


def test_innohk_scenario_costs_about_the_platforms_public_money() -> None:
    spec = load_scenario(SCENARIOS / "innohk_centres.yaml")
    assert spec.innohk.budget_hkd_m_per_year * 11 == pytest.approx(10025, rel=0.01)


def test_rfs_scenario_budget_is_about_the_platforms_public_money() -> None:
    spec = load_scenario(SCENARIOS / "rfs_matching_grant.yaml")
    assert spec.rfs.annual_budget_hkd_m * 11 == pytest.approx(10025, rel=0.01)
    assert spec.rfs.cap_hkd_m == 15.0 and spec.rfs.government_share_of_cost == pytest.approx(1 / 3)


# --- (e) bad input --------------------------------------------------------------------------------
def test_the_old_funding_rebalance_key_names_the_new_one(tmp_path) -> None:
    p = tmp_path / "old.yaml"
    p.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nfunding_rebalance:\n  enabled: true\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "old.yaml" in msg and "funding_rebalance" in msg and "itf_rebalance" in msg


@pytest.mark.parametrize(
    ("key", "value", "bound"),
    [
        ("itf_rebalance.itf_hkd_m_per_year", -1.0, "0"),
        ("itf_rebalance.traditional_share", 1.5, "1"),
        ("innohk.budget_hkd_m_per_year", -5.0, "0"),
        ("innohk.applied_orientation", 1.0, "0.99"),
        ("rfs.cap_hkd_m", -1.0, "0"),
        ("rfs.government_share_of_cost", 1.2, "1"),
        ("rfs.annual_budget_hkd_m", -10.0, "0"),
        ("rfs.start_year", 2010, "2015"),
        ("mother_factory.demand_threshold", -0.1, "0"),
        ("traditional_upgrade.research_elasticity", -1.0, "0"),
        ("prd_upgrade.adoption_multiplier", 0.5, "1"),
        ("rd_funding.budget_multiplier", 9.0, "5"),
    ],
)
def test_out_of_range_values_name_the_key(key: str, value: float, bound: str) -> None:
    with pytest.raises(ScenarioError) as e:
        load_scenario(SCENARIOS / "baseline.yaml", {key: value})
    assert e.value.key == key
    assert f"key '{key}'" in str(e.value) and bound in str(e.value)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (
            {"itf_rebalance.high_end_share": 0.8, "itf_rebalance.traditional_share": 0.3},
            "itf_rebalance.high_end_share",
        ),
        ({"innohk.sector_shares": {"biotech": 0.5, "space": 0.5}}, "innohk.sector_shares"),
        ({"innohk.sector_shares": {"biotech": 0.5}}, "innohk.sector_shares"),
    ],
)
def test_inconsistent_groups_name_the_key(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ScenarioError, match=named.replace(".", r"\.")):
        load_scenario(SCENARIOS / "baseline.yaml", overrides)
