"""The Mesa model: builds the populations and fixes the order of a quarter. Nothing else.

One step is one quarter, starting 2015Q1. Within a quarter the processes run in the order
of ``step``; each updates all agents of its type at once from the state left by the
previous process (an explicit, documented sequencing, see docs/ODD.md).

Warm start: before 2015Q1 the research pipeline runs ``run.warm_start_years`` under the
same rules with 2015 inputs (labs, projects, pilots, industrialisation, markets), while the
populations of startups, plants and PRD factories stay as the 2015 data give them, so that
2015 begins with projects in every stage and products in their markets. Burn-in projects
belong to existing startups and plants; their owners' cash is restored after each burn-in
quarter (the burn-in is financed off the books) and nothing is recorded.
"""

from __future__ import annotations

import mesa

from sim.accounting import Ledger, book_quarter
from sim.agents import LocalManufacturers, PRDFactories, ResearchLabs, Startups
from sim.evaluation.panel import NoFirmPanel
from sim.markets import Markets
from sim.metrics import Recorder
from sim.params import FIRST_YEAR, Scenario
from sim.pipeline import Pipeline
from sim.policies import Policies
from sim.policies.platform import NoPlatform
from sim.projects import ProjectBook
from sim.rng import Streams, check_seed
from sim.spillovers import Spillovers
from sim.units import QUARTERS_PER_YEAR


class PilotModel(mesa.Model):
    """Hong Kong's research-to-industry pipeline with an optional pilot-scale platform.

    Args:
        scenario: a validated ``Scenario`` (defaults: the baseline).
        seed: root seed; every process draws from its own stream spawned from it.
    """

    def __init__(self, scenario: Scenario | None = None, seed: int = 0) -> None:
        seed = check_seed(seed)
        super().__init__(rng=seed)
        self.spec = scenario if scenario is not None else Scenario()
        self.seed = seed
        self.scale = self.spec.run.scale
        self.n_quarters = (self.spec.run.end_year - FIRST_YEAR + 1) * QUARTERS_PER_YEAR
        self.t = 0  # quarter index: 0 is 2015Q1, negative in the burn-in
        self.burning_in = False
        self.streams = Streams(seed)
        self.ledger: Ledger = Ledger()
        self.projects: ProjectBook = ProjectBook()
        self.labs: ResearchLabs = ResearchLabs(self)
        self.startups: Startups = Startups(self)
        self.manufacturers: LocalManufacturers = LocalManufacturers(self)
        self.prd: PRDFactories = PRDFactories(self)
        self.policies: Policies = Policies(self)
        self.platform: NoPlatform = self.policies.platform
        self.markets: Markets = Markets(self)
        self.spillovers: Spillovers = Spillovers(self)
        self.pipeline: Pipeline = Pipeline(self)
        self.recorder: Recorder = Recorder(self)
        self.firm_panel: NoFirmPanel = NoFirmPanel()  # sim.evaluation attaches a FirmPanel
        self._warm_start(self.spec.run.warm_start_years * QUARTERS_PER_YEAR)

    def _warm_start(self, n_quarters: int) -> None:
        """Run the research pipeline ``n_quarters`` before 2015Q1 with 2015 inputs."""
        if n_quarters <= 0:
            return
        self.burning_in = True
        cash = self.startups.cols["cash_hkd_m"].copy()
        for t in range(-n_quarters, 0):
            self.t = t
            self._begin_quarter()
            self.labs.step()
            self.startups.burn_in_projects()
            self.pipeline.step()
            self.platform.step()
            book_quarter(self)
            self.startups.cols["cash_hkd_m"][: cash.size] = cash
            self.startups.cols["income_hkd_m"] = 0.0
        self.t = 0
        self.burning_in = False

    def _begin_quarter(self) -> None:
        self.streams.begin_quarter(self.t)
        self.ledger.reset()
        self.labs.set_budgets()
        self.markets.begin_quarter()
        self.spillovers.begin_quarter()
        self.policies.begin_quarter()

    # Agent registry ------------------------------------------------------------------------
    # Startups enter and exit by the tens of thousands over a full-scale run. Mesa's own
    # register/deregister emit observable signals and format a debug message per agent,
    # which measured 4-5x the cost of the bookkeeping itself (benchmarks/agent_registry.py).
    # Nothing in pilotsim observes those signals, so we keep Mesa's bookkeeping (ids,
    # ``agents``, ``agents_by_type``) and skip the signals, through Mesa's public names only:
    # the first agent of each type goes through Mesa's own ``register_agent``, which makes
    # that type's agent set; later agents are added to the sets that the public ``agents``
    # and ``agents_by_type`` return. tests/test_agent_registry.py checks that the result
    # matches Mesa's own methods, so a change in Mesa's bookkeeping fails loudly there.
    def register_agent(self, agent: mesa.Agent) -> None:
        by_type = self.agents_by_type.get(type(agent))
        if by_type is None:
            mesa.Model.register_agent(self, agent)  # Mesa makes the type's agent set
            return
        self.agents.add(agent)
        agent.unique_id = self.agent_id_counter
        self.agent_id_counter += 1
        by_type.add(agent)

    def deregister_agent(self, agent: mesa.Agent) -> None:
        self.agents_by_type[type(agent)].remove(agent)
        self.agents.remove(agent)

    def register_agents(self, agents: list[mesa.Agent]) -> None:
        """``register_agent`` for a batch of agents of one type (ids in list order)."""
        if not agents:
            return
        kind = type(agents[0])
        if kind not in self.agents_by_type:
            self.register_agent(agents[0])
            agents = agents[1:]
        add_all, add_type = self.agents.add, self.agents_by_type[kind].add
        uid: int = self.agent_id_counter  # type: ignore[has-type]
        for agent in agents:
            add_all(agent)
            agent.unique_id = uid
            uid += 1
            add_type(agent)
        self.agent_id_counter = uid

    def deregister_agents(self, agents: list[mesa.Agent]) -> None:
        """``deregister_agent`` for a batch of agents of one type."""
        if not agents:
            return
        remove_all = self.agents.remove
        remove_type = self.agents_by_type[type(agents[0])].remove
        for agent in agents:
            remove_type(agent)
            remove_all(agent)

    @property
    def year(self) -> int:
        return FIRST_YEAR + self.t // QUARTERS_PER_YEAR

    @property
    def quarter(self) -> int:
        return self.t % QUARTERS_PER_YEAR + 1

    def step(self) -> None:
        """One quarter."""
        self._begin_quarter()  # streams, budgets, wages and free lines, levers' fixed costs
        self.labs.step()  # new 0-1 projects
        self.startups.enter()  # new startups, hardware ones with a project
        self.pipeline.step()  # stages advance, end, choose routes and sites
        self.platform.step()  # queue served into freed slots
        book_quarter(self)  # value by place, startup income, market life
        self.startups.step()
        self.manufacturers.step()
        self.prd.step()
        self.recorder.record()
        self.firm_panel.end_quarter()
        self.t += 1
        if self.t >= self.n_quarters:
            self.running = False

    def run(self) -> None:
        """Run to the scenario's end year."""
        while self.running:
            self.step()
