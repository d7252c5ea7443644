"""The data cache: hits, keys that follow the files and options, atomic writes."""
import numpy as np
import pytest

from data_fixtures import clcrec_cfg, write_clcrec
from graphrec.data import load_data
from graphrec.data import cache as cache_mod


def test_second_load_hits_and_matches(tmp_path):
    folder, cache = write_clcrec(tmp_path / "d"), tmp_path / "c"
    first = load_data(clcrec_cfg(folder, cache))
    second = load_data(clcrec_cfg(folder, cache, feat_dims=[4, 4, 4]))  # features: not keyed
    assert (first.meta["cache"], second.meta["cache"]) == ("miss", "hit")
    for k in ("train_indptr", "train_indices", "val_indices", "test_indptr", "warm_mask"):
        np.testing.assert_array_equal(getattr(first, k), getattr(second, k))
    assert second.meta["train_source"] == "user_item_train_dict.npy"
    assert [p.suffix for p in cache.iterdir()] == [".npz"]  # no temporary file left


def test_edited_file_is_a_miss(tmp_path):
    folder, cache = write_clcrec(tmp_path / "d"), tmp_path / "c"
    load_data(clcrec_cfg(folder, cache))
    write_clcrec(folder, test=[[0, 10], [5, 11]])
    data = load_data(clcrec_cfg(folder, cache))
    assert data.meta["cache"] == "miss" and len(data.test_indices) == 2
    assert len(list(cache.iterdir())) == 2


def test_damaged_entry_is_rebuilt(tmp_path):
    folder, cache = write_clcrec(tmp_path / "d"), tmp_path / "c"
    load_data(clcrec_cfg(folder, cache))
    entry = next(cache.iterdir())
    entry.write_bytes(entry.read_bytes()[:100])
    assert load_data(clcrec_cfg(folder, cache)).meta["cache"] == "miss"
    assert load_data(clcrec_cfg(folder, cache)).meta["cache"] == "hit"


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        load_data(clcrec_cfg(write_clcrec(tmp_path / "d"), tmp_path / "c"))
    assert list((tmp_path / "c").iterdir()) == []
