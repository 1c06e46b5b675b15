"""Executors for batches: sequential, a local process pool, or Dask ``distributed``.

All three are ``concurrent.futures.Executor`` objects, so :func:`~sim.experiments.runner.
run_batch` treats them alike. Dask is the engine that scales past one machine: ``dask=True``
starts a ``LocalCluster`` of single-threaded worker processes on this machine, and
``scheduler="tcp://HOST:PORT"`` joins an existing cluster (every worker needs the same
pilotsim installed; a worker with other model code is detected and its runs recorded as
failed). Dask's own futures are wrapped by ``Client.get_executor()`` into standard
``concurrent.futures`` futures.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sim.errors import ExecutorError

FORKSERVER = "forkserver"
#: assumption: a terminated worker running pure Python ends within milliseconds; 5 s covers
#: a loaded machine before the next, harder step (SIGKILL, then giving up on the thread).
WORKER_EXIT_SECONDS = 5.0
MP_METHOD = "distributed.worker.multiprocessing-method"
#: Settings of the workers of ``--dask``, for pure-Python CPU-bound tasks like a model run:
#:
#: - Dask sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers (to return memory to the OS
#:   sooner); that also turns off glibc's adaptive malloc thresholds, and a model run, which
#:   allocates many short-lived numpy arrays, then takes 25-35% longer (measured here: 1.26
#:   and 1.43 s against 1.02 and 1.06 s per full-scale run). The workers keep Dask's other
#:   pre-spawn settings (one BLAS/OpenMP thread);
#: - the statistical profiler samples the task's stack every 10 ms under the GIL: off;
#:   the event loop ticks every 100 ms instead of 20 ms, checks memory every 1 s and
#:   samples system metrics every 2 s: less CPU taken from the runs on a small machine.
#:
#: A cluster joined with ``--scheduler`` keeps its own settings: set these on its workers.
LOCAL_DASK_CONFIG: dict[str, object] = {
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1,
        "MKL_NUM_THREADS": 1,
        "OPENBLAS_NUM_THREADS": 1,
    },
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "100ms",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


class SequentialExecutor(Executor):
    """Runs each submitted call at once in this process (``--jobs 1``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        fut.set_running_or_notify_cancel()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as e:  # KeyboardInterrupt and SystemExit propagate
            fut.set_exception(e)
        return fut


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class Engine:
    """An open executor and how it was made.

    Attributes:
        executor: the ``concurrent.futures.Executor``.
        kind: ``sequential``, ``process-pool``, ``dask-local`` or ``dask-scheduler``.
        workers: runs it can do at once.
        description: one line for logs and reports.
    """

    executor: Executor
    kind: str
    workers: int
    description: str


def die_with(pid: int) -> None:
    """Worker initializer: end this worker process as soon as process ``pid`` ends.

    ``pid`` is the process that made the pool. A pool's workers otherwise outlive a
    SIGKILLed parent: they wait forever for work on a queue whose ends they hold
    themselves, and keep the forkserver and the resource tracker alive with them. A daemon
    thread waits on a pidfd of ``pid`` (Linux >= 5.3) or polls it every half second, and
    ends the worker with ``os._exit``; the forkserver and the resource tracker then see
    their last client gone and exit too. Where available, ``PR_SET_PDEATHSIG`` also kills
    a worker whose direct parent (``pid`` or the forkserver) dies.
    """
    _set_pdeathsig()
    try:
        fd: int | None = os.pidfd_open(pid)
    except ProcessLookupError:  # already gone
        os._exit(1)
    except (AttributeError, OSError):
        fd = None

    def watch() -> None:
        if fd is not None:
            select.select([fd], [], [])  # readable when the process has ended
        else:
            while _alive(pid):
                time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="pilotsim-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _set_pdeathsig() -> None:
    """Ask Linux to SIGKILL this process when its parent ends (no-op elsewhere)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While a batch runs, SIGTERM interrupts it like Ctrl-C (``KeyboardInterrupt``), so
    the pool is shut down, its queues and semaphores released, and stored runs kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _process_context() -> multiprocessing.context.BaseContext:
    """Worker processes forked from a clean server that has imported the model once.

    ``forkserver`` (Python 3.14's default on POSIX) never forks a process with threads
    (tqdm, Dask), and preloading the runner makes a new pool start in milliseconds instead
    of importing mesa, pandas and scipy in every worker.
    """
    if FORKSERVER not in multiprocessing.get_all_start_methods():  # Windows
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context(FORKSERVER)
    ctx.set_forkserver_preload(["sim.experiments.runner", "sim.experiments.executors"])
    return ctx


@contextmanager
def open_executor(
    jobs: int | None = None, *, dask: bool = False, scheduler: str | None = None
) -> Iterator[Engine]:
    """Make an executor from the ``--jobs/--dask/--scheduler`` options; close it after.

    Args:
        jobs: parallel runs (default: every available core). ``1`` without Dask runs in
            this process. With ``dask=True`` the number of local Dask workers.
        dask: start a Dask ``LocalCluster`` (one thread per worker process).
        scheduler: address of a running Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.

    Raises:
        ExecutorError: conflicting options, Dask not installed, scheduler unreachable.
    """
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ExecutorError(f"--jobs must be a positive integer, got {jobs!r}")
    if dask and scheduler:
        raise ExecutorError("--dask and --scheduler exclude each other: choose one")
    if scheduler and jobs is not None:
        raise ExecutorError("--jobs cannot be used with --scheduler: the cluster's workers decide")
    if dask or scheduler:
        with _dask_engine(jobs or available_cores(), scheduler) as engine, _sigterm_interrupts():
            yield engine
        return
    n = jobs or available_cores()
    if n == 1:
        with _sigterm_interrupts():
            yield Engine(SequentialExecutor(), "sequential", 1, "sequential (1 process)")
        return
    pool = ProcessPoolExecutor(
        max_workers=n,
        mp_context=_process_context(),
        initializer=die_with,
        initargs=(os.getpid(),),
    )
    try:
        with _sigterm_interrupts():
            yield Engine(pool, "process-pool", n, f"process pool ({n} workers)")
    except BaseException:  # Ctrl-C, SIGTERM or an error: stop the workers, do not wait
        _terminate(pool)
        raise
    pool.shutdown(wait=True, cancel_futures=True)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Cancel queued work, end the worker processes now, and wait for the pool's thread.

    ``shutdown(wait=True)`` can hang after Ctrl-C has also interrupted the workers; runs
    already stored are safe, the others are simply redone on resume.

    A worker ended while it was writing a result leaves half a message in the result pipe,
    and the pool's manager thread then waits for the rest forever: Python joins that thread
    at exit, so the process would never end (CPython 3.12; ``terminate_workers()`` arrives
    only in 3.14). Once no worker is left, closing this process's copy of the pipe's write
    end gives the reader end-of-file: the manager thread marks the pool broken and ends.
    CPython keeps these handles in private attributes; each is looked up defensively.
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())
    results = getattr(pool, "_result_queue", None)  # cleared by shutdown(): read it first
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=WORKER_EXIT_SECONDS)
        if p.is_alive():  # ignored SIGTERM
            p.kill()
            p.join(timeout=WORKER_EXIT_SECONDS)
    writer = getattr(results, "_writer", None)
    if writer is not None and not any(p.is_alive() for p in procs):
        writer.close()
    if manager is not None:
        manager.join(timeout=WORKER_EXIT_SECONDS)


@contextmanager
def _dask_engine(jobs: int, scheduler: str | None) -> Iterator[Engine]:
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ExecutorError(
            "--dask/--scheduler need Dask distributed: pip install -e '.[dask]' "
            "(scripts/dev.sh installs it)"
        ) from None
    cluster = None
    try:
        if scheduler:
            if "://" not in scheduler:
                raise ExecutorError(
                    f"--scheduler expects an address like tcp://HOST:PORT, got {scheduler!r}"
                )
            try:
                client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as e:
                raise ExecutorError(
                    f"--scheduler {scheduler}: cannot connect ({type(e).__name__}: {e})"
                ) from None
            kind, what = "dask-scheduler", f"Dask cluster at {scheduler}"
        else:
            method = FORKSERVER if FORKSERVER in multiprocessing.get_all_start_methods() else None
            with dask.config.set(LOCAL_DASK_CONFIG | {MP_METHOD: method or "spawn"}):
                cluster = LocalCluster(
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            client = Client(cluster)
            kind, what = "dask-local", f"Dask LocalCluster ({jobs} worker processes)"
        try:
            workers = max(1, sum(client.nthreads().values()))
            executor = client.get_executor(pure=False)
            yield Engine(executor, kind, workers, f"{what}, {workers} threads")
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
