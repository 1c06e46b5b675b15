"""Virtual evaluations (sim.evaluation): each design recovers a planted effect on synthetic
firms before it meets the model; the firm panel is faithful to the run; the fit moves a wrong
service toward the published effects; ``pilotsim evaluate`` writes its files or nothing, and
``Evaluation.read`` rebuilds the evaluation from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.evaluation import designs as d
from sim.evaluation import studies

YEARS = np.arange(2019, 2046)
COHORTS = (2025, 2029)


def synthetic_panel(
    n: int = 6000,
    effect: float = 0.0,
    survival_gain: float = 0.0,
    select_on_size: bool = False,
    seed: int = 1,
    small_extra: float = 0.0,
    size_sigma: float = 0.8,
    staff_growth: float = 0.0,
) -> pd.DataFrame:
    """Firms with common growth; clients (first use in 2025-2029) get ``effect`` on value
    added and staff from their first year on, ``small_extra`` more on value added if they
    have fewer than 20 staff, and ``survival_gain`` lower yearly exit probability. With
    ``select_on_size`` larger firms are likelier clients (selection on an observable level,
    which differences in differences remove and a plain comparison does not)."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0, size_sigma, n)
    staff = np.maximum(1, 10 * size * rng.lognormal(0, 0.3, n))
    p_client = 0.15 * (size / size.mean() if select_on_size else np.ones(n))
    client = rng.random(n) < np.minimum(p_client, 0.9)
    t0 = np.where(client, rng.integers(COHORTS[0], COHORTS[1] + 1, n), 0)
    rd_alone = ~client & (rng.random(n) < 0.3)
    u_exit = rng.random((n, YEARS.size))
    rows = []
    alive = np.ones(n, dtype=bool)
    for j, y in enumerate(YEARS):
        treated_now = client & (y >= t0)
        hazard = np.where(treated_now, 0.05 * (1 - survival_gain), 0.05)
        leaving = alive & (u_exit[:, j] < hazard) & (y > 2019)
        gain = np.where(treated_now, 1 + effect + small_extra * (staff < 20), 1.0)
        emp_gain = np.where(treated_now, 1 + effect, 1.0)
        va = 3.0 * size * 1.02 ** (y - 2019) * gain
        emp = staff * emp_gain * (1 + staff_growth) ** (y - 2019)
        show = alive | leaving
        idx = np.flatnonzero(alive)
        rows.append(
            pd.DataFrame(
                {
                    "year": y,
                    "kind": "manufacturer",
                    "firm": idx,
                    "sector": idx % 3,
                    "born_q": -1,
                    "alive": ~leaving[idx],
                    "value_added_hkd_m": va[idx],
                    "product_value_hkd_m": 0.0,
                    "employees": emp[idx],
                    "pilots": (((y == t0) & client) | (rd_alone & (y == 2026)))[idx].astype(int),
                    "platform_pilots": ((y == t0) & client)[idx].astype(int),
                }
            )
        )
        del show
        alive = alive & ~leaving
    return pd.concat(rows, ignore_index=True)


def _wide(**kw: object) -> tuple[d.Wide, pd.Series]:
    w = d.wide(synthetic_panel(**kw))
    return w, d.treated(w, COHORTS, present_in=2024)


@pytest.fixture(scope="module")
def random_assignment() -> tuple[d.Wide, pd.Series]:
    return _wide(effect=0.2, size_sigma=0.3)


def test_wide_panel_marks_exits_and_first_use(random_assignment) -> None:
    w, t0 = random_assignment
    assert len(t0) > 500
    assert t0.between(*COHORTS).all()
    # after the year a firm leaves, it is not alive and its flows are zero, not missing
    left = w.alive.index[(~w.alive[2044]).to_numpy() & w.observed[2019].to_numpy()]
    assert len(left) > 0
    assert (w.va.loc[left, 2045] == 0).all() and not w.alive.loc[left, 2045].any()


def test_matched_and_panel_designs_recover_a_planted_effect(random_assignment) -> None:
    w, t0 = random_assignment
    for e in (0, 1, 3):
        assert d.matched_did(w, t0, "va", e) == pytest.approx(20.0, abs=1.0)
        assert d.to2_panel(w, t0, e) == pytest.approx(20.0, abs=1.0)
    assert d.matched_did(w, t0, "emp", 3) == pytest.approx(20.0, abs=1.5)
    # random assignment: even the plain comparison is right
    assert d.tno_naive(w, t0, 1) == pytest.approx(20.0, abs=6.0)


def test_no_effect_means_no_estimate() -> None:
    w, t0 = _wide(effect=0.0, seed=3)
    assert abs(d.matched_did(w, t0, "va", 3)) < 1.0
    assert abs(d.to2_panel(w, t0, 1)) < 1.0


def test_selection_on_size_fools_the_plain_comparison_not_the_did() -> None:
    w, t0 = _wide(effect=0.1, select_on_size=True, seed=4)
    assert d.to2_panel(w, t0, 1) == pytest.approx(10.0, abs=1.0)
    assert d.matched_did(w, t0, "va", 3) == pytest.approx(10.0, abs=1.5)
    assert d.tno_naive(w, t0, 1) > 40.0  # larger firms are the clients: a large bias


def test_no_survival_effect_means_no_survival_estimate() -> None:
    # Clients that would leave before their first use never become clients: a comparison
    # pool of "never clients" would keep those exits and lose later clients' survival
    # (immortal-time bias); the not-yet-client pool does not.
    # 20,000 firms, about 2,000 clients: the estimate's standard error is about 1.2 points
    w, t0 = _wide(n=20_000, effect=0.0, survival_gain=0.0, seed=8, size_sigma=0.3)
    assert abs(d.matched_did(w, t0, "alive", 3)) < 3.0


def test_survival_and_size_gradient_are_recovered() -> None:
    w, t0 = _wide(effect=0.0, survival_gain=0.6, seed=5)
    # survive 4 more years (t0..t0+3) at 0.95 vs 0.98 a year: 78.3 vs 92.2 percent
    expected = 100 * (0.98**4 - 0.95**4)
    assert d.matched_did(w, t0, "alive", 3) == pytest.approx(expected, abs=4.0)
    w, t0 = _wide(effect=0.0, small_extra=0.2, seed=6)
    assert d.mep_small_minus_large(w, t0, 3) == pytest.approx(20.0, abs=3.0)


def test_true_effect_and_jobs_from_twins() -> None:
    pol = d.wide(synthetic_panel(effect=0.25, seed=7, staff_growth=0.05))
    twin = d.wide(synthetic_panel(effect=0.0, seed=7, staff_growth=0.05))
    t0 = d.treated(pol, COHORTS, present_in=2024)
    # the twins share every draw, and clients' exits do not change here: exact
    assert d.true_effect(pol, twin, t0, "va", 3) == pytest.approx(25.0, rel=1e-9)
    assert d.true_effect(pol, twin, t0, "alive", 3) == pytest.approx(0.0)
    jobs = d.true_jobs(pol, twin, t0, 3)
    monitored = d.monitored_jobs(pol, t0, 3)
    # monitored gross change also counts the growth the clients would have had anyway
    assert 0 < jobs < 0.8 * monitored


def test_published_bands() -> None:
    p = studies.published().set_index(["study", "outcome"])
    assert set(studies.ESTIMATORS) == set(p.index)
    row = p.loc[("to2", "value_added_year_after")]
    assert (row["band_low"], row["band_high"]) == (9, 14)
    point = p.loc[("fraunhofer", "value_added")]  # a point: within a factor of two
    assert (point["band_low"], point["band_high"]) == (9, 36)
    sign = p.loc[("mep", "productivity_small_minus_large")]
    assert sign["band_low"] == 0 and sign["band_high"] == np.inf


@pytest.fixture(scope="module")
def twin_runs():
    from sim.evaluation.evaluate import horizon_specs, panel_run
    from sim.run import resolve

    base, pol = horizon_specs(resolve("baseline"), resolve("hk_pilot_platform"), 0.25)
    return panel_run(base, 1, 2020), panel_run(pol, 1, 2020)


def test_panel_twins_share_history_until_the_platform(twin_runs) -> None:
    (base, _), (pol, _) = twin_runs
    key = ["year", "kind", "firm"]
    b = base[base["year"] < 2025].set_index(key).sort_index()
    p = pol[pol["year"] < 2025].set_index(key).sort_index()
    pd.testing.assert_frame_equal(b, p)
    assert pol.loc[pol["year"] >= 2025, "platform_pilots"].sum() > 0
    assert base["platform_pilots"].sum() == 0


def test_panel_counts_match_the_projects(twin_runs) -> None:
    _, (pol, projects) = twin_runs
    # every platform pilot of a startup or a plant appears once in its owner's panel rows
    hk_owned = projects["owner"].isin([1, 2])
    assert pol["platform_pilots"].sum() <= int((projects["platform_piloted"]).sum())
    assert pol["platform_pilots"].sum() >= int((projects["platform_piloted"] & hk_owned).sum())
    assert (pol["value_added_hkd_m"] >= pol["product_value_hkd_m"] - 1e-9).all()


def test_distance_counts_band_units_and_punishes_missing_rows() -> None:
    from sim.evaluation import fit

    b = fit.bands()
    assert fit.distance(b["centre"]) == 0.0
    # every row at the upper (or lower) edge of its band: one unit each
    assert fit.distance(b["centre"] + b["above"]) == pytest.approx(len(b))
    assert fit.distance(b["centre"] - b["below"]) == pytest.approx(len(b))
    # a published point is its own target; its factor-two band is asymmetric around it
    point = b.loc[("fraunhofer", "value_added")]
    assert (point["centre"], point["below"], point["above"]) == (18, 9, 18)
    # a row without an estimate cannot win
    missing = b["centre"].copy()
    missing.iloc[0] = np.nan
    assert fit.distance(missing) == fit.MISSING_PENALTY


def test_emulator_recovers_a_known_surface() -> None:
    from sim.evaluation import fit

    ranges = fit.prior_ranges()
    pts = fit.design_points(ranges, 30, seed=2)
    lo = np.array([r[0] for r in ranges.values()])
    width = np.array([r[1] - r[0] for r in ranges.values()])
    u = (pts.to_numpy() - lo) / width
    b = fit.bands()
    # each row is on its target when the first two parameters are mid-range: half the rows
    # move with the first, half with the second (with curvature), so the minimum is unique
    est = np.empty((len(u), len(b)))
    for k in range(len(b)):
        if k % 2:
            est[:, k] = b["centre"].iloc[k] + 15 * (u[:, 1] - 0.5) + 10 * (u[:, 1] - 0.5) ** 2
        else:
            est[:, k] = b["centre"].iloc[k] + 20 * (u[:, 0] - 0.5)
    estimates = pd.DataFrame(est, columns=pd.MultiIndex.from_tuples(fit.FIT_ROWS))
    result = fit.ServiceFit(pts.assign(distance=0.0), estimates, pd.DataFrame(), ranges)
    assert result.r2_loo().min() == pytest.approx(1.0)
    best = result.best
    mid = {k: (lo + hi) / 2 for k, (lo, hi) in ranges.items()}
    for k in ("platform.success_uplift", "platform.industrialisation_success_probability"):
        step = (ranges[k][1] - ranges[k][0]) / (fit.GRID_STEPS - 1)
        assert abs(best[k] - mid[k]) <= step / 2 + 1e-12


@pytest.mark.slow
def test_fit_moves_a_wrong_uplift_toward_the_published_effects() -> None:
    from sim.evaluation import fit

    wrong = {
        "platform.success_uplift": 3.0,
        "platform.industrialisation_success_probability": 0.95,
        "platform.duration_factor": 0.7,
    }
    modest = {
        **wrong,
        "platform.success_uplift": 0.05,
        "platform.industrialisation_success_probability": 0.5,
    }
    result = fit.fit(points=pd.DataFrame([wrong, modest]), seeds=2, scale=0.5, jobs=1)
    d_wrong, d_modest = result.points["distance"]
    assert d_wrong > d_modest
    assert fit.summary(result)["best_point_tried"]["platform.success_uplift"] == 0.05


@pytest.mark.slow
def test_evaluate_command_writes_its_files(tmp_path) -> None:
    from sim.cli import main
    from sim.evaluation.evaluate import COLUMNS, NAMES

    out = tmp_path / "ev"
    assert main(["evaluate", "--quick", "--seeds", "1", "--out", str(out), "--jobs", "1"]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(NAMES)
    csv = pd.read_csv(out / "evaluations.csv")
    assert tuple(csv.columns) == COLUMNS
    assert len(csv) == len(studies.ESTIMATORS)
    assert "## Additionality and deadweight" in (out / "report.md").read_text()


@pytest.fixture(scope="module")
def small_evaluation():
    """Two pairs at scale 0.05 (a few seconds): noisy, but every file and column is there."""
    from sim.evaluation.evaluate import evaluate

    return evaluate(seeds=2, scale=0.05, jobs=1)


def test_evaluation_reads_back_what_it_wrote(small_evaluation, tmp_path) -> None:
    from sim.evaluation.evaluate import NAMES, Evaluation
    from sim.evaluation.report import markdown

    ev = small_evaluation
    ev.write(tmp_path / "a")
    back = Evaluation.read(tmp_path / "a")
    assert (back.scenario, back.seeds, back.scale) == ("hk_pilot_platform", 2, 0.05)
    # the object holds its frames at the precision written: read back, it is the same one
    pd.testing.assert_frame_equal(back.by_seed, ev.by_seed)
    pd.testing.assert_frame_equal(back.additionality, ev.additionality)
    pd.testing.assert_frame_equal(back.table, ev.table)
    pd.testing.assert_frame_equal(back.additionality_summary(), ev.additionality_summary())
    assert markdown(back) == (tmp_path / "a" / "report.md").read_text(encoding="utf-8")
    back.write(tmp_path / "b")
    for name in NAMES:  # every file again, byte for byte (the figure too)
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes(), name


def test_evaluation_read_names_the_folder_and_file(small_evaluation, tmp_path) -> None:
    import json
    import shutil

    from sim.errors import BatchError
    from sim.evaluation.evaluate import Evaluation

    good = tmp_path / "good"
    small_evaluation.write(good)

    def broken(name: str) -> Path:
        folder = tmp_path / name.replace(".", "_")
        shutil.copytree(good, folder)
        return folder

    with pytest.raises(BatchError, match="no such folder .of the virtual evaluation"):
        Evaluation.read(tmp_path / "none")
    f = broken("additionality_by_seed.csv")
    (f / "additionality_by_seed.csv").unlink()
    with pytest.raises(BatchError, match=r"additionality_by_seed\.csv missing.*pilotsim evaluate"):
        Evaluation.read(f)
    f = broken("evaluation.json")
    (f / "evaluation.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BatchError, match=r"evaluation\.json: cannot read JSON") as e:
        Evaluation.read(f)
    assert str(f) in str(e.value)
    (f / "evaluation.json").write_text(json.dumps({"scenario": "x", "seeds": 2}))
    with pytest.raises(BatchError, match=r"evaluation\.json: not a virtual evaluation.*'scale'"):
        Evaluation.read(f)
    (f / "evaluation.json").write_text(json.dumps({"scenario": "x", "seeds": 3, "scale": 1}))
    with pytest.raises(BatchError, match=r"estimates_by_seed\.csv: .*2 seeds, 3 in"):
        Evaluation.read(f)
    f = broken("estimates_by_seed.csv")
    by_seed = pd.read_csv(f / "estimates_by_seed.csv")
    by_seed.drop(columns="true_effect").to_csv(f / "estimates_by_seed.csv", index=False)
    with pytest.raises(BatchError, match=r"estimates_by_seed\.csv: columns \['true_effect'\]"):
        Evaluation.read(f)
    by_seed.assign(simulated="x").to_csv(f / "estimates_by_seed.csv", index=False)
    with pytest.raises(BatchError, match=r"estimates_by_seed\.csv: not a virtual evaluation"):
        Evaluation.read(f)
    # the files of two evaluations do not make one
    shifted = by_seed.assign(simulated=by_seed["simulated"] + 1)
    shifted.to_csv(f / "estimates_by_seed.csv", index=False)
    with pytest.raises(BatchError, match=r"evaluations\.csv: .*column simulated disagrees"):
        Evaluation.read(f)


def test_evaluate_regenerates_a_shared_folder_keeping_the_fit(tmp_path) -> None:
    """``pilotsim evaluate`` over the committed folder (a copy, with its ownership record):
    it writes every file of ``NAMES``, the new ones included, and leaves the service fit's
    files, which share the folder, as they were."""
    import shutil

    from sim.cli import main
    from sim.evaluation import fit
    from sim.evaluation.command import DEFAULT_OUT
    from sim.evaluation.evaluate import NAMES, Evaluation
    from sim.experiments import ownership

    out = tmp_path / "evaluation"
    shutil.copytree(DEFAULT_OUT, out)
    kept = {n: (out / n).read_bytes() for n in fit.FIT_NAMES}
    argv = ["evaluate", "--seeds", "1", "--scale", "0.05", "--out", str(out), "--jobs", "1"]
    assert main(argv) == 0
    assert {n: (out / n).read_bytes() for n in fit.FIT_NAMES} == kept
    assert ownership.owned(out) == {*NAMES, *fit.FIT_NAMES}
    back = Evaluation.read(out)
    assert (back.seeds, back.scale) == (1, 0.05)


def test_evaluate_refuses_a_bad_scenario(tmp_path, capsys) -> None:
    from sim.cli import main

    out = tmp_path / "ev"
    assert main(["evaluate", "--scenario", "no_such_scenario", "--out", str(out)]) == 2
    assert "no_such_scenario" in capsys.readouterr().err
    assert main(["evaluate", "--scenario", "baseline", "--out", str(out)]) == 2
    assert "has no platform" in capsys.readouterr().err
    assert main(["evaluate", "--quick"]) == 2  # would overwrite the committed evaluation
    assert "give --out" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_evaluate_fit_writes_the_fit_and_its_race(tmp_path, monkeypatch) -> None:
    from sim.cli import main
    from sim.evaluation import command, fit

    monkeypatch.setattr(command, "QUICK_FIT_POINTS", 2)  # a smoke run of both stages
    monkeypatch.setattr(fit, "RACE_TOP", 1)
    out = tmp_path / "fit"
    argv = ["evaluate", "--fit", "--quick", "--seeds", "1", "--out", str(out), "--jobs", "1"]
    assert main(argv) == 0
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == set(fit.FIT_NAMES)
    raced = pd.read_csv(out / "service_fit_race.csv")
    # the best stage-one point, the emulator's optimum and the scenario's own values
    assert len(raced) == 3
    assert raced["distance"].is_monotonic_increasing
    last = raced[raced["candidate"].str.contains("last tried")].iloc[0]
    from sim.scenario import load_scenario

    spec = load_scenario("hk_pilot_platform")
    assert last["platform.success_uplift"] == pytest.approx(spec.platform.success_uplift)
    assert "Stage two" in (out / "service_fit.md").read_text()
