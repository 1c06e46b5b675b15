"""Batch throughput of the experiments layer: sequential, process pool and Dask, side by side.

Run from the repository root (a few minutes on 2 cores):

    .venv/bin/python benchmarks/bench_batch.py [--runs 40] [--scale 1] [--rounds 2]
                                               [--jobs 2] [--no-compare] [--no-write]

Each measurement runs in a fresh Python process (what a user gets: its own forkserver or
Dask LocalCluster), on the same batch: ``--runs`` runs, half ``baseline`` and half
``hk_pilot_platform`` with paired seeds, at ``--scale`` to 2035, stored into a fresh
Parquet store. Executors are interleaved round by round (seq, pool, dask, seq, pool, dask
...) so that load from other processes hits them alike. On a shared machine other processes
only ever add time, so each executor's figures come from its fastest round (batch time), as
for ``bench_model.py``; the median batch time and the load average before each
measurement are shown too.
For each: the time to start the executor (workers up, the model imported in each), the
batch itself (``run_batch``: submit, run,
store every run) and closing; throughput in runs per minute for the batch and end to end;
bytes stored per run. The stored runs of every executor are checked to be identical
(same digest). Then the default ``pilotsim compare`` is timed end to end (``--no-compare``
skips it). Prints a table and rewrites its section of ``docs/performance.md`` (between
``<!-- bench_batch:start -->`` and ``<!-- bench_batch:end -->``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench_batch:start -->", "<!-- bench_batch:end -->"
KINDS = ("sequential", "process-pool", "dask-local")
GOAL_BATCH_OVERHEAD = 0.05  # issue 13: store, pickling, Parquet and progress within 5% of run time
GOAL_DASK_OVERHEAD = 0.10  # Dask batch time at most 10% above the process pool's
GOAL_COMPARE_S = 300.0  # default `pilotsim compare`: a few minutes on 2 cores


def child(kind: str, runs: int, scale: float, jobs: int) -> dict[str, Any]:
    """One measurement in this (fresh) process; returns its timings as a dict."""
    from sim.experiments.executors import open_executor
    from sim.experiments.runner import make_tasks, run_batch, warm_up
    from sim.experiments.seeds import replicate_seeds
    from sim.experiments.store import Store, code_fingerprint
    from sim.scenario import load_scenario

    over = {"run.scale": scale, "run.end_year": 2035}
    specs = [load_scenario(n, over) for n in ("baseline", "hk_pilot_platform")]
    tasks = make_tasks(specs, replicate_seeds(2026, runs // 2))
    opts = {"sequential": {"jobs": 1}, "process-pool": {"jobs": jobs}}.get(
        kind, {"jobs": jobs, "dask": True}
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        t0 = time.perf_counter()
        with open_executor(**opts) as engine:
            # start = workers up and the model imported in each (pools start lazily)
            warm = [engine.executor.submit(warm_up, 0.2) for _ in range(2 * engine.workers)]
            if {f.result() for f in warm} != {code_fingerprint()}:
                raise SystemExit(f"{kind}: workers run other model code")
            t1 = time.perf_counter()
            rep = run_batch(tasks, engine.executor, store, progress=True)  # its cost counts
            t2 = time.perf_counter()
        t3 = time.perf_counter()
        if rep.failed:
            raise SystemExit(f"{kind}: {rep.failed} runs failed: {rep.failures}")
        h = hashlib.sha256()
        frames = store.load(sorted(t.key for t in tasks))
        for key in sorted(frames):
            h.update(key.encode())
            h.update(frames[key].to_csv(index=False).encode())
        sizes = [store.part_path(t.key).stat().st_size for t in tasks]
        return {
            "kind": kind,
            "engine": engine.description,
            "runs": len(tasks),
            "start_s": t1 - t0,
            "batch_s": t2 - t1,
            "workers": engine.workers,
            "close_s": t3 - t2,
            "bytes_per_run": sum(sizes) / len(sizes),
            "manifest_bytes_per_run": store.manifest_path.stat().st_size / len(tasks),
            "run_s_mean": statistics.mean(e["seconds"] for e in store.runs.values()),
            "digest": h.hexdigest()[:16],
            "rows": len(next(iter(frames.values()))),
            "columns": next(iter(frames.values())).shape[1],
        }


def measure(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    load = _load()
    cmd = [
        sys.executable, __file__, "--child", kind, "--runs", str(args.runs),
        "--scale", str(args.scale), "--jobs", str(args.jobs),
    ]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load": load}


def time_default_compare() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(ROOT / ".venv" / "bin" / "pilotsim"), "compare", "--no-progress", "--out",
               str(Path(tmp) / "cmp")]  # fmt: skip
        if not Path(cmd[0]).exists():
            cmd = [sys.executable, "-m", "sim.cli", *cmd[1:]]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            raise SystemExit(f"pilotsim compare failed:\n{out.stderr}")
        first = out.stdout.splitlines()[0]
    return {"wall_s": wall, "first_line": first}


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _commit() -> str:
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                       capture_output=True, text=True, check=False)  # fmt: skip
    return r.stdout.strip() or "unknown"


def markdown(results: dict[str, list[dict[str, Any]]], cmp: dict[str, Any] | None,
             args: argparse.Namespace, loads: tuple[float, float]) -> str:  # fmt: skip
    from importlib import metadata

    # each executor's fastest round (least disturbed by other processes), and medians
    med = {k: min(rs, key=lambda r: r["batch_s"]) for k, rs in results.items()}
    median_batch = {k: statistics.median(r["batch_s"] for r in rs) for k, rs in results.items()}
    n = results[KINDS[0]][0]["runs"]
    digests = {r["digest"] for rs in results.values() for r in rs}
    vers = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("mesa", "numpy", "pandas", "pyarrow", "distributed")
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Scenario batches: throughput by executor (`benchmarks/bench_batch.py`)",
        "",
        f"Measured {now} on {_cpu()} (nproc {os.cpu_count()}), {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, {vers}; commit {_commit()}.",
        "",
        f"Command: `{shlex.join([Path(sys.executable).name, 'benchmarks/bench_batch.py', *sys.argv[1:]])}`",  # noqa: E501
        "",
        f"Batch: {n} runs (baseline and hk_pilot_platform, {n // 2} paired seeds each), scale "
        f"{args.scale:g}, 2015-2035, each stored as a Parquet part file with the manifest "
        f"rewritten after every run. Each executor measured in a fresh process, interleaved over "
        f"{args.rounds} rounds; each executor's fastest round shown, with the median batch "
        f"time and the 1-min load average before each round's measurement (other processes "
        f"share the 2 cores; {loads[0]:.2f} at start, {loads[1]:.2f} at end). Parallel "
        f"executors use {args.jobs} workers.",
        "",
        "| executor | start s | batch s | close s | runs/min (batch) | runs/min (end to end) "
        "| median batch s | load before rounds |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for k in KINDS:
        m = med[k]
        total = m["start_s"] + m["batch_s"] + m["close_s"]
        lines.append(
            f"| {results[k][0]['engine']} | {m['start_s']:.2f} | {m['batch_s']:.1f} | "
            f"{m['close_s']:.2f} | {60 * n / m['batch_s']:.0f} | {60 * n / total:.0f} | "
            f"{median_batch[k]:.1f} | {', '.join(f'{r["load"]:.1f}' for r in results[k])} |"
        )
    pool, dask = med["process-pool"], med["dask-local"]
    over_batch = dask["batch_s"] / pool["batch_s"] - 1
    pool_total = pool["start_s"] + pool["batch_s"] + pool["close_s"]
    dask_total = dask["start_s"] + dask["batch_s"] + dask["close_s"]
    over_total = dask_total / pool_total - 1
    speedup = med["sequential"]["batch_s"] / pool["batch_s"]

    def overhead(m: dict[str, Any]) -> float:
        """Batch time beyond the runs' own time shared over the workers: storing, pickling,
        Parquet, the progress bar, scheduling and idle workers at the end."""
        return m["batch_s"] * m["workers"] / (m["run_s_mean"] * m["runs"]) - 1

    lines += [
        "",
        f"- Process pool speed-up over sequential: {speedup:.2f}x on {args.jobs} workers "
        f"(mean time of one run inside the batch: sequential "
        f"{med['sequential']['run_s_mean']:.2f} s, pool {pool['run_s_mean']:.2f} s, Dask "
        f"{dask['run_s_mean']:.2f} s).",
        f"- Batch overhead (store, pickling, Parquet, progress bar, scheduling, idle workers "
        f"at the end: batch time x workers / the runs' own time - 1): sequential "
        f"{100 * overhead(med['sequential']):+.1f}%, process pool {100 * overhead(pool):+.1f}%, "
        f"Dask {100 * overhead(dask):+.1f}%.",
        f"- Dask overhead against the process pool: {100 * over_batch:+.1f}% on the batch, "
        f"{100 * over_total:+.1f}% end to end (Dask's cluster start and close included).",
        "- Dask's LocalCluster runs with `sim.experiments.executors.LOCAL_DASK_CONFIG`: with "
        "Dask's default worker settings (`MALLOC_TRIM_THRESHOLD_=65536`, which turns off "
        "glibc's adaptive malloc thresholds, and the 10 ms stack profiler) a model run took "
        "25-35% longer than in a process pool. A cluster joined with `--scheduler` should use "
        "the same worker settings.",
        f"- Bytes stored per run: {med['sequential']['bytes_per_run'] / 1024:.1f} KiB of Parquet "
        f"(zstd; {results[KINDS[0]][0]['rows']} quarterly rows x "
        f"{results[KINDS[0]][0]['columns']} columns of float64 per run) plus "
        f"{med['sequential']['manifest_bytes_per_run']:.0f} bytes of manifest.",
        f"- Stored results identical across executors and rounds: "
        f"{'yes' if len(digests) == 1 else 'NO'} (digest {', '.join(sorted(digests))}).",
    ]
    goals = [
        (f"batch overhead on the process pool <= {100 * GOAL_BATCH_OVERHEAD:.0f}% of run time "
         f"({n} runs)", f"{100 * overhead(pool):+.1f}%", overhead(pool) <= GOAL_BATCH_OVERHEAD),
        ("Dask batch overhead vs process pool <= 10%", f"{100 * over_batch:+.1f}%",
         over_batch <= GOAL_DASK_OVERHEAD),
        ("identical results whichever executor", "yes" if len(digests) == 1 else "no",
         len(digests) == 1),
    ]  # fmt: skip
    if cmp is not None:
        from sim.experiments.workflows import DEFAULT_SEEDS

        lines.append(
            f"- Default `pilotsim compare` (baseline vs hk_pilot_platform, {DEFAULT_SEEDS} "
            "paired seeds, full scale, process pool on all cores, report and figures): "
            f"{cmp['wall_s']:.0f} s end to end, Python start included (`{cmp['first_line']}`)."
        )
        goals.append(
            ("default `pilotsim compare` within a few minutes (<= 300 s)",
             f"{cmp['wall_s']:.0f} s", cmp["wall_s"] <= GOAL_COMPARE_S)
        )  # fmt: skip
    lines += ["", "| goal | measured | |", "|---|---:|---|"]
    lines += [f"| {g} | {v} | {'PASS' if ok else 'MISS'} |" for g, v, ok in goals]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace this benchmark's section of docs/performance.md (create the file if absent)."""
    block = f"{START}\n{text}\n{END}"
    doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        doc = head + block + tail
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    tmp = DOC.with_name(f".{DOC.name}.tmp-{os.getpid()}")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(doc, encoding="utf-8")
    os.replace(tmp, DOC)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=40, help="runs per batch (even; default 40)")
    p.add_argument("--scale", type=float, default=1.0, help="population scale (default 1)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    p.add_argument("--jobs", type=int, default=2, help="workers of pool and Dask (default 2)")
    p.add_argument("--no-compare", action="store_true", help="skip timing pilotsim compare")
    p.add_argument("--no-write", action="store_true", help="do not touch docs/performance.md")
    p.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.runs < 2 or args.runs % 2 or args.rounds < 1 or args.jobs < 1:
        p.error("--runs must be an even number >= 2; --rounds and --jobs positive")
    if args.child:
        print(json.dumps(child(args.child, args.runs, args.scale, args.jobs)))
        return 0
    load0 = _load()
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for r in range(args.rounds):
        for kind in KINDS:
            res = measure(kind, args)
            results[kind].append(res)
            print(
                f"round {r + 1} {kind:13s} start {res['start_s']:5.2f} s  batch "
                f"{res['batch_s']:6.1f} s  close {res['close_s']:4.2f} s  "
                f"{60 * res['runs'] / res['batch_s']:5.0f} runs/min  load before "
                f"{res['load']:.2f}  digest {res['digest']}",
                flush=True,
            )
    cmp = None if args.no_compare else time_default_compare()
    if cmp:
        print(f"default pilotsim compare: {cmp['wall_s']:.0f} s ({cmp['first_line']})")
    text = markdown(results, cmp, args, (load0, _load()))
    print()
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nwrote {DOC.relative_to(ROOT)} (section {START} ... {END})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
