"""Supporting Hong Kong-owned PRD factories (``prd_upgrade``) to adopt HK research and keep HQs.

From ``start_year`` a programme multiplies the factories' rate of adopting Hong Kong
technology by ``adoption_multiplier`` (brokerage and co-funding, with a grant per adoption as
public spend) and brings headquarters functions (brand, design, R&D, services) of factories
without a Hong Kong head office back to Hong Kong at ``hq_return_rate`` a year, so that the
headquarters share of their value is booked in Hong Kong.

Interface for ``PRDFactories.step``: ``adoption_multiplier()``, ``book_adoptions(n)`` and
``hq_returns(hq_in_hk, draws)``. The factories' uniform draws are made whether or not the
programme runs, so the lever itself draws no random number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import PRDUpgradeSpec
from sim.policies.base import Lever
from sim.units import per_quarter

if TYPE_CHECKING:
    from sim.model import PilotModel


class NoPRDUpgrade(Lever):
    """No programme: the baseline's adoption rate, no HQ returns, no grants."""

    def adoption_multiplier(self) -> float:
        """Factor on the factories' adoption rate this quarter."""
        return 1.0

    def book_adoptions(self, n: int) -> None:
        """Pay the grants of ``n`` factories that adopted this quarter."""

    def hq_returns(self, hq_in_hk: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """Factories whose headquarters functions move to Hong Kong this quarter (bool)."""
        return np.zeros(np.shape(hq_in_hk), dtype=bool)


class PRDUpgrade(NoPRDUpgrade):
    """The programme from ``start_year``."""

    def __init__(self, model: PilotModel, spec: PRDUpgradeSpec) -> None:
        super().__init__(model)
        self.spec = spec

    def active(self, year: int) -> bool:
        return self.spec.active(year)

    def adoption_multiplier(self) -> float:
        return self.spec.adoption_multiplier if self.active(self.model.year) else 1.0

    def book_adoptions(self, n: int) -> None:
        if n > 0 and self.active(self.model.year):
            self.model.ledger.add("public_spend", n * self.spec.grant_per_adoption_hkd_m)

    def hq_returns(self, hq_in_hk: np.ndarray, draws: np.ndarray) -> np.ndarray:
        if not self.active(self.model.year):
            return super().hq_returns(hq_in_hk, draws)
        return ~np.asarray(hq_in_hk, dtype=bool) & (draws < per_quarter(self.spec.hq_return_rate))


def make(model: PilotModel) -> NoPRDUpgrade:
    """The lever a scenario asks for: ``NoPRDUpgrade`` when it is switched off."""
    spec = model.spec.prd_upgrade
    return PRDUpgrade(model, spec) if spec.enabled else NoPRDUpgrade(model)
