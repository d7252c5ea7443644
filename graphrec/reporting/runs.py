"""Find run folders and read their records: ``.hydra/config.yaml``, ``metrics.json`` and
``epochs.csv``.

A run folder is any folder holding ``.hydra/config.yaml`` (single runs under ``outputs/``,
sweep trials under ``multirun/``). Its status is ``metrics.json``'s (completed, diverged, oom,
interrupted, pruned, error); without ``metrics.json`` it is ``error`` when the sweeper left an
``error.txt``, else ``incomplete`` (killed, or still running)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from .run_record import RunRecord

RUN_CONFIG = Path(".hydra") / "config.yaml"


@dataclass
class Run:
    path: Path
    config: dict                      # flat: {"loader.kind": "fast", ...}
    status: str                       # completed | diverged | oom | pruned | error | ...
    metrics: dict = field(default_factory=dict)  # samples_per_s, epoch_s, recall@K, ndcg@K
    error: str = ""                   # metrics.json "error", else error.txt's first line
    target: dict = field(default_factory=dict)   # metrics.json "target" as written
    epochs: Optional[pd.DataFrame] = None        # epochs.csv; None when absent
    heldout: str = ""                 # metrics.json evaluation.heldout: pair only equal ones


def natural_key(path: Path) -> list:
    """Sort trial folders 2 before 10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def find_runs(paths: Iterable) -> list:
    """Run folders in the order the paths are given, each path's in natural order."""
    found: dict = {}
    for root in map(Path, paths):
        runs = [cfg.parent.parent.resolve() for cfg in root.glob(f"**/{RUN_CONFIG}")]
        found.update(dict.fromkeys(sorted(runs, key=natural_key)))
    return list(found)


def flatten(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: str(node) if isinstance(node, list) else node}


def number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else math.nan


def _first_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    return next((line for line in lines if line), "")


def _read_epochs(path: Path) -> Optional[pd.DataFrame]:
    try:  # a running run appends to it: a half-written last line must not stop compare
        return pd.read_csv(path, on_bad_lines="skip")
    except (OSError, ValueError):
        return None


def load_run(path: Path, k: int = 20, split: str = "val") -> Run:
    config = flatten(OmegaConf.to_container(OmegaConf.load(path / RUN_CONFIG), resolve=False))
    epochs = _read_epochs(path / "epochs.csv")
    error = _first_line(path / "error.txt") if (path / "error.txt").is_file() else ""
    record_path = path / "metrics.json"
    if not record_path.is_file():
        return Run(path, config, "error" if error else "incomplete", error=error, epochs=epochs)
    record = RunRecord.load(record_path)
    scores, throughput = record.split(split), record.throughput
    metrics = {"samples_per_s": number(throughput.samples_per_s),
               "epoch_s": number(throughput.epoch_s),
               f"recall@{k}": number(scores.get(f"recall@{k}")),
               f"ndcg@{k}": number(scores.get(f"ndcg@{k}"))}
    return Run(path, config, record.status, metrics,
               error=str(record.error or error),
               target=record.target.to_json() if record.target else {},
               epochs=epochs, heldout=str(record.evaluation.heldout or ""))


def val_curve(run: Run, metric: str) -> Optional[tuple]:
    """(wall seconds, val ``metric``) at each evaluation of the run, or None for a run without
    that clock (runs recorded before ``wall_s`` existed) or without that metric."""
    epochs, column = run.epochs, f"val_{metric}"
    if epochs is None or "wall_s" not in epochs or column not in epochs:
        return None
    wall = pd.to_numeric(epochs["wall_s"], errors="coerce").to_numpy(float)
    value = pd.to_numeric(epochs[column], errors="coerce").to_numpy(float)
    keep = np.isfinite(wall) & np.isfinite(value)
    if not keep.any():
        return None
    order = np.argsort(wall[keep], kind="stable")
    return wall[keep][order], value[keep][order]


def time_to_target(run: Run, metric: Optional[str] = None, value: Optional[float] = None):
    """(reached, wall seconds to reach it) for one run; reached is None when unknown.

    ``value`` None: the run's own ``metrics.json`` target. Else post hoc: the ``wall_s`` of the
    first evaluation whose val ``metric`` >= ``value``, so runs made with another target (or
    none) compare on one target."""
    if value is None:
        if math.isnan(number(run.target.get("value"))):  # no target was set
            return None, math.nan
        reached = bool(run.target.get("target_reached"))
        return reached, number(run.target.get("time_to_target_s")) if reached else math.nan
    curve = val_curve(run, metric)
    if curve is None:
        return None, math.nan
    hits = np.flatnonzero(curve[1] >= value)
    if hits.size:
        return True, float(curve[0][hits[0]])
    return (None if run.status == "incomplete" else False), math.nan  # a running run may yet
