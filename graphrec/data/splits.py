"""Splits shared with RecBole: its per-user ratio rule, and splits written out as files.

* :func:`recbole_rs_counts` / :func:`recbole_rs_split`: RecBole 1.2.1's ``eval_args:
  {split: {RS: [0.8, 0.1, 0.1]}, group_by: user, order: RO}`` (its default). Per user, the
  number of train/valid/test pairs is what ``Dataset._calcu_split_ids`` gives: every share
  but the first is ``int(ratio * n)`` (rounded down), the first takes the rest, then, while
  the first share keeps more than one pair, a share whose ``ratio * n`` lies in (0, 1) gets one
  pair from it (test first, then valid). On ml-100k that is 80,808 / 9,596 / 9,596. Which
  pairs land where is a uniform shuffle, as RecBole's, but from numpy's generator, so the
  pairs themselves differ from a RecBole run; only the sizes per user are the same.
* :func:`find_split_files` / :func:`read_split_files`: a split someone wrote out, read as
  is. RecBole's convention (``benchmark_filename: [train, valid, test]``) is
  ``<name>.train.inter``, ``<name>.valid.inter``, ``<name>.test.inter`` in the dataset folder;
  plain ``train.csv``/``valid.csv``/``test.csv`` (or ``.tsv``) with a ``user,item`` header
  are read too.
* :func:`write_split`: graphrec's split written out in those formats (``python -m
  graphrec.data.export_split``), so RecBole trains and ranks on the very same pairs.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from ..errors import DataError, UsageError
from .interactions import Interactions, csr_from_pairs
from .ratings import read_ratings  # the .inter reader: header and line checks

log = logging.getLogger(__name__)

PARTS = ("train", "valid", "test")  # RecBole's benchmark_filename suffixes, in split order
PLAIN_EXT = (".csv", ".tsv")
USER_COLS = ("user", "user_id", "userId", "userid")
ITEM_COLS = ("item", "item_id", "itemId", "itemid", "movieId")


# ----------------------------------------------------------------------------- RecBole's RS rule
def recbole_rs_counts(n, ratios: Sequence[float]) -> np.ndarray:
    """``[len(n), len(ratios)]`` pair counts per group of ``n`` pairs, as RecBole 1.2.1's
    ``Dataset._calcu_split_ids(tot=n, ratios)`` (after ``split_by_ratio`` normalises the
    ratios by their sum), vectorised; the float arithmetic is the same, so is the rounding."""
    n = np.atleast_1d(np.asarray(n, dtype=np.int64))
    tot_ratio = sum(ratios)  # Python's left-to-right float sum, as RecBole
    ratios = [r / tot_ratio for r in ratios]
    nf = n.astype(np.float64)
    shares = [r * nf for r in ratios]  # float64 products, as ratios[i] * tot in Python
    cnt = np.stack([s.astype(np.int64) for s in shares], axis=1)  # int(): truncation
    cnt[:, 0] = n - cnt[:, 1:].sum(axis=1)
    active = np.ones(len(n), dtype=bool)
    for i in range(1, len(ratios)):  # test first, then valid, ..., while the first keeps > 1
        active &= cnt[:, 0] > 1  # RecBole breaks out of its loop: stays inactive
        bump = active & (shares[-i] > 0) & (shares[-i] < 1)
        cnt[:, len(ratios) - i] += bump
        cnt[:, 0] -= bump
    return cnt


def recbole_rs_split(rng: np.random.Generator, users: np.ndarray, items: np.ndarray,
                     n_users: int, ratios: Sequence[float]):
    """Per user, a uniform shuffle of its pairs cut at RecBole's counts: [(indptr, indices)]
    for train, valid, test. Every item stays a candidate (RecBole has no cold items)."""
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    order = np.lexsort((rng.random(len(users)), users))  # shuffled within each user
    users, items = users[order], items[order]
    deg = np.bincount(users, minlength=n_users)
    start = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(deg, out=start[1:])
    rank = np.arange(len(users)) - start[users]
    bounds = np.cumsum(recbole_rs_counts(deg, ratios), axis=1)  # [n_users, 3]
    part = (rank[:, None] >= bounds[users][:, :-1]).sum(axis=1)  # 0 train, 1 valid, 2 test
    return [csr_from_pairs(users[part == s], items[part == s], n_users)
            for s in range(len(ratios))]


# ----------------------------------------------------------------------------- split files
def _plain(folder: Path) -> Optional[List[Path]]:
    for ext in PLAIN_EXT:
        files = [folder / f"{p}{ext}" for p in PARTS]
        if files[0].is_file():
            return files
    return None


def find_split_files(path: Path) -> Tuple[List[Path], str]:
    """The train/valid/test files at ``path`` (their folder, or one of them) and their
    format: ``inter`` (RecBole atomic) or ``plain`` (csv/tsv)."""
    if path.is_file():
        folder, name = path.parent, path.name
        for p in PARTS:
            if name.endswith(f".{p}.inter"):
                token = name[: -len(f".{p}.inter")]
                files, fmt = [folder / f"{token}.{q}.inter" for q in PARTS], "inter"
                break
            if name in (f"{p}{ext}" for ext in PLAIN_EXT):
                files, fmt = [folder / f"{q}{path.suffix}" for q in PARTS], "plain"
                break
        else:
            raise DataError(f"{path}: not a split file: data.split=files reads NAME.train.inter"
                            "/NAME.valid.inter/NAME.test.inter or train/valid/test.csv|.tsv")
    elif path.is_dir():
        folder = path
        trains = sorted(folder.glob("*.train.inter"))
        if len(trains) > 1:  # RecBole reads <dataset>.*.inter, the dataset being the folder
            own = folder / f"{folder.name}.train.inter"
            if own not in trains:
                names = ", ".join(f.name for f in trains)
                raise DataError(f"{folder}: several split files ({names}); set data.path to "
                                "one of them")
            trains = [own]
        if trains:
            token = trains[0].name[: -len(".train.inter")]
            files, fmt = [folder / f"{token}.{q}.inter" for q in PARTS], "inter"
        else:
            files, fmt = _plain(folder), "plain"
            if files is None:
                raise DataError(f"{folder}: no split files for data.split=files: expected "
                                "NAME.train.inter, NAME.valid.inter, NAME.test.inter (RecBole's "
                                "benchmark_filename) or train/valid/test.csv|.tsv")
    else:
        raise DataError(f"{path}: file or folder not found")
    for f in files:
        if not f.is_file():
            raise DataError(f"{f}: file not found (data.split=files needs all of "
                            f"{', '.join(g.name for g in files)})")
    return files, fmt


def _read_plain(file: Path) -> pd.DataFrame:
    sep = "\t" if file.suffix == ".tsv" else ","
    try:
        df = pd.read_csv(file, sep=sep, dtype=str, quoting=csv.QUOTE_NONE, keep_default_na=False,
                         na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{file}: cannot parse as {sep!r}-separated user,item rows ({exc})") \
            from None
    user = next((c for c in USER_COLS if c in df.columns), None)
    item = next((c for c in ITEM_COLS if c in df.columns), None)
    if user is None or item is None:
        raise DataError(f"{file}: line 1: the header needs a user and an item column "
                        f"({'/'.join(USER_COLS)}, {'/'.join(ITEM_COLS)}), got {list(df.columns)}")
    out = df[[user, item]].rename(columns={user: "user", item: "item"})
    if "rating" in df.columns:
        out["rating"] = df["rating"]
    return out


def read_split_files(files: Sequence[Path], fmt: str) -> List[pd.DataFrame]:
    """One frame per file, columns user, item (str tokens)[, rating]; a missing or
    non-numeric value is an error naming the file and line."""
    out = []
    for file in files:
        if fmt == "inter":
            df = read_ratings(file, "recbole")
        else:
            df = _read_plain(file)
            for col in df.columns:
                bad = np.flatnonzero(df[col].isna().to_numpy())
                if col == "rating" and not len(bad):
                    values = pd.to_numeric(df[col], errors="coerce")
                    bad = np.flatnonzero(values.isna().to_numpy())
                    df[col] = values
                if len(bad):
                    raise DataError(f"{file}: line {bad[0] + 2}: missing or non-numeric {col} "
                                    f"({df[col].iloc[bad[0]]!r})")
        out.append(df[[c for c in ("user", "item", "rating") if c in df.columns]])
    return out


def id_order(tokens: pd.Series, numeric: bool) -> pd.Index:
    """The distinct tokens in graphrec's id order: by value when ``numeric`` and every token is
    an integer, else as strings (as the single-file loader orders that format's ids)."""
    uniq = pd.Index(pd.unique(tokens.astype(str)))
    if numeric and len(uniq) and uniq.str.fullmatch(r"-?\d+").all():
        return uniq[np.argsort(uniq.astype(np.int64), kind="stable")]
    return uniq.sort_values()


# ----------------------------------------------------------------------------- writing
def write_split(data: Interactions, folder, name: str = "graphrec", fmt: str = "inter",
                user_ids: Optional[Sequence] = None,
                item_ids: Optional[Sequence] = None) -> List[Path]:
    """Write ``data``'s train/valid/test pairs as ``<name>.train.inter`` ... (``fmt=inter``,
    RecBole's ``benchmark_filename: [train, valid, test]``) or ``train.csv`` ... (``csv``),
    one ``user, item`` row per pair, users then items in id order. ``user_ids``/``item_ids``
    are the tokens written for ids 0..n-1 (the source's own ids); without them, the 0-based
    ids themselves. Files go to temporary names first, then are renamed into place."""
    if fmt not in ("inter", "csv"):
        raise UsageError(f"--format={fmt!r} is invalid: allowed inter|csv")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    uid = np.arange(data.n_users) if user_ids is None else np.asarray(user_ids, dtype=object)
    iid = np.arange(data.n_items) if item_ids is None else np.asarray(item_ids, dtype=object)
    if len(uid) != data.n_users or len(iid) != data.n_items:
        raise ValueError(f"{len(uid)} user ids / {len(iid)} item ids for {data.n_users} users "
                         f"/ {data.n_items} items")
    header = "user_id:token\titem_id:token" if fmt == "inter" else "user,item"
    sep = "\t" if fmt == "inter" else ","
    written = []
    for part, split in zip(PARTS, ("train", "val", "test")):
        indptr, indices = getattr(data, f"{split}_indptr"), getattr(data, f"{split}_indices")
        users = np.repeat(np.arange(data.n_users), np.diff(indptr))
        path = folder / (f"{name}.{part}.inter" if fmt == "inter" else f"{part}.csv")
        tmp = path.with_name(path.name + ".tmp")
        frame = pd.DataFrame({"u": uid[users], "i": iid[indices]})
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(header + "\n")
            frame.to_csv(fh, sep=sep, header=False, index=False)
        tmp.replace(path)
        written.append(path)
    return written
