"""Batches of runs on any ``concurrent.futures.Executor``, stored as they finish.

A run is the pure function :func:`run_one` (scenario, seed) -> quarterly frame. A batch is a
list of :class:`Task` (a validated scenario as plain data, its hash, a seed) given to
:func:`run_batch` with an executor: sequential, a process pool or a Dask ``distributed``
client (see :mod:`sim.experiments.executors`). Workers only compute; the calling process
writes each result to the :class:`~sim.experiments.store.Store` as soon as it arrives, so
workers need no shared disk and whichever executor ran a batch, the stored runs are
identical.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.experiments.store import Store, code_fingerprint, run_key
from sim.params import Scenario
from sim.scenario import ScenarioError, scenario_hash, validate


@dataclass(frozen=True)
class Task:
    """One run to do: a scenario (as validated plain data) and a seed.

    Attributes:
        spec: ``Scenario.model_dump(mode="json")``: plain data, picklable and portable to
            workers on other machines.
        scenario_hash: ``sim.scenario.scenario_hash`` of the scenario (checked by the worker).
        seed: the run's root seed.
    """

    spec: dict[str, Any]
    scenario_hash: str
    seed: int

    @property
    def key(self) -> str:
        return run_key(self.scenario_hash, self.seed)

    @classmethod
    def of(cls, spec: Scenario, seed: int) -> Task:
        return cls(spec.model_dump(mode="json"), scenario_hash(spec), int(seed))


def make_tasks(specs: Iterable[Scenario], seeds: Sequence[int]) -> list[Task]:
    """Every scenario with every seed, without duplicates (identical scenarios run once)."""
    tasks: dict[str, Task] = {}
    for spec in specs:
        for seed in seeds:
            t = Task.of(spec, seed)
            tasks.setdefault(t.key, t)
    return list(tasks.values())


def run_one(
    spec: Scenario | Mapping[str, Any] | str,
    seed: int,
    *,
    scale: float | None = None,
    until: int | None = None,
) -> pd.DataFrame:
    """One run: its quarterly frame (columns as ``sim.metrics``; money HKD m, full economy).

    Args:
        spec: a ``Scenario``, the plain data of one, or a YAML path / scenario name.
        seed: root seed of the run.
        scale: population scale (overrides ``run.scale``).
        until: last simulated year (overrides ``run.end_year``).

    Returns:
        The quarterly frame with two identity columns in front: ``scenario_hash``, ``seed``.
        Annual figures follow from it with ``sim.metrics.annual``.
    """
    import sim

    if isinstance(spec, Mapping):
        spec = validate(spec, "<batch task>")
    result = sim.run(spec, seed=seed, scale=scale, until=until)
    q = result.quarterly
    q.insert(0, "seed", int(seed))
    q.insert(0, "scenario_hash", result.scenario_hash)
    return q


def execute(task: Task) -> dict[str, Any]:
    """Worker side of a batch: run a task, never raise; report the error instead.

    Returns:
        ``{"ok": True, "frame", "seconds", "code"}`` or
        ``{"ok": False, "error", "traceback", "seconds", "code"}``.
    """
    t0 = time.perf_counter()
    code = code_fingerprint()
    try:
        spec = validate(task.spec, "<batch task>")
        got = scenario_hash(spec)
        if got != task.scenario_hash:
            raise ScenarioError(
                "<batch task>",
                f"scenario hash {got} on the worker differs from {task.scenario_hash} "
                "on the client: the worker runs another version of pilotsim",
            )
        frame = run_one(spec, task.seed)
        return {"ok": True, "frame": frame, "seconds": time.perf_counter() - t0, "code": code}
    except Exception as e:  # a failing run is recorded, never fatal to the batch
        return {
            "ok": False,
            "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
            "seconds": time.perf_counter() - t0,
            "code": code,
        }


def warm_up(seconds: float = 0.0) -> str:
    """A no-op task that makes a worker import the model (and wait ``seconds``).

    Returns:
        The worker's model code fingerprint (compare with ``store.code_fingerprint()``).
    """
    time.sleep(seconds)
    return code_fingerprint()


@dataclass
class BatchReport:
    """What a call of :func:`run_batch` did (counts of runs; seconds of wall time)."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ran(self) -> int:
        return self.done + self.failed


def parallelism(executor: Executor) -> int:
    """How many runs ``executor`` can do at once (1 if unknown)."""
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # scheduler unreachable: let submit report it
            return 1
    n = getattr(executor, "_max_workers", None)
    return int(n) if isinstance(n, int) and n > 0 else 1


def _info(task: Task, result: Mapping[str, Any] | None) -> dict[str, Any]:
    info: dict[str, Any] = {"scenario_hash": task.scenario_hash, "seed": task.seed}
    if result is not None:
        info["code"] = result.get("code")
        info["seconds"] = round(float(result.get("seconds", 0.0)), 4)
    return info


def run_batch(
    tasks: Sequence[Task],
    executor: Executor,
    store: Store,
    *,
    progress: bool = True,
    max_in_flight: int | None = None,
    fn: Callable[[Task], dict[str, Any]] = execute,
) -> BatchReport:
    """Run the tasks not yet stored, writing each to ``store`` as it finishes.

    Runs already stored whole by the same model code are skipped (resume). A run that
    raises, or whose worker dies, is recorded as failed with its error and traceback; the
    others go on. At most ``max_in_flight`` runs are submitted at a time (default: twice the
    executor's parallelism, 1 for a sequential executor), so results stream into the store
    and memory stays flat however large the batch.

    Args:
        tasks: the runs (see :func:`make_tasks`).
        executor: any ``concurrent.futures.Executor``.
        store: where runs are written.
        progress: show a progress bar (runs done, failures, time left) on stderr.
        max_in_flight: cap on submitted but unfinished runs.
        fn: the worker function (``execute``; replaceable for tests).

    Returns:
        Counts of skipped, done and failed runs, and the wall time.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    ours = code_fingerprint()
    todo = [t for t in tasks if not store.is_done(t.key, ours)]  # checks every part file
    report = BatchReport(total=len(tasks), skipped=len(tasks) - len(todo))
    if report.skipped or store.repairs:
        store.save()  # keep adopted entries and what was set aside
    width = parallelism(executor)
    cap = max_in_flight or (1 if width == 1 else 2 * width)
    bar = tqdm(
        total=len(todo),
        desc="runs" + (f" ({report.skipped} already stored)" if report.skipped else ""),
        unit="run",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    bar.set_postfix(failed=0, refresh=False)
    pending: dict[Future[Any], Task] = {}
    queue = iter(todo)

    def fill() -> None:
        while len(pending) < cap:
            task = next(queue, None)
            if task is None:
                return
            try:
                pending[executor.submit(fn, task)] = task
            except Exception as e:  # broken pool, closed client: record, go on
                record(task, None, e)

    def finish(fut: Future[Any], task: Task) -> None:
        try:
            result = fut.result()
        except Exception as e:  # worker died, could not pickle, cluster lost ...
            record(task, None, e)
            return
        record(task, result, None)

    def record(task: Task, result: dict[str, Any] | None, exc: Exception | None) -> None:
        if exc is not None:
            result = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": "".join(traceback.format_exception(exc)),
            }
        assert result is not None
        info = _info(task, result)
        if result.get("ok") and result.get("code") not in (None, ours):
            result = {
                "ok": False,
                "error": f"worker model code {result.get('code')} differs from the "
                f"client's {ours}: install the same pilotsim on every worker",
                "traceback": "",
            }
        if result.get("ok"):
            store.write_run(task.key, result["frame"], info)
            report.done += 1
        else:
            store.record_failure(task.key, info, result["error"], result.get("traceback", ""))
            report.failed += 1
            report.failures[task.key] = result["error"]
        bar.set_postfix(failed=report.failed, refresh=False)
        bar.update(1)

    try:
        fill()
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in finished:
                finish(fut, pending.pop(fut))
            fill()
    except BaseException:
        for fut in pending:
            fut.cancel()
        store.save()
        raise
    finally:
        bar.close()
    if report.ran:
        store.save()  # fold the journal into manifest.json: a finished batch is one file
    report.seconds = time.perf_counter() - t0
    return report
