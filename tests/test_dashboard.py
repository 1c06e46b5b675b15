"""The dashboard: its model wrapper, the ``pilotsim dashboard`` command, and a headless render.

The headless test renders the page with solara under pytest (no server, no browser) and
drives it through its widgets: Step, the platform levers, Reset and Run. The browser test
is in ``tests/test_dashboard_browser.py``.
"""

from __future__ import annotations

import importlib
import os

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.viz.model import DashboardModel, build_scenario, scenario_names

SMALL = {"scale": 0.05, "seed": 4}


def _require(module: str):
    """On CI a missing extra is an error; locally a skip that says how to install it."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} missing: pip install -e '.[viz]'")


# The model wrapper ----------------------------------------------------------------------


def test_scenario_names_lists_the_scenario_files_baseline_first() -> None:
    names = scenario_names()
    assert names[0] == "baseline"
    assert {"hk_pilot_platform", "antenna_mother_child"} <= set(names)


def test_levers_become_a_validated_scenario() -> None:
    spec = build_scenario(
        "funding_rebalance",
        platform_enabled=True,
        start_year=2020,
        budget_hkd_m=750,
        fee_subsidy_share=0.25,
        matching=False,
        scale=0.2,
    )
    assert spec.funding_rebalance.enabled  # the scenario file's own settings are kept
    p = spec.platform
    assert (p.enabled, p.start_year, p.public_budget_hkd_m) == (True, 2020, 750.0)
    assert (p.fee_subsidy_share, p.matching, spec.run.scale) == (0.25, False, 0.2)


def test_bad_lever_value_is_a_clear_error() -> None:
    with pytest.raises(sim.ScenarioError, match="platform.fee_subsidy_share"):
        DashboardModel(platform_enabled=True, fee_subsidy_share=1.5)


def test_reference_run_is_the_baseline_with_the_same_seed() -> None:
    assert DashboardModel(**SMALL).reference is None  # the run is the baseline itself
    m = DashboardModel(platform_enabled=True, start_year=2018, **SMALL)
    assert m.reference is not None
    for _ in range(16):
        m.step()
    run, ref = m.frame(), m.frame("reference")
    assert len(run) == len(ref) == 16
    before = run["year"] < 2018
    cols = ["hk_value_added_hkd_m", "projects_north", "startups"]
    pd.testing.assert_frame_equal(run.loc[before, cols], ref.loc[before, cols])
    # and the same as a plain run of the baseline
    plain = sim.run("baseline", seed=SMALL["seed"], scale=SMALL["scale"], until=2018).quarterly
    np.testing.assert_allclose(ref["startups"], plain["startups"].iloc[:16])
    assert run.loc[~before, "platform_utilisation"].gt(0).any()


def test_stepping_past_the_horizon_does_nothing() -> None:
    m = DashboardModel(**SMALL, compare_baseline=False)
    m.run_to_end()
    assert not m.running and m.t == m.n_quarters
    n = len(m.frame())
    m.step()
    assert m.t == m.n_quarters and len(m.frame()) == n


# The command ----------------------------------------------------------------------------


def test_dashboard_command_serves_the_app_on_loopback(monkeypatch, capsys) -> None:
    import sim.viz.cli as vcli

    _require("solara")
    seen = {}
    monkeypatch.setattr(vcli, "_exec", lambda cmd, env: seen.update(cmd=cmd, env=env) or 0)
    assert main(["dashboard", "--port", "8123"]) == 0
    cmd = seen["cmd"]
    assert cmd[1:4] == ["-m", "solara", "run"] and cmd[4].endswith("sim/viz/app.py")
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--port") + 1] == "8123"
    assert "--production" in cmd and "--no-check-version" in cmd
    assert seen["env"]["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    assert "http://127.0.0.1:8123" in capsys.readouterr().out


def test_dashboard_command_rejects_a_bad_port(capsys) -> None:
    assert main(["dashboard", "--port", "70000"]) == 2
    assert "--port must be between 0 and 65535, got 70000" in capsys.readouterr().err


def test_dashboard_command_without_the_extra_says_how_to_install(monkeypatch, capsys) -> None:
    import sim.viz.cli as vcli

    real = vcli.importlib.util.find_spec
    monkeypatch.setattr(
        vcli.importlib.util, "find_spec", lambda n: None if n == "solara" else real(n)
    )
    assert main(["dashboard"]) == 2
    err = capsys.readouterr().err
    assert "needs the viz extra (missing: solara)" in err and ".[viz]" in err


# Headless render ------------------------------------------------------------------------


@pytest.fixture
def page():
    """The dashboard rendered by solara without a server, inside the app layout."""
    solara = _require("solara")
    ipywidgets = _require("ipywidgets")
    v = _require("ipyvuetify")
    from sim.viz.app import Page

    @solara.component
    def Root():
        with solara.AppLayout():
            Page()

    box, rc = solara.render(Root(), handle_error=False)

    class Driver:
        def images(self) -> list[bytes]:
            return [bytes(w.value) for w in rc.find(ipywidgets.Image).widgets]

        def status(self) -> str:
            htmls = rc.find(solara.widgets.HTML).widgets
            texts = [w.unsafe_innerHTML or "" for w in htmls]
            return "".join(t for t in texts if "Platform</b>" in t)

        def button(self, label: str):
            finder = rc.find(v.Btn, children=[label])
            finder.assert_single()
            return finder.widget

        def click(self, label: str) -> None:
            self.button(label).click()

        def set(self, cls, label: str, value) -> None:
            finder = rc.find(cls, label=label)
            finder.assert_single()
            finder.widget.v_model = value

    yield Driver(), v
    rc.close()


def test_page_renders_levers_controls_and_charts(page) -> None:
    d, v = page
    assert len(d.images()) == 5  # value by place, retention, routes, stages, firms
    for label in ("Reset", "Step", "Run to 2035"):
        assert not d.button(label).disabled
    status = d.status()
    assert "baseline at scale 0.1, seed 0" in status and "Platform</b>: off" in status
    assert "2015Q1 (0 quarters simulated)" in status


def test_step_toggle_reset_and_run_change_the_charts(page) -> None:
    d, v = page
    blank = d.images()
    d.click("Step")
    stepped = d.images()
    assert all(a != b for a, b in zip(blank, stepped, strict=True)), "a chart did not change"
    assert "2015Q2 (1 quarters simulated)" in d.status()

    d.set(v.Checkbox, "HK pilot platform", True)
    d.set(v.Select, "Platform opens in", 2016)
    d.set(v.Select, "Scale (share of the economy simulated)", 0.05)
    assert "Platform</b>: off" in d.status()  # levers apply on Reset
    d.click("Reset")
    status = d.status()
    assert "Platform</b>: on from 2016: HKD 300 m a year" in status
    assert "scale 0.05" in status and "(0 quarters simulated)" in status

    d.click("Run to 2035")
    status = d.status()
    assert "end of 2035 (84 quarters simulated)" in status
    assert "Platform now</b>:" in status and "(baseline " in status
    assert all(a != b for a, b in zip(stepped, d.images(), strict=True))
