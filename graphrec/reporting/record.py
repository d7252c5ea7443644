"""The run record: ``metrics.json`` (atomic), ``epochs.csv`` (appended as the run goes), the
error record of a run stopped by bad input, and the summary printed at the end."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

from .run_record import RunRecord

METRICS = ("recall", "ndcg", "precision", "hit")
# What a run folder may hold, in the order the summary names them (those present).
RUN_FILES = ("metrics.json", "epochs.csv", "best.pt", "per_user.parquet", "last.pt")
CURVE_COLUMNS = ("epoch", "step", "samples", "train_s", "eval_s", "wall_s", "loss",
                 "samples_per_s", "epoch_s")


def write_json(path: Path, obj) -> None:
    """Atomic: a temp file, fsynced, renamed over ``path``; a failed write (a full disk)
    raises and leaves the previous file, and no temp file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        with open(tmp, "w") as fh:
            fh.write(json.dumps(obj, indent=2, sort_keys=False, default=float))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def epoch_columns(ks: Sequence[int]) -> list:
    """Every column a run's ``epochs.csv`` may have, known before the first row."""
    return [*CURVE_COLUMNS, *(f"val_{m}@{k}" for k in ks for m in METRICS), "status"]


class EpochsCsv:
    """``epochs.csv``, one row per epoch end and per validation, flushed as each is written,
    so a killed run keeps its curve and a running one can be watched (``tail -f``).

    Opening rewrites the file from ``rows`` (the rows a resumed run restored), so rows written
    after its checkpoint by the interrupted run do not appear twice; it is written aside and
    renamed over the old one, so a failed rewrite (a full disk) leaves the old file."""

    def __init__(self, path: Path, columns: Sequence[str], rows: Iterable[dict] = ()):
        self.columns = list(columns)
        tmp = Path(path).with_suffix(".csv.tmp")
        self._fh = open(tmp, "w", newline="")
        try:
            self._writer = csv.DictWriter(self._fh, fieldnames=self.columns,
                                          extrasaction="ignore")
            self._writer.writeheader()
            for row in rows:
                self._writer.writerow(row)
            self._fh.flush()
            os.replace(tmp, path)  # the open file goes on as ``path``
        except BaseException:
            try:
                self._fh.close()
            except OSError:
                pass
            tmp.unlink(missing_ok=True)
            raise

    def append(self, row: dict) -> None:
        self._writer.writerow(row)
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def summary(cfg, metrics, out_dir: str) -> str:
    """The few lines a person reads at the end of a run (``metrics``: a RunRecord or its
    JSON)."""
    record = metrics if isinstance(metrics, RunRecord) else RunRecord.from_json(metrics)
    ks = sorted(cfg.trainer.ks)
    lines = [f"best validation at epoch {record.best_epoch} of {record.epochs_run} "
             f"(stopped by {record.stop_reason})"]
    for split in ("val", "test"):
        for part in ("", "_warm", "_cold"):
            scores = record.split(split + part)
            if scores:
                lines.append(f"  {split + part:<10} " + "  ".join(
                    f"Recall@{k} {scores[f'recall@{k}']:.4f}  NDCG@{k} {scores[f'ndcg@{k}']:.4f}"
                    for k in ks))
    tp = record.throughput
    lines.append(f"{tp.samples_per_s:,.0f} samples/s | {tp.wall_s:.1f} s on the clock, "
                 f"{tp.eval_s:.1f} s of it validating")
    target = record.target
    if target:
        lines.append(f"target val {target.metric} >= {target.value:g}: " + (
            f"reached after {target.time_to_target_s:.1f} s "
            f"({target.epochs_to_target:.2f} epochs)" if target.target_reached
            else "not reached"))
    kept = [f for f in RUN_FILES if (Path(out_dir) / f).exists()] or list(RUN_FILES[:3])
    lines.append(f"run folder: {out_dir} ({', '.join(kept)})")
    return "\n".join(lines)


def record_error(out_dir: str, exc: Exception, keep=None) -> None:
    """A run stopped by bad input says so in its folder (compare shows ``error``); never in
    ``keep``, the interrupted run a resume was asked to continue."""
    folder = Path(out_dir)
    if folder.is_dir() and not (keep and folder.resolve() == Path(keep).resolve()):
        (folder / "error.txt").write_text(f"{exc}\n")
        write_json(folder / "metrics.json", {"status": "error", "error": str(exc)})
