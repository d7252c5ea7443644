"""``data=movielens``: MovieLens rating files and RecBole atomic files, as implicit feedback.

Ratings formats, found by file name and then by the first line:

* ml-100k ``u.data``: ``user<TAB>item<TAB>rating<TAB>timestamp``, no header;
* ml-1m ``ratings.dat``: ``user::item::rating::timestamp``, no header;
* ml-latest(-small) ``ratings.csv``: header ``userId,movieId,rating,timestamp``;
* RecBole ``<name>.inter``: tab-separated, header ``user_id:token  item_id:token
  [rating:float] [timestamp:float]``.

Every rating >= ``min_rating`` counts as a positive (the default 0 keeps all, like RecBole).
Users and items are renumbered 0.. in sorted id order after filtering. Item features come from
the catalogue file next to the ratings (see :mod:`.movielens_items`).

Splits (``data.split``): ``random`` (per-user shuffled shares, at least one val and test pair
for users with 3+), ``cold_items`` (CLCRec's protocol: ``random`` with a share of items held
out of training, each cold item's pairs all in val or all in test), ``loo`` (by time),
``recbole_rs`` (RecBole 1.2.1's per-user RS rule, the
same sizes per user, see :mod:`.splits`) and ``files`` (train/valid/test files written by
someone else, RecBole's ``<name>.train.inter`` ... or ``train.csv`` ..., read as they are).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from . import features as feats
from .cache import cached
from .interactions import Interactions, csr_from_pairs
from .movielens_items import find_item_file, item_features
from .ratings import find_ratings, read_ratings
from .split_rules import random_split  # per-user shuffled split, cold items held out
from .splits import find_split_files, id_order, read_split_files, recbole_rs_split

log = logging.getLogger(__name__)

SPLITS = ("random", "cold_items", "loo", "recbole_rs", "files")
# data.cold_share when left null: CLCRec holds out 20 % of the items (half for val, half test)
COLD_SHARE_DEFAULT = {"cold_items": 0.2}


def kcore_mask(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Rows kept when users and items with fewer than ``k`` interactions are removed, again
    and again until none is left."""
    keep = np.ones(len(users), dtype=bool)
    while True:
        du = np.bincount(users[keep], minlength=users.max(initial=0) + 1)
        di = np.bincount(items[keep], minlength=items.max(initial=0) + 1)
        now = keep & (du[users] >= k) & (di[items] >= k)
        if now.sum() == keep.sum():
            return keep
        keep = now


def loo_split(rng, users, items, ts, warm_mask, n_users):
    """Per user by time: the latest warm interaction is test, the one before val, the rest
    train (users with under 3 keep all in train); cold items go to val/test at random."""
    split = np.zeros(len(users), dtype=np.int8)
    is_cold = ~warm_mask[items]
    split[is_cold] = 1 + (rng.random(is_cold.sum()) < 0.5)
    warm = np.flatnonzero(~is_cold)
    order = warm[np.lexsort((warm, ts[warm], users[warm]))]  # by user, time, file order
    n_w = np.bincount(users[order], minlength=n_users)
    back = np.cumsum(n_w)[users[order]] - 1 - np.arange(len(order))  # 0 = user's latest
    enough = n_w[users[order]] >= 3
    split[order] = np.where(enough & (back == 0), 2, np.where(enough & (back == 1), 1, 0))
    return [csr_from_pairs(users[split == s], items[split == s], n_users) for s in range(3)]


def cold_share(cfg) -> float:
    """``data.cold_share``, null meaning the split's default (0; cold_items 0.2)."""
    if cfg.cold_share is None:
        return COLD_SHARE_DEFAULT.get(cfg.split, 0.0)
    return cfg.cold_share


def cold_items_split(rng, va, te, warm_mask, n_users):
    """CLCRec's cold lists: every cold item's held-out pairs go to val or, for the other half
    of the cold items, to test, so val and test rank disjoint cold items (``random_split``
    gave each pair a side; warm pairs are left as they are)."""
    cold = np.flatnonzero(~warm_mask)
    to_test = np.zeros(len(warm_mask), dtype=bool)
    to_test[rng.permutation(cold)[len(cold) // 2:]] = True
    users = np.concatenate([np.repeat(np.arange(n_users), np.diff(p)) for p, _ in (va, te)])
    items = np.concatenate([va[1], te[1]])
    side = np.concatenate([np.zeros(len(va[1]), bool), np.ones(len(te[1]), bool)])
    side = np.where(warm_mask[items], side, to_test[items])
    return (csr_from_pairs(users[~side], items[~side], n_users),
            csr_from_pairs(users[side], items[side], n_users))


def check_options(cfg) -> None:
    feats.check_mode(cfg.features)
    if cfg.split not in SPLITS:
        raise ConfigError(f"data.split={cfg.split!r} is invalid: allowed {'|'.join(SPLITS)}")
    ratios = list(cfg.ratios)
    if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1) > 1e-6:
        raise ConfigError(f"data.ratios={ratios} is invalid: allowed three shares >= 0 "
                          "summing to 1 (train, val, test)")
    if cfg.cold_share is not None and not 0 <= cfg.cold_share < 1:
        raise ConfigError(f"data.cold_share={cfg.cold_share} is invalid: allowed [0, 1)")
    if cfg.split == "cold_items" and not cold_share(cfg):
        raise ConfigError("data.cold_share=0 is invalid with data.split=cold_items: allowed "
                          "(0, 1) or null (0.2, CLCRec's share)")
    if cfg.split in ("recbole_rs", "files") and cfg.cold_share:
        raise ConfigError(f"data.cold_share={cfg.cold_share} is invalid with data.split="
                          f"{cfg.split}: allowed 0 (RecBole's splits have no cold items)")
    if cfg.split == "files" and cfg.kcore > 1:
        raise ConfigError(f"data.kcore={cfg.kcore} is invalid with data.split=files: allowed 0 "
                          "(the split files are read as they are)")


def positives(file: Path, fmt: str, cfg) -> Tuple[pd.DataFrame, int, int]:
    """The positive pairs after min_rating, duplicate removal and k-core, with the number of
    rows read and of duplicates dropped."""
    df = read_ratings(file, fmt)
    n_read = len(df)
    if "rating" in df:
        df = df[df["rating"] >= cfg.min_rating]
    if cfg.split == "loo" and "timestamp" not in df:
        raise DataError(f"{file}: data.split=loo needs timestamps and this file has none")
    if "timestamp" in df:  # of duplicates, keep the latest
        df = df.sort_values("timestamp", kind="stable")
    dup = df.duplicated(["user", "item"], keep="last").to_numpy()
    if dup.any():
        log.warning("%s: dropped %d duplicate (user, item) pairs", file, int(dup.sum()))
        df = df[~dup]
    u_codes, _ = pd.factorize(df["user"])
    i_codes, _ = pd.factorize(df["item"])
    keep = kcore_mask(u_codes, i_codes, cfg.kcore) if cfg.kcore > 1 else np.ones(len(df), bool)
    df = df[keep]
    if not len(df):
        raise DataError(f"{file}: empty training set: no rating left after min_rating="
                        f"{cfg.min_rating}, kcore={cfg.kcore} ({n_read} read)")
    return df, n_read, int(dup.sum())


def build(file: Path, fmt: str, item_file: Optional[Path], cfg) -> Interactions:
    df, n_read, n_dup = positives(file, fmt, cfg)
    users, user_ids = pd.factorize(df["user"], sort=True)
    items, item_ids = pd.factorize(df["item"], sort=True)
    n_users, n_items = len(user_ids), len(item_ids)

    rng = np.random.default_rng(cfg.seed)
    warm_mask = np.ones(n_items, dtype=bool)
    n_cold = int(round(cold_share(cfg) * n_items))
    warm_mask[rng.choice(n_items, size=n_cold, replace=False)] = 0
    if cfg.split == "loo":
        tr, va, te = loo_split(rng, users, items, df["timestamp"].to_numpy(), warm_mask, n_users)
    elif cfg.split == "recbole_rs":
        tr, va, te = recbole_rs_split(rng, users, items, n_users, list(cfg.ratios))
    else:
        tr, va, te = random_split(rng, users, items, warm_mask, list(cfg.ratios), n_users)
    if cfg.split == "cold_items":
        va, te = cold_items_split(rng, va, te, warm_mask, n_users)
    if not len(tr[1]):
        raise DataError(f"{file}: empty training set after the {cfg.split} split")
    meta: Dict[str, object] = {"format": fmt, "ratings_read": n_read,
                               "duplicates_dropped": n_dup, "split": cfg.split}
    features = {}
    if item_file is not None:
        features, n_unknown = item_features(item_file, fmt, item_ids, cfg.title_dim)
        meta["items_without_metadata"] = n_unknown
    return Interactions(n_users=n_users, n_items=n_items,
                        train_indptr=tr[0], train_indices=tr[1], val_indptr=va[0],
                        val_indices=va[1], test_indptr=te[0], test_indices=te[1],
                        warm_mask=warm_mask, features=features, meta=meta)


def split_item_file(files, fmt: str) -> Optional[Path]:
    """RecBole's catalogue for ``<name>.train.inter`` is ``<name>.item``; plain files have
    none."""
    if fmt != "inter":
        return None
    path = files[0].with_name(files[0].name[: -len(".train.inter")] + ".item")
    return path if path.is_file() else None


def _split_frames(files, fmt: str, cfg):
    """The three files' positive pairs, with users and items numbered over all three."""
    frames = read_split_files(files, fmt)
    n_read, n_dup = sum(len(f) for f in frames), 0
    for k, (file, df) in enumerate(zip(files, frames)):
        if "rating" in df:
            df = df[df["rating"] >= cfg.min_rating]
        dup = df.duplicated(["user", "item"]).to_numpy()
        if dup.any():
            log.warning("%s: dropped %d duplicate (user, item) pairs", file, int(dup.sum()))
            df, n_dup = df[~dup], n_dup + int(dup.sum())
        frames[k] = df
    numeric = fmt == "plain"  # .inter ids are tokens, ordered as strings as data.split=random
    user_ids = id_order(pd.concat([f["user"] for f in frames]), numeric)
    item_ids = id_order(pd.concat([f["item"] for f in frames]), numeric)
    return frames, user_ids, item_ids, n_read, n_dup


def build_from_files(files, fmt: str, item_file: Optional[Path], cfg) -> Interactions:
    frames, user_ids, item_ids, n_read, n_dup = _split_frames(files, fmt, cfg)
    n_users, n_items = len(user_ids), len(item_ids)
    parts, keys = [], []
    for df in frames:
        u = user_ids.get_indexer(df["user"].astype(str))
        i = item_ids.get_indexer(df["item"].astype(str))
        parts.append(csr_from_pairs(u, i, n_users))
        keys.append(np.unique(u * n_items + i))
    if not len(parts[0][1]):
        raise DataError(f"{files[0]}: empty training set ({len(frames[0])} pairs after "
                        f"min_rating={cfg.min_rating})")
    shared = sum(len(np.intersect1d(keys[a], keys[b])) for a, b in ((0, 1), (0, 2), (1, 2)))
    if shared:
        log.warning("%s: %d (user, item) pairs are in more than one of %s (kept, as RecBole "
                    "keeps them)", files[0].parent, shared, ", ".join(f.name for f in files))
    meta: Dict[str, object] = {"format": "recbole" if fmt == "inter" else "plain",
                               "ratings_read": n_read, "duplicates_dropped": n_dup,
                               "split": "files", "split_files": [f.name for f in files],
                               "pairs_in_several_splits": shared}
    features = {}
    if item_file is not None:
        features, n_unknown = item_features(item_file, "recbole", item_ids, cfg.title_dim)
        meta["items_without_metadata"] = n_unknown
    (tr, va, te) = parts
    return Interactions(n_users=n_users, n_items=n_items,
                        train_indptr=tr[0], train_indices=tr[1], val_indptr=va[0],
                        val_indices=va[1], test_indptr=te[0], test_indices=te[1],
                        warm_mask=np.ones(n_items, dtype=bool), features=features, meta=meta)


def source_ids(cfg) -> Tuple[pd.Index, pd.Index]:
    """The source's user and item ids for graphrec's ids 0.. (what :func:`load` numbers), so
    a split can be written out with the ids RecBole and the catalogue files use."""
    check_options(cfg)
    path = Path(cfg.path).expanduser()
    if cfg.split == "files":
        files, fmt = find_split_files(path)
        _, user_ids, item_ids, _, _ = _split_frames(files, fmt, cfg)
        return user_ids, item_ids
    file, fmt = find_ratings(path)
    df, _, _ = positives(file, fmt, cfg)
    return (pd.Index(pd.factorize(df["user"], sort=True)[1]),
            pd.Index(pd.factorize(df["item"], sort=True)[1]))


def _load_files(cfg) -> Interactions:
    files, fmt = find_split_files(Path(cfg.path).expanduser())
    item_file = split_item_file(files, fmt) if cfg.features != "none" else None
    options = {"min_rating": cfg.min_rating, "split": "files", "title_dim": cfg.title_dim,
               "item_file": bool(item_file)}
    data = cached(cfg.cache_dir, "movielens", cfg.name, files + ([item_file] if item_file else []),
                  options, lambda: build_from_files(files, fmt, item_file, cfg))
    data.meta.update(path=str(files[0].parent), item_file=str(item_file) if item_file else None)
    feats.apply(data, cfg.features, data.features, "metadata", cfg.feat_dims, cfg.seed,
                str(files[0]))
    return data


def load(cfg) -> Interactions:
    check_options(cfg)
    if cfg.split == "files":
        return _load_files(cfg)
    file, fmt = find_ratings(Path(cfg.path).expanduser())
    item_file = find_item_file(file, fmt) if cfg.features != "none" else None
    files = [file] + ([item_file] if item_file else [])
    options = {k: cfg[k] for k in ("min_rating", "kcore", "split", "seed", "title_dim")}
    options.update(ratios=list(cfg.ratios), item_file=bool(item_file),
                   cold_share=cold_share(cfg))
    data = cached(cfg.cache_dir, "movielens", cfg.name, files, options,
                  lambda: build(file, fmt, item_file, cfg))
    data.meta.update(path=str(file), item_file=str(item_file) if item_file else None)
    feats.apply(data, cfg.features, data.features, "metadata", cfg.feat_dims, cfg.seed,
                str(file))
    return data
