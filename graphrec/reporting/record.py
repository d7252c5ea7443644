"""The run record: ``metrics.json`` (atomic) and ``epochs.csv`` (appended as the run goes)."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

METRICS = ("recall", "ndcg", "precision", "hit")
CURVE_COLUMNS = ("epoch", "step", "samples", "train_s", "eval_s", "wall_s", "loss",
                 "samples_per_s", "epoch_s")


def write_json(path: Path, obj) -> None:
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=float))
    os.replace(tmp, path)


def epoch_columns(ks: Sequence[int]) -> list:
    """Every column a run's ``epochs.csv`` may have, known before the first row."""
    return [*CURVE_COLUMNS, *(f"val_{m}@{k}" for k in ks for m in METRICS), "status"]


class EpochsCsv:
    """``epochs.csv``, one row per epoch end and per validation, flushed as each is written,
    so a killed run keeps its curve and a running one can be watched (``tail -f``).

    Opening rewrites the file from ``rows`` (the rows a resumed run restored), so rows written
    after its checkpoint by the interrupted run do not appear twice."""

    def __init__(self, path: Path, columns: Sequence[str], rows: Iterable[dict] = ()):
        self.columns = list(columns)
        self._fh = open(path, "w", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        for row in rows:
            self._writer.writerow(row)
        self._fh.flush()

    def append(self, row: dict) -> None:
        self._writer.writerow(row)
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
