"""Bad data: one DataError naming the file (and row), and nothing written to the cache."""
import logging

import numpy as np
import pytest

from data_fixtures import TRAIN, VAL, clcrec_cfg, movielens_cfg, write_clcrec
from graphrec.data import DataError, load_data


def _load_fails(folder, cache, match):
    with pytest.raises(DataError, match=match):
        load_data(clcrec_cfg(folder, cache))
    assert not cache.exists() or not any(cache.iterdir())  # nothing half-written


def test_missing_folder_and_files(tmp_path):
    cache = tmp_path / "c"
    _load_fails(tmp_path / "nope", cache, "nope: CLCRec data folder not found")
    folder = write_clcrec(tmp_path / "d")
    (folder / "user_item_train_dict.npy").unlink()
    _load_fails(folder, cache, "no training pairs: expected train.npy or user_item_train")
    folder = write_clcrec(tmp_path / "e")
    (folder / "test_full.npy").unlink()
    _load_fails(folder, cache, r"test_full\.npy: file not found")


def test_wrong_shape_or_dtype(tmp_path):
    folder = write_clcrec(tmp_path / "d", train_npy=True)
    np.save(folder / "train.npy", np.zeros((4, 3), dtype=np.int64))
    _load_fails(folder, tmp_path / "c", r"train\.npy: expected an integer array of shape \(N, 2\)")
    np.save(folder / "train.npy", np.zeros((4, 2), dtype=np.float32))
    _load_fails(folder, tmp_path / "c", r"train\.npy: expected an integer array.*float32")
    folder = write_clcrec(tmp_path / "e", val=[[0, 9], [1, "x"]])
    _load_fails(folder, tmp_path / "c", r"val_full\.npy: row 1: expected \[user, item, \.\.\.\]")


def test_item_out_of_range_names_row(tmp_path):
    folder = write_clcrec(tmp_path / "d", test=[[0, 10], [1, 99]])
    _load_fails(folder, tmp_path / "c", r"test_full\.npy: row 1: item id 99 out of range 6\.\.13")
    folder = write_clcrec(tmp_path / "e", train_npy=True, train={0: {3}})  # 3 is a user id
    _load_fails(folder, tmp_path / "c", r"train\.npy: row 0: item id 3 out of range")


def test_unknown_user_names_row(tmp_path):
    folder = write_clcrec(tmp_path / "d", val=VAL + [[7, 9]])
    _load_fails(folder, tmp_path / "c", r"val_full\.npy: row 6: unknown user 7 \(users are 0\.\.5")


def test_cold_item_in_training(tmp_path):
    folder = write_clcrec(tmp_path / "d", train={**TRAIN, 4: {9, 12}})
    _load_fails(folder, tmp_path / "c", r"entry of user 4: item 12 is cold")


def test_empty_training_set(tmp_path):
    folder = write_clcrec(tmp_path / "d", train={})
    _load_fails(folder, tmp_path / "c", r"user_item_train_dict\.npy: empty training set")


def test_duplicates_dropped_with_count(tmp_path, caplog):
    folder = write_clcrec(tmp_path / "d", train_npy=True)
    pairs = np.load(folder / "train.npy")
    np.save(folder / "train.npy", np.concatenate([pairs, pairs[:3]]))
    with caplog.at_level(logging.WARNING):
        data = load_data(clcrec_cfg(folder, tmp_path / "c"))
    assert "train.npy: dropped 3 duplicate (user, item) pairs" in caplog.text
    assert data.n_train == len(pairs) and data.meta["duplicates_dropped"] == {"train.npy": 3}


def test_movielens_bad_line(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t10\t4\t100\n2\t11\tfive\t101\n")
    with pytest.raises(DataError, match=r"u\.data: line 2: missing or non-numeric rating"):
        load_data(movielens_cfg(path, tmp_path / "c"))
    path.write_text("1\t10\t4\n")
    with pytest.raises(DataError, match=r"u\.data: line 1: missing or non-numeric timestamp"):
        load_data(movielens_cfg(path, tmp_path / "c"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no ratings file"):
        load_data(movielens_cfg(tmp_path / "empty", tmp_path / "c"))
    assert not (tmp_path / "c").exists()
