"""How many agents and projects a scenario implies, and the memory check built on it.

"Validation means runnable" (issue 25): a scenario that validates must run to its end at
scale 1 within ``MEMORY_BOUND_BYTES``. Rows of the project book and of the agent
populations are never freed during a run, so a run's memory grows with the rows it ever
creates. ``footprint`` estimates those rows from the parameters alone (no run, no Mesa),
with the model's own formulas for budgets and entry, and ``check_footprint`` rejects a
scenario whose estimate does not fit, naming the parameters that drive it.

The estimate is deliberately generous (it counts every agent row as a living Mesa agent
and ignores startup exits); the cost per row was measured on full-scale runs (see the
constants). ``tests/test_footprint.py`` checks the estimate against real runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.drivers import research_budget_hkd_m, venture_investment_hkd_m
from sim.units import FIRST_YEAR

if TYPE_CHECKING:
    from sim.params import Scenario

#: The memory a validated scenario may use at scale 1: issue 25, "What must hold" 2.
MEMORY_BOUND_BYTES = 2 * 1024**3
#: Peak resident memory of a full-scale baseline run (about 265 MB measured, 2015-2035,
#: 40,000 projects and 76,000 agent rows), rounded up: interpreter, libraries, recorder.
BASE_BYTES = 300 * 1024**2
#: Memory per project row: 640 B measured (285,000 rows at research.projects_per_hkd_m
#: 0.47 took 157 MB more than the baseline's 39,000), rounded up; it includes the
#: capacity doubling of ``sim.columns.Columns`` and the pipeline's per-row temporaries.
PROJECT_ROW_BYTES = 700
#: Memory per agent row: 360 B measured per living Mesa agent (103,000 labs at
#: research.budget_per_lab_hkd_m 0.1 took 36 MB more), rounded up; a dead startup's row
#: costs far less, so counting every row at this price overstates.
AGENT_ROW_BYTES = 400
#: The smallest scale at which the bound is checked: a scenario valid at scale 0.05 must
#: also run at scale 1 (at larger scales, at that scale).
CHECK_SCALE = 1.0


@dataclass(frozen=True)
class Footprint:
    """Rows a run creates at scale 1 (estimates) and the memory they imply."""

    research_projects: float
    startup_projects: float
    labs: float
    startups: float
    manufacturers: float
    prd_factories: float
    scale: float

    @property
    def projects(self) -> float:
        return self.research_projects + self.startup_projects

    @property
    def agent_rows(self) -> float:
        return self.labs + self.startups + self.manufacturers + self.prd_factories

    @property
    def bytes(self) -> float:
        rows = self.projects * PROJECT_ROW_BYTES + self.agent_rows * AGENT_ROW_BYTES
        return BASE_BYTES + self.scale * rows


#: What drives each estimated count: the parameters a message names.
DRIVERS: dict[str, str] = {
    "research_projects": "research.projects_per_hkd_m x research budgets "
    "(research.higher_education_rd_hkd_m, research.government_rd_hkd_m, "
    "research.budget_growth_after_2022, rd_funding.budget_multiplier, "
    "innohk.budget_hkd_m_per_year) over run.warm_start_years + the horizon (run.end_year)",
    "startup_projects": "startups.entry_per_year_2015 x startups.hardware_share, grown by "
    "startups.entry_research_elasticity and startups.entry_funding_elasticity",
    "labs": "research budgets / research.budget_per_lab_hkd_m",
    "startups": "startups.initial_count + startups.entry_per_year_2015 (grown by "
    "startups.entry_research_elasticity, startups.entry_funding_elasticity, "
    "startups.venture_growth_after_2019) + spin-offs",
    "manufacturers": "manufacturing.initial_count grown by manufacturing.entry_rate - "
    "manufacturing.exit_hazard to run.end_year",
    "prd_factories": "prd.count",
}


def footprint(s: Scenario) -> Footprint:
    """Rows a run of ``s`` creates, estimated from its parameters (scale 1 or larger)."""
    r, st, mf = s.research, s.startups, s.manufacturing
    years = range(FIRST_YEAR, s.run.end_year + 1)
    warm = s.run.warm_start_years

    def multiplier(year: int) -> float:
        return s.rd_funding.budget_multiplier if s.rd_funding.active(year) else 1.0

    def innohk(year: int) -> float:
        return s.innohk.budget_hkd_m_per_year if s.innohk.active(year) else 0.0

    base_2015 = research_budget_hkd_m(r, FIRST_YEAR)
    budgets = {y: research_budget_hkd_m(r, y) * multiplier(y) for y in years}
    research = r.projects_per_hkd_m * (
        warm * base_2015 + sum(budgets[y] + innohk(y) for y in years)
    )
    venture_2015 = venture_investment_hkd_m(st, FIRST_YEAR)

    def entry(year: int) -> float:
        research_index = budgets[year] / base_2015
        venture_index = venture_investment_hkd_m(st, year) / venture_2015
        return (
            st.entry_per_year_2015
            * research_index**st.entry_research_elasticity
            * venture_index**st.entry_funding_elasticity
        )

    entries = sum(entry(y) for y in years)
    labs = sum(
        max(1.0, budget / r.budget_per_lab_hkd_m)
        for budget in (r.higher_education_rd_hkd_m[0], r.government_rd_hkd_m[0])
    )
    if s.innohk.enabled:
        labs += max(1.0, s.innohk.budget_hkd_m_per_year / r.budget_per_lab_hkd_m)
    plants, plant_rows = float(mf.initial_count), float(mf.initial_count)
    for _ in years:
        plant_rows += mf.entry_rate * plants
        plants *= max(0.0, 1.0 + mf.entry_rate - mf.exit_hazard)
    return Footprint(
        research_projects=research,
        startup_projects=st.hardware_share * (warm * st.entry_per_year_2015 + entries),
        labs=labs,
        startups=st.initial_count + entries + research,
        manufacturers=plant_rows,
        prd_factories=float(s.prd.count),
        scale=max(CHECK_SCALE, s.run.scale),
    )


def check_footprint(s: Scenario) -> None:
    """Raise ``ValueError`` naming the parameters if a run of ``s`` would not fit in memory.

    The message lists the largest estimated counts and what drives them; pydantic turns it
    into a ``ScenarioError`` where a scenario is validated.
    """
    fp = footprint(s)
    if fp.bytes <= MEMORY_BOUND_BYTES:
        return
    costs = {
        "research_projects": fp.research_projects * PROJECT_ROW_BYTES,
        "startup_projects": fp.startup_projects * PROJECT_ROW_BYTES,
        "labs": fp.labs * AGENT_ROW_BYTES,
        "startups": fp.startups * AGENT_ROW_BYTES,
        "manufacturers": fp.manufacturers * AGENT_ROW_BYTES,
        "prd_factories": fp.prd_factories * AGENT_ROW_BYTES,
    }
    top = sorted(costs, key=costs.__getitem__, reverse=True)[:2]
    parts = "; ".join(
        f"{getattr(fp, k):.3g} {k.replace('_', ' ')} from {DRIVERS[k]}" for k in top if costs[k]
    )
    raise ValueError(
        f"this scenario implies too many agents or projects to run: at scale {fp.scale:g} "
        f"a run would need about {fp.bytes / 1024**3:,.3g} GB, more than the "
        f"{MEMORY_BOUND_BYTES / 1024**3:g} GB a validated scenario may use (sim/footprint.py); "
        f"largest: {parts}; lower these parameters or the horizon"
    )
