"""Speed and memory of a full-scale pilotsim run, side by side with Mesa's BoltzmannWealth.

Run from the repository root (one core, a few minutes; the toy dominates):

    .venv/bin/python benchmarks/bench_model.py [--repeats N] [--toy-steps K] [--no-write]
    .venv/bin/python benchmarks/bench_model.py --scale-only   # GC and scale section only

Measures, in one process pinned to one core (memory in fresh child processes):
- our full-scale 2015-2035 run (``PilotModel(spec, seed)`` construction + ``run()``), best
  and median of N repeats, for the scenarios baseline and hk_pilot_platform (as loaded from
  ``scenarios/``, so with the calibrated parameters);
- Mesa's ``mesa.examples.BoltzmannWealth`` with as many agents as our model has at start and
  as many steps, at the example's density (100 agents on 10x10: about one agent per cell);
- the same toy's rules with its state in numpy arrays (``array_toy``), to show what the
  goal's budget (0.01 of the Mesa toy) leaves for a whole economy;
- peak memory of a run at 1x and 3x, with plain GC and with ``sim.run``'s GC pause: raw
  peak RSS of a child that only imports and runs, and the tracemalloc peak of Python
  allocations during the run (another child);
- cost against scale (0.1x, 1x, 2x, 3x), side by side with plain GC (``sim.run._simulate``,
  the behaviour before the pause) and with ``sim.run``'s pause of the cyclic collector,
  interleaved: best and median time, GC seconds, the log-log slope,
  and the marginal cost per unit of scale between consecutive scales (a run has a fixed
  per-quarter overhead, so linear cost means equal marginal costs, not slope 1; the goal
  compares 2x->3x with 1x->2x);
- a leak check: 5 small runs in this process, then live models and agents and the GC state.
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

# Goals from issue 13, points 1 and 3 (issue 2's were 0.1, 1 s, 500 MB and 1.25 from 0.1x).
GOAL_RATIO = 0.01  # our CPU time / toy CPU time, baseline
GOAL_PLATFORM = 1.10  # platform scenario's CPU time / baseline's
GOAL_SECONDS = 1.0  # full-scale run, one core (issue 2; kept as information)
GOAL_PEAK_MB = 250.0  # peak RSS of a full-scale run
GOAL_MARGINAL = 1.2  # linear cost: marginal cost 2x->3x / marginal cost 1x->2x at most this
SCALES = (0.1, 1.0, 2.0, 3.0)
MEMORY_SCALES = (1.0, 3.0)
GC_MODES = ("plain", "paused")  # sim.run._simulate bare (the old sim.run), and sim.run
LEAK_RUNS, LEAK_RUN = 5, {"scale": 0.05, "until": 2020}

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
import importlib
run_module = importlib.import_module("sim.run")
seed, mode, scale = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
spec = run_module.resolve("baseline", **{"run.scale": scale})
rss_import_kb, _ = peak_kb()
result = (run_module.run if mode == "paused" else run_module._simulate)(spec, seed)
rss_peak_kb, source = peak_kb()
maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rss_import_kb": rss_import_kb, "rss_peak_kb": rss_peak_kb,
                  "rss_source": source, "ru_maxrss_kb": maxrss_kb}))
"""

CHILD_TRACEMALLOC = """
import importlib, json, sys, tracemalloc
run_module = importlib.import_module("sim.run")
seed, mode, scale = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
spec = run_module.resolve("baseline", **{"run.scale": scale})
tracemalloc.start()
result = (run_module.run if mode == "paused" else run_module._simulate)(spec, seed)
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


def one_bookkeeping(spec, seed: int) -> dict:
    """One construction + run of our model with timers around Mesa's agent bookkeeping.

    Times ``PopulationAgent.create_rows`` (creating new rows' Mesa agents and registering
    them) and ``PilotModel.deregister_agents`` (exits): the part of a run that keeping every
    lab, startup, plant and factory a registered Mesa agent costs, whatever the rest does.
    """
    from sim.agents.base import PopulationAgent
    from sim.model import PilotModel

    spent = {"create_s": 0.0, "remove_s": 0.0, "created": 0, "removed": 0}
    create, deregister = PopulationAgent.__dict__["create_rows"], PilotModel.deregister_agents

    def timed_create(cls, model, rows):
        c = time.process_time()
        out = create.__func__(cls, model, rows)
        spent["create_s"] += time.process_time() - c
        spent["created"] += len(rows)
        return out

    def timed_deregister(model, agents):
        c = time.process_time()
        deregister(model, agents)
        spent["remove_s"] += time.process_time() - c
        spent["removed"] += len(agents)

    PopulationAgent.create_rows = classmethod(timed_create)
    PilotModel.deregister_agents = timed_deregister
    try:
        gc.collect()
        PilotModel(spec, seed).run()
    finally:
        PopulationAgent.create_rows = create
        PilotModel.deregister_agents = deregister
    spent["bookkeeping_s"] = spent["create_s"] + spent["remove_s"]
    return spent


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


def moore_table(side: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's Moore neighbours on a ``side`` x ``side`` grid without wrap-around (the
    example's ``OrthogonalMooreGrid``): an (n_cells, 8) table padded with -1, and counts."""
    xs, ys = np.divmod(np.arange(side * side), side)
    table = np.full((side * side, 8), -1, dtype=np.int64)
    count = np.zeros(side * side, dtype=np.int64)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx == 0 and dy == 0:
                continue
            nx, ny = xs + dx, ys + dy
            ok = (nx >= 0) & (nx < side) & (ny >= 0) & (ny < side)
            table[ok, count[ok]] = (nx * side + ny)[ok]
            count[ok] += 1
    return table.ravel(), count


def array_toy(n_agents: int, steps: int, seed: int) -> tuple[np.ndarray, list[float]]:
    """The toy's rules with its state in numpy arrays instead of Mesa agents.

    Same agents, grid, density and steps as ``time_toy``: every step each agent moves to a
    random Moore neighbour (no wrap-around), then, if it has wealth, gives 1 to a random
    other agent in its cell, and wealth and the Gini are recorded (the example's
    ``DataCollector`` does both). Moves and gifts are simultaneous here, where the example
    activates agents one by one in random order: the same work per agent and step, but not
    the same process (its Gini settles near 0.40, the example's near 0.65, measured at 1,000
    and 34,797 agents). It prices the state in arrays, not the example's economics. Cells
    are grouped by a radix sort (``argsort(kind="stable")`` on 16-bit cell ids, linear in
    agents). Returns the final wealth and each step's Gini.
    """
    side, _ = toy_grid(n_agents)
    table, count = moore_table(side)
    rng = np.random.default_rng(seed)
    cell = rng.integers(0, side * side, n_agents)
    wealth = np.ones(n_agents, dtype=np.int64)
    idx = np.arange(n_agents)
    ranks = n_agents - idx
    sort_dtype = np.uint16 if side * side <= np.iinfo(np.uint16).max else np.uint32
    wealth_by_step, gini = [], []  # kept like the DataCollector's records: the work is priced
    for _ in range(steps):
        k = count[cell]
        cell = table[cell * 8 + (rng.random(n_agents) * k).astype(np.int64)]
        order = np.argsort(cell.astype(sort_dtype), kind="stable")
        per_cell = np.bincount(cell, minlength=side * side)
        sorted_cell = cell[order]
        in_cell = per_cell[sorted_cell]  # each agent's cell size, in sorted order
        first = (np.cumsum(per_cell) - per_cell)[sorted_cell]
        gives = (wealth[order] > 0) & (in_cell > 1)
        other = 1 + (rng.random(n_agents) * (in_cell - 1)).astype(np.int64)
        receiver = order[first + (idx - first + other) % in_cell]
        wealth[order[gives]] -= 1
        wealth += np.bincount(receiver[gives], minlength=n_agents)
        wealth_by_step.append(wealth.copy())
        x = np.sort(wealth)
        gini.append(1 + 1 / n_agents - 2 * float(x @ ranks) / (n_agents * float(x.sum())))
    return wealth, gini


def time_array_toy(n_agents: int, steps: int, seed: int, repeats: int) -> dict:
    """CPU seconds of ``array_toy`` (best of ``repeats``), checked to conserve wealth."""
    times, gini_end = [], float("nan")
    for r in range(repeats):
        gc.collect()
        c0 = time.process_time()
        wealth, gini = array_toy(n_agents, steps, seed + r)
        times.append(time.process_time() - c0)
        if int(wealth.sum()) != n_agents or wealth.min() < 0:
            raise RuntimeError("array toy lost or created wealth: the benchmark is wrong")
        gini_end = gini[-1]
    return {"cpu_s": min(times), "median_cpu_s": statistics.median(times), "gini_end": gini_end}


def child(code: str, *args: object) -> dict:
    """Run ``code`` in a fresh interpreter (same env, same core) and parse its JSON line."""
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_module():
    """The module ``sim.run`` (the package attribute ``sim.run`` is the function)."""
    import importlib

    return importlib.import_module("sim.run")


def one_mode(spec, seed: int, mode: str) -> dict:
    """One ``sim.run`` of ``spec``: with its GC pause ("paused") or plain GC ("plain").

    ``s`` is the time until the call returns. The paused run's includes its own end-of-run
    collection, which frees its model; a plain run leaves its dead model to a later
    collection. So a full ``gc.collect()`` follows every run, timed apart (``after_s``):
    for a plain run it frees the model, for a paused run it finds nothing, and
    ``s + after_s`` is the cost of a run including freeing it, alike in both modes. It
    also leaves a clean heap for the next run.
    """
    rm = run_module()
    fn = rm.run if mode == "paused" else rm._simulate
    GC.reset()
    c0, t0 = time.process_time(), time.perf_counter()
    fn(spec, seed)
    seconds, cpu, gc_s, gc_full = (
        time.perf_counter() - t0,
        time.process_time() - c0,
        GC.seconds,
        GC.full,
    )
    t1 = time.perf_counter()
    gc.collect()
    after = time.perf_counter() - t1
    return {
        "s": seconds,
        "cpu_s": cpu,
        "gc_s": gc_s,
        "gc_full": gc_full,
        "after_s": after,
        "total_s": seconds + after,
    }


def marginal(xs: list[float], ys: list[float]) -> tuple[list[float], float]:
    """Marginal cost per unit of scale between consecutive scales, and last / next to last
    (with SCALES: 2x->3x over 1x->2x, issue 13's test of linear cost)."""
    m = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(len(xs) - 1)]
    return m, m[-1] / m[-2]


def scale_series(seed: int, repeats: int) -> dict:
    """Plain GC vs sim.run's pause at each scale, interleaved over ``repeats`` rounds.

    Each round runs every scale in both modes, alternating which mode goes first, so that
    machine noise hits both alike. Returns per-scale rows and, per mode, the slope and
    marginal costs from the best and from the median times.
    """
    from sim.model import PilotModel
    from sim.scenario import load_scenario, with_overrides

    base = load_scenario("baseline")
    specs = {s: with_overrides(base, {"run.scale": s}) for s in SCALES}
    agents = {s: len(PilotModel(sp, seed).agents) for s, sp in specs.items()}
    gc.collect()  # each timed run ends with one (one_mode)
    runs: dict[tuple[float, str], list[dict]] = {(s, m): [] for s in SCALES for m in GC_MODES}
    for i in range(repeats):
        for s in SCALES:
            for mode in GC_MODES if i % 2 == 0 else GC_MODES[::-1]:
                runs[s, mode].append(one_mode(specs[s], seed, mode))
        print(f"  round {i + 1}/{repeats} (1-min load {load_1min()})", flush=True)
    rows = []
    for s in SCALES:
        row: dict = {"scale": s, "agents": agents[s]}
        for mode in GC_MODES:
            rs = runs[s, mode]
            b = best(rs)
            row[mode] = {
                "best": b["s"],
                "median": statistics.median(r["s"] for r in rs),
                "gc_s": b["gc_s"],
                "gc_full": b["gc_full"],
                "gc_median": statistics.median(r["gc_s"] for r in rs),
                "cpu_best": min(r["cpu_s"] for r in rs),
                "cpu_worst": max(r["cpu_s"] for r in rs),
                "total_best": min(r["total_s"] for r in rs),
                "total_median": statistics.median(r["total_s"] for r in rs),
            }
        rows.append(row)
    fits = {}
    for mode in GC_MODES:
        for stat in ("best", "median", "total_best", "total_median"):
            ys = [row[mode][stat] for row in rows]
            m, ratio = marginal(list(SCALES), ys)
            fits[mode, stat] = {
                "slope_all": loglog_slope(list(SCALES), ys),
                "slope_13": loglog_slope(list(SCALES[1:]), ys[1:]),
                "marginal": m,
                "ratio": ratio,
            }
        # Each round's three runs are close in time, so their ratio sees one machine state.
        per = []
        for i in range(repeats):
            ys = [runs[s, mode][i]["s"] for s in SCALES]
            m, ratio = marginal(list(SCALES), ys)
            per.append(
                (loglog_slope(list(SCALES), ys), loglog_slope(list(SCALES[1:]), ys[1:]), m, ratio)
            )
        fits[mode, "per_round"] = {
            "slope_all": statistics.median(p[0] for p in per),
            "slope_13": statistics.median(p[1] for p in per),
            "marginal": [statistics.median(p[2][j] for p in per) for j in range(len(SCALES) - 1)],
            "ratio": statistics.median(p[3] for p in per),
            "ratio_range": (min(p[3] for p in per), max(p[3] for p in per)),
        }
    return {"rows": rows, "fits": fits}


def leak_check(seed: int) -> dict:
    """Live models and agents after ``LEAK_RUNS`` small runs in this process, per mode.

    Counted from ``gc.get_objects()`` right after the runs, with no collection in between
    (what a batch worker holds), then after a full collection; plus the GC state before and
    after the runs.
    """
    from sim.agents.base import PopulationAgent
    from sim.model import PilotModel

    rm = run_module()
    spec = rm.resolve(
        "baseline", **{"run.scale": LEAK_RUN["scale"], "run.end_year": LEAK_RUN["until"]}
    )

    def live() -> tuple[int, int]:
        objs = gc.get_objects()
        return (
            sum(isinstance(o, PilotModel) for o in objs),
            sum(isinstance(o, PopulationAgent) for o in objs),
        )

    def state() -> tuple:
        return gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()

    out = {}
    for mode in GC_MODES:
        fn = rm.run if mode == "paused" else rm._simulate
        gc.collect()
        before, state0 = live(), state()
        for i in range(LEAK_RUNS):
            fn(spec, seed + i)
        after = live()
        state1 = state()
        gc.collect()
        out[mode] = {
            "before": before,
            "after": after,
            "after_collect": live(),
            "state_kept": state0 == state1,
            "state": state1,
        }
    return out


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
    m, toy = r["machine"], r["toy"]
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
        "end, counting this benchmark)." + (f" {r['note']}" if r.get("note") else ""),
        "",
        "| run | best s | median s | best CPU s |",
        "|---|---:|---:|---:|",
        f"| pilotsim `baseline` scenario, construction + run | {min(base):.3f} | "
        f"{statistics.median(base):.3f} | {r['baseline_cpu']:.3f} |",
        f"| pilotsim `hk_pilot_platform` scenario, construction + run | {min(plat):.3f} | "
        f"{statistics.median(plat):.3f} | {r['platform_cpu']:.3f} |",
        f'| `sim.run("baseline")` (adds scenario loading, output frames and the GC pause) | '
        f"{min(r['sim_run']):.3f} | {statistics.median(r['sim_run']):.3f} | "
        f"{r['sim_run_cpu']:.3f} |",
        f"| Mesa BoltzmannWealth, {r['agents']:,} agents on {toy['width']}x{toy['height']}, "
        f"{r['steps']} steps (1 run) | {toy['total_s']:.2f} | | {toy['cpu_s']:.2f} |",
        "",
        "Seconds are wall-clock time; CPU s is this process's CPU time (`time.process_time`), "
        "which leaves out time the core spent on other processes. They differ when the "
        "machine is busy: the ratios to the toy and between scenarios use CPU time (issue 13), "
        "the seconds and scale goals wall-clock time.",
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
    book, budget = r["bookkeeping"], GOAL_RATIO * toy["cpu_s"]
    rest_now = r["baseline_cpu"] - book["bookkeeping_s"]
    lines += [
        f"Platform / baseline CPU time: {r['platform_cpu'] / r['baseline_cpu']:.3f} best of "
        f"each (the goal's figure), {r['platform_median']:.3f} median of each, "
        f"{r['platform_paired']:.3f} median of the {r['repeats']} paired rounds.",
        "",
        f"The budget at the goal: {GOAL_RATIO} of the toy is {budget:.3f} CPU s. Keeping "
        "every lab, startup, plant and factory a registered Mesa agent (creating and "
        f"registering {book['created']:,} agents, deregistering {book['removed']:,}; timers "
        f"around `create_rows` and `deregister_agents`, best of {r['repeats']} runs) takes "
        f"{book['bookkeeping_s']:.3f} s of it ({book['bookkeeping_s'] / toy['cpu_s']:.4f} of "
        f"the toy), leaving {budget - book['bookkeeping_s']:.3f} s for everything else, "
        f"which takes {rest_now:.3f} s now: "
        f"{rest_now / max(budget - book['bookkeeping_s'], 1e-9):.1f} times that.",
        "",
    ]
    if "array_toy" in r:
        arr = r["array_toy"]
        floor = arr["cpu_s"] + book["bookkeeping_s"]
        lines += [
            "What the budget means: the toy's own rules with its state in numpy arrays "
            f"(`array_toy`: same {r['agents']:,} agents, grid and {r['steps']} steps, wealth "
            f"and Gini recorded each step; best of {r['repeats']}) take {arr['cpu_s']:.3f} CPU "
            f"s ({arr['cpu_s'] / toy['cpu_s']:.4f} of the Mesa toy; median "
            f"{arr['median_cpu_s']:.3f} s; simultaneous moves and gifts, so a different process: "
            f"final Gini {arr['gini_end']:.3f}, the Mesa toy's {toy['gini_end']:.3f}). With "
            "our Mesa bookkeeping added that is "
            f"{floor:.3f} s, {floor / toy['cpu_s']:.4f} of the toy: at the goal our whole "
            f"model may cost {budget / floor:.2f} times the toy's rules in arrays plus the "
            "agents' registration; it costs "
            f"{r['baseline_cpu'] / floor:.2f} times that now.",
            "",
        ]
    lines += scale_report(r) + [
        "| goal | measured | |",
        "|---|---:|---|",
    ]
    for name, value, ok in r["goals"]:
        lines.append(f"| {name} | {value} | {verdict(ok)} |")
    return "\n".join(lines) + "\n"


def scale_report(r: dict) -> list[str]:
    """Memory, cost against scale with plain GC and with the pause, and the leak check."""
    mem, sc = r["memory"], r["scales"]
    lines = [
        "Peak memory of one baseline run (fresh child process each, run + output frames; "
        "raw peak RSS is VmHWM of the child, the tracemalloc peak counts Python allocations "
        "during the run):",
        "",
        "| scale | GC | peak RSS MB | of which after imports MB | tracemalloc peak MB |",
        "|---:|---|---:|---:|---:|",
    ]
    for (scale, mode), m in mem.items():
        traced = f"{m['traced_peak_b'] / 2**20:.0f}" if "traced_peak_b" in m else ""
        lines.append(
            f"| {scale:g} | {mode} | {m['rss_peak_kb'] / 1024:.0f} | "
            f"{m['rss_import_kb'] / 1024:.0f} | {traced} |"
        )
    m1 = mem[1.0, "paused"]
    lines += [""]
    if m1["rss_source"] == "VmHWM":
        lines += [
            f"(A child's `ru_maxrss` reads {m1['ru_maxrss_kb'] / 1024:.0f} MB: Linux carries "
            "the parent's high-water mark across exec, so it is not the child's own peak.)",
            "",
        ]
    lines += [
        f"Cost against scale (baseline, construction + run + output frames; {r['repeats']} "
        "rounds, each running every scale with plain GC and with `sim.run`'s GC pause, "
        "alternating which goes first). Plain is the previous `sim.run` "
        "(`sim.run._simulate` bare); paused is `sim.run`, which pauses the cyclic collector "
        "and collects the run's young objects once at the end. GC s is time in the "
        "collector during the best run (gc.callbacks), with full collections in brackets; "
        "the paused time includes the end collection that frees the model, which plain "
        "runs leave to a later collection. Every run is followed by a full `gc.collect()`, "
        'timed apart: "incl. freeing" adds it (for plain runs it frees the model, for paused '
        "runs it finds nothing), the cost of a run including freeing it in both modes. "
        "A run makes no cyclic garbage while it runs (tests/test_gc.py), so the pause holds "
        "no extra memory; unlike `gc.freeze()` it leaves a caller's frozen objects and "
        "thresholds alone, and the end collection passes over the run's objects only.",
        "",
        "| scale | agents at start | GC | best s | median s | GC s in best run "
        "| best CPU s | best s incl. freeing | median s incl. freeing |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sc["rows"]:
        for mode in GC_MODES:
            p = row[mode]
            lines.append(
                f"| {row['scale']:g} | {row['agents']:,} | {mode} | {p['best']:.3f} | "
                f"{p['median']:.3f} | {p['gc_s']:.3f} ({p['gc_full']}) | {p['cpu_best']:.3f} | "
                f"{p['total_best']:.3f} | {p['total_median']:.3f} |"
            )
    lines += [
        "",
        "| GC | from times | log-log slope 0.1x-3x | slope 1x-3x | marginal s per unit 0.1x->1x "
        "| 1x->2x | 2x->3x | ratio 2x->3x / 1x->2x (1 = linear) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "best": "best",
        "median": "median",
        "total_best": "best incl. freeing",
        "per_round": "each round's own times, median over rounds",
    }
    for mode in GC_MODES:
        for stat, label in labels.items():
            f = sc["fits"][mode, stat]
            lines.append(
                f"| {mode} | {label} | {f['slope_all']:.2f} | {f['slope_13']:.2f} | "
                f"{f['marginal'][0]:.3f} | {f['marginal'][1]:.3f} | {f['marginal'][2]:.3f} | "
                f"{f['ratio']:.2f} |"
            )
    lk = r["leak"]
    one = {mode: next(row for row in sc["rows"] if row["scale"] == 1.0)[mode] for mode in GC_MODES}
    lines += [
        "",
        "Noise: the CPU time of the same 1x run ranged "
        + " and ".join(
            f"{one[mode]['cpu_best']:.3f}-{one[mode]['cpu_worst']:.3f} s ({mode})"
            for mode in GC_MODES
        )
        + " over the rounds; ratios of marginal costs amplify it (a 10% error at 1x moves the "
        "ratio by 0.2-0.3).",
        "",
        "Per-round ratios (each round's runs of one mode, close in time): "
        + "; ".join(
            f"{mode} {sc['fits'][mode, 'per_round']['ratio']:.2f} median, "
            f"{sc['fits'][mode, 'per_round']['ratio_range'][0]:.2f}-"
            f"{sc['fits'][mode, 'per_round']['ratio_range'][1]:.2f} range"
            for mode in GC_MODES
        )
        + ".",
        "",
        "Slopes are below 1 from 0.1x because a run has a fixed per-quarter overhead; linear "
        "cost means equal marginal costs.",
        "",
        f"Leak check: {LEAK_RUNS} runs at scale {LEAK_RUN['scale']:g} to {LEAK_RUN['until']} "
        "in this process; live models / agents from `gc.get_objects()` right after the runs "
        "(no collection in between) and after a full collection:",
        "",
        "| GC | before | after the runs | after gc.collect() | GC state kept |",
        "|---|---:|---:|---:|---|",
    ]
    for mode in GC_MODES:
        k = lk[mode]
        lines.append(
            f"| {mode} | {k['before'][0]} / {k['before'][1]:,} | {k['after'][0]} / "
            f"{k['after'][1]:,} | {k['after_collect'][0]} / {k['after_collect'][1]:,} | "
            f"{'yes' if k['state_kept'] else 'NO'} |"
        )
    lines += [""]
    return lines


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
    ap.add_argument("--note", default="", help="a sentence added to the report (e.g. load)")
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/performance.md")
    ap.add_argument(
        "--scale-only",
        action="store_true",
        help="only memory, cost against scale (plain GC vs pause) and the leak check; no write",
    )
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
    r["note"] = args.note
    print(f"pinned to cpu {cpu}; {r['machine']['cpu']}, nproc {r['machine']['nproc']}")

    if not args.scale_only:
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
        # Each round ran both scenarios close in time: their ratio sees one machine state.
        r["platform_paired"] = statistics.median(
            p["cpu_s"] / b["cpu_s"] for b, p in zip(runs["baseline"], runs["platform"], strict=True)
        )
        r["platform_median"] = statistics.median(x["cpu_s"] for x in runs["platform"]) / (
            statistics.median(x["cpu_s"] for x in runs["baseline"])
        )
        print("timing Mesa's agent bookkeeping in baseline runs ...", flush=True)
        books = [one_bookkeeping(base, args.seed) for _ in range(args.repeats)]
        r["bookkeeping"] = min(books, key=lambda x: x["bookkeeping_s"])

    print("cost against scale, plain GC vs sim.run's pause (interleaved) ...", flush=True)
    r["scales"] = scale_series(args.seed, args.repeats)
    print("leak check ...", flush=True)
    r["leak"] = leak_check(args.seed)

    print("peak memory in child processes ...", flush=True)
    r["memory"] = {}
    for scale in MEMORY_SCALES:
        for mode in GC_MODES:
            mem = child(CHILD_RSS, args.seed, mode, scale)
            if scale == 1.0:
                mem |= child(CHILD_TRACEMALLOC, args.seed, mode, scale)
            r["memory"][scale, mode] = mem

    fit = r["scales"]["fits"]["paused", "best"]
    peak_mb = r["memory"][1.0, "paused"]["rss_peak_kb"] / 1024
    linear_goals = [
        (
            f"peak RSS <= {GOAL_PEAK_MB:.0f} MB (1x, sim.run)",
            f"{peak_mb:.0f} MB",
            peak_mb <= GOAL_PEAK_MB,
        ),
        (
            f"linear cost: marginal cost 2x->3x / 1x->2x <= {GOAL_MARGINAL} (sim.run, best)",
            f"{fit['ratio']:.2f}",
            fit["ratio"] <= GOAL_MARGINAL,
        ),
    ]
    if args.scale_only:
        r["load"].append(load_1min())
        r["goals"] = linear_goals
        lines = scale_report(r) + ["| goal | measured | |", "|---|---:|---|"]
        lines += [f"| {n} | {v} | {verdict(ok)} |" for n, v, ok in r["goals"]]
        print()
        print(f"{r['date']}; 1-min load {r['load'][0]} at start, {r['load'][1]} at end")
        print("\n".join(lines))
        return 0

    # The toy runs last: Mesa's example model stays alive after use (something in Mesa keeps
    # a reference), and its ~400k objects would slow every later full garbage collection.
    toy_steps = min(args.toy_steps or r["steps"], r["steps"])
    print(
        f"timing Mesa BoltzmannWealth: {r['agents']:,} agents, {toy_steps} of {r['steps']} "
        "steps (about a minute) ...",
        flush=True,
    )
    r["toy"] = time_toy(r["agents"], r["steps"], toy_steps, args.seed)
    print("timing the toy's rules in numpy arrays ...", flush=True)
    r["array_toy"] = time_array_toy(r["agents"], r["steps"], args.seed, args.repeats)

    r["load"].append(load_1min())
    ours_best = min(r["baseline"])
    ratio = r["baseline_cpu"] / r["toy"]["cpu_s"]
    plat_ratio = r["platform_cpu"] / r["baseline_cpu"]
    toy_note = "; toy extrapolated" if r["toy"]["extrapolated"] else ""
    r["goals"] = [
        (
            f"CPU time ratio ours / toy <= {GOAL_RATIO} (best of ours{toy_note})",
            f"{ratio:.4f} (toy {1 / ratio:.0f}x slower)",
            ratio <= GOAL_RATIO,
        ),
        (
            f"platform scenario / baseline CPU time <= {GOAL_PLATFORM:.2f} (best of each)",
            f"{plat_ratio:.3f}",
            plat_ratio <= GOAL_PLATFORM,
        ),
        (
            f"full-scale run <= {GOAL_SECONDS:g} s on one core (best of {args.repeats})",
            f"{ours_best:.3f} s",
            ours_best <= GOAL_SECONDS,
        ),
        *linear_goals,
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
