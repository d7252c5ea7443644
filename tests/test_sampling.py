"""loader=fast: exact negatives (never a training item, never a non-candidate), distinct rows
without replacement, and the same numbers per (seed, epoch, step) whatever the lookup method,
the code path (CPU numpy or device-wide) and the resume point."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from graphrec.data import load_data
from graphrec.sampling import DeviceSampler, build_sampler, rng
from conftest import make_cfg

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def data():
    # Few items and long users: many draws hit training items, so every re-draw round and
    # the skip mapping run.
    cfg = make_cfg(["data.n_users=120", "data.n_items=90", "data.mean_degree=30",
                    "data.max_degree=60", "data.cold_share=0.2"])
    return load_data(cfg.data)


def make(data, **kw):
    args = dict(num_neg=24, batch_size=32, device=CPU, seed=3)
    args.update(kw)
    return DeviceSampler(data, **args)


def batches(sampler, epoch=0, start_step=0):
    return [(u.clone(), i.clone()) for u, i in sampler.epoch(epoch, start_step)]


def check_exact(data, users, items, candidates="warm"):
    train = np.zeros((data.n_users, data.n_items), dtype=bool)
    train[data.train_users(), data.train_indices] = True
    cand = data.warm_mask if candidates == "warm" else np.ones(data.n_items, dtype=bool)
    u, i = users.numpy()[:, None], items.numpy()
    assert train[u[:, 0], i[:, 0]].all()
    assert not train[u, i[:, 1:]].any(), "a training item was drawn as a negative"
    assert cand[i[:, 1:]].all(), "a non-candidate was drawn"


@pytest.mark.parametrize("method_mb", [256, 0])  # 0 MB forces the CSR lookup
@pytest.mark.parametrize("replacement", [True, False])
@pytest.mark.parametrize("candidates", ["warm", "all"])
def test_negatives_are_exact(data, method_mb, replacement, candidates):
    sampler = make(data, bitmap_max_mb=method_mb, replacement=replacement, candidates=candidates)
    assert sampler.method == ("bitmap" if method_mb else "csr")
    users, items = (torch.cat(x) for x in zip(*sampler.epoch(0)))
    assert items.dtype == torch.int64 and items.shape == (data.n_train, 25)
    check_exact(data, users, items, candidates)
    if not replacement:
        negs = items[:, 1:].sort(dim=1).values
        assert (negs[:, 1:] != negs[:, :-1]).all(), "a row repeats a negative"


def test_every_pair_once_per_epoch(data):
    sampler = make(data)
    pairs = [(u, i) for users, items in sampler.epoch(1)
             for u, i in zip(users.tolist(), items[:, 0].tolist())]
    expected = list(zip(data.train_users().tolist(), data.train_indices.tolist()))
    assert sorted(pairs) == sorted(expected)


def test_deterministic_per_seed_epoch_step(data):
    a, b = batches(make(data)), batches(make(data))
    assert all(torch.equal(x[1], y[1]) for x, y in zip(a, b))
    resumed = batches(make(data), start_step=3)  # a resumed epoch gives the same batches
    assert all(torch.equal(x[1], y[1]) for x, y in zip(a[3:], resumed))
    assert not torch.equal(a[0][1], batches(make(data), epoch=1)[0][1])
    assert not torch.equal(a[0][1], batches(make(data, seed=4))[0][1])


def test_bitmap_csr_and_device_path_agree(data):
    """The bitmap and CSR lookups, and the CPU numpy path and the device-wide path (what CUDA
    runs), give the same negatives."""
    bitmap = batches(make(data))
    csr = batches(make(data, bitmap_max_mb=0))
    wide = make(data)
    wide.np = None  # the sync-free path every non-CPU device takes
    wide = batches(wide)
    for x, y, z in zip(bitmap, csr, wide):
        assert torch.equal(x[1], y[1]) and torch.equal(x[1], z[1])


def test_negatives_are_uniform_over_allowed(data):
    """For the busiest user, every allowed candidate comes up about equally often."""
    sampler = make(data, num_neg=60)
    u = int(np.argmax(np.diff(data.train_indptr)))
    users = torch.full((2000,), u)
    pos_col = sampler.t["train_pos"][data.train_indptr[u]].expand(2000)
    counts = np.bincount(sampler.sample(users, pos_col, key=7)[:, 1:].reshape(-1),
                         minlength=data.n_items)
    own = data.train_indices[data.train_indptr[u]:data.train_indptr[u + 1]]
    allowed = np.setdiff1d(np.flatnonzero(data.warm_mask), own)
    assert counts[own].sum() == 0 and counts.sum() == counts[allowed].sum()
    expected = counts.sum() / len(allowed)
    chi2 = ((counts[allowed] - expected) ** 2 / expected).sum()
    assert chi2 < len(allowed) + 5 * np.sqrt(2 * len(allowed)), chi2  # ~5 sigma


def test_csr_switch_is_logged(data, caplog):
    with caplog.at_level(logging.INFO, logger="graphrec.sampling.fast"):
        make(data, bitmap_max_mb=0)
    assert "sorted CSR" in caplog.text and "loader.bitmap_max_mb=0" in caplog.text


def test_build_sampler_reads_the_loader_group(data):
    cfg = make_cfg(["loader=fast", "sampling.replacement=false", "loader.bitmap_max_mb=0"])
    sampler = build_sampler(data, cfg, CPU)
    assert isinstance(sampler, DeviceSampler) and sampler.method == "csr"
    assert not sampler.replacement


def test_hash_matches_numpy_uint32_and_is_pinned():
    """int32 torch arithmetic wraps like uint32 numpy arithmetic; the values are pinned so a
    change of the stream (which would change every run) is caught."""
    counters = torch.arange(10_000, dtype=torch.int32)
    for key in (0, 2**64 - 1, rng.stream_key(1, 2, 3)):
        assert np.array_equal(rng.bits(key, counters).numpy(),
                              rng.bits_np(key, counters.numpy()))
        high = torch.arange(1, 10_001)
        assert np.array_equal(rng.randint(key, counters, high).numpy(),
                              rng.randint_np(key, counters.numpy(), high.numpy()))
    key = rng.stream_key(1, 2, 3)
    assert key == 15020427595393229491
    assert rng.bits(key, counters[:4]).tolist() == [497325998, 665630543, 976738352, -1119987288]
    assert rng.randint(key, counters[:4], 5119).tolist() == [3152, 3352, 3723, 1224]
