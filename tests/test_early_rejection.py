"""Early rejection in the ABC-SMC: a run is stopped only if it would surely be rejected, and
a run that is not stopped is the plain one, so the posterior does not change.

Runs here use a 2-year warm start and scale 0.05: they test the machinery, not the fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.calibration.simulator as simulator_module
from sim.calibration.config import load_priors, load_targets
from sim.calibration.simulator import Simulator
from sim.calibration.smc import SMCSettings, run_smc
from sim.experiments.executors import SequentialExecutor
from sim.params import Scenario
from sim.run import resolve

SHORT = resolve(Scenario(), **{"run.warm_start_years": 2})
PRIORS = load_priors()
TARGETS = load_targets()


def _draws(n: int, seed: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [{p.key: float(rng.uniform(p.low, p.high)) for p in PRIORS.priors} for _ in range(n)]


@pytest.fixture(scope="module")
def simulator() -> Simulator:
    return Simulator(SHORT, PRIORS, TARGETS, 0.05)


def test_targets_through_a_year_keep_only_settled_terms() -> None:
    assert not TARGETS.through(2014).series
    y2016 = TARGETS.through(2016)
    assert all(max(s.years) <= 2016 and s.mean_over is None for s in y2016.series)
    startups = next(s for s in y2016.series if s.model_column == "startups")
    assert startups.years == (2015, 2016) and len(startups.observed) == 2
    # the whole set is settled by the last year: the bound is then the distance itself
    assert TARGETS.through(TARGETS.last_year) == TARGETS


def test_lower_bound_never_exceeds_the_distance(simulator: Simulator) -> None:
    total = TARGETS.total_weight
    for j, values in enumerate(_draws(4, 1)):
        out = sim_run(simulator, values, j)
        distance = TARGETS.distance(TARGETS.simulated(out))
        bounds = [
            TARGETS.through(y).lower_bound(out[out["year"] <= y], total)
            for y in range(2015, TARGETS.last_year + 1)
        ]
        assert all(b <= distance * (1 + 1e-12) for b in bounds)
        assert bounds == sorted(bounds)  # more settled terms, a higher bound
        assert bounds[-1] == pytest.approx(distance, rel=1e-12)
        assert bounds[0] > 0


def sim_run(simulator: Simulator, values: dict[str, float], seed: int) -> pd.DataFrame:
    import sim

    result = sim.run(
        simulator.base,
        seed,
        scale=simulator.scale,
        until=TARGETS.last_year,
        **simulator.priors.overrides(values),
    )
    return result.annual


def test_settled_years_match_the_annual_frame(simulator: Simulator) -> None:
    """The early check's own year sums and year-end stocks (from the recorder's rows) are
    the annual frame's, to rounding."""
    import sim

    result = sim.run(SHORT, 3, scale=0.05, until=2019, keep_model=True)
    assert result.model is not None
    mine = simulator_module._settled_years(result.model.recorder.rows, simulator._columns)
    for name in ("year", *simulator._columns):
        np.testing.assert_allclose(mine[name], result.annual[name], rtol=1e-13)
    part = simulator_module._settled_years(result.model.recorder.rows[:10], simulator._columns)
    assert list(part["year"]) == [2015, 2016]  # only complete years


def test_simulate_below_is_simulate_or_a_sure_rejection(simulator: Simulator) -> None:
    stopped = 0
    for j, values in enumerate(_draws(6, 2)):
        full = simulator.simulate(values, j)
        d = TARGETS.distance(full)
        for eps in (d * 0.5, d * (1 - 1e-6), d, d * 2):
            out = simulator.simulate_below(values, j, eps)
            if out is None:
                assert d > eps
                stopped += 1
            else:
                np.testing.assert_array_equal(out, full)
        assert simulator.simulate_below(values, j, np.inf) is not None
    assert stopped > 0  # the bound does stop runs


def test_a_hopeless_run_stops_at_the_first_year(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real = simulator_module._settled_years

    def spy(rows: list, columns: dict) -> pd.DataFrame:
        seen.append(len(rows))
        return real(rows, columns)

    monkeypatch.setattr(simulator_module, "_settled_years", spy)
    assert simulator.simulate_below(_draws(1, 3)[0], 0, 1e-6) is None
    assert seen == [4]  # one check, after 2015's four quarters


@pytest.mark.slow
def test_posterior_is_the_same_with_and_without_early_rejection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stops: list[bool] = []
    real = Simulator.simulate_below

    def counted(self: Simulator, values: dict, seed: int, eps: float) -> np.ndarray | None:
        out = real(self, values, seed, eps)
        stops.append(out is None)
        return out

    monkeypatch.setattr(Simulator, "simulate_below", counted)
    settings = SMCSettings(population=12, generations=3, scale=0.05, seed=11, quantile=0.3)
    results = {}
    for early in (True, False):
        results[early] = run_smc(
            TARGETS,
            PRIORS,
            SHORT,
            settings,
            tmp_path / f"{early}.db",
            SequentialExecutor(),
            quiet=True,
            early_rejection=early,
        )
    assert any(stops)  # early rejection did stop runs in this calibration
    plain, early_ = results[False], results[True]
    pd.testing.assert_frame_equal(early_.posterior, plain.posterior, check_exact=True)
    pd.testing.assert_frame_equal(early_.generations, plain.generations, check_exact=True)
    assert early_.simulations == plain.simulations


def test_simulate_below_frees_its_model(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stopped or finished run leaves no model behind: a model still referenced when the
    GC pause ends becomes garbage for a full collection, which piled up to 2 GB in the
    calibration's workers."""
    import gc
    import importlib
    import weakref

    from sim.model import PilotModel

    refs: list[weakref.ref] = []

    class Tracked(PilotModel):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            refs.append(weakref.ref(self))

    monkeypatch.setattr(importlib.import_module("sim.model"), "PilotModel", Tracked)
    gc.collect()
    values = _draws(1, 4)[0]
    for eps in (1e-6, np.inf):  # stopped at the first check; run to the end
        simulator.simulate_below(values, 0, eps)
        # No gc.collect() here: the call must have freed its own model before returning.
        assert refs[-1]() is None
    assert len(refs) == 2
