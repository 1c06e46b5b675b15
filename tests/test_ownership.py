"""pilotsim removes only what its record says it wrote (issue 25, points 1 and 11).

``--force`` used to delete any ``*.md``, ``*.csv``, ``*.png``, hidden file or ``runs``
folder it found, a user's thesis included; each test here reproduces one way a user's file
could be lost and checks it is kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sim.cli import main
from sim.experiments import ownership
from sim.experiments.batch import OutDirError, claim_out_dir

ROOT = Path(__file__).resolve().parent.parent
RUN = ["--scale", "0.05", "--until", "2026"]  # prd_upgrade starts in 2025
JOB = ("compare", "baseline", "hk_pilot_platform")


def names(out: Path) -> set[str]:
    return {p.name for p in out.iterdir()}


def test_force_keeps_a_users_markdown_and_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the reproduction: both files were deleted
    ud = tmp_path / "ud"
    ud.mkdir()
    (ud / "thesis.md").write_text("x\n")
    (ud / "mydata.csv").write_text("a\n")
    assert main(["run", "baseline", *RUN, "--out", str(ud), "--force"]) == 2
    err = capsys.readouterr().err
    assert "holds files pilotsim did not write (mydata.csv, thesis.md)" in err
    assert "never deletes such files, even with --force" in err
    assert names(ud) == {"thesis.md", "mydata.csv"}
    assert (ud / "thesis.md").read_text() == "x\n"


def test_force_cannot_wipe_the_committed_calibration_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "calibration" / "data", data)
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    assert main(["run", "baseline", *RUN, "--out", str(data), "--force"]) == 2
    assert "holds files pilotsim did not write" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before


def test_a_file_added_to_pilotsims_folder_is_never_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["run", "baseline", *RUN, "--out", str(out)]) == 0
    (out / "notes.md").write_text("my reading of the run")
    (out / ".private").write_text("hidden, mine")
    capsys.readouterr()
    assert main(["run", "prd_upgrade", *RUN, "--out", str(out), "--force"]) == 2
    assert "(notes.md)" in capsys.readouterr().err
    (out / "notes.md").unlink()
    # only pilotsim's files go; the hidden file it did not write stays
    assert main(["run", "prd_upgrade", *RUN, "--out", str(out), "--force"]) == 0
    assert (out / ".private").read_text() == "hidden, mine"
    assert json.loads((out / "metadata.json").read_text())["scenario"] == "prd_upgrade"


def test_clear_removes_only_owned_names_and_pilotsims_temp_files(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with claim_out_dir(out, JOB):
        (out / "summary.csv").write_text("s")
        (out / "runs").mkdir()
        (out / "runs" / "a.parquet").write_text("p")
    assert ownership.owned(out) == {"summary.csv", "runs"}
    (out / ".user.tmp").write_text("a user's hidden temp-looking file")
    (out / ".summary.csv.tmp-123-0a1b2c3d.csv").write_text("pilotsim's staging file")
    ownership.clear(out)
    assert names(out) == {".user.tmp", ownership.RECORD}
    assert ownership.owned(out) == set()


def test_a_killed_job_is_adopted_by_the_next_one_but_not_what_was_there_before(
    tmp_path: Path,
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # written by pilotsim in an earlier job
    ownership.adopt(out, ["manifest.json"])
    ownership.begin(out)  # a job starts ...
    (out / "runs").mkdir()  # ... writes its store and is killed: end() never runs
    assert ownership.foreign(out) == []
    assert ownership.owned(out) == {"manifest.json", "runs"}
    with claim_out_dir(out, ("compare", "x", "y"), force=True):
        assert names(out) - {".lock"} == {ownership.RECORD}  # the killed job's files went
    assert names(out) == set()  # an emptied folder keeps no record


def test_a_damaged_record_grants_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with claim_out_dir(out, JOB):
        (out / "summary.csv").write_text("s")
    (out / ownership.RECORD).write_text("{not json")
    with pytest.raises(OutDirError, match=r"did not write \(summary.csv\)"):
        with claim_out_dir(out, JOB, force=True):
            pass
    assert (out / "summary.csv").read_text() == "s"


def test_stale_figures_are_removed_only_when_pilotsim_wrote_them(tmp_path: Path) -> None:
    from sim.experiments.batch import remove_stale_outputs

    out = tmp_path / "o"
    with claim_out_dir(out, JOB):
        (out / "old.png").write_text("pilotsim's figure")
        (out / "report.md").write_text("r")
        remove_stale_outputs(out, ["report.md"])
        assert not (out / "old.png").exists()
    (out / ".mine.png").write_text("hidden, the user's")
    remove_stale_outputs(out, [])
    assert (out / ".mine.png").exists() and not (out / "report.md").exists()


def test_a_scenario_file_named_like_another_does_not_replace_its_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # point 11: a file `name: baseline` with the platform on replaced a stored baseline
    out = tmp_path / "run"
    assert main(["run", "baseline", *RUN, "--out", str(out)]) == 0
    meta = (out / "metadata.json").read_text()
    mine = tmp_path / "mine.yaml"
    base = ROOT / "scenarios" / "baseline.yaml"
    mine.write_text(f"extends: {base}\nname: baseline\nplatform:\n  enabled: true\n")
    capsys.readouterr()
    assert main(["run", str(mine), *RUN, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds a run of baseline of other scenario files" in err
    assert "scenarios/baseline.yaml" in err and "--force" in err
    assert (out / "metadata.json").read_text() == meta
    assert main(["run", "baseline", "--seed", "2", *RUN, "--out", str(out)]) == 0  # same file
    assert main(["run", str(mine), *RUN, "--out", str(out), "--force"]) == 0
    assert json.loads((out / "metadata.json").read_text())["scenario_origin"] == str(mine.resolve())


def test_committed_output_folders_carry_their_record() -> None:
    # without it a fresh clone's `pilotsim compare` would refuse its own committed report
    folders = [
        ROOT / "results" / "baseline_vs_hk_pilot_platform",
        ROOT / "results" / "baseline_vs_hk_pilot_platform-posterior",
        ROOT / "results" / "crowded_world_vs_platform_crowds_out",
        *sorted(p for p in (ROOT / "results" / "policy_analysis").iterdir() if p.is_dir()),
    ]
    for out in folders:
        assert (out / ownership.RECORD).is_file(), out
        assert ownership.foreign(out) == [], out


def test_calibrate_never_overwrites_a_users_file_of_an_output_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # calibrate shares its folder with files it never writes (targets, priors, data), so it
    # may write there, but only over files pilotsim wrote: a user's report.md stays
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.md").write_text("my report")
    (out / "notes.txt").write_text("not an output name: allowed beside it")
    argv = ["calibrate", "--quick", "--quiet", "--jobs", "1", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: holds report.md, which pilotsim did not write" in err
    assert (out / "report.md").read_text() == "my report"
    assert names(out) == {"report.md", "notes.txt"}


def test_validate_model_never_overwrites_a_users_file_and_records_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "facts"
    out.mkdir()
    (out / "stylised_facts.md").write_text("mine")
    argv = ["validate-model", "--seeds", "1", "--scale", "0.05", "--jobs", "1"]
    argv += ["--no-client-studies"]
    assert main([*argv, "--out", str(out)]) == 2
    assert "holds stylised_facts.md, which pilotsim did not write" in capsys.readouterr().err
    assert (out / "stylised_facts.md").read_text() == "mine"
    (out / "stylised_facts.md").unlink()
    assert main([*argv, "--out", str(out)]) == 0
    assert ownership.owned(out) == {"stylised_facts.md", "stylised_facts.csv"}
    assert main([*argv, "--out", str(out)]) == 0  # its own files: replaced without a word


def test_the_committed_calibration_folder_records_its_outputs_only() -> None:
    from sim.calibration.defaults import FACTS_NAMES, OUTPUT_NAMES

    cal = ROOT / "calibration"
    assert ownership.unowned(cal, [*OUTPUT_NAMES, *FACTS_NAMES]) == []
    assert {"targets.yaml", "priors.yaml", "README.md", "data"}.isdisjoint(ownership.owned(cal))


def test_a_record_half_written_by_a_killed_job_is_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    stale = out / f".{ownership.RECORD}.tmp-999999-0badf00d.json"
    stale.write_text("{half")
    (out / ".mine.tmp-1-0badf00d.json").write_text("a user's, though it looks similar")
    with claim_out_dir(out, JOB):
        assert not stale.exists()
    assert (out / ".mine.tmp-1-0badf00d.json").exists()
