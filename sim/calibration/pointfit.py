"""A lighter alternative to ABC-SMC: a scipy ``differential_evolution`` point fit.

Minimises the targets' distance averaged over a few fixed seeds (common random numbers,
so the objective is a deterministic function of the parameters) within the prior ranges.
Gives one parameter set, no posterior: use it to check a model change quickly.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from scipy.optimize import differential_evolution

from sim.calibration.config import Priors, Targets
from sim.calibration.simulator import Objective, Simulator
from sim.params import Scenario


@dataclass
class PointFit:
    """Result of a point fit.

    Attributes:
        values: best parameter values by dotted key (counts rounded).
        distance: objective at ``values`` (mean distance over the seeds).
        simulations: model runs done.
        seconds: wall time.
        iterations: DE generations run.
    """

    values: dict[str, float | int]
    distance: float
    simulations: int
    seconds: float
    iterations: int


def run_point_fit(
    targets: Targets,
    priors: Priors,
    base: Scenario,
    *,
    scale: float,
    seed: int,
    seeds_per_point: int,
    maxiter: int,
    popsize: int,
    executor: Executor,
) -> PointFit:
    """Differential evolution over the prior box, evaluated through ``executor``.

    Args:
        targets, priors, base: as for ABC-SMC.
        scale: population scale of the runs.
        seed: seed of DE and of the common model seeds.
        seeds_per_point: model runs averaged per parameter vector.
        maxiter: DE generations; popsize: DE population multiplier (x number of parameters).
        executor: runs the population's evaluations (``updating="deferred"``).
    """
    sim = Simulator(base, priors, targets, scale)
    rng = np.random.default_rng(seed)
    seeds = tuple(int(s) for s in rng.integers(0, 2**31 - 1, size=seeds_per_point))
    objective = Objective(sim, seeds)
    bounds = [(p.low, p.high) for p in priors.priors]
    t0 = time.perf_counter()
    res = differential_evolution(
        objective,
        bounds,
        seed=seed,
        maxiter=maxiter,
        popsize=popsize,
        tol=1e-6,
        polish=False,
        updating="deferred",
        workers=executor.map,
        init="sobol" if popsize * len(bounds) >= 4 else "latinhypercube",
    )
    values = priors.overrides(dict(zip(priors.keys, (float(v) for v in res.x), strict=True)))
    return PointFit(
        values, float(res.fun), int(res.nfev) * len(seeds), time.perf_counter() - t0, int(res.nit)
    )
