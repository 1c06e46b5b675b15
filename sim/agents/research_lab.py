"""Research labs: research groups in universities and government R&D centres (0-1).

Budgets follow Hong Kong's R&D spending (GERD by higher education and by government, C&SD
table 207), split across sectors by the ITF allocation. Levers act through
``model.policies``: ``rd_funding`` scales the budgets, ``itf_rebalance`` re-weights the ITF's
part of the sector split, ``innohk`` appends research groups of its own institution type with
their own budget. Each quarter a lab starts research projects at a Poisson rate proportional
to its budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sim.agents.base import Population, PopulationAgent, column
from sim.drivers import input_path
from sim.params import HIGH_END_SECTORS, SECTORS, TRADITIONAL_SECTORS
from sim.projects import FUNDED_INSTITUTIONS, INSTITUTIONS, RD_CENTRE, UNIVERSITY
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    from sim.model import PilotModel


class ResearchLab(PopulationAgent):
    """A research group; ``budget_hkd_m_per_q`` is this quarter's research budget."""

    population_attr = "labs"
    institution_code = column(
        "institution", "0 university, 1 government R&D centre, 2 InnoHK-style centre"
    )
    sector_code = column("sector", "index into sim.params.SECTORS")
    applied_orientation = column("applied", "0-1: how applied the lab's research is")
    budget_hkd_m_per_q = column("budget_hkd_m_per_q", "sample units, HKD m per quarter")
    projects_started = column("projects_started", "research projects started so far")

    @property
    def institution(self) -> str:
        return INSTITUTIONS[self.institution_code]

    @property
    def sector(self) -> str:
        return SECTORS[self.sector_code]


def sector_weights(high_end_share: float, traditional_share: float) -> np.ndarray:
    """Budget share of each sector: high-end and traditional shares split evenly."""
    w = np.zeros(len(SECTORS))
    for s in HIGH_END_SECTORS:
        w[SECTORS.index(s)] = high_end_share / len(HIGH_END_SECTORS)
    for s in TRADITIONAL_SECTORS:
        w[SECTORS.index(s)] = traditional_share / len(TRADITIONAL_SECTORS)
    w[SECTORS.index("other")] = 1.0 - high_end_share - traditional_share
    return w


class ResearchLabs(Population):
    """All labs. The number of labs is fixed; budgets per lab follow total spending."""

    agent_cls: ClassVar = ResearchLab
    dtypes: ClassVar = {
        "institution": np.int8,
        "sector": np.int8,
        "applied": np.float64,
        "budget_hkd_m_per_q": np.float64,
        "projects_started": np.int32,
    }

    def __init__(self, model: PilotModel) -> None:
        super().__init__(model)
        self._budget_key: tuple | None = None  # what this quarter's budgets were set from
        spec = model.spec.research
        rng = model.streams.init
        base_w = sector_weights(spec.high_end_share, spec.traditional_share)
        for inst, budget, applied in (
            (UNIVERSITY, spec.higher_education_rd_hkd_m[0], spec.applied_orientation_university),
            (RD_CENTRE, spec.government_rd_hkd_m[0], spec.applied_orientation_rd_centre),
        ):
            n = max(1, round(budget * model.scale / spec.budget_per_lab_hkd_m))
            sectors = rng.choice(len(SECTORS), size=n, p=base_w)
            # Beta(4a, 4(1-a)) has mean a: orientation varies between groups.
            a = np.clip(applied, 0.01, 0.99)
            self.add(
                n,
                institution=inst,
                sector=sectors,
                applied=rng.beta(4 * a, 4 * (1 - a), size=n),
            )

    def total_budget_hkd_m(self, year: int, institution: int) -> float:
        """Full-economy research budget of one institution type in ``year`` (HKD m/yr)."""
        spec = self.model.spec.research
        series = (
            spec.higher_education_rd_hkd_m
            if institution == UNIVERSITY
            else spec.government_rd_hkd_m
        )
        return input_path(series, year, spec.budget_growth_after_2022)

    def funded_budget_hkd_m(self, year: int, with_levers: bool = True) -> float:
        """Full-economy budget of university and R&D-centre labs in ``year`` (HKD m/yr),
        with the ``rd_funding`` lever's multiplier once it runs (unless ``with_levers`` is
        False)."""
        base = sum(self.total_budget_hkd_m(year, i) for i in FUNDED_INSTITUTIONS)
        if not with_levers:
            return base
        return base * self.model.policies.rd_funding.budget_multiplier(year)

    def sector_weights(self, year: int) -> np.ndarray:
        """Budget share by sector: the ITF allocation, with ``itf_rebalance``'s once it starts."""
        m = self.model
        r = m.spec.research
        base = sector_weights(r.high_end_share, r.traditional_share)
        policies = getattr(m, "policies", None)  # None while the model is being built
        return base if policies is None else policies.itf_rebalance.sector_weights(year, base)

    def set_budgets(self) -> None:
        """Set this quarter's budgets of university and government R&D centre labs.

        ``rd_funding`` scales them from its start year and books the extra itself; so does
        ``innohk`` for its own groups, whose budgets are not touched here.
        """
        m = self.model
        multiplier = m.policies.rd_funding.budget_multiplier(m.year)
        weights = self.sector_weights(m.year)
        # Budgets change with the year and the levers only (labs neither enter nor exit).
        key = (m.year, multiplier, weights.tobytes(), self.cols.n)
        if key == self._budget_key:
            return
        self._budget_key = key
        inst, sector = self.cols["institution"], self.cols["sector"]
        budget = self.cols["budget_hkd_m_per_q"]
        for i in FUNDED_INSTITUTIONS:
            base_q = self.total_budget_hkd_m(m.year, i) * m.scale / QUARTERS_PER_YEAR
            total_q = base_q * multiplier
            mine = inst == i
            n_by_sector = np.bincount(sector[mine], minlength=len(SECTORS))
            # Sectors without labs of this type pass their share to the others.
            w = np.where(n_by_sector > 0, weights, 0.0)
            w = w / w.sum()
            per_lab = np.divide(
                total_q * w, n_by_sector, out=np.zeros(len(SECTORS)), where=n_by_sector > 0
            )
            budget[mine] = per_lab[sector[mine]]

    def step(self) -> None:
        """Start this quarter's research projects."""
        m = self.model
        spec = m.spec.research
        rng = m.streams.research
        counts = rng.poisson(self.cols["budget_hkd_m_per_q"] * spec.projects_per_hkd_m)
        self.cols["projects_started"] += counts.astype(np.int32)
        labs = np.repeat(np.arange(self.cols.n), counts)
        if labs.size:
            m.pipeline.start_research(labs, self.cols["sector"][labs])
