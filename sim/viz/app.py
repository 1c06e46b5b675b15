"""The dashboard page: ``solara run sim/viz/app.py`` (or ``pilotsim dashboard``).

Mesa's SolaraViz gives the sidebar (levers, Reset / ▶ / Step); ``sim.viz.components`` gives
the charts. Each browser session gets its own model.
"""

from __future__ import annotations

import solara
from mesa.visualization import SolaraViz

from sim.params import FIRST_YEAR
from sim.viz.components import COMPONENTS
from sim.viz.model import DashboardModel, scenario_names

TITLE = "pilotsim: Hong Kong research to industry"


BUDGETS_HKD_M = [0, 100, 200, 300, 500, 750, 1000, 1500, 2000]
SUBSIDIES = [0.0, 0.25, 0.5, 0.75, 1.0]
SCALES = [0.05, 0.1, 0.2, 0.5, 1.0]


def model_params() -> dict:
    """The levers shown in the sidebar (SolaraViz's ``model_params``).

    Numeric levers are drop-down lists rather than sliders so that their values are always
    visible; they take effect when Reset rebuilds the model.
    """
    return {
        "scenario_name": {
            "type": "Select",
            "value": "baseline",
            "values": scenario_names(),
            "label": "Scenario",
        },
        "platform_enabled": {"type": "Checkbox", "value": False, "label": "HK pilot platform"},
        "start_year": {
            "type": "Select",
            "value": 2025,
            "values": list(range(FIRST_YEAR + 1, 2036)),
            "label": "Platform opens in",
        },
        "budget_hkd_m": {
            "type": "Select",
            "value": 300,
            "values": BUDGETS_HKD_M,
            "label": "Platform public budget (HKD m a year)",
        },
        "fee_subsidy_share": {
            "type": "Select",
            "value": 0.5,
            "values": SUBSIDIES,
            "label": "Fee subsidy (share of the client fee)",
        },
        "matching": {"type": "Checkbox", "value": True, "label": "Matching service"},
        "scale": {
            "type": "Select",
            "value": 0.1,
            "values": SCALES,
            "label": "Scale (share of the economy simulated)",
        },
        "seed": {"type": "Select", "value": 0, "values": list(range(20)), "label": "Seed"},
    }


def initial_model() -> DashboardModel:
    """A model with the sidebar's default values."""
    return DashboardModel(**{k: v["value"] for k, v in model_params().items()})


@solara.component
def Page():
    model = solara.use_memo(initial_model, [])
    SolaraViz(
        model,
        components=list(COMPONENTS),
        model_params=model_params(),
        name=TITLE,
        play_interval=150,
    )
