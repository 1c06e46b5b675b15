"""Calibration targets and facts: pipeline targets as moments, evidence-ranged priors and
their draws, startup entry from drivers, the pipeline outputs, the baseline-set selection,
the stylised facts and the bootstrap of a spread's width."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sim
from sim.accounting import university_royalties_hkd_m
from sim.calibration import facts
from sim.calibration.config import (
    CALIBRATION_DIR,
    CalibrationError,
    load_priors,
    load_targets,
)
from sim.calibration.select import score, seed_mean_points
from sim.cli import main
from sim.drivers import research_budget_hkd_m, venture_investment_hkd_m
from sim.errors import ScenarioError
from sim.experiments.compare import spread_width_interval
from sim.experiments.uncertainty import draw_posterior
from sim.projects import UNIVERSITY, Route, Stage, Status
from sim.scenario import load_scenario

from .conftest import SCENARIOS  # noqa: E402

SMALL = {"scale": 0.1}


def _run(seed: int = 0, until: int = 2019, **overrides: object) -> sim.Result:
    return sim.run("baseline", seed=seed, until=until, keep_model=True, **SMALL, **overrides)


# ----------------------------------------------------------------- targets: moments


def test_pipeline_moments_load_with_sources() -> None:
    t = load_targets()
    by = {s.name: s for s in t.series}
    for name in ("university_ip_income", "university_spinoffs", "startup_survival_2y"):
        s = by[name]
        assert s.mean_over is not None and len(s.years) == 1
        assert s.data_path is not None and s.data_path.name == "hk_pipeline_targets.csv"
        assert "hk_pipeline_evidence" in s.source or "priors_literature" in s.source
    assert by["university_ip_income"].observed == (100.0,)
    table = pd.read_csv(CALIBRATION_DIR / "data" / "hk_pipeline_targets.csv")
    assert table["source"].notna().all() and table["derivation"].notna().all()


def test_moment_is_window_mean_and_has_no_growth_term() -> None:
    t = load_targets()
    spin = next(s for s in t.series if s.name == "university_spinoffs")
    annual = pd.DataFrame({"year": range(2015, 2020), "university_spinoffs": [10, 20, 30, 40, 50]})
    assert spin.values(annual) == pytest.approx([30.0])
    z, w = t.standardised(t.observed)
    n_growth = sum(len(s.years) - 1 for s in t.series)
    assert len(z) == len(t.observed) + n_growth  # moments add one level term each
    assert np.allclose(z, 0.0)


def _targets_file(tmp: Path, extra: str) -> Path:
    src = (CALIBRATION_DIR / "targets.yaml").read_text()
    src = src.replace("data: data/", f"data: {CALIBRATION_DIR}/data/")
    p = tmp / "targets.yaml"
    p.write_text(src + extra)
    return p


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (
            "  bad:\n    data_series: startups\n    model_column: startups\n"
            "    years: [2019]\n    mean_over: [2014, 2019]\n",
            "series.bad.mean_over",
        ),
        (
            "  bad:\n    data_series: startups\n    model_column: startups\n"
            "    years: [2016, 2019]\n    mean_over: [2015, 2019]\n",
            "series.bad.years",
        ),
        (
            "  bad:\n    data: nowhere.csv\n    data_series: startups\n"
            "    model_column: startups\n    years: [2019]\n",
            "series.bad.data",
        ),
    ],
)
def test_bad_moment_is_refused_naming_the_key(tmp_path: Path, extra: str, key: str) -> None:
    with pytest.raises(CalibrationError) as e:
        load_targets(_targets_file(tmp_path, extra))
    msg = str(e.value)
    assert key in msg
    assert any(w in msg for w in ("expected [first, last]", "one labelled year", "not found"))


# ----------------------------------------------------------------- priors: evidence section


def test_evidence_section_is_separate_and_sourced() -> None:
    p = load_priors()
    fitted, evidence = set(p.keys), {e.key for e in p.evidence}
    assert not fitted & evidence
    assert {"platform.success_uplift", "platform.duration_factor"} <= evidence
    assert {"pipeline.asc_spin_off", "pipeline.royalty_share"} <= fitted
    assert all(e.source and e.low < e.high for e in p.evidence)


def test_a_parameter_both_fitted_and_evidence_ranged_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((CALIBRATION_DIR / "priors.yaml").read_text())
    data["evidence"]["startups.exit_hazard"] = data["parameters"]["startups.exit_hazard"]
    path = tmp_path / "priors.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match="evidence.startups.exit_hazard"):
        load_priors(path)


def _posterior_dir(tmp: Path, priors_text: str | None) -> Path:
    d = tmp / "cal"
    d.mkdir()
    pd.DataFrame(
        {
            "particle": [0, 1],
            "weight": [0.5, 0.5],
            "startups.exit_hazard": [0.1, 0.2],
            "distance": [1.0, 1.0],
        }
    ).to_csv(d / "posterior.csv", index=False)
    if priors_text is not None:
        (d / "priors.yaml").write_text(priors_text)
    return d / "posterior.csv"


EVIDENCE = """
parameters:
  startups.exit_hazard: {range: [0.05, 0.25], source: test}
evidence:
  platform.slot_cost_hkd_m: {range: [4.0, 12.0], source: test}
  platform.success_uplift: {range: [0.1, 0.5], source: test}
  scarcity.engineers_2015: {range: [2000.0, 3000.0], source: test}
"""


def test_posterior_draws_evidence_parameters_for_every_scenario(tmp_path: Path) -> None:
    path = _posterior_dir(tmp_path, EVIDENCE)
    specs = {"baseline": load_scenario("baseline"), "p": load_scenario("hk_pilot_platform")}
    d = draw_posterior(path, 40, 7, specs)
    u = np.array([x["platform.slot_cost_hkd_m"] for x in d.draws])
    assert ((u >= 4.0) & (u <= 12.0)).all() and u.std() > 1.0  # uniform over the range
    assert set(d.evidence) == {"platform.slot_cost_hkd_m", "scarcity.engineers_2015"}
    # The service fitted to the client studies (step two of the calibration) is held.
    assert "platform.success_uplift" not in d.draws[0]
    assert "client studies" in d.held["platform.success_uplift"]
    assert d.distinct <= 2  # distinct posterior particles, not evidence draws
    again = draw_posterior(path, 40, 7, specs)
    assert again.draws == d.draws  # same seed, same draws
    info = d.describe()
    assert info["evidence"]["platform.slot_cost_hkd_m"]["low"] == 4.0


def test_evidence_parameter_a_scenario_sets_is_held_not_drawn(tmp_path: Path) -> None:
    path = _posterior_dir(tmp_path, EVIDENCE)
    specs = {"crowded_world": load_scenario("crowded_world")}  # sets scarcity.engineers_2015
    d = draw_posterior(path, 5, 1, specs)
    assert "scarcity.engineers_2015" in d.held
    assert all("scarcity.engineers_2015" not in x for x in d.draws)
    assert all("platform.slot_cost_hkd_m" in x for x in d.draws)


def test_no_priors_beside_the_posterior_draws_no_evidence(tmp_path: Path) -> None:
    path = _posterior_dir(tmp_path, None)
    d = draw_posterior(path, 5, 1, {"baseline": load_scenario("baseline")})
    assert d.evidence == {} and set(d.draws[0]) == {"startups.exit_hazard"}


# ----------------------------------------------------------------- entry from drivers


def test_venture_investment_path_hits_the_data_and_holds_after_2019() -> None:
    spec = load_scenario("baseline").startups
    assert venture_investment_hkd_m(spec, 2014) == pytest.approx(1240.0)
    assert venture_investment_hkd_m(spec, 2019) == pytest.approx(9900.0)
    assert venture_investment_hkd_m(spec, 2025) == pytest.approx(9900.0)  # no extrapolation


def _entrants(res: sim.Result, year: int) -> int:
    born = res.model.startups.cols["born_q"]  # type: ignore[union-attr]
    q0 = (year - 2015) * 4
    return int(((born >= q0) & (born < q0 + 4)).sum())


def test_entry_follows_its_drivers_not_a_growth_rate() -> None:
    flat = {
        "research.budget_growth_after_2022": 0.0,
        "startups.venture_growth_after_2019": 0.0,
    }
    # With both drivers flat after their last data (2022, 2019), entry is flat: 2023-2026
    # entrants differ by noise.
    res = _run(until=2026, **flat)
    n = [_entrants(res, y) for y in range(2023, 2027)]
    mean = np.mean(n)
    assert max(abs(x - mean) for x in n) < 4 * np.sqrt(mean)
    # Research spending drives entry: a 30% larger research budget from 2023 raises entry.
    more = _run(
        until=2026,
        **flat,
        **{"rd_funding.enabled": True, "rd_funding.start_year": 2023},
        **{"rd_funding.budget_multiplier": 1.3},
    )
    rise = sum(_entrants(more, y) for y in range(2023, 2027)) / sum(n)
    assert 1.15 < rise < 1.45  # elasticity 1 x 30%, noise


def test_research_budget_follows_published_values_to_2022_then_its_rule() -> None:
    r = load_scenario("baseline").research
    # C&SD 2022 (hk_inputs_after_2019.csv): higher education 16,356, government 1,412.
    assert research_budget_hkd_m(r, 2022) == pytest.approx(16356.0 + 1412.0)
    assert research_budget_hkd_m(r, 2019) == pytest.approx(13432.0 + 1284.0)
    assert research_budget_hkd_m(r, 2024) == pytest.approx(
        (16356.0 + 1412.0) * (1 + r.budget_growth_after_2022) ** 2
    )
    # The derived 2020-2021 rows are the ones in the data file.
    rows = pd.read_csv(CALIBRATION_DIR / "data" / "hk_inputs_after_2019.csv")
    for series, values in (
        ("gerd_higher_education", r.higher_education_rd_hkd_m),
        ("gerd_government", r.government_rd_hkd_m),
    ):
        have = rows[rows["series"] == series].set_index("year")["value"]
        for year in (2020, 2021, 2022):
            assert values[year - 2015] == pytest.approx(float(have.at[year]))


@pytest.mark.parametrize(
    ("key", "replacement"),
    [
        ("research.budget_growth_after_2019", "research.budget_growth_after_2022"),
        ("startups.employee_growth_per_year", "startups.hires_per_hkd_m_raised"),
        ("startups.funding_probability_per_quarter", "startups.venture_share_raised"),
    ],
)
def test_a_removed_driver_key_names_its_replacement(
    tmp_path: Path, key: str, replacement: str
) -> None:
    group, name = key.split(".")
    p = tmp_path / "old.yaml"
    p.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\n{group}:\n  {name}: 0.1\n")
    with pytest.raises(ScenarioError, match=replacement) as e:
        load_scenario(p)
    assert str(p) in str(e.value) and "no longer exists" in str(e.value)


def test_rounds_follow_venture_investment_and_staff_grows_with_them() -> None:
    """Twice the venture money pays for about twice the rounds, and startups that raise
    more hire more: staff per startup rises with venture investment."""
    base = _run(until=2019)
    rich = _run(until=2019, **{"startups.venture_investment_hkd_m": [2480.0, 19800.0]})
    st_b, st_r = base.model.startups, rich.model.startups  # type: ignore[union-attr]
    assert st_r.rounds_per_quarter() == pytest.approx(2 * st_b.rounds_per_quarter())

    def staff_per_startup(res: sim.Result) -> float:
        a = res.annual.set_index("year")
        return float(a.at[2019, "startup_employees"] / a.at[2019, "startups"])

    assert staff_per_startup(rich) > 1.2 * staff_per_startup(base)
    none = _run(until=2019, **{"startups.hires_per_hkd_m_raised": 0.0})
    spec = none.model.spec.startups  # type: ignore[union-attr]
    assert staff_per_startup(none) == pytest.approx(spec.initial_employees)


# ----------------------------------------------------------------- pipeline outputs


def test_university_ip_income_is_royalties_on_university_licences() -> None:
    res = _run(until=2017)
    m = res.model
    assert m is not None
    b = m.projects
    rows = np.flatnonzero((b["stage"] == Stage.MARKET) & (b["status"] == Status.ACTIVE))
    route = b["route"][rows]
    lic = rows[(route == Route.LICENSE) | (route == Route.NORTH)]
    uni = lic[m.labs.cols["institution"][b["origin_lab"][lic]] == UNIVERSITY]
    from sim.accounting import market_value_hkd_m_per_q

    expected = (
        market_value_hkd_m_per_q(m, uni).sum()
        * m.spec.value.share_ip_rnd
        * m.spec.pipeline.royalty_share
    )
    assert university_royalties_hkd_m(m, rows) == pytest.approx(expected)
    assert expected > 0
    a = res.annual.set_index("year")
    assert (a["university_spinoffs"] <= a["projects_spun_off"]).all()
    assert (a["invention_disclosures"] <= a["projects_started"]).all()
    lpd = a["projects_licensed"] / a["invention_disclosures"]
    assert np.allclose(a["licences_per_disclosure"], lpd)


def test_survival_metric_matches_the_startups_own_records() -> None:
    res = _run(until=2019)
    m = res.model
    assert m is not None
    c = m.startups.cols
    born, closed = c["born_q"], c["closed_q"]
    cohort = (born >= 0) & (born < 4)  # entered in 2015
    alive_at_4y = (closed[cohort] < 0) | (closed[cohort] >= born[cohort] + 16)
    a = res.annual.set_index("year")
    assert a.at[2019, "startup_survival_4y"] == pytest.approx(alive_at_4y.mean())
    assert np.isnan(a.at[2016, "startup_survival_2y"])  # no cohort has aged two years yet
    assert 0.2 < a.at[2019, "startup_survival_2y"] < 1.0


# ----------------------------------------------------------------- baseline selection


def test_a_bound_counts_only_outside_its_range(tmp_path: Path) -> None:
    t = load_targets()
    i = t.labels.index("north_pilot_share:2019")
    s = next(s for s in t.series if s.name == "north_pilot_share")
    assert s.bound == (0.5, 1.0) and "most" in s.source
    x = t.observed.copy()
    for inside in (0.51, 0.8, 0.99):
        x[i] = inside
        assert t.distance(x) == 0.0 and t.relative_errors(x)[i] == 0.0
    x[i] = 0.4  # below the bound: log(0.5 / 0.4) / level_sd, relative error to the edge
    z, _ = t.standardised(x)
    assert np.count_nonzero(z) == 1
    assert z[np.flatnonzero(z)[0]] == pytest.approx(np.log(0.5 / 0.4) / s.level_sd)
    assert t.relative_errors(x)[i] == pytest.approx(0.4 / 0.5 - 1)
    assert score(t, x)[1] == "north_pilot_share:2019"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("bound: [0.5, 1.0]", "bound: [0.5]", "expected \\[low, high\\]"),
        ("bound: [0.5, 1.0]", "bound: [0.9, 0.5]", "expected \\[low, high\\]"),
        ("reason: >-\n      The source paper says", "reason_gone: >-\n      x", "reason"),
        ("    level_sd: 0.1\n", "    level_sd: 0.1\n    growth_sd: 0.1\n", "takes no"),
    ],
)
def test_a_bad_bound_is_refused_naming_the_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = (CALIBRATION_DIR / "targets.yaml").read_text()
    assert old in text
    p = tmp_path / "targets.yaml"
    p.write_text(text.replace(old, new, 1))
    (tmp_path / "data").mkdir()
    for f in ("hk_targets_2015_2019.csv", "hk_pipeline_targets.csv"):
        (tmp_path / "data" / f).write_text((CALIBRATION_DIR / "data" / f).read_text())
    with pytest.raises(CalibrationError, match=message) as e:
        load_targets(p)
    assert "series.north_pilot_share" in str(e.value)


def test_score_and_seed_mean_points() -> None:
    t = load_targets()
    worst, where, dist = score(t, t.observed * 1.0)
    assert worst == pytest.approx(0.0) and dist == pytest.approx(0.0)
    x = t.observed.copy()
    x[3] *= 1.2
    worst, where, _ = score(t, x)
    assert worst == pytest.approx(0.2) and where == t.labels[3]
    rows = []
    for seed, k in ((0, 0.9), (1, 1.1)):
        a = pd.DataFrame({"year": range(2015, 2020)})
        for s in t.series:
            a[s.model_column] = k
        rows.append(a.assign(seed=seed))
    assert np.allclose(seed_mean_points(t, pd.concat(rows)), 1.0)


# ----------------------------------------------------------------- stylised facts


def test_validate_model_writes_the_facts_table(tmp_path: Path) -> None:
    out = tmp_path / "facts"
    args = ["validate-model", "--seeds", "1", "--scale", "0.1", "--out", str(out), "--jobs", "1"]
    args += ["--client-seeds", "1", "--client-scale", "0.1"]
    assert main(args) == 0
    table = pd.read_csv(out / "stylised_facts.csv")
    n = len(facts.FACTS)
    assert list(table["fact"])[:n] == [f.name for f in facts.FACTS]
    # then the published client studies (sim.evaluation), one row per study and outcome
    from sim.evaluation.studies import ESTIMATORS

    assert len(table) == n + len(ESTIMATORS)
    assert table["fact"][n:].str.startswith("client study ").all()
    inside = (table["model"] >= table["pass_low"]) & (table["model"] <= table["pass_high"])
    assert (table["verdict"] == np.where(inside, "pass", "miss")).all()
    assert table["model"][:n].notna().all()
    assert "Stylised facts" in (out / "stylised_facts.md").read_text()


def test_validate_model_refuses_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate-model", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "--seeds must be >= 1, got 0" in capsys.readouterr().err
    assert main(["validate-model", "--scale", "5", "--out", str(tmp_path)]) == 2
    assert "--scale must be in (0, 3], got 5" in capsys.readouterr().err
    assert main(["validate-model", "--scenario", "nope", "--out", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    bad = ["validate-model", "--seeds", "1", "--scale", "0.05", "--client-scale", "5"]
    assert main([*bad, "--out", str(tmp_path)]) == 2
    assert "--client-scale in (0, 3], got 16 and 5.0" in capsys.readouterr().err
    assert not (tmp_path / "stylised_facts.csv").exists()


def test_non_positive_venture_investment_is_refused() -> None:
    with pytest.raises(sim.ScenarioError, match="venture_investment_hkd_m must be > 0"):
        load_scenario("baseline", {"startups.venture_investment_hkd_m": [0.0, 9900.0]})


# ----------------------------------------------------------------- spread of pairs


def test_spread_width_interval_covers_the_width_and_shrinks_with_pairs() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.normal(size=30), rng.normal(size=600)
    lo, hi = spread_width_interval(small)
    w = np.subtract(*np.quantile(small, (0.95, 0.05)))
    assert lo < w < hi
    lo2, hi2 = spread_width_interval(large)
    assert (hi2 - lo2) < (hi - lo) / 2
    assert spread_width_interval(small) == (lo, hi)  # deterministic
    assert all(np.isnan(spread_width_interval(small[:3])))


def test_committed_baseline_set_fits_every_point_within_10_percent() -> None:
    """Issue criterion: the set every scenario runs is within 10% of each fitted 2015-2019
    point as the mean of seeds 0-3 and, separately, as the mean of seeds 4-7, at full scale
    (the seeds and scale of its selection); bounds hold in both."""
    from sim.calibration.api import model_runs
    from sim.calibration.select import SEED_GROUPS, SEEDS, TOLERANCE, group_errors

    t = load_targets()
    runs = model_runs("baseline", seeds=SEEDS, scale=1.0, targets=t)
    errors = group_errors(t, runs)
    assert len(errors) == len(SEED_GROUPS) == 2
    for group, rel in zip(SEED_GROUPS, errors, strict=True):
        i = int(np.argmax(np.abs(rel)))
        assert abs(rel[i]) <= TOLERANCE, (group, t.labels[i], rel[i])
