"""Growable columnar storage: the numeric state of a population lives here, not in objects.

ARCHITECTURE.md measured object-per-agent updates at 75-120x the cost of vectorised array
updates, so every agent type keeps its numbers in a ``Columns`` table and updates them all
at once. Rows are never deleted (an exit flips ``alive``), so a row index is a stable id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class Columns(dict[str, np.ndarray]):
    """A table of equally long 1-D numpy columns that can grow by appending rows.

    ``cols[name]`` is a writable view of the used rows of one column. The table is a dict of
    those views, refreshed on every append, so reading a column is a plain dict lookup: a
    quarter reads columns thousands of times and appends a few times (docs/performance.md).
    ``len(cols)`` is the number of rows; iterating gives the column names.

    Args:
        dtypes: column name -> numpy dtype (a subarray dtype such as
            ``np.dtype((np.float64, 5))`` makes a 2-D column of that width).
        capacity: rows allocated up front; doubled when exceeded.
    """

    def __init__(self, dtypes: Mapping[str, np.dtype | type], capacity: int = 1024) -> None:
        super().__init__()
        self._dtypes = {k: np.dtype(v) for k, v in dtypes.items()}
        self._cap = max(int(capacity), 16)
        self._data = {k: np.zeros(self._cap, dtype=dt) for k, dt in self._dtypes.items()}
        self.n = 0
        self._refresh()

    def _refresh(self) -> None:
        """Point every column's view at the used rows of its storage."""
        n, put = self.n, super().__setitem__
        for name, arr in self._data.items():
            put(name, arr[:n])

    def __len__(self) -> int:
        return self.n

    def __setitem__(self, name: str, values: np.ndarray | float | int) -> None:
        """Write ``values`` into the used rows of column ``name`` (it must exist)."""
        self._data[name][: self.n] = values

    def __reduce__(self) -> tuple[Any, ...]:
        # The views are rebuilt from the storage, so a copy shares nothing with the original.
        return (_rebuild, (type(self), dict(self.__dict__)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._dtypes)

    def append(self, k: int, **values: np.ndarray | float | int) -> np.ndarray:
        """Append ``k`` rows; unnamed columns are zero. Returns the new row indices."""
        unknown = values.keys() - self._dtypes.keys()
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
        self._refresh()
        return rows


def _rebuild(cls: type[Columns], state: dict[str, Any]) -> Columns:
    """A ``Columns`` (or subclass) from its attributes, with fresh views (for pickle, copy)."""
    table = dict.__new__(cls)
    table.__dict__.update(state)
    table._refresh()
    return table
