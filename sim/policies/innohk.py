"""InnoHK-style research centres (``innohk``): extra applied research groups from a start year.

InnoHK (2018 Policy Address: HKD 10,000 m; 28 laboratories in two clusters, Health@InnoHK
and AIR@InnoHK) funds collaborative research centres that are meant to be closer to
application than university research. From ``start_year`` this lever founds research
groups of a new institution type (``INNOHK`` in ``sim.projects``), rows appended
to ``model.labs``:

- their number is the annual budget over ``research.budget_per_lab_hkd_m`` (groups the size
  of the other labs' in 2015), at least one; each gets an equal share of
  ``budget_hkd_m_per_year``, held flat (assumption: a fixed-term funding commitment);
- their sectors follow ``sector_shares`` (largest remainders, no draw) and their applied
  orientation has mean ``applied_orientation``, spread as the quantiles of the same
  Beta(4a, 4(1 - a)) the other labs draw from (no draw either);
- they start research projects at the labs' usual rate per HKD m, and those projects go
  through the normal pipeline and route choices (applied labs shelve less).

The budget is public spend, booked each quarter by ``begin_quarter``. Before the start year
nothing is added, so every draw and output equals the baseline's. The labs' sector-split
budgets (``ResearchLabs.set_budgets``) never touch these rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import beta

from sim.params import SECTORS, InnoHKSpec
from sim.policies.base import Lever
from sim.projects import INNOHK
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    from sim.model import PilotModel


class NoInnoHK(Lever):
    """No centres: no groups, no spend."""

    rows: np.ndarray = np.zeros(0, dtype=np.int64)


def allocate(n: int, shares: dict[str, float]) -> np.ndarray:
    """``n`` sector codes in the given shares (largest remainders), interleaved by sector."""
    p = np.array([shares.get(s, 0.0) for s in SECTORS])
    exact = n * p / p.sum()
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    # Interleave: the j-th group of a sector with c groups sits at (j + 0.5) / c, so that each
    # sector gets groups across the whole range of applied orientation.
    codes = np.repeat(np.arange(len(SECTORS)), counts)
    pos = np.concatenate([(np.arange(c) + 0.5) / c for c in counts if c > 0])
    return codes[np.argsort(pos, kind="stable")]


class InnoHKCentres(NoInnoHK):
    """Research centres funded from ``start_year``."""

    def __init__(self, model: PilotModel, spec: InnoHKSpec) -> None:
        super().__init__(model)
        self.spec = spec
        self.founded = False

    def active(self, year: int) -> bool:
        return self.spec.active(year) and self.spec.budget_hkd_m_per_year > 0

    def found(self) -> np.ndarray:
        """Append the centres' research groups to ``model.labs``; returns their rows."""
        m, spec = self.model, self.spec
        budget_q = spec.budget_hkd_m_per_year * m.scale / QUARTERS_PER_YEAR  # sample units
        per_group_year = m.spec.research.budget_per_lab_hkd_m
        n = max(1, round(spec.budget_hkd_m_per_year * m.scale / per_group_year))
        a = spec.applied_orientation
        applied = beta.ppf((np.arange(n) + 0.5) / n, 4 * a, 4 * (1 - a))
        return m.labs.add(
            n,
            institution=INNOHK,
            sector=allocate(n, spec.sector_shares),
            applied=applied,
            budget_hkd_m_per_q=budget_q / n,
        )

    def begin_quarter(self) -> None:
        """Found the centres in the first active quarter; book the quarter's budget."""
        m = self.model
        if not self.active(m.year):
            return
        if not self.founded:
            self.rows = self.found()
            self.founded = True
        m.ledger.add("public_spend", self.spec.budget_hkd_m_per_year * m.scale / QUARTERS_PER_YEAR)


def make(model: PilotModel) -> NoInnoHK:
    """The lever a scenario asks for: ``NoInnoHK`` when it is switched off."""
    spec = model.spec.innohk
    return InnoHKCentres(model, spec) if spec.enabled else NoInnoHK(model)
