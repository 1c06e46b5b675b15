"""How much faster is this checkout than another commit, on the runs users wait for?

Times this checkout and a ``git worktree`` of ``--against`` side by side: one long-lived
process per checkout, both pinned to one core, each run timed right after the same run of
the other checkout (the order alternating between repeats), so that the machine's drift over
tens of seconds hits both alike; best of the repeats, CPU seconds:

- a full-scale baseline run, 2015-2035 (``PilotModel`` construction and ``run()``);
- a calibration run: the ABC-SMC's ``Simulator.simulate`` at scale 0.25 to 2019 (the model,
  its frames and the target points), averaged over particles of the committed posterior
  and over draws from the priors (the first generations sample the priors).

    .venv/bin/python benchmarks/bench_against.py --against 43069ae [--repeats 5]

Prints the times and the ratios ours / theirs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from worktree import checkout

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import gc, json, sys, time
root = sys.argv[1]
sys.path.insert(0, root)
import numpy as np, pandas as pd
from sim.calibration import defaults as D
from sim.calibration.config import load_priors, load_targets
from sim.calibration.simulator import Simulator
from sim.model import PilotModel
from sim.scenario import load_scenario
priors = load_priors(D.DEFAULT_PRIORS)
full = load_scenario("baseline", {"run.scale": 1.0})
simulator = Simulator(load_scenario("baseline"), priors, load_targets(D.DEFAULT_TARGETS), 0.25)
post = pd.read_csv(D.DEFAULT_POSTERIOR)
rng = np.random.default_rng(1)
draws = {
    "posterior": [{p.key: float(post[p.key].iloc[j]) for p in priors.priors} for j in range(N)],
    "prior": [{p.key: float(rng.uniform(p.low, p.high)) for p in priors.priors} for _ in range(N)],
}
def task(name):
    if name == "full":
        return lambda: PilotModel(full, 0).run()
    kind, j = name.split()
    return lambda: simulator.simulate(draws[kind][int(j)], int(j))
task("full")()  # warm-up: imports, caches
print("ready", flush=True)
for line in sys.stdin:
    f = task(line.strip())
    gc.collect()
    t = time.process_time()
    f()
    print(time.process_time() - t, flush=True)
"""

#: Calibration parameter vectors of each kind (posterior particles, prior draws).
N_DRAWS = 6

LABELS = {
    "full": "full-scale baseline run, 2015-2035",
    "posterior": "calibration run (scale 0.25 to 2019), posterior particles, mean",
    "prior": "calibration run (scale 0.25 to 2019), prior draws, mean",
}


class Worker:
    """A process running one checkout's code, timing the runs it is asked for."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        cmd = [sys.executable, "-c", CHILD.replace("range(N)", f"range({N_DRAWS})"), str(root)]
        if sys.platform.startswith("linux"):
            cmd = ["taskset", "-c", "0", *cmd]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root, env=env
        )
        if self._read() != "ready":
            raise SystemExit(f"the timing process for {root} did not start")

    def _read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line:
            raise SystemExit(f"the timing process failed (exit {self.proc.wait()})")
        return line

    def time(self, task: str) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(task + "\n")
        self.proc.stdin.flush()
        return float(self._read())

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="commit to compare with (e.g. 43069ae)")
    ap.add_argument("--repeats", type=int, default=5, help="repeats of each run (best kept)")
    args = ap.parse_args(argv)

    tasks = ["full"] + [f"{k} {j}" for k in ("posterior", "prior") for j in range(N_DRAWS)]
    best: dict[str, dict[str, float]] = {"theirs": {}, "ours": {}}
    with checkout(args.against) as tree:
        workers = {"theirs": Worker(tree), "ours": Worker(ROOT)}
        try:
            for r in range(args.repeats):
                order = ("theirs", "ours") if r % 2 == 0 else ("ours", "theirs")
                for task in tasks:  # each run right after its twin: the same machine state
                    for who in order:
                        t = workers[who].time(task)
                        best[who][task] = min(t, best[who].get(task, float("inf")))
                print(f"repeat {r + 1}/{args.repeats} done", flush=True)
        finally:
            for w in workers.values():
                w.close()
    print(f"\nCPU seconds, best of {args.repeats} repeats, one core, runs interleaved:\n")
    print(f"| run | {args.against} s | this checkout s | ratio |")
    print("|---|--:|--:|--:|")
    for kind, label in LABELS.items():
        keys = [t for t in tasks if t.split()[0] == kind]
        a = sum(best["theirs"][k] for k in keys) / len(keys)
        b = sum(best["ours"][k] for k in keys) / len(keys)
        print(f"| {label} | {a:.3f} | {b:.3f} | {b / a:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
