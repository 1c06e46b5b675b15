"""The Hong Kong pilot-scale platform (港版中試) and its null object.

The platform sells four services, each to the projects that use it, each with its own
capacity and cost (``platform.*`` parameters):

- **Pilot slots.** ``slots = budget / (slot cost x (1 - cost recovery))``: a public base
  budget pays the share of each slot's full cost that client fees do not (a Fraunhofer-like
  cost-recovery rule). A slot's full cost rises with Hong Kong engineers' wage
  (``sim.markets``), so a fixed budget buys fewer slots when engineers are scarce. Slots
  hire engineers and take floor space from private pilot lines. Clients pay the fee for
  their slot-quarters less a government fee subsidy; projects that find no free slot wait
  in a FIFO queue and give up after ``patience_quarters``.

  Rule when the budget buys fewer slots than are occupied (issue 25, point 7): a pilot
  under way keeps its slot until it ends (the client's contract is honoured), so the
  platform staffs ``capacity = max(funded, in use)`` slots, and the cost of the slots
  beyond what the base budget pays is booked as extra public spend. No new client is
  admitted while the slots in use are ``funded`` or more; as pilots end, their slots are
  released and the staffed capacity shrinks back to ``funded``. So slots in use never
  exceed ``capacity`` (utilisation is at most 1), and every staffed slot is paid for.
- **Engineering** (testing, certification, supply-chain know-how): the platform's clients
  pilot with a higher success chance, faster, and industrialise more often.
- **Matching**: a brokered search for a Hong Kong manufacturing partner for lab results
  whose own search failed, and for the platform's clients when they choose a producer
  (including Hong Kong-owned PRD factories); a yearly number of searches at a cost each.
- **Follow-up support** for research transplanted to Mainland owners: lab results transferred
  north, and projects of the platform's clients sold to a Mainland firm that industrialises
  them in the PRD (Hong Kong owners producing in the PRD are not transplanted), a yearly
  number at a cost each. Supported projects keep their fit and escape the "not
  acclimatised" hazard.

``NoPlatform`` is the baseline: it offers nothing and draws no random number, so the
baseline needs no ``if platform`` anywhere. A platform with zero capacity, or before its
start year, behaves exactly like ``NoPlatform``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import SECTORS, PlatformSpec
from sim.policies.base import Lever
from sim.projects import PilotSite, Stage, Status
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    from sim.model import PilotModel


class NoPlatform(Lever):
    """No platform: unavailable, no subsidy, no uplift, no matching, no support, no spend."""

    capacity = 0
    success_factor = 1.0
    duration_factor = 1.0

    @property
    def is_open(self) -> bool:
        return False

    def staffed_slots(self) -> int:
        return 0

    def available(self, sectors: np.ndarray) -> np.ndarray:
        return np.zeros(len(sectors), dtype=bool)

    def client_cost_hkd_m(self, duration_q: float) -> float:
        return np.inf

    def fee_subsidy_hkd_m(self, duration_q: float) -> float:
        return 0.0

    def expected_wait_q(self) -> float:
        return 0.0

    def industrialisation_success(self, base: float) -> float:
        return base

    def hk_owned_child_probability(self, base: float) -> float:
        return base

    def broker(self, wanted: np.ndarray) -> np.ndarray:
        """Which of the ``wanted`` brokered searches the service takes (none)."""
        return np.zeros(len(wanted), dtype=bool)

    def support(self, wanted: np.ndarray) -> np.ndarray:
        """Which of the ``wanted`` projects get follow-up support (none)."""
        return np.zeros(len(wanted), dtype=bool)

    def follow_up_open(self) -> bool:
        return False

    def follow_up_offers(self, wanted: np.ndarray) -> np.ndarray:
        """Which of the ``wanted`` projects a follow-up place is left for (none)."""
        return np.zeros(len(wanted), dtype=bool)

    def request(self, rows: np.ndarray) -> np.ndarray:
        raise RuntimeError("no platform: nothing can be piloted on it")

    def step(self) -> None:
        pass

    def in_service(self) -> int:
        return 0

    def queue_length(self) -> int:
        return 0

    def utilisation(self) -> float:
        return 0.0


class YearlyService:
    """A service with a yearly number of uses (full economy), each at a public cost, taken
    first come first served; the platform resets ``used`` every first quarter."""

    def __init__(self, model: PilotModel, per_year: float, cost_hkd_m: float) -> None:
        self.model = model
        self.per_year = per_year
        self.cost_hkd_m = cost_hkd_m
        self.used = 0  # uses this year (sample units)

    def left(self) -> int:
        return int(self.per_year * self.model.scale - self.used)

    def take(self, wanted: np.ndarray) -> np.ndarray:
        """The first ``left()`` of ``wanted`` (bool) get the service; their cost is booked."""
        take = np.zeros(len(wanted), dtype=bool)
        idx = np.flatnonzero(wanted)[: max(self.left(), 0)]
        take[idx] = True
        self.used += idx.size
        self.model.ledger.add("public_spend", idx.size * self.cost_hkd_m)
        return take


class PilotPlatform(NoPlatform):
    """A switched-on platform; open from ``start_year`` (to ``end_year``, if set) when its
    budget buys a slot."""

    def __init__(self, model: PilotModel, spec: PlatformSpec) -> None:
        super().__init__(model)
        self.spec = spec
        self.model: PilotModel = model
        self._covered = np.isin(np.arange(len(SECTORS)), [SECTORS.index(s) for s in spec.sectors])
        self._queue: list[int] = []
        self._matching = YearlyService(
            model, spec.matching_capacity_per_year, spec.matching_cost_hkd_m
        )
        self._follow_up = YearlyService(
            model, spec.follow_up_capacity_per_year, spec.follow_up_cost_hkd_m
        )
        self.capacity = 0  # slots staffed this quarter: max(funded, in use) while active
        self.funded = 0  # slots the base budget pays for this quarter: admissions' limit

    def active(self, year: int) -> bool:
        """Open from ``start_year`` through ``end_year`` (the last year; None: no end)."""
        end = self.spec.end_year
        return year >= self.spec.start_year and (end is None or year <= end)

    def close(self) -> None:
        """Sunset: no slots, no services, no spend from now; queued projects choose again
        without the platform. Pilots under way keep the terms they started with."""
        self.capacity = self.funded = 0
        queued, self._queue = self._queue, []
        if queued:
            b = self.model.projects
            q = np.array(queued, dtype=np.int64)
            q = q[b["status"][q] == Status.QUEUED]
            if q.size:
                self.model.pipeline.leave_queue(q)

    @property
    def is_open(self) -> bool:
        """Open to new clients and offering its services: active, and its budget buys a slot."""
        return self.funded > 0 and self.active(self.model.year)

    def staffed_slots(self) -> int:
        """Slots with engineers and floor space this quarter (occupied ones included)."""
        return self.capacity if self.active(self.model.year) else 0

    # Budget and capacity ------------------------------------------------------------------
    def slot_cost_hkd_m(self) -> float:
        """Full cost of a slot-year now: its engineers' share follows their wage."""
        return self.spec.slot_cost_hkd_m * self.model.markets.hk_engineering_cost_factor()

    def begin_quarter(self) -> None:
        """Set this quarter's slots from the budget and pay the base budget while active.

        ``funded`` is what the budget buys at this quarter's slot cost; ``capacity`` keeps
        the occupied slots above it staffed, and their cost beyond the budget is public
        spend too (module docstring).
        """
        m, s = self.model, self.spec
        if not self.active(m.year):
            if m.year > m.spec.platform.start_year and (self.capacity or self._queue):
                self.close()
            return
        if m.quarter == 1:
            self._matching.used = self._follow_up.used = 0
        public_share = 1.0 - s.cost_recovery_share
        budget = s.public_budget_hkd_m * m.scale  # sample units, HKD m a year
        slot_public_cost = self.slot_cost_hkd_m() * public_share
        self.funded = int(np.floor(round(budget / slot_public_cost, 9)))  # 300/(8*0.3) is 125
        in_use = self._count_in_service()
        self.capacity = max(self.funded, in_use)
        if self.funded > 0:
            m.ledger.add("public_spend", budget / QUARTERS_PER_YEAR)
        overrun = self.capacity * slot_public_cost - (budget if self.funded > 0 else 0.0)
        if self.capacity > self.funded and overrun > 0:
            m.ledger.add("public_spend", overrun / QUARTERS_PER_YEAR)

    # What the platform offers its clients --------------------------------------------------
    @property
    def success_factor(self) -> float:  # type: ignore[override]
        on = self.is_open and self.spec.engineering
        return 1.0 + self.spec.success_uplift if on else 1.0

    @property
    def duration_factor(self) -> float:  # type: ignore[override]
        return self.spec.duration_factor if self.is_open and self.spec.engineering else 1.0

    def available(self, sectors: np.ndarray) -> np.ndarray:
        """Sectors covered, platform open, queue shorter than patience allows."""
        if not self.is_open or self.expected_wait_q() > self.spec.patience_quarters:
            return np.zeros(len(sectors), dtype=bool)
        return self._covered[sectors]

    def client_cost_hkd_m(self, duration_q: float) -> float:
        """What a client pays for a pilot of ``duration_q`` quarters, after the subsidy."""
        s = self.spec
        fee = self.slot_cost_hkd_m() * duration_q / QUARTERS_PER_YEAR * s.cost_recovery_share
        return fee * (1 - s.fee_subsidy_share)

    def fee_subsidy_hkd_m(self, duration_q: float) -> float:
        """Government's share of the client fee for one pilot of ``duration_q`` quarters."""
        s = self.spec
        fee = self.slot_cost_hkd_m() * duration_q / QUARTERS_PER_YEAR * s.cost_recovery_share
        return fee * s.fee_subsidy_share

    def expected_wait_q(self) -> float:
        """Queue length over throughput (slots per mean platform pilot duration)."""
        if not self.is_open:
            return 0.0
        mean_dur = self.model.spec.pipeline.pilot_duration_mean_quarters * self.duration_factor
        return len(self._queue) * mean_dur / self.funded

    def industrialisation_success(self, base: float) -> float:
        """After a platform pilot: the engineering service's figure, else the base."""
        return self.spec.industrialisation_success_probability if self.spec.engineering else base

    def hk_owned_child_probability(self, base: float) -> float:
        """For the platform's clients, matching reaches Hong Kong-owned PRD factories."""
        if self.is_open and self.spec.matching:
            return max(base, self.spec.matching_hk_owned_child_probability)
        return base

    def broker(self, wanted: np.ndarray) -> np.ndarray:
        """Brokered searches for ``wanted`` (bool), first come first served, paid for."""
        if not (self.is_open and self.spec.matching):
            return np.zeros(len(wanted), dtype=bool)
        return self._matching.take(wanted)

    def follow_up_open(self) -> bool:
        return self.is_open and self.spec.follow_up_support and self._follow_up.left() >= 1

    def follow_up_offers(self, wanted: np.ndarray) -> np.ndarray:
        """Which of the ``wanted`` projects (bool) a follow-up place is left for this year,
        first come first served: the offer a choice may count on, made before the choice
        (``support`` then takes the places of those who accept). Nothing is booked."""
        if not self.follow_up_open():
            return np.zeros(len(wanted), dtype=bool)
        offers = np.zeros(len(wanted), dtype=bool)
        offers[np.flatnonzero(wanted)[: max(self._follow_up.left(), 0)]] = True
        return offers

    def support(self, wanted: np.ndarray) -> np.ndarray:
        """Follow-up support for ``wanted`` (bool), first come first served, paid for."""
        if not self.follow_up_open():
            return np.zeros(len(wanted), dtype=bool)
        return self._follow_up.take(wanted)

    # Slots and queue ---------------------------------------------------------------------
    def _count_in_service(self) -> int:
        b = self.model.projects
        live = b.live_rows()
        return int(
            np.count_nonzero(
                (b["stage"][live] == Stage.PILOT)
                & (b["status"][live] == Status.ACTIVE)
                & (b["pilot_site"][live] == PilotSite.HK_PLATFORM)
            )
        )

    def in_service(self) -> int:
        return self._count_in_service()

    def queue_length(self) -> int:
        return len(self._queue)

    def free_slots(self) -> int:
        """Slots a new client may take: funded slots not in use (none while the slots in
        use are at or above what the budget pays for)."""
        return max(0, self.funded - self._count_in_service()) if self.is_open else 0

    def request(self, rows: np.ndarray) -> np.ndarray:
        """Projects ask for slots: returns those admitted now; the rest join the queue."""
        free = max(self.free_slots() - len(self._queue), 0)
        admitted, waiting = rows[:free], rows[free:]
        self._queue.extend(int(r) for r in waiting)
        return admitted

    def step(self) -> None:
        """Admit queued projects FIFO into freed slots; projects out of patience leave."""
        if not self._queue:
            return
        m = self.model
        b = m.projects
        q = np.array(self._queue, dtype=np.int64)
        q = q[b["status"][q] == Status.QUEUED]  # owners may have closed meanwhile
        free = self.free_slots()
        admit, rest = q[:free], q[free:]
        b["queued_q"][rest] += 1
        patient = b["queued_q"][rest] <= self.spec.patience_quarters
        self._queue = [int(r) for r in rest[patient]]
        if admit.size:
            m.pipeline.start_platform_pilots(admit)
        if (~patient).any():
            m.pipeline.leave_queue(rest[~patient])

    def utilisation(self) -> float:
        """Slots in use / staffed slots: in [0, 1] (0 when no slot is staffed)."""
        staffed = self.staffed_slots()
        return self.in_service() / staffed if staffed > 0 else 0.0


def make_platform(model: PilotModel) -> NoPlatform:
    """The platform a scenario asks for: ``NoPlatform`` when it is switched off."""
    spec = model.spec.platform
    return PilotPlatform(model, spec) if spec.enabled else NoPlatform(model)
