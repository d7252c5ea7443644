"""data=synthetic_seed has the seed run's shape, and the generator that builds it stays quick;
the large presets' paths (the tied generator, its cache, the sampler's folded bitmap) stay
exact."""
from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from graphrec.config import SyntheticData
from graphrec.data import load_data, synthetic
from graphrec.sampling import DeviceSampler
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


# ---------------------------------------------------------------------- the large presets
# data=synthetic_10m and synthetic_25m take the generator's tied path (item factors tied to
# shared prototypes, items drawn in O(pairs)) and its cache; too big to build in a test, so
# the same code runs here on small data, its law checked exactly against enumeration.


def _pl_inclusion(p: np.ndarray, d: int) -> np.ndarray:
    """P(item in the first d of a Plackett-Luce sequence), by enumerating ordered draws."""
    out = np.zeros(len(p))
    for seq in itertools.permutations(range(len(p)), d):
        prob, left = 1.0, 1.0
        for i in seq:
            prob *= p[i] / left
            left -= p[i]
        out[list(seq)] += prob
    return out


@pytest.mark.parametrize("n_items, degree", [(40, 3), (12, 3)])  # draws; Gumbel finish
def test_tied_draws_are_sampling_without_replacement(n_items, degree):
    rng = np.random.default_rng(0)
    proto = torch.randn(4, 5, generator=torch.Generator().manual_seed(1))
    assign = rng.integers(0, 4, n_items)
    pop_bias = -0.8 * torch.log1p(torch.from_numpy(rng.permutation(n_items)).float())
    tied = synthetic._Tied(proto, assign, pop_bias, scale=0.9)
    user = torch.randn(1, 5, generator=torch.Generator().manual_seed(2))
    rows = 20_000
    stats = {"draws": 0, "finished": 0}
    keys = synthetic._block_items(torch.Generator().manual_seed(3), tied, user.expand(rows, 5),
                                  np.full(rows, degree), stats)
    row, item = np.divmod(keys, n_items)
    assert np.array_equal(np.bincount(row, minlength=rows), np.full(rows, degree))
    assert len(np.unique(keys)) == len(keys)  # distinct within each row
    assert (stats["finished"] == rows) == (degree > n_items // synthetic._HEAVY)
    logits = (0.9 * user @ proto.T)[0, torch.from_numpy(assign)] + pop_bias
    p = torch.softmax(logits.double(), 0).numpy()
    expected = _pl_inclusion(p, degree)
    seen = np.bincount(item, minlength=n_items) / rows
    sd = np.sqrt(expected * (1 - expected) / rows)
    assert np.max(np.abs(seen - expected) / np.maximum(sd, 1e-9)) < 5


def _small(**kw):
    base = dict(n_users=3000, n_items=1500, cold_share=0.14484, mean_degree=24.46,
                degree_sigma=1.05, max_degree=300, latent_dim=32, popularity_exponent=0.8,
                affinity=2.0, feat_dims=[16, 8, 8])
    return OmegaConf.structured(SyntheticData(**{**base, **kw}))


def _shape(data):
    pop = np.sort(np.bincount(data.train_indices, minlength=data.n_items))[::-1]
    return {"n_train": data.n_train, "median": float(np.median(np.diff(data.train_indptr))),
            "top10": pop[: data.n_items // 10].sum() / pop.sum()}


def test_tied_path_keeps_the_shape_and_the_invariants(monkeypatch):
    cfg = _small()
    dense = synthetic.build(cfg)
    monkeypatch.setattr(synthetic, "DENSE_MAX_CELLS", 0)
    tied = synthetic.build(cfg)
    assert (dense.meta["generator"], tied.meta["generator"]) == ("dense", "tied")
    again = synthetic.build(cfg)
    for name in ("train_indices", "val_indices", "test_indices", "warm_mask"):
        assert np.array_equal(getattr(tied, name), getattr(again, name))  # same seed, same data
    # every user's items are distinct across splits, training items warm (data.check too)
    users = np.concatenate([np.repeat(np.arange(cfg.n_users), np.diff(p))
                            for p in (tied.train_indptr, tied.val_indptr, tied.test_indptr)])
    items = np.concatenate([tied.train_indices, tied.val_indices, tied.test_indices])
    assert len(np.unique(users * cfg.n_items + items)) == len(items)
    assert np.bincount(users, minlength=cfg.n_users).min() >= cfg.min_degree
    assert tied.warm_mask[tied.train_indices].all() and tied.n_cold == dense.n_cold
    a, b = _shape(dense), _shape(tied)
    assert abs(a["n_train"] - b["n_train"]) / a["n_train"] < 0.01
    assert a["median"] == b["median"]
    assert abs(a["top10"] - b["top10"]) < 0.03, (a, b)


def test_generate_caches_when_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "DENSE_MAX_CELLS", 0)
    cfg = _small(n_users=500, n_items=400, cache_dir=str(tmp_path))
    first = synthetic.generate(cfg)
    second = synthetic.generate(cfg)
    assert (first.meta["cache"], second.meta["cache"]) == ("miss", "hit")
    assert np.array_equal(first.train_indices, second.train_indices)
    assert np.array_equal(first.features["v"], second.features["v"])
    assert synthetic.generate(_small(n_users=500, n_items=400, seed=1,
                                     cache_dir=str(tmp_path))).meta["cache"] == "miss"
    assert len(list(tmp_path.glob("synthetic-*.npz"))) == 2
    assert "cache" not in synthetic.generate(_small(n_users=500, n_items=400)).meta  # off


def test_large_presets_compose_and_take_the_tied_path():
    for name, users, items in (("synthetic_10m", 100_000, 20_000),
                               ("synthetic_25m", 162_541, 59_047)):
        cfg = make_cfg([f"data={name}"], tiny=False).data
        assert (cfg.n_users, cfg.n_items, synthetic.method(cfg)) == (users, items, "tied")
        assert cfg.cache_dir and list(cfg.feat_dims) == [2048, 128, 100]
    assert synthetic.method(make_cfg(["data=synthetic_seed"], tiny=False).data) == "dense"


def test_sampler_folded_bitmap_gives_the_csr_negatives():
    """At scale the users x candidates bitmap passes loader.bitmap_max_mb and the sampler
    searches the CSR, behind a folded bitmap on CPU: the same negatives either way."""
    data = synthetic.generate(_small(n_users=200, n_items=3000, mean_degree=30))
    cpu = torch.device("cpu")
    runs = {}
    for mb in (256, 0, 0.03):  # bitmap; CSR alone; CSR behind a 16 KB folded bitmap
        s = DeviceSampler(data, 64, 128, cpu, 0, bitmap_max_mb=mb)
        runs[mb] = (s.method, s.fold, [b[1] for e in range(2) for b in s.epoch(e)])
    assert [r[:2] for r in runs.values()] == [("bitmap", None), ("csr", None),
                                              ("csr", 2**17 - 1)]
    for mb in (0, 0.03):
        assert all(torch.equal(x, y) for x, y in zip(runs[256][2], runs[mb][2]))
