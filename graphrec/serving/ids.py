"""External ids: users and items as the data files name them, and their row in the tables."""
from __future__ import annotations

from typing import Iterable, List

import numpy as np
import pandas as pd

from ..errors import UsageError


def plain_array(values) -> np.ndarray:
    """int64 when every id is an integer, else unicode: both save and load without pickle."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    return np.asarray([str(v) for v in values.tolist()], dtype=str)


def split_ids(given: Iterable[str]) -> List[str]:
    """``["1,2", "3"]`` -> ``["1", "2", "3"]``: ids may be given space- or comma-separated."""
    return [part for g in given for part in str(g).split(",") if part != ""]


class Ids:
    """The external id of each row (``values[row]``) and the reverse look-up."""

    def __init__(self, values, what: str):
        self.values = plain_array(values)
        self.what = what  # "user" or "item", for messages
        self._index = None

    def __len__(self) -> int:
        return len(self.values)

    def rows(self, given: Iterable[str]) -> np.ndarray:
        """The rows of these ids, in the order given; one unknown id is a UsageError."""
        given = list(given)
        if self._index is None:
            self._index = pd.Index(self.values)
        if self.values.dtype.kind == "i":
            keys = [int(g) if _is_int(g) else None for g in given]
        else:
            keys = [str(g) for g in given]
        rows = self._index.get_indexer([k if k is not None else -(2**62) for k in keys])
        bad = [g for g, r in zip(given, rows) if r < 0]
        if bad:
            raise UsageError(f"unknown {self.what} id {bad[0]!r}"
                             f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}: "
                             f"not among the {len(self)} {self.what}s of the training data "
                             f"(ids as in the data files, e.g. {self.example()})")
        return rows.astype(np.int64)

    def example(self) -> str:
        shown = ", ".join(str(v) for v in self.values[:3].tolist())
        return shown + (", ..." if len(self) > 3 else "")


def _is_int(text) -> bool:
    try:
        int(text)
    except (TypeError, ValueError):
        return False
    return True
