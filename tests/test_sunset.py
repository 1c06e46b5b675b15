"""The platform's sunset (``platform.end_year``): it closes, and only then differs."""

import numpy as np
import pytest

import sim
from sim.scenario import ScenarioError, load_scenario


@pytest.fixture(scope="module")
def runs():
    kept = sim.run("hk_pilot_platform", seed=5, scale=0.1, until=2032)
    shut = sim.run(
        "hk_pilot_platform", seed=5, scale=0.1, until=2032, **{"platform.end_year": 2029}
    )
    return kept.annual.set_index("year"), shut.annual.set_index("year")


def test_identical_until_the_last_year(runs):
    kept, shut = runs
    before = kept.loc[:2029]
    np.testing.assert_array_equal(before.to_numpy(), shut.loc[:2029].to_numpy())


def test_no_spend_clients_or_slots_after_closing(runs):
    kept, shut = runs
    after = shut.loc[2030:]
    assert (after["public_spend_hkd_m"] == 0).all()
    assert (after["platform_clients"] == 0).all()
    assert (after["platform_capacity"] == 0).all()
    assert (kept.loc[2030:, "public_spend_hkd_m"] > 0).all()  # the kept platform goes on


def test_end_before_start_is_refused():
    with pytest.raises(ScenarioError, match="platform.end_year"):
        load_scenario("hk_pilot_platform", {"platform.end_year": 2024})
