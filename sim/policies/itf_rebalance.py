"""Re-balancing the Innovation and Technology Fund (``itf_rebalance``) at the ITF's scale.

The ITF gives about HKD 1,500 m a year (hk_pipeline_evidence rows ``itf_support_per_year``:
700 in 2013/14, 1,500 in 2017/18), about a tenth of the higher-education and government
research budget the labs spend (14,716 HKD m in 2019). The baseline splits all research money
70% "high-end" (electronics, IT, biotech) / 10% traditional / 20% other, the ITF's allocation
(hk_context_facts rows ``itf_share_*``; assumption: no sector breakdown of the other research
money is at hand). From ``start_year`` this lever re-weights only the ITF's part to
``high_end_share`` / ``traditional_share``; the rest keeps the baseline split:

    w(year) = s x w_ITF + (1 - s) x w_baseline,  s = min(1, ITF / research budget of the year)

with the research budget the baseline one (universities plus government R&D centres, before
any ``rd_funding`` multiplier). Labs ask ``sector_weights(year, base)`` when they set their
budgets. The lever draws no random number and costs nothing: it moves money between sectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import ITFRebalanceSpec
from sim.policies.base import Lever
from sim.projects import FUNDED_INSTITUTIONS

if TYPE_CHECKING:
    from sim.model import PilotModel


class NoITFRebalance(Lever):
    """The baseline's sector split of research money."""

    def sector_weights(self, year: int, base: np.ndarray) -> np.ndarray:
        """Budget share by sector in ``year``, given the baseline's ``base`` weights."""
        return base

    def itf_share(self, year: int) -> float:
        """Share of the research budget that the lever re-weights (none when off)."""
        return 0.0


class ITFRebalance(NoITFRebalance):
    """The ITF's money re-weighted toward traditional sectors from ``start_year``."""

    def __init__(self, model: PilotModel, spec: ITFRebalanceSpec) -> None:
        super().__init__(model)
        self.spec = spec
        from sim.agents.research_lab import sector_weights

        self.itf_weights = sector_weights(spec.high_end_share, spec.traditional_share)

    def active(self, year: int) -> bool:
        return self.spec.active(year)

    def itf_share(self, year: int) -> float:
        if not self.active(year):
            return 0.0
        labs = self.model.labs
        total = sum(labs.total_budget_hkd_m(year, i) for i in FUNDED_INSTITUTIONS)
        return min(1.0, self.spec.itf_hkd_m_per_year / total) if total > 0 else 0.0

    def sector_weights(self, year: int, base: np.ndarray) -> np.ndarray:
        if not self.active(year):
            return base
        s = self.itf_share(year)
        return s * self.itf_weights + (1.0 - s) * base


def make(model: PilotModel) -> NoITFRebalance:
    """The lever a scenario asks for: ``NoITFRebalance`` when it is switched off."""
    spec = model.spec.itf_rebalance
    return ITFRebalance(model, spec) if spec.enabled else NoITFRebalance(model)
