"""Scenario discovery (``pilotsim analyse discover``): the PRIM wrapper on data with a known
failure region, and one quick run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import discover
from sim.analysis.command import Options
from sim.analysis.experiment import Settings
from sim.analysis.sizes import QUICKS
from sim.errors import BatchError

QUICK = Settings(scale=0.05, until=2030, period=(2025, 2030))


def _uniform(n: int = 500, k: int = 4, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.uniform(size=(n, k)), columns=[f"x{i + 1}" for i in range(k)])


def _inside(x: pd.DataFrame, limits: pd.DataFrame) -> np.ndarray:
    ok = np.ones(len(x), dtype=bool)
    for r in limits.itertuples(index=False):
        ok &= (x[r.parameter] >= r.low).to_numpy() & (x[r.parameter] <= r.high).to_numpy()
    return ok


def test_prim_finds_a_known_failure_region() -> None:
    x = _uniform()
    y = ((x["x1"] > 0.7) & (x["x2"] < 0.3)).to_numpy()
    boxes = discover.find_boxes(x, y, "fails", 0.8, {c: (0.0, 1.0) for c in x})
    assert boxes, "PRIM found no box"
    b = boxes[0]
    lim = b.limits.set_index("parameter")
    assert set(lim.index) == {"x1", "x2"}
    assert lim.loc["x1", "low"] == pytest.approx(0.7, abs=0.05)
    assert lim.loc["x1", "high"] == 1.0  # unrestricted side at the full range
    assert lim.loc["x2", "high"] == pytest.approx(0.3, abs=0.05)
    assert lim.loc["x2", "low"] == 0.0
    assert lim.loc["x1", "restricts"] == "low" and lim.loc["x2", "restricts"] == "high"
    assert b.density >= 0.8 and b.coverage >= 0.8 and b.meets_threshold
    assert (lim["qp"] < 0.01).all()
    # the stats are those of the stated limits
    inside = _inside(x, b.limits)
    assert b.n == inside.sum() and b.k == (inside & y).sum()
    assert b.density == pytest.approx(b.k / b.n)
    assert b.coverage == pytest.approx(b.k / y.sum())
    assert b.mass == pytest.approx(b.n / len(x))
    text = b.describe()
    assert text.startswith(f"the platform fails in {b.density:.0%} of futures ({b.k} of {b.n})")
    assert f"where x1 >= {lim.loc['x1', 'low']:.3g} and x2 <= {lim.loc['x2', 'high']:.3g};" in text
    # nothing of interest is left for a second box
    assert len(boxes) == 1


def test_prune_drops_restrictions_that_are_noise_and_keeps_the_real_one() -> None:
    """The last peeling point restricts noise dimensions too; pruning drops them while the
    density stays above the floor, and keeps the one that matters."""
    from ema_workbench.analysis.prim import Prim

    x = _uniform(400, 8, seed=5)
    y = ((x["x1"] > 0.6) & (np.random.default_rng(6).uniform(size=len(x)) < 0.9)).to_numpy()
    alg = Prim(x, y, peel_alpha=0.05, mass_min=0.02)
    pbox = alg.find_box()
    last = len(pbox.peeling_trajectory) - 1
    assert pbox.peeling_trajectory.loc[last, "res_dim"] >= 3  # noise dimensions were cut
    j, dropped = discover.prune(pbox, last, alg.box_init, 0.7)
    kept = discover._restricted(pbox.box_lims[j], alg.box_init)
    assert "x1" in kept and "x1" not in dropped
    assert len(dropped) >= 2 and not set(dropped) & set(kept)
    assert pbox.peeling_trajectory.loc[j, "density"] >= 0.7
    assert set(pbox.yi) == set(np.flatnonzero(_inside_box(x, pbox.box_lims[j])))
    # with the threshold at 1 the floor is the box's own density: no drop may lower it
    pbox2 = Prim(x, y, peel_alpha=0.05, mass_min=0.02).find_box()
    own = pbox2.peeling_trajectory.loc[last, "density"]
    j2, dropped2 = discover.prune(pbox2, last, alg.box_init, 1.0)
    assert pbox2.peeling_trajectory.loc[j2, "density"] >= own
    assert len(dropped2) < len(dropped)


def _inside_box(x: pd.DataFrame, lims: pd.DataFrame) -> np.ndarray:
    ok = np.ones(len(x), dtype=bool)
    for c in lims.columns:
        ok &= (x[c] >= lims.loc[0, c]).to_numpy() & (x[c] <= lims.loc[1, c]).to_numpy()
    return ok


def test_prim_names_a_switch_on_or_off() -> None:
    x = _uniform(400, 3, seed=3)
    x["s"] = (np.random.default_rng(4).uniform(size=len(x)) >= 0.5).astype(float)
    y = ((x["s"] == 0.0) & (x["x1"] < 0.5)).to_numpy()
    b = discover.find_boxes(x, y, "succeeds", 0.8, switches=frozenset({"s"}))[0]
    conditions = b.conditions()
    assert "s is off" in conditions
    assert any(c.startswith("x1 <= ") for c in conditions)
    assert b.describe().startswith("the platform succeeds in ")


def test_prim_refuses_too_few_cases_and_bad_thresholds() -> None:
    x = _uniform(100, 2)
    y = np.zeros(100, dtype=bool)
    y[:4] = True
    assert discover.find_boxes(x, y, "fails", 0.8) == []
    with pytest.raises(BatchError, match="threshold"):
        discover.find_boxes(x, y, "fails", 1.5)
    with pytest.raises(BatchError, match="outcomes for 100 futures"):
        discover.find_boxes(x, y[:50], "fails", 0.8)


def test_choose_point_takes_the_widest_box_at_the_threshold() -> None:
    t = pd.DataFrame(
        {
            "coverage": [1.0, 0.9, 0.8, 0.6, 0.4],
            "density": [0.3, 0.6, 0.82, 0.9, 0.95],
            "mass": [1.0, 0.5, 0.3, 0.2, 0.1],
            "res_dim": [0, 1, 2, 2, 3],
        }
    )
    assert discover.choose_point(t, 0.8) == 2
    assert discover.choose_point(t, 0.99) == 4  # none reaches it: the densest
    assert discover.choose_point(t.iloc[:1], 0.2) is None  # nothing restricted


def test_classify_flags() -> None:
    eff = pd.DataFrame(
        {
            "npv_net_benefit_hkd_m": [-5.0, 3.0, 2.0, 0.0, np.nan],
            "local_retention_share": [0.01, -0.02, 0.0, np.nan, 0.01],
        }
    )
    f = discover.classify(eff)
    assert f["hk_net_benefit_negative"].tolist() == [True, False, False, False, False]
    assert f["retention_falls"].tolist() == [False, True, False, False, False]
    assert f["fails"].tolist() == [True, True, False, False, False]
    assert (f["succeeds"] == ~f["fails"]).all()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, discover.DiscoverResult]:
    out = tmp_path_factory.mktemp("discover")
    result = discover.run(out, QUICKS["discover"], QUICK, Options(jobs=2, progress=False))
    return out, result


def test_quick_run_writes_consistent_outputs(
    quick_run: tuple[Path, discover.DiscoverResult],
) -> None:
    from sim.analysis.space import load_space
    from sim.scenario import load_scenario

    out, result = quick_run
    summary = result.summary
    size = QUICKS["discover"]
    for name in ("futures.csv", "boxes.csv", "feature_scores.csv", "prim.png", "report.md"):
        assert (out / name).stat().st_size > 0, name
    fut = pd.read_csv(out / "futures.csv")
    assert len(fut) == size.futures
    assert fut["future"].tolist() == list(range(size.futures))

    # the futures are the root seed's Latin hypercube, in applied parameter units
    space = load_space(load_scenario("baseline"))
    x = discover.applied(space, space.latin_hypercube(size.futures, discover.design_seed(0)))
    pd.testing.assert_frame_equal(fut[list(x.columns)], x, check_exact=False, rtol=1e-9)
    assert set(fut["gba.responds"]) <= {0.0, 1.0}
    assert discover.design_seed(0) != discover.design_seed(1)

    # flags recomputed from the effect columns
    nb = fut["npv_net_benefit_hkd_m"].to_numpy(float)
    ret = fut["local_retention_share"].to_numpy(float)
    assert (fut["hk_net_benefit_negative"] == (nb < 0)).all()
    assert (fut["retention_falls"] == (np.isfinite(ret) & (ret < 0))).all()
    assert (fut["fails"] == (fut["hk_net_benefit_negative"] | fut["retention_falls"])).all()
    assert (fut["succeeds"] == ~fut["fails"]).all()
    assert summary["base_rates"]["fails"] == pytest.approx(fut["fails"].mean(), abs=1e-3)

    # a first box's stats are those of its limits over the futures
    boxes = pd.read_csv(out / "boxes.csv")
    assert list(boxes.columns[:7]) == ["criterion", "box", "coverage", "density", "mass", "n", "k"]
    for (crit, _), g in boxes[boxes["box"] == 1].groupby(["criterion", "box"]):
        inside = _inside(fut, g)
        assert g["n"].iloc[0] == inside.sum()
        assert g["k"].iloc[0] == (inside & fut[crit].to_numpy()).sum()
        assert ((g["low"] >= g["full_low"]) & (g["high"] <= g["full_high"])).all()

    scores = pd.read_csv(out / "feature_scores.csv", index_col="parameter")
    assert sorted(scores.index) == sorted(discover.prim_inputs(x).columns)
    assert "calibration.particle" not in scores.index  # a label, not a quantity
    assert "npv_net_benefit_hkd_m" in scores.columns

    info = json.loads((out / "analysis.json").read_text())
    assert info["analysis"] == "discover"
    # the paired futures (2 scenarios each) and the nominal-future noise pairs
    assert info["runs_done"] == 2 * size.futures * size.seeds + 2 * discover.NOISE_SEEDS
    report = (out / "report.md").read_text()
    assert report.startswith("## Scenario discovery: where the platform fails")
    assert "prim.png" in report and "standard error" in report
    n_fail = int(fut["fails"].sum())
    assert f"| `fails` | either of the above | {n_fail} |" in report


def test_result_object_tables_figure_and_write(
    quick_run: tuple[Path, discover.DiscoverResult], tmp_path: Path
) -> None:
    from sim.reporting import pyplot

    out, result = quick_run
    assert isinstance(result, discover.DiscoverResult)
    assert {"future", "npv_net_benefit_hkd_m", "fails", "succeeds"} <= set(result.futures.columns)
    assert list(result.box_limits.columns[:3]) == ["criterion", "box", "coverage"]
    assert "npv_net_benefit_hkd_m" in result.scores.columns
    assert list(result.boxes) == result.searched and result.searched[0] == "fails"
    assert set(result.rates) >= {"fails", "succeeds"}
    fig = result.figure()  # drawn on demand, nothing written
    assert fig.axes
    pyplot().close(fig)
    assert not any(tmp_path.iterdir())
    written = result.write(tmp_path / "w")
    names = sorted(discover.DiscoverResult.NAMES)
    assert sorted(p.name for p in written) == names
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == names
    for name in names:  # what the run wrote, byte for byte
        assert (tmp_path / "w" / name).read_bytes() == (out / name).read_bytes(), name


def test_prim_finds_two_regions_in_turn() -> None:
    x = _uniform(600, 4, seed=1)
    first = (x["x1"] > 0.7) & (x["x2"] < 0.3)
    second = (x["x3"] < 0.2) & (x["x4"] > 0.6)
    y = (first | second).to_numpy()
    boxes = discover.find_boxes(x, y, "fails", 0.8, {c: (0.0, 1.0) for c in x})
    assert len(boxes) >= 2
    found = [set(b.limits["parameter"]) for b in boxes[:2]]
    assert any({"x1", "x2"} <= f for f in found) and any({"x3", "x4"} <= f for f in found)
    assert all(b.density >= 0.8 for b in boxes[:2])
    assert [b.number for b in boxes] == list(range(1, len(boxes) + 1))
    # the second box is sought outside the first: coverages add up to at most one
    assert sum(b.coverage for b in boxes) <= 1.0 + 1e-9


def test_result_reads_back(quick_run: tuple[Path, discover.DiscoverResult], tmp_path: Path) -> None:
    """The folder reads back to the same futures, boxes (with their trajectories, points and
    dropped restrictions), noise and report."""
    from .test_analysis_results import assert_reads_back

    out, result = quick_run
    back = assert_reads_back(result, out, tmp_path / "back")
    assert back.details() == result.details()
    pd.testing.assert_frame_equal(back.trajectories, result.trajectories)
    pd.testing.assert_frame_equal(back.effects, result.effects)
    assert (back.rates, back.near, back.searched) == (result.rates, result.near, result.searched)
