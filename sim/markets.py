"""What is scarce and what saturates: engineers, pilot lines, PRD pilot capacity, markets.

- **Engineers.** Hong Kong has a pool of engineers for pilot work at the going wage
  (``scarcity.engineers_*``). In-house pilots, production lines being set up in Hong Kong
  and the platform's slots hire from it; beyond the pool the wage rises along a
  constant-elasticity supply curve, ``wage index = max(1, demand / pool) ** (1 /
  elasticity)``, and the engineers' share of the cost of every Hong Kong pilot, platform
  slot and production line rises with it. A platform that hires engineers therefore makes
  private pilots and Hong Kong production dearer.
- **Floor space.** Hong Kong's industrial space holds a number of pilot lines; private
  (in-house) pilots can use the lines not taken by the platform
  (``platform.private_space_share`` of its slots take space from that stock).
- **PRD pilot capacity** open to Hong Kong owners grows with Guangdong's provincial pilot
  platforms (30-50 by 2025), and Guangdong subsidises their use from 2024. When
  ``gba.responds`` is on, Guangdong answers an active Hong Kong platform after a lag with
  more lines and a larger subsidy.
- **Product markets.** A product's value added falls as products crowd its sector:
  ``value x (reference_s / products_s) ** elasticity``, with the sector reference growing
  with demand. Value is therefore concave, not linear, in launches.

Quantities are in sample units (the run's scale) unless their name says ``full``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.params import FIRST_YEAR, SECTORS
from sim.projects import Owner, PilotSite, ProductionSite, Stage, Status
from sim.units import QUARTERS_PER_YEAR

if TYPE_CHECKING:
    from sim.model import PilotModel

#: The Guangdong notice on pilot-scale platforms was issued in 2024 and its coverage target
#: is 2027 (hk_pipeline_evidence row guangdong_pilot_platform_target).
GBA_SUBSIDY_FROM, GBA_SUBSIDY_FULL = 2024, 2027
GBA_TARGET_YEAR = 2025


class Markets:
    """Engineers, pilot lines and product markets of one run; updated once a quarter."""

    def __init__(self, model: PilotModel) -> None:
        self.m = model
        self.wage_index = 1.0  # Hong Kong engineers' wage, x the going wage
        self.engineers_demand = 0.0  # sample units
        self.hk_lines_free = np.inf  # private pilot lines still free this quarter
        self.prd_lines_free = np.inf  # PRD lines open to HK owners still free
        self.crowding = np.ones(len(SECTORS))  # value multiplier by sector
        self.gba_responding = False
        self._responded_since: int | None = None
        ref_w = model.labs.sector_weights(FIRST_YEAR)
        #: products (sample units) at which a product earns its full value, by sector
        self._reference = model.spec.markets.reference_products * model.scale * ref_w

    # ------------------------------------------------------------------ quarterly update
    def begin_quarter(self) -> None:
        """Prices and free capacity for this quarter, from the stocks left last quarter."""
        m = self.m
        sc = m.spec.scarcity
        years = max(m.t, 0) / QUARTERS_PER_YEAR  # the burn-in runs with 2015's stocks
        b = m.projects
        live = b.live_rows()
        piloting = live[(b["stage"][live] == Stage.PILOT) & (b["status"][live] == Status.ACTIVE)]
        site = b["pilot_site"][piloting]
        inhouse = int(np.count_nonzero(site == PilotSite.HK_INHOUSE))
        ramping = live[
            (b["stage"][live] == Stage.INDUSTRIALISATION)
            & (b["production_site"][live] == ProductionSite.HK)
        ]
        north_hk = int(
            np.count_nonzero(
                (site == PilotSite.PRD) & (b["owner"][piloting] != Owner.MAINLAND_FIRM)
            )
        )
        plat = m.platform
        slots = plat.staffed_slots()
        pool = sc.engineers_2015 * m.scale * (1 + sc.engineers_growth) ** years
        self.engineers_demand = (
            inhouse + ramping.size
        ) * sc.engineers_per_pilot + slots * m.spec.platform.engineers_per_slot
        self.wage_index = max(1.0, self.engineers_demand / pool) ** (
            1 / sc.engineer_supply_elasticity
        )
        lines = sc.hk_pilot_lines_2015 * m.scale * (1 + sc.hk_pilot_lines_growth) ** years
        taken = slots * m.spec.platform.private_space_share
        self.hk_lines_free = max(0.0, lines - taken) - inhouse
        self.gba_responding = self._gba_response(plat.is_open)
        self.prd_lines_free = self.prd_lines() - north_hk
        self.crowding = self._crowding(live)

    def _gba_response(self, hk_platform_open: bool) -> bool:
        """Guangdong responds ``response_lag_years`` after a Hong Kong platform opens."""
        g = self.m.spec.gba
        if not g.responds:
            return False
        if hk_platform_open and self._responded_since is None:
            self._responded_since = self.m.year
        since = self._responded_since
        return since is not None and self.m.year >= since + g.response_lag_years

    def prd_lines(self) -> float:
        """PRD pilot lines open to Hong Kong owners this year (sample units)."""
        g, m = self.m.spec.gba, self.m
        year = m.year
        if year <= GBA_TARGET_YEAR:
            frac = (max(year, FIRST_YEAR) - FIRST_YEAR) / (GBA_TARGET_YEAR - FIRST_YEAR)
            platforms = g.pilot_platforms_2015 + frac * (
                g.pilot_platforms_2025 - g.pilot_platforms_2015
            )
        else:
            platforms = g.pilot_platforms_2025 * (1 + g.pilot_platforms_growth_after_2025) ** (
                year - GBA_TARGET_YEAR
            )
        factor = g.response_capacity_factor if self.gba_responding else 1.0
        return platforms * g.lines_per_platform * factor * m.scale

    def prd_subsidy_share(self) -> float:
        """Share of a PRD pilot's cost Guangdong pays this year."""
        g, year = self.m.spec.gba, self.m.year
        ramp = (year - GBA_SUBSIDY_FROM) / (GBA_SUBSIDY_FULL - GBA_SUBSIDY_FROM)
        base = min(max(ramp, 0.0), 1.0) * g.pilot_subsidy_share
        return max(base, g.response_subsidy_share) if self.gba_responding else base

    def _crowding(self, live: np.ndarray) -> np.ndarray:
        b, spec = self.m.projects, self.m.spec.markets
        in_market = live[(b["stage"][live] == Stage.MARKET) & (b["status"][live] == Status.ACTIVE)]
        n = np.bincount(b["sector"][in_market], minlength=len(SECTORS)).astype(float)
        growth = (1 + spec.demand_growth) ** (max(self.m.t, 0) / QUARTERS_PER_YEAR)
        ref = self._reference * growth
        ratio = np.where(n > ref, ref / np.maximum(n, 1e-12), 1.0)  # never divides by 0
        # Below the reference a product earns its full value (assumption: no scarcity
        # premium for an uncrowded sector).
        return ratio**spec.competition_elasticity

    # ------------------------------------------------------------------ prices
    def hk_engineering_cost_factor(self) -> float:
        """x the 2015 cost of Hong Kong pilots, platform slots and production lines."""
        share = self.m.spec.pipeline.engineer_cost_share
        return 1.0 - share + share * self.wage_index

    # ------------------------------------------------------------------ capacity use
    def take_hk_lines(self, k: int) -> None:
        self.hk_lines_free -= k

    def take_prd_lines(self, k: int) -> None:
        self.prd_lines_free -= k
