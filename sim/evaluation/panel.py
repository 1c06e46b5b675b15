"""A firm panel: what an evaluator's survey or business register would record each year.

The published client studies (``sim.evaluation.designs``) compare firms, not projects, so a
run that is to be evaluated records a yearly panel of the Hong Kong firms the model has as
agents, startups and local manufacturers (Mainland and overseas owners are not agents, and a
Hong Kong evaluation would not observe them either). Per firm and year, while it is in Hong
Kong and for the year it leaves:

- ``value_added_hkd_m``: its own value added (a plant's staff x productivity x value added per
  worker; a startup has none until it sells) plus the value added of the products it owns in
  market, after crowding (``sim.accounting.market_value_hkd_m_per_q``), over the year. The
  studies' sales or turnover are read as value added (assumption: the model has no
  intermediate inputs);
- ``employees``: its own staff plus the jobs its products sustain at manufacturing value added
  per worker (assumption: the products' jobs are the owner's, as a firm's sales employ its
  staff);
- ``pilots`` and ``platform_pilots``: pilots it started in the year, anywhere and on the
  platform (the studies' "R&D activity" and "client" status);
- ``alive``: False in the year it closed or moved north (the last row of the firm).

A firm is ``(kind, row)``: rows of a population are never reused, and a baseline and a policy
run with the same seed have the same firms with the same history until the policy starts
(``sim.rng``), which is what makes the baseline run the firms' counterfactual twin.

``NoFirmPanel`` is what a model records by default: nothing, at no cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.projects import Owner, Stage, Status
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    import pandas as pd

    from sim.model import PilotModel

#: The firm kinds of the panel, by their ``Owner`` code.
KINDS: dict[int, str] = {
    int(Owner.STARTUP): "startup",
    int(Owner.LOCAL_MANUFACTURER): "manufacturer",
}
_POPULATION: dict[int, str] = {
    int(Owner.STARTUP): "startups",
    int(Owner.LOCAL_MANUFACTURER): "manufacturers",
}
#: Yearly flows accumulated over a year's quarters, per firm.
FLOWS = ("product_value_hkd_m", "pilots", "platform_pilots")


class NoFirmPanel:
    """Records nothing (the default of every run)."""

    def book_products(self, rows: np.ndarray, value: np.ndarray) -> None:
        pass

    def pilots_started(self, rows: np.ndarray, on_platform: np.ndarray) -> None:
        pass

    def end_quarter(self) -> None:
        pass


class FirmPanel(NoFirmPanel):
    """Records the yearly panel of Hong Kong firms from ``first_year`` (module docstring).

    Attach it before the run: ``model.firm_panel = FirmPanel(model, first_year)``.
    """

    def __init__(self, model: PilotModel, first_year: int) -> None:
        self.model = model
        self.first_year = first_year
        self._flows: dict[int, dict[Any, np.ndarray]] = {
            k: {f: np.zeros(0) for f in FLOWS} for k in KINDS
        }
        self._own_va: dict[Any, np.ndarray] = {k: np.zeros(0) for k in KINDS}
        self._years: list[dict[str, np.ndarray]] = []
        self._gone: dict[int, np.ndarray] = {k: np.zeros(0, dtype=bool) for k in KINDS}

    def _acc(self, kind: int, name: str) -> np.ndarray:
        """The accumulator ``name`` (a flow, or ``own_va``) of ``kind``, grown to the
        population's rows."""
        n = getattr(self.model, _POPULATION[kind]).cols.n
        store = self._own_va if name == "own_va" else self._flows[kind]
        key: Any = kind if name == "own_va" else name
        a = store[key]
        if a.size < n:
            a = np.concatenate([a, np.zeros(max(n, 2 * a.size) - a.size)])
            store[key] = a
        return a

    def _add(self, kind: int, name: str, owners: np.ndarray, amount: np.ndarray) -> None:
        np.add.at(self._acc(kind, name), owners, amount)

    def book_products(self, rows: np.ndarray, value: np.ndarray) -> None:
        """This quarter's value added (HKD m) of products ``rows`` in market, to owners."""
        b = self.model.projects
        owner = b["owner"][rows]
        for kind in KINDS:
            mine = owner == kind
            if mine.any():
                self._add(kind, "product_value_hkd_m", b["owner_row"][rows[mine]], value[mine])

    def pilots_started(self, rows: np.ndarray, on_platform: np.ndarray) -> None:
        """Pilots ``rows`` started this quarter, ``on_platform`` those on the platform."""
        b = self.model.projects
        owner = b["owner"][rows]
        for kind in KINDS:
            mine = owner == kind
            if mine.any():
                who = b["owner_row"][rows[mine]]
                self._add(kind, "pilots", who, np.ones(who.size))
                self._add(kind, "platform_pilots", who, on_platform[mine].astype(float))

    def end_quarter(self) -> None:
        """Add the quarter's own value added; at a year's end, write the year's rows."""
        m = self.model
        plants = m.manufacturers
        own = self._acc(Owner.LOCAL_MANUFACTURER, "own_va")
        n = plants.cols.n
        per_worker = m.spec.manufacturing.va_per_worker_hkd_m / QUARTERS_PER_YEAR
        own[:n] += (
            np.where(
                plants.alive[:n],
                plants.cols["employees"][:n] * plants.cols["productivity"][:n],
                0.0,
            )
            * per_worker
        )
        if m.quarter == QUARTERS_PER_YEAR:
            if m.year >= self.first_year:
                self._write_year()
            else:
                self._mark_gone()
            for kind in KINDS:
                self._acc(kind, "own_va")
                for f in FLOWS:
                    self._flows[kind][f][:] = 0.0
                self._own_va[kind][:] = 0.0

    def _mark_gone(self) -> None:
        """Before the panel's first year: remember who has left, so the first year lists
        only firms that leave in it."""
        for kind in KINDS:
            pop = getattr(self.model, _POPULATION[kind])
            n = pop.cols.n
            gone = self._gone[kind]
            if gone.size < n:
                gone = self._gone[kind] = np.concatenate([gone, np.zeros(n - gone.size, bool)])
            gone[:n] |= ~pop.alive[:n]

    def _write_year(self) -> None:
        m = self.model
        jobs_per_hkd_m = 1 / (m.spec.manufacturing.va_per_worker_hkd_m * m.manufacturers.trend)
        for kind, name in KINDS.items():
            pop = getattr(m, _POPULATION[kind])
            n = pop.cols.n
            alive = pop.alive[:n].copy()
            gone = self._gone[kind]
            if gone.size < n:
                gone = self._gone[kind] = np.concatenate([gone, np.zeros(n - gone.size, bool)])
            keep = alive | ~gone[:n]  # living firms, and those that left this year
            gone[:n] |= ~alive
            rows = np.flatnonzero(keep)
            flows = {f: self._acc(kind, f)[:n] for f in FLOWS}
            product = flows["product_value_hkd_m"][rows]
            own = self._acc(kind, "own_va")[:n][rows]
            staff = pop.cols["employees"][rows]
            born = (
                pop.cols["born_q"][rows] if "born_q" in pop.cols.names else np.full(rows.size, -1)
            )
            self._years.append(
                {
                    "year": np.full(rows.size, m.year, dtype=np.int16),
                    "kind": np.full(rows.size, name),
                    "firm": rows.astype(np.int32),
                    "sector": pop.cols["sector"][rows],
                    "born_q": np.asarray(born, dtype=np.int32),
                    "alive": alive[rows],
                    "value_added_hkd_m": own + product,
                    "product_value_hkd_m": product,
                    "employees": staff + product * jobs_per_hkd_m,
                    "pilots": flows["pilots"][rows].astype(np.int32),
                    "platform_pilots": flows["platform_pilots"][rows].astype(np.int32),
                }
            )

    def frame(self) -> pd.DataFrame:
        """The panel: one row per firm and year (module docstring)."""
        import pandas as pd

        if not self._years:
            return pd.DataFrame()
        cols = self._years[0].keys()
        return pd.DataFrame({c: np.concatenate([y[c] for y in self._years]) for c in cols})


def project_outcomes(model: PilotModel) -> pd.DataFrame:
    """Per project row at the end of a run: owner, whether and where it was piloted, whether
    it reached the market (the project-level facts of deadweight)."""
    import pandas as pd

    b = model.projects
    n = b.n
    launched = (b["stage"][:n] == Stage.MARKET) | (b["status"][:n] == Status.ENDED)
    return pd.DataFrame(
        {
            "owner": b["owner"][:n],
            "owner_row": b["owner_row"][:n],
            "started_q": b["started_q"][:n],
            "sector": b["sector"][:n],
            "piloted": b["pilot_site"][:n] >= 0,
            "platform_piloted": b["platform_piloted"][:n],
            "launched": launched,
        }
    )
