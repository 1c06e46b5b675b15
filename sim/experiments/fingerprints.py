"""Output fingerprints: one hash per scenario file of its quarterly frame, to show that an
optimisation left behaviour unchanged (issue 13: bit-identical outputs).

Each scenario in ``scenarios/`` runs at a small scale with a fixed seed; the frame's values
are cast to float32 before hashing (about 7 significant digits), so a change of behaviour
shows while the last bits of float64 arithmetic, which may differ between CPUs and numpy
builds, do not. ``tests/test_fingerprints.py`` compares them with the committed
``tests/output_fingerprints.json``; after a change *meant* to alter behaviour, rewrite that
file with ``python -m sim.experiments.fingerprints --write`` and say why in the commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = ROOT / "scenarios"
COMMITTED = ROOT / "tests" / "output_fingerprints.json"
#: Small enough for a test (a few seconds for all scenarios), long enough that every lever
#: (from 2025-2026) has run for years.
SCALE, UNTIL, SEED = 0.05, 2030, 3


def fingerprint(name: str) -> str:
    """sha256 (first 16 hex digits) of scenario ``name``'s quarterly frame."""
    import sim

    q = sim.run(SCENARIOS / f"{name}.yaml", seed=SEED, scale=SCALE, until=UNTIL).quarterly
    h = hashlib.sha256(",".join(q.columns).encode())
    h.update(np.ascontiguousarray(q.to_numpy(dtype=np.float64).astype(np.float32)).tobytes())
    return h.hexdigest()[:16]


def all_fingerprints() -> dict[str, str]:
    return {p.stem: fingerprint(p.stem) for p in sorted(SCENARIOS.glob("*.yaml"))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"rewrite {COMMITTED.name}")
    args = ap.parse_args()
    fps = all_fingerprints()
    print(json.dumps(fps, indent=2))
    if args.write:
        COMMITTED.write_text(json.dumps(fps, indent=2, sort_keys=True) + "\n")
        print(f"wrote {COMMITTED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
