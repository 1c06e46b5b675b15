"""One run as a pure function: (scenario, seed) -> tidy quarterly and annual frames.

Garbage collection: a run builds tens to hundreds of thousands of long-lived Mesa agents,
and Python's generational collector traverses every live object of the process at each
full collection it triggers while they are built and run (two at 3x scale, about 0.4 s;
docs/performance.md). A run makes no cyclic garbage while it runs (its agents die by
reference count or all together with the model), so ``run`` pauses the cyclic collector
for the run and then collects the young generation once, which holds the objects the run
made and frees the dead model: one pass over the run's own objects instead of repeated
passes over the whole process. ``tests/test_gc.py`` checks that nothing leaks across runs
and that the collector's state is restored, also when a run raises.
"""

from __future__ import annotations

import gc
import numbers
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import UsageError
from sim.params import Scenario
from sim.scenario import load_scenario, scenario_hash, with_overrides

if TYPE_CHECKING:
    import pandas as pd

    from sim.model import PilotModel

# Generation 0 is Python's youngest generation (gc module); with the collector paused,
# every object a run creates stays in it, so collecting it reaches exactly the run's objects.
YOUNGEST_GENERATION = 0


@dataclass
class Result:
    """Outputs of one run. Money in HKD m, full-economy units (see ``sim.metrics``)."""

    scenario: Scenario
    seed: int
    quarterly: pd.DataFrame
    annual: pd.DataFrame
    seconds: float
    model: PilotModel | None = field(default=None, repr=False)

    @property
    def scenario_hash(self) -> str:
        return scenario_hash(self.scenario)


class _GcPause:
    """Process-wide pause of the cyclic garbage collector, shared by overlapping runs.

    The collector's on/off switch is global to the process, so runs in several threads (or
    nested runs) share one pause: the first to enter records whether the collector was on
    and turns it off, the last to leave, in whatever order they leave, turns it back on and
    collects the young generation. If the collector was already off (the caller's choice),
    it is left off and nothing is collected. Thresholds and frozen objects are not touched.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._was_enabled = False

    def enter(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._depth += 1

    def leave(self) -> None:
        with self._lock:
            self._depth -= 1
            resume = self._depth == 0 and self._was_enabled
            if resume:
                gc.enable()
        if resume:
            gc.collect(YOUNGEST_GENERATION)

    @contextmanager
    def __call__(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.leave()


#: ``with paused_gc(): ...`` pauses the cyclic collector for the block (see ``_GcPause``).
paused_gc = _GcPause()


class ArgumentTypeError(UsageError, TypeError):
    """An argument of the Python API of the wrong type (``sim.run(5)``, ``scale=True``)."""


def _number(name: str, value: Any, whole: bool = False) -> Any:
    """``value`` if it is a number (a whole one if ``whole``), never a boolean."""
    if value is None:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok and whole and not isinstance(value, numbers.Integral):
        ok = float(value).is_integer()
    if not ok:
        what = "a whole number" if whole else "a number"
        raise ArgumentTypeError(f"{name} must be {what}, got {type(value).__name__} {value!r}")
    return value


def resolve(scenario: Scenario | str | os.PathLike[str] | None, **overrides: Any) -> Scenario:
    """A ``Scenario`` from an object, a file or a name, with dotted-key overrides.

    Every override is applied as given, ``None`` included (for a parameter that allows it,
    such as ``platform.end_year``; one that does not is refused with its key).

    Raises:
        ArgumentTypeError: ``scenario`` is not a name, a path or a ``Scenario``.
        ScenarioError: the scenario or an override is not valid.
    """
    if scenario is None:
        scenario = "baseline"
    if not isinstance(scenario, (Scenario, str, os.PathLike)):
        hint = (
            "; for overrides on the baseline pass them as keywords: "
            "sim.run('baseline', **{'platform.enabled': True})"
            if isinstance(scenario, Mapping)
            else ""
        )
        raise ArgumentTypeError(
            "scenario must be a scenario name (e.g. 'baseline'), a path to a .yaml file or "
            f"a sim.Scenario, got {type(scenario).__name__}{hint}"
        )
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario if isinstance(scenario, str) else Path(scenario))
    return with_overrides(scenario, overrides)


def run(
    scenario: Scenario | str | Path | None = None,
    seed: int = 0,
    *,
    scale: float | None = None,
    until: int | None = None,
    keep_model: bool = False,
    **overrides: Any,
) -> Result:
    """Run one scenario with one seed.

    The cyclic garbage collector is paused during construction and run, and the run's
    objects are collected once at the end (module docstring); the dead model is freed
    before this returns unless ``keep_model``. Outputs do not depend on it.

    Args:
        scenario: a ``Scenario``, a YAML path, or a name in ``scenarios/`` (default baseline).
        seed: root seed of the run's random streams.
        scale: population scale (overrides ``run.scale``; ``None`` keeps the scenario's).
        until: last simulated year (overrides ``run.end_year``; ``None`` keeps the
            scenario's).
        keep_model: keep the Mesa model on the result (for notebooks).
        **overrides: dotted-key overrides, e.g. ``{"platform.enabled": True}`` passed as
            ``**{"platform.enabled": True}``; ``None`` is a value here
            (``**{"platform.end_year": None}`` runs the platform without an end).

    Raises:
        ArgumentTypeError: a scenario, seed, scale or until of the wrong type (booleans
            are not numbers).
        ScenarioError: the scenario or an override is not valid.
    """
    settings = {"run.scale": _number("scale", scale), "run.end_year": _number("until", until, True)}
    _number("seed", seed, whole=True)
    given = {k: v for k, v in settings.items() if v is not None}  # None: the scenario's own
    spec = resolve(scenario, **given, **overrides)
    t0 = time.perf_counter()
    with paused_gc():
        result = _simulate(spec, seed, keep_model=keep_model)
    # _simulate has returned, so its model is unreachable (unless kept) when the pause ends.
    result.seconds = time.perf_counter() - t0
    return result


def _simulate(spec: Scenario, seed: int, *, keep_model: bool = False) -> Result:
    """Construct, run and tabulate one model under whatever GC settings the caller has.

    ``run`` wraps it in ``paused_gc``; ``benchmarks/bench_model.py`` also calls it bare to
    time the plain-GC behaviour side by side.
    """
    from sim.metrics import annual  # the model's imports (Mesa, pandas) load with a run
    from sim.model import PilotModel

    t0 = time.perf_counter()
    model = PilotModel(spec, seed=seed)
    model.run()
    quarterly = model.recorder.quarterly()
    return Result(
        scenario=spec,
        seed=seed,
        quarterly=quarterly,
        annual=annual(quarterly),
        seconds=time.perf_counter() - t0,
        model=model if keep_model else None,
    )
