"""The Hong Kong pilot-scale platform (港版中試) and its null object.

The platform runs pilot slots paid for by a public base budget and client fees (a
Fraunhofer-like cost-recovery rule): ``slots = budget / (slot cost x (1 - cost recovery))``.
A client pays the fee for its slot-quarters less a government fee subsidy. Piloting there
is likelier to succeed, shorter, and followed by likelier industrialisation; its matching
service helps labs find local manufacturers and Hong Kong-owned PRD factories and gives
follow-up support to projects that move north. Projects that find no free slot wait in a
FIFO queue and give up after ``patience_quarters``.

``NoPlatform`` is the baseline: it offers nothing and never draws a random number, so the
baseline needs no ``if platform`` anywhere. A platform with zero capacity is never active
and behaves exactly like ``NoPlatform``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import SECTORS, PlatformSpec
from sim.projects import PilotSite, Stage, Status
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    from sim.model import PilotModel


class NoPlatform:
    """No platform: unavailable, no subsidy, no uplift, no matching, no spend."""

    active = False
    capacity = 0
    success_factor = 1.0
    duration_factor = 1.0
    matching_search_factor = 1.0
    follow_up_support = False

    def __init__(self, model: PilotModel | None = None) -> None:
        self.model = model

    def begin_quarter(self) -> None:
        pass

    def available(self, sectors: np.ndarray) -> np.ndarray:
        return np.zeros(len(sectors), dtype=bool)

    def covers(self, sectors: np.ndarray) -> np.ndarray:
        return np.zeros(len(sectors), dtype=bool)

    def client_cost_hkd_m(self, duration_q: np.ndarray | float) -> np.ndarray | float:
        return np.inf * np.ones_like(duration_q)

    def expected_wait_q(self) -> float:
        return 0.0

    def industrialisation_success(self, base: float) -> float:
        return base

    def hk_owned_child_probability(self, base: float) -> float:
        return base

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


class PilotPlatform(NoPlatform):
    """A switched-on platform; active from ``start_year`` when it has capacity."""

    def __init__(self, model: PilotModel, spec: PlatformSpec) -> None:
        super().__init__(model)
        self.spec = spec
        public_share = 1.0 - spec.cost_recovery_share
        slots = spec.public_budget_hkd_m * model.scale / (spec.slot_cost_hkd_m * public_share)
        self.capacity = int(np.floor(round(slots, 9)))  # round: 300/(8*0.3) is 125, not 124.99
        self._covered = np.isin(np.arange(len(SECTORS)), [SECTORS.index(s) for s in spec.sectors])
        self._queue: list[int] = []

    @property
    def active(self) -> bool:  # type: ignore[override]
        m = self.model
        return self.capacity > 0 and m.year >= self.spec.start_year

    # What the platform offers, when active ----------------------------------------------
    @property
    def success_factor(self) -> float:  # type: ignore[override]
        return 1.0 + self.spec.success_uplift if self.active else 1.0

    @property
    def duration_factor(self) -> float:  # type: ignore[override]
        return self.spec.duration_factor if self.active else 1.0

    @property
    def matching_search_factor(self) -> float:  # type: ignore[override]
        return self.spec.matching_search_factor if self.active and self.spec.matching else 1.0

    @property
    def follow_up_support(self) -> bool:  # type: ignore[override]
        return self.active and self.spec.follow_up_support

    def covers(self, sectors: np.ndarray) -> np.ndarray:
        return self._covered[sectors] & self.active

    def available(self, sectors: np.ndarray) -> np.ndarray:
        """Sectors covered, platform active, queue shorter than patience allows."""
        open_queue = self.expected_wait_q() <= self.spec.patience_quarters
        return self.covers(sectors) & open_queue

    def client_cost_hkd_m(self, duration_q: np.ndarray | float) -> np.ndarray | float:
        """What a client pays for a pilot of ``duration_q`` quarters, after the subsidy."""
        s = self.spec
        fee = s.slot_cost_hkd_m * np.asarray(duration_q) / QUARTERS_PER_YEAR
        return fee * s.cost_recovery_share * (1 - s.fee_subsidy_share)

    def fee_subsidy_hkd_m(self, duration_q: float) -> float:
        """Government's share of the client fee for one pilot of ``duration_q`` quarters."""
        s = self.spec
        fee = s.slot_cost_hkd_m * duration_q / QUARTERS_PER_YEAR * s.cost_recovery_share
        return fee * s.fee_subsidy_share

    def expected_wait_q(self) -> float:
        """Queue length over throughput (slots per mean platform pilot duration)."""
        if not self.active:
            return 0.0
        m = self.model
        mean_dur = m.spec.pipeline.pilot_duration_mean_quarters * self.spec.duration_factor
        return len(self._queue) * mean_dur / self.capacity

    def industrialisation_success(self, base: float) -> float:
        return self.spec.industrialisation_success_probability

    def hk_owned_child_probability(self, base: float) -> float:
        if self.active and self.spec.matching:
            return max(base, self.spec.matching_hk_owned_child_probability)
        return base

    # Slots and queue ---------------------------------------------------------------------
    def in_service(self) -> int:
        b = self.model.projects
        return int(
            np.count_nonzero(
                (b["stage"] == Stage.PILOT)
                & (b["status"] == Status.ACTIVE)
                & (b["pilot_site"] == PilotSite.HK_PLATFORM)
            )
        )

    def queue_length(self) -> int:
        return len(self._queue)

    def free_slots(self) -> int:
        return max(0, self.capacity - self.in_service())

    def request(self, rows: np.ndarray) -> np.ndarray:
        """Projects ask for slots: returns those admitted now; the rest join the queue."""
        free = self.free_slots() - len(self._queue)
        free = max(free, 0)
        admitted, waiting = rows[:free], rows[free:]
        self._queue.extend(int(r) for r in waiting)
        return admitted

    def begin_quarter(self) -> None:
        """Pay the base budget while active."""
        if self.active:
            self.model.ledger.add(
                "public_spend", self.spec.public_budget_hkd_m * self.model.scale / 4
            )

    def step(self) -> None:
        """Admit queued projects FIFO into freed slots; projects out of patience leave."""
        if not self._queue:
            return
        m = self.model
        b = m.projects
        q = np.array(self._queue, dtype=np.int64)
        still = b["status"][q] == Status.QUEUED  # owners may have closed meanwhile
        q = q[still]
        free = self.free_slots()
        admit, rest = q[:free], q[free:]
        b["queued_q"][rest] += 1
        impatient = rest[b["queued_q"][rest] > self.spec.patience_quarters]
        self._queue = [int(r) for r in rest[b["queued_q"][rest] <= self.spec.patience_quarters]]
        if admit.size:
            m.pipeline.start_platform_pilots(admit)
        if impatient.size:
            m.pipeline.leave_queue(impatient)

    def utilisation(self) -> float:
        return self.in_service() / self.capacity if self.active else 0.0


def make_platform(model: PilotModel) -> NoPlatform:
    """The platform a scenario asks for: ``NoPlatform`` when it is switched off."""
    spec = model.spec.platform
    return PilotPlatform(model, spec) if spec.enabled else NoPlatform(model)
