"""Policy levers, one module each: what a scenario can switch on, with a null object when off.

``Policies`` holds one lever per scenario group; the model calls ``begin_quarter`` on all of
them, and agents and the pipeline ask each lever its own question where it acts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.policies import (
    innohk,
    itf_rebalance,
    mother_factory,
    prd_upgrade,
    rd_funding,
    rfs,
    traditional_upgrade,
)
from sim.policies.base import Lever
from sim.policies.platform import NoPlatform, make_platform

if TYPE_CHECKING:
    from sim.model import PilotModel


class Policies:
    """The levers of one run."""

    def __init__(self, model: PilotModel) -> None:
        self.platform: NoPlatform = make_platform(model)
        self.rd_funding = rd_funding.make(model)
        self.itf_rebalance = itf_rebalance.make(model)
        self.innohk = innohk.make(model)
        self.rfs = rfs.make(model)
        self.mother_factory = mother_factory.make(model)
        self.traditional_upgrade = traditional_upgrade.make(model)
        self.prd_upgrade = prd_upgrade.make(model)

    def all(self) -> tuple[Lever, ...]:
        return (
            self.platform,
            self.rd_funding,
            self.itf_rebalance,
            self.innohk,
            self.rfs,
            self.mother_factory,
            self.traditional_upgrade,
            self.prd_upgrade,
        )

    def begin_quarter(self) -> None:
        for lever in self.all():
            lever.begin_quarter()
