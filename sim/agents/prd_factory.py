"""Hong Kong-owned factories in the Pearl River Delta: child factories for mass production.

They are the natural customers of Hong Kong research but rarely use it: adoption is rare and
runs mostly through a Hong Kong parent (HKU survey of 363 firms). A factory whose
headquarters are in Hong Kong keeps its brand, design and trading functions there, so part
of the value of what it makes is booked in Hong Kong. The population is held constant over
the horizon (assumption: no series on its churn is at hand).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sim.agents.base import Population, PopulationAgent, column
from sim.params import SECTORS
from sim.projects import Place
from sim.units import QUARTERS_PER_YEAR, per_quarter

if TYPE_CHECKING:
    from sim.model import PilotModel


class PRDFactory(PopulationAgent):
    population_attr = "prd"
    sector_code = column("sector", "index into sim.params.SECTORS")
    employees = column("employees", "persons")
    hq_in_hk = column("hq_in_hk", "True if headquarters functions are in Hong Kong")
    adopted = column("adopted", "True once it adopted Hong Kong technology")
    child_lines = column("child_lines", "products it mass-produces for Hong Kong projects")

    @property
    def sector(self) -> str:
        return SECTORS[self.sector_code]


class PRDFactories(Population):
    agent_cls: ClassVar = PRDFactory
    dtypes: ClassVar = {
        "sector": np.int8,
        "employees": np.float64,
        "hq_in_hk": np.bool_,
        "adopted": np.bool_,
        "child_lines": np.int32,
    }

    def __init__(self, model: PilotModel) -> None:
        super().__init__(model, capacity=max(1024, round(model.spec.prd.count * model.scale)))
        spec = model.spec.prd
        rng = model.streams.init
        n = round(spec.count * model.scale)
        shares = np.array([model.spec.manufacturing.sector_shares.get(s, 0.0) for s in SECTORS])
        self.add(
            n,
            sector=rng.choice(len(SECTORS), size=n, p=shares),
            employees=spec.mean_employees
            * rng.lognormal(-(spec.employees_sigma**2) / 2, spec.employees_sigma, size=n),
            hq_in_hk=rng.random(n) < spec.hq_in_hk_share,
        )

    def pick_child(self, sectors: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A same-sector Hong Kong-owned factory for each product (any sector if none);
        ``u`` are the products' own uniform draws."""
        picked, n = self.sector_index(living=False).pick(sectors, u)
        n_rows = self.cols.n
        return np.where(n > 0, picked, (u * n_rows).astype(np.int64) if n_rows else -1)

    def employment(self) -> float:
        """Persons employed in Hong Kong-owned PRD factories (sample units)."""
        return float(self.cols["employees"].sum())

    def step(self) -> None:
        """Rare adoption of Hong Kong technology; ``prd_upgrade`` can raise it, bring HQs home."""
        m = self.model
        spec = m.spec.prd
        upgrade = m.policies.prd_upgrade
        rng = m.streams.prd
        n = self.cols.n
        mult = upgrade.adoption_multiplier()
        # Nearby pilots and products in the factory's sector scale its rate (sim.spillovers).
        base = (
            spec.adoption_rate
            * mult
            * m.spillovers.adoption_factor(Place.PRD)[self.cols["sector"][:n]]
        )
        link = np.where(self.cols["hq_in_hk"][:n], spec.parent_link_multiplier, 1.0)
        rate = per_quarter(np.minimum(1.0, base * link))
        draws = rng.random(n)
        hq_draws = rng.random(n)
        adopted = self.cols["adopted"]
        new = np.flatnonzero(~adopted & (draws < rate))
        adopted[new] = True
        upgrade.book_adoptions(new.size)
        self.cols["hq_in_hk"][upgrade.hq_returns(self.cols["hq_in_hk"], hq_draws)] = True

    def adoption_value_hkd_m_per_q(self) -> tuple[float, float]:
        """Value added owed to adopted HK technology: (with HK headquarters, without)."""
        spec = self.model.spec.prd
        a = self.cols["adopted"]
        gain = spec.adoption_productivity_gain / (1 + spec.adoption_productivity_gain)
        va = self.cols["employees"] * spec.va_per_worker_hkd_m / QUARTERS_PER_YEAR * gain
        hq = self.cols["hq_in_hk"]
        return float(va[a & hq].sum()), float(va[a & ~hq].sum())
