"""A ``PilotModel`` that SolaraViz can rebuild from scalar lever values.

SolaraViz re-instantiates the model class with the sidebar's values on Reset, so the
levers are plain keyword arguments here; they are turned into a validated ``Scenario``.
The model also steps a reference run (the baseline scenario, same seed and scale) in
lockstep, so that charts can show what the policy changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

import pandas as pd

from sim import yamlio
from sim.errors import ScenarioError
from sim.model import PilotModel
from sim.params import Scenario
from sim.scenario import SCENARIO_DIRS, load_scenario, scenario_hash
from sim.units import QUARTERS_PER_YEAR

BASELINE = "baseline"


class Levers(TypedDict):
    """The dashboard's lever values: the keyword arguments of ``build_scenario``."""

    scenario_name: str
    platform_enabled: bool
    start_year: int
    budget_hkd_m: float
    fee_subsidy_share: float
    matching: bool
    scale: float


def scenario_names(dirs: tuple[Path, ...] = SCENARIO_DIRS) -> list[str]:
    """Names of the scenario files (``*.yaml`` in the scenario folders), baseline first."""
    names = {p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names, key=lambda n: (n != BASELINE, n))


def build_scenario(
    scenario_name: str = BASELINE,
    *,
    platform_enabled: bool = False,
    start_year: int = 2025,
    budget_hkd_m: float = 300.0,
    fee_subsidy_share: float = 0.5,
    matching: bool = True,
    scale: float = 0.1,
) -> Scenario:
    """The named scenario with the dashboard's platform levers applied on top.

    ``scenario_name`` comes from the browser, so only a listed name (``scenario_names``) is
    accepted: never a path, which would let a client read files.

    Raises:
        ScenarioError: the name is not one of the listed scenarios.
    """
    names = scenario_names()
    if not isinstance(scenario_name, str) or scenario_name not in names:
        raise ScenarioError(
            "dashboard",
            f"{yamlio.excerpt(scenario_name, 60)} is not a listed scenario; "
            f"allowed: {', '.join(names)}",
            key="scenario_name",
        )
    return load_scenario(
        scenario_name,
        {
            "run.scale": float(scale),
            "platform.enabled": bool(platform_enabled),
            "platform.start_year": int(start_year),
            "platform.public_budget_hkd_m": float(budget_hkd_m),
            "platform.fee_subsidy_share": float(fee_subsidy_share),
            "platform.matching": bool(matching),
        },
    )


class DashboardModel(PilotModel):
    """``PilotModel`` built from lever values, with a baseline reference run beside it.

    Args:
        scenario_name: a scenario file name in ``scenarios/``.
        platform_enabled: switch the Hong Kong pilot platform on.
        start_year: year the platform opens.
        budget_hkd_m: public base budget of the platform, HKD m a year.
        fee_subsidy_share: share of the client fee paid by government.
        matching: the platform's matching service to manufacturers.
        scale: population scale (money and counts are reported in full-economy units).
        seed: root seed, shared with the reference run (common random numbers).
        compare_baseline: also run the baseline scenario for comparison.
    """

    def __init__(
        self,
        scenario_name: str = BASELINE,
        platform_enabled: bool = False,
        start_year: int = 2025,
        budget_hkd_m: float = 300.0,
        fee_subsidy_share: float = 0.5,
        matching: bool = True,
        scale: float = 0.1,
        seed: int = 0,
        compare_baseline: bool = True,
    ) -> None:
        self.levers: Levers = {
            "scenario_name": scenario_name,
            "platform_enabled": bool(platform_enabled),
            "start_year": int(start_year),
            "budget_hkd_m": float(budget_hkd_m),
            "fee_subsidy_share": float(fee_subsidy_share),
            "matching": bool(matching),
            "scale": float(scale),
        }
        spec = build_scenario(**self.levers)
        super().__init__(spec, seed=int(seed))
        reference = load_scenario(BASELINE, {"run.scale": float(scale)})
        same = scenario_hash(reference) == scenario_hash(spec)
        self.reference: PilotModel | None = (
            PilotModel(reference, seed=int(seed)) if compare_baseline and not same else None
        )
        self._frames: dict[str, tuple[int, pd.DataFrame]] = {}

    def step(self) -> None:
        """One quarter of this run and of the reference run; nothing after the last one."""
        if self.t >= self.n_quarters:
            self.running = False
            return
        super().step()
        if self.reference is not None and self.reference.running:
            self.reference.step()

    def run_to_end(self) -> None:
        """Step to the end of the horizon."""
        while self.running:
            self.step()

    @property
    def label(self) -> str:
        """The current quarter, e.g. ``2026Q3`` (the next quarter to be simulated)."""
        return f"{self.year}Q{self.quarter}"

    def frame(self, which: str = "run") -> pd.DataFrame:
        """Quarterly outputs so far (``which`` = ``run`` or ``reference``), with ``time``.

        ``time`` is the calendar year plus the quarter's start as a fraction (2025.25 is
        2025Q2). Cached until the next step.
        """
        model = self if which == "run" else self.reference
        if model is None:
            return pd.DataFrame()
        cached = self._frames.get(which)
        if cached is not None and cached[0] == model.t:
            return cached[1]
        df = model.recorder.quarterly()
        df["time"] = df["year"] + (df["quarter"] - 1) / QUARTERS_PER_YEAR
        self._frames[which] = (model.t, df)
        return df
