"""``data=clcrec``: a CLCRec/MMGCN ``Data/<name>/`` folder, read as it is.

Item ids in every file are offset by the number of users (items ``n_users..``); they come out
0-based. Files:

* ``train.npy``: int ``[N, 2]`` rows ``[user, item]``; when absent, the pairs are rebuilt from
  ``user_item_train_dict.npy`` (a pickled ``{user: set(items)}``).
* ``val_full.npy``, ``test_full.npy``: pickled rows ``[user, item, item, ...]``; a row may hold
  only the user.
* ``warm_set.npy``, ``cold_set.npy`` (optional): item ids. The first item id gives the number
  of users; without them every item is warm and the users are 0..max user id.
* ``feat_v``/``feat_a``/``feat_t`` ``.npy`` or ``.pt`` (optional): float ``[n_items, d]``.

``val_warm``/``val_cold``/``test_warm``/``test_cold`` are not read: they are the full lists
split by the warm/cold sets, which the evaluation does itself.
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import features as feats
from .cache import cached
from ..errors import DataError
from .interactions import Interactions, csr_from_pairs
from .safe_npy import load_matrix, load_npy
from .synthetic import MODALITIES

log = logging.getLogger(__name__)

TRAIN_FILES = ("train.npy", "user_item_train_dict.npy")


@dataclass
class Rows:
    """Pairs read from one file, with where each came from for error messages."""

    file: Path
    row_users: np.ndarray  # the user of each row (or dict entry)
    pair_rows: np.ndarray  # the row of each (user, item) pair
    items: np.ndarray      # raw (offset) item ids
    label: str = "row"     # what a row is called in messages

    @property
    def users(self) -> np.ndarray:
        return self.row_users[self.pair_rows]

    def where(self, row: int) -> str:
        if self.label == "row":
            return f"{self.file}: row {row}"
        return f"{self.file}: entry of user {self.row_users[row]}"


def _flatten(seqs, file: Path, label: str, what: str) -> Tuple[np.ndarray, np.ndarray]:
    """(lengths, all values) of a sequence of integer sequences, or a DataError at the
    first row that is not one."""
    try:
        lens = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
        flat = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64,
                           count=int(lens.sum()))
    except (TypeError, ValueError, OverflowError):
        for i, seq in enumerate(seqs):
            ok = hasattr(seq, "__len__") and all(isinstance(x, (int, np.integer)) for x in seq)
            if not ok:
                raise DataError(f"{file}: {label} {i}: expected {what}, got {seq!r:.80}") from None
        raise
    return lens, flat


def read_train_pairs(path: Path) -> Rows:
    if path.name == "train.npy":
        a = load_npy(path)
        if a.ndim != 2 or a.shape[1] != 2 or not np.issubdtype(a.dtype, np.integer):
            raise DataError(f"{path}: expected an integer array of shape (N, 2) with rows "
                            f"[user, item], got {a.dtype} {a.shape}")
        a = a.astype(np.int64, copy=False)
        return Rows(path, a[:, 0], np.arange(len(a)), a[:, 1])
    a = load_npy(path)
    d = a.item() if a.ndim == 0 else None
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a pickled dict {{user: set(items)}}, got "
                        f"{type(d if d is not None else a).__name__} {a.shape}")
    try:
        users = np.fromiter(d, dtype=np.int64, count=len(d))
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{path}: a key is not an integer user id") from None
    lens, items = _flatten(list(d.values()), path, "entry", "a set of item ids")
    return Rows(path, users, np.repeat(np.arange(len(d)), lens), items, label="entry")


def read_heldout(path: Path) -> Rows:
    """Rows ``[user, item, ...]``: the first value is the user."""
    a = load_npy(path)
    if a.ndim not in (1, 2):
        raise DataError(f"{path}: expected one row [user, item, ...] per entry, got shape "
                        f"{a.shape}")
    lens, flat = _flatten(a, path, "row", "[user, item, ...] integers")
    if len(lens) and lens.min() == 0:
        raise DataError(f"{path}: row {int(np.argmin(lens))} is empty; a row holds "
                        "[user, item, ...]")
    starts = np.cumsum(lens) - lens
    is_item = np.ones(len(flat), dtype=bool)
    is_item[starts] = False
    return Rows(path, flat[starts], np.repeat(np.arange(len(lens)), lens - 1), flat[is_item])


def read_item_set(path: Path) -> np.ndarray:
    a = load_npy(path)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise DataError(f"{path}: expected a 1-D integer array of item ids, got {a.dtype} "
                        f"{a.shape}")
    return a.astype(np.int64, copy=False)


def _first_bad(bad: np.ndarray) -> Optional[int]:
    idx = np.flatnonzero(bad)
    return int(idx[0]) if len(idx) else None


def _check_users(rows: Rows, n_users: int) -> None:
    r = _first_bad((rows.row_users < 0) | (rows.row_users >= n_users))
    if r is not None:
        raise DataError(f"{rows.where(r)}: unknown user {rows.row_users[r]} (users are "
                        f"0..{n_users - 1}; item ids start at {n_users})")


def _check_items(rows: Rows, n_users: int, n_items: int) -> None:
    local = rows.items - n_users
    i = _first_bad((local < 0) | (local >= n_items))
    if i is not None:
        raise DataError(f"{rows.where(rows.pair_rows[i])}: item id {rows.items[i]} out of "
                        f"range {n_users}..{n_users + n_items - 1}")


def source_files(folder: Path) -> Dict[str, Path]:
    """Role -> file for the files that make the interactions (features are read apart)."""
    if not folder.is_dir():
        raise DataError(f"{folder}: CLCRec data folder not found")
    train = next((folder / f for f in TRAIN_FILES if (folder / f).is_file()), None)
    if train is None:
        raise DataError(f"{folder}: no training pairs: expected {' or '.join(TRAIN_FILES)}")
    files = {"train": train}
    for role in ("val_full", "test_full", "warm_set", "cold_set"):
        path = folder / f"{role}.npy"
        if path.is_file():
            files[role] = path
        elif role.endswith("_full"):
            raise DataError(f"{path}: file not found (held-out rows [user, item, ...])")
    return files


def _csr(rows: Rows, n_users: int, dropped: Dict[str, int]):
    indptr, indices = csr_from_pairs(rows.users, rows.items - n_users, n_users)
    if len(indices) < len(rows.items):
        dropped[rows.file.name] = len(rows.items) - len(indices)
        log.warning("%s: dropped %d duplicate (user, item) pairs", rows.file,
                    dropped[rows.file.name])
    return indptr, indices


def build(files: Dict[str, Path]) -> Interactions:
    train = read_train_pairs(files["train"])
    val, test = read_heldout(files["val_full"]), read_heldout(files["test_full"])
    sets = {k: read_item_set(files[k]) for k in ("warm_set", "cold_set") if k in files}
    if not len(train.items):
        raise DataError(f"{train.file}: empty training set")
    set_ids = [a for a in sets.values() if len(a)]
    if set_ids:  # items are numbered right after the users
        n_users = int(min(a.min() for a in set_ids))
        n_items = int(max(a.max() for a in set_ids)) - n_users + 1
    else:
        n_users = 1 + int(max(r.row_users.max(initial=-1) for r in (train, val, test)))
        n_items = int(max(r.items.max(initial=n_users) for r in (train, val, test))) - n_users + 1
    for rows in (train, val, test):
        _check_users(rows, n_users)
        _check_items(rows, n_users, n_items)

    warm_mask = np.ones(n_items, dtype=bool)
    if "warm_set" in sets:  # items outside warm_set are cold
        warm_mask[:] = False
        warm_mask[sets["warm_set"] - n_users] = True
    if "cold_set" in sets:
        cold = sets["cold_set"] - n_users
        i = _first_bad(warm_mask[cold]) if "warm_set" in sets else None
        if i is not None:
            raise DataError(f"{files['cold_set']}: row {i}: item {sets['cold_set'][i]} is "
                            "also in warm_set.npy")
        warm_mask[cold] = False
    i = _first_bad(~warm_mask[train.items - n_users])
    if i is not None:
        raise DataError(f"{train.where(train.pair_rows[i])}: item {train.items[i]} is cold "
                        "(not in warm_set.npy / in cold_set.npy) but appears in training")

    dropped: Dict[str, int] = {}
    tr, va, te = (_csr(r, n_users, dropped) for r in (train, val, test))
    meta = {"format": "clcrec", "train_source": files["train"].name}
    if dropped:
        meta["duplicates_dropped"] = dropped
    return Interactions(n_users=n_users, n_items=n_items,
                        train_indptr=tr[0], train_indices=tr[1], val_indptr=va[0],
                        val_indices=va[1], test_indptr=te[0], test_indices=te[1],
                        warm_mask=warm_mask, meta=meta)


def _read_feature(path: Path, n_items: int) -> np.ndarray:
    x = load_matrix(path)
    if x.shape[0] != n_items:
        raise DataError(f"{path}: expected a float array of shape ({n_items}, dim), got "
                        f"{x.dtype} {x.shape}")
    return x


def read_features(folder: Path, n_items: int) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """The ``feat_<m>`` files found (``.npy`` before ``.pt``) and the names not found."""
    found, missing = {}, []
    for m in MODALITIES:
        path = next((p for p in (folder / f"feat_{m}.npy", folder / f"feat_{m}.pt")
                     if p.is_file()), None)
        if path is None:
            missing.append(f"feat_{m}")
        else:
            found[m] = _read_feature(path, n_items)
    return found, missing


def load(cfg) -> Interactions:
    feats.check_mode(cfg.features)
    folder = Path(cfg.path).expanduser()
    files = source_files(folder)
    data = cached(cfg.cache_dir, "clcrec", cfg.name, files.values(), {}, lambda: build(files))
    data.meta["path"] = str(folder)  # not cached: a copied folder hits the same entry
    found, missing = ({}, []) if cfg.features == "none" else read_features(folder, data.n_items)
    if missing and cfg.features != "none":
        data.meta["features_missing"] = missing
        log.info("%s: no %s (.npy or .pt)", folder, "/".join(missing))
    feats.apply(data, cfg.features, found, "file", cfg.feat_dims, cfg.seed, str(folder))
    if cfg.exclude_heldout:
        data.exclude_heldout()
        data.meta["exclude_heldout"] = True
    return data
