"""data.split=cold_items: CLCRec's protocol on MovieLens files (issue 19.6): a share of the
items never in training, each cold item held out in val only or in test only; warm pairs split
exactly as data.split=random with the same cold share."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_cfg
from data_fixtures import movielens_cfg
from graphrec.config import ConfigError
from graphrec.data import load_data
from graphrec.training import train

N_USERS, N_ITEMS = 80, 50
GENRES = ["Action", "Comedy", "Drama", "Sci-Fi"]


def write_ml100k(folder: Path) -> Path:
    """A generated ml-100k folder: u.data (each user rates 12-24 items) and u.item."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(1, N_USERS + 1):
        for i in rng.choice(np.arange(1, N_ITEMS + 1), size=rng.integers(12, 25), replace=False):
            rows.append(f"{u}\t{i}\t{rng.integers(1, 6)}\t{1000 * u + int(i)}\n")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join(rows))
    (folder / "u.item").write_text("".join(
        f"{i}|Movie {i} ({1950 + i})|01-Jan-{1950 + i}||http://x|"
        + "|".join(str(int((i + g) % 3 == 0)) for g in range(len(GENRES))) + "\n"
        for i in range(1, N_ITEMS + 1)))
    return folder


def heldout_pairs(data, split: str) -> set:
    indptr, indices = data.heldout(split)
    users = np.repeat(np.arange(data.n_users), np.diff(indptr))
    return set(zip(users.tolist(), indices.tolist()))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_ml100k(tmp_path_factory.mktemp("ml"))


def test_cold_items_are_never_trained_and_split_by_item(folder, tmp_path):
    data = load_data(movielens_cfg(folder, tmp_path, split="cold_items"))
    assert data.n_cold == round(0.2 * N_ITEMS)  # the default share
    assert data.warm_mask[data.train_indices].all()
    val_cold = {i for _, i in heldout_pairs(data, "val") if not data.warm_mask[i]}
    test_cold = {i for _, i in heldout_pairs(data, "test") if not data.warm_mask[i]}
    assert val_cold and test_cold and not val_cold & test_cold  # each cold item on one side
    assert len(val_cold | test_cold) == data.n_cold
    assert data.features["genre"].shape == (N_ITEMS, len(GENRES))  # u.item scores cold items


def test_warm_split_is_random_splits(folder, tmp_path):
    cold = load_data(movielens_cfg(folder, tmp_path / "a", split="cold_items"))
    rand = load_data(movielens_cfg(folder, tmp_path / "b", split="random", cold_share=0.2))
    np.testing.assert_array_equal(cold.warm_mask, rand.warm_mask)
    np.testing.assert_array_equal(cold.train_indptr, rand.train_indptr)
    np.testing.assert_array_equal(cold.train_indices, rand.train_indices)
    for split in ("val", "test"):
        warm = {p for p in heldout_pairs(rand, split) if rand.warm_mask[p[1]]}
        assert warm == {p for p in heldout_pairs(cold, split) if cold.warm_mask[p[1]]}
    both = heldout_pairs(cold, "val") | heldout_pairs(cold, "test")
    assert both == heldout_pairs(rand, "val") | heldout_pairs(rand, "test")
    plain = load_data(movielens_cfg(folder, tmp_path / "c"))  # random, cold_share null = 0
    assert plain.n_cold == 0


def test_cold_share_is_honoured_and_zero_refused(folder, tmp_path):
    data = load_data(movielens_cfg(folder, tmp_path, split="cold_items", cold_share=0.3))
    assert data.n_cold == 15
    with pytest.raises(ConfigError, match="data.cold_share=0 is invalid with data.split"):
        load_data(movielens_cfg(folder, tmp_path, split="cold_items", cold_share=0.0))


def test_a_clcrec_run_reports_cold_metrics(folder, tmp_path):
    cfg = make_cfg(["data=movielens", f"data.path={folder}", "data.split=cold_items",
                    f"data.cache_dir={tmp_path / 'c'}", "sampling.num_neg=8",
                    "trainer.epochs=1", "trainer.progress=false"], tiny=False)
    train(cfg, out_dir=str(tmp_path / "run"))
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["data"]["n_cold"] == 10
    for key in ("val_cold", "test_cold", "val_warm", "test_warm"):
        assert "recall@20" in record[key], key
