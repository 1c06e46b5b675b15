"""What all agent types share: identity in a Mesa agent, numbers in a population's columns.

A ``Population`` owns the columnar state of one agent type and updates it vectorised; each
row has a thin ``mesa.Agent`` (``PopulationAgent``) so that ``model.agents_by_type``,
notebooks and the dashboard see real Mesa agents whose attributes read the arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import mesa
import numpy as np

from sim.columns import Columns
from sim.params import SECTORS

if TYPE_CHECKING:
    from sim.model import PilotModel


def column(name: str, doc: str = "") -> property:
    """A read-only agent attribute backed by its population's column ``name``."""

    def get(self: PopulationAgent) -> Any:
        return self.population.cols[name][self.row].item()

    return property(get, doc=doc or name)


class SectorIndex(NamedTuple):
    """Rows grouped by sector, for picking a row of a wanted sector at a uniform position."""

    rows: np.ndarray  # the rows, stably sorted by sector
    counts: np.ndarray  # rows per sector code
    starts: np.ndarray  # position of each sector's first row in ``rows``

    @classmethod
    def of(cls, rows: np.ndarray, row_sectors: np.ndarray, n_sectors: int) -> SectorIndex:
        counts = np.bincount(row_sectors, minlength=n_sectors)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        return cls(rows[np.argsort(row_sectors, kind="stable")], counts, starts)

    def pick(self, wanted: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each wanted sector, the row at position ``u`` in [0, 1) among that sector's
        rows (-1 where it has none), and each wanted sector's row count."""
        n = self.counts[wanted]
        if self.rows.size == 0:
            return np.full(wanted.size, -1, dtype=np.int64), n
        offset = (u * np.maximum(n, 1)).astype(np.int64)
        pos = np.minimum(self.starts[wanted] + offset, self.rows.size - 1)
        return np.where(n > 0, self.rows[pos], -1), n


def pick_by_sector(
    rows: np.ndarray, row_sectors: np.ndarray, wanted: np.ndarray, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each wanted sector, the row of that sector at uniform position ``u`` in [0, 1).

    Returns the picked rows (-1 where the sector has none) and each sector's row count.
    """
    n_sectors = int(wanted.max(initial=0)) + 1
    return SectorIndex.of(rows, row_sectors, n_sectors).pick(wanted, u)


class PopulationAgent(mesa.Agent):
    """A Mesa agent whose numeric state is row ``row`` of its population's columns."""

    population_attr: ClassVar[str] = ""  # name of the Population on the model

    def __init__(self, model: PilotModel, row: int) -> None:
        super().__init__(model)
        self.row = int(row)

    @classmethod
    def create_rows(cls, model: PilotModel, rows: list[int]) -> list[PopulationAgent]:
        """The Mesa agents of many new rows, registered with the model in one call.

        Populations add agents by the thousand (76,000 over a full-scale run), and Mesa's
        constructor, called per agent, was a fifth of a run (docs/performance.md). This
        sets the attributes ``mesa.Agent.__init__`` sets (``model``, ``pos``, then
        ``unique_id`` on registration) and registers the batch through
        ``PilotModel.register_agents``. tests/test_agent_registry.py checks that an agent
        made here has exactly the attributes and registration of one made by ``cls(model,
        row)``; if Mesa's constructor changes, that test fails. Agent types that a Mesa
        dataset tracks go through the constructor.
        """
        if cls._datasets:
            return [cls(model, r) for r in rows]
        new = object.__new__
        agents = []
        for r in rows:
            agent = new(cls)
            agent.model, agent.pos, agent.row = model, None, r
            agents.append(agent)
        model.register_agents(agents)
        return agents

    @property
    def population(self) -> Population:
        return getattr(self.model, self.population_attr)

    alive = column("alive", "False once the agent has exited (or left Hong Kong)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(unique_id={self.unique_id}, row={self.row})"


class Population:
    """Columnar state of one agent type plus its Mesa agent objects.

    Subclasses declare ``agent_cls`` and ``dtypes`` and implement ``step``.
    """

    agent_cls: ClassVar[type[PopulationAgent]]
    dtypes: ClassVar[Mapping[str, type]]

    def __init__(self, model: PilotModel, capacity: int = 1024) -> None:
        self.model = model
        self.cols = Columns({"alive": np.bool_, **self.dtypes}, capacity)
        self.agents: list[PopulationAgent | None] = []
        self._changes = 0  # agents added or removed so far (keys the sector index)
        self._index: tuple[tuple[int, bool], SectorIndex] | None = None

    def add(self, k: int, **values: Any) -> np.ndarray:
        """Add ``k`` living agents with the given column values; returns their rows."""
        rows = self.cols.append(k, alive=True, **values)
        self._changes += 1
        self.agents.extend(self.agent_cls.create_rows(self.model, rows.tolist()))
        return rows

    def remove(self, rows: np.ndarray) -> None:
        """Rows exit: ``alive`` turns False and their Mesa agents leave the model."""
        self.cols["alive"][rows] = False
        self._changes += 1
        agents = self.agents
        leaving = []
        for r in rows.tolist():
            agent = agents[r]
            if agent is not None:
                leaving.append(agent)
                agents[r] = None
        self.model.deregister_agents(leaving)  # what Agent.remove does, minus datasets

    def sector_index(self, living: bool = True) -> SectorIndex:
        """Living rows (or all rows) by sector; kept until an agent enters or exits."""
        key = (self._changes, living)
        if self._index is None or self._index[0] != key:
            rows = np.flatnonzero(self.alive) if living else np.arange(self.cols.n)
            n_sectors = len(SECTORS)
            self._index = (key, SectorIndex.of(rows, self.cols["sector"][rows], n_sectors))
        return self._index[1]

    @property
    def alive(self) -> np.ndarray:
        return self.cols["alive"]

    @property
    def n_alive(self) -> int:
        return int(np.count_nonzero(self.cols["alive"]))

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
