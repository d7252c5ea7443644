"""data=synthetic_seed has the seed run's shape, and the generator that builds it stays quick."""
from __future__ import annotations

import time

import numpy as np
import pytest

from graphrec.data import load_data
from conftest import make_cfg


@pytest.mark.slow
def test_synthetic_seed_has_the_seed_shape():
    cfg = make_cfg(["data=synthetic_seed"], tiny=False)
    t = time.perf_counter()
    data = load_data(cfg.data)
    seconds = time.perf_counter() - t
    assert (data.n_users, data.n_items, data.n_warm, data.n_cold) == (55_485, 5_986, 5_119, 867)
    assert abs(data.n_train - 922_007) / 922_007 < 0.005
    degree = np.diff(data.train_indptr)
    assert np.median(degree) == 10 and 600 <= degree.max() <= 680
    assert [f.shape[1] for f in data.features.values()] == [2048, 128, 100]
    assert seconds < 30, seconds
