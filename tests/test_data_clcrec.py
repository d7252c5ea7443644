"""data=clcrec: CLCRec/MMGCN folders, features policy, exclude_heldout, the real folders."""
import numpy as np
import pytest
import torch

from data_fixtures import N_ITEMS, N_USERS, N_WARM, SHARED, TRAIN, clcrec_cfg, write_clcrec
from graphrec.data import DataError, load_data


def _rows(indptr, indices, user):
    return set(indices[indptr[user]:indptr[user + 1]].tolist())


def test_dict_folder_sizes_and_ids(tmp_path):
    data = load_data(clcrec_cfg(write_clcrec(tmp_path / "d"), tmp_path / "c"))
    assert (data.n_users, data.n_items, data.n_warm) == (N_USERS, N_ITEMS, N_WARM)
    assert data.n_train == sum(len(v) for v in TRAIN.values())
    assert _rows(data.train_indptr, data.train_indices, 0) == {0, 1, 2}  # 6,7,8 - 6 users
    assert _rows(data.val_indptr, data.val_indices, 0) == {3, 6}
    assert _rows(data.val_indptr, data.val_indices, 2) == set()  # row [2]: only the user
    assert data.warm_mask.tolist() == [True] * 6 + [False] * 2
    assert data.meta["train_source"] == "user_item_train_dict.npy"


def test_train_npy_matches_dict(tmp_path):
    a = load_data(clcrec_cfg(write_clcrec(tmp_path / "a"), tmp_path / "c"))
    b = load_data(clcrec_cfg(write_clcrec(tmp_path / "b", train_npy=True), tmp_path / "c"))
    assert b.meta["train_source"] == "train.npy"
    for k in ("train_indptr", "train_indices", "test_indices", "warm_mask"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


def test_sizes_inferred_without_sets(tmp_path):
    data = load_data(clcrec_cfg(write_clcrec(tmp_path / "d", sets=False), tmp_path / "c"))
    assert (data.n_users, data.n_items, data.n_cold) == (N_USERS, N_ITEMS, 0)


def test_missing_features_are_synthetic_and_reported(tmp_path):
    cfg = clcrec_cfg(write_clcrec(tmp_path / "d"), tmp_path / "c", feat_dims=[8, 0, 4])
    data = load_data(cfg)
    assert data.meta["features_source"] == "synthetic"
    assert data.meta["features_missing"] == ["feat_v", "feat_a", "feat_t"]
    assert {k: v.shape for k, v in data.features.items()} == {"v": (8, 8), "t": (8, 4)}
    np.testing.assert_array_equal(data.features["v"], load_data(cfg).features["v"])
    with pytest.raises(DataError, match="data.features=required"):
        load_data(clcrec_cfg(tmp_path / "d", tmp_path / "c", features="required"))
    none = load_data(clcrec_cfg(tmp_path / "d", tmp_path / "c", features="none"))
    assert none.features == {} and none.meta["features_source"] == "none"


def test_feature_files_npy_and_pt(tmp_path):
    folder = write_clcrec(tmp_path / "d")
    np.save(folder / "feat_v.npy", np.ones((N_ITEMS, 5), dtype=np.float64))
    torch.save(torch.zeros(N_ITEMS, 3), folder / "feat_t.pt")
    data = load_data(clcrec_cfg(folder, tmp_path / "c", features="required"))
    assert data.meta["features_source"] == "file"
    assert data.meta["features_missing"] == ["feat_a"]
    assert data.features["v"].dtype == np.float32 and data.features["t"].shape == (N_ITEMS, 3)
    np.save(folder / "feat_v.npy", np.ones((N_ITEMS + 1, 5)))
    with pytest.raises(DataError, match=r"feat_v\.npy: expected a float array of shape \(8, dim\)"):
        load_data(clcrec_cfg(folder, tmp_path / "c"))


def test_exclude_heldout(tmp_path):
    folder = write_clcrec(tmp_path / "d")
    off = load_data(clcrec_cfg(folder, tmp_path / "c"))
    assert off.exclude_indptr is None and "exclude_heldout" not in off.meta
    on = load_data(clcrec_cfg(folder, tmp_path / "c", exclude_heldout=True))
    indptr, indices = on.negative_exclusions()
    for u in range(N_USERS):
        expect = set().union(*(_rows(p, i, u) for p, i in [
            (on.train_indptr, on.train_indices), (on.val_indptr, on.val_indices),
            (on.test_indptr, on.test_indices)]))
        assert _rows(indptr, indices, u) == expect
    assert on.meta["exclude_heldout"] is True


@pytest.mark.parametrize("name, sizes", [
    ("movielens", (55_485, 5_986, 922_007, 5_119, 867)),
    ("amazon", (27_044, 86_506, 143_529, 68_810, 17_696)),
])
def test_shared_real_folders(tmp_path, name, sizes):
    if not (SHARED / name).is_dir():
        pytest.skip(f"{SHARED / name} is absent")
    load_data(clcrec_cfg(SHARED / name, tmp_path / "c", features="none"))
    data = load_data(clcrec_cfg(SHARED / name, tmp_path / "c", features="none"))
    assert (data.n_users, data.n_items, data.n_train, data.n_warm, data.n_cold) == sizes
    assert data.meta["train_source"] == ("train.npy" if name == "amazon"
                                         else "user_item_train_dict.npy")
    assert data.meta["cache"] == "hit" and data.meta["load_s"] < 2.0  # ~0.05 s measured
