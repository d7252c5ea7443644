"""Minimal run folders as training leaves them, for compare's readers: a config, metrics.json,
epochs.csv and, when given, per_user.parquet."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from graphrec.reporting import per_user


def write_run(folder: Path, model="mf", data="synthetic", seed=0, label="", record=None,
              curve=None, users=None, n_train=1000) -> Path:
    """``record``: metrics.json's keys (status completed unless given); ``curve``: (wall s,
    val recall@20) per validation for epochs.csv; ``users``: {(split, list): {metric: values
    per user}} for per_user.parquet."""
    folder.mkdir(parents=True)
    (folder / ".hydra").mkdir()
    config = {"model": {"name": model}, "data": {"name": data},
              "trainer": {"seed": seed}, "sweep": {"label": label}}
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "metrics.json").write_text(json.dumps(
        {"status": "completed", "data": {"n_train": n_train}, **(record or {})}))
    if curve is not None:
        rows = [{"epoch": i, "samples": n_train * (i + 1), "wall_s": wall,
                 "val_recall@20": value} for i, (wall, value) in enumerate(curve)]
        pd.DataFrame(rows).to_csv(folder / "epochs.csv", index=False)
    if users is not None:
        frames = []
        for (split, list_), metrics in users.items():
            n = len(next(iter(metrics.values())))
            cols = {"user": np.arange(n), **metrics}
            frames.append(per_user.to_frame(split, {"" if list_ == "all" else f"_{list_}": cols}))
        per_user.write(folder, frames)
    return folder
