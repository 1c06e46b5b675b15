"""The policy analyses' foundation: the uncertainty space, paired experiments, the CLI, horizons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.command import Options
from sim.analysis.experiment import Settings, open_lab, paired_batch, prepare
from sim.analysis.sizes import ANALYSES, DEFAULTS, QUICKS, planned_runs
from sim.analysis.space import PLATFORM_LEVERS, POSTERIOR_KEY, design_overrides, load_space
from sim.cli import main
from sim.errors import BatchError, CalibrationError
from sim.scenario import load_scenario, with_overrides

QUICK = Settings(scale=0.05, until=2030, period=(2025, 2030))


@pytest.fixture(scope="module")
def space():
    return load_space(load_scenario("baseline"))


def test_space_has_every_kind_and_the_posterior_as_one_factor(space) -> None:
    from sim.calibration.config import load_priors
    from sim.calibration.posterior import load_posterior

    kinds = space.table()["kind"].value_counts().to_dict()
    pr = load_priors()
    assert kinds == {"fitted": 1, "evidence": len(pr.evidence), "structural": 10}
    for p in pr.evidence:
        assert (space[p.key].low, space[p.key].high) == (p.low, p.high)
    # a draw sets every fitted parameter to one particle's values (correlations kept)
    post = load_posterior()
    w = post["weight"].to_numpy() / post["weight"].sum()
    keys = [p.key for p in pr.priors]
    for u, i in ((0.0, 0), (1.0, len(post) - 1), (float(w[:3].sum()) - 1e-12, 2)):
        got = space.overrides({POSTERIOR_KEY: u})
        assert set(got) == set(keys)
        for p in pr.priors:
            want = post[p.key].iloc[i]
            assert got[p.key] == (int(round(want)) if p.integer else pytest.approx(want))
    # drawn often, particles come up in proportion to their weights
    counts = np.bincount(
        [space.posterior.index(x) for x in np.random.default_rng(1).random(20000)],
        minlength=len(post),
    )
    assert np.abs(counts / 20000 - w).max() < 0.01


def test_without_a_posterior_fitted_parameters_use_their_prior_ranges() -> None:
    from sim.calibration.config import load_priors

    s = load_space(load_scenario("baseline"), posterior=None)
    for p in load_priors().priors:
        assert (s[p.key].low, s[p.key].high, s[p.key].kind) == (p.low, p.high, "fitted")


def test_applied_values_expand_the_posterior_factor(space) -> None:
    draws = space.latin_hypercube(4, seed=3)
    shown = space.applied(draws)
    assert "calibration.particle" in shown and "startups.exit_hazard" in shown
    for i, row in draws.iterrows():
        o = space.overrides(row.to_dict())
        assert shown.loc[i, "startups.exit_hazard"] == pytest.approx(o["startups.exit_hazard"])


def test_every_future_of_a_sample_is_a_valid_scenario(space) -> None:
    base = load_scenario("baseline")
    sample = space.latin_hypercube(20, seed=4)
    assert sample.shape == (20, len(space.keys))
    for row in sample.to_dict("records"):
        spec = with_overrides(base, space.overrides(row))  # value shares still sum to one
        v = spec.value
        total = (
            v.share_ip_rnd
            + v.share_pilot_mother
            + v.share_mass_production
            + v.share_hq_brand
            + v.share_trading_services
        )
        assert total == pytest.approx(1.0)
        assert isinstance(spec.gba.responds, bool)


def test_balanced_share_moves_its_partner(space) -> None:
    o = space.overrides({"value.share_pilot_mother": 0.15, "value.share_hq_brand": 0.25})
    # nominal 0.10 and 0.20: +0.05 each comes out of mass production (0.40)
    assert o["value.share_mass_production"] == pytest.approx(0.30)
    assert space.overrides({"gba.responds": 0.49})["gba.responds"] is False
    assert space.overrides({"gba.responds": 0.5})["gba.responds"] is True


def test_sample_is_seeded(space) -> None:
    a, b = space.latin_hypercube(5, seed=1), space.latin_hypercube(5, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not space.latin_hypercube(5, seed=2).equals(a)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope.key:\n  range: [0, 1]\n  source: x\n", "not a parameter"),
        ("gba.pilot_subsidy_share:\n  range: [0.5, 0.2]\n  source: x\n", "low < high"),
        ("gba.pilot_subsidy_share:\n  range: [0.5, 1.5]\n  source: x\n", "bounds"),
        ("gba.pilot_subsidy_share:\n  range: [0.1, 0.2]\n", "source"),
        ("gba.responds:\n  range: [0, 1]\n  source: x\n", "switch"),
        ("gba.pilot_subsidy_share: [\n", "analysis_ranges"),
    ],
)
def test_bad_ranges_file_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "analysis_ranges.yaml"
    f.write_text(text)
    with pytest.raises(CalibrationError, match=message) as e:
        load_space(load_scenario("baseline"), ranges=f)
    assert "analysis_ranges.yaml" in str(e.value)


def test_design_levers_decode_at_the_edges() -> None:
    lo = design_overrides([0.0] * len(PLATFORM_LEVERS))
    hi = design_overrides([1.0] * len(PLATFORM_LEVERS))
    assert (
        lo["platform.public_budget_hkd_m"] == 50.0 and hi["platform.public_budget_hkd_m"] == 1200.0
    )
    assert lo["platform.matching"] is False and hi["platform.matching"] is True
    assert lo["platform.sectors"] == list(load_scenario("hk_pilot_platform").platform.sectors)
    assert hi["platform.sectors"][0] == "food"  # the last option: traditional sectors
    with_overrides(load_scenario("hk_pilot_platform"), hi)  # a valid scenario
    with pytest.raises(ValueError, match="7 levers"):
        design_overrides([0.5])


def test_crossed_batch_pairs_futures_and_seeds() -> None:
    base = prepare(load_scenario("baseline"), QUICK)
    pol = prepare(load_scenario("hk_pilot_platform"), QUICK)
    futures = [{}, {"platform.success_uplift": 0.6}]
    b = paired_batch(base, {"p": pol}, futures, [11, 22, 33])
    assert b.seeds == [11, 22, 33, 11, 22, 33]
    assert b.replicate_hashes["baseline"][0] == b.replicate_hashes["baseline"][3]  # no base change
    assert b.replicate_hashes["p"][0] != b.replicate_hashes["p"][3]
    assert len(b.tasks()) == 3 + 6  # the baseline's runs are shared by both futures
    with pytest.raises(BatchError, match="zipped"):
        paired_batch(base, {"p": pol}, futures, [1, 2, 3], zipped=True)


def test_lab_effects_are_policy_minus_baseline_and_resume(tmp_path: Path) -> None:
    import sim
    from sim.experiments.compare import panel_from_frames, period_values

    base = prepare(load_scenario("baseline"), QUICK)
    pol = prepare(load_scenario("hk_pilot_platform"), QUICK)
    seeds = QUICK.seeds(2)
    with open_lab(tmp_path / "a", ["t"], QUICK, **Options(jobs=1, progress=False).lab()) as lab:
        b = paired_batch(base, {"p": pol}, [{}], seeds)
        lab.run(b)
        eff = lab.effects(b, 2)
        assert lab.runs_done == 4
    # by hand: the same two pairs run directly
    diffs = []
    for s in seeds:
        vals = []
        for spec in (pol, base):
            q = sim.run(spec, seed=s).quarterly
            runs = [{"label": "x", "replicate": 0, "seed": s, "key": "k"}]
            vals.append(period_values(panel_from_frames({"k": q}, runs), QUICK.period))
        diffs.append(
            float(vals[0]["hk_value_added_hkd_m"].iloc[0] - vals[1]["hk_value_added_hkd_m"].iloc[0])
        )
    assert eff["hk_value_added_hkd_m"].iloc[0] == pytest.approx(np.mean(diffs))
    assert eff["sd:hk_value_added_hkd_m"].iloc[0] == pytest.approx(np.std(diffs, ddof=1))
    with open_lab(tmp_path / "a", ["t"], QUICK, **Options(jobs=1, progress=False).lab()) as lab:
        lab.run(b)
        assert (lab.runs_done, lab.runs_skipped) == (0, 4)


def test_analysis_folder_refuses_another_job(tmp_path: Path) -> None:
    from sim.experiments.batch import OutDirError

    with open_lab(tmp_path / "x", ["one"], QUICK, **Options(jobs=1, progress=False).lab()):
        pass
    with pytest.raises(OutDirError, match="the one analysis"):
        with open_lab(tmp_path / "x", ["two"], QUICK, **Options(jobs=1, progress=False).lab()):
            pass


def test_planned_runs_cover_every_analysis() -> None:
    for name in ANALYSES:
        assert planned_runs(name, QUICKS[name]) < planned_runs(name, DEFAULTS[name])
    with pytest.raises(ValueError):
        planned_runs("nope", DEFAULTS["discover"])


def test_analyse_help_loads_no_analysis_library() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from sim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    for a in (['analyse', '--help'], ['analyse', 'sensitivity', '--help']):\n"
        "        try:\n"
        "            main(a)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "heavy = sorted(m for m in ('mesa', 'pandas', 'SALib', 'ema_workbench', 'pymoo')\n"
        "               if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"loaded: {out.stdout.strip()}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["analyse", "sensitivity", "--sobol-n", "0"], "--sobol-n"),
        (["analyse", "discover", "--threshold", "1.5"], "(0, 1)"),
        (["analyse", "horizons", "--scale", "9"], "--scale"),
        (["analyse", "nope"], "invalid choice"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(tmp_path: Path, capsys, argv, message) -> None:
    out = tmp_path / "o"
    assert main([*argv, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_horizons_sunset_before_start_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "h"
    code = main(
        ["analyse", "horizons", "--quick", "--sunset", "2020", "--out", str(out), "--jobs", "1"]
    )
    assert code == 2
    assert "--sunset 2020" in capsys.readouterr().err
    assert not out.exists()


def test_a_huge_analysis_needs_yes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d"
    argv = ["analyse", "discover", "--quick", "--futures", "6000", "--out", str(out)]
    assert main([*argv, "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "12,0" in err and "--yes" in err  # the planned runs, and how to go on
    assert not out.exists()


@pytest.fixture(scope="module")
def horizons_quick(tmp_path_factory) -> tuple[Path, object]:
    from sim.analysis import horizons

    out = tmp_path_factory.mktemp("analysis") / "horizons"
    return out, horizons.run(out, QUICKS["horizons"], QUICK, Options(jobs=1, progress=False))


def test_horizons_quick(horizons_quick) -> None:
    out, result = horizons_quick
    size = QUICKS["horizons"]
    summary = result.summary
    for f in ("report.md", "horizons.png", "horizons.csv", "yearly_effects.csv", "analysis.json"):
        assert (out / f).is_file(), f
    y = pd.read_csv(out / "yearly_effects.csv")
    spend = y[(y["measure"] == "public_spend_hkd_m")].set_index(["policy", "year"])["mean"]
    assert (spend.loc["sunset"].loc[size.sunset + 1 :] == 0).all()  # closed: no spend
    assert (spend.loc["kept"].loc[size.sunset + 1 :] > 0).all()
    va = y[y["measure"] == "hk_value_added_hkd_m"].set_index(["policy", "year"])["mean"]
    np.testing.assert_allclose(
        va.loc["sunset"].loc[: size.sunset], va.loc["kept"].loc[: size.sunset]
    )  # identical until the platform closes
    info = json.loads((out / "analysis.json").read_text())
    assert info["runs_done"] == summary["runs"] == 3 * size.seeds
    assert (
        "How long" in (out / "report.md").read_text()
        or "how long" in (out / "report.md").read_text()
    )


def test_horizons_result_object(horizons_quick, tmp_path: Path) -> None:
    from sim.analysis.horizons import HorizonsResult
    from sim.reporting import pyplot

    out, result = horizons_quick
    assert isinstance(result, HorizonsResult)
    assert list(result.yearly.columns) == ["policy", "measure", "year", "mean", "low", "high"]
    assert list(result.table.columns) == ["policy", "horizon", "measure", "mean", "low", "high"]
    assert set(result.persistence) >= {"level_before_closing", "first_year_below_half"}
    fig = result.figure()  # drawn on demand, nothing written
    assert fig.axes and not any(tmp_path.iterdir())
    pyplot().close(fig)
    assert result.report() == (out / "report.md").read_text(encoding="utf-8")
    written = result.write(tmp_path / "w")
    assert sorted(p.name for p in written) == sorted(HorizonsResult.NAMES)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == sorted(HorizonsResult.NAMES)
    for name in ("yearly_effects.csv", "horizons.csv", "report.md", "horizons.png"):
        assert (tmp_path / "w" / name).read_bytes() == (out / name).read_bytes(), name


def test_horizons_result_reads_back(horizons_quick, tmp_path: Path) -> None:
    """The folder reads back to the same result: report, tables (held as written), figure."""
    from .test_analysis_results import assert_reads_back

    out, result = horizons_quick
    back = assert_reads_back(result, out, tmp_path / "back")
    assert back.persistence == result.persistence
    assert back.count == result.count and back.wall_seconds == result.wall_seconds
