"""The seed-style Dataset never returns a training positive or a non-candidate."""
from __future__ import annotations

import torch

from graphrec.data import load_data
from graphrec.sampling import build_sampler
from conftest import make_cfg


def test_baseline_negatives_are_valid_candidates():
    cfg = make_cfg(["loader=baseline", "loader.num_workers=0", "sampling.num_neg=40"])
    data = load_data(cfg.data)
    sampler = build_sampler(data, cfg, torch.device("cpu"))
    seen = 0
    for users, items in sampler.epoch(0):
        for u, row in zip(users.tolist(), items.tolist()):
            own = set(data.train_indices[data.train_indptr[u]:data.train_indptr[u + 1]].tolist())
            assert row[0] in own
            assert not own & set(row[1:])
            assert data.warm_mask[row[1:]].all()
        seen += len(users)
    assert seen == data.n_train
