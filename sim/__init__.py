"""pilotsim: Hong Kong's path from research to industry, with a switchable pilot platform."""

from typing import TYPE_CHECKING, Any

from sim.params import Scenario
from sim.run import Result, run
from sim.scenario import ScenarioError, load_scenario, scenario_hash

if TYPE_CHECKING:
    from sim.model import PilotModel


def __getattr__(name: str) -> Any:
    """``sim.PilotModel`` loads the model (and Mesa) on first use: ``import sim`` stays light
    for commands that never run it (``pilotsim --help``, ``validate``, ``columns``)."""
    if name == "PilotModel":
        from sim.model import PilotModel

        return PilotModel
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


__all__ = [
    "PilotModel",
    "Result",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "run",
    "scenario_hash",
]
__version__ = "0.1.0"
