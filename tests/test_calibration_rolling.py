"""The rolling-origin check (sim.calibration.rolling): the naive trend, the error table, the
cut targets, the section in the report, and ``pilotsim calibrate --rolling-origin``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.config import load_targets
from sim.calibration.rolling import (
    FIT_LAST_YEAR,
    TITLE,
    Case,
    fit_and_dropped,
    forecast_cases,
    forecast_table,
    naive_trend,
    report_section,
    summarise,
    with_section,
)
from sim.cli import main


def test_naive_trend_extrapolates_an_exact_line_and_one_point_is_flat() -> None:
    years = [2015, 2016, 2017]
    values = [100 * math.exp(0.1 * (y - 2015)) for y in years]  # a straight line in logs
    got = naive_trend(years, values, [2018, 2019])
    assert np.allclose(got, [100 * math.exp(0.3), 100 * math.exp(0.4)], rtol=1e-12)
    assert np.allclose(naive_trend([2015, 2017], [50.0, 50.0], [2019]), [50.0], rtol=1e-12)
    assert naive_trend([2016], [7.0], [2018, 2019]).tolist() == [7.0, 7.0]
    # least squares, not the last two points: 1, 4, 1 in logs has slope 0 (the mean, flat)
    flat = naive_trend(years, [math.e, math.e**4, math.e], [2019])
    assert np.allclose(np.log(flat), [2.0], rtol=1e-12)
    with pytest.raises(ValueError):
        naive_trend([], [], [2018])
    with pytest.raises(ValueError):
        naive_trend([2015, 2016], [1.0, 0.0], [2018])


def _runs(values: dict[int, float], column: str, draws: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"kind": "posterior", "draw": d, "year": y, column: v}
            for d in range(draws)
            for y, v in values.items()
        ]
    )


def test_error_table_of_a_forecast_equal_to_the_data_is_zero_and_in_band() -> None:
    obs = {2018: 120.0, 2019: 130.0}
    case = Case("x", "col", {2015: 100.0, 2016: 110.0, 2017: 115.0}, obs)
    table = forecast_table([case], _runs(obs, "col"))
    assert list(table["year"]) == [2018, 2019]
    assert np.allclose(table["median"], [120.0, 130.0])
    assert np.allclose(table[["model_log_error", "model_pct_error"]].to_numpy(), 0.0, atol=1e-15)
    assert table["in_band"].all()
    # the naive column is the trend of the history, its error against the observation
    naive = naive_trend([2015, 2016, 2017], [100.0, 110.0, 115.0], [2018, 2019])
    assert np.allclose(table["naive"], naive)
    assert np.allclose(table["naive_pct_error"], naive / np.array([120.0, 130.0]) - 1)
    assert np.allclose(table["naive_log_error"], np.log(naive / np.array([120.0, 130.0])))
    assert table["model_better"].all()  # exact beats any miss
    # a model 10% high everywhere, out of a band of zero width; no history: no naive forecast
    far = forecast_table(
        [case, Case("y", "col2", {}, {2019: 50.0})],
        pd.concat([_runs({2018: 132.0, 2019: 143.0}, "col"), _runs({2019: 55.0}, "col2")]),
    )
    assert np.allclose(far["model_pct_error"], [0.1, 0.1, 0.1])
    assert not far["in_band"].any()
    assert math.isnan(far["naive"].iloc[2]) and far["model_better"].iloc[2] is None
    s = summarise(far)
    assert s["points"] == 3 and s["compared"] == 2 and s["in_band"] == 0
    assert math.isclose(s["model_mape"], 0.1) and math.isclose(s["model_mape_all"], 0.1)
    assert math.isclose(s["naive_mape"], float(np.mean(np.abs(naive / [120, 130] - 1))))


def test_cut_targets_hold_no_forecast_point_and_no_late_moment() -> None:
    full = load_targets()
    cut = full.through(FIT_LAST_YEAR)
    assert cut.series and cut.last_year == FIT_LAST_YEAR
    for s in cut.series:
        assert max(s.years) <= FIT_LAST_YEAR, s.name
        assert s.mean_over is None or s.mean_over[1] <= FIT_LAST_YEAR, s.name
    assert not any(label.endswith((":2018", ":2019")) for label in cut.labels)
    fitted, dropped = fit_and_dropped(full, cut)
    assert fitted == cut.labels
    moments = [s.name for s in full.series if s.mean_over is not None]
    assert moments and all(any(d.startswith(m + " (moment") for d in dropped) for m in moments)
    # every yearly series observed in 2018-2019 in the data file is forecast, with the data
    # file's values (model units); manufacturing employment has no 2015-2017 value, so no
    # naive forecast; startups have 2015 and 2016 (2017 is not in the data file)
    cases = {c.series: c for c in forecast_cases(full)}
    assert set(cases) == {s.name for s in full.series if s.mean_over is None}
    assert cases["manufacturing_value_added"].observed == {2018: 29240.0, 2019: 29370.0}
    assert cases["manufacturing_employment"].history == {}
    assert list(cases["startups"].history) == [2015, 2016]


def test_section_replaces_its_old_text_or_goes_before_the_parameters(tmp_path: Path) -> None:
    assert report_section(tmp_path) == []  # no stored check: the report has no section
    report = "# R\n\n## Fit\n\nx\n\n## Parameters: posterior against prior (id)\n\ny\n"
    once = with_section(report, [TITLE, "", "first", ""])
    assert once.index(TITLE) < once.index("## Parameters") and once.count(TITLE) == 1
    twice = with_section(once, [TITLE, "", "second", ""])
    assert "second" in twice and "first" not in twice and twice.count(TITLE) == 1
    assert with_section(report, []) == report
    assert with_section("# R\n", [TITLE]).endswith(TITLE)


def _inputs(tmp: Path) -> list[str]:
    """Two free parameters and a 2-year warm start: the test exercises the machinery."""
    priors = tmp / "priors.yaml"
    priors.write_text(
        "parameters:\n"
        "  manufacturing.exit_hazard: {range: [0.01, 0.1], source: test}\n"
        "  it_sector.other_value_added_growth: {range: [0.0, 0.15], source: test}\n"
    )
    scenario = tmp / "short_burn_in.yaml"
    scenario.write_text("run:\n  warm_start_years: 2\n")
    return ["--priors", str(priors), "--scenario", str(scenario)]


TINY = [
    "calibrate",
    "--rolling-origin",
    "--quick",
    "--population",
    "8",
    "--generations",
    "2",
    "--scale",
    "0.05",
    "--predictive-draws",
    "4",
    "--jobs",
    "1",
    "--quiet",
]


def test_rolling_origin_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "cal"
    args = [*TINY, *_inputs(tmp_path), "--out", str(out)]
    (out).mkdir()
    (out / "report.md").write_text("# Calibration report\n\n## Parameters: posterior x\n")
    assert main(args) == 2  # report.md is not pilotsim's: refused, nothing written
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]
    (out / "report.md").unlink()
    assert main(args) == 0
    folder = out / "rolling_origin"
    for name in (
        "abc.db",
        "abc.json",
        "forecast.csv",
        "predictive.csv",
        "posterior.csv",
        "rolling_origin.json",
    ):
        assert (folder / name).is_file(), name
    assert (out / "figures" / "rolling_origin.png").is_file()
    table = pd.read_csv(folder / "forecast.csv")
    assert set(table["year"]) <= {2018, 2019} and len(table) == 10
    assert (table["low"] <= table["median"]).all() and (table["median"] <= table["high"]).all()
    meta = json.loads((folder / "rolling_origin.json").read_text())
    assert meta["settings"]["forecast_scale"] == 0.05  # the fit's scale
    assert all(not p.endswith(("2018", "2019")) for p in meta["fitted_points"])
    section = report_section(folder)
    assert section[0] == TITLE and "## Rolling-origin check" in section
    assert (folder / "report.md").read_text().startswith(TITLE + "\n")
    # the database exists: a second run must be told to resume or replace it
    assert main(args) == 2
    # --report-only re-reads the fit (no new ABC call) and forecasts the same
    assert main([*args, "--report-only"]) == 0
    assert len(json.loads((folder / "abc.json").read_text())["calls"]) == 1
    pd.testing.assert_frame_equal(pd.read_csv(folder / "forecast.csv"), table)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "de"], "--rolling-origin is an ABC-SMC fit"),
        (["--no-report"], "--rolling-origin is an ABC-SMC fit"),
        (["--population", "1"], "--population must be >= 2"),
        (["--predictive-draws", "1"], "--predictive-draws must be >= 2"),
        (["--report-only"], "no database to read"),
        (["--resume"], "no database to read"),
    ],
)
def test_bad_rolling_origin_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "cal"
    assert main([*TINY, *_inputs(tmp_path), "--out", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
