"""Calibration against Hong Kong 2015-2019: targets, priors, ABC-SMC, point fit, posterior.

``posterior_overrides(n, seed)`` gives weighted draws of the committed posterior as
dotted-key overrides (for ``pilotsim compare --posterior``). pyabc (the ``calibration``
extra) is imported only by the ABC-SMC code, not here.
"""

from sim.calibration.config import CalibrationError, load_priors, load_targets
from sim.calibration.posterior import load_posterior, posterior_overrides

__all__ = [
    "CalibrationError",
    "load_posterior",
    "load_priors",
    "load_targets",
    "posterior_overrides",
]
