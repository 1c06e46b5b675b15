"""The model as the calibration sees it: parameter values -> simulated target points.

Picklable (plain data and a frozen ``Scenario``) so that it travels to process-pool and Dask
workers. Each call runs ``sim.run`` to the last target year only (2019), at the calibration
scale, and returns the target points in full-economy units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.calibration.config import Priors, Targets
from sim.params import Scenario

#: Largest model seed drawn for a particle (seeds are non-negative 31-bit integers).
MAX_SEED = 2**31 - 1


def abc_name(key: str) -> str:
    """Parameter name inside pyabc (dots are not safe in its database): ``a.b`` -> ``a__b``."""
    return key.replace(".", "__")


@dataclass(frozen=True)
class Simulator:
    """Runs the model for one parameter vector and returns its target points.

    Attributes:
        base: scenario whose other parameters stay fixed (defaults of ``sim/params.py``).
        priors: the free parameters (their keys, and which are counts).
        targets: which columns and years to read.
        scale: population scale of the runs (outputs are full-economy units at any scale).
    """

    base: Scenario
    priors: Priors
    targets: Targets
    scale: float

    def simulate(self, values: Mapping[str, float], seed: int) -> np.ndarray:
        """Target points (model units) of one run with dotted-key ``values`` and ``seed``."""
        import sim

        # sim.run takes dotted keys as ``**overrides: Any``; typed so, mypy does not match
        # them against run's own keywords (scale, until, keep_model).
        overrides: dict[str, Any] = self.priors.overrides(values)
        result = sim.run(
            self.base,
            seed=int(seed),
            scale=self.scale,
            until=self.targets.last_year,
            **overrides,
        )
        return self.targets.simulated(result.annual)

    def __call__(self, pars: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """pyabc model: parameters by pyabc name -> ``{"x": target points}``.

        The run's seed is drawn from numpy's global generator, which the sampler seeds
        per particle, so a calibration is deterministic given its seed.
        """
        values = {p.key: float(pars[abc_name(p.key)]) for p in self.priors.priors}
        seed = int(np.random.randint(0, MAX_SEED))  # noqa: NPY002 - seeded per particle slot
        return {"x": self.simulate(values, seed)}


@dataclass(frozen=True)
class Objective:
    """Distance averaged over fixed seeds (common random numbers), for point fits.

    Attributes:
        simulator: the model wrapper.
        seeds: the seeds every parameter vector is run with.
    """

    simulator: Simulator
    seeds: tuple[int, ...]

    def __call__(self, theta: Sequence[float]) -> float:
        keys = self.simulator.priors.keys
        values = dict(zip(keys, (float(v) for v in theta), strict=True))
        sims = [self.simulator.simulate(values, s) for s in self.seeds]
        return float(np.mean([self.simulator.targets.distance(x) for x in sims]))


@dataclass(frozen=True)
class TargetDistance:
    """pyabc distance: the targets' standardised distance of a simulation from the data."""

    targets: Targets

    def __call__(self, x: Mapping[str, Any], x_0: Mapping[str, Any] | None = None) -> float:
        return self.targets.distance(np.asarray(x["x"]))
