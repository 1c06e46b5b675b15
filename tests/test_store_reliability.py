"""Issue 12: a broken store heals, output folders hold one job, batches leave nothing behind.

Each test reproduces a failure of the issue (a corrupt part file, an unwritable --out, a
SIGKILLed batch, two compares into one folder, a quadratic manifest, a huge sweep) and
checks the clear message, exit code 2 (or the repair), and that nothing is written outside
the output folder or left half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.experiments import batch as batch_mod
from sim.experiments import store as store_mod
from sim.experiments.batch import claim_out_dir, folder_job
from sim.experiments.executors import SequentialExecutor
from sim.experiments.ownership import RECORD
from sim.experiments.runner import Task, make_tasks, run_batch
from sim.experiments.seeds import replicate_seeds
from sim.experiments.store import Store
from sim.scenario import load_scenario

from .conftest import ROOT, SCENARIOS, pilotsim_without_file_rights

TINY = {"run.scale": 0.05, "run.end_year": 2025}
#: A compare of two scenarios x 2 seeds at scale 0.05 to 2025: 4 runs of about a second.
COMPARE = [
    "--seeds", "2", "--scale", "0.05", "--until", "2025", "--jobs", "1",
    "--no-progress", "--no-attribution",
]  # fmt: skip


def tiny_tasks() -> list[Task]:
    spec = load_scenario(SCENARIOS / "baseline.yaml", TINY)
    return make_tasks([spec], replicate_seeds(3, 2))


def listing(root: Path) -> set[str]:
    """Every path under ``root`` but pilotsim's ownership record (tested on its own in
    tests/test_ownership.py)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.name != RECORD}


# ------------------------------------------------- 4. corrupt or empty part files
def test_corrupt_and_empty_parts_are_quarantined_and_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = tiny_tasks()
    store = Store(tmp_path)
    run_batch(tasks, SequentialExecutor(), store, progress=False)
    good = {t.key: pd.read_parquet(store.part_path(t.key)) for t in tasks}
    broken, empty = (store.part_path(t.key) for t in tasks)
    broken.write_bytes(broken.read_bytes()[:200])  # torn: no Parquet footer
    empty.write_bytes(b"")
    capsys.readouterr()

    reopened = Store(tmp_path)  # the manifest still says "done" for both
    frames = reopened.load(t.key for t in tasks)  # no OSError/ArrowInvalid traceback
    assert frames == {}
    err = capsys.readouterr().err
    assert err.count("warning: store") == 2 and "the run will be done again" in err
    assert "empty (0 bytes)" in err and "unreadable" in err
    quarantine = tmp_path / "runs" / "quarantine"
    notes = sorted(quarantine.glob("*.txt"))
    assert len(notes) == 2 and len(list(quarantine.glob("*.parquet"))) == 2
    assert "moved here, the run is redone" in notes[0].read_text()

    rep = run_batch(tasks, SequentialExecutor(), Store(tmp_path), progress=False)
    assert (rep.skipped, rep.done, rep.failed) == (0, 2, 0)
    healed = Store(tmp_path).load(t.key for t in tasks)
    for key, frame in good.items():
        pd.testing.assert_frame_equal(healed[key], frame)


def test_is_done_checks_the_part_file_not_only_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = tiny_tasks()[:1]
    store = Store(tmp_path)
    run_batch(tasks, SequentialExecutor(), store, progress=False)
    part = store.part_path(tasks[0].key)
    part.write_bytes(b"PAR1 not really parquet")
    fresh = Store(tmp_path)
    assert not fresh.is_done(tasks[0].key)
    assert fresh.runs[tasks[0].key]["status"] == "quarantined"
    assert not part.exists()
    assert "moved to runs/quarantine/" in capsys.readouterr().err


def test_compare_heals_a_corrupt_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    args = ["compare", *COMPARE, "--no-figures", "--out", str(out)]
    assert main(args) == 0
    first = (out / "summary.csv").read_bytes()
    part = sorted((out / "runs").glob("*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:-100])
    capsys.readouterr()
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "unreadable" in captured.err and "done again" in captured.err
    assert captured.out.startswith("4 runs: 1 run now, 3 already stored, 0 failed")
    assert (out / "summary.csv").read_bytes() == first


# ------------------------------------------------------------ 5. unwritable --out
def _read_only(folder: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``pilotsim argv`` with ``folder`` bind-mounted read-only (user namespace)."""
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'
    cmd = ["unshare", "-Urm", "sh", "-c", script, "sh", str(folder)]
    cmd += [sys.executable, "-m", "sim.cli", *argv]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _can_mount_read_only(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    r = subprocess.run(
        ["unshare", "-Urm", "sh", "-c",
         f'mount --bind {probe} {probe} && mount -o remount,ro,bind {probe} {probe} '
         f'&& ! touch {probe}/x 2>/dev/null'],
        capture_output=True,
    )  # fmt: skip
    return r.returncode == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "baseline", "--scale", "0.05", "--until", "2016"],
        ["compare", *COMPARE],
        ["sweep", "--param", "platform.public_budget_hkd_m=400,800", "--seeds", "1",
         "--scale", "0.05", "--until", "2025", "--jobs", "1", "--no-progress"],
    ],
    ids=["run", "compare", "sweep"],
)  # fmt: skip
@pytest.mark.parametrize("exists", [False, True], ids=["new-folder", "existing-folder"])
def test_read_only_out_is_refused_before_any_run(
    tmp_path: Path, argv: list[str], exists: bool
) -> None:
    if not _can_mount_read_only(tmp_path):
        pytest.skip("needs unshare -Urm and a read-only bind mount")
    ro = tmp_path / "ro"
    out = ro / "out"
    if exists:
        out.mkdir(parents=True)
    else:
        ro.mkdir()
    t0 = time.monotonic()
    r = _read_only(ro, [*argv, "--out", str(out)])
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: --out {out}: cannot ")
    assert "Read-only file system" in r.stderr and "Traceback" not in r.stderr
    assert "runs:" not in r.stderr and r.stdout == ""  # refused before any simulation
    assert listing(ro) == ({"out"} if exists else set())
    assert time.monotonic() - t0 < 120


def test_out_without_permission_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        r = pilotsim_without_file_rights(
            ["run", "baseline", "--scale", "0.05", "--until", "2016", "--out", str(locked / "out")]
        )
    finally:
        locked.chmod(0o700)
    assert r.returncode == 2, r.stderr
    assert "Permission denied" in r.stderr and "Traceback" not in r.stderr
    assert listing(locked) == set()


# --------------------------------------------------- 6. no process outlives a batch
def _children(pid: int) -> list[int]:
    psutil = pytest.importorskip("psutil")
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def _alive(pids: list[int]) -> list[int]:
    psutil = pytest.importorskip("psutil")
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _start_pool_batch(out: Path) -> tuple[subprocess.Popen[str], list[int]]:
    args = [
        "compare", "--seeds", "40", "--scale", "0.05", "--until", "2025", "--jobs", "2",
        "--no-progress", "--no-figures", "--no-attribution", "--out", str(out),
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and Store(out).runs:  # a run is stored whole
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail(f"batch ended before it could be killed: {proc.stderr.read()}")
    kids = _children(proc.pid)
    assert len(kids) >= 3  # resource tracker, forkserver, workers
    return proc, kids


def _wait_gone(pids: list[int], seconds: float = 20) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_sigkill_of_a_batch_leaves_no_process(tmp_path: Path) -> None:
    proc, kids = _start_pool_batch(tmp_path / "killed")
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert _wait_gone(kids) == [], "worker, forkserver or resource tracker outlived a kill"
    finally:
        for pid in _alive(kids):
            os.kill(pid, signal.SIGKILL)


def test_sigterm_stops_the_pool_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "terminated"
    proc, kids = _start_pool_batch(out)
    try:
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "interrupted: finished runs are stored" in err
        assert "leaked semaphore" not in err and "Traceback" not in err
        assert _wait_gone(kids) == []
    finally:
        for pid in _alive(kids):
            os.kill(pid, signal.SIGKILL)
    assert not (out / ".lock").exists()
    assert Store(out).runs  # finished runs were kept for a resume


# A worker ended while writing its result leaves half a message in the result pipe; the
# pool's manager thread then waited for the rest forever and Python, which joins that
# thread at exit, never ended (seen in CI after SIGTERM). The worker below writes half a
# message and hangs, like one killed mid-write, so the case is hit every time.
HALF_SENT_RESULT = """
import gc, struct, sys, time
from multiprocessing.queues import SimpleQueue
from pathlib import Path

from sim.experiments.executors import open_executor


def half_send(marker):
    results = next(o for o in gc.get_objects() if isinstance(o, SimpleQueue))
    results._wlock.acquire()
    results._writer._send(struct.pack("!i", 1 << 20) + b"x" * 100)  # promises 1 MiB
    Path(marker).touch()
    time.sleep(600)


if __name__ == "__main__":
    marker = Path(sys.argv[1])
    try:
        with open_executor(2) as engine:
            engine.executor.submit(half_send, str(marker))
            while not marker.exists():
                time.sleep(0.02)
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("interrupted", flush=True)
"""


def test_interrupt_while_a_worker_is_half_way_through_a_result_still_exits(
    tmp_path: Path,
) -> None:
    script = tmp_path / "half_sent.py"
    script.write_text(HALF_SENT_RESULT)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "sent")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "interrupted"
    assert "leaked semaphore" not in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------- 7, 9. one job per output folder
def test_second_compare_into_a_locked_folder_fails_fast(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "busy"
    with claim_out_dir(out, ("compare", "baseline", "hk_pilot_platform")):
        before = listing(out)
        t0 = time.monotonic()
        rc = main(["compare", *COMPARE, "--out", str(out)])
        assert time.monotonic() - t0 < 60
        assert rc == 2
        err = capsys.readouterr().err
        assert f"--out {out}: another pilotsim process (pid {os.getpid()})" in err
        assert listing(out) == before == {".lock"}
    assert not out.exists()  # the folder made for the job is removed: it stayed empty


def test_lock_is_released_and_reusable(tmp_path: Path) -> None:
    out = tmp_path / "o"
    for _ in range(2):
        with claim_out_dir(out, ("run", "baseline")):
            (out / "metadata.json").write_text(json.dumps({"scenario": "baseline"}))
        assert listing(out) == {"metadata.json"}


def test_run_into_another_scenarios_folder_needs_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    base = ["--scale", "0.05", "--until", "2025", "--out", str(out)]
    assert main(["run", "baseline", *base]) == 0
    meta = (out / "metadata.json").read_text()
    capsys.readouterr()
    assert main(["run", "prd_upgrade", *base]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: holds a run of baseline, not a run of prd_upgrade" in err
    assert "--force" in err
    assert (out / "metadata.json").read_text() == meta  # untouched
    assert main(["run", "baseline", "--seed", "1", *base]) == 0  # same scenario: fine
    assert main(["run", "prd_upgrade", *base, "--force"]) == 0
    assert json.loads((out / "metadata.json").read_text())["scenario"] == "prd_upgrade"
    assert listing(out) == set(batch_mod.RUN_FILES)


def test_compare_of_another_pair_needs_force_and_leaves_no_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", *COMPARE, "--out", str(out)]) == 0
    figures = {p.name for p in out.glob("*.png")}
    assert figures
    report = (out / "report.md").read_text()
    capsys.readouterr()

    other = ["compare", "baseline", "prd_upgrade", *COMPARE, "--no-figures", "--out", str(out)]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert "holds the comparison baseline vs hk_pilot_platform, not the comparison " in err
    assert "baseline vs prd_upgrade" in err and "--force" in err
    assert (out / "report.md").read_text() == report  # nothing touched

    # the same pair again without figures: the old figures do not stay beside the report
    assert main(["compare", *COMPARE, "--no-figures", "--out", str(out)]) == 0
    assert not list(out.glob("*.png"))

    assert main([*other, "--force"]) == 0
    names = listing(out)
    assert {"summary.csv", "report.md", "manifest.json"} <= names
    assert not any(n.endswith(".png") for n in names)
    assert folder_job(out) == ("compare", "baseline", "prd_upgrade")
    assert len(list((out / "runs").glob("*.parquet"))) == 4  # the old pair's runs are gone
    assert "hk_pilot_platform" not in (out / "summary.csv").read_text()


def test_committed_folders_are_recognised_without_their_manifest(tmp_path: Path) -> None:
    # manifest.json is not committed: a fresh clone has only the reports
    for name, job in [
        ("baseline_vs_hk_pilot_platform", ("compare", "baseline", "hk_pilot_platform")),
        (
            "crowded_world_vs_platform_crowds_out",
            ("compare", "crowded_world", "platform_crowds_out"),
        ),
    ]:
        src = ROOT / "results" / name
        dst = tmp_path / name
        dst.mkdir()
        for f in src.iterdir():
            if f.is_file() and f.name != "manifest.json":
                shutil.copy(f, dst / f.name)
        assert folder_job(dst) == job
        with claim_out_dir(dst, job):  # the same pair: no --force needed
            pass
        with pytest.raises(batch_mod.OutDirError, match="--force"):
            with claim_out_dir(dst, ("compare", "baseline", "prd_upgrade")):
                pass


def test_force_never_clears_files_pilotsim_does_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["run", "baseline", "--scale", "0.05", "--until", "2016",
                 "--out", str(out), "--force"]) == 2  # fmt: skip
    assert "holds files pilotsim did not write (thesis.tex)" in capsys.readouterr().err
    assert listing(out) == {"thesis.tex"}


# ------------------------------------------------------ 10. the manifest is a journal
def _fake_runs(store: Store, n: int) -> None:
    frame = pd.DataFrame({"scenario_hash": ["h"] * 2, "seed": [0, 0], "x": [1.0, 2.0]})
    for i in range(n):
        key = f"h-s{i}"
        store.write_run(key, frame, {"scenario_hash": "h", "seed": i, "code": "c"})


def test_manifest_is_appended_not_rewritten_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[int] = []
    real = store_mod._write_json_atomically

    def counting(path: Path, data: dict) -> None:
        written.append(len(data["runs"]))
        real(path, data)

    monkeypatch.setattr(store_mod, "_write_json_atomically", counting)
    monkeypatch.setattr(
        store_mod.pq, "write_table", lambda table, where, **kw: Path(where).write_bytes(b"x")
    )
    store = Store(tmp_path)
    n = 1000
    _fake_runs(store, n)
    # rewritten only when the journal is as long as the manifest: 1, 2, 4, ... runs,
    # so the runs written in all rewrites together stay below 2 n (linear, not n^2 / 2)
    assert len(written) <= 12
    assert sum(written) < 2 * n
    lines = (tmp_path / "runs" / "journal.jsonl").read_text().splitlines()
    assert 0 < len(lines) <= n - written[-1]
    # a new process folds the journal: every run is there
    assert len(Store(tmp_path).runs) == n
    store.save()
    assert not (tmp_path / "runs" / "journal.jsonl").exists()
    assert len(json.loads((tmp_path / "manifest.json").read_text())["runs"]) == n


def test_a_torn_journal_line_is_ignored(tmp_path: Path) -> None:
    tasks = tiny_tasks()
    store = Store(tmp_path)
    run_batch(tasks[:1], SequentialExecutor(), store, progress=False)
    journal = tmp_path / "runs" / "journal.jsonl"
    journal.write_text('{"key": "x-s1", "entry": {"status": "done"}}\n{"key": "x-s2", "ent')
    runs = Store(tmp_path).runs
    assert "x-s1" in runs and "x-s2" not in runs
    assert runs[tasks[0].key]["status"] == "done"


# --------------------------------------------------------------- 10. huge batches
def test_huge_sweep_is_refused_with_its_size_and_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "huge"
    t0 = time.monotonic()
    rc = main(["sweep", "--param", "platform.public_budget_hkd_m=1:2:100000", "--seeds", "2",
               "--scale", "0.2", "--out", str(out)])  # fmt: skip
    assert rc == 2
    assert time.monotonic() - t0 < 60
    err = capsys.readouterr().err
    assert err.startswith("error: 200,002 runs (100,000 points and the baseline x 2 seeds)")
    assert "about " in err and " hours on " in err and "needs --yes" in err
    assert not out.exists()


def test_huge_compare_is_refused_without_yes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "huge"
    assert main(["compare", "--seeds", "3000", "--no-attribution", "--jobs", "2",
                 "--out", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "6,000 runs (2 scenarios x 3,000 seeds) at scale 1 to 2035" in err
    assert "on 2 cores" in err and "--yes" in err
    assert not out.exists()


def test_batch_size_check_accepts_yes() -> None:
    batch_mod.check_batch_size(10**6, "many", scale=1, until=2035, jobs=1, yes=True)
    batch_mod.check_batch_size(batch_mod.MAX_RUNS_WITHOUT_YES, "few", scale=1, until=2035)
    with pytest.raises(batch_mod.BatchError, match="5,001 runs"):
        batch_mod.check_batch_size(5001, "x", scale=1, until=2035, jobs=1)
