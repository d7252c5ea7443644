"""The seed's sampler, kept as the measured reference.

``SeedDataset.__getitem__`` does what CLCRec's ``TrainingDataset`` does for every sample: a
set difference of all candidate items minus the user's items, then ``random.sample`` of
``num_neg`` of them, and a user tensor repeated ``1 + num_neg`` times. That per-sample
Python work (~340 µs at 5k items, 512 negatives) is what bounds the seed's training loop.
"""
from __future__ import annotations

import random
from typing import Iterator, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..config import resolve_num_workers


class SeedDataset(Dataset):
    def __init__(self, train_users: np.ndarray, train_items: np.ndarray, user_items: list,
                 candidates: np.ndarray, num_neg: int, exclude_train: bool = True):
        self.pairs = np.stack([train_users, train_items], axis=1)
        self.user_items = user_items  # list of sets, one per user
        self.all_set = set(candidates.tolist())
        self.num_neg = num_neg
        self.exclude_train = exclude_train

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index):
        user, pos = (int(x) for x in self.pairs[index])
        pool = self.all_set.difference(self.user_items[user]) if self.exclude_train else self.all_set
        neg = random.sample(list(pool), self.num_neg)  # py3.11 needs a sequence
        return torch.LongTensor([user] * (self.num_neg + 1)), torch.LongTensor([pos] + neg)


def _seed_worker(worker_id: int) -> None:
    # Python's random is not reseeded per worker by torch; derive it from torch's seed.
    random.seed(torch.initial_seed() % 2**32)


class DataLoaderSampler:
    """``loader=baseline`` (1 worker, no pinning) and ``loader=workers`` (the guide's knobs)."""

    def __init__(self, data, cfg, device: torch.device, seed: int, rank: int = 0,
                 world: int = 1):
        cand = np.flatnonzero(data.warm_mask) if cfg.sampling.candidates == "warm" \
            else np.arange(data.n_items)
        indptr, indices = data.negative_exclusions()
        user_items = [set(indices[indptr[u]:indptr[u + 1]].tolist()) for u in range(data.n_users)]
        self.dataset = SeedDataset(data.train_users(), data.train_indices, user_items, cand,
                                   cfg.sampling.num_neg, cfg.sampling.exclude_train)
        self.device = device
        self.batch_size = cfg.batch.size
        self.seed, self.rank = seed, rank
        workers = resolve_num_workers(cfg.loader.num_workers)
        kwargs = dict(batch_size=cfg.batch.size // world, shuffle=world == 1,
                      num_workers=workers,
                      pin_memory=bool(cfg.loader.pin_memory) and device.type == "cuda",
                      worker_init_fn=_seed_worker, generator=torch.Generator())
        self.dist_sampler = None
        if world > 1:  # each rank a slice of the epoch; equal step counts on every rank
            self.dist_sampler = DistributedSampler(self.dataset, world, rank, shuffle=True,
                                                   seed=seed, drop_last=True)
            kwargs.update(sampler=self.dist_sampler, drop_last=True)
        if workers > 0:
            kwargs["persistent_workers"] = bool(cfg.loader.persistent_workers)
            if cfg.loader.prefetch_factor is not None:
                kwargs["prefetch_factor"] = int(cfg.loader.prefetch_factor)
        self.num_workers = workers
        self.loader = DataLoader(self.dataset, **kwargs)

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        key = self.seed * 1_000_003 + epoch + 7919 * self.rank  # ranks draw differently
        self.loader.generator.manual_seed(key)
        random.seed(key)  # the in-process (0-worker) case
        if self.dist_sampler is not None:
            self.dist_sampler.set_epoch(epoch)
        for step, (users, items) in enumerate(self.loader):
            if step < start_step:
                continue
            yield (users[:, 0].to(self.device, non_blocking=True),
                   items.to(self.device, non_blocking=True))
