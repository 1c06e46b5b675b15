"""Edge cases of the command line (issue 12, item 11): each with its message and exit code.

- ``--scale`` / ``--until`` out of range name the option and its range, not the scenario file;
- a share with nothing in its denominator (``--scale 1e-9``) is ``n/a`` and NaN, not 0;
- a horizon that ends before the default years (``--until 2016``) gets years inside it, or
  a clear refusal;
- a taken dashboard port is refused before the URL is printed;
- ``--help`` is plain text;
- ``--posterior`` tables and reports say so;
- ``report.md`` is byte-identical after a rerun that changes no result.
"""

from __future__ import annotations

import argparse
import math
import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.cli import build_parser, main, plain_text, summary_table
from sim.errors import BatchError
from sim.experiments.command import table_heading
from sim.experiments.compare import format_markdown, format_table, summarise
from sim.experiments.report import provenance_lines, result_command, short_commit
from sim.experiments.workflows import (
    check_run_option,
    default_years_and_period,
    run_comparison,
)
from sim.scenario import load_scenario

from .conftest import SCENARIOS

FAST = ["--jobs", "1", "--no-progress", "--no-attribution", "--no-figures"]


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# ------------------------------------------------------------------ --scale, --until
@pytest.mark.parametrize("value", ["0", "-1", "6", "nan", "inf", "1e-400"])
def test_run_scale_out_of_range_names_the_option_not_the_file(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _main(
        ["run", "baseline", "--scale", value, "--out", str(tmp_path / "o")], capsys
    )
    assert rc == 2
    assert "--scale" in err and "(0, 5]" in err
    assert "baseline.yaml" not in err and "run.scale" not in err
    assert not (tmp_path / "o").exists() and out == ""


@pytest.mark.parametrize("value", ["2010", "3000"])
def test_run_until_out_of_range_names_the_option(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = _main(["run", "baseline", "--until", value, "--out", str(tmp_path / "o")], capsys)
    assert rc == 2
    assert f"--until {value}" in err and "[2015, 2060]" in err
    assert "baseline.yaml" not in err


@pytest.mark.parametrize("value", ["0", "-0.5", "5.5"])
def test_compare_scale_out_of_range_names_the_option(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = _main(["compare", "--scale", value, "--out", str(tmp_path / "o")], capsys)
    assert rc == 2 and "--scale" in err and "(0, 5]" in err and ".yaml" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("scale", [0, -1.0, 7.0, math.nan, math.inf, True, "0.5"])
def test_library_scale_error_names_the_option(scale: object, tmp_path: Path) -> None:
    """The API and sweep files (``scale:``) reach the same check."""
    with pytest.raises(BatchError, match=r"--scale .*\(0, 5\]"):
        run_comparison(scale=scale, n_seeds=1, out=tmp_path / "o", progress=False)  # type: ignore[arg-type]
    assert not (tmp_path / "o").exists()


def test_check_run_option_accepts_the_range() -> None:
    assert check_run_option("--scale", "scale", 5) == 5.0
    assert check_run_option("--scale", "scale", 1e-9) == 1e-9
    assert check_run_option("--until", "end_year", 2015) == 2015
    assert check_run_option("--until", "end_year", 2060.0) == 2060
    with pytest.raises(BatchError, match="whole year"):
        check_run_option("--until", "end_year", 2030.5)


# ------------------------------------------------------------------ 0/0 is n/a
def _panel(total: float) -> pd.DataFrame:
    rows = []
    for label in ("b", "p"):
        for rep in range(3):
            for year in (2025, 2026):
                rows.append(
                    {
                        "label": label,
                        "replicate": rep,
                        "seed": rep,
                        "year": year,
                        "hk_value_added_hkd_m": 0.0,
                        "total_value_added_hkd_m": total,
                        "local_retention_share": 0.0,
                    }
                )
    return pd.DataFrame(rows)


def test_share_of_nothing_is_nan_in_the_summary_and_na_in_tables() -> None:
    s = summarise(_panel(0.0), "b", ["p"], years=(2025,), period=(2025, 2026))
    share = s[s["outcome"] == "local_retention_share"]
    assert len(share) == 2
    assert share[["base_mean", "policy_mean", "diff_mean"]].isna().all().all()
    text = format_table(s, "p")
    md = format_markdown(s, "p")
    for block in (text, md):
        lines = block.splitlines()
        i = next(k for k, x in enumerate(lines) if "Local retention share" in x)
        share_rows = lines[i : i + 3] if block is text else lines[i : i + 2]
        assert "0.000" not in "\n".join(share_rows)
        assert "n/a" in "\n".join(share_rows)


def test_share_with_value_stays_a_number() -> None:
    s = summarise(_panel(10.0), "b", ["p"], years=(2025,), period=(2025, 2026))
    share = s[s["outcome"] == "local_retention_share"]
    assert (share["base_mean"] == 0.0).all() and (share["diff_mean"] == 0.0).all()


def test_run_summary_table_shows_na_for_a_share_of_nothing() -> None:
    annual = pd.DataFrame(
        {
            "year": [2019],
            "hk_value_added_hkd_m": [0.0],
            "total_value_added_hkd_m": [0.0],
            "local_retention_share": [0.0],
            **{
                c: [0.0]
                for c in (
                    "hk_jobs",
                    "startups",
                    "manufacturing_establishments",
                    "projects_north",
                    "projects_piloted_hk",
                    "public_spend_hkd_m",
                )
            },
        }
    )
    line = next(x for x in summary_table(annual).splitlines() if "retention" in x)
    assert line.split()[-1] == "n/a"


def test_compare_at_a_vanishing_scale_prints_na_and_stores_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tiny"
    argv = ["compare", "--scale", "1e-9", "--seeds", "2", "--until", "2026", *FAST]
    rc, printed, _ = _main([*argv, "--out", str(out)], capsys)
    assert rc == 0
    assert "mean of 2 paired seeds" in printed  # not "of 0" because a share is undefined
    block = printed[printed.index("Local retention share") :].splitlines()[1:4]
    assert all("n/a" in x and "0.000" not in x for x in block), block
    summary = pd.read_csv(out / "summary.csv")
    share = summary[summary["outcome"] == "local_retention_share"]
    assert share["diff_mean"].isna().all() and share["base_mean"].isna().all()
    report = (out / "report.md").read_text()
    row = next(x for x in report.splitlines() if "Local retention share" in x)
    assert "n/a" in row and "0.000" not in row


# ------------------------------------------------------------------ --until before 2025
def test_default_years_follow_a_short_horizon() -> None:
    assert default_years_and_period(None, None, 2018, start=2016) == ([2016, 2018], (2016, 2018))
    assert default_years_and_period(None, None, 2016, start=None) == ([2015, 2016], (2015, 2016))
    # given values are kept; the usual defaults from 2025 on
    assert default_years_and_period([2017], (2016, 2017), 2018, 2016) == ([2017], (2016, 2017))
    assert default_years_and_period(None, None, 2035, 2025) == (None, None)


def test_a_horizon_before_the_policy_is_refused() -> None:
    with pytest.raises(BatchError, match=r"--until 2016: the horizon ends before the policies"):
        default_years_and_period(None, None, 2016, start=2025)


def test_compare_until_2016_is_refused_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, printed, err = _main(
        ["compare", "--until", "2016", "--scale", "0.02", *FAST, "--out", str(tmp_path / "o")],
        capsys,
    )
    assert rc == 2 and "2016" in err  # refused by the scenario check or the default years
    assert printed == "" and not (tmp_path / "o").exists()


def test_compare_with_an_early_policy_and_short_horizon_has_a_table(tmp_path: Path) -> None:
    policy = load_scenario(SCENARIOS / "hk_pilot_platform.yaml", {"platform.start_year": 2016})
    res = run_comparison(
        "baseline", [policy], n_seeds=2, scale=0.02, until=2018, out=tmp_path / "o",
        jobs=1, progress=False, figures=False, attribution=False,
    )  # fmt: skip
    assert res.summary is not None
    assert set(res.summary["period"]) == {"2016", "2018", "2016-2018"}
    table = next(iter(res.tables.values()))
    assert "2016-2018" in table and "Value retained in HK" in table


# ------------------------------------------------------------------ dashboard port
def test_taken_dashboard_port_is_refused_before_the_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("solara")
    import sim.viz.command as vcli

    monkeypatch.setattr(vcli, "_exec", lambda cmd, env: pytest.fail("server started"))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc, out, err = _main(["dashboard", "--port", str(port)], capsys)
    assert rc == 2
    assert f"--port {port}" in err and "already in use" in err and "--port N" in err
    assert "http://" not in out


def test_dashboard_port_0_prints_the_port_it_serves_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("solara")
    import sim.viz.command as vcli

    seen: dict[str, list[str]] = {}
    monkeypatch.setattr(vcli, "_exec", lambda cmd, env: seen.update(cmd=cmd) or 0)
    rc, out, _ = _main(["dashboard", "--port", "0"], capsys)
    assert rc == 0
    port = seen["cmd"][seen["cmd"].index("--port") + 1]
    assert int(port) > 0 and f"http://127.0.0.1:{port}" in out


def test_dashboard_bad_host_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("solara")
    rc, out, err = _main(["dashboard", "--host", "no.such.host.invalid", "--port", "0"], capsys)
    assert rc == 2 and "--host no.such.host.invalid" in err and out == ""


# ------------------------------------------------------------------ --help
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public accessor for subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_help_is_plain_text() -> None:
    parser = build_parser()
    texts = {"pilotsim": parser.format_help()}
    texts.update({name: p.format_help() for name, p in _subparsers(parser).items()})
    assert {"run", "compare", "sweep", "dashboard", "calibrate"} <= set(texts)
    for name, text in texts.items():
        assert "`" not in text, name
        assert "**" not in text, name


def test_plain_text_strips_markup_only() -> None:
    assert plain_text("The ``pilotsim`` command") == "The pilotsim command"
    assert plain_text("see `calibration/` and **bold** and *this*") == (
        "see calibration/ and bold and this"
    )
    assert plain_text("DE population x parameters; 2*3 = 6; a * b") == (
        "DE population x parameters; 2*3 = 6; a * b"
    )


# ------------------------------------------------------------------ --posterior header
def test_table_heading_says_posterior() -> None:
    assert "posterior" in table_heading("p", "b", 4, posterior=True)
    assert "posterior" not in table_heading("p", "b", 4)


def test_posterior_compare_says_posterior_in_table_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "post"
    argv = ["compare", "--posterior", "--seeds", "2", "--scale", "0.02", "--until", "2026"]
    rc, printed, err = _main([*argv, *FAST, "--out", str(out)], capsys)
    assert rc == 0, err
    assert "mean of 2 paired replicates with posterior parameter draws" in printed
    report = (out / "report.md").read_text()
    title, heading = (
        report.splitlines()[0],
        next(x for x in report.splitlines() if x.startswith("## hk_pilot_platform - baseline")),
    )
    assert "posterior" in title and "posterior" in heading


# ------------------------------------------------------------------ deterministic report
def test_result_command_drops_executor_options() -> None:
    assert result_command("pilotsim compare --jobs 2 --seeds 4") == "pilotsim compare --seeds 4"
    assert result_command("pilotsim compare --jobs=2 --dask --no-progress a b") == (
        "pilotsim compare a b"
    )
    assert result_command("pilotsim compare --scheduler tcp://h:1 --posterior") == (
        "pilotsim compare --posterior"
    )
    assert short_commit("abc-dirty") == "abc" and short_commit("abc") == "abc"


def test_provenance_lines_leave_out_what_changes_between_calls() -> None:
    meta = {
        "command": "pilotsim compare --jobs 3",
        "git_commit": "abc123-dirty",
        "code_commit": "c0de42",
        "code": "f00",
        "versions": {"numpy": "2"},
        "seconds": 12.3,
        "engine": "process pool (3 workers)",
    }
    text = "\n".join(provenance_lines(meta))
    assert "`pilotsim compare`" in text and "c0de42`" in text and "f00" in text
    # the checked-out commit moves when results are committed: only the code's is shown
    assert "abc123" not in text
    assert "dirty" not in text and "12.3" not in text and "12 s" not in text
    assert "process pool" not in text


def test_rerun_leaves_report_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "same"
    argv = ["compare", "--seeds", "2", "--scale", "0.02", "--until", "2026", "--out", str(out)]
    opts = ["--no-progress", "--no-attribution", "--no-figures"]
    assert main([*argv, *opts, "--jobs", "1"]) == 0
    first = (out / "report.md").read_bytes()
    assert main([*argv, *opts, "--jobs", "2"]) == 0  # all runs reused, another executor
    assert (out / "report.md").read_bytes() == first
    printed = capsys.readouterr().out
    assert "4 already stored" in printed
    text = first.decode()
    assert not re.search(r"wall time \d|reused|--jobs", text)
    assert np.isfinite(pd.read_csv(out / "summary.csv")["n_pairs"]).all()
