"""Output fingerprints: one hash per output column of each scenario file's quarterly frame,
to show that an optimisation left behaviour unchanged (issue 13: bit-identical outputs).

Each scenario in ``scenarios/`` runs at a small scale with a fixed seed; each column's values
are cast to float32 before hashing (about 7 significant digits), so a change of behaviour
shows while the last bits of float64 arithmetic, which may differ between CPUs and numpy
builds, do not. Columns are hashed one by one (issue 26, point 3): adding an output column
adds one entry and leaves every other column's fingerprint as it was, and a changed
fingerprint names the column that moved.

``tests/test_fingerprints.py`` compares them with the committed
``tests/output_fingerprints.json`` (``{scenario: {column: hash}}``); after a change *meant*
to alter behaviour, or one that adds a column, rewrite that file with
``python -m sim.experiments.fingerprints --write`` and say why in the commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = ROOT / "scenarios"
COMMITTED = ROOT / "tests" / "output_fingerprints.json"
#: Small enough for a test (a few seconds for all scenarios), long enough that every lever
#: (from 2025-2026) has run for years.
SCALE, UNTIL, SEED = 0.05, 2030, 3
#: Hex digits kept per column hash: 48 bits, ample to tell two outputs apart, short enough
#: to keep the committed file readable.
DIGITS = 12

Fingerprint = dict[str, str]


def column_hash(values: pd.Series) -> str:
    """sha256 (first :data:`DIGITS` hex digits) of one column's values cast to float32."""
    arr = np.ascontiguousarray(values.to_numpy(dtype=np.float64).astype(np.float32))
    return hashlib.sha256(arr.tobytes()).hexdigest()[:DIGITS]


def frame_fingerprint(q: pd.DataFrame) -> Fingerprint:
    """``{column: hash}`` of a quarterly frame, one independent hash per column."""
    return {str(c): column_hash(q[c]) for c in q.columns}


def fingerprint(name: str) -> Fingerprint:
    """``{column: hash}`` of scenario ``name``'s quarterly frame (see :func:`frame_fingerprint`)."""
    import sim

    q = sim.run(SCENARIOS / f"{name}.yaml", seed=SEED, scale=SCALE, until=UNTIL).quarterly
    return frame_fingerprint(q)


def all_fingerprints() -> dict[str, Fingerprint]:
    return {p.stem: fingerprint(p.stem) for p in sorted(SCENARIOS.glob("*.yaml"))}


def compare(name: str, got: Fingerprint, expected: Fingerprint) -> list[str]:
    """What differs between scenario ``name``'s fingerprint and the committed one, one line
    per problem (empty when they agree): a committed column whose hash changed, a committed
    column the model no longer writes, a model column the committed file lacks."""
    problems = [
        f"{name}.{c}: outputs changed ({expected[c]} committed, {got[c]} now)"
        for c in sorted(expected.keys() & got.keys())
        if got[c] != expected[c]
    ]
    problems += [
        f"{name}.{c}: committed but no longer output" for c in sorted(expected.keys() - got.keys())
    ]
    problems += [
        f"{name}.{c}: new column, not in {COMMITTED.name}"
        for c in sorted(got.keys() - expected.keys())
    ]
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"rewrite {COMMITTED.name}")
    args = ap.parse_args()
    fps = all_fingerprints()
    if args.write:
        COMMITTED.write_text(json.dumps(fps, indent=1, sort_keys=True) + "\n")
        print(f"wrote {COMMITTED} ({len(fps)} scenarios)")
    else:
        old = json.loads(COMMITTED.read_text()) if COMMITTED.exists() else {}
        problems = [p for n, fp in fps.items() for p in compare(n, fp, old.get(n, {}))]
        print("\n".join(problems) or f"all {len(fps)} scenarios match {COMMITTED.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
