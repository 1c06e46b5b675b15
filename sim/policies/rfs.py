"""A Re-industrialisation-Funding-Scheme-style matching grant (``rfs``) for HK production lines.

The scheme's published terms (hk_pipeline_evidence row ``rfs_matching_share``, news.gov.hk
2020-07-27): the government pays 1 for every 2 from the company, i.e. a third of the cost of
a new production line set up in Hong Kong, capped at HKD 15 m per line, paid on completion.
Its launch budget was HKD 2,000 m (row ``rfs_budget``); about 100 lines were supported by
2025 (row ``rfs_nifs_lines_supported``). Here the grant goes to projects industrialised in
Hong Kong (a Hong Kong production line), first come first served within an annual budget.

Interface for the pipeline: ``grant_hkd_m(cost)`` gives the grant each Hong Kong line of that
full-economy cost would get now (zeros when off, before the start year or once this year's
budget is committed); the owner compares its net cost across sites; ``award(grants)`` commits
the grants of the lines actually set up in Hong Kong against the year's budget and books them
as public spend. The lever draws no random number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import RFSSpec
from sim.policies.base import Lever

if TYPE_CHECKING:
    from sim.model import PilotModel


class NoRFS(Lever):
    """No scheme: no grant, nothing booked."""

    def grant_hkd_m(self, cost_hkd_m: np.ndarray) -> np.ndarray:
        """Grant per line (full-economy HKD m) for Hong Kong lines of the given cost."""
        return np.zeros(np.shape(cost_hkd_m))

    def award(self, grants_hkd_m: np.ndarray) -> None:
        """Commit and book the grants of lines set up in Hong Kong (nothing when off)."""
        if np.any(np.asarray(grants_hkd_m) != 0):
            raise RuntimeError("no RFS scheme: it cannot award grants")

    def remaining_hkd_m(self) -> float:
        """This year's budget not yet committed (sample units)."""
        return 0.0


class RFSGrant(NoRFS):
    """The matching grant from ``start_year`` within ``annual_budget_hkd_m``."""

    def __init__(self, model: PilotModel, spec: RFSSpec) -> None:
        super().__init__(model)
        self.spec = spec
        self._year: int | None = None
        self._committed = 0.0  # sample units, this year

    def active(self, year: int) -> bool:
        return self.spec.active(year)

    def remaining_hkd_m(self) -> float:
        m = self.model
        if not self.active(m.year):
            return 0.0
        if self._year != m.year:  # a new budget year
            self._year, self._committed = m.year, 0.0
        return self.spec.annual_budget_hkd_m * m.scale - self._committed

    def grant_hkd_m(self, cost_hkd_m: np.ndarray) -> np.ndarray:
        cost = np.asarray(cost_hkd_m, dtype=np.float64)
        remaining = self.remaining_hkd_m()
        if remaining <= 0:
            return np.zeros(cost.shape)
        s = self.spec
        grant = np.minimum(cost * s.government_share_of_cost, s.cap_hkd_m)
        # One sample line stands for 1/scale lines of the economy, so in sample units it
        # commits its full-economy grant; lines are served in order until the budget is out.
        fits = np.cumsum(grant) <= remaining * (1 + 1e-12)
        return np.where(fits, grant, 0.0)

    def award(self, grants_hkd_m: np.ndarray) -> None:
        total = float(np.sum(grants_hkd_m))
        if total <= 0:
            return
        self.remaining_hkd_m()  # rolls the budget year over if needed
        self._committed += total
        self.model.ledger.add("public_spend", total)


def make(model: PilotModel) -> NoRFS:
    """The lever a scenario asks for: ``NoRFS`` when it is switched off."""
    spec = model.spec.rfs
    return RFSGrant(model, spec) if spec.enabled else NoRFS(model)
