"""Speed and memory of a full-scale pilotsim run, side by side with Mesa's BoltzmannWealth.

Run from the repository root (one core, a few minutes; the toy dominates):

    .venv/bin/python benchmarks/bench_model.py [--repeats N] [--toy-steps K] [--no-write]

Measures, in one process pinned to one core (memory in fresh child processes):
- our full-scale 2015-2035 run (``PilotModel(spec, seed)`` construction + ``run()``), best
  and median of N repeats, for the scenarios baseline and hk_pilot_platform (as loaded from
  ``scenarios/``, so with the calibrated parameters);
- Mesa's ``mesa.examples.BoltzmannWealth`` with as many agents as our model has at start and
  as many steps, at the example's density (100 agents on 10x10: about one agent per cell);
- peak memory of a full-scale run: raw peak RSS of a child that only imports and runs, and
  the tracemalloc peak of Python allocations during the run (another child);
- cost against scale (0.1x, 1x, 3x): time per unit of scale, the log-log slope, and the
  marginal cost per unit of scale from 0.1x to 1x and from 1x to 3x (a run has a fixed
  per-quarter overhead, so linear cost means equal marginal costs, not slope 1 from 0.1x).
Prints the figures and goals with PASS/MISS, then rewrites its own section of
``docs/performance.md`` (between ``<!-- bench_model:start -->`` and ``<!-- bench_model:end -->``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

# One thread per numeric library: set before numpy is imported (here or in a child).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench_model:start -->", "<!-- bench_model:end -->"

# Goals from issue 2, point 11.
GOAL_RATIO = 0.1  # our time / toy time
GOAL_SECONDS = 1.0  # full-scale run, one core
GOAL_PEAK_MB = 500.0  # peak RSS of a full-scale run
GOAL_MARGINAL = 1.25  # linear cost: marginal cost 1x->3x / marginal cost 0.1x->1x at most this
SCALES = (0.1, 1.0, 3.0)

# Peak RSS is read from /proc/self/status VmHWM (this process's own address space). On Linux
# ``ru_maxrss`` is not usable here: exec carries the parent's high-water mark into the child,
# so after this script's toy run it reports the parent's peak. ru_maxrss is the fallback.
CHILD_RSS = """
import json, resource, sys
def peak_kb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), "VmHWM"
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (kb // 1024 if sys.platform == "darwin" else kb), "ru_maxrss"
from sim.model import PilotModel
from sim.scenario import load_scenario
spec = load_scenario("baseline")
rss_import_kb, _ = peak_kb()
m = PilotModel(spec, int(sys.argv[1]))
m.run()
q = m.recorder.quarterly()
rss_peak_kb, source = peak_kb()
maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rss_import_kb": rss_import_kb, "rss_peak_kb": rss_peak_kb,
                  "rss_source": source, "ru_maxrss_kb": maxrss_kb}))
"""

CHILD_TRACEMALLOC = """
import json, sys, tracemalloc
from sim.model import PilotModel
from sim.scenario import load_scenario
spec = load_scenario("baseline")
tracemalloc.start()
m = PilotModel(spec, int(sys.argv[1]))
m.run()
q = m.recorder.quarterly()
current, peak = tracemalloc.get_traced_memory()
print(json.dumps({"traced_peak_b": peak, "traced_end_b": current}))
"""


def pin_one_core() -> int | None:
    """Pin this process (and its future children) to the first allowed CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


class GcClock:
    """Seconds spent in the cyclic garbage collector, and full (generation 2) collections."""

    def __init__(self) -> None:
        self.seconds, self.full, self._t0 = 0.0, 0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0
            self.full += info["generation"] == 2

    def reset(self) -> None:
        self.seconds, self.full = 0.0, 0


GC = GcClock()


def one_ours(spec, seed: int) -> dict:
    """One construction + run of our model: seconds, GC seconds and full collections in it."""
    from sim.model import PilotModel

    gc.collect()
    GC.reset()
    c0, t0 = time.process_time(), time.perf_counter()
    model = PilotModel(spec, seed)
    t_init, c_init = time.perf_counter() - t0, time.process_time() - c0
    n_agents = len(model.agents)  # counted outside the timed regions
    c1, t1 = time.process_time(), time.perf_counter()
    model.run()
    seconds = t_init + time.perf_counter() - t1
    return {
        "s": seconds,
        "cpu_s": c_init + time.process_time() - c1,
        "gc_s": GC.seconds,
        "gc_full": GC.full,
        "agents": n_agents,
        "steps": model.n_quarters,
    }


def one_sim_run(seed: int) -> dict:
    """One public ``sim.run("baseline")`` (adds scenario loading and the output frames)."""
    import sim

    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    sim.run("baseline", seed)
    return {"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


def interleaved(tasks: dict, repeats: int) -> dict[str, list[dict]]:
    """Run each task ``repeats`` times, round-robin, so that machine noise hits all alike."""
    out: dict[str, list[dict]] = {k: [] for k in tasks}
    for _ in range(repeats):
        for k, task in tasks.items():
            out[k].append(task())
    return out


def best(runs: list[dict]) -> dict:
    """The fastest of several runs."""
    return min(runs, key=lambda r: r["s"])


def toy_grid(n_agents: int) -> tuple[int, int]:
    """A square grid with the example's density (100 agents on 10x10)."""
    side = max(1, round(math.sqrt(n_agents)))
    return side, side


def time_toy(n_agents: int, steps: int, toy_steps: int, seed: int) -> dict:
    """Mesa's BoltzmannWealth: construction and ``toy_steps`` steps, extrapolated to ``steps``."""
    from mesa.examples import BoltzmannWealth
    from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario

    width, height = toy_grid(n_agents)
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    toy = BoltzmannWealth(BoltzmannScenario(rng=seed, n=n_agents, width=width, height=height))
    t_init, c_init = time.perf_counter() - t0, time.process_time() - c0
    assert len(toy.agents) == n_agents
    c1, t1 = time.process_time(), time.perf_counter()
    for _ in range(toy_steps):
        toy.step()
    t_steps, c_steps = time.perf_counter() - t1, time.process_time() - c1
    per_step = t_steps / toy_steps
    total = t_init + per_step * steps
    return {
        "cpu_s": c_init + c_steps / toy_steps * steps,
        "width": width,
        "height": height,
        "init_s": t_init,
        "steps_run": toy_steps,
        "per_step_s": per_step,
        "total_s": total,
        "extrapolated": toy_steps != steps,
        "gini_end": toy.gini,
    }


def child(code: str, seed: int) -> dict:
    """Run ``code`` in a fresh interpreter (same env, same core) and parse its JSON line."""
    out = subprocess.run(
        [sys.executable, "-c", code, str(seed)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def scale_series(seed: int, repeats: int) -> list[dict]:
    """Best run at each scale (agents at start, seconds, GC) and time per unit of scale."""
    from sim.scenario import load_scenario, with_overrides

    base = load_scenario("baseline")
    specs = {s: with_overrides(base, {"run.scale": s}) for s in SCALES}
    runs = interleaved({s: (lambda sp=sp: one_ours(sp, seed)) for s, sp in specs.items()}, repeats)
    rows = [{"scale": s, **best(runs[s])} for s in SCALES]
    t1 = next(r["s"] for r in rows if r["scale"] == 1.0)
    for r in rows:
        r["per_scale_rel"] = (r["s"] / r["scale"]) / t1
    return rows


def loglog_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) on log(x)."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def machine() -> dict:
    """CPU model, core counts, versions and git commit."""
    import mesa
    import pandas

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "sim", "scenarios"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += " with uncommitted changes in sim/ or scenarios/"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "mesa": mesa.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "os": f"{platform.system()} {platform.release()}",
        "commit": commit,
    }


def load_1min() -> str:
    """The 1-minute load average (the machine may be shared), or "n/a"."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(r: dict) -> str:
    """The figures and goals as Markdown (printed and written to docs/performance.md)."""
    m, toy, mem = r["machine"], r["toy"], r["memory"]
    base, plat = r["baseline"], r["platform"]
    lines = [
        f"Measured {r['date']} on {m['cpu']} (nproc {m['nproc']}, pinned to cpu "
        f"{r['cpu']}), {m['os']}; Python {m['python']}, Mesa {m['mesa']}, numpy {m['numpy']}, "
        f"pandas {m['pandas']}; commit {m['commit']}.",
        "",
        f"Command: `{r['command']}`",
        "",
        f"Full scale, 2015-2035: {r['agents']:,} Mesa agents at start, {r['steps']} steps "
        f"(quarters); {r['repeats']} repeats each. Goals use the best of the repeats; the "
        f"median shows the noise (1-min load average {r['load'][0]} at start, {r['load'][1]} at "
        "end, counting this benchmark).",
        "",
        "| run | best s | median s | best CPU s |",
        "|---|---:|---:|---:|",
        f"| pilotsim `baseline` scenario, construction + run | {min(base):.3f} | "
        f"{statistics.median(base):.3f} | {r['baseline_cpu']:.3f} |",
        f"| pilotsim `hk_pilot_platform` scenario, construction + run | {min(plat):.3f} | "
        f"{statistics.median(plat):.3f} | {r['platform_cpu']:.3f} |",
        f'| `sim.run("baseline")` (adds scenario loading and output frames) | '
        f"{min(r['sim_run']):.3f} | {statistics.median(r['sim_run']):.3f} | "
        f"{r['sim_run_cpu']:.3f} |",
        f"| Mesa BoltzmannWealth, {r['agents']:,} agents on {toy['width']}x{toy['height']}, "
        f"{r['steps']} steps (1 run) | {toy['total_s']:.2f} | | {toy['cpu_s']:.2f} |",
        "",
        "Seconds are wall-clock time; CPU s is this process's CPU time (`time.process_time`), "
        "which leaves out time the core spent on other processes. They differ when the "
        "machine is busy: the goals use wall-clock time.",
        "",
    ]
    if toy["extrapolated"]:
        lines += [
            f"The toy ran {toy['steps_run']} of {r['steps']} steps; its time is EXTRAPOLATED: "
            f"construction {toy['init_s']:.2f} s + {r['steps']} x {toy['per_step_s']:.3f} s "
            "per step measured.",
            "",
        ]
    else:
        lines += [
            f"Toy: construction {toy['init_s']:.2f} s, {toy['per_step_s']:.3f} s per step.",
            "",
        ]
    lines += [
        "Peak memory of one full-scale baseline run (fresh child process, run + output frames):",
        "",
        f"- raw peak RSS ({mem['rss_source']} of the child): {mem['rss_peak_kb'] / 1024:.0f} MB,"
        f" of which {mem['rss_import_kb'] / 1024:.0f} MB already after importing Python, "
        "numpy, pandas, mesa and sim;",
        f"- tracemalloc peak of Python allocations during the run: "
        f"{mem['traced_peak_b'] / 2**20:.0f} MB.",
        "",
    ]
    if mem["rss_source"] == "VmHWM":
        lines += [
            f"(The child's `ru_maxrss` reads {mem['ru_maxrss_kb'] / 1024:.0f} MB: Linux carries "
            "the parent's high-water mark across exec, so it is not the child's own peak.)",
            "",
        ]
    lines += [
        "Cost against scale (baseline, best of repeats; time per unit of scale relative to 1x):",
        "",
        "| scale | agents at start | best s | of which GC s (full collections) "
        "| (s / scale) / (s at 1x) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in r["scales"]:
        lines.append(
            f"| {row['scale']:g} | {row['agents']:,} | {row['s']:.3f} | "
            f"{row['gc_s']:.3f} ({row['gc_full']}) | {row['per_scale_rel']:.2f} |"
        )
    lines += [
        "",
        f"Log-log slope of time on scale: {r['slope_all']:.2f} over 0.1x-3x, "
        f"{r['slope_13']:.2f} from 1x to 3x (below 1 at small scale: a fixed per-run overhead). "
        f"Marginal cost per unit of scale: {r['marginal'][0]:.3f} s from 0.1x to 1x, "
        f"{r['marginal'][1]:.3f} s from 1x to 3x (ratio {r['marginal_ratio']:.2f}; 1 = linear).",
        "",
        "GC: seconds in Python's cyclic garbage collector during the best run (gc.callbacks); "
        "a full collection scans every live object, so its cost grows with scale.",
        "",
        "| goal | measured | |",
        "|---|---:|---|",
    ]
    for name, value, ok in r["goals"]:
        lines.append(f"| {name} | {value} | {verdict(ok)} |")
    return "\n".join(lines) + "\n"


def write_doc(section: str) -> None:
    """Replace this script's marked section of docs/performance.md, keeping the rest."""
    title = "## Model run: speed and memory (`benchmarks/bench_model.py`)"
    block = f"{START}\n{title}\n\n{section}{END}"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="repeats of our runs (default 7)")
    ap.add_argument(
        "--toy-steps",
        type=int,
        default=None,
        help="run the toy for only this many steps and extrapolate (default: all)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/performance.md")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    cpu = pin_one_core()
    sys.path.insert(0, str(ROOT))
    from sim.scenario import load_scenario

    r: dict = {"cpu": cpu, "repeats": args.repeats, "machine": machine()}
    r["date"] = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    r["command"] = ".venv/bin/python benchmarks/bench_model.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    r["command"] = r["command"].strip()
    r["load"] = [load_1min()]
    print(f"pinned to cpu {cpu}; {r['machine']['cpu']}, nproc {r['machine']['nproc']}")

    print("timing pilotsim: baseline, hk_pilot_platform, sim.run (interleaved) ...", flush=True)
    base, plat = load_scenario("baseline"), load_scenario("hk_pilot_platform")
    runs = interleaved(
        {
            "baseline": lambda: one_ours(base, args.seed),
            "platform": lambda: one_ours(plat, args.seed),
            "sim_run": lambda: one_sim_run(args.seed),
        },
        args.repeats,
    )
    for k, v in runs.items():
        r[k] = [x["s"] for x in v]
        r[k + "_cpu"] = min(x["cpu_s"] for x in v)
    r["agents"], r["steps"] = runs["baseline"][0]["agents"], runs["baseline"][0]["steps"]

    print("cost against scale ...", flush=True)
    r["scales"] = scale_series(args.seed, args.repeats)
    xs = [row["scale"] for row in r["scales"]]
    ys = [row["s"] for row in r["scales"]]
    r["slope_all"] = loglog_slope(xs, ys)
    r["slope_13"] = loglog_slope(xs[1:], ys[1:])
    r["marginal"] = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(len(xs) - 1)]
    r["marginal_ratio"] = r["marginal"][1] / r["marginal"][0]

    print("peak memory in child processes ...", flush=True)
    r["memory"] = child(CHILD_RSS, args.seed) | child(CHILD_TRACEMALLOC, args.seed)

    # The toy runs last: Mesa's example model stays alive after use (something in Mesa keeps
    # a reference), and its ~400k objects would slow every later full garbage collection.
    toy_steps = min(args.toy_steps or r["steps"], r["steps"])
    print(
        f"timing Mesa BoltzmannWealth: {r['agents']:,} agents, {toy_steps} of {r['steps']} "
        "steps (about a minute) ...",
        flush=True,
    )
    r["toy"] = time_toy(r["agents"], r["steps"], toy_steps, args.seed)

    r["load"].append(load_1min())
    ours_best = min(r["baseline"])
    ratio = ours_best / r["toy"]["total_s"]
    peak_mb = r["memory"]["rss_peak_kb"] / 1024
    toy_note = "; toy extrapolated" if r["toy"]["extrapolated"] else ""
    r["goals"] = [
        (
            f"time ratio ours / toy <= {GOAL_RATIO} (best of ours{toy_note})",
            f"{ratio:.3f} (toy {1 / ratio:.0f}x slower)",
            ratio <= GOAL_RATIO,
        ),
        (
            f"full-scale run <= {GOAL_SECONDS:g} s on one core (best of {args.repeats})",
            f"{ours_best:.3f} s",
            ours_best <= GOAL_SECONDS,
        ),
        (f"peak RSS <= {GOAL_PEAK_MB:.0f} MB", f"{peak_mb:.0f} MB", peak_mb <= GOAL_PEAK_MB),
        (
            f"linear cost: marginal cost 1x->3x / 0.1x->1x <= {GOAL_MARGINAL}",
            f"{r['marginal_ratio']:.2f}",
            r["marginal_ratio"] <= GOAL_MARGINAL,
        ),
    ]

    section = report(r)
    print()
    print(section)
    if not args.no_write:
        write_doc(section)
        print(f"wrote its section of {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
