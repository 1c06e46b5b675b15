"""Named random streams spawned from one root seed.

Every stochastic process draws from its own ``numpy.random.Generator``, keyed by name
and by quarter (as Starsim keys its streams by time step): at the start of quarter ``t`` each
stream is re-derived from ``SeedSequence(seed, spawn_key=(crc32(name), t))``. A policy that
changes how many numbers a process draws in one quarter therefore shifts no draw of any
later quarter, and no draw of another process. Everything a research project will ever need
(success draws, taste shocks, durations) is drawn once when it is created and kept on its
row (``sim.projects``), so a baseline and a policy run with the same seed give the same
project the same luck after the policy starts too.
"""

from __future__ import annotations

import zlib

import numpy as np

#: The processes that draw random numbers; a typo in a stream name is an error.
STREAM_NAMES: tuple[str, ...] = (
    "init",  # initial populations
    "research",  # new research projects, their quality and all their own random numbers
    "startups",  # startup entry, funding, exit; hardware startups' projects
    "manufacturing",  # local manufacturers: entry, exit, adoption
    "prd",  # Hong Kong-owned PRD factories: adoption
)


def check_seed(seed: object) -> int:
    """The seed as an int, or a ValueError naming what is allowed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


#: Added to the quarter index in spawn keys, which must be non-negative (burn-in quarters
#: before 2015Q1 have negative indices; assumption: no run has a longer burn-in).
QUARTER_KEY_OFFSET = 10_000
_NAME_KEYS = {name: zlib.crc32(name.encode()) for name in STREAM_NAMES}


class Streams:
    """A fixed set of independent generators derived from ``seed``, re-keyed every quarter.

    Args:
        seed: the run's root seed (a non-negative integer).
    """

    def __init__(self, seed: int) -> None:
        self.seed = check_seed(seed)
        self._gens: dict[str, np.random.Generator] = {}
        self._key = 0
        self.begin_quarter(-QUARTER_KEY_OFFSET)  # the "init" quarter, before any burn-in

    def begin_quarter(self, t: int) -> None:
        """Re-derive every stream for quarter ``t`` (0 is 2015Q1; negative in the burn-in).

        A stream's generator is made when the quarter first draws from it (a quarter uses
        few of them, and making one costs as much as many draws); it is the same generator
        whenever it is made, so this changes no number.
        """
        key = t + QUARTER_KEY_OFFSET
        if key < 0:
            raise ValueError(f"quarter {t} is before the earliest keyed quarter")
        self._key = key
        self._gens = {}

    def _make(self, name: str) -> np.random.Generator:
        seq = np.random.SeedSequence(self.seed, spawn_key=(_NAME_KEYS[name], self._key))
        gen = self._gens[name] = np.random.Generator(np.random.PCG64(seq))
        return gen

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._gens.get(name)
        if gen is not None:
            return gen
        if name not in _NAME_KEYS:
            raise KeyError(f"unknown random stream {name!r}; known: {STREAM_NAMES}")
        return self._make(name)

    def __getattr__(self, name: str) -> np.random.Generator:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(*e.args) from None
