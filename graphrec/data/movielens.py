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
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd

from ..config import ConfigError
from . import features as feats
from .cache import cached
from .errors import DataError
from .interactions import Interactions, csr_from_pairs
from .movielens_items import find_item_file, item_features
from .synthetic import _split as random_split  # per-user shuffled split, cold items held out

log = logging.getLogger(__name__)

RATING_FILES = {"u.data": "ml-100k", "ratings.dat": "ml-1m", "ratings.csv": "ml-latest"}
SPLITS = ("random", "loo")


def sniff_format(file: Path) -> str:
    if file.suffix == ".inter":
        return "recbole"
    if file.name in RATING_FILES:
        return RATING_FILES[file.name]
    with open(file, "rb") as fh:
        first = fh.readline().decode("latin-1")
    if ":token" in first:
        return "recbole"
    if "::" in first:
        return "ml-1m"
    if first.lower().startswith("userid,"):
        return "ml-latest"
    if first.count("\t") == 3:
        return "ml-100k"
    raise DataError(f"{file}: unknown ratings format (first line {first.strip()!r:.80}); "
                    "expected u.data, ratings.dat, ratings.csv or a RecBole .inter file")


def find_ratings(path: Path) -> Tuple[Path, str]:
    if path.is_dir():
        found = [path / n for n in RATING_FILES if (path / n).is_file()]
        found += sorted(path.glob("*.inter"))
        if not found:
            raise DataError(f"{path}: no ratings file (u.data, ratings.dat, ratings.csv or "
                            "*.inter)")
        if len(found) > 1:
            raise DataError(f"{path}: several ratings files ({', '.join(f.name for f in found)}"
                            "); set data.path to one of them")
        path = found[0]
    elif not path.is_file():
        raise DataError(f"{path}: file or folder not found")
    return path, sniff_format(path)


def _read_table(file: Path, fmt: str) -> Tuple[pd.DataFrame, int]:
    """The file as columns user, item[, rating][, timestamp], and its header line count."""
    names = ["user", "item", "rating", "timestamp"]
    opts = dict(sep="\t", header=None, names=names, quoting=csv.QUOTE_NONE)
    if fmt == "ml-100k":
        return pd.read_csv(file, **opts), 0
    if fmt == "ml-1m":  # '::' would need pandas' slow python engine
        return pd.read_csv(io.BytesIO(file.read_bytes().replace(b"::", b"\t")), **opts), 0
    if fmt == "ml-latest":
        df = pd.read_csv(file).rename(columns={"userId": "user", "movieId": "item"})
        return df, 1
    with open(file, encoding="utf-8") as fh:  # recbole: 'name:type' header fields
        header = fh.readline().rstrip("\n").split("\t")
    fields = {h.split(":")[0]: h for h in header}
    if "user_id" not in fields or "item_id" not in fields:
        raise DataError(f"{file}: line 1: a RecBole .inter header needs user_id and item_id "
                        f"fields, got {header}")
    df = pd.read_csv(file, sep="\t", quoting=csv.QUOTE_NONE,
                     dtype={fields["user_id"]: str, fields["item_id"]: str})
    df.columns = [h.split(":")[0] for h in df.columns]
    return df.rename(columns={"user_id": "user", "item_id": "item"}), 1


def read_ratings(file: Path, fmt: str) -> pd.DataFrame:
    try:
        df, skip = _read_table(file, fmt)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{file}: cannot parse as {fmt} ({exc})") from None
    missing = {"user", "item"} - set(df.columns)
    if missing:
        raise DataError(f"{file}: no {'/'.join(sorted(missing))} column (columns: "
                        f"{list(df.columns)})")
    df = df[[c for c in ("user", "item", "rating", "timestamp") if c in df.columns]]
    for col in df.columns:
        token = fmt == "recbole" and col in ("user", "item")  # RecBole ids are strings
        values = df[col] if token else pd.to_numeric(df[col], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            raise DataError(f"{file}: line {bad[0] + 1 + skip}: missing or non-numeric {col} "
                            f"({df[col].iloc[bad[0]]!r})")
        df[col] = values
    return df


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


def check_options(cfg) -> None:
    feats.check_mode(cfg.features)
    if cfg.split not in SPLITS:
        raise ConfigError(f"data.split={cfg.split!r} is invalid: allowed {'|'.join(SPLITS)}")
    ratios = list(cfg.ratios)
    if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1) > 1e-6:
        raise ConfigError(f"data.ratios={ratios} is invalid: allowed three shares >= 0 "
                          "summing to 1 (train, val, test)")
    if not 0 <= cfg.cold_share < 1:
        raise ConfigError(f"data.cold_share={cfg.cold_share} is invalid: allowed [0, 1)")


def build(file: Path, fmt: str, item_file: Optional[Path], cfg) -> Interactions:
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
    users, user_ids = pd.factorize(df["user"], sort=True)
    items, item_ids = pd.factorize(df["item"], sort=True)
    n_users, n_items = len(user_ids), len(item_ids)

    rng = np.random.default_rng(cfg.seed)
    warm_mask = np.ones(n_items, dtype=bool)
    warm_mask[rng.choice(n_items, size=int(round(cfg.cold_share * n_items)), replace=False)] = 0
    if cfg.split == "loo":
        tr, va, te = loo_split(rng, users, items, df["timestamp"].to_numpy(), warm_mask, n_users)
    else:
        tr, va, te = random_split(rng, users, items, warm_mask, list(cfg.ratios), n_users)
    if not len(tr[1]):
        raise DataError(f"{file}: empty training set after the {cfg.split} split")
    meta: Dict[str, object] = {"format": fmt, "ratings_read": n_read,
                               "duplicates_dropped": int(dup.sum()), "split": cfg.split}
    features = {}
    if item_file is not None:
        features, n_unknown = item_features(item_file, fmt, item_ids, cfg.title_dim)
        meta["items_without_metadata"] = n_unknown
    return Interactions(n_users=n_users, n_items=n_items,
                        train_indptr=tr[0], train_indices=tr[1], val_indptr=va[0],
                        val_indices=va[1], test_indptr=te[0], test_indices=te[1],
                        warm_mask=warm_mask, features=features, meta=meta)


def load(cfg) -> Interactions:
    check_options(cfg)
    file, fmt = find_ratings(Path(cfg.path).expanduser())
    item_file = find_item_file(file, fmt) if cfg.features != "none" else None
    files = [file] + ([item_file] if item_file else [])
    options = {k: cfg[k] for k in ("min_rating", "kcore", "split", "seed", "cold_share",
                                   "title_dim")}
    options.update(ratios=list(cfg.ratios), item_file=bool(item_file))
    data = cached(cfg.cache_dir, "movielens", cfg.name, files, options,
                  lambda: build(file, fmt, item_file, cfg))
    data.meta.update(path=str(file), item_file=str(item_file) if item_file else None)
    feats.apply(data, cfg.features, data.features, "metadata", cfg.feat_dims, cfg.seed,
                str(file))
    return data
