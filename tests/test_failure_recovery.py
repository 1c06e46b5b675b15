"""Failure recovery (issue 25): stored runs are checksummed, kill -9 leaves nothing a later
run does not clean, a sweep cannot vary scale or horizon, disk and permission errors are one
line, and calibrations are locked and resume to the same posterior.

Each test reproduces a failure of the issue and checks the repair, the clear message with
exit code 2, or that nothing was touched.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim import provenance
from sim.cli import main
from sim.experiments import batch as batch_mod
from sim.experiments import ownership
from sim.experiments.executors import SequentialExecutor
from sim.experiments.runner import make_tasks, run_batch
from sim.experiments.seeds import replicate_seeds
from sim.experiments.store import CHECKSUM, Store
from sim.scenario import load_scenario

from .conftest import ROOT, SCENARIOS, pilotsim_without_file_rights

TINY = {"run.scale": 0.05, "run.end_year": 2025}
#: A compare of two scenarios x 2 seeds at scale 0.05 to 2025: 4 runs of about a second.
COMPARE = [
    "--seeds", "2", "--scale", "0.05", "--until", "2025", "--jobs", "1",
    "--no-progress", "--no-attribution", "--no-figures",
]  # fmt: skip
#: A one-run job that takes about a second (scale 0.05, two simulated years).
RUN = ["run", "baseline", "--scale", "0.05", "--until", "2016"]
#: A pid no live process has (above Linux's largest pid_max, 2**22).
DEAD_PID = 2**22 + 1


def listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _silent_bit_flip(data: bytes) -> bytes:
    """``data`` (a Parquet file) with one bit flipped in a data page such that pyarrow still
    reads the file without error but returns other values: the silent corruption of the
    issue, which a footer check cannot see."""
    good = pq.read_table(pa.BufferReader(data)).to_pandas()
    meta = pq.read_metadata(pa.BufferReader(data))
    first_page = meta.row_group(0).column(0).data_page_offset
    for pos in range(first_page, len(data) - meta.serialized_size):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        try:
            frame = pq.read_table(pa.BufferReader(bytes(flipped))).to_pandas()
        except (OSError, ValueError, pa.ArrowException):
            continue
        if not frame.equals(good):
            return bytes(flipped)
    raise AssertionError("no bit flip in the data pages decodes silently")


# ------------------------------------------------- 2. silent corruption of a stored run
def test_a_flipped_bit_in_a_data_page_is_caught_and_the_run_redone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    args = ["compare", *COMPARE, "--out", str(out)]
    assert main(args) == 0
    first = (out / "summary.csv").read_bytes()
    part = sorted((out / "runs").glob("*.parquet"))[0]
    corrupt = _silent_bit_flip(part.read_bytes())
    part.write_bytes(corrupt)
    capsys.readouterr()

    assert main(args) == 0
    captured = capsys.readouterr()
    assert "does not match the checksum recorded when it was written" in captured.err
    assert captured.out.startswith("4 runs: 1 run now, 3 already stored, 0 failed")
    assert (out / "summary.csv").read_bytes() == first  # the right numbers, not 2.8e79
    quarantined = list((out / "runs" / "quarantine").glob("*.parquet"))
    assert [q.read_bytes() for q in quarantined] == [corrupt]


def test_load_verifies_the_checksum_of_every_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = load_scenario(SCENARIOS / "baseline.yaml", TINY)
    tasks = make_tasks([spec], replicate_seeds(3, 2))
    store = Store(tmp_path)
    run_batch(tasks, SequentialExecutor(), store, progress=False)
    keys = [t.key for t in tasks]
    assert all(len(store.runs[k][CHECKSUM]) == 64 for k in keys)  # recorded when written
    part = store.part_path(keys[0])
    part.write_bytes(_silent_bit_flip(part.read_bytes()))
    capsys.readouterr()

    frames = Store(tmp_path).load(keys)  # the manifest says done: the bytes say otherwise
    assert list(frames) == [keys[1]]
    assert "does not match the checksum" in capsys.readouterr().err
    assert Store(tmp_path).runs[keys[0]]["status"] == "quarantined"


# ------------------------------------------------------- 13. leftovers after kill -9
def test_a_resumed_batch_removes_the_temporary_files_of_a_killed_one(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    args = ["compare", *COMPARE, "--out", str(out)]
    assert main(args) == 0
    runs = out / "runs"
    key = sorted(runs.glob("*.parquet"))[0].stem
    # what kill -9 leaves mid-write: provenance._temp_path's names beside the destination
    part_tmp = runs / f".{key}.parquet.tmp-{DEAD_PID}-0badf00d.parquet"
    manifest_tmp = out / f".manifest.json.tmp-{DEAD_PID}-deadbeef.json"
    not_ours = [runs / ".notes.tmp-draft.parquet", runs / "keep.parquet.tmp-1-0badf00d.parquet"]
    for p in (part_tmp, manifest_tmp, *not_ours):
        p.write_bytes(b"half")

    assert main(args) == 0
    assert not part_tmp.exists() and not manifest_tmp.exists()
    assert all(p.read_bytes() == b"half" for p in not_ours)  # only pilotsim's own names


def _start_and_kill_run(out: Path) -> None:
    """Start ``pilotsim run`` into ``out`` and kill -9 it while it holds the folder."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *RUN, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (out / batch_mod.LOCK_FILE).exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run ended before it took its folder")
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_killed_run_leaves_nothing_a_later_run_does_not_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    _start_and_kill_run(out)
    assert (out / batch_mod.LOCK_FILE).exists()  # stale: the file stays, its flock is gone
    # a kill inside provenance.write_files leaves the run's files under temporary names
    leftovers = [
        out / f".annual.parquet.tmp-{DEAD_PID}-0badf00d.parquet",
        out / f".metadata.json.tmp-{DEAD_PID}-deadbeef.json",
    ]
    for p in leftovers:
        p.write_bytes(b"half")

    assert main([*RUN, "--out", str(out)]) == 0
    assert "error" not in capsys.readouterr().err
    # nothing hidden is left but pilotsim's record of what it wrote (tests/test_ownership.py)
    assert [name for name in listing(out) if name.startswith(".")] == [ownership.RECORD]
    assert set(batch_mod.RUN_FILES) <= listing(out)
    assert pd.read_parquet(out / "annual.parquet")["year"].max() == 2016


# ------------------------------------------- 8. a sweep cannot vary scale or horizon
@pytest.mark.parametrize(
    ("param", "option"),
    [("run.scale=0.05,0.1", "--scale"), ("run.end_year=2020:2025:2", "--until")],
)
def test_sweep_of_scale_or_horizon_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], param: str, option: str
) -> None:
    out = tmp_path / "sweep"
    rc = main(["sweep", "--param", param, "--seeds", "1", "--scale", "0.05", "--until",
               "2025", "--jobs", "1", "--no-progress", "--out", str(out)])  # fmt: skip
    assert rc == 2
    err = capsys.readouterr().err
    key = param.partition("=")[0]
    assert err.startswith(f"error: --param {key}: a sweep pairs every point with the baseline")
    assert f"pass {option}" in err and err.count("\n") == 1
    assert not out.exists()


# ------------------------------ 6. full disk, read-only folder, missing permission
#: Size of the full disk (KiB; tmpfs counts 4 KiB pages): room for the lock and the
#: manifest, not for a run's Parquet files (about 50 KiB each at scale 0.05).
FULL_DISK_KIB = 16
LISTING = "--listing--"


def _on_full_disk(disk: Path, argv: list[str]) -> tuple[subprocess.CompletedProcess[str], set]:
    """Run ``pilotsim argv`` with a tiny tmpfs mounted on ``disk`` (a user namespace), and
    list what is on that disk afterwards (the mount ends with the namespace)."""
    script = (
        'mount -t tmpfs -o size="$2"k tmpfs "$1" && d="$1" && shift 2 && "$@"; rc=$?; '
        f'echo {LISTING}; find "$d" -mindepth 1 -printf "%P\\n"; exit $rc'
    )
    cmd = ["unshare", "-Urm", "sh", "-c", script, "sh", str(disk), str(FULL_DISK_KIB)]
    r = subprocess.run(
        [*cmd, sys.executable, "-m", "sim.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    before, _, after = r.stdout.partition(LISTING + "\n")
    r.stdout = before
    return r, set(after.split())


def _can_mount_tmpfs(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    if subprocess.run(["sh", "-c", "command -v unshare"], capture_output=True).returncode:
        return False
    r = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", f"mount -t tmpfs -o size=16k tmpfs {probe}"],
        capture_output=True,
    )
    return r.returncode == 0


@pytest.mark.parametrize(
    ("argv", "file"),
    [(RUN, "annual.parquet"), (["compare", *COMPARE], "runs/")],
    ids=["run", "compare"],
)
def test_a_full_disk_is_one_line_naming_the_file(
    tmp_path: Path, argv: list[str], file: str
) -> None:
    if not _can_mount_tmpfs(tmp_path):
        pytest.skip("needs unshare -Urm and a tmpfs mount in a user namespace")
    disk = tmp_path / "disk"
    disk.mkdir()
    out = disk / "out"
    r, left = _on_full_disk(disk, [*argv, "--out", str(out)])
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: {out}/{file}")
    assert r.stderr.endswith(": No space left on device; free some space or choose another --out\n")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not [name for name in left if ".tmp-" in name or name.endswith(".lock")]
    assert not [name for name in left if name.endswith(".parquet")]  # nothing half-written


#: A failed write as pyarrow and Python report it: an errno, and no file name.
STORAGE_ERRORS = {
    "full-disk": (errno.ENOSPC, "No space left on device"),
    "read-only": (errno.EROFS, "Read-only file system"),
    "no-permission": (errno.EACCES, "Permission denied"),
    "over-quota": (errno.EDQUOT, "Disk quota exceeded"),
}


def _refuse_writes(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    """Make every atomic write of pilotsim fail as the file system would (``code``), after
    the data was handed to the file: the flush to disk is refused."""

    def refuse(path: Path) -> None:
        raise OSError(code, f"Error writing bytes to file. Detail: [errno {code}]")

    monkeypatch.setattr(provenance, "_fsync_file", refuse)


@pytest.mark.parametrize("problem", list(STORAGE_ERRORS))
@pytest.mark.parametrize(
    "argv",
    [
        RUN,
        ["compare", *COMPARE],
        ["sweep", "--param", "platform.public_budget_hkd_m=400,800", "--seeds", "1",
         "--scale", "0.05", "--until", "2025", "--jobs", "1", "--no-progress"],
        ["analyse", "horizons", "--quick", "--jobs", "1", "--no-progress"],
    ],
    ids=["run", "compare", "sweep", "analyse"],
)  # fmt: skip
def test_refused_writes_are_one_line_naming_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    problem: str,
) -> None:
    code, text = STORAGE_ERRORS[problem]
    _refuse_writes(monkeypatch, code)
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}/") and f": {text}; " in err
    assert err.count("\n") == 1
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]  # nothing half-written


def test_a_read_only_folder_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main([*RUN, "--out", str(out)]) == 0
    (out / "annual.csv").unlink()  # the next run writes into the existing folder
    out.chmod(0o555)
    try:
        r = pilotsim_without_file_rights([*RUN, "--out", str(out)])
    finally:
        out.chmod(0o755)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: --out {out}: cannot ") or r.stderr.startswith(
        f"error: {out}"
    )
    assert "Permission denied" in r.stderr and r.stderr.count("\n") == 1
    assert not (out / "annual.csv").exists()


def test_calibrate_storage_errors_are_one_line_naming_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.calibration import smc

    def full(*args: object, **kwargs: object) -> None:  # pyabc's database on a full disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(smc, "run_smc", full)
    out = tmp_path / "cal"
    assert main(["calibrate", "--quick", "--quiet", "--jobs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"error: {out}: No space left on device; free some space or choose another --out\n"
    )


def test_sqlite_refusing_pyabcs_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while pyabc writes abc.db reaches us as SQLAlchemy's wrapper of SQLite's
    own error, not an OSError: one line too, naming the database."""
    import sqlite3

    from sim.calibration import smc

    class Wrapped(Exception):  # the shape of sqlalchemy.exc.OperationalError
        def __init__(self, orig: BaseException) -> None:
            super().__init__(f"(sqlite3.OperationalError) {orig}")
            self.orig = orig

    for words, strerror in (
        ("database or disk is full", "No space left on device"),
        ("attempt to write a readonly database", "Read-only file system"),
    ):

        def refuse(*args: object, _w: str = words, **kwargs: object) -> None:
            raise Wrapped(sqlite3.OperationalError(_w))

        monkeypatch.setattr(smc, "run_smc", refuse)
        out = tmp_path / "cal"
        assert main(["calibrate", "--quick", "--quiet", "--jobs", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {out / 'abc.db'}: {strerror}; ") and err.count("\n") == 1

    def other(*args: object, **kwargs: object) -> None:  # anything else still propagates
        raise sqlite3.OperationalError("no such table: populations")

    monkeypatch.setattr(smc, "run_smc", other)
    with pytest.raises(sqlite3.OperationalError):
        main(["calibrate", "--quick", "--quiet", "--jobs", "1", "--out", str(tmp_path / "c2")])


# -------------------------------------------------- 3, 9. calibrations: lock and resume
def _calibration_args(tmp_path: Path, generations: int) -> list[str]:
    """A tiny ABC-SMC calibration (2 parameters, 4 particles, scale 0.05, a 2-year burn-in,
    no report): about 2 s a generation on one core."""
    priors = tmp_path / "priors.yaml"
    priors.write_text(
        "parameters:\n"
        "  manufacturing.exit_hazard: {range: [0.01, 0.1], source: test}\n"
        "  it_sector.other_value_added_growth: {range: [0.0, 0.15], source: test}\n"
    )
    short = tmp_path / "short_burn_in.yaml"
    short.write_text("run:\n  warm_start_years: 2\n")
    return [
        "calibrate", "--quick", "--population", "4", "--scale", "0.05", "--quiet",
        "--predictive-draws", "2", "--predictive-scale", "0.05", "--no-report",
        "--scenario", str(short), "--priors", str(priors), "--seed", "5", "--jobs", "1",
        "--generations", str(generations),
    ]  # fmt: skip


def _snapshot(folder: Path) -> dict[str, bytes]:
    """The folder's files but the ownership record (the holder's own bookkeeping)."""
    return {
        p.name: p.read_bytes()
        for p in folder.iterdir()
        if p.is_file() and p.name != ownership.RECORD
    }


@pytest.mark.parametrize("flag", ["--resume", "--fresh", "--report-only"])
def test_a_second_calibrate_on_a_locked_folder_exits_2_and_touches_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    from sim.experiments.folder_lock import hold_out_dir

    out = tmp_path / "cal"
    out.mkdir()
    (out / "abc.db").write_bytes(b"the running calibration's database")
    (out / "abc.json").write_text('{"fingerprint": "0123"}\n')
    before = _snapshot(out)
    with hold_out_dir(out, ()):  # what a running calibration holds
        assert main([*_calibration_args(tmp_path, 2), flag, "--out", str(out)]) == 2
        assert _snapshot(out) == {**before, ".lock": f"{os.getpid()}\n".encode()}
    err = capsys.readouterr().err
    assert err == (
        f"error: --out {out}: another pilotsim process (pid {os.getpid()}) is writing into "
        "this folder; wait for it to finish or choose another --out\n"
    )
    assert _snapshot(out) == before


def _populations(db: Path) -> int:
    """Generations stored whole in a pyabc database (0 while it cannot be read)."""
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as con:
            (n,) = con.execute("SELECT COUNT(*) FROM populations WHERE t >= 0").fetchone()
    except sqlite3.Error:
        return 0
    return int(n)


#: Generations of the tiny calibration killed after its first (its posterior is the last).
GENERATIONS = 3
#: Generations of a calibration that is still running when the test is done with it.
LONG_RUN = 100


def _start_calibration(args: list[str], out: Path) -> subprocess.Popen[bytes]:
    """Start ``pilotsim calibrate`` into ``out``; return once generation 0 is stored."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *args, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while _populations(out / "abc.db") < 1:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the calibration ended before generation 0 was stored")
        time.sleep(0.01)
    return proc


def test_a_running_calibration_is_not_disturbed_by_a_second_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cal"
    args = _calibration_args(tmp_path, LONG_RUN)
    proc = _start_calibration(args, out)
    try:
        for flag in ("--fresh", "--resume"):
            assert main([*args, flag, "--out", str(out)]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"error: --out {out}: another pilotsim process (pid {proc.pid})")
            assert err.count("\n") == 1
        assert proc.poll() is None  # --fresh did not pull the database from under it
        assert _populations(out / "abc.db") >= 1
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_a_killed_calibration_resumes_to_the_uninterrupted_posterior(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _calibration_args(tmp_path, GENERATIONS)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main([*args, "--out", str(whole)]) == 0

    proc = _start_calibration(args, killed)
    os.kill(proc.pid, signal.SIGKILL)  # kill -9 past generation 0
    proc.wait(timeout=30)
    assert 1 <= _populations(killed / "abc.db") < GENERATIONS
    assert (killed / batch_mod.LOCK_FILE).exists()  # stale, reused without complaint

    capsys.readouterr()
    assert main([*args, "--resume", "--out", str(killed)]) == 0  # the same command, resumed
    assert "error" not in capsys.readouterr().err
    for name in ("posterior.csv", "generations.csv"):
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name
    assert len(pd.read_csv(killed / "generations.csv")) == GENERATIONS
    # resuming a finished run asks for nothing more: it is only read
    assert main([*args, "--resume", "--out", str(killed)]) == 0
    assert len(pd.read_csv(killed / "generations.csv")) == GENERATIONS


@pytest.mark.parametrize(
    "argv",
    [
        ["analyse", "horizons", "--quick", "--jobs", "1", "--no-progress"],
        ["calibrate", "--quick", "--quiet", "--jobs", "1"],
    ],
    ids=["analyse", "calibrate"],
)
def test_a_read_only_folder_is_refused_in_one_line(tmp_path: Path, argv: list[str]) -> None:
    from .test_store_reliability import _can_mount_read_only, _read_only

    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs unshare -Urm and a read-only bind mount")
    ro = tmp_path / "ro"
    out = ro / "out"
    out.mkdir(parents=True)
    r = _read_only(ro, [*argv, "--out", str(out)])
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: --out {out}: cannot ")
    assert "Read-only file system" in r.stderr and r.stderr.count("\n") == 1
    assert listing(ro) == {"out"}
