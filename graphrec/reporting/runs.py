"""Find run folders and read their records: ``.hydra/config.yaml`` and ``metrics.json``.

A run folder is any folder holding ``.hydra/config.yaml`` (single runs under ``outputs/``,
sweep trials under ``multirun/``). A folder without ``metrics.json`` is a run that failed
(``error.txt``, written by the sweeper) or never finished (killed, or still running)."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from omegaconf import OmegaConf

RUN_CONFIG = Path(".hydra") / "config.yaml"


@dataclass
class Run:
    path: Path
    config: dict                      # flat: {"loader.kind": "fast", ...}
    status: str                       # completed | diverged | failed | incomplete
    metrics: dict = field(default_factory=dict)  # samples_per_s, epoch_s, recall@K, ndcg@K


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


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


def load_run(path: Path, k: int = 20, split: str = "val") -> Run:
    config = flatten(OmegaConf.to_container(OmegaConf.load(path / RUN_CONFIG), resolve=False))
    record_path = path / "metrics.json"
    if not record_path.is_file():
        status = "failed" if (path / "error.txt").is_file() else "incomplete"
        return Run(path, config, status)
    record = json.loads(record_path.read_text())
    scores = record.get(split, {})
    throughput = record.get("throughput", {})
    metrics = {"samples_per_s": _number(throughput.get("samples_per_s")),
               "epoch_s": _number(throughput.get("epoch_s")),
               f"recall@{k}": _number(scores.get(f"recall@{k}")),
               f"ndcg@{k}": _number(scores.get(f"ndcg@{k}"))}
    return Run(path, config, record.get("status", "completed"), metrics)
