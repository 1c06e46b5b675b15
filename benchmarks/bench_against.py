"""How much faster is this checkout than another commit, on the runs users wait for?

Times, side by side and interleaved (each in its own process, pinned to one core, best of
the repeats, CPU seconds), this checkout and a ``git worktree`` of ``--against``:

- a full-scale baseline run, 2015-2035 (``PilotModel`` construction and ``run()``);
- a calibration run: the ABC-SMC's ``Simulator.simulate`` at scale 0.25 to 2019 (the model,
  its frames and the target points), averaged over particles of the committed posterior
  and over draws from the priors (the first generations sample the priors).

    .venv/bin/python benchmarks/bench_against.py --against 43069ae [--repeats 3] [--rounds 3]

Prints the times and the ratios ours / theirs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

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
repeats = int(sys.argv[2])
priors = load_priors(D.DEFAULT_PRIORS)
base = load_scenario("baseline")
full = load_scenario("baseline", {"run.scale": 1.0})
simulator = Simulator(base, priors, load_targets(D.DEFAULT_TARGETS), 0.25)
post = pd.read_csv(D.DEFAULT_POSTERIOR)
rng = np.random.default_rng(1)
draws = {
    "posterior": [{p.key: float(post[p.key].iloc[j]) for p in priors.priors} for j in range(6)],
    "prior": [{p.key: float(rng.uniform(p.low, p.high)) for p in priors.priors} for _ in range(6)],
}
def cpu(f):
    gc.collect()
    t = time.process_time()
    f()
    return time.process_time() - t
PilotModel(full, 0).run()
out = {"full_scale": min(cpu(lambda: PilotModel(full, 0).run()) for _ in range(repeats))}
for kind, rows in draws.items():
    out["calibration_" + kind] = sum(
        min(cpu(lambda: simulator.simulate(v, j)) for _ in range(repeats))
        for j, v in enumerate(rows)
    ) / len(rows)
print(json.dumps(out))
"""

LABELS = {
    "full_scale": "full-scale baseline run, 2015-2035",
    "calibration_posterior": "calibration run (scale 0.25 to 2019), posterior particles",
    "calibration_prior": "calibration run (scale 0.25 to 2019), prior draws",
}


def measure(root: Path, repeats: int) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", CHILD, str(root), str(repeats)]
    if sys.platform.startswith("linux"):
        cmd = ["taskset", "-c", "0", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env)
    if out.returncode != 0:
        raise SystemExit(f"timing in {root} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="commit to compare with (e.g. 43069ae)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of each run per round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best is kept)")
    args = ap.parse_args(argv)

    best: dict[str, dict[str, float]] = {"theirs": {}, "ours": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "against"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(tree), args.against],
            cwd=ROOT,
            check=True,
        )
        try:
            for r in range(args.rounds):
                for who, root in (("theirs", tree), ("ours", ROOT)):
                    for k, v in measure(root, args.repeats).items():
                        best[who][k] = min(v, best[who].get(k, float("inf")))
                print(f"round {r + 1}/{args.rounds} done", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    print(f"\nCPU seconds, best of {args.rounds} rounds x {args.repeats} repeats, one core:\n")
    print(f"| run | {args.against} s | this checkout s | ratio |")
    print("|---|--:|--:|--:|")
    for k, label in LABELS.items():
        a, b = best["theirs"][k], best["ours"][k]
        print(f"| {label} | {a:.3f} | {b:.3f} | {b / a:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
