"""data=movielens: the four ratings formats, filtering, splits, catalogue features."""
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from data_fixtures import movielens_cfg
from graphrec.data import DataError, load_data

GENRES = ["Action", "Comedy", "Drama", "Sci-Fi"]
MOVIES = {10: ("Toy Story (1995)", ["Comedy"]), 11: ("Heat (1995)", ["Action", "Drama"]),
          12: ("Alien (1979)", ["Action", "Sci-Fi"]), 13: ("Clerks (1994)", ["Comedy"]),
          14: ("Brazil (1985)", ["Comedy", "Sci-Fi"]), 15: ("Fargo (1996)", ["Drama"])}
# (user, item, rating, timestamp): user 1..5 rates several of items 10..15.
RATINGS = [(u, i, float(1 + (u + i) % 5), 1000 * u + 7 * i)
           for u in range(1, 6) for i in range(10, 16) if (u * i) % 4 != 1]


def write_format(fmt: str, folder: Path, ratings=RATINGS, catalogue: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [(u, i, r, t) for u, i, r, t in ratings]
    if fmt == "ml-100k":
        (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r:g}\t{t}\n" for u, i, r, t in rows))
        lines = [f"{i}|{title}|01-Jan-1995||http://x|" + "|".join(
            str(int(g in gs)) for g in GENRES) for i, (title, gs) in MOVIES.items()]
        item_file = folder / "u.item"
    elif fmt == "ml-1m":
        (folder / "ratings.dat").write_text(
            "".join(f"{u}::{i}::{r:g}::{t}\n" for u, i, r, t in rows))
        lines = [f"{i}::{title}::{'|'.join(gs)}" for i, (title, gs) in MOVIES.items()]
        item_file = folder / "movies.dat"
    elif fmt == "ml-latest":
        (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "".join(
            f"{u},{i},{r:g},{t}\n" for u, i, r, t in rows))
        lines = ["movieId,title,genres"] + [f'{i},"{title}",{"|".join(gs)}'
                                            for i, (title, gs) in MOVIES.items()]
        item_file = folder / "movies.csv"
    else:
        (folder / "ml.inter").write_text(
            "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
            + "".join(f"{u}\t{i}\t{r:g}\t{t}\n" for u, i, r, t in rows))
        lines = ["item_id:token\tmovie_title:token_seq\tclass:token_seq"] + [
            f"{i}\t{title}\t{' '.join(gs)}" for i, (title, gs) in MOVIES.items()]
        item_file = folder / "ml.item"
    if catalogue:
        item_file.write_text("\n".join(lines) + "\n")
    return folder


FORMATS = ["ml-100k", "ml-1m", "ml-latest", "recbole"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_agree(tmp_path, fmt):
    data = load_data(movielens_cfg(write_format(fmt, tmp_path / fmt), tmp_path / "c"))
    ref = load_data(movielens_cfg(write_format("ml-100k", tmp_path / "ref"), tmp_path / "c"))
    assert data.meta["format"] == fmt and data.meta["features_source"] == "metadata"
    assert (data.n_users, data.n_items) == (5, 6)
    assert data.n_train + len(data.val_indices) + len(data.test_indices) == len(RATINGS)
    for k in ("train_indices", "val_indices", "test_indices", "train_indptr"):
        np.testing.assert_array_equal(getattr(data, k), getattr(ref, k))
    genre = data.features["genre"]
    assert genre.shape == (6, 4) and genre.sum(1).tolist() == [1, 2, 2, 1, 2, 1]
    assert data.features["title"].shape == (6, 128)
    assert data.features["title"].sum(1).tolist() == [3, 2, 2, 2, 2, 2]  # toy story 1995


def test_format_sniffed_from_first_line(tmp_path):
    path = tmp_path / "my_ratings.txt"
    path.write_text("1::10::5::100\n2::10::3::101\n1::11::4::102\n")
    data = load_data(movielens_cfg(path, tmp_path / "c"))
    assert data.meta["format"] == "ml-1m" and data.n_users == 2
    assert data.meta["features_source"] == "synthetic"  # no catalogue next to it


def test_min_rating_and_kcore(tmp_path):
    folder = write_format("ml-latest", tmp_path / "d")
    all_ = load_data(movielens_cfg(folder, tmp_path / "c"))
    high = load_data(movielens_cfg(folder, tmp_path / "c", min_rating=4))
    n_high = sum(r >= 4 for _, _, r, _ in RATINGS)
    assert high.n_train + len(high.val_indices) + len(high.test_indices) == n_high
    assert all_.meta["cache"] == "miss" and high.meta["cache"] == "miss"
    core = load_data(movielens_cfg(folder, tmp_path / "c", min_rating=2, kcore=3))
    pairs = core.n_train + len(core.val_indices) + len(core.test_indices)
    users = np.concatenate([np.repeat(np.arange(core.n_users), np.diff(p)) for p in
                            (core.train_indptr, core.val_indptr, core.test_indptr)])
    items = np.concatenate([core.train_indices, core.val_indices, core.test_indices])
    assert 0 < pairs < sum(r >= 2 for _, _, r, _ in RATINGS)  # k-core removed some
    assert np.bincount(users).min() >= 3 and np.bincount(items).min() >= 3


def test_loo_split_by_time(tmp_path):
    folder = write_format("ml-100k", tmp_path / "d")
    data = load_data(movielens_cfg(folder, tmp_path / "c", split="loo"))
    items = sorted({i for _, i, _, _ in RATINGS})
    for u in range(1, 6):
        mine = sorted((t, items.index(i)) for uu, i, _, t in RATINGS if uu == u)
        row = u - 1
        assert data.test_indices[data.test_indptr[row]:data.test_indptr[row + 1]].tolist() == [
            mine[-1][1]]
        assert data.val_indices[data.val_indptr[row]:data.val_indptr[row + 1]].tolist() == [
            mine[-2][1]]


def test_random_split_seeded_and_cold_items(tmp_path):
    folder = write_format("recbole", tmp_path / "d")
    a = load_data(movielens_cfg(folder, tmp_path / "c1", seed=3, cold_share=0.34))
    b = load_data(movielens_cfg(folder, tmp_path / "c2", seed=3, cold_share=0.34))
    np.testing.assert_array_equal(a.train_indices, b.train_indices)
    assert a.n_cold == 2 and a.warm_mask[a.train_indices].all()


def test_duplicates_keep_latest(tmp_path, caplog):
    ratings = RATINGS + [(1, 11, 5.0, 10), (1, 11, 5.0, 20)]
    folder = write_format("ml-1m", tmp_path / "d", ratings=ratings)
    with caplog.at_level(logging.WARNING):
        data = load_data(movielens_cfg(folder, tmp_path / "c", min_rating=0))
    assert "dropped 2 duplicate (user, item) pairs" in caplog.text
    assert data.meta["duplicates_dropped"] == 2


def test_features_policy_without_catalogue(tmp_path):
    folder = write_format("ml-latest", tmp_path / "d", catalogue=False)
    with pytest.raises(DataError, match="data.features=required"):
        load_data(movielens_cfg(folder, tmp_path / "c", features="required"))
    data = load_data(movielens_cfg(folder, tmp_path / "c", feat_dims=[4, 0, 0]))
    assert {k: v.shape for k, v in data.features.items()} == {"v": (6, 4)}


ML100K = os.environ.get("GRAPHREC_ML100K")  # a folder holding RecBole's ml-100k.inter/.item


@pytest.mark.skipif(not ML100K, reason="set GRAPHREC_ML100K to RecBole's ml-100k folder")
def test_real_ml100k(tmp_path):
    data = load_data(movielens_cfg(ML100K, tmp_path / "c", split="loo"))
    assert (data.n_users, data.n_items) == (943, 1682)
    assert data.n_train + len(data.val_indices) + len(data.test_indices) == 100_000
    assert data.features["genre"].shape == (1682, 19) and data.meta["items_without_metadata"] == 0
