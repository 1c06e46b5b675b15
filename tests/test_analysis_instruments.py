"""Equal-cost instruments (``pilotsim analyse instruments``): the budget search, the regret
table, and a quick end-to-end run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import instruments as ins
from sim.analysis.command import QUICK_SETTINGS, Options
from sim.analysis.experiment import Settings
from sim.analysis.sizes import QUICKS
from sim.errors import BatchError

# ------------------------------------------------------------------------- budget search


class Counted:
    """A cost function that counts its evaluations."""

    def __init__(self, f):
        self.f = f
        self.calls: list[float] = []

    def __call__(self, x: float) -> float:
        self.calls.append(x)
        return self.f(x)


def test_search_finds_linear_knob_within_tolerance():
    cost = Counted(lambda x: 5.0 * x)
    r = ins.search_knob(cost, target=100.0, start=12.0, zero=0.0, top=48.0, max_evals=6)
    assert r.status == "reached" and r.reached
    assert r.value == pytest.approx(20.0, rel=ins.COST_TOLERANCE)
    assert abs(r.ratio - 1) <= ins.COST_TOLERANCE
    assert r.evaluations == len(cost.calls) <= 6
    assert cost.calls[0] == 12.0  # starts from the scenario's own value


def test_search_finds_nonlinear_knob_from_above_and_below():
    # A multiplier knob: no cost at 1, convex and concave costs, start on either side.
    for f, start in (
        (lambda m: 300.0 * (m - 1.0) ** 2, 1.2),  # convex, start below the answer (m=1.5774)
        (lambda m: 300.0 * (m - 1.0) ** 2, 1.9),  # start above
        (lambda m: 200.0 * math.sqrt(m - 1.0), 1.1),  # concave (answer m=1.5625)
    ):
        cost = Counted(f)
        r = ins.search_knob(cost, target=100.0, start=start, zero=1.0, top=5.0, max_evals=8)
        assert r.status == "reached", (start, cost.calls)
        assert abs(f(r.value) / 100.0 - 1) <= ins.COST_TOLERANCE
        assert len(cost.calls) <= 8
        assert all(1.0 < x <= 5.0 for x in cost.calls)


def test_search_flags_unreachable_target_and_uses_top():
    # A budget ceiling that stops binding: take-up saturates at 30.
    cost = Counted(lambda b: min(b, 10.0) * 3.0)
    r = ins.search_knob(cost, target=100.0, start=8.0, zero=0.0, top=32.0, max_evals=6)
    assert r.status == "unreachable" and not r.reached
    assert r.value == 32.0
    assert r.ratio == pytest.approx(0.3)
    assert len(cost.calls) <= 6
    # flat from the start: the next value tried is the top
    cost = Counted(lambda b: 0.0)
    r = ins.search_knob(cost, target=100.0, start=8.0, zero=0.0, top=32.0, max_evals=6)
    assert cost.calls == [8.0, 32.0] and r.status == "unreachable" and r.ratio == 0.0


def test_search_out_of_evaluations_keeps_closest_value():
    cost = Counted(lambda x: x**3)
    r = ins.search_knob(cost, target=1000.0, start=1.0, zero=0.0, top=40.0, max_evals=2)
    assert len(cost.calls) == 2
    assert r.status == "not converged" and not r.reached
    closest = min(cost.calls, key=lambda x: abs(x**3 - 1000.0))
    assert r.value == closest and r.cost == closest**3


def test_search_bad_input():
    with pytest.raises(BatchError, match="target cost must be > 0"):
        ins.BudgetSearch(0.0, 1.0, 0.0, 4.0, 3)
    with pytest.raises(BatchError, match="--cost-iterations must be >= 1"):
        ins.BudgetSearch(10.0, 1.0, 0.0, 4.0, 0)
    with pytest.raises(BatchError, match="zero < start <= top"):
        ins.BudgetSearch(10.0, 5.0, 0.0, 4.0, 3)
    s = ins.BudgetSearch(10.0, 1.0, 0.0, 4.0, 3)
    with pytest.raises(BatchError, match="not a number"):
        s.tell(1.0, float("nan"))


# ---------------------------------------------------------------------------- regret


def synthetic() -> pd.DataFrame:
    nb = {  # net benefit per future
        "a": [10.0, -5.0, 3.0, -1.0],
        "b": [4.0, -2.0, 3.0, -4.0],
        "c": [-1.0, -3.0, 1.0, -2.0],
    }
    rows = [
        {
            "policy": p,
            "future": f,
            ins.NET: v,
            ins.COST: 7.0,
            ins.VALUE: 2.0 * v,
        }
        for p, vals in nb.items()
        for f, v in enumerate(vals)
    ]
    return pd.DataFrame(rows)


def test_regret_by_future_synthetic():
    long = ins.regret_by_future(synthetic(), do_nothing=True).set_index(["future", "option"])
    # future 0: a best (10); future 1: do nothing (0); future 2: a and b tie at 3;
    # future 3: do nothing
    assert long.loc[(0, "c"), "regret"] == 11.0
    assert long.loc[(1, "a"), "regret"] == 5.0
    assert long.loc[(1, ins.DO_NOTHING), "regret"] == 0.0
    assert long.loc[(2, "a"), "best_share"] == 0.5 == long.loc[(2, "b"), "best_share"]
    assert long.loc[(2, ins.DO_NOTHING), "regret"] == 3.0
    assert (long["regret"] >= 0).all()
    assert long.groupby("future")["best_share"].sum().eq(1.0).all()
    only = ins.regret_by_future(synthetic(), do_nothing=False).set_index(["future", "option"])
    assert ins.DO_NOTHING not in only.index.get_level_values("option")
    assert only.loc[(1, "b"), "regret"] == 0.0 and only.loc[(1, "a"), "regret"] == 3.0


def test_regret_table_synthetic():
    t = ins.regret_table(synthetic(), do_nothing=True).set_index("option")
    assert list(t.index) == ["a", "b", "c", ins.DO_NOTHING]
    assert t.loc["a", "mean_net_benefit"] == pytest.approx(7.0 / 4)
    assert t.loc["a", "se_mean_net_benefit"] == pytest.approx(np.std([10, -5, 3, -1], ddof=1) / 2)
    assert t.loc["a", "share_best"] == pytest.approx(1.5 / 4)
    assert t.loc["b", "share_best"] == pytest.approx(0.5 / 4)
    assert t.loc[ins.DO_NOTHING, "share_best"] == pytest.approx(2 / 4)
    assert t["share_best"].sum() == pytest.approx(1.0)
    p = 0.375
    assert t.loc["a", "se_share_best"] == pytest.approx(math.sqrt(p * (1 - p) / 4))
    assert t.loc["a", "p_positive"] == 0.5 and t.loc["c", "p_positive"] == 0.25
    # regrets: a [0, 5, 0, 1], b [6, 2, 0, 4], c [11, 3, 2, 2], nothing [10, 0, 3, 0]
    assert t.loc["a", "max_regret"] == 5.0 and t.loc["a", "mean_regret"] == 1.5
    assert t.loc["b", "max_regret"] == 6.0
    assert t.loc["c", "mean_regret"] == 4.5
    assert t.loc[ins.DO_NOTHING, "max_regret"] == 10.0
    assert t.loc["a", "p50_net_benefit"] == pytest.approx(1.0)
    assert t.loc["a", "mean_hk_value_added"] == pytest.approx(3.5)
    assert t.loc[ins.DO_NOTHING, "mean_pv_public_cost"] == 0.0
    assert t.loc["b", "mean_pv_public_cost"] == 7.0
    only = ins.regret_table(synthetic(), do_nothing=False).set_index("option")
    assert ins.DO_NOTHING not in only.index
    # best among a, b, c: a, b, a and b tied, a
    assert only.loc["a", "share_best"] == pytest.approx(2.5 / 4)
    assert only.loc["b", "share_best"] == pytest.approx(1.5 / 4)
    assert only["share_best"].sum() == pytest.approx(1.0)


def test_regret_rounding_noise_is_a_tie_and_nan_is_refused():
    e = synthetic()
    e.loc[(e["policy"] == "c") & (e["future"] == 3), ins.NET] = 4.5e-13  # a lever that did nothing
    long = ins.regret_by_future(e).set_index(["future", "option"])
    assert long.loc[(3, "c"), "best_share"] == 0.5 == long.loc[(3, ins.DO_NOTHING), "best_share"]
    assert long.loc[(3, "c"), "regret"] == 0.0
    e.loc[0, ins.NET] = float("nan")
    with pytest.raises(BatchError, match="net benefit missing"):
        ins.regret_by_future(e)


# ------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[Path, ins.InstrumentsResult]:
    out = tmp_path_factory.mktemp("instruments")
    result = ins.run(
        out, QUICKS["instruments"], Settings(**QUICK_SETTINGS), Options(jobs=2, progress=False)
    )
    return out, result


def test_quick_run_files_and_equal_cost(quick):
    out, result = quick
    summary = result.summary
    for f in (
        "report.md",
        "instruments.png",
        "regret.png",
        "equal_cost.csv",
        "equal_cost_search.csv",
        "regret.csv",
        "regret_by_future.csv",
        "effects.csv",
        "futures.csv",
        "analysis.json",
    ):
        assert (out / f).stat().st_size > 0, f
    size = QUICKS["instruments"]
    cost = pd.read_csv(out / "equal_cost.csv").set_index("instrument")
    assert list(cost.index) == [i.name for i in ins.INSTRUMENTS]
    assert cost.loc["platform", "ratio"] == 1.0
    assert bool(cost.loc["itf_rebalance", "budget_neutral"])
    assert abs(cost.loc["itf_rebalance", "pv_cost"]) < 1e-6
    for name in ("rfs", "rd_funding", "innohk"):
        row = cost.loc[name]
        assert 1 <= row["evaluations"] <= size.cost_iterations
        if row["status"] == "reached":
            assert abs(row["ratio"] - 1) <= ins.COST_TOLERANCE
        elif row["status"] == "unreachable":
            inst = ins.INSTRUMENT_BY_NAME[name]
            search = pd.read_csv(out / "equal_cost_search.csv")
            start = search[(search["instrument"] == name) & (search["evaluation"] == 1)]
            top = inst.zero + ins.SEARCH_TOP * (float(start["value"].iloc[0]) - inst.zero)
            assert row["value"] == pytest.approx(top) and row["ratio"] < 1
        else:
            assert row["status"] == "not converged"
    report = (out / "report.md").read_text()
    assert report.startswith("## Equal-cost instruments")
    assert "instruments.png" in report and "regret.png" in report
    info = json.loads((out / "analysis.json").read_text())
    assert info["analysis"] == "instruments" and info["runs_failed"] == 0
    n_runs = size.futures * size.seeds * (len(ins.INSTRUMENTS) + 1)
    assert info["runs_futures"] == n_runs
    assert summary["target_pv_cost_hkd_m"] == pytest.approx(cost["target"].iloc[0], abs=0.1)


def test_quick_run_regret(quick):
    out, result = quick
    summary = result.summary
    size = QUICKS["instruments"]
    long = pd.read_csv(out / "regret_by_future.csv")
    assert set(long["choice"]) == set(ins.CHOICES)
    assert (long["regret"] >= 0).all()
    best = long[long["net_benefit"] == long["best"]]
    assert (best["regret"] == 0).all()
    for _, g in long.groupby(["choice", "future"]):
        assert g["best_share"].sum() == pytest.approx(1.0)
        assert g["net_benefit"].max() == g["best"].iloc[0]
    assert long["future"].nunique() == size.futures
    t = pd.read_csv(out / "regret.csv")
    for choice, g in t.groupby("choice"):
        assert g["share_best"].sum() == pytest.approx(1.0)
        assert (ins.DO_NOTHING in set(g["option"])) == (choice == ins.CHOICES[0])
        picks = summary[choice.replace(" ", "_")]
        assert g.loc[g["max_regret"].idxmin(), "option"] in picks["minimax_regret"]
        least = g.loc[g["option"].isin(picks["minimax_regret"]), "max_regret"]
        assert least.max() == pytest.approx(g["max_regret"].min())
    effects = pd.read_csv(out / "effects.csv")
    assert set(effects["policy"]) == {i.name for i in ins.INSTRUMENTS}
    assert len(effects) == size.futures * len(ins.INSTRUMENTS)


def test_result_object_tables_figures_and_write(quick, tmp_path):
    from sim.reporting import pyplot

    out, result = quick
    assert isinstance(result, ins.InstrumentsResult)
    assert list(result.cost_table.columns)[:4] == ["instrument", "knob", "value", "pv_cost"]
    assert {"instrument", "evaluation", "value", "pv_cost"} <= set(result.search_log.columns)
    assert {"policy", "future", ins.NET, ins.COST} <= set(result.effects.columns)
    assert set(result.tables) == set(ins.CHOICES) == set(result.by_future)
    for t in result.tables.values():
        assert {"option", "mean_net_benefit", "share_best", "max_regret"} <= set(t.columns)
    assert list(result.regret.columns)[0] == "choice"
    assert result.futures.index.name == "future"
    for draw in (result.figure, result.regret_figure):  # drawn on demand, nothing written
        fig = draw()
        assert fig.axes
        pyplot().close(fig)
    assert not any(tmp_path.iterdir())
    assert result.report().startswith("## Equal-cost instruments")
    written = result.write(tmp_path / "w")
    assert sorted(p.name for p in written) == sorted(ins.InstrumentsResult.NAMES)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == sorted(ins.InstrumentsResult.NAMES)
    for name in ins.InstrumentsResult.NAMES:  # what the run wrote, byte for byte
        assert (tmp_path / "w" / name).read_bytes() == (out / name).read_bytes(), name


def test_quick_rerun_resumes_with_same_results(quick):
    out, _ = quick
    before = pd.read_csv(out / "regret.csv")
    ins.run(out, QUICKS["instruments"], Settings(**QUICK_SETTINGS), Options(jobs=1, progress=False))
    info = json.loads((out / "analysis.json").read_text())
    assert info["runs_done"] == 0 and info["runs_skipped"] > 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "regret.csv"), before)


def test_result_reads_back(quick, tmp_path):
    """The folder reads back to the same equal-cost search, effects, regret and report (a
    rerun in the folder changes only the counts)."""
    from .test_analysis_results import assert_reads_back

    out, result = quick
    back = assert_reads_back(result, out, tmp_path / "back")
    pd.testing.assert_frame_equal(back.regret, result.regret)
    pd.testing.assert_frame_equal(
        back.regret_by_choice_and_future, result.regret_by_choice_and_future
    )
