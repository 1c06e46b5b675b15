"""``sim.analysis.ema``: the analyses' space as an EMA Workbench model, and a tiny EMA
experiment."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from ema_workbench import (
    BooleanParameter,
    CategoricalParameter,
    IntegerParameter,
    RealParameter,
    ScalarOutcome,
    SequentialEvaluator,
    perform_experiments,
)

from sim.analysis.ema import KEY_OF, NAME_OF, _design, _future, model
from sim.analysis.space import MEASURES, PLATFORM_LEVERS, SECTOR_GROUPS, load_space
from sim.errors import BatchError

QUICK = {"scale": 0.05, "until": 2030, "period": (2025, 2030), "seeds": 1}
LEVER_KEYS = {lv.key for lv in PLATFORM_LEVERS}


@pytest.fixture(scope="module")
def m():
    return model(**QUICK)


@pytest.fixture(scope="module")
def ran(m):
    return perform_experiments(
        m,
        scenarios=2,
        policies=1,
        evaluator=SequentialEvaluator(m),
        uncertainty_sampling_kwargs={"rng": 7},
        lever_sampling_kwargs={"rng": 8},
    )


def test_names_map_to_dotted_keys():
    assert NAME_OF["platform.success_uplift"] == "platform__success_uplift"
    assert KEY_OF["platform__success_uplift"] == "platform.success_uplift"
    assert all(name.isidentifier() for name in KEY_OF)
    assert {KEY_OF[n] for n in NAME_OF.values()} == set(NAME_OF)


def test_uncertainties_match_the_space_without_levers(m):
    space = load_space()
    expected = [u for u in space.uncertainties if u.key not in LEVER_KEYS]
    assert "platform.slot_cost_hkd_m" in space.keys  # an uncertainty of the space ...
    assert "platform__slot_cost_hkd_m" not in [p.name for p in m.uncertainties]  # ... held here
    assert [p.name for p in m.uncertainties] == [NAME_OF[u.key] for u in expected]
    for u in expected:
        p = m.uncertainties[NAME_OF[u.key]]
        if u.switch:
            assert isinstance(p, BooleanParameter), u.key
        elif u.integer:
            assert isinstance(p, IntegerParameter), u.key
            assert (p.lower_bound, p.upper_bound) == (math.ceil(u.low), math.floor(u.high))
        else:
            assert type(p) is RealParameter, u.key
            assert p.lower_bound == pytest.approx(u.low) and p.upper_bound == pytest.approx(u.high)
    kinds = {type(p) for p in m.uncertainties}
    assert {RealParameter, BooleanParameter} <= kinds  # the counts are in the posterior factor
    assert "calibration__posterior" in [p.name for p in m.uncertainties]


def test_levers_and_outcomes(m):
    assert [p.name for p in m.levers] == [NAME_OF[lv.key] for lv in PLATFORM_LEVERS]
    for lv in PLATFORM_LEVERS:
        p = m.levers[NAME_OF[lv.key]]
        if lv.kind == "real":
            assert type(p) is RealParameter
            assert (p.lower_bound, p.upper_bound) == pytest.approx((lv.low, lv.high))
        elif lv.kind == "switch":
            assert isinstance(p, BooleanParameter)
        else:
            assert type(p) is CategoricalParameter
            assert [c.value for c in p.categories] == list(SECTOR_GROUPS)
    assert [o.name for o in m.outcomes] == [mm.name for mm in MEASURES]
    for mm in MEASURES:
        want = ScalarOutcome.MAXIMIZE if mm.sense > 0 else ScalarOutcome.MINIMIZE
        assert m.outcomes[mm.name].kind == want
    assert m.outcomes["pv_public_spend_hkd_m"].kind == ScalarOutcome.MINIMIZE


def test_future_balances_shares_and_reads_switches(m):
    pair = m.function.args[0]
    base = pair.base
    f = _future(pair.space, {"value__share_pilot_mother": 0.15, "gba__responds": True})
    assert f["value.share_pilot_mother"] == pytest.approx(0.15)
    shift = 0.15 - base.value.share_pilot_mother
    assert f["value.share_mass_production"] == pytest.approx(
        base.value.share_mass_production - shift
    )
    assert f["gba.responds"] is True
    assert _future(pair.space, {"gba__responds": False})["gba.responds"] is False
    d = _design(pair.levers, {"platform__sectors": "high_end", "platform__matching": False})
    assert d == {"platform.sectors": list(SECTOR_GROUPS["high_end"]), "platform.matching": False}


def test_bad_input_is_refused(m):
    with pytest.raises(BatchError, match="platform__no_such_thing"):
        m.function(platform__no_such_thing=1.0)
    with pytest.raises(BatchError, match="allowed: all, high_end, traditional"):
        m.function(platform__sectors="everything")
    with pytest.raises(BatchError, match="seeds"):
        model(**{**QUICK, "seeds": 0})
    with pytest.raises(BatchError, match="root_seed"):
        model(**QUICK, root_seed=-1)
    with pytest.raises(BatchError, match="period"):
        model(**{**QUICK, "period": (2025, 2035)})


def test_model_function_pickles(m):
    f = pickle.loads(pickle.dumps(m.function))
    assert f.func is m.function.func
    assert f.args[0].seeds == m.function.args[0].seeds
    assert f.args[0].space.keys == m.function.args[0].space.keys


def test_a_tiny_ema_experiment(m, ran):
    experiments, outcomes = ran
    assert len(experiments) == 2
    assert set(outcomes) == {mm.name for mm in MEASURES}
    for name, values in outcomes.items():
        assert values.shape == (2,), name
        assert np.isfinite(values).all(), name
    for p in m.uncertainties:
        if type(p) is RealParameter:
            col = experiments[p.name].astype(float)
            assert ((col >= p.lower_bound) & (col <= p.upper_bound)).all(), p.name


def test_model_function_is_seeded_and_matches_ema(m, ran):
    experiments, outcomes = ran
    names = [p.name for p in m.uncertainties] + [p.name for p in m.levers]
    row = experiments.iloc[0][names].to_dict()
    first = m.function(**row)
    assert m.function(**row) == first
    assert first == {name: float(outcomes[name][0]) for name in outcomes}


def test_policy_equal_to_its_baseline_has_no_effect():
    """The future goes to both runs and they share seeds: a 'policy' that is the baseline
    itself differs from it by exactly nothing."""
    same = model("baseline", "baseline", levers=(), **QUICK)
    effect = same.function(value__share_pilot_mother=0.18, gba__responds=True)
    assert effect == {mm.name: 0.0 for mm in MEASURES}
