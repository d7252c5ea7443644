"""``loader=fast``: the whole batch's negatives drawn at once, on the training device.

No DataLoader, no workers, no per-sample Python. The epoch permutation and every negative come
from :mod:`graphrec.sampling.rng`, keyed by (seed, epoch, step, rank), so a run is the same
whatever the device or process count.

Two exact ways to keep a user's training items out of the negatives:

* ``bitmap`` (small catalogues): a packed bit per (user, candidate) on the device; draw
  uniformly, look the draws up, re-draw the hits until clean.
* ``csr`` (when the bitmap would pass ``loader.bitmap_max_mb``): each user's training items
  as sorted candidate positions. A draw ``r`` in ``[0, C - deg(u))`` is mapped straight to the
  ``r``-th allowed candidate with one ``searchsorted``, so no re-draw is ever needed.

On CUDA the bitmap path re-draws a fixed number of rounds and finishes any residue with the
csr mapping, so the step never waits on the host.
"""
from __future__ import annotations

import logging
from typing import Iterator, Tuple

import numpy as np
import torch

from . import rng

log = logging.getLogger(__name__)

_CUDA_ROUNDS = 4


class DeviceSampler:
    def __init__(self, data, num_neg: int, batch_size: int, device: torch.device, seed: int,
                 candidates: str = "warm", exclude_train: bool = True, replacement: bool = True,
                 bitmap_max_mb: float = 256, rank: int = 0, world: int = 1):
        self.num_neg, self.batch_size, self.device = num_neg, batch_size, device
        self.seed, self.rank, self.world = seed, rank, world
        self.exclude_train, self.replacement = exclude_train, replacement
        cand = np.flatnonzero(data.warm_mask) if candidates == "warm" else np.arange(data.n_items)
        self.n_cand = len(cand)
        self.cand = torch.from_numpy(cand).to(device)
        users = data.train_users()
        self.train_users = torch.from_numpy(users).to(device)
        self.train_items = torch.from_numpy(data.train_indices).to(device)
        self.n_train = len(users)

        # Excluded items (training items, plus held-out ones under data.exclude_heldout) as
        # candidate positions, per user, sorted (cand is sorted ascending).
        cand_pos = np.full(data.n_items, -1, dtype=np.int64)
        cand_pos[cand] = np.arange(len(cand))
        ex_indptr, ex_items = data.negative_exclusions()
        pos = cand_pos[ex_items]
        keep = pos >= 0
        pu = np.repeat(np.arange(data.n_users, dtype=np.int64), np.diff(ex_indptr))[keep]
        pp = pos[keep]
        deg = np.bincount(pu, minlength=data.n_users)
        indptr = np.zeros(data.n_users + 1, dtype=np.int64)
        np.cumsum(deg, out=indptr[1:])
        j = np.arange(len(pp)) - indptr[pu]
        self.keys = torch.from_numpy(pu * self.n_cand + (pp - j)).to(device)
        self.positions = torch.from_numpy(pp).to(device)
        self.indptr = torch.from_numpy(indptr).to(device)
        self.allowed = torch.from_numpy(self.n_cand - deg).to(device)

        words = (self.n_cand + 7) // 8
        bitmap_mb = data.n_users * words / 2**20
        self.method = "bitmap" if bitmap_mb <= bitmap_max_mb else "csr"
        if self.method == "bitmap":
            bits = np.zeros((data.n_users, words), dtype=np.uint8)
            np.bitwise_or.at(bits, (pu, pp >> 3), (1 << (pp & 7)).astype(np.uint8))
            self.bitmap = torch.from_numpy(bits.reshape(-1)).to(device)
            self.words = words
        else:
            log.info("fast sampler: bitmap would take %.0f MB > loader.bitmap_max_mb=%s; "
                     "using the sorted CSR (%.1f MB)", bitmap_mb, bitmap_max_mb,
                     len(pp) * 8 / 2**20)

    def __len__(self) -> int:
        per_rank = (self.n_train - self.rank + self.world - 1) // self.world
        return (per_rank + self.batch_size - 1) // self.batch_size

    # ------------------------------------------------------------------ negatives
    def _is_positive(self, users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        byte = self.bitmap[users.unsqueeze(1) * self.words + (pos >> 3)]
        return ((byte >> (pos & 7).to(torch.uint8)) & 1).bool()

    def _csr_draw(self, key: int, users: torch.Tensor) -> torch.Tensor:
        r = rng.randint(key, (len(users), self.num_neg), self.allowed[users].unsqueeze(1),
                        self.device)
        query = users.unsqueeze(1) * self.n_cand + r
        g = torch.searchsorted(self.keys, query, right=True)
        return r + (g - self.indptr[users].unsqueeze(1))

    def _bitmap_draw(self, key: int, users: torch.Tensor) -> torch.Tensor:
        shape = (len(users), self.num_neg)
        pos = rng.randint(key, shape, self.n_cand, self.device)
        bad = self._is_positive(users, pos)
        if self.device.type == "cpu":
            round_ = 1
            while bool(bad.any()):  # free on CPU; bounded: each round keeps a share < 1
                fresh = rng.randint(rng.stream_key(key, round_), shape, self.n_cand, self.device)
                pos = torch.where(bad, fresh, pos)
                bad = self._is_positive(users, pos)
                round_ += 1
            return pos
        for round_ in range(1, _CUDA_ROUNDS + 1):
            fresh = rng.randint(rng.stream_key(key, round_), shape, self.n_cand, self.device)
            pos = torch.where(bad, fresh, pos)
            bad = self._is_positive(users, pos)
        return torch.where(bad, self._csr_draw(rng.stream_key(key, -1), users), pos)

    def _distinct_draw(self, key: int, users: torch.Tensor) -> torch.Tensor:
        """Without replacement within a row (as ``random.sample``): smallest random keys."""
        noise = rng.rand(key, (len(users), self.n_cand), self.device)
        if self.exclude_train:
            lo, hi = self.indptr[users], self.indptr[users + 1]
            counts = hi - lo
            rows = torch.repeat_interleave(torch.arange(len(users), device=self.device), counts)
            starts = torch.cumsum(counts, 0) - counts
            flat = lo[rows] + torch.arange(len(rows), device=self.device) - starts[rows]
            noise[rows, self.positions[flat]] = 2.0  # above every draw: never picked
        return torch.topk(noise, self.num_neg, dim=1, largest=False).indices

    def negatives(self, users: torch.Tensor, key: int) -> torch.Tensor:
        if not self.replacement:
            pos = self._distinct_draw(key, users)
        elif not self.exclude_train:
            pos = rng.randint(key, (len(users), self.num_neg), self.n_cand, self.device)
        elif self.method == "bitmap":
            pos = self._bitmap_draw(key, users)
        else:
            pos = self._csr_draw(key, users)
        return self.cand[pos]

    # ------------------------------------------------------------------ batches
    def permutation(self, epoch: int) -> torch.Tensor:
        key = rng.stream_key(self.seed, epoch, 0x5EED)
        order = torch.argsort(splitmix_keys(key, self.n_train, self.device))
        return order[self.rank::self.world]

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        perm = self.permutation(epoch)
        b = self.batch_size
        for step in range(start_step, len(self)):
            idx = perm[step * b:(step + 1) * b]
            users = self.train_users[idx]
            key = rng.stream_key(self.seed, epoch, step, self.rank)
            negs = self.negatives(users, key)
            yield users, torch.cat([self.train_items[idx].unsqueeze(1), negs], dim=1)


def splitmix_keys(key: int, n: int, device) -> torch.Tensor:
    return rng.splitmix64(torch.arange(n, device=device, dtype=torch.int64) ^ key)
