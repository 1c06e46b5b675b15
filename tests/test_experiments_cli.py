"""`pilotsim compare` and `pilotsim sweep`: report, figures, designs and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli import main
from sim.experiments.compare import OUTCOMES
from sim.experiments.seeds import replicate_seeds
from sim.experiments.sweep import Param, design_points, parse_param
from sim.scenario import load_scenario

from .conftest import SCENARIOS

SMALL = ["--scale", "0.05", "--until", "2027", "--jobs", "1", "--no-progress"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cmp") / "baseline_vs_platform"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["compare", "--seeds", "3", "--root-seed", "5", *SMALL, "--out", str(out)])
    assert rc == 0
    return out, buf.getvalue()


def test_compare_writes_report_table_and_figures(compared: tuple[Path, str]) -> None:
    out, printed = compared
    names = {p.name for p in out.iterdir()}
    figures = {
        "fan_hk_value_added.png",
        "fan_retention_share.png",
        "fan_hk_jobs.png",
        "value_by_place.png",
        "project_routes.png",
    }
    assert {"summary.csv", "report.md", "manifest.json", "runs", *figures} <= names
    for f in figures:
        data = (out / f).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 20_000, f
    report = (out / "report.md").read_text()
    assert "Student-t interval of the mean paired difference" in report
    assert "| **Value retained in HK" in report and "2025-2027" in report
    for f in figures:
        assert f"]({f})" in report
    for o in OUTCOMES:
        assert o.label in printed
    assert "hk_pilot_platform vs baseline: mean of 3 paired seeds" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["batch"]["seeds"] == replicate_seeds(5, 3)
    assert manifest["git_commit"] and manifest["versions"]["mesa"].startswith("3.")
    assert {e["status"] for e in manifest["runs"].values()} == {"done"}


def test_compare_summary_matches_direct_runs(compared: tuple[Path, str]) -> None:
    """The table's numbers are the paired seeds' statistics, recomputed here from sim.run."""
    out, _ = compared
    s = pd.read_csv(out / "summary.csv")
    seeds = replicate_seeds(5, 3)
    over = {"run.scale": 0.05, "run.end_year": 2027}
    base = load_scenario(SCENARIOS / "baseline.yaml", over)
    pol = load_scenario(SCENARIOS / "hk_pilot_platform.yaml", over)
    va_b, va_p, sp_b, sp_p = [], [], [], []
    for seed in seeds:
        a = sim.run(base, seed=seed).annual.set_index("year").loc[2025:2027]
        b = sim.run(pol, seed=seed).annual.set_index("year").loc[2025:2027]
        va_b.append(a["hk_value_added_hkd_m"].sum())
        va_p.append(b["hk_value_added_hkd_m"].sum())
        sp_b.append(a["public_spend_hkd_m"].sum())
        sp_p.append(b["public_spend_hkd_m"].sum())
    d = np.array(va_p) - np.array(va_b)
    row = s[(s["outcome"] == "hk_value_added_hkd_m") & (s["period"] == "2025-2027")].iloc[0]
    assert row["diff_mean"] == pytest.approx(d.mean(), rel=1e-5)
    assert row["base_mean"] == pytest.approx(np.mean(va_b), rel=1e-5)
    half = 2.919986 * d.std(ddof=1) / math.sqrt(3)  # t(0.95, 2)
    assert row["diff_high"] - row["diff_mean"] == pytest.approx(half, rel=1e-4)
    per = s[(s["outcome"] == "value_per_public_dollar") & (s["period"] == "2025-2027")]
    ratio = d.mean() / (np.mean(sp_p) - np.mean(sp_b))
    assert per["diff_mean"].iloc[0] == pytest.approx(ratio, rel=1e-5)
    assert set(s["period"]) == {"2025", "2027", "2025-2027"}  # 2030, 2035 beyond horizon


def test_compare_rerun_resumes_without_running(
    compared: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = compared
    before = (out / "summary.csv").read_text()
    rc = main(
        ["compare", "--seeds", "3", "--root-seed", "5", *SMALL, "--out", str(out), "--no-figures"]
    )
    assert rc == 0
    # baseline and policy, the policy's 6 service variants, and 3 market-failure variants with
    # their baseline twins, x 3 seeds
    assert capsys.readouterr().out.startswith("42 runs: 0 run now, 42 already stored, 0 failed")
    assert (out / "summary.csv").read_text() == before


def test_comparison_object_tables_figures_and_write(
    compared: tuple[Path, str], tmp_path: Path
) -> None:
    from sim.experiments.report import FIGURE_NAMES
    from sim.experiments.workflows import Comparison, run_comparison
    from sim.reporting import pyplot

    out, _ = compared
    res = run_comparison(
        n_seeds=3, root_seed=5, scale=0.05, until=2027, out=out, jobs=1, progress=False
    )  # resumes: every run is stored
    c = res.comparison
    assert isinstance(c, Comparison) and c.summary is res.summary
    assert {"policy", "outcome", "period", "n_pairs", "diff_mean", "diff_low", "diff_high"} <= set(
        c.summary
    )
    assert isinstance(c.attribution_table, pd.DataFrame) and c.draws is None
    assert isinstance(c.private_returns, pd.DataFrame) and isinstance(c.panel, pd.DataFrame)
    assert c.tables() == res.tables and c.labels == ["baseline", "hk_pilot_platform"]
    fig = c.figure("fan_hk_jobs.png")  # drawn on demand, nothing written
    assert fig.axes
    pyplot().close(fig)
    assert not any(tmp_path.iterdir())
    written = c.write(tmp_path / "w")
    assert (
        sorted(written) == sorted(c.names()) == sorted(p.name for p in (tmp_path / "w").iterdir())
    )
    assert set(FIGURE_NAMES) <= set(written) and "attribution.csv" in written
    for name in written:  # what the command wrote, byte for byte
        assert (tmp_path / "w" / name).read_bytes() == (out / name).read_bytes(), name
    assert sorted(c.write(tmp_path / "n", figures=False)) == sorted(c.names(figures=False))
    assert not set(FIGURE_NAMES) & set(c.names(figures=False))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "baseline"], "give BASE and at least one POLICY"),
        (["compare", "--seeds", "0"], "--seeds expects a positive integer"),
        (["compare", "--jobs", "two"], "--jobs expects a positive integer"),
        (["compare", "--dask", "--scheduler", "tcp://h:1"], "not allowed with argument"),
        (["compare", "--scheduler", "tcp://h:1", "--jobs", "2"], "--jobs cannot be used"),
        (["compare", "--scale", "9"], "expects a number in (0, 5]"),
        (["compare", "--until", "2027", "--years", "2030"], "--years 2030: outside"),
        (["compare", "--period", "2030-2020"], "--period 2030-2020: must be START-END"),
        (["compare", "--period", "2025"], "expects START-END years"),
        (["compare", "baseline", "no_such_scenario"], "file not found"),
        (["compare", "--root-seed", "-3"], "expects a non-negative integer"),
        (["sweep", "--seeds", "2"], "no parameters"),
        (
            ["sweep", "--param", "platform.public_budget=1:2:3"],
            "did you mean platform.public_budget_hkd_m",
        ),
        (["sweep", "--param", "platform.public_budget_hkd_m=1:500"], "needs LOW:HIGH:NUM"),
        (["sweep", "--param", "platform.public_budget_hkd_m=9:1:3"], "LOW <= HIGH"),
        (["sweep", "--design", "lhs", "--param", "platform.success_uplift=0:1"], "--samples"),
        (["sweep", "--param", "platform.fee_subsidy_share=0.5,2"], "fee_subsidy_share"),
        (["sweep", "--design", "cube"], "invalid choice: 'cube'"),
        (["sweep", "missing_sweep.yaml"], "missing_sweep.yaml: sweep file not found"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # default outputs would go to ./results
    rc = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "results").exists()


def test_out_folder_with_foreign_files_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["compare", *SMALL, "--out", str(tmp_path)]) == 2
    assert "holds files pilotsim did not write (notes.txt)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_sweep_file_errors_name_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("design: grid\nparamters: {}\n")
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 2
    assert "s.yaml: unknown key(s) paramters; allowed: scenario" in capsys.readouterr().err
    f.write_text("parameters:\n  platform.public_budget_hkd_m: {low: 1}\n")
    assert main(["sweep", str(f), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "s.yaml: parameters.platform.public_budget_hkd_m: expects {low, high}" in err


def test_grid_and_lhs_designs() -> None:
    grid = design_points(
        [
            parse_param("platform.public_budget_hkd_m=0:300:3"),
            parse_param("platform.matching=true,false"),
        ],
        "grid",
        None,
        0,
    )
    assert len(grid) == 6 and grid[0] == {
        "platform.public_budget_hkd_m": 0.0,
        "platform.matching": True,
    }
    params = [
        Param("platform.public_budget_hkd_m", low=100.0, high=900.0),
        Param("platform.patience_quarters", low=0, high=8, integer=True),
    ]
    pts = design_points(params, "lhs", 8, root_seed=3)
    budgets = np.array([p["platform.public_budget_hkd_m"] for p in pts])
    # Latin hypercube: one point in each of the 8 equal strata of every parameter
    assert sorted(np.floor((budgets - 100) / 100).astype(int)) == list(range(8))
    assert all(isinstance(p["platform.patience_quarters"], int) for p in pts)
    assert pts == design_points(params, "lhs", 8, root_seed=3)
    assert pts != design_points(params, "lhs", 8, root_seed=4)


def test_sweep_runs_grid_paired_with_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "budget.yaml"
    f.write_text(
        "scenario: hk_pilot_platform\nbaseline: baseline\ndesign: grid\nseeds: 2\n"
        "until: 2027\nscale: 0.05\nparameters:\n  platform.public_budget_hkd_m: [0, 400]\n"
    )
    out = tmp_path / "sweep"
    assert main(["sweep", str(f), "--jobs", "1", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("6 runs: 6 run now")
    table = pd.read_csv(out / "sweep.csv")
    assert set(table["point"]) == {"p000", "p001"}
    zero = table[table["platform.public_budget_hkd_m"] == 0]
    ratios = [o.name for o in OUTCOMES if o.kind in ("per_dollar", "policy_share")]
    numeric = zero[~zero["outcome"].isin(ratios)]
    assert (numeric["diff_mean"] == 0).all()  # no budget, no slots: exactly the baseline
    assert zero[zero["outcome"].isin(ratios)]["diff_mean"].isna().all()  # 0/0
    spend = table[(table["point"] == "p001") & (table["outcome"] == "public_spend_hkd_m")]
    assert spend["diff_mean"].iloc[0] > 0
    assert (out / "sweep.png").read_bytes()[:8] == PNG_MAGIC
    assert "platform.public_budget_hkd_m" in (out / "report.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["batch"]["scenarios"]["p001"]["point"] == {"platform.public_budget_hkd_m": 400}
