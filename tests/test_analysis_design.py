"""The design frontier (``pilotsim analyse design``): decoding the levers, the Pareto filter,
and a quick end-to-end run with its resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import design as dz
from sim.analysis.command import QUICK_SETTINGS, Options
from sim.analysis.experiment import Settings, prepare
from sim.analysis.sizes import QUICKS
from sim.analysis.space import PLATFORM_LEVERS, SECTOR_GROUPS, design_overrides
from sim.errors import BatchError

# ------------------------------------------------------------------------------- levers


def test_decode_edges():
    lo = design_overrides([0.0] * 7)
    hi = design_overrides([1.0] * 7)
    assert lo["platform.public_budget_hkd_m"] == 50.0 and hi["platform.public_budget_hkd_m"] == 1200
    assert lo["platform.slot_cost_hkd_m"] == 4.0 and hi["platform.slot_cost_hkd_m"] == 16.0
    assert lo["platform.fee_subsidy_share"] == 0.0 and hi["platform.fee_subsidy_share"] == 1.0
    for key in ("platform.engineering", "platform.matching", "platform.follow_up_support"):
        assert lo[key] is False and hi[key] is True
    assert lo["platform.sectors"] == list(SECTOR_GROUPS["all"])
    assert hi["platform.sectors"] == list(SECTOR_GROUPS["traditional"])
    assert dz.decode([0.0] * 7)["sectors"] == "all"
    assert dz.decode([1.0] * 7)["sectors"] == "traditional"
    assert dz.decode([0.5] * 7)["sectors"] == "high_end"
    assert set(dz.decode([0.0] * 7)) == set(dz.LEVER_COLUMNS.values())
    with pytest.raises(ValueError, match="7 levers"):
        design_overrides([0.5] * 6)


def test_default_x_reproduces_the_platform_scenario():
    from sim.scenario import load_scenario, with_overrides

    s = Settings(**QUICK_SETTINGS)
    spec = prepare(load_scenario("hk_pilot_platform"), s)
    x0 = dz.default_x(spec)
    assert ((x0 >= 0) & (x0 <= 1)).all()
    again = with_overrides(spec, design_overrides(x0.tolist()))
    p, q = spec.platform, again.platform
    assert q.public_budget_hkd_m == pytest.approx(p.public_budget_hkd_m)
    assert q.slot_cost_hkd_m == pytest.approx(p.slot_cost_hkd_m)
    assert q.fee_subsidy_share == pytest.approx(p.fee_subsidy_share)
    assert (q.engineering, q.matching, q.follow_up_support) == (
        p.engineering,
        p.matching,
        p.follow_up_support,
    )
    assert tuple(q.sectors) == tuple(p.sectors)
    narrow = with_overrides(spec, {"platform.sectors": ["textiles_clothing"]})
    with pytest.raises(BatchError, match="none of the design groups"):
        dz.default_x(narrow)
    rich = with_overrides(spec, {"platform.public_budget_hkd_m": 5000.0})
    with pytest.raises(BatchError, match="outside the design range"):
        dz.default_x(rich)


def test_pareto_mask():
    f = np.array(
        [
            [1.0, 5.0, 0.0],  # front
            [2.0, 2.0, 0.0],  # front
            [2.0, 3.0, 0.0],  # dominated by row 1
            [5.0, 1.0, 0.0],  # front
            [5.0, 1.0, 0.0],  # equal to row 3: not dominated
            [0.5, 9.0, 1.0],  # front (best first objective)
            [6.0, 6.0, 1.0],  # dominated
        ]
    )
    assert dz.pareto_mask(f).tolist() == [True, True, False, True, True, True, False]


def test_bad_sizes_refused(tmp_path):
    import dataclasses

    bad = dataclasses.replace(QUICKS["design"], population=1)
    with pytest.raises(BatchError, match="--population must be >= 2"):
        dz.run(tmp_path, bad, Settings(**QUICK_SETTINGS), Options(jobs=1, progress=False))
    bad = dataclasses.replace(QUICKS["design"], robust_futures=0)
    with pytest.raises(BatchError, match="--robust-futures must be >= 1"):
        dz.run(tmp_path, bad, Settings(**QUICK_SETTINGS), Options(jobs=1, progress=False))


# ------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[Path, dz.DesignResult]:
    out = tmp_path_factory.mktemp("design")
    result = dz.run(
        out, QUICKS["design"], Settings(**QUICK_SETTINGS), Options(jobs=2, progress=False)
    )
    return out, result


def _objectives(df: pd.DataFrame) -> np.ndarray:
    return np.column_stack([sign * df[col].to_numpy(float) for _, col, sign in dz.OBJECTIVES])


def test_quick_run_files_and_designs(quick):
    out, result = quick
    summary = result.summary
    for f in ("report.md", "frontier.png", "designs.csv", "pareto.csv", "futures.csv"):
        assert (out / f).stat().st_size > 0, f
    size = QUICKS["design"]
    d = pd.read_csv(out / "designs.csv")
    assert set(d["search"]) == set(dz.SEARCHES)
    for search, pop, gens in (
        ("nominal", size.population, size.generations),
        ("robust", size.robust_population, size.robust_generations),
    ):
        g = d[d["search"] == search]
        # the default once (generation 0), then one population per generation
        assert int(g["default"].sum()) == 1
        assert g.loc[g["default"], "generation"].tolist() == [0]
        assert sorted(set(g["generation"])) == list(range(gens + 1))
        assert (g.groupby("generation").size().drop(0) <= pop).all()
        assert summary[search]["designs"] == g["design"].nunique()
        dflt = g[g["default"]].iloc[0]
        assert dflt["public_budget_hkd_m"] == pytest.approx(300.0)
        assert dflt["sectors"] == "all"
        assert summary[search]["default"]["net_benefit"] == pytest.approx(
            dflt["net_benefit"], abs=1e-4
        )
    # every lever value within its range
    for lv in PLATFORM_LEVERS:
        col = d[dz.LEVER_COLUMNS[lv.key]]
        if lv.kind == "real":
            assert col.between(lv.low, lv.high).all(), lv.key
        elif lv.kind == "switch":
            assert col.isin([True, False]).all(), lv.key
        else:
            assert col.isin(list(SECTOR_GROUPS)).all(), lv.key
    assert np.isfinite(d[["net_benefit", "public_cost"]].to_numpy(float)).all()
    # a design that spends nothing is a platform that never opened: paired runs are identical
    idle = d[d["public_cost"] == 0.0]
    assert (idle[["net_benefit", "hk_value_added", "retention"]] == 0.0).all().all()
    info = json.loads((out / "analysis.json").read_text())
    for search in dz.SEARCHES:
        n = d[(d["search"] == search) & (d["public_cost"] == 0.0)]["design"].nunique()
        assert info["idle"][search] == n
    robust = d[d["search"] == "robust"]
    assert robust["p10_net_benefit"].notna().all()
    assert (robust["p10_net_benefit"] <= robust["net_benefit"] + 1e-9).all()
    assert d.loc[d["search"] == "nominal", "p10_net_benefit"].isna().all()


def test_quick_pareto_is_non_dominated_and_complete(quick):
    out, result = quick
    summary = result.summary
    d = pd.read_csv(out / "designs.csv")
    p = pd.read_csv(out / "pareto.csv")
    for search in dz.SEARCHES:
        front = p[p["search"] == search]
        assert len(front) == summary[search]["pareto_size"] >= 1
        assert front["design"].is_unique
        assert front["public_cost"].is_monotonic_increasing
        f = _objectives(front)
        for i in range(len(f)):
            for j in range(len(f)):
                dominates = (f[j] <= f[i]).all() and (f[j] < f[i]).any()
                assert not dominates, (search, i, j)
        # every evaluated design off the front is dominated by one on it
        rest = d[(d["search"] == search) & ~d["design"].isin(front["design"])]
        for r in _objectives(rest):
            assert ((f <= r).all(axis=1) & (f < r).any(axis=1)).any()
        best = d[d["search"] == search]["net_benefit"].max()
        assert front["net_benefit"].max() == pytest.approx(best)
        assert summary[search]["best_net_benefit"]["net_benefit"] == pytest.approx(best, abs=1e-4)


def test_quick_report(quick):
    out, _ = quick
    report = (out / "report.md").read_text()
    assert report.startswith("## A design frontier for the platform")
    assert "frontier.png" in report
    for lv in PLATFORM_LEVERS:
        assert lv.key in report and lv.source in report
    assert "Pareto set, nominal search" in report and "Pareto set, robust search" in report
    assert "no quality cost" in report and "**Precision.**" in report
    info = json.loads((out / "analysis.json").read_text())
    assert info["analysis"] == "design" and info["runs_failed"] == 0
    assert info["noise"]["sd"]["net_benefit"] > 0
    # robust futures leave the levers alone
    futures = pd.read_csv(out / "futures.csv")
    assert len(futures) == QUICKS["design"].robust_futures
    assert not set(dz.LEVER_COLUMNS) & set(futures.columns)


def test_result_object_tables_figure_and_write(quick, tmp_path):
    from sim.reporting import pyplot

    out, result = quick
    assert isinstance(result, dz.DesignResult)
    objectives = [col for _, col, _ in dz.OBJECTIVES]
    assert {"search", "design", "generation", "default", "pareto", *objectives} <= set(
        result.designs.columns
    )
    assert {"search", "design", *objectives} <= set(result.pareto.columns)
    assert "pareto" not in result.pareto.columns
    assert result.futures.index.name == "future"
    assert set(result.runs) == set(dz.SEARCHES) == set(result.idle)
    fig = result.figure()  # drawn on demand, nothing written
    assert fig.axes
    pyplot().close(fig)
    assert not any(tmp_path.iterdir())
    assert result.report().startswith("## A design frontier for the platform")
    written = result.write(tmp_path / "w")
    assert sorted(p.name for p in written) == sorted(dz.DesignResult.NAMES)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == sorted(dz.DesignResult.NAMES)
    for name in dz.DesignResult.NAMES:  # what the run wrote, byte for byte
        assert (tmp_path / "w" / name).read_bytes() == (out / name).read_bytes(), name


def test_quick_rerun_resumes_with_same_results(quick):
    out, _ = quick
    before = pd.read_csv(out / "designs.csv")
    dz.run(out, QUICKS["design"], Settings(**QUICK_SETTINGS), Options(jobs=1, progress=False))
    info = json.loads((out / "analysis.json").read_text())
    assert info["runs_done"] == 0 and info["runs_skipped"] > 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "designs.csv"), before)


def test_result_reads_back(quick, tmp_path):
    """The folder reads back to the same designs, frontier, noise and report (a rerun in the
    folder changes only the counts)."""
    from .test_analysis_results import assert_reads_back

    out, result = quick
    back = assert_reads_back(result, out, tmp_path / "back")
    pd.testing.assert_frame_equal(back.pareto, result.pareto)
    assert (back.noise, back.runs, back.idle) == (result.noise, result.runs, result.idle)
