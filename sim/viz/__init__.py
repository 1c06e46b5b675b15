"""The interactive dashboard (``pilotsim dashboard``): Mesa's SolaraViz over ``PilotModel``.

``sim.viz.model`` needs only the core package; ``sim.viz.components`` and ``sim.viz.app``
need the ``viz`` extra (solara).
"""

from typing import Any

__all__ = ["DashboardModel", "scenario_names"]


def __getattr__(name: str) -> Any:
    """``DashboardModel`` and ``scenario_names`` load the model on first use (the
    ``dashboard`` command's parser imports this package)."""
    if name in __all__:
        from sim.viz import model

        return getattr(model, name)
    raise AttributeError(f"module 'sim.viz' has no attribute {name!r}")
