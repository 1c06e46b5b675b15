"""Batch runner, executors, store and paired statistics (sim.experiments)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.experiments.compare import (
    OUTCOMES,
    panel_from_frames,
    ratio_interval,
    summarise,
    t_interval,
)
from sim.experiments.executors import ExecutorError, SequentialExecutor, open_executor
from sim.experiments.runner import Task, execute, make_tasks, run_batch, run_one
from sim.experiments.seeds import design_rng, replicate_seeds
from sim.experiments.store import Store, code_fingerprint
from sim.scenario import load_scenario

from .conftest import ROOT, SCENARIOS

TINY = {"run.scale": 0.05, "run.end_year": 2026}


def tiny_specs() -> list[sim.Scenario]:
    return [load_scenario(SCENARIOS / f"{n}.yaml", TINY) for n in ("baseline", "hk_pilot_platform")]


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return make_tasks(tiny_specs(), replicate_seeds(7, 2))


@pytest.fixture(scope="module")
def sequential_store(tmp_path_factory: pytest.TempPathFactory, tasks: list[Task]) -> Store:
    store = Store(tmp_path_factory.mktemp("seq"))
    with open_executor(1) as engine:
        assert engine.kind == "sequential"
        rep = run_batch(tasks, engine.executor, store, progress=False)
    assert (rep.done, rep.failed, rep.skipped) == (len(tasks), 0, 0), rep.failures
    return store


# ---------------------------------------------------------------- paired seeds
def test_replicate_seeds_follow_seedsequence_spawn() -> None:
    seeds = replicate_seeds(42, 5)
    children = np.random.SeedSequence(42).spawn(5)
    assert seeds == [int(c.generate_state(1)[0]) for c in children]
    assert len(set(seeds)) == 5
    assert replicate_seeds(42, 3) == seeds[:3]  # more seeds later extend, never reshuffle
    assert replicate_seeds(43, 5) != seeds


@pytest.mark.parametrize(("root", "n"), [(-1, 3), (0, 0), (1.5, 2), (True, 2)])
def test_replicate_seeds_reject_bad_input(root: Any, n: Any) -> None:
    with pytest.raises(ValueError, match="must be a"):
        replicate_seeds(root, n)


def test_design_stream_is_separate_from_replicates() -> None:
    a = design_rng(3).random(4)
    np.testing.assert_array_equal(a, design_rng(3).random(4))
    assert not np.array_equal(a, design_rng(4).random(4))


def test_tasks_share_seeds_across_scenarios(tasks: list[Task]) -> None:
    by_hash: dict[str, list[int]] = {}
    for t in tasks:
        by_hash.setdefault(t.scenario_hash, []).append(t.seed)
    assert len(by_hash) == 2
    first, second = by_hash.values()
    assert first == second == replicate_seeds(7, 2)
    # identical scenarios run once
    spec = tiny_specs()[0]
    assert len(make_tasks([spec, spec], [1, 2])) == 2


# -------------------------------------------------------------------- statistics
def test_t_interval_matches_student_t() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 7.0])
    m, lo, hi = t_interval(x, 0.9)
    half = stats.t.ppf(0.95, 4) * x.std(ddof=1) / math.sqrt(5)
    assert m == pytest.approx(3.4)
    assert (lo, hi) == pytest.approx((3.4 - half, 3.4 + half))
    assert math.isnan(t_interval(np.array([2.0]))[1])


def test_ratio_interval_reduces_to_t_interval_with_constant_denominator() -> None:
    num = np.array([10.0, 14.0, 9.0, 15.0])
    r, lo, hi = ratio_interval(num, np.full(4, 4.0))
    m, tlo, thi = t_interval(num / 4.0)
    assert (r, lo, hi) == pytest.approx((m, tlo, thi))
    assert math.isnan(ratio_interval(num, np.zeros(4))[0])  # no extra spend: undefined


# --------------------------------------------------------------- runs and store
def test_run_one_is_the_model_run(tasks: list[Task]) -> None:
    t = tasks[-1]
    q = run_one(t.spec, t.seed)
    direct = sim.run(load_scenario(SCENARIOS / "hk_pilot_platform.yaml", TINY), seed=t.seed)
    pd.testing.assert_frame_equal(
        q.drop(columns=["scenario_hash", "seed"]), direct.quarterly, check_exact=True
    )
    assert set(q["scenario_hash"]) == {t.scenario_hash} and set(q["seed"]) == {t.seed}


def test_store_round_trip_and_manifest(sequential_store: Store, tasks: list[Task]) -> None:
    frames = sequential_store.load(t.key for t in tasks)
    assert set(frames) == {t.key for t in tasks}
    t = tasks[0]
    expected = run_one(t.spec, t.seed)
    pd.testing.assert_frame_equal(frames[t.key], expected, check_exact=True)
    manifest = json.loads(sequential_store.manifest_path.read_text())
    entry = manifest["runs"][t.key]
    assert entry["status"] == "done" and entry["seed"] == t.seed
    assert entry["scenario_hash"] == t.scenario_hash and entry["code"] == code_fingerprint()
    assert entry["bytes"] == sequential_store.part_path(t.key).stat().st_size > 0
    assert not list(sequential_store.runs_dir.glob(".*tmp*"))  # no temporary files left


# ------------------------------------------------------------------ executors
def _assert_same_store(a: Store, b: Store, tasks: list[Task]) -> None:
    fa, fb = a.load(t.key for t in tasks), b.load(t.key for t in tasks)
    assert set(fa) == set(fb) == {t.key for t in tasks}
    for k in fa:
        pd.testing.assert_frame_equal(fa[k], fb[k], check_exact=True)


def test_process_pool_gives_identical_results(
    tmp_path: Path, tasks: list[Task], sequential_store: Store
) -> None:
    store = Store(tmp_path)
    with open_executor(2) as engine:
        assert engine.kind == "process-pool" and engine.workers == 2
        # a run failing in a worker process is recorded; the others finish
        rep = run_batch([_bad_task(), *tasks], engine.executor, store, progress=False)
    assert (rep.done, rep.failed) == (len(tasks), 1), rep.failures
    assert "slot_cost_hkd_m" in store.runs[_bad_task().key]["error"]
    _assert_same_store(sequential_store, store, tasks)


def test_dask_local_cluster_gives_identical_results(
    tmp_path: Path, tasks: list[Task], sequential_store: Store
) -> None:
    pytest.importorskip("distributed")
    store = Store(tmp_path)
    with open_executor(2, dask=True) as engine:
        assert engine.kind == "dask-local" and engine.workers == 2
        rep = run_batch(tasks, engine.executor, store, progress=False)
    assert rep.done == len(tasks) and rep.failed == 0, rep.failures
    _assert_same_store(sequential_store, store, tasks)


def test_dask_scheduler_address_joins_a_running_cluster(
    tmp_path: Path, tasks: list[Task], sequential_store: Store
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        store = Store(tmp_path)
        with open_executor(scheduler=cluster.scheduler_address) as engine:
            assert engine.kind == "dask-scheduler" and engine.workers == 2
            rep = run_batch(tasks, engine.executor, store, progress=False)
    assert rep.done == len(tasks) and rep.failed == 0, rep.failures
    _assert_same_store(sequential_store, store, tasks)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"jobs": 0}, "--jobs must be a positive integer"),
        ({"dask": True, "scheduler": "tcp://127.0.0.1:1"}, "exclude each other"),
        ({"jobs": 2, "scheduler": "tcp://127.0.0.1:1"}, "--jobs cannot be used"),
        ({"scheduler": "127.0.0.1:1"}, "tcp://HOST:PORT"),
    ],
)
def test_executor_options_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ExecutorError, match=message):
        with open_executor(**kwargs):
            pass


# ------------------------------------------------------- failures and resume
def _bad_task() -> Task:
    spec = tiny_specs()[0].model_dump(mode="json")
    spec["platform"]["slot_cost_hkd_m"] = -1.0  # invalid on the worker: the run raises
    return Task(spec, "0" * 16, 5)


def test_failing_run_is_recorded_and_others_finish(tmp_path: Path, tasks: list[Task]) -> None:
    batch = [tasks[0], _bad_task(), *tasks[1:]]
    store = Store(tmp_path)
    rep = run_batch(batch, SequentialExecutor(), store, progress=False)
    assert (rep.done, rep.failed) == (len(tasks), 1)
    bad = json.loads(store.manifest_path.read_text())["runs"][_bad_task().key]
    assert bad["status"] == "failed" and "slot_cost_hkd_m" in bad["error"]
    assert "Traceback" in bad["traceback"] and bad["attempts"] == 1
    # resume: finished runs are skipped, the failed one is retried (and fails again)
    rep2 = run_batch(batch, SequentialExecutor(), store, progress=False)
    assert (rep2.skipped, rep2.done, rep2.failed) == (len(tasks), 0, 1)
    assert store.runs[_bad_task().key]["attempts"] == 2


def test_worker_errors_are_caught_on_the_worker() -> None:
    out = execute(_bad_task())
    assert out["ok"] is False and "ScenarioError" in out["error"]


def test_resume_after_interrupt(tmp_path: Path, tasks: list[Task]) -> None:
    calls = {"n": 0}

    def flaky(task: Task) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the user presses Ctrl-C during the third run
        return execute(task)

    store = Store(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run_batch(tasks, SequentialExecutor(), store, progress=False, fn=flaky)
    reopened = Store(tmp_path)  # what a new process sees
    done = [k for k, e in reopened.runs.items() if e["status"] == "done"]
    assert len(done) == 2
    rep = run_batch(tasks, SequentialExecutor(), reopened, progress=False)
    assert (rep.skipped, rep.done, rep.failed) == (2, len(tasks) - 2, 0)


def test_part_file_without_manifest_entry_is_adopted(
    tmp_path: Path, sequential_store: Store, tasks: list[Task]
) -> None:
    # a kill between writing a part file and the manifest: the part file still counts
    t = tasks[0]
    (tmp_path / "runs").mkdir()
    os.link(sequential_store.part_path(t.key), tmp_path / "runs" / f"{t.key}.parquet")
    store = Store(tmp_path)
    assert store.is_done(t.key)
    assert store.runs[t.key]["status"] == "done" and "adopted" in store.runs[t.key]["note"]
    # ... but not when the model code that made it differs
    assert not Store(tmp_path).is_done(t.key, code="another-model")


def test_runs_of_other_model_code_are_rerun(tmp_path: Path, tasks: list[Task]) -> None:
    store = Store(tmp_path)
    run_batch(tasks[:1], SequentialExecutor(), store, progress=False)
    store.runs[tasks[0].key]["code"] = "older-model-code"
    rep = run_batch(tasks[:1], SequentialExecutor(), store, progress=False)
    assert (rep.skipped, rep.done) == (0, 1)
    assert store.runs[tasks[0].key]["code"] == code_fingerprint()


def test_bad_manifest_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="manifest.json: not a readable manifest"):
        Store(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not 'pilotsim-batch/1'"):
        Store(tmp_path)


def test_killed_batch_loses_no_finished_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL a real `pilotsim compare` mid-batch; rerunning reuses every stored run."""
    out = tmp_path / "killed"
    args = [
        "compare", "--seeds", "5", "--scale", "0.05", "--until", "2027", "--jobs", "1",
        "--no-progress", "--no-figures", "--no-attribution", "--out", str(out),
    ]  # fmt: skip
    cmd = [sys.executable, "-m", "sim.cli", *args]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    manifest = out / "manifest.json"
    deadline = time.monotonic() + 60
    done: list[str] = []
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists():
            runs = json.loads(manifest.read_text())["runs"]
            done = [k for k, e in runs.items() if e["status"] == "done"]
            if len(done) >= 2:
                break
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"batch ended before it could be killed: {proc.stderr.read().decode()}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(out)
    survived = [k for k, e in store.runs.items() if e["status"] == "done"]
    assert 2 <= len(done) <= len(survived) < 10
    for k in survived:  # every recorded run is whole and readable
        assert len(pd.read_parquet(store.part_path(k))) == (2027 - 2015 + 1) * 4
    from sim.cli import main

    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"10 runs: {10 - len(survived)} run now, {len(survived)} already")


# --------------------------------------------------------- paired differences
def test_paired_differences_are_zero_before_the_policy(sequential_store: Store) -> None:
    specs = tiny_specs()
    seeds = replicate_seeds(7, 2)
    runs = [
        {"label": s.name, "replicate": i, "seed": seed, "key": Task.of(s, seed).key}
        for s in specs
        for i, seed in enumerate(seeds)
    ]
    panel = panel_from_frames(sequential_store.load(r["key"] for r in runs), runs)
    before = summarise(panel, "baseline", ["hk_pilot_platform"], years=(2024,), period=(2020, 2024))
    ratios = [o.name for o in OUTCOMES if o.kind in ("per_dollar", "policy_share")]
    numeric = before[~before["outcome"].isin(ratios)]  # ratios of zero differences: NaN
    assert (numeric["diff_mean"] == 0).all() and (numeric["n_pairs"] == 2).all()
    after = summarise(panel, "baseline", ["hk_pilot_platform"], years=(2026,), period=(2025, 2026))
    spend = after[(after["outcome"] == "public_spend_hkd_m") & (after["period"] == "2026")]
    assert spend["diff_mean"].iloc[0] > 0
