"""Ratings files as frames: MovieLens ``u.data``/``ratings.dat``/``ratings.csv`` and RecBole
``.inter`` (formats: see :mod:`.movielens`). Used by :mod:`.movielens` and, for ``.inter``
split files, by :mod:`.splits`; kept apart so that those two do not import each other."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Tuple

import numpy as np
import pandas as pd

from ..errors import DataError

RATING_FILES = {"u.data": "ml-100k", "ratings.dat": "ml-1m", "ratings.csv": "ml-latest"}


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
