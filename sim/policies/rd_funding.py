"""More R&D funding (``rd_funding``): research budgets scaled up from a start year.

From ``start_year`` the budgets of university and government R&D centre research groups are
``budget_multiplier`` x the baseline budget of the year; the extra, ``(multiplier - 1)`` x the
baseline budget, is public spend, booked by ``begin_quarter``. Labs ask
``budget_multiplier(year)`` when they set their budgets (``ResearchLabs.set_budgets``). More
money starts more research projects at the labs' usual rate per HKD m
(``research.projects_per_hkd_m``). The lever draws no random number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.params import RDFundingSpec
from sim.policies.base import Lever
from sim.projects import FUNDED_INSTITUTIONS
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    from sim.model import PilotModel


class NoRDFunding(Lever):
    """The baseline's research budgets: multiplier 1, no extra spend."""

    def budget_multiplier(self, year: int) -> float:
        """Research budget of ``year`` as a multiple of the baseline's."""
        return 1.0


class RDFunding(NoRDFunding):
    """Research budgets x ``budget_multiplier`` from ``start_year``."""

    def __init__(self, model: PilotModel, spec: RDFundingSpec) -> None:
        super().__init__(model)
        self.spec = spec

    def active(self, year: int) -> bool:
        return self.spec.active(year)

    def budget_multiplier(self, year: int) -> float:
        return self.spec.budget_multiplier if self.active(year) else 1.0

    def extra_hkd_m_per_q(self) -> float:
        """Research spending above the baseline this quarter (sample units, HKD m)."""
        m = self.model
        if not self.active(m.year):
            return 0.0
        baseline = sum(m.labs.total_budget_hkd_m(m.year, i) for i in FUNDED_INSTITUTIONS)
        return baseline * m.scale / QUARTERS_PER_YEAR * (self.spec.budget_multiplier - 1.0)

    def begin_quarter(self) -> None:
        """Book the extra research spending of the quarter as public spend."""
        extra = self.extra_hkd_m_per_q()
        if extra:
            self.model.ledger.add("public_spend", extra)


def make(model: PilotModel) -> NoRDFunding:
    """The lever a scenario asks for: ``NoRDFunding`` when it is switched off."""
    spec = model.spec.rd_funding
    return RDFunding(model, spec) if spec.enabled else NoRDFunding(model)
