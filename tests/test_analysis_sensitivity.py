"""``pilotsim analyse sensitivity``: Morris screening, noise floor, selection, Sobol indices."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis import sensitivity as sens
from sim.analysis.command import Options
from sim.analysis.experiment import Settings
from sim.analysis.sizes import QUICKS
from sim.errors import BatchError

QUICK = Settings(scale=0.05, until=2030, period=(2025, 2030))
MEASURES = sens.SENSITIVITY_MEASURES


# ------------------------------------------------------------------ no model runs


def test_noise_floor_formula_and_monte_carlo() -> None:
    # sqrt(2/pi) * sqrt(2) * s / sqrt(seeds) / delta, delta = 4 / (2 * 3) = 2/3
    assert sens.morris_delta(4) == pytest.approx(2 / 3)
    expected = math.sqrt(2 / math.pi) * math.sqrt(2) * 3.0 / math.sqrt(4) / (2 / 3)
    assert sens.noise_floor(3.0, 4) == pytest.approx(expected)
    # Pure noise: each point the mean of 4 seeds of sd 3, independent between the two points.
    rng = np.random.default_rng(5)
    y = rng.normal(0.0, 3.0, size=(2, 200_000, 4)).mean(axis=2)
    mc = np.mean(np.abs(y[1] - y[0]) / sens.morris_delta(4))
    assert mc == pytest.approx(sens.noise_floor(3.0, 4), rel=0.01)
    assert sens.noise_floor(3.0, 16) == pytest.approx(sens.noise_floor(3.0, 4) / 2)
    with pytest.raises(ValueError, match="seeds"):
        sens.noise_floor(1.0, 0)


def _synthetic() -> pd.DataFrame:
    # measure m1: A dominates; B is 5% of A (screened out) though above noise.
    # measure m2: C is large relative to the measure's top but below the noise floor.
    # measure m3: D passes only here.
    mu = {
        "A": (100.0, 1.0, 0.0),
        "B": (5.0, 0.0, 0.0),
        "C": (2.0, 8.0, 0.0),
        "D": (1.0, 0.5, 4.0),
        "E": (0.0, 0.0, 0.2),
    }
    rows = [
        {"parameter": p, "measure": m, "mu_star": v[i]}
        for p, v in mu.items()
        for i, m in enumerate(("m1", "m2", "m3"))
    ]
    return pd.DataFrame(rows)


def test_screen_normalises_and_compares_with_the_floor() -> None:
    t = sens.screen(_synthetic(), {"m1": 1.5, "m2": 10.0, "m3": 0.1})
    by = t.set_index(["parameter", "measure"])
    assert by.loc[("A", "m1"), "normalised"] == 1.0
    assert by.loc[("B", "m1"), "normalised"] == pytest.approx(0.05)
    assert by.loc[("C", "m2"), "normalised"] == 1.0
    assert by.loc[("D", "m3"), "normalised"] == 1.0
    assert by.loc[("E", "m3"), "normalised"] == pytest.approx(0.05)
    assert bool(by.loc[("B", "m1"), "above_noise"])
    assert not bool(by.loc[("C", "m2"), "above_noise"])  # 8 < 10
    assert bool(by.loc[("A", "m1"), "above_noise"])
    # a measure whose mu* are all zero normalises to zero, not NaN
    z = sens.screen(_synthetic().assign(mu_star=0.0), {"m1": 0, "m2": 0, "m3": 0})
    assert (z["normalised"] == 0).all() and not z["above_noise"].any()


def test_select_rule() -> None:
    t = sens.screen(_synthetic(), {"m1": 1.5, "m2": 10.0, "m3": 0.1})
    chosen, fallback, rank = sens.select(t, most=5)
    # A (m1) and D (m3) pass; C is ranked high (normalised 1 in m2) but under the floor there
    # and its 0.02 / 0 elsewhere is below the share; B is 5% of A; E is 5% of D.
    assert chosen == ["A", "D"] and not fallback
    assert rank["parameter"].tolist()[:3] == ["A", "C", "D"]  # ties keep the table's order
    assert rank.set_index("parameter")["passes"].to_dict() == {
        "A": True,
        "B": False,
        "C": False,
        "D": True,
        "E": False,
    }
    assert sens.select(t, most=1)[0] == ["A"]
    # nothing above the floors: the top two by score, and say so
    none = sens.screen(_synthetic(), {"m1": 1e9, "m2": 1e9, "m3": 1e9})
    chosen, fallback, _ = sens.select(none, most=5)
    assert chosen == ["A", "C"] and fallback
    assert sens.select(none, most=1)[0] == ["A"]
    with pytest.raises(ValueError):
        sens.select(t, most=0)


def test_sobol_sample_is_nested_blocks_and_indices_are_right() -> None:
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}
    big = sobol_sample.sample(problem, 16, calc_second_order=False, seed=7)
    small = sobol_sample.sample(problem, 4, calc_second_order=False, seed=7)
    # the first n (D + 2) rows of the sample of 16 are the sample of 4
    np.testing.assert_array_equal(big[: 4 * 5], small)
    # a linear function: S1 = ST = c_i^2 / sum(c^2) = (16, 4, 0) / 20
    x = sobol_sample.sample(problem, 1024, calc_second_order=False, seed=7)
    y = 4 * x[:, 0] + 2 * x[:, 1]
    s = sens.sobol_indices(problem, y, 1024, seed=3).set_index("parameter")
    np.testing.assert_allclose(s["S1"], [0.8, 0.2, 0.0], atol=0.05)
    np.testing.assert_allclose(s["ST"], [0.8, 0.2, 0.0], atol=0.05)
    assert (s.loc[["a", "b"], "S1_conf"] > 0).all() and (s["n"] == 1024).all()
    # fewer base samples: the same estimator on the nested prefix
    s8 = sens.sobol_indices(problem, y, 8, seed=3)
    assert (s8["n"] == 8).all() and not s8["ST"].equals(s["ST"].reset_index(drop=True))
    # no variance: no indices
    flat = sens.sobol_indices(problem, np.ones_like(y), 1024, seed=3)
    assert flat["ST"].isna().all()
    with pytest.raises(ValueError, match="outputs"):
        sens.sobol_indices(problem, y[:10], 4, seed=3)


def test_convergence_sizes_and_seeds() -> None:
    assert sens.convergence_sizes(64) == [8, 16, 32, 64]
    assert sens.convergence_sizes(8) == [2, 4, 8]
    assert sens.convergence_sizes(4) == [2, 4]
    assert sens.convergence_sizes(2) == [2]
    a = sens.stage_seed(0, "morris_sample")
    assert a == sens.stage_seed(0, "morris_sample") and a > 0
    assert a != sens.stage_seed(1, "morris_sample")
    assert a != sens.stage_seed(0, "sobol_sample")


@pytest.mark.parametrize(
    ("field", "value", "option"),
    [
        ("sobol_n", 6, "--sobol-n"),
        ("sobol_n", 1, "--sobol-n"),
        ("trajectories", 1, "--trajectories"),
        ("noise_seeds", 1, "--noise-seeds"),
    ],
)
def test_bad_sizes_are_refused_before_any_run(tmp_path, field, value, option) -> None:
    size = dataclasses.replace(QUICKS["sensitivity"], **{field: value})
    with pytest.raises(BatchError, match=option):
        sens.run(tmp_path / "out", size, QUICK, Options(jobs=1, progress=False))
    assert not (tmp_path / "out" / "runs").exists()


# -------------------------------------------------------------------- model runs


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[Path, sens.SensitivityResult]:
    """One quick sensitivity run (about 230 runs), shared by the tests below."""
    out = tmp_path_factory.mktemp("sensitivity") / "sens"
    return out, sens.run(out, QUICKS["sensitivity"], QUICK, Options(jobs=2, progress=False))


@pytest.mark.slow  # the quick run: over the 90 s budget
def test_sensitivity_result_object(quick_run, tmp_path) -> None:
    from sim.reporting import pyplot

    out, result = quick_run
    assert isinstance(result, sens.SensitivityResult)
    assert {"parameter", "kind", "measure", "mu_star", "sigma", "above_noise"} <= set(
        result.morris.columns
    )
    assert list(result.sobol.columns) == [
        "parameter",
        "measure",
        "S1",
        "S1_conf",
        "ST",
        "ST_conf",
        "n",
    ]
    assert list(result.convergence.columns) == list(result.sobol.columns)
    assert isinstance(result.ranking, pd.DataFrame)
    assert set(result.top_by_st) == set(MEASURES) == set(result.noise_floor)
    for draw in (result.morris_figure, result.sobol_figure, result.convergence_figure):
        fig = draw()  # drawn on demand, nothing written
        assert fig.axes
        pyplot().close(fig)
    assert not any(tmp_path.iterdir())
    written = result.write(tmp_path / "w")
    names = sorted(sens.SensitivityResult.NAMES)
    assert sorted(p.name for p in written) == names
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == names
    for name in names:  # what the run wrote, byte for byte
        assert (tmp_path / "w" / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.slow  # the quick run: over the 90 s budget
def test_sensitivity_end_to_end_and_resume(quick_run) -> None:
    from sim.analysis.space import load_space

    size = QUICKS["sensitivity"]
    out, result = quick_run
    summary = result.summary

    for f in (
        "morris.csv",
        "sobol.csv",
        "convergence.csv",
        "morris.png",
        "sobol.png",
        "convergence.png",
        "report.md",
        "analysis.json",
    ):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    info = json.loads((out / "analysis.json").read_text())
    assert info["runs_done"] > 0 and info["runs_failed"] == 0
    assert summary["runs_done"] == info["runs_done"]

    morris = pd.read_csv(out / "morris.csv")
    keys = load_space().keys
    assert len(keys) == 25  # the calibrated world as one factor, 14 evidence, 10 structural
    assert len(morris) == len(keys) * 3
    assert set(morris["parameter"]) == set(keys)
    assert set(morris["measure"]) == set(MEASURES)
    assert (morris.groupby("measure")["parameter"].nunique() == len(keys)).all()
    assert (morris["mu_star"] >= 0).all() and np.isfinite(morris["mu_star"]).all()
    floor = morris["measure"].map(info["noise_floor"])
    assert (morris["above_noise"] == (morris["mu_star"] > floor)).all()
    np.testing.assert_allclose(morris.groupby("measure")["normalised"].max(), 1.0)
    # the selection follows the stated rule applied to the written table
    chosen, fallback, _ = sens.select(morris, size.sobol_params)
    assert chosen == info["selected"] == summary["selected"]
    assert fallback == info["fallback"]
    assert 1 <= len(chosen) <= size.sobol_params

    sobol = pd.read_csv(out / "sobol.csv")
    assert list(sobol.columns) == ["parameter", "measure", "S1", "S1_conf", "ST", "ST_conf", "n"]
    assert len(sobol) == len(chosen) * 3
    assert set(sobol["parameter"]) == set(chosen)
    assert (sobol["n"] == size.sobol_n).all()
    assert np.isfinite(sobol[["S1", "ST", "S1_conf", "ST_conf"]].to_numpy()).all()
    conv = pd.read_csv(out / "convergence.csv")
    assert sorted(set(conv["n"])) == sens.convergence_sizes(size.sobol_n)
    assert len(set(conv["n"])) >= 2  # a convergence check needs two sizes at least
    full = conv[conv["n"] == size.sobol_n].reset_index(drop=True)
    pd.testing.assert_frame_equal(full, sobol)
    for m in MEASURES:
        top = sobol[sobol["measure"] == m].sort_values("ST", ascending=False)
        assert summary["top_by_ST"][m] == top["parameter"].head(3).tolist()
    assert set(info["noise_share"]) == set(MEASURES)
    assert all(v > 0 for v in info["noise_floor"].values())

    text = (out / "report.md").read_text()
    assert text.startswith("## Global sensitivity of the paired effect")
    for s in ("morris.png", "sobol.png", "convergence.png", "noise floor", "Noise share"):
        assert s in text
    assert f"{info['runs_done']} run now" in text
    assert all(f"`{p}`" in text for p in chosen)

    # rerun on the same folder: everything from the store, the same results
    again = sens.run(out, size, QUICK, Options(jobs=1, progress=False))
    info2 = json.loads((out / "analysis.json").read_text())
    assert info2["runs_done"] == 0 and info2["runs_skipped"] > 0
    assert again.selected == summary["selected"]
    pd.testing.assert_frame_equal(pd.read_csv(out / "sobol.csv"), sobol)
    pd.testing.assert_frame_equal(pd.read_csv(out / "morris.csv"), morris)


@pytest.mark.slow  # the quick run: over the 90 s budget
def test_sensitivity_result_reads_back(quick_run, tmp_path) -> None:
    """The folder reads back to the same tables, selection, noise and report (a rerun in the
    folder changes only the counts)."""
    from .test_analysis_results import assert_reads_back

    out, result = quick_run
    back = assert_reads_back(result, out, tmp_path / "back")
    assert (back.selected, back.fallback) == (result.selected, result.fallback)
    assert (back.noise_sd, back.noise_share) == (result.noise_sd, result.noise_share)
    assert (back.futures, back.runs) == (result.futures, result.runs)
    pd.testing.assert_frame_equal(back.ranking, result.ranking)
