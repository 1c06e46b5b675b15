"""One run as a pure function: (scenario, seed) -> tidy quarterly and annual frames."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.metrics import annual
from sim.model import PilotModel
from sim.params import Scenario
from sim.scenario import load_scenario, scenario_hash, with_overrides


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


def resolve(scenario: Scenario | str | Path | None, **overrides: Any) -> Scenario:
    """A ``Scenario`` from an object, a file or a name, with dotted-key overrides."""
    if scenario is None:
        scenario = "baseline"
    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return with_overrides(spec, {k: v for k, v in overrides.items() if v is not None})


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

    Args:
        scenario: a ``Scenario``, a YAML path, or a name in ``scenarios/`` (default baseline).
        seed: root seed of the run's random streams.
        scale: population scale (overrides ``run.scale``).
        until: last simulated year (overrides ``run.end_year``).
        keep_model: keep the Mesa model on the result (for notebooks).
        **overrides: dotted-key overrides, e.g. ``{"platform.enabled": True}`` passed as
            ``**{"platform.enabled": True}``.
    """
    spec = resolve(scenario, **{"run.scale": scale, "run.end_year": until}, **overrides)
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
