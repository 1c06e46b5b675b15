"""`pilotsim compare --posterior`: replicate i of every scenario runs with posterior draw i."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.calibration import posterior_overrides
from sim.calibration.posterior import DEFAULT_POSTERIOR
from sim.cli import main
from sim.experiments.batch import Batch, BatchError
from sim.experiments.compare import spread
from sim.experiments.seeds import replicate_seeds
from sim.experiments.uncertainty import draw_posterior, value_of
from sim.experiments.workflows import run_comparison, run_sweep
from sim.scenario import load_scenario, with_overrides

from .conftest import SCENARIOS

SMALL = ["--scale", "0.05", "--until", "2027", "--jobs", "1", "--no-progress"]
TINY = {"run.scale": 0.05, "run.end_year": 2027}
N, ROOT = 3, 11


def specs() -> dict[str, sim.Scenario]:
    return {
        n: load_scenario(SCENARIOS / f"{n}.yaml", TINY) for n in ("baseline", "hk_pilot_platform")
    }


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("post") / "cmp"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(
            ["compare", "--posterior", "--seeds", str(N), "--root-seed", str(ROOT), *SMALL]
            + ["--out", str(out)]
        )
    assert rc == 0
    return out, buf.getvalue()


def test_spread_is_the_quantile_range() -> None:
    assert spread(np.arange(101.0)) == pytest.approx((5.0, 95.0))
    assert all(np.isnan(spread(np.array([1.0]))))
    assert all(np.isnan(spread(np.array([1.0, np.inf]))))


def test_batch_applies_draw_i_to_replicate_i_of_every_scenario() -> None:
    draws = posterior_overrides(N, ROOT)
    b = Batch("compare", specs(), {}, ROOT, N, draws=draws)
    for lab in b.labels:
        for i, spec in enumerate(b.replicate_specs[lab]):
            for k, v in draws[i].items():
                assert value_of(spec, k) == v
    runs = pd.DataFrame(b.runs())
    # one distinct run per (label, replicate): the draws change the run keys ...
    assert runs["key"].nunique() == 2 * N
    assert len(b.tasks()) == 2 * N
    # ... and each task carries its replicate's parameters with its replicate's seed
    by_key = {t.key: t for t in b.tasks()}
    for r in b.runs():
        task = by_key[r["key"]]
        assert task.seed == r["seed"]
        for k, v in draws[r["replicate"]].items():
            group, _, name = k.partition(".")
            assert task.spec[group][name] == v
    with pytest.raises(BatchError, match="2 parameter draws for 3 replicates"):
        Batch("compare", specs(), {}, ROOT, N, draws=draws[:2])


def test_stored_run_is_the_model_run_with_its_draw(compared: tuple[Path, str]) -> None:
    out, _ = compared
    manifest = json.loads((out / "manifest.json").read_text())
    fitted = posterior_overrides(N, ROOT)
    draws = manifest["batch"]["draws"]
    # the fitted part is the posterior's draw; evidence-ranged parameters are drawn beside it
    assert [{k: d[k] for k in fitted[0]} for d in draws] == fitted
    assert set(draws[0]) - set(fitted[0]) >= {"platform.slot_cost_hkd_m"}
    # the service fitted to the client studies (step two) is held, not drawn
    assert "platform.success_uplift" not in draws[0]
    i = 1
    seed = replicate_seeds(ROOT, N)[i]
    key = manifest["batch"]["runs"][f"hk_pilot_platform/{i}"]
    stored = pd.read_parquet(out / "runs" / f"{key}.parquet")
    direct = sim.run(with_overrides(specs()["hk_pilot_platform"], draws[i]), seed=seed)
    pd.testing.assert_frame_equal(
        stored.drop(columns=["scenario_hash", "seed"]), direct.quarterly, check_exact=True
    )
    # the draw matters: without it the same seed gives another run
    plain = sim.run(specs()["hk_pilot_platform"], seed=seed).quarterly
    assert not plain.equals(direct.quarterly)


def test_report_and_draws_file_record_the_posterior(compared: tuple[Path, str]) -> None:
    out, printed = compared
    drawn = pd.read_csv(out / "draws.csv")
    assert list(drawn["replicate"]) == list(range(N))
    assert list(drawn["seed"]) == replicate_seeds(ROOT, N)
    for i, d in enumerate(posterior_overrides(N, ROOT)):
        for k, v in d.items():
            assert drawn.at[i, k] == pytest.approx(v, rel=1e-7)
    report = (out / "report.md").read_text()
    assert "## Parameter uncertainty" in report
    assert "`startups.exit_hazard`" in report
    assert "parameter draws included" in report
    summary = pd.read_csv(out / "summary.csv")
    assert {"spread_low", "spread_high"} <= set(summary.columns)
    ok = summary.dropna(subset=["spread_low"])
    assert (ok["spread_low"] <= ok["spread_high"]).all()
    assert "5-95% of pairs" in printed


def test_rerun_resumes_with_the_same_draws(compared: tuple[Path, str]) -> None:
    out, _ = compared
    res = run_comparison(
        n_seeds=N, root_seed=ROOT, scale=0.05, until=2027, out=out, jobs=1,
        progress=False, figures=False, posterior=DEFAULT_POSTERIOR,
    )  # fmt: skip
    # baseline, policy, the six service variants and three market-failure variants with
    # their baseline twins (sim.experiments.compare)
    assert res.execution.report.skipped == 14 * N and res.execution.report.ran == 0


def test_pairs_share_parameters_not_only_seeds(tmp_path: Path) -> None:
    """The baseline against itself: every paired difference is exactly zero."""
    res = run_comparison(
        "baseline", ["baseline"], n_seeds=N, root_seed=ROOT, scale=0.05, until=2020,
        out=tmp_path / "same", jobs=1, progress=False, figures=False,
        posterior=DEFAULT_POSTERIOR,
    )  # fmt: skip
    s = res.summary.dropna(subset=["diff_mean"])
    assert len(s) and (s["diff_mean"] == 0).all() and (s["spread_high"] == 0).all()
    # ... because the replicates of both labels ran the same parameters: 3 stored runs
    assert res.execution.report.total == N


def test_policy_that_sets_a_drawn_parameter_is_refused(tmp_path: Path) -> None:
    s = specs()
    s["hk_pilot_platform"] = with_overrides(s["hk_pilot_platform"], {"startups.exit_hazard": 0.2})
    with pytest.raises(BatchError, match=r"'hk_pilot_platform' sets startups.exit_hazard = 0.2"):
        draw_posterior(DEFAULT_POSTERIOR, N, ROOT, s)


def test_swept_parameter_that_is_drawn_is_refused(tmp_path: Path) -> None:
    from sim.experiments.sweep import parse_param

    with pytest.raises(BatchError, match="startups.exit_hazard is swept and also drawn"):
        run_sweep(
            [parse_param("startups.exit_hazard=0.1,0.2")], n_seeds=2, scale=0.05,
            until=2026, out=tmp_path / "sw", jobs=1, progress=False,
            posterior=DEFAULT_POSTERIOR,
        )  # fmt: skip
    assert not (tmp_path / "sw").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "posterior file not found"),
        ("particle,startups.exit_hazard\n0,0.1\n", "no 'weight' column"),
        ("weight,no_such.key\n1,0.1\n", "not a numeric parameter"),
        ("weight,startups.exit_hazard\n-1,0.1\n", "weights must be finite"),
    ],
)
def test_bad_posterior_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "post.csv"
    if content is not None:
        path.write_text(content)
    rc = main(["compare", "--posterior", str(path), *SMALL, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and str(path) in err
    assert not (tmp_path / "out").exists()


def test_sweep_file_posterior_key_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("parameters:\n  platform.success_uplift: [0.1, 0.2]\nposterior: 3\n")
    assert main(["sweep", str(f), *SMALL, "--out", str(tmp_path / "out")]) == 2
    assert "key 'posterior': expected true, false or a CSV path" in capsys.readouterr().err
