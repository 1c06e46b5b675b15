"""What all agent types share: identity in a Mesa agent, numbers in a population's columns.

A ``Population`` owns the columnar state of one agent type and updates it vectorised; each
row has a thin ``mesa.Agent`` (``PopulationAgent``) so that ``model.agents_by_type``,
notebooks and the dashboard see real Mesa agents whose attributes read the arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import mesa
import numpy as np

from sim.columns import Columns

if TYPE_CHECKING:
    from sim.model import PilotModel


def column(name: str, doc: str = "") -> property:
    """A read-only agent attribute backed by its population's column ``name``."""

    def get(self: PopulationAgent) -> Any:
        return self.population.cols[name][self.row].item()

    return property(get, doc=doc or name)


def pick_by_sector(
    rows: np.ndarray, row_sectors: np.ndarray, wanted: np.ndarray, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each wanted sector, the row of that sector at uniform position ``u`` in [0, 1).

    Returns the picked rows (-1 where the sector has none) and each sector's row count.
    """
    counts = np.bincount(row_sectors, minlength=int(wanted.max(initial=0)) + 1)
    n = counts[wanted]
    if rows.size == 0:
        return np.full(wanted.size, -1, dtype=np.int64), n
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    by_sector = rows[np.argsort(row_sectors, kind="stable")]
    pos = np.minimum(starts[wanted] + (u * np.maximum(n, 1)).astype(np.int64), rows.size - 1)
    return np.where(n > 0, by_sector[pos], -1), n


class PopulationAgent(mesa.Agent):
    """A Mesa agent whose numeric state is row ``row`` of its population's columns."""

    population_attr: ClassVar[str] = ""  # name of the Population on the model

    def __init__(self, model: PilotModel, row: int) -> None:
        super().__init__(model)
        self.row = int(row)

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

    def add(self, k: int, **values: Any) -> np.ndarray:
        """Add ``k`` living agents with the given column values; returns their rows."""
        rows = self.cols.append(k, alive=True, **values)
        cls = self.agent_cls
        self.agents.extend(cls(self.model, r) for r in rows)
        return rows

    def remove(self, rows: np.ndarray) -> None:
        """Rows exit: ``alive`` turns False and their Mesa agents leave the model."""
        self.cols["alive"][rows] = False
        deregister = self.model.deregister_agent  # what Agent.remove does, minus datasets
        agents = self.agents
        for r in rows.tolist():
            agent = agents[r]
            if agent is not None:
                deregister(agent)
                agents[r] = None

    @property
    def alive(self) -> np.ndarray:
        return self.cols["alive"]

    @property
    def n_alive(self) -> int:
        return int(np.count_nonzero(self.cols["alive"]))

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
