"""Paired replicate seeds from one root seed.

Replicate ``i`` of a batch runs with the integer seed drawn from the ``i``-th child of
``numpy.random.SeedSequence(root).spawn(n)``. Every scenario of a batch uses the same list,
so each policy run has a baseline twin with common random numbers. Children are indexed, so
asking for more replicates later extends the list without changing the first ones (a batch
of 20 seeds resumed with ``--seeds 30`` reuses the 20 runs already stored).
"""

from __future__ import annotations

import numpy as np

#: ``spawn_key`` of the stream that draws sweep designs (Latin hypercubes). It is far from
#: the replicate children (keys 0, 1, ..., n - 1), so designs never share entropy with runs.
DESIGN_SPAWN_KEY = 2**32 - 1


def _check_root(root: int) -> int:
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or root < 0:
        raise ValueError(f"root seed must be a non-negative integer, got {root!r}")
    return int(root)


def replicate_seeds(root: int, n: int) -> list[int]:
    """The run seeds of replicates ``0 .. n-1``.

    Args:
        root: the batch's root seed (non-negative integer).
        n: number of replicates (>= 1).

    Returns:
        ``n`` distinct integers in ``[0, 2**32)``, one per replicate.
    """
    root = _check_root(root)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"number of seeds must be a positive integer, got {n!r}")
    children = np.random.SeedSequence(root).spawn(int(n))
    seeds = [int(child.generate_state(1)[0]) for child in children]
    if len(set(seeds)) != len(seeds):  # 32-bit collision: astronomically rare, never silent
        raise ValueError(f"root seed {root} gives a repeated replicate seed; choose another")
    return seeds


def design_rng(root: int) -> np.random.Generator:
    """The generator that draws a sweep's sampling design, derived from ``root``."""
    ss = np.random.SeedSequence(_check_root(root), spawn_key=(DESIGN_SPAWN_KEY,))
    return np.random.default_rng(ss)
