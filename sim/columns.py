"""Growable columnar storage: the numeric state of a population lives here, not in objects.

ARCHITECTURE.md measured object-per-agent updates at 75-120x the cost of vectorised array
updates, so every agent type keeps its numbers in a ``Columns`` table and updates them all
at once. Rows are never deleted (an exit flips ``alive``), so a row index is a stable id.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class Columns:
    """A table of equally long 1-D numpy columns that can grow by appending rows.

    Args:
        dtypes: column name -> numpy dtype (a subarray dtype such as
            ``np.dtype((np.float64, 5))`` makes a 2-D column of that width).
        capacity: rows allocated up front; doubled when exceeded.
    """

    def __init__(self, dtypes: Mapping[str, np.dtype | type], capacity: int = 1024) -> None:
        self._dtypes = {k: np.dtype(v) for k, v in dtypes.items()}
        self._cap = max(int(capacity), 16)
        self._data = {k: np.zeros(self._cap, dtype=dt) for k, dt in self._dtypes.items()}
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, name: str) -> np.ndarray:
        """A writable view of the used rows of one column."""
        return self._data[name][: self.n]

    def __setitem__(self, name: str, values: np.ndarray | float | int) -> None:
        self._data[name][: self.n] = values

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._dtypes)

    def append(self, k: int, **values: np.ndarray | float | int) -> np.ndarray:
        """Append ``k`` rows; unnamed columns are zero. Returns the new row indices."""
        unknown = set(values) - set(self._dtypes)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)}")
        if self.n + k > self._cap:
            new_cap = max(self._cap * 2, self.n + k)
            for name, arr in self._data.items():
                grown = np.zeros((new_cap, *arr.shape[1:]), dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._data[name] = grown
            self._cap = new_cap
        rows = np.arange(self.n, self.n + k)
        for name, v in values.items():
            self._data[name][self.n : self.n + k] = v
        self.n += k
        return rows
