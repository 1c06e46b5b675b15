"""The `pilotsim` command: outputs written, and bad input gives exit 2 with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.cli import main
from sim.scenario import load_scenario, scenario_hash

from .conftest import SCENARIOS


def test_run_writes_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "run",
            str(SCENARIOS / "hk_pilot_platform.yaml"),
            "--seed",
            "3",
            "--scale",
            "0.05",
            "--until",
            "2026",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        ".pilotsim-owned.json",  # what pilotsim wrote here: all it may ever delete
        "annual.parquet",
        "annual.csv",
        "quarterly.parquet",
        "scenario.yaml",
        "metadata.json",
    }
    annual = pd.read_parquet(out / "annual.parquet")
    assert annual["year"].tolist() == list(range(2015, 2027))
    pd.testing.assert_frame_equal(annual, pd.read_csv(out / "annual.csv"), check_dtype=False)
    meta = json.loads((out / "metadata.json").read_text())
    spec = load_scenario(out / "scenario.yaml")
    assert meta["seed"] == 3 and meta["scenario_hash"] == scenario_hash(spec)
    assert meta["versions"]["mesa"].startswith("3.") and meta["git_commit"]
    assert yaml.safe_load((out / "scenario.yaml").read_text())["platform"]["enabled"] is True
    printed = capsys.readouterr().out
    assert "HK value added from HK research" in printed and "2025" in printed


def test_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SCENARIOS / "prd_upgrade.yaml")]) == 0
    assert "valid scenario 'prd_upgrade'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "no_such_scenario"], "no_such_scenario.yaml: file not found"),
        (["run", "baseline", "--set", "platform.foo=1"], "key 'platform.foo': unknown key"),
        (["run", "baseline", "--set", "platform"], "--set expects KEY=VALUE"),
        (["run", "baseline", "--scale", "0"], "--scale 0.0: must be a number in (0, 5]"),
        (["run", "baseline", "--until", "2014"], "--until 2014: must be a whole year in"),
        (["run", "baseline", "--seed", "-1"], "--seed must be a non-negative integer"),
        (["run", "baseline", "--seed", "x"], "invalid int value: 'x'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["validate", "baseline", "--set", "research.high_end_share=0.95"], "must be <= 1"),
    ],
)
def test_bad_input_exit_2_and_nothing_written(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    if argv[0] == "run":
        argv = [*argv, "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not out.exists()


def test_malformed_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("platform:\n  enabled: [true\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "never")]) == 2
    assert "malformed YAML at line" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()


def test_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["run", "baseline", "--scale", "0.05", "--until", "2015", "--out", str(f)]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err
    assert f.read_text() == "x"


def test_help_columns_and_validate_do_not_load_the_model() -> None:
    """``pilotsim --help``, ``columns`` and ``validate`` answer without importing Mesa,
    pandas or scipy (issue 13: a CLI that answers at once); timed in benchmarks/bench_cli.py."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from sim.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['columns']); main(['validate', 'baseline'])\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in ('mesa', 'pandas', 'scipy', 'pyarrow', 'matplotlib')\n"
        "               if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"loaded: {out}"
