"""Upgrading traditional local manufacturing with Hong Kong technology (``traditional_upgrade``).

A programme (產業科技化) that raises the rate at which plants in the five traditional sectors
(food, metal products and machinery, chemicals, paper and printing, textiles and clothing)
adopt Hong Kong technology, with a grant per adoption (public spend). A plant can only adopt
what Hong Kong research offers its sector, so the programme's extra rate is tied to the supply
of that research rather than flat:

    extra rate (per year) = min(1, adoption_rate x index ** research_elasticity)
    index = supply now / supply in 2015Q1
    supply = traditional-sector research projects expected this quarter per traditional plant
           = (budget of traditional-sector labs x research.projects_per_hkd_m)
             / living traditional-sector plants

The expected count (the Poisson mean of the labs' project starts) is used rather than the
realised one, so the index does not inherit the noise of a few projects at small scale. Levers
that give traditional sectors more research (``itf_rebalance``, ``rd_funding``, ``innohk``
with a traditional focus) raise it; fewer plants sharing the same research raise it too.

Interface for ``LocalManufacturers.step``: ``extra_rate_per_quarter(sectors)`` (added to the
base rate; zeros when off) and ``book_adoptions(sectors)`` (grants for the traditional plants
that adopted this quarter). No random number is drawn: the plants' adoption draws are the
baseline's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import FIRST_YEAR, SECTORS, TRADITIONAL_SECTORS, TraditionalUpgradeSpec
from sim.policies.base import Lever
from sim.units import per_quarter

if TYPE_CHECKING:
    from sim.model import PilotModel

TRADITIONAL_CODES = np.array([SECTORS.index(s) for s in TRADITIONAL_SECTORS])


class NoTraditionalUpgrade(Lever):
    """No programme: no extra adoption, no grants."""

    def extra_rate_per_quarter(self, sectors: np.ndarray) -> np.ndarray | float:
        """Extra adoption probability this quarter for plants of the given sectors."""
        return 0.0

    def book_adoptions(self, sectors: np.ndarray) -> None:
        """Pay the grants of plants (of the given sectors) that adopted this quarter."""

    def supply_index(self) -> float:
        """Traditional-sector research per traditional plant, x 2015Q1."""
        return 1.0


class TraditionalUpgrade(NoTraditionalUpgrade):
    """The programme from ``start_year``."""

    def __init__(self, model: PilotModel, spec: TraditionalUpgradeSpec) -> None:
        super().__init__(model)
        self.spec = spec
        self.reference: float | None = None  # supply in 2015Q1

    def active(self, year: int) -> bool:
        return self.spec.active(year)

    def supply(self) -> float:
        """Traditional-sector research projects expected this quarter per traditional plant."""
        m = self.model
        labs, plants = m.labs.cols, m.manufacturers.cols
        trad_labs = np.isin(labs["sector"], TRADITIONAL_CODES) & labs["alive"]
        projects = labs["budget_hkd_m_per_q"][trad_labs].sum() * m.spec.research.projects_per_hkd_m
        n_plants = np.count_nonzero(np.isin(plants["sector"], TRADITIONAL_CODES) & plants["alive"])
        return float(projects / n_plants) if n_plants else 0.0

    def supply_index(self) -> float:
        m = self.model
        if self.reference is None and m.year >= FIRST_YEAR:
            self.reference = self.supply()  # the first quarter asked: 2015Q1
        if not self.reference:
            return 1.0
        return self.supply() / self.reference

    def extra_rate_per_quarter(self, sectors: np.ndarray) -> np.ndarray | float:
        index = self.supply_index()  # asked every quarter, so 2015Q1 sets the reference
        if not self.active(self.model.year):
            return 0.0
        s = self.spec
        rate = per_quarter(min(1.0, s.adoption_rate * index**s.research_elasticity))
        return np.isin(sectors, TRADITIONAL_CODES) * rate

    def book_adoptions(self, sectors: np.ndarray) -> None:
        if not self.active(self.model.year):
            return
        n = int(np.count_nonzero(np.isin(sectors, TRADITIONAL_CODES)))
        if n:
            self.model.ledger.add("public_spend", n * self.spec.grant_per_adoption_hkd_m)


def make(model: PilotModel) -> NoTraditionalUpgrade:
    """The lever a scenario asks for: ``NoTraditionalUpgrade`` when it is switched off."""
    spec = model.spec.traditional_upgrade
    return TraditionalUpgrade(model, spec) if spec.enabled else NoTraditionalUpgrade(model)
