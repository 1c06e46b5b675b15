"""Exogenous drivers: the paths of research spending and venture investment.

Both are inputs, never targets. Each follows its published values while there are any and
a stated rule after them (issue 24, point 3):

- **Research spending** of universities and government R&D centres
  (``research.higher_education_rd_hkd_m``, ``research.government_rd_hkd_m``): C&SD's GERD by
  sector for 2015-2019 and 2022, 2020-2021 filled by the rule in
  ``calibration/data/hk_inputs_after_2019.csv``; after :data:`RESEARCH_INPUT_YEARS`'s last
  year it grows at ``research.budget_growth_after_2022``.
- **Venture investment** (``startups.venture_investment_hkd_m``): the 2014 and 2019 data
  points, log-linear between them; after 2019 ``startups.venture_growth_after_2019`` a year
  (0 by default: held at its 2019 level, as no later value is in the shared data).

Before 2015 (the burn-in) the research budgets are at their 2015 level; callers hold
venture investment at 2015's (``Startups``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sim.units import FIRST_YEAR

if TYPE_CHECKING:
    from sim.params import ResearchSpec, StartupSpec

#: Years of the research-spending input series: published 2015-2019 and 2022, 2020-2021
#: interpolated (calibration/data/hk_inputs_after_2019.csv).
RESEARCH_INPUT_YEARS: tuple[int, ...] = tuple(range(FIRST_YEAR, 2023))

#: Years of the two venture-investment data points (hk_pipeline_evidence rows
#: hk_venture_investment 2014 and 2019; ``startups.venture_investment_hkd_m``).
VENTURE_DATA_YEARS = (2014, 2019)


def input_path(series: Sequence[float], year: int, growth_after: float) -> float:
    """A yearly input ``series`` (one value per :data:`RESEARCH_INPUT_YEARS`) in ``year``:
    its 2015 value before 2015, its last value grown at ``growth_after`` a year after."""
    last = RESEARCH_INPUT_YEARS[-1]
    if year <= last:
        return float(series[max(year, FIRST_YEAR) - FIRST_YEAR])
    return float(series[-1] * (1 + growth_after) ** (year - last))


def research_budget_hkd_m(spec: ResearchSpec, year: int) -> float:
    """Universities' and government R&D centres' research budget in ``year`` (full economy,
    HKD m a year, before levers)."""
    return sum(
        input_path(series, year, spec.budget_growth_after_2022)
        for series in (spec.higher_education_rd_hkd_m, spec.government_rd_hkd_m)
    )


def venture_investment_hkd_m(spec: StartupSpec, year: int) -> float:
    """Venture investment in Hong Kong in ``year`` (full economy, HKD m a year): log-linear
    between the 2014 and 2019 data points, then ``venture_growth_after_2019`` a year."""
    (y0, y1), (v0, v1) = VENTURE_DATA_YEARS, spec.venture_investment_hkd_m
    if year <= y1:
        return float(v0 * (v1 / v0) ** ((year - y0) / (y1 - y0)))
    return float(v1 * (1 + spec.venture_growth_after_2019) ** (year - y1))
