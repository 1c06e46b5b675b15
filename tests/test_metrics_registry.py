"""The output registry (``sim.metrics.OUTPUTS``): one declaration per output, views select."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.cli import summary_table
from sim.experiments.compare import OUTCOME_BY_NAME, OUTCOMES, PV_HELPERS
from sim.metrics import (
    COLUMN_KINDS,
    DERIVED_KINDS,
    METRIC_BY_NAME,
    METRICS,
    OUTPUT_BY_NAME,
    OUTPUTS,
    VIEWS,
    view,
)


def test_every_output_is_declared_once_with_a_valid_kind() -> None:
    names = [m.name for m in OUTPUTS]
    assert len(names) == len(set(names)), "an output is declared twice"
    assert all(m.kind in COLUMN_KINDS + DERIVED_KINDS for m in OUTPUTS)
    assert [m.name for m in METRICS] == [m.name for m in OUTPUTS if m.kind in COLUMN_KINDS]
    for m in OUTPUTS:
        if m.kind in DERIVED_KINDS:
            assert m.fn is None, f"{m.name}: a derived outcome is not recorded"
        if m.kind == "npv":
            assert m.terms and all(c in METRIC_BY_NAME for c, _ in m.terms), m.name
        if m.kind in ("ratio", "per_dollar", "policy_share"):
            assert m.ratio_of and all(p in OUTPUT_BY_NAME for p in m.ratio_of), m.name


def test_views_are_known_and_ordered() -> None:
    for m in OUTPUTS:
        assert set(m.views) <= set(VIEWS), f"{m.name}: unknown view {set(m.views) - set(VIEWS)}"
        assert set(m.order) <= set(m.views), f"{m.name}: a position in a view it is not in"
    for name in VIEWS:
        members = view(name)
        assert members, f"view {name} shows nothing"
        positions = [m.order[name] for m in members if name in m.order]
        if positions:  # a view with its own order places every member, each once
            assert len(positions) == len(members) == len(set(positions)), name
        assert all(m.caption(name) for m in members if name != "pv_helper"), name
    with pytest.raises(KeyError, match="unknown view"):
        view("no_such_view")


def test_views_of_annual_columns_hold_columns() -> None:
    """The run summary and the routes and stages figure read annual columns directly."""
    for name in ("summary", "route", "stage"):
        assert all(m.name in METRIC_BY_NAME for m in view(name)), name
    assert {m.name for m in view("pv_helper")} == set(PV_HELPERS)
    assert all(OUTPUT_BY_NAME[p].kind == "npv" for p in PV_HELPERS)


def test_comparison_units_follow_the_kind() -> None:
    assert [o.name for o in OUTCOMES] == [m.name for m in OUTPUTS if "compare" in m.views]
    units = {n: (o.year_unit, o.period_unit) for n, o in OUTCOME_BY_NAME.items()}
    assert units["hk_value_added_hkd_m"] == ("HKD m a year", "HKD m, sum")
    assert units["hk_jobs"] == ("persons, year end", "persons, mean")
    assert units["local_retention_share"] == ("share", "share of sums")
    assert units["npv_net_benefit_hkd_m"][1] == "HKD m, present value"
    assert all(o.label for o in OUTCOMES), "a comparison outcome without a label"


def test_run_summary_shows_its_view_and_no_share_of_nothing() -> None:
    cols = {m.name: [0.0, 4.0] for m in METRICS}
    cols |= {"year": [2019, 2025], "hk_value_added_hkd_m": [0.0, 1234.5]}
    cols |= {"total_value_added_hkd_m": [0.0, 2469.0], "local_retention_share": [0.0, 0.5]}
    lines = summary_table(pd.DataFrame(cols), years=(2019, 2025)).splitlines()
    assert [ln.split("  ")[0] for ln in lines[1:]] == [
        m.caption("summary") for m in view("summary")
    ]
    share = next(ln for ln in lines if ln.startswith("local retention share")).split()
    assert share[-2:] == ["n/a", "0.500"]
    value = next(ln for ln in lines if ln.startswith("HK value added")).split()
    assert value[-2:] == ["0", "1,234"]
