"""The dashboard: its model wrapper, the ``pilotsim dashboard`` command, and a headless render.

The headless test renders the page with solara under pytest (no server, no browser) and
drives it through its widgets: Step, the platform levers, Reset and Run. The browser test
(at the end of this file) serves it with
``pilotsim dashboard`` and drives it in headless Chromium.
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
    assert {"hk_pilot_platform", "mother_factory"} <= set(names)


def test_levers_become_a_validated_scenario() -> None:
    spec = build_scenario(
        "itf_rebalance",
        platform_enabled=True,
        start_year=2020,
        budget_hkd_m=750,
        fee_subsidy_share=0.25,
        matching=False,
        scale=0.2,
    )
    assert spec.itf_rebalance.enabled  # the scenario file's own settings are kept
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
    import sim.viz.command as vcli

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
    import sim.viz.command as vcli

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


# Browser ----------------------------------------------------------------------------------
# `pilotsim dashboard` serves the page; Debian's chromium, driven by Selenium through
# chromedriver, toggles the platform, steps the model and checks that the charts change.
# `bash scripts/install_browser.sh` installs chromium (CI runs it before the tests).

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SERVER_START_S = 120  # a cold solara start on a busy 2-core machine takes 10-30 s
WAIT_S = 60  # for any one thing to appear or change in the page
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,1500",
)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc, log_path, deadline_s: float) -> None:
    import time
    import urllib.request

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"dashboard exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"dashboard not serving {url} after {deadline_s} s:\n{log_path.read_text()[-3000:]}"
    )


@pytest.fixture
def dashboard_url(tmp_path):
    """``pilotsim dashboard --port N`` in a subprocess; stopped in the fixture's finally."""
    import subprocess
    import sys

    _require("solara")
    port = _free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "dashboard", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url, proc, log_path, SERVER_START_S)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture
def browser(tmp_path):
    """Headless Debian chromium through chromedriver (no browser download)."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        reason = f"{CHROMIUM} or {CHROMEDRIVER} missing: run `bash scripts/install_browser.sh`"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI runs it before the tests)")
        pytest.skip(reason)
    webdriver = _require("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (*CHROME_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(WAIT_S * 2)
    try:
        yield driver
    finally:
        driver.quit()


class Dashboard:
    """What a person does on the page, with waits instead of sleeps."""

    def __init__(self, driver, url: str) -> None:
        from selenium.common import exceptions
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.d, self.By, self.exceptions = driver, By, exceptions
        self.wait = WebDriverWait(driver, WAIT_S, poll_frequency=0.25)
        driver.get(url)
        self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".pilotsim-firms img"))

    def status(self) -> str:
        return self.d.find_element(self.By.CSS_SELECTOR, ".pilotsim-status-text").text

    def wait_status(self, text: str) -> None:
        try:
            self.wait.until(lambda d: text in self.status())
        except Exception:
            pytest.fail(f"status never showed {text!r}; it shows:\n{self.status()}")

    def quarters(self) -> int:
        import re

        m = re.search(r"\((\d+) quarters simulated\)", self.status())
        return int(m.group(1)) if m else -1

    def wait_quarters_at_least(self, n: int) -> None:
        try:
            self.wait.until(lambda d: self.quarters() >= n)
        except Exception:
            pytest.fail(f"never reached {n} quarters; status:\n{self.status()}")

    def chart(self, name: str) -> bytes:
        """The chart as the browser paints it (an element screenshot, PNG)."""
        img = self.d.find_element(self.By.CSS_SELECTOR, f".pilotsim-{name} img")
        return img.screenshot_as_png

    def wait_chart_change(self, name: str, before: bytes) -> None:
        try:
            self.wait.until(lambda d: self.chart(name) != before)
        except Exception:
            pytest.fail(f"chart {name} did not change within {WAIT_S} s")

    def button(self, label: str):
        for b in self.d.find_elements(self.By.TAG_NAME, "button"):
            if b.text.strip().lower() == label.lower():
                return b
        raise AssertionError(f"no button {label!r}")

    def click_enabled(self, label: str) -> None:
        """Wait until button ``label`` is enabled and not covered, then click it."""

        def attempt(_d):
            try:
                b = self.button(label)
                if not b.is_enabled() or b.get_attribute("disabled"):
                    return False
                b.click()
                return True
            except (AssertionError, self.exceptions.WebDriverException):
                return False

        self.wait.until(attempt)

    def click_label(self, text: str) -> None:
        """Click the <label> of a checkbox or a select."""
        xpath = f"//label[normalize-space()='{text}']"
        self.wait.until(lambda d: d.find_elements(self.By.XPATH, xpath))
        self.d.find_element(self.By.XPATH, xpath).click()

    def choose(self, label: str, option: str) -> None:
        """Open the drop-down list labelled ``label`` and pick ``option``."""
        field = self.d.find_element(
            self.By.XPATH,
            f"//label[normalize-space()='{label}']/ancestor::div[contains(@class,'v-select')]",
        )
        field.find_element(self.By.CSS_SELECTOR, ".v-select__slot").click()
        item = f"//div[contains(@class,'menuable__content__active')]//div[contains(@class,'v-list-item__title') and normalize-space()='{option}']"  # noqa: E501
        self.wait.until(lambda d: d.find_elements(self.By.XPATH, item))
        self.d.find_element(self.By.XPATH, item).click()
        self.wait.until(lambda d: option in field.text)

    def severe_errors(self) -> list[str]:
        logs = self.d.get_log("browser")
        return [e["message"] for e in logs if e["level"] == "SEVERE"]


@pytest.mark.slow
def test_browser_toggle_platform_step_and_see_charts_change(dashboard_url, browser, tmp_path):
    page = Dashboard(browser, dashboard_url)
    page.wait_status("2015Q1 (0 quarters simulated)")
    assert "Platform: off" in page.status()

    blank = page.chart("value-by-place")
    page.button("Step").click()
    page.wait_status("2015Q2 (1 quarters simulated)")
    page.wait_chart_change("value-by-place", blank)
    page.button("▶").click()  # play: steps on its own until paused
    page.wait_quarters_at_least(3)
    page.click_enabled("❚❚")

    # Switch the platform on from 2016 and rebuild the model with Reset.
    page.click_label("HK pilot platform")
    page.choose("Platform opens in", "2016")
    page.button("Reset").click()
    page.wait_status("Platform: on from 2016: HKD 300 m a year")
    page.wait_status("2015Q1 (0 quarters simulated)")

    routes = page.chart("projects-by-route")
    page.button("Step").click()
    page.wait_status("2015Q2 (1 quarters simulated)")
    page.wait_chart_change("projects-by-route", routes)

    routes = page.chart("projects-by-route")
    page.button("Run to 2035").click()
    page.wait_status("end of 2035 (84 quarters simulated)")
    page.wait_chart_change("projects-by-route", routes)
    assert "Platform now:" in page.status()  # the platform opened and served pilots
    assert "(baseline " in page.status()
    shot = tmp_path / "dashboard.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
    target = os.environ.get("PILOTSIM_DASHBOARD_SCREENSHOT")  # e.g. docs/dashboard.png
    if target:
        import shutil

        shutil.copyfile(shot, target)
    assert not page.severe_errors()
