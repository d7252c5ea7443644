"""``per_user.parquet``: each evaluated user's value of every metric, beside ``metrics.json``.

One row per (user, split, list, metric): ``user`` (graphrec's 0-based user index, the same
for every run on the same data), ``split`` (val | test), ``list`` (all | warm | cold: the
candidate items ranked), ``metric`` (``recall@20``, ...), ``value`` (float32). The means
over users are the figures in ``metrics.json``. Two runs on the same data (the same
``evaluation.heldout`` fingerprint in their records) can then be compared user by user: the
paired tests of ``python -m graphrec.compare`` read it.

Parquet (pyarrow): columnar and compressed, the repeated labels stored once as dictionaries;
~1.5 bytes a value on ml-100k, read back by column without loading the rest.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import pandas as pd

FILE = "per_user.parquet"
LISTS = {"": "all", "_warm": "warm", "_cold": "cold"}  # evaluate()'s suffixes


def heldout_fingerprint(data) -> str:
    """A short hash of the val/test pairs and the warm items: equal for runs whose users and
    held-out lists are the same, so their per-user values can be paired."""
    h = hashlib.sha1()
    for split in ("val", "test"):
        for arr in data.heldout(split):
            h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
    h.update(np.packbits(np.asarray(data.warm_mask, dtype=bool)).tobytes())
    return h.hexdigest()[:16]


def to_frame(split: str, per_user: Dict[str, dict]) -> pd.DataFrame:
    """The long table of one split from ``evaluate(..., per_user=...)``'s dict."""
    parts = []
    for suffix, cols in per_user.items():
        users = np.asarray(cols["user"], dtype=np.int32)
        for metric, values in cols.items():
            if metric == "user":
                continue
            parts.append(pd.DataFrame({"user": users, "split": split,
                                       "list": LISTS.get(suffix, suffix.lstrip("_")),
                                       "metric": metric,
                                       "value": np.asarray(values, dtype=np.float32)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["user", "split", "list", "metric", "value"])


def write(folder: Path, frames) -> Path:
    """Write the splits' tables as one file (atomically: a reader never sees half)."""
    table = pd.concat(list(frames), ignore_index=True)
    for col in ("split", "list", "metric"):
        table[col] = table[col].astype("category")
    path = Path(folder) / FILE
    tmp = path.with_suffix(".parquet.tmp")
    try:
        table.to_parquet(tmp, index=False, compression="zstd")
        tmp.replace(path)
    finally:  # a failed write (a full disk) leaves no temp file
        tmp.unlink(missing_ok=True)
    return path


def read(folder: Path) -> Optional[pd.DataFrame]:
    """The run's table, or None when it has none (runs recorded before it existed)."""
    path = Path(folder) / FILE
    if not path.is_file():
        return None
    return pd.read_parquet(path)


def values(folder: Path, metric: str, split: str = "test", list_: str = "all",
           table: Optional[pd.DataFrame] = None) -> Optional[pd.Series]:
    """One metric's per-user values (a Series indexed by user), or None when not recorded."""
    table = read(folder) if table is None else table
    if table is None:
        return None
    sel = table[(table["split"] == split) & (table["list"] == list_)
                & (table["metric"] == metric)]
    if sel.empty:
        return None
    return pd.Series(sel["value"].to_numpy(np.float64), index=sel["user"].to_numpy(),
                     name=metric).sort_index()
