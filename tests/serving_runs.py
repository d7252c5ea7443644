"""Tiny trained run folders for the serving tests: train(cfg) in-process, then the config
where Hydra leaves it (``.hydra/config.yaml``), as ``python train.py`` would."""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import OmegaConf

from conftest import make_cfg
from graphrec.training import train


def train_run(folder: Path, overrides=(), tiny: bool = True) -> Path:
    cfg = make_cfg(list(overrides), tiny)
    logging.getLogger("graphrec").setLevel(logging.WARNING)
    metrics = train(cfg, out_dir=str(folder))
    assert metrics["status"] == "completed", metrics
    (folder / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(cfg, folder / ".hydra" / "config.yaml")
    return folder


def write_ml100k(folder: Path, n_users: int = 40, n_items: int = 30, seed: int = 0) -> Path:
    """u.data and u.item with MovieLens ids (users from 101, items from 501) and titles."""
    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for u in range(n_users):
        for i in rng.choice(n_items, size=12, replace=False):
            lines.append(f"{101 + u}\t{501 + i}\t{1 + (u + i) % 5}\t{1000 + u * 50 + i}\n")
    (folder / "u.data").write_text("".join(lines))
    flags = "|".join(["0"] * 19)
    (folder / "u.item").write_text("".join(
        f"{501 + i}|Movie {i} ({1950 + i})|01-Jan-1995||http://x|{flags}\n"
        for i in range(n_items)), encoding="latin-1")
    return folder
