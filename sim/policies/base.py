"""What every policy lever shares: one small interface the model calls, and "off" as a null.

A lever is built from its scenario group by ``make(model)``: the active implementation when
the scenario enables it, else its null object, which does nothing, costs nothing and draws
no random number. Agents and the pipeline ask a lever one question at the point where it
acts (``model.policies.<lever>.<question>(...)``); the answer of a lever that is off is the
baseline's, so no ``if lever`` is needed anywhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.model import PilotModel


class Lever:
    """Base of every lever and of every null object: acts in no year and books nothing."""

    def __init__(self, model: PilotModel) -> None:
        self.model = model

    def active(self, year: int) -> bool:
        """Whether the lever acts in ``year`` (never, for a null object)."""
        return False

    def begin_quarter(self) -> None:
        """Book the lever's fixed costs of the quarter (none for a null object)."""
