"""Are the outputs of this checkout bit-identical to those of another commit?

Issue 13, point 2: an optimisation that is not meant to change behaviour must leave every
output unchanged. ``tests/test_fingerprints.py`` checks float32 hashes of small runs on every
test run; this script is the stronger check made once per optimisation: it runs every
scenario file at the given scale and seeds in this checkout and in a ``git worktree`` of
``--against`` (the commit before the optimisation), each in its own process, and compares
SHA-256 hashes of the full float64 quarterly and annual frames.

    .venv/bin/python benchmarks/check_identical.py --against 43069ae [--scale 0.25]
                                                   [--seeds 0 1] [--until 2035]

Prints one line per scenario and seed and exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from worktree import checkout

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import hashlib, json, sys
from pathlib import Path
root = Path(sys.argv[1])
sys.path.insert(0, str(root))
import sim
scale, until = float(sys.argv[2]), int(sys.argv[3])
seeds = [int(s) for s in sys.argv[4].split(",")]
out = {}
for path in sorted((root / "scenarios").glob("*.yaml")):
    for seed in seeds:
        res = sim.run(path, seed, scale=scale, until=until)
        h = hashlib.sha256()
        for frame in (res.quarterly, res.annual):
            h.update(",".join(frame.columns).encode())
            h.update(frame.to_numpy(dtype="float64").tobytes())
        out[f"{path.stem} seed {seed}"] = h.hexdigest()[:16]
print(json.dumps(out))
"""


def hashes(root: Path, scale: float, until: int, seeds: list[int]) -> dict[str, str]:
    """Output hashes of every scenario file of the checkout at ``root``."""
    args = [str(root), str(scale), str(until), ",".join(map(str, seeds))]
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, cwd=root
    )
    if out.returncode != 0:
        raise SystemExit(f"runs in {root} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="commit to compare with (e.g. 43069ae)")
    ap.add_argument("--scale", type=float, default=0.25)
    ap.add_argument("--until", type=int, default=2035)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args(argv)

    with checkout(args.against) as tree:
        theirs = hashes(tree, args.scale, args.until, args.seeds)
    ours = hashes(ROOT, args.scale, args.until, args.seeds)
    differ = 0
    for key in sorted(set(ours) | set(theirs)):
        same = ours.get(key) == theirs.get(key)
        differ += not same
        print(f"{'same' if same else 'DIFFERS'}  {key}: {theirs.get(key)} -> {ours.get(key)}")
    n = len(ours)
    print(
        f"{n - differ} of {n} runs bit-identical to {args.against} "
        f"(scale {args.scale:g}, to {args.until}, seeds {args.seeds})"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
