"""Calibration against Hong Kong 2015-2019: targets, priors, ABC-SMC, point fit, posterior.

The Python API (``sim.calibration.api``, the functions below): ``calibrate(...)`` and
``point_fit(...)`` run and write a calibration (what ``pilotsim calibrate`` calls);
``target_table(targets)`` says which model output matches which data series;
``model_runs(...)`` and ``fit_table(targets, runs)`` put the model beside the data.

``posterior_overrides(n, seed)`` gives weighted draws of the committed posterior as
dotted-key overrides (for ``pilotsim compare --posterior``). pyabc (the ``calibration``
extra) is imported only by the ABC-SMC code, not here.
"""

from sim.calibration.api import calibrate, fit_table, model_runs, point_fit, target_table
from sim.calibration.config import CalibrationError, load_priors, load_targets
from sim.calibration.posterior import load_posterior, posterior_overrides

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
