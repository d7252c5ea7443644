"""``loader=fast``: the whole batch's negatives drawn at once, on the training device.

No DataLoader, no workers, no per-sample Python. The epoch permutation and every negative come
from :mod:`graphrec.sampling.rng`, keyed by (seed, epoch, step, rank) and by the slot in the
batch, so a run is the same whatever the device or process count.

Each negative slot gets a uniform candidate position. The slots that hit one of the user's
training items (about 1 % at the seed's shape) are found with

* ``bitmap`` (small catalogues): a packed bit per (user, candidate) on the device, or
* ``csr`` (when the bitmap would pass ``loader.bitmap_max_mb``): the sorted
  ``user * C + position`` keys of the training items and one ``searchsorted``. On CPU a
  *folded* bitmap (bit ``key mod 2^b``, at most ``loader.bitmap_max_mb``) answers first: a
  clear bit means no training item, and only the slots whose bit is set (the hits and ~1 %
  of collisions at MovieLens-25M's size) are searched, 3-5x faster than searching all;

and get the first of ``_ROUNDS`` fresh draws that is no training item, else (rarely) a draw
``r`` in ``[0, C - deg(u))`` mapped straight to the ``r``-th allowed candidate through the
sorted CSR. Every step is uniform over the allowed candidates, so the result is too, and exact:
never a training item, never a non-candidate. Both lookups answer the same question, so
``bitmap`` and ``csr`` give the same negatives.

On CPU the re-drawn slots are handled in numpy, only where needed; on other devices every slot
is computed and a ``where`` keeps the needed ones, so the step never waits on the host. The
numbers are the same either way.
"""
from __future__ import annotations

import logging
from typing import Iterator, Tuple

import numpy as np
import torch

from ..errors import ConfigError
from . import rng

log = logging.getLogger(__name__)

_ROUNDS = 4  # re-draws per hit slot before the skip mapping (a 634-item user hits 12 %)


class DeviceSampler:
    def __init__(self, data, num_neg: int, batch_size: int, device: torch.device, seed: int,
                 candidates: str = "warm", exclude_train: bool = True, replacement: bool = True,
                 bitmap_max_mb: float = 256, rank: int = 0, world: int = 1):
        self.num_neg, self.batch_size, self.device = num_neg, batch_size, device
        self.seed, self.rank, self.world = seed, rank, world
        self.exclude_train, self.replacement = exclude_train, replacement
        cand = np.flatnonzero(data.warm_mask) if candidates == "warm" else np.arange(data.n_items)
        self.n_cand = c = len(cand)
        users = data.train_users()
        self.n_train = len(users)
        slots = batch_size * ((1 + num_neg) * _ROUNDS if replacement else c)
        if self.n_train >= 2**31:
            raise ConfigError(f"loader=fast is invalid for {self.n_train:,} training pairs: its "
                              "counters are int32 (allowed below 2^31 pairs; use "
                              "loader=baseline)")
        if slots >= 2**31:
            what, fix = ((f"(1 + sampling.num_neg) x {_ROUNDS}", "or sampling.num_neg")
                         if replacement else (f"{c:,} candidates", "or sampling.replacement=true"))
            raise ConfigError(f"batch.size={batch_size} is invalid with loader=fast here: "
                              f"batch.size x {what} = {slots:,} draws per batch passes its int32 "
                              f"counters (allowed: below 2^31; lower batch.size {fix})")

        # Excluded items (training items, plus held-out ones under data.exclude_heldout) as
        # candidate positions, per user, sorted (cand is sorted ascending).
        cand_pos = np.full(data.n_items, -1, dtype=np.int64)
        cand_pos[cand] = np.arange(c)
        ex_indptr, ex_items = data.negative_exclusions()
        pos = cand_pos[ex_items]
        keep = pos >= 0
        pu = np.repeat(np.arange(data.n_users, dtype=np.int64), np.diff(ex_indptr))[keep]
        pp = pos[keep]
        deg = np.bincount(pu, minlength=data.n_users)
        indptr = np.zeros(data.n_users + 1, dtype=np.int64)
        np.cumsum(deg, out=indptr[1:])
        j = np.arange(len(pp)) - indptr[pu]
        # The j-th training position p_j of user u as u*C + p_j - j: the allowed candidates
        # below the r-th allowed one are as many as these keys <= u*C + r.
        host = {"cand": cand, "train_users": users,
                "train_pos": cand_pos[data.train_indices].astype(np.int32),
                "skip_keys": pu * c + (pp - j), "indptr": indptr, "allowed": c - deg}

        words = (c + 7) // 8
        bitmap_bytes = data.n_users * words
        self.method = "bitmap" if bitmap_bytes <= bitmap_max_mb * 2**20 \
            and bitmap_bytes < 2**31 else "csr"
        self.fold = None
        if self.method == "bitmap":
            # bit p of row u is bit u * 8 * words + p: pu, pp are sorted, so are these
            host["bitmap"] = _pack_bits(bitmap_bytes, pu * (8 * words) + pp)
            self.words = words
            log.info("fast sampler: bitmap of training items, %.1f MB <= loader.bitmap_max_mb=%s",
                     bitmap_bytes / 2**20, bitmap_max_mb)
        else:
            host["member_keys"] = pu * c + pp
            fold = _fold_bits(bitmap_max_mb, len(pp))
            if device.type == "cpu" and fold:
                self.fold = fold - 1
                # the sorted keys folded are a few sorted runs: a stable sort merges them
                folded = np.sort(host["member_keys"] & self.fold, kind="stable")
                host["fold"] = _pack_bits(fold // 8, folded)
            log.info("fast sampler: a bitmap would take %.0f MB > loader.bitmap_max_mb=%s; "
                     "using the sorted CSR of training items (%.1f MB) instead%s",
                     bitmap_bytes / 2**20, bitmap_max_mb, 2 * len(pp) * 8 / 2**20,
                     f", behind a folded bitmap of {fold / 2**23:.0f} MB" if self.fold else "")
        # The same tables as tensors on the device and, on CPU, as numpy views of them.
        self.t = {k: torch.from_numpy(v).to(device) for k, v in host.items()}
        self.np = {k: v.numpy() for k, v in self.t.items()} if device.type == "cpu" else None
        self._one = torch.ones((), dtype=torch.uint8, device=device)
        self._rounds = torch.arange(_ROUNDS, dtype=torch.int32, device=device)
        self._counters = {}

    def __len__(self) -> int:
        """Steps per epoch. Under DDP every rank takes ``batch_size / world`` rows of each
        global batch and the last incomplete global batch is dropped, so all ranks step
        together and their union is the single-process batch."""
        if self.world > 1:
            return self.n_train // self.batch_size
        return (self.n_train + self.batch_size - 1) // self.batch_size

    def counters(self, shape) -> torch.Tensor:
        """0, 1, 2, ... as int32 of ``shape``, kept: the slot ids every draw is keyed by."""
        if shape not in self._counters:
            n = int(np.prod(shape))
            counters = torch.arange(n, dtype=torch.int32, device=self.device)
            self._counters[shape] = counters.view(shape)
        return self._counters[shape]

    # ------------------------------------------------------------------ training items
    def _is_train(self, users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Nonzero where candidate position ``pos`` is a training item of the user
        (``users`` broadcasts against ``pos``); uint8 or bool, the shape of ``pos``."""
        if self.method == "bitmap":
            idx = torch.bitwise_right_shift(pos, 3)
            idx += (users * self.words).to(torch.int32)
            byte = self.t["bitmap"].index_select(0, idx.view(-1)).view(pos.shape)
            torch.bitwise_and(pos, 7, out=idx)
            return byte.bitwise_and_(torch.bitwise_left_shift(self._one, idx.to(torch.uint8)))
        keys = self.t["member_keys"]
        query = users * self.n_cand + pos
        if self.fold is not None:  # CPU: search only where the folded bitmap's bit is set
            b = query & self.fold
            maybe = self.t["fold"].index_select(0, (b >> 3).view(-1)).view(b.shape)
            maybe = maybe.bitwise_right_shift_(b.bitwise_and_(7).to(torch.uint8)).bitwise_and_(1)
            out = torch.zeros(query.shape, dtype=torch.bool)
            at = maybe.view(-1).nonzero().squeeze(1)
            q = query.reshape(-1)[at]
            out.view(-1)[at] = keys[torch.searchsorted(keys, q).clamp_(max=len(keys) - 1)] == q
            return out
        return keys[torch.searchsorted(keys, query).clamp_(max=len(keys) - 1)] == query

    def _is_train_np(self, users: np.ndarray, pos: np.ndarray) -> np.ndarray:
        if self.method == "bitmap":
            byte = self.np["bitmap"][users * self.words + (pos >> 3)]
            return (byte >> (pos & 7).astype(np.uint8)) & 1 != 0
        keys = self.np["member_keys"]
        query = users * self.n_cand + pos
        return keys[np.minimum(np.searchsorted(keys, query), len(keys) - 1)] == query

    def _skip(self, users: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """The ``r``-th allowed candidate position of each user."""
        g = torch.searchsorted(self.t["skip_keys"], users * self.n_cand + r, right=True)
        return (r + (g - self.t["indptr"][users])).to(torch.int32)

    def _skip_np(self, users: np.ndarray, r: np.ndarray) -> np.ndarray:
        g = np.searchsorted(self.np["skip_keys"], users * self.n_cand + r, side="right")
        return (r + (g - self.np["indptr"][users])).astype(np.int32)

    # ------------------------------------------------------------------ re-draws
    def _replace(self, key: int, users: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """New positions for the flat ``slots`` (of users ``users``): the first of ``_ROUNDS``
        draws that is no training item, else the skip mapping."""
        draws = rng.randint(rng.stream_key(key, 1), slots.view(-1, 1) * _ROUNDS + self._rounds,
                            self.n_cand)
        ok = self._is_train(users.view(-1, 1), draws) == 0
        first = draws.gather(1, ok.to(torch.uint8).argmax(dim=1, keepdim=True)).squeeze(1)
        r = rng.randint(rng.stream_key(key, 2), slots, self.t["allowed"][users])
        return torch.where(ok.any(dim=1), first, self._skip(users, r))

    def _replace_np(self, key: int, users: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """:meth:`_replace` in numpy; the skip mapping only where all rounds hit."""
        draws = rng.randint_np(rng.stream_key(key, 1),
                               slots[:, None] * _ROUNDS + np.arange(_ROUNDS), self.n_cand)
        ok = ~self._is_train_np(users[:, None], draws)
        out = draws[np.arange(len(slots)), ok.argmax(axis=1)]
        need = ~ok.any(axis=1)
        if need.any():
            r = rng.randint_np(rng.stream_key(key, 2), slots[need],
                               self.np["allowed"][users[need]])
            out[need] = self._skip_np(users[need], r)
        return out

    def _draw_with_replacement(self, key: int, users: torch.Tensor,
                               positives: torch.Tensor) -> torch.Tensor:
        b, m = len(users), 1 + self.num_neg
        pos = rng.randint(key, self.counters((b, m)), self.n_cand)
        pos[:, 0] = positives
        if not self.exclude_train:
            return pos
        hit = self._is_train(users.view(-1, 1), pos)
        hit[:, 0] = 0
        if self.np is None:
            slots = self.counters((b * m,))
            new = self._replace(key, users.repeat_interleave(m), slots).view(b, m)
            return torch.where(hit.bool(), new, pos)
        slots = _nonzero_slots(hit.numpy())
        if len(slots):
            users_np = users.numpy()[slots // m]
            pos.numpy().reshape(-1)[slots] = self._replace_np(key, users_np, slots)
        return pos

    def _draw_distinct(self, key: int, users: torch.Tensor, positives: torch.Tensor):
        """Without replacement within a row (as ``random.sample``): the ``num_neg`` candidates
        with the smallest random keys; the low 32 bits hold the column, so there are no ties."""
        keys = rng.bits(key, self.counters((len(users), self.n_cand))).to(torch.int64)
        keys = (keys << 32) | torch.arange(self.n_cand, device=self.device)
        if self.exclude_train:
            lo = self.t["indptr"][users]
            deg = self.t["indptr"][users + 1] - lo
            rows = torch.repeat_interleave(torch.arange(len(users), device=self.device), deg)
            j = torch.arange(len(rows), device=self.device) - (torch.cumsum(deg, 0) - deg)[rows]
            train_pos = self.t["skip_keys"][lo[rows] + j] - users[rows] * self.n_cand + j
            keys[rows, train_pos] = torch.iinfo(torch.int64).max  # never among the smallest
        negs = torch.topk(keys, self.num_neg, dim=1, largest=False).indices.to(torch.int32)
        return torch.cat([positives.view(-1, 1), negs], dim=1)

    # ------------------------------------------------------------------ batches
    def sample(self, users: torch.Tensor, positives: torch.Tensor, key: int) -> torch.Tensor:
        """``[B, 1 + num_neg]`` item ids: column 0 the positives (given as candidate
        positions), then the negatives of stream ``key``."""
        if self.replacement:
            pos = self._draw_with_replacement(key, users, positives)
        else:
            pos = self._draw_distinct(key, users, positives)
        return self.t["cand"].index_select(0, pos.view(-1)).view(pos.shape)

    def permutation(self, epoch: int) -> torch.Tensor:
        key = rng.stream_key(self.seed, epoch, 0x5EED)
        # stable: equal keys keep counter order, so every device gives the same permutation
        return torch.sort(rng.bits(key, self.counters((self.n_train,))), stable=True).indices

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
        perm = self.permutation(epoch)
        b = self.batch_size
        for step in range(start_step, len(self)):
            idx = perm[step * b:(step + 1) * b][self.rank::self.world]
            # index_select: ~5x cheaper than indexing with a tensor on CPU (57 vs 10 us here)
            users = self.t["train_users"].index_select(0, idx)
            key = rng.stream_key(self.seed, epoch, step, self.rank)
            yield users, self.sample(users, self.t["train_pos"].index_select(0, idx), key)


def _pack_bits(n_bytes: int, bits: np.ndarray) -> np.ndarray:
    """``n_bytes`` uint8 with the given bit indices set (little-endian within a byte): a
    segmented OR over the sorted indices, much faster than ``np.bitwise_or.at``."""
    out = np.zeros(n_bytes, dtype=np.uint8)
    if len(bits):
        if (bits[1:] < bits[:-1]).any():  # the callers' are sorted; be safe with others
            bits = np.sort(bits, kind="stable")
        byte = bits >> 3
        starts = np.flatnonzero(np.concatenate([[True], byte[1:] != byte[:-1]]))
        values = np.left_shift(1, bits & 7).astype(np.uint8)
        out[byte[starts]] = np.bitwise_or.reduceat(values, starts)
    return out


def _fold_bits(max_mb: float, n_keys: int) -> int:
    """Size in bits of the folded bitmap: the largest power of two within ``max_mb``, or 0
    when that leaves fewer than 16 bits per key (too many collisions to be worth it)."""
    budget = int(max_mb * 2**23)
    if budget < 64:
        return 0
    bits = 1 << (budget.bit_length() - 1)
    return bits if bits >= 16 * n_keys else 0


def _nonzero_slots(hit: np.ndarray) -> np.ndarray:
    """Flat indices of the nonzero elements of a 1-byte array. Hits are rare, so the scan runs
    over 8-byte words first: 3-5x faster than over the bytes."""
    flat = hit.reshape(-1).view(np.uint8)
    if len(flat) % 8:
        flat = np.concatenate([flat, np.zeros(8 - len(flat) % 8, dtype=np.uint8)])
    words = np.flatnonzero(flat.view(np.int64))
    sub = np.flatnonzero(flat.reshape(-1, 8)[words])
    return words[sub // 8] * 8 + sub % 8
