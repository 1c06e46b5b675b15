"""sim.run's garbage-collector pause: runs free their models, GC state is always restored."""

from __future__ import annotations

import gc
import importlib
import threading
import weakref
from collections.abc import Iterator

import pytest

import sim
from sim.agents.base import PopulationAgent
from sim.model import PilotModel

# ``sim.run`` is the function (re-exported by sim/__init__); the module is needed to patch.
run_module = importlib.import_module("sim.run")
SMALL = {"scale": 0.05, "until": 2020}


def _gc_state() -> tuple:
    return gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()


def _live_agents() -> int:
    """Agents the collector tracks (frozen objects excepted: the freeze count covers those)."""
    return sum(isinstance(o, PopulationAgent) for o in gc.get_objects())


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[weakref.ref]]:
    """Weak references to every model ``sim.run`` builds while the test runs."""
    refs: list[weakref.ref] = []

    class Tracked(PilotModel):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            refs.append(weakref.ref(self))

    # sim.run imports the model class when a run starts (``import sim`` stays light).
    monkeypatch.setattr(importlib.import_module("sim.model"), "PilotModel", Tracked)
    yield refs


def test_runs_free_their_models_without_leaking(models: list[weakref.ref]) -> None:
    gc.collect()
    agents_before, state = _live_agents(), _gc_state()
    for seed in range(5):
        result = sim.run("baseline", seed=seed, **SMALL)
        assert result.model is None
        # No gc.collect() here: the run must have freed its own model before returning.
        assert models[-1]() is None, f"run {seed} left its model alive"
        assert _gc_state() == state
    assert len(models) == 5
    assert _live_agents() == agents_before


def test_kept_model_survives_and_is_freed_by_ordinary_gc(models: list[weakref.ref]) -> None:
    result = sim.run("baseline", seed=1, keep_model=True, **SMALL)
    assert result.model is models[-1]()
    assert len(result.model.agents) > 0
    del result
    gc.collect()
    assert models[-1]() is None


def test_collector_is_off_during_the_run_only(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    step = PilotModel.step

    def spy(self: PilotModel) -> None:
        seen.append(gc.isenabled())
        step(self)

    monkeypatch.setattr(PilotModel, "step", spy)
    assert gc.isenabled()
    sim.run("baseline", seed=2, **SMALL)
    assert seen and not any(seen)
    assert gc.isenabled()


def test_state_restored_when_the_run_raises(
    monkeypatch: pytest.MonkeyPatch, models: list[weakref.ref]
) -> None:
    def boom(self: PilotModel) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(PilotModel, "step", boom)
    state = _gc_state()
    with pytest.raises(RuntimeError, match="boom") as info:
        sim.run("baseline", seed=3, **SMALL)
    assert _gc_state() == state
    del info  # the traceback holds the model; without it, ordinary GC frees it
    gc.collect()
    assert models[-1]() is None


@pytest.mark.parametrize("setting", ["disabled", "thresholds", "frozen"])
def test_callers_gc_settings_are_kept(setting: str) -> None:
    gc.collect()
    thresholds = gc.get_threshold()
    try:
        if setting == "disabled":
            gc.disable()
        elif setting == "thresholds":
            gc.set_threshold(1234, 17, 19)
        else:
            gc.freeze()
        enabled, frozen = gc.isenabled(), gc.get_freeze_count()
        sim.run("baseline", seed=4, **SMALL)
        assert gc.isenabled() == enabled
        assert gc.get_threshold() == (thresholds if setting != "thresholds" else (1234, 17, 19))
        # Frozen objects that die by reference count leave the count: a few may go, none
        # may be unfrozen (an unfreeze would empty it).
        assert frozen - 100 < gc.get_freeze_count() <= frozen
    finally:
        gc.enable()
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def test_overlapping_pauses_restore_when_the_last_leaves() -> None:
    pause, state = run_module._GcPause(), _gc_state()
    pause.enter()
    pause.enter()
    assert not gc.isenabled()
    pause.leave()  # the first to leave is not the last: still paused
    assert not gc.isenabled()
    pause.leave()
    assert _gc_state() == state


def test_concurrent_runs_in_threads_restore_gc(monkeypatch: pytest.MonkeyPatch) -> None:
    both_running = threading.Barrier(2, timeout=60)
    step = PilotModel.step

    def meet(self: PilotModel) -> None:
        if self.t == 0:
            both_running.wait()  # both runs are inside the pause at once
        step(self)

    monkeypatch.setattr(PilotModel, "step", meet)
    state, errors = _gc_state(), []

    def one(seed: int) -> None:
        try:
            sim.run("baseline", seed=seed, **SMALL)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=one, args=(s,)) for s in (5, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _gc_state() == state


def test_a_run_makes_no_cyclic_garbage() -> None:
    """Pausing the collector for a run holds no memory only if the run makes no cycles
    that die during it (agents that exit must die by reference count)."""
    spec = run_module.resolve("baseline", **{"run.scale": 0.05, "run.end_year": 2020})
    gc.collect()
    gc.disable()
    try:
        model = PilotModel(spec, seed=7)
        model.run()
        model.recorder.quarterly()
        found = gc.collect()
    finally:
        gc.enable()
    # A few cycles in all would be harmless; one per agent (hundreds here) would not.
    assert found <= model.n_quarters, f"{found} objects in cycles died during one run"
