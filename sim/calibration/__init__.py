"""Calibration against Hong Kong 2015-2019: targets, priors, ABC-SMC, point fit, posterior.

The Python API (``sim.calibration.api``, the functions below): ``calibrate(...)`` and
``point_fit(...)`` run and write a calibration (what ``pilotsim calibrate`` calls);
``target_table(targets)`` says which model output matches which data series;
``model_runs(...)`` and ``fit_table(targets, runs)`` put the model beside the data.

``posterior_overrides(n, seed)`` gives weighted draws of the committed posterior as
dotted-key overrides (for ``pilotsim compare --posterior``). pyabc (the ``calibration``
extra) is imported only by the ABC-SMC code, not here.
"""

from typing import Any

#: Where each public name lives; loaded on first use (``pilotsim --help`` imports this
#: package, and the API needs pandas).
_HOMES = {
    "calibrate": "api",
    "fit_table": "api",
    "model_runs": "api",
    "point_fit": "api",
    "target_table": "api",
    "CalibrationError": "config",
    "load_priors": "config",
    "load_targets": "config",
    "load_posterior": "posterior",
    "posterior_overrides": "posterior",
}

__all__ = [
    "CalibrationError",
    "calibrate",
    "fit_table",
    "model_runs",
    "point_fit",
    "target_table",
    "load_posterior",
    "load_priors",
    "load_targets",
    "posterior_overrides",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sim.calibration' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"sim.calibration.{home}"), name)
