"""Small data folders the data tests write themselves (nothing is committed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from graphrec.config import ClcrecData, MovielensData

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared/data/clcrec"

# 6 users, 8 items (ids 6..13 on disk): items 0..5 warm, 6..7 cold.
N_USERS, N_ITEMS, N_WARM = 6, 8, 6
TRAIN = {0: {6, 7, 8}, 1: {7, 9}, 2: {8, 10, 11}, 3: {6, 11}, 4: {9, 10}, 5: {6, 7, 8, 9}}
VAL = [[0, 9, 12], [1, 6], [2], [3, 13], [4, 11], [5, 10]]
TEST = [[0, 10], [1, 8, 13], [2, 6], [3, 7], [4], [5, 11, 12]]


def object_rows(rows) -> np.ndarray:
    """A 1-D object array of lists, as the CLCRec files hold (never a 2-D int array)."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = list(row)
    return out


def write_clcrec(folder: Path, train_npy: bool = False, train=None, val=None, test=None,
                 sets: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    train = TRAIN if train is None else train
    if train_npy:
        pairs = [[u, i] for u, items in train.items() for i in sorted(items)]
        np.save(folder / "train.npy", np.array(pairs, dtype=np.int64).reshape(-1, 2))
    else:
        np.save(folder / "user_item_train_dict.npy", np.array(train, dtype=object))
    np.save(folder / "val_full.npy", object_rows(VAL if val is None else val))
    np.save(folder / "test_full.npy", object_rows(TEST if test is None else test))
    if sets:
        np.save(folder / "warm_set.npy", np.arange(N_USERS, N_USERS + N_WARM))
        np.save(folder / "cold_set.npy", np.arange(N_USERS + N_WARM, N_USERS + N_ITEMS))
    return folder


def clcrec_cfg(path, cache_dir, **kw):
    return OmegaConf.merge(OmegaConf.structured(ClcrecData),
                           dict(path=str(path), cache_dir=str(cache_dir), **kw))


def movielens_cfg(path, cache_dir, **kw):
    return OmegaConf.merge(OmegaConf.structured(MovielensData),
                           dict(path=str(path), cache_dir=str(cache_dir), **kw))
