"""Time units shared by every process: one model step is one quarter."""

from __future__ import annotations

import numpy as np

QUARTERS_PER_YEAR = 4  # docs/ODD.md 2 (Time): one step = one quarter
FIRST_YEAR = 2015  # the model's clock starts at 2015Q1 (docs/ODD.md 2, Time)
#: Years with observed inputs and calibration targets.
DATA_YEARS: tuple[int, ...] = (2015, 2016, 2017, 2018, 2019)


def per_quarter[P: (float, np.ndarray)](p_per_year: P) -> P:
    """Convert an annual probability (or an array of them) to the quarterly one with the
    same survival."""
    return 1.0 - (1.0 - p_per_year) ** (1 / QUARTERS_PER_YEAR)
