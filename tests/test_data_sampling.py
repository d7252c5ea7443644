"""data.exclude_heldout: both samplers never draw an excluded item as a negative."""
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from graphrec.config import SyntheticData
from graphrec.data.synthetic import generate
from graphrec.sampling import DataLoaderSampler, DeviceSampler


@pytest.fixture(scope="module")
def data():
    d = generate(OmegaConf.structured(SyntheticData(n_users=120, n_items=90, mean_degree=12,
                                                    max_degree=30)))
    d.exclude_heldout()
    return d


def _dense(n_users, n_items, indptr, indices):
    out = np.zeros((n_users, n_items), dtype=bool)
    out[np.repeat(np.arange(n_users), np.diff(indptr)), indices] = True
    return out


def _hits(data, batches) -> tuple:
    """(negatives on excluded items, negatives on held-out items) over all batches."""
    excluded = _dense(data.n_users, data.n_items, *data.negative_exclusions())
    heldout = _dense(data.n_users, data.n_items, data.val_indptr, data.val_indices) | \
        _dense(data.n_users, data.n_items, data.test_indptr, data.test_indices)
    bad = held = 0
    for users, items in batches:
        u, neg = users.numpy()[:, None], items[:, 1:].numpy()
        bad += int(excluded[u, neg].sum())
        held += int(heldout[u, neg].sum())
    return bad, held


@pytest.mark.parametrize("bitmap_max_mb, replacement", [(256, True), (0, True), (256, False)])
def test_device_sampler_respects_exclusions(data, bitmap_max_mb, replacement):
    s = DeviceSampler(data, 16, 64, torch.device("cpu"), 0, bitmap_max_mb=bitmap_max_mb,
                      replacement=replacement)
    assert s.method == ("bitmap" if bitmap_max_mb else "csr")
    assert _hits(data, s.epoch(0))[0] == 0


def test_baseline_sampler_respects_exclusions(data):
    cfg = OmegaConf.create({
        "sampling": {"candidates": "warm", "num_neg": 16, "exclude_train": True},
        "batch": {"size": 64},
        "loader": {"num_workers": 0, "pin_memory": False, "persistent_workers": False,
                   "prefetch_factor": None}})
    s = DataLoaderSampler(data, cfg, torch.device("cpu"), 0)
    assert _hits(data, s.epoch(0))[0] == 0


def test_without_the_option_heldout_items_are_drawn(data):
    plain = generate(OmegaConf.structured(SyntheticData(n_users=120, n_items=90, mean_degree=12,
                                                        max_degree=30)))
    s = DeviceSampler(plain, 16, 64, torch.device("cpu"), 0)
    bad, held = _hits(data, s.epoch(0))
    assert held > 0 and bad == held  # only the held-out items: training ones stay excluded
