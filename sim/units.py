"""Time units shared by every process: one model step is one quarter."""

from __future__ import annotations

QUARTERS_PER_YEAR = 4  # MODEL.md: one step = one quarter


def per_quarter(p_per_year: float) -> float:
    """Convert an annual probability to the quarterly one with the same survival."""
    return 1.0 - (1.0 - p_per_year) ** (1 / QUARTERS_PER_YEAR)
