"""The model as the calibration sees it: parameter values -> simulated target points.

Picklable (plain data and a frozen ``Scenario``) so that it travels to process-pool and Dask
workers. Each call runs ``sim.run`` to the last target year only (2019), at the calibration
scale, and returns the target points in full-economy units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from sim.calibration.config import Priors, Targets
from sim.params import Scenario
from sim.units import QUARTERS_PER_YEAR

#: Largest model seed drawn for a particle (seeds are non-negative 31-bit integers).
MAX_SEED = 2**31 - 1
#: Relative margin above epsilon before a partial run's distance bound rejects it
#: (assumption: far above the rounding of a sum of some 50 terms, about 1e-15, so a run is
#: stopped only if its full distance would exceed epsilon).
BOUND_MARGIN = 1e-9


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
        values, seed = self._draw(pars)
        return {"x": self.simulate(values, seed)}

    def _draw(self, pars: Mapping[str, Any]) -> tuple[dict[str, float], int]:
        """The dotted-key values of pyabc's ``pars`` and a run seed from numpy's global
        generator (which the sampler seeds per particle slot)."""
        values = {p.key: float(pars[abc_name(p.key)]) for p in self.priors.priors}
        seed = int(np.random.randint(0, MAX_SEED))  # noqa: NPY002 - seeded per particle slot
        return values, seed

    # Early rejection ---------------------------------------------------------------------
    @cached_property
    def _checks(self) -> tuple[tuple[int, Targets], ...]:
        """Year ends before the last target year at which new distance terms settle, with
        the targets settled by then (series of stocks and flows only: ``_settled_years``
        reads those; leaving other terms out keeps the bound a lower bound)."""
        years = {y for s in self.targets.series for y in s.years}
        years |= {s.mean_over[1] for s in self.targets.series if s.mean_over is not None}
        checks = []
        for y in sorted(y for y in years if y < self.targets.last_year):
            settled = self.targets.through(y)
            readable = tuple(s for s in settled.series if s.model_column in self._columns)
            if readable:
                checks.append((y, replace(settled, series=readable)))
        return tuple(checks)

    @cached_property
    def _total_weight(self) -> float:
        return self.targets.total_weight

    @cached_property
    def _columns(self) -> dict[str, tuple[int, str]]:
        """Target columns of stocks and flows: their index in a recorder row, their kind."""
        from sim.metrics import METRIC_BY_NAME, METRICS

        index = {m.name: i + 2 for i, m in enumerate(METRICS)}  # after year and quarter
        kinds = {s.model_column: METRIC_BY_NAME[s.model_column].kind for s in self.targets.series}
        return {c: (index[c], k) for c, k in kinds.items() if k in ("stock", "flow")}

    def simulate_below(
        self, values: Mapping[str, float], seed: int, eps: float
    ) -> np.ndarray | None:
        """``simulate``, or None as soon as the run is surely farther than ``eps``.

        After each year that settles distance terms, the settled terms give a lower bound
        of the run's distance (``Targets.lower_bound``); once that exceeds ``eps`` (with a
        relative margin of ``BOUND_MARGIN`` for rounding), the run stops: it would be
        rejected. A run that is not stopped is the same as ``simulate``'s, step for step,
        so the points returned are identical (tests/test_early_rejection.py).
        """
        from sim.run import paused_gc, resolve

        overrides: dict[str, Any] = self.priors.overrides(values)
        end = {"run.scale": self.scale, "run.end_year": self.targets.last_year}
        spec = resolve(self.base, **end, **overrides)  # as sim.run resolves it
        with paused_gc():
            # The model must be unreachable when the pause ends (sim.run), so it lives in
            # the frame of a call that has returned by then.
            return self._run_below(spec, int(seed), eps * (1 + BOUND_MARGIN))

    def _run_below(self, spec: Scenario, seed: int, limit: float) -> np.ndarray | None:
        from sim.metrics import annual
        from sim.model import PilotModel

        model = PilotModel(spec, seed=seed)
        for year, settled in self._checks:
            while model.running and model.year <= year:
                model.step()
            so_far = _settled_years(model.recorder.rows, self._columns)
            if settled.lower_bound(so_far, self._total_weight) > limit:
                return None
        model.run()
        return self.targets.simulated(annual(model.recorder.quarterly()))

    def sample_below(self, pars: Mapping[str, Any], eps: float) -> dict[str, np.ndarray] | None:
        """``self(pars)`` through ``simulate_below``: the seed is drawn the same way, so a
        run that is not stopped gives the same points as ``self(pars)``."""
        values, seed = self._draw(pars)
        x = self.simulate_below(values, seed, eps)
        return None if x is None else {"x": x}


def _settled_years(rows: list[list[float]], columns: dict[str, tuple[int, str]]) -> Any:
    """The complete years of a run so far, as ``sim.metrics.annual`` gives them for
    ``columns`` (year sums of flows, year-end stocks), from the recorder's quarterly rows
    (year, quarter, then the metrics), which start at a year's first quarter.

    Sums may differ from pandas' in the last bit; the bound they feed has a margin.
    """
    import pandas as pd

    a = np.array(rows, dtype=float)
    n = len(a) // QUARTERS_PER_YEAR * QUARTERS_PER_YEAR
    by_year = a[:n].reshape(-1, QUARTERS_PER_YEAR, a.shape[1])  # year x quarter x column
    out: dict[str, np.ndarray] = {"year": by_year[:, 0, 0].astype(int)}
    for name, (j, kind) in columns.items():
        v = by_year[:, :, j]
        if kind == "flow":
            out[name] = np.nansum(v, axis=1)  # as pandas: NaN skipped, all NaN is 0
        else:  # the year's last recorded value, NaN only if all are
            known = ~np.isnan(v)
            last = QUARTERS_PER_YEAR - 1 - np.argmax(known[:, ::-1], axis=1)
            out[name] = np.where(known.any(axis=1), v[np.arange(len(v)), last], np.nan)
    return pd.DataFrame(out)


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
