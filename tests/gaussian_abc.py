"""A toy ABC with a known answer, shared by the retune and run-bank tests.

The model: theta uniform on :data:`PRIOR`, x = theta + N(0, 1). Accepting |x - x0| <= eps
gives the exact ABC posterior p(theta | |x - x0| <= eps), whose moments
:func:`abc_posterior_moments` computes on a fine grid.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

#: The uniform prior's bounds.
PRIOR = (-5.0, 5.0)
#: Grid points over the prior for the exact posterior's moments.
GRID_POINTS = 20_001


def abc_posterior_moments(x0: float, eps: float) -> tuple[float, float]:
    """Mean and sd of the exact ABC posterior p(theta | |x - x0| <= eps) of the model."""
    grid = np.linspace(*PRIOR, GRID_POINTS)
    dens = norm.cdf(x0 + eps - grid) - norm.cdf(x0 - eps - grid)
    dens /= dens.sum()
    mean = float(np.sum(grid * dens))
    return mean, float(np.sqrt(np.sum((grid - mean) ** 2 * dens)))


def weighted_moments(theta: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and sd of ``theta``."""
    w = w / w.sum()
    m = float(np.sum(w * theta))
    return m, float(np.sqrt(np.sum(w * (theta - m) ** 2)))
