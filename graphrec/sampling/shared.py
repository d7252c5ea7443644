"""``loader=fast`` with negatives shared by the whole batch (``sampling.strategy``):

* ``shared``: ``K = num_neg`` uniform candidates per batch (with or without replacement),
  the same ``K`` columns for every sample;
* ``in_batch``: the batch's positives are the columns (``K = B``), each sample scored
  against the others' positives, with the logQ correction when ``sampling.logq``;
* ``mixed``: the in-batch columns, then ``K`` shared uniform ones; logQ on the in-batch part.

A column that is an accidental hit for a sample (its own positive; with ``exclude_train``
any training item of its user, found with the per-sample draws' bitmap or CSR) is marked in
``hit`` and masked out of that sample's softmax; nothing is redrawn, so a sample keeps ``K``
minus its hits columns, where per-sample draws always keep ``num_neg``.

Batches are :class:`~graphrec.models.negatives.SharedNegatives`: the items a step reads
(positives and columns) once each on CPU, where ``torch.unique`` costs microseconds; on other
devices they stay ``B + K`` rows with repeats, as de-duplicating would wait on the host. Draws
are keyed by (seed, epoch, step, rank) as per-sample ones are: under DDP every rank draws its
own shared set and its in-batch columns are its own share of the batch.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..models.negatives import SharedNegatives
from . import rng
from .fast import DeviceSampler

STRATEGIES = ("shared", "in_batch", "mixed")


class SharedSampler(DeviceSampler):
    def __init__(self, data, strategy: str, num_neg: int, batch_size: int,
                 device: torch.device, seed: int, candidates: str = "warm",
                 exclude_train: bool = True, replacement: bool = True, logq: bool = False,
                 bitmap_max_mb: float = 256, rank: int = 0, world: int = 1):
        if strategy not in STRATEGIES:
            raise ValueError(f"sampling.strategy={strategy!r}: allowed {'|'.join(STRATEGIES)}")
        super().__init__(data, num_neg, batch_size, device, seed, candidates=candidates,
                         exclude_train=exclude_train, replacement=replacement,
                         bitmap_max_mb=bitmap_max_mb, rank=rank, world=world)
        self.strategy = strategy
        self.uniform = num_neg if strategy != "in_batch" else 0
        self.in_batch = strategy != "shared"
        self.unique_rows = device.type == "cpu"
        self.log_p = None
        if logq and self.in_batch:  # log of each candidate's share of the training pairs
            counts = np.bincount(self.t["train_pos"].cpu().numpy(), minlength=self.n_cand)
            with np.errstate(divide="ignore"):  # never-positive items are never in-batch columns
                log_p = np.log(counts / self.n_train).astype(np.float32)
            self.log_p = torch.from_numpy(log_p).to(device)

    def _draw_uniform(self, key: int) -> torch.Tensor:
        """``[K]`` candidate positions shared by the batch: uniform with replacement, or the
        ``K`` smallest of a random key per candidate (distinct, as ``random.sample``)."""
        key = rng.stream_key(key, 3)
        if self.replacement:
            return rng.randint(key, self.counters((self.uniform,)), self.n_cand)
        keys = rng.bits(key, self.counters((self.n_cand,)))
        return torch.topk(keys, self.uniform, largest=False, sorted=False).indices.to(torch.int32)

    def _hits(self, users: torch.Tensor, positives: torch.Tensor, cols: torch.Tensor):
        """``[B, K]`` bool: column ``cols[k]`` (candidate positions) is the sample's positive
        or, with ``exclude_train``, any training item of its user."""
        if not self.exclude_train:
            return positives.view(-1, 1) == cols.view(1, -1)
        grid = cols.view(1, -1).expand(len(users), -1).contiguous()
        return self._is_train(users.view(-1, 1), grid) != 0

    def sample(self, users: torch.Tensor, positives: torch.Tensor, key: int) -> SharedNegatives:
        b = len(users)
        parts = [positives] if self.in_batch else []
        if self.uniform:
            parts.append(self._draw_uniform(key))
        cols = torch.cat(parts) if len(parts) > 1 else parts[0]
        hit = self._hits(users, positives, cols)
        pos_logq = neg_logq = None
        if self.log_p is not None:  # log(B p_i): the expected count among the B positives
            pos_logq = self.log_p.index_select(0, positives) + math.log(b)
            neg_logq = pos_logq if not self.uniform else torch.cat(
                [pos_logq, pos_logq.new_zeros(self.uniform)])
        # the rows a step reads: the positives, then the uniform columns
        read = cols if self.in_batch else torch.cat([positives, cols])
        if self.unique_rows:
            read, at = torch.unique(read, return_inverse=True)
        else:
            at = torch.arange(len(read), device=read.device)
        pos, neg = at[:b], (at if self.in_batch else at[b:])
        items = self.t["cand"].index_select(0, read)
        return SharedNegatives(items, pos, neg, hit, pos_logq, neg_logq)
