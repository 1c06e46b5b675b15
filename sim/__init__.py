"""pilotsim: Hong Kong's path from research to industry, with a switchable pilot platform."""

from sim.model import PilotModel
from sim.params import Scenario
from sim.run import Result, run
from sim.scenario import ScenarioError, load_scenario, scenario_hash

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
