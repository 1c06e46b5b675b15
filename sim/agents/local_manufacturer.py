"""Local manufacturers in Hong Kong: small establishments that produce value added.

Productivity grows at a common trend with firm-level dispersion; establishments exit at a
hazard that falls with relative productivity (selection) and enter in proportion to the
stock. A plant that adopts Hong Kong technology (through a project it partners on or
licenses, an upgrade programme, or at a low base rate) gains productivity once and exits
less often. Plants also host projects' "mother factory" lines and Hong Kong production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sim.agents.base import Population, PopulationAgent, column
from sim.params import SECTORS, TRADITIONAL_SECTORS
from sim.projects import Place
from sim.units import QUARTERS_PER_YEAR, per_quarter

if TYPE_CHECKING:
    from sim.model import PilotModel

TRADITIONAL_CODES = np.array([SECTORS.index(s) for s in TRADITIONAL_SECTORS])


class LocalManufacturer(PopulationAgent):
    population_attr = "manufacturers"
    sector_code = column("sector", "index into sim.params.SECTORS")
    employees = column("employees", "persons")
    productivity = column("productivity", "value added per worker, x the 2015 average")
    adopted = column("adopted", "True once it adopted Hong Kong technology")

    @property
    def sector(self) -> str:
        return SECTORS[self.sector_code]


class LocalManufacturers(Population):
    agent_cls: ClassVar = LocalManufacturer
    dtypes: ClassVar = {
        "sector": np.int8,
        "employees": np.float64,
        "productivity": np.float64,
        "adopted": np.bool_,
        "adoption_gain": np.float64,  # productivity multiplier owed to HK technology
    }

    def __init__(self, model: PilotModel) -> None:
        super().__init__(model, capacity=16384)
        spec = model.spec.manufacturing
        self._shares = np.array([spec.sector_shares.get(s, 0.0) for s in SECTORS])
        self.trend = 1.0  # common productivity level, x 2015
        n = round(spec.initial_count * model.scale)
        self._add_plants(model.streams.init, n)

    def _add_plants(self, rng: np.random.Generator, k: int) -> np.ndarray:
        spec = self.model.spec.manufacturing
        s_e, s_p = spec.employees_sigma, spec.productivity_sigma
        return self.add(
            k,
            sector=rng.choice(len(SECTORS), size=k, p=self._shares),
            employees=np.maximum(
                1.0, spec.mean_employees * rng.lognormal(-(s_e**2) / 2, s_e, size=k)
            ),
            productivity=self.trend * rng.lognormal(-(s_p**2) / 2, s_p, size=k),
            adoption_gain=1.0,
        )

    def adopt(self, rows: np.ndarray) -> np.ndarray:
        """Plants adopt Hong Kong technology; returns the rows that newly adopted."""
        new = rows[~self.cols["adopted"][rows] & self.alive[rows]]
        new = np.unique(new)
        if new.size:
            gain = 1.0 + self.model.spec.manufacturing.adoption_productivity_gain
            self.cols["adopted"][new] = True
            self.cols["adoption_gain"][new] = gain
            self.cols["productivity"][new] *= gain
        return new

    def step(self) -> None:
        m = self.model
        spec = m.spec.manufacturing
        rng = m.streams.manufacturing
        alive = self.alive
        n = self.cols.n
        g = (1 + spec.productivity_growth) ** (1 / QUARTERS_PER_YEAR)
        self.trend *= g
        self.cols["productivity"] *= g

        # Adoption: a low base rate, raised or lowered by nearby pilots and products in the
        # plant's sector (sim.spillovers), plus the traditional-upgrade lever's extra rate.
        upgrade = m.policies.traditional_upgrade
        sector = self.cols["sector"]
        spill = m.spillovers.adoption_factor(Place.HK)[sector]
        rate = per_quarter(np.minimum(1.0, spec.adoption_rate * spill))
        rate = rate + upgrade.extra_rate_per_quarter(sector)
        draws = rng.random(n)
        new = self.adopt(np.flatnonzero(alive & (draws < rate)))
        upgrade.book_adoptions(self.cols["sector"][new])

        # Exit, with selection on productivity relative to the living mean.
        prod = self.cols["productivity"]
        mean_prod = prod[alive].mean() if alive.any() else 1.0
        rel = np.maximum(prod / mean_prod, 1e-6)
        # A plant far below the mean may get a factor that overflows to inf: it exits for
        # sure, as with any hazard of 1 or more (the draw below is under 1).
        with np.errstate(over="ignore"):
            factor = rel ** (-spec.exit_productivity_elasticity)
        hazard = per_quarter(spec.exit_hazard) * factor
        hazard = np.where(self.cols["adopted"], hazard * spec.adoption_exit_factor, hazard)
        exits = np.flatnonzero(alive & (rng.random(n) < hazard))
        if exits.size:
            self.remove(exits)

        k = int(rng.poisson(per_quarter(spec.entry_rate) * self.n_alive))
        if k:
            self._add_plants(rng, k)

    # outputs -----------------------------------------------------------------------------
    def value_added_hkd_m_per_q(self) -> float:
        """Own value added this quarter (sample units), excluding project production."""
        a = self.alive
        per_worker = self.model.spec.manufacturing.va_per_worker_hkd_m / QUARTERS_PER_YEAR
        return float((self.cols["employees"][a] * self.cols["productivity"][a]).sum() * per_worker)

    def adoption_value_hkd_m_per_q(self) -> float:
        """The part of own value added owed to adopted Hong Kong technology."""
        a = self.alive & self.cols["adopted"]
        per_worker = self.model.spec.manufacturing.va_per_worker_hkd_m / QUARTERS_PER_YEAR
        gain = self.cols["adoption_gain"][a]
        va = self.cols["employees"][a] * self.cols["productivity"][a] * per_worker
        return float((va * (1 - 1 / gain)).sum())

    def finance_capacity_hkd_m(self, rows: np.ndarray) -> np.ndarray:
        """What each plant can spend on a project (HKD m): ``finance_multiple`` x its annual
        value added (own funds and credit); zero for a plant that has closed."""
        m = self.model
        spec = m.spec.manufacturing
        va = (
            self.cols["employees"][rows]
            * self.cols["productivity"][rows]
            * spec.va_per_worker_hkd_m
        )
        return np.where(self.alive[rows], spec.finance_multiple * va, 0.0)

    def find_partners(
        self,
        sectors: np.ndarray,
        u_find: np.ndarray,
        u_pick: np.ndarray,
        search_factor: float = 1.0,
    ) -> np.ndarray:
        """For each project sector, a living same-sector plant or -1 if the search fails.

        The chance of finding one is ``1 - exp(-factor * n_same_sector / scale)``, with
        ``scale`` the pipeline's ``partner_search_scale`` in full-economy plants; ``u_find``
        and ``u_pick`` are the projects' own uniform draws (common random numbers).
        """
        m = self.model
        if len(sectors) == 0:
            return np.full(0, -1, dtype=np.int64)
        picked, n = self.sector_index().pick(sectors, u_pick)
        n_full = n / m.scale
        p_find = 1 - np.exp(-search_factor * n_full / m.spec.pipeline.partner_search_scale)
        return np.where(u_find < p_find, picked, -1)
