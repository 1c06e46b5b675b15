"""The interactive dashboard (``pilotsim dashboard``): Mesa's SolaraViz over ``PilotModel``.

``sim.viz.model`` needs only the core package; ``sim.viz.components`` and ``sim.viz.app``
need the ``viz`` extra (solara).
"""

from sim.viz.model import DashboardModel, scenario_names

__all__ = ["DashboardModel", "scenario_names"]
