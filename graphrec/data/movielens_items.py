"""Item features from the MovieLens catalogue next to the ratings file.

``genre``: multi-hot over the genres the catalogue names. ``title``: a bag of the title's
lower-cased words (the year included), hashed into ``data.title_dim`` buckets with CRC32 so
the same word lands in the same bucket on every machine. Catalogues:

* ml-100k ``u.item``: ``id|title|date|video date|url|<19 genre flags>`` (latin-1);
* ml-1m ``movies.dat``: ``id::title::Genre|Genre`` (latin-1);
* ml-latest ``movies.csv``: ``movieId,title,genres`` (``|``-separated genres);
* RecBole ``<name>.item``: ``item_id:token``, a ``movie_title`` or ``title`` field (with
  ``release_year``, when there, as one more title word) and a ``class``/``genre``/``genres``
  field (``token_seq``: space-separated).
"""
from __future__ import annotations

import csv
import io
import re
import zlib
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from ..errors import DataError

ITEM_FILES = {"ml-100k": "u.item", "ml-1m": "movies.dat", "ml-latest": "movies.csv"}
_WORD = re.compile(r"[a-z0-9]+")


def find_item_file(ratings: Path, fmt: str) -> Optional[Path]:
    name = ratings.stem + ".item" if fmt == "recbole" else ITEM_FILES[fmt]
    path = ratings.parent / name
    return path if path.is_file() else None


def _read_catalogue(file: Path, fmt: str) -> Tuple[pd.Series, Optional[pd.Series],
                                                   Optional[pd.DataFrame]]:
    """(ids, titles or None, multi-hot genres or None), one row per catalogue line."""
    if fmt == "ml-100k":
        df = pd.read_csv(file, sep="|", header=None, encoding="latin-1", quoting=csv.QUOTE_NONE)
        return df[0], df[1], df.iloc[:, 5:]
    if fmt == "ml-1m":
        text = file.read_bytes().replace(b"::", b"\t")
        df = pd.read_csv(io.BytesIO(text), sep="\t", header=None, encoding="latin-1",
                         quoting=csv.QUOTE_NONE)
        return df[0], df[1], df[2].fillna("").str.get_dummies(sep="|")
    if fmt == "ml-latest":
        df = pd.read_csv(file)
        return df["movieId"], df["title"], df["genres"].fillna("").str.get_dummies(sep="|")
    df = pd.read_csv(file, sep="\t", quoting=csv.QUOTE_NONE, dtype=str)
    df.columns = [c.split(":")[0] for c in df.columns]
    if "item_id" not in df:
        raise DataError(f"{file}: line 1: a RecBole .item header needs an item_id field")
    title = next((c for c in ("movie_title", "title") if c in df), None)
    genre = next((c for c in ("class", "genre", "genres") if c in df), None)
    titles = df[title].fillna("") if title else None
    if titles is not None and "release_year" in df:  # the year u.item's titles hold
        titles = titles + " " + df["release_year"].fillna("")
    return (df["item_id"], titles,
            df[genre].fillna("").str.get_dummies(sep=" ") if genre else None)


def hashed_words(texts: Sequence[str], dim: int) -> np.ndarray:
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(str(text).lower()):
            out[row, zlib.crc32(word.encode()) % dim] += 1.0
    return out


def item_features(file: Path, fmt: str, item_ids: pd.Index,
                  title_dim: int) -> Tuple[Dict[str, np.ndarray], int]:
    """Features aligned with ``item_ids`` (the ratings' ids, in 0-based order), and how many
    of those items the catalogue lacks (their rows stay zero)."""
    try:
        ids, titles, genres = _read_catalogue(file, fmt)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise DataError(f"{file}: cannot parse as a {fmt} item catalogue ({exc})") from None
    first = ~ids.duplicated().to_numpy()  # a repeated id keeps its first line
    row = pd.Index(ids[first]).get_indexer(item_ids)
    known = row >= 0
    out = {}
    if genres is not None and genres.shape[1]:
        g = np.zeros((len(item_ids), genres.shape[1]), dtype=np.float32)
        g[known] = genres.to_numpy(dtype=np.float32)[first][row[known]]
        out["genre"] = g
    if titles is not None and title_dim > 0:
        t = np.zeros((len(item_ids), title_dim), dtype=np.float32)
        t[known] = hashed_words(titles[first].to_numpy()[row[known]], title_dim)
        out["title"] = t
    return out, int((~known).sum())


def item_titles(file: Path, fmt: str, item_ids: pd.Index) -> np.ndarray:
    """The catalogue's title of each of ``item_ids`` ('' where it has none), as ``str``."""
    try:
        ids, titles, _ = _read_catalogue(file, fmt)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, KeyError) as exc:
        raise DataError(f"{file}: cannot parse as a {fmt} item catalogue ({exc})") from None
    out = np.full(len(item_ids), "", dtype=object)
    if titles is None:
        return out
    first = ~ids.duplicated().to_numpy()
    row = pd.Index(ids[first]).get_indexer(item_ids)
    known = row >= 0
    out[known] = titles[first].fillna("").astype(str).to_numpy()[row[known]]
    return out
