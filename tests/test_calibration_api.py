"""The calibration's Python API (``sim.calibration.api``): settings, target mapping, fit table.

The end-to-end runs (ABC-SMC quick mode, point fit) go through the same API via the
``pilotsim calibrate`` command in tests/test_calibration.py.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim import calibration as cal
from sim.calibration.api import CalibrationSettings, canonical_command
from sim.cli import build_parser
from sim.errors import PilotsimError, UsageError


def test_settings_from_the_command_line_match_the_api_defaults() -> None:
    args = build_parser().parse_args(["calibrate", "--quick"])
    s = CalibrationSettings.from_namespace(args).resolved()
    assert canonical_command(s) == canonical_command(CalibrationSettings(quick=True).resolved())
    assert (s.population, s.generations, s.scale) == (24, 2, 0.1)
    assert str(s.out) == "results/calibration-quick"
    assert canonical_command(s).startswith("pilotsim calibrate --method abc")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"population": 1}, "--population must be >= 2"),
        ({"resume": True, "fresh": True}, "exclude each other"),
        ({"method": "nope"}, "method must be"),
        ({"report_only": True, "method": "de"}, "--report-only"),
    ],
)
def test_bad_settings_raise_usage_error(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        cal.calibrate(log=None, **kwargs)
    assert issubclass(UsageError, PilotsimError)


def test_target_table_maps_data_series_to_model_columns() -> None:
    targets = cal.load_targets()
    table = cal.target_table(targets)
    assert len(table) == len(targets.labels)
    mva = table[table["series"] == "manufacturing_value_added"].iloc[0]
    assert mva["data_series"] == "manufacturing_value_added_constant_prices"
    assert mva["model_column"] == "manufacturing_value_added_hkd_m"
    assert mva["observed"] == pytest.approx(mva["data_value"] * mva["factor"])
    assert list(table["observed"]) == pytest.approx(list(targets.observed))


def test_fit_table_of_runs_equal_to_the_data_is_exact() -> None:
    targets = cal.load_targets()
    rows = []
    for seed in range(3):
        for y in range(2015, targets.last_year + 1):
            row = {"seed": seed, "year": y}
            for s in targets.series:
                obs = dict(zip(s.years, s.observed, strict=True))
                in_window = s.mean_over is not None and s.mean_over[0] <= y <= s.mean_over[1]
                row[s.model_column] = s.observed[0] if in_window else obs.get(y, 1.0)
            rows.append(row)
    fit = cal.fit_table(targets, pd.DataFrame(rows))
    fitted = fit[fit["fitted"]]
    assert len(fitted) == len(targets.labels)
    assert fitted["rel_error"].abs().max() == pytest.approx(0.0)
    assert fitted["covered"].all()
    assert targets.distance(fitted["median"].to_numpy()) == pytest.approx(0.0)
