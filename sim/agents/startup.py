"""Startups in Hong Kong: exogenous entry plus lab spin-offs, cash and runway, exit.

Most startups are not lab spin-offs: they enter at an exogenous, growing rate, and a share
of them ("hardware" startups) carry a product that needs pilot-scale testing. Startups burn
cash on staff, raise rounds out of Hong Kong's venture investment (a scarce pool: the more
startups, the smaller each one's chance), hire with the money they raise, earn from
products in market, and exit at a hazard that jumps when the cash runs out. A startup that
moves its pilot north may move too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sim.agents.base import Population, PopulationAgent, column
from sim.drivers import venture_investment_hkd_m
from sim.params import FIRST_YEAR, SECTORS
from sim.units import QUARTERS_PER_YEAR, per_quarter

if TYPE_CHECKING:
    from sim.model import PilotModel


class Startup(PopulationAgent):
    """A startup; ``alive`` is False once it closed or moved north."""

    population_attr = "startups"
    sector_code = column("sector", "index into sim.params.SECTORS")
    cash_hkd_m = column("cash_hkd_m", "sample units, HKD m")
    employees = column("employees", "persons")
    born_q = column("born_q", "quarter of entry (0 = 2015Q1)")
    spin_off = column("spin_off", "True if spun off from a Hong Kong lab")
    relocated = column("relocated", "True if it moved its headquarters north")

    @property
    def sector(self) -> str:
        return SECTORS[self.sector_code]


class Startups(Population):
    agent_cls: ClassVar = Startup
    dtypes: ClassVar = {
        "sector": np.int8,
        "cash_hkd_m": np.float64,
        "employees": np.float64,
        "born_q": np.int16,
        "spin_off": np.bool_,
        "relocated": np.bool_,
        "income_hkd_m": np.float64,  # product income this quarter (set by accounting)
        "closed_q": np.int16,  # quarter it closed, -1 while open or if it moved north
    }

    def __init__(self, model: PilotModel) -> None:
        super().__init__(model, capacity=4096)
        spec = model.spec.startups
        rng = model.streams.init
        n = round(spec.initial_count * model.scale)
        # Initial startups have ages spread over the past three years (assumption), and the
        # staff they would have hired from 2015's rounds at that age.
        age_q = rng.integers(0, 12, size=n)
        raised_per_year = (
            spec.venture_share_raised
            * venture_investment_hkd_m(spec, FIRST_YEAR)
            / max(spec.initial_count, 1)
        )
        self.add(
            n,
            sector=self._draw_sectors(rng, n),
            cash_hkd_m=rng.exponential(spec.seed_cash_hkd_m, size=n),
            employees=np.minimum(
                spec.initial_employees
                + spec.hires_per_hkd_m_raised * raised_per_year * age_q / QUARTERS_PER_YEAR,
                spec.max_employees,
            ),
            born_q=-age_q,
            closed_q=-1,
        )

    def _draw_sectors(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Startups' sectors follow the research allocation (assumption)."""
        return rng.choice(len(SECTORS), size=n, p=self.model.labs.sector_weights(2015))

    def enter(self) -> None:
        """Exogenous entry; hardware startups bring a project into the pilot stage."""
        m = self.model
        spec = m.spec.startups
        rng = m.streams.startups
        k = int(rng.poisson(self._entry_rate_per_q() * m.scale))
        if k == 0:
            return
        sectors = self._draw_sectors(rng, k)
        rows = self.add(
            k,
            sector=sectors,
            cash_hkd_m=rng.exponential(spec.seed_cash_hkd_m, size=k),
            employees=spec.initial_employees,
            born_q=m.t,
            closed_q=-1,
        )
        hardware = rng.random(k) < spec.hardware_share
        if hardware.any():
            m.pipeline.start_own_projects(rows[hardware], sectors[hardware])

    def _entry_rate_per_q(self) -> float:
        """Exogenous entry this quarter (full economy), from its two drivers.

        entry = entry_2015 x (research spending / 2015's)^e_R x (venture money / 2015's)^e_V.
        Research spending is the labs' funded budget this year (data to 2019, then its
        growth path and any rd_funding lever); venture investment follows the data to 2019
        and ``venture_growth_after_2019`` after. Before 2015 (burn-in) both are 2015's.
        """
        m = self.model
        spec = m.spec.startups
        year = max(m.year, FIRST_YEAR)
        research = m.labs.funded_budget_hkd_m(year) / m.labs.funded_budget_hkd_m(
            FIRST_YEAR, with_levers=False
        )
        venture = venture_investment_hkd_m(spec, year) / venture_investment_hkd_m(spec, FIRST_YEAR)
        level = research**spec.entry_research_elasticity * venture**spec.entry_funding_elasticity
        return spec.entry_per_year_2015 * level / QUARTERS_PER_YEAR

    def _existing(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` living startups drawn at random (burn-in owners of projects)."""
        alive = np.flatnonzero(self.alive)
        return alive[(rng.random(k) * alive.size).astype(np.int64)]

    def burn_in_projects(self) -> None:
        """Burn-in: hardware projects at 2015's entry rate, owned by existing startups.

        The 2015 stock of startups is taken from the data, so burn-in projects belong to it
        rather than to new entrants.
        """
        m = self.model
        spec = m.spec.startups
        rng = m.streams.startups
        k = int(rng.poisson(self._entry_rate_per_q() * spec.hardware_share * m.scale))
        if k and self.n_alive:
            owners = self._existing(rng, k)
            m.pipeline.start_own_projects(owners, self.cols["sector"][owners])

    def spin_off(self, sectors: np.ndarray) -> np.ndarray:
        """New startups spun off from labs; returns their rows.

        In the burn-in the spin-off is one of the 2015 startups (marked as a spin-off), so the
        2015 stock stays as the data give it.
        """
        m = self.model
        spec = m.spec.startups
        k = len(sectors)
        if m.burning_in and self.n_alive:
            rows = self._existing(m.streams.startups, k)
            self.cols["spin_off"][rows] = True
            return rows
        return self.add(
            k,
            sector=sectors,
            cash_hkd_m=m.streams.startups.exponential(spec.seed_cash_hkd_m, size=k),
            employees=spec.initial_employees,
            born_q=m.t,
            spin_off=True,
            closed_q=-1,
        )

    def relocate(self, rows: np.ndarray) -> None:
        """Startups that move north leave Hong Kong's stock of startups."""
        self.cols["relocated"][rows] = True
        self.remove(rows)

    def rounds_per_quarter(self) -> float:
        """Funding rounds Hong Kong's venture investment pays for this quarter (model scale):
        ``venture_share_raised x venture investment / mean round``. Before 2015 (burn-in),
        2015's."""
        m = self.model
        spec = m.spec.startups
        if spec.funding_round_hkd_m <= 0:
            return 0.0
        year = max(m.year, FIRST_YEAR)
        money = spec.venture_share_raised * venture_investment_hkd_m(spec, year) * m.scale
        return money / spec.funding_round_hkd_m / QUARTERS_PER_YEAR

    def step(self) -> None:
        """Raise rounds, hire with them, burn cash, earn, and exit.

        The quarter's rounds are shared at random among living startups (each has the same
        chance, at most one round a quarter), so venture money is scarce: entry beyond its
        growth lowers each startup's chance. A round of size R hires
        ``hires_per_hkd_m_raised x R`` people, who are then paid every quarter.
        """
        m = self.model
        spec = m.spec.startups
        rng = m.streams.startups
        alive = self.alive
        n = self.cols.n
        emp = self.cols["employees"]
        cash = self.cols["cash_hkd_m"]
        chance = min(1.0, self.rounds_per_quarter() / max(self.n_alive, 1))
        raised = alive & (rng.random(n) < chance)
        round_size = rng.exponential(spec.funding_round_hkd_m, size=n) * raised
        emp[:] = np.minimum(emp + spec.hires_per_hkd_m_raised * round_size, spec.max_employees)
        cash += alive * (
            round_size
            + self.cols["income_hkd_m"]
            - emp * spec.cost_per_employee_hkd_m / QUARTERS_PER_YEAR
        )
        self.cols["income_hkd_m"] = 0.0
        hazard = per_quarter(spec.exit_hazard) + (cash < 0) * spec.broke_exit_hazard_per_quarter
        exits = np.flatnonzero(alive & (rng.random(n) < hazard))
        if exits.size:
            self.cols["closed_q"][exits] = m.t
            self.remove(exits)
            m.pipeline.owner_closed(exits)

    # outputs -----------------------------------------------------------------------------
    def count(self) -> int:
        return self.n_alive

    def employment(self) -> float:
        return float(self.cols["employees"][self.alive].sum())
