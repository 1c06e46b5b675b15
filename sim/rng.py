"""Named random streams spawned from one root seed.

Every stochastic process draws from its own ``numpy.random.Generator``, keyed by name
rather than by creation order. A baseline and a policy run with the same seed therefore
share common random numbers: switching a lever does not shift the draws of unrelated
processes, and both runs are identical until the policy first acts.
"""

from __future__ import annotations

import zlib

import numpy as np

#: The processes that draw random numbers; a typo in a stream name is an error.
STREAM_NAMES: tuple[str, ...] = (
    "init",  # initial populations
    "research",  # project generation, research durations and outcomes
    "routing",  # logit noise of route and location choices
    "partners",  # which manufacturer or factory becomes a partner
    "pilot",  # pilot-stage (1-10) durations and outcomes
    "industrialisation",  # 10-100 durations and outcomes
    "market",  # market life of products
    "startups",  # startup entry, funding, exit, relocation
    "manufacturing",  # local manufacturers: entry, exit, adoption
    "prd",  # Hong Kong-owned PRD factories: adoption
)


def check_seed(seed: object) -> int:
    """The seed as an int, or a ValueError naming what is allowed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


class Streams:
    """A fixed set of independent generators derived from ``seed``.

    Args:
        seed: the run's root seed (a non-negative integer).
    """

    def __init__(self, seed: int) -> None:
        self.seed = check_seed(seed)
        self._gens = {
            name: np.random.Generator(
                np.random.PCG64(
                    np.random.SeedSequence(self.seed, spawn_key=(zlib.crc32(name.encode()),))
                )
            )
            for name in STREAM_NAMES
        }

    def __getitem__(self, name: str) -> np.random.Generator:
        try:
            return self._gens[name]
        except KeyError:
            raise KeyError(f"unknown random stream {name!r}; known: {STREAM_NAMES}") from None

    def __getattr__(self, name: str) -> np.random.Generator:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._gens[name]
        except KeyError:
            raise AttributeError(f"unknown random stream {name!r}; known: {STREAM_NAMES}") from None
