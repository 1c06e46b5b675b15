"""Antenna - mother factory - child factory (``mother_factory``), with a Hong Kong demand signal.

The Tokyo layout the CMA paper proposes: a new product piloted in Hong Kong by a Hong Kong
owner is first made in a small customised "mother factory" line in Hong Kong, selling to
Hong Kong's high-end market (the antenna) for ``demand_test_quarters``. What it sells there
is the demand signal: the product's value draw relative to the mean. A product below
``demand_threshold`` is not scaled up to a PRD child factory; one above it is, with
industrialisation success x ``success_multiplier`` (demand proven before scaling), and the
mother factory keeps ``kept_share`` of mass production (and the pilot / mother-factory
function) in Hong Kong. Each mother-factory line gets a public grant (``book_lines``).

Interface for the pipeline (which applies the attributes to the eligible rows only):
``eligible(hk_owner, piloted_in_hk)``, ``success_multiplier``, ``demand_test_quarters``,
``kept_share``, ``demand_threshold`` and ``book_lines(n)``. The null object makes nothing
eligible and its attributes are neutral. The lever draws no random number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import MotherFactorySpec
from sim.policies.base import Lever

if TYPE_CHECKING:
    from sim.model import PilotModel


class NoMotherFactory(Lever):
    """No mother factories: nothing eligible, neutral terms, no grant."""

    success_multiplier: float = 1.0
    demand_test_quarters: int = 0
    kept_share: float = 0.0
    demand_threshold: float = 0.0

    def eligible(self, hk_owner: np.ndarray, piloted_in_hk: np.ndarray) -> np.ndarray:
        """Products that go through a Hong Kong mother factory now (bool per product)."""
        return np.zeros(np.shape(hk_owner), dtype=bool)

    def book_lines(self, n: int) -> None:
        """Pay the grant of ``n`` new mother-factory lines (sample units)."""


class MotherFactory(NoMotherFactory):
    """The layout from ``start_year``."""

    def __init__(self, model: PilotModel, spec: MotherFactorySpec) -> None:
        super().__init__(model)
        self.spec = spec
        self.success_multiplier = 1.0 + spec.success_uplift
        self.demand_test_quarters = spec.demand_test_quarters
        self.kept_share = spec.mother_share_of_production
        self.demand_threshold = spec.demand_threshold

    def active(self, year: int) -> bool:
        return self.spec.active(year)

    def eligible(self, hk_owner: np.ndarray, piloted_in_hk: np.ndarray) -> np.ndarray:
        ok = np.asarray(hk_owner, dtype=bool) & np.asarray(piloted_in_hk, dtype=bool)
        return ok & self.active(self.model.year)

    def book_lines(self, n: int) -> None:
        if n > 0 and self.active(self.model.year):
            self.model.ledger.add("public_spend", n * self.spec.line_grant_hkd_m)


def make(model: PilotModel) -> NoMotherFactory:
    """The lever a scenario asks for: ``NoMotherFactory`` when it is switched off."""
    spec = model.spec.mother_factory
    return MotherFactory(model, spec) if spec.enabled else NoMotherFactory(model)
