"""Seeded synthetic implicit feedback with learnable structure.

Users and items get latent factors; a user's items are drawn without replacement (Gumbel
top-k) from softmax(affinity * <u, v> + popularity bias), so a model that learns the factors
beats a popularity ranker by far. Item popularity follows a power law over a random item
order. Each modality's features are a random linear map of the item factors plus noise, so an
encoder can recover the factors of cold items, which never appear in training.

Two paths draw the users' items, the same law for the factors they are given:

* ``dense`` (up to ``DENSE_MAX_CELLS`` users x items, every preset up to ``synthetic_seed``):
  every user scores every item in blocks of 2,048 users, Gumbel top-k. Cost ~ users x items.
* ``tied`` (above): item factors are tied to ``PROTOTYPES`` shared vectors (each item takes one
  at random), so a user's softmax over items factors into one over prototypes times the
  popularity within a prototype. Items are then drawn with replacement from that law and the
  first ``degree`` distinct ones kept, which is exactly sampling without replacement
  (Plackett-Luce, the Gumbel top-k law); users who exhaust their draws, and the few heaviest,
  finish with a Gumbel top-k over their remaining items. Cost ~ pairs + users x prototypes,
  memory bounded per block of users; the split and the CSR are built per block too.

``generate`` caches the result in ``cache_dir`` when the config sets one (the large presets).
"""
from __future__ import annotations

import logging
import time

import numpy as np
import torch

from .interactions import Interactions, csr_from_pairs
from .split_rules import random_split

log = logging.getLogger(__name__)

MODALITIES = ("v", "a", "t")

# Above this many users x items the dense path would take minutes (synthetic_seed, 3.3e8
# cells, takes ~6 s); generate() then takes the tied path, O(pairs).
DENSE_MAX_CELLS = 2**30
PROTOTYPES = 1024  # shared item factors on the tied path
GENERATOR_VERSION = 1  # part of the cache key: bump when either path's output changes
_BLOCK_DRAWS = 2**21  # tied path: draws per block of users (~100 MB of temporaries)
_BLOCK_ROWS = 2048  # tied path: most users per block ([rows, PROTOTYPES] float64 CDF, 16 MB)
_ROUNDS = 6  # tied path: rounds of draws before a user finishes with a Gumbel top-k
_HEAVY = 8  # tied path: users with degree > n_items / _HEAVY take the Gumbel top-k at once
_FINISH_CELLS = 2**24  # tied path: users x items scored at once in the finish


def _degrees(rng: np.random.Generator, cfg, n_users: int) -> np.ndarray:
    """Log-normal degrees (heavy right tail like real logs), scaled to ``mean_degree``."""
    z = rng.lognormal(0.0, cfg.degree_sigma, size=n_users)
    d = np.round(z * cfg.mean_degree / z.mean())
    return np.clip(d, cfg.min_degree, min(cfg.max_degree, cfg.n_items - 1)).astype(np.int64)


def _draw_items(gen: torch.Generator, logits_fn, degrees: np.ndarray, chunk: int = 2048):
    """Gumbel top-k per user: items without replacement, proportional to softmax(logits)."""
    users, items = [], []
    for start in range(0, len(degrees), chunk):
        stop = min(start + chunk, len(degrees))
        logits = logits_fn(start, stop)
        u = torch.rand(logits.shape, generator=gen).clamp_(1e-12, 1.0)
        keys = u.log_().neg_().log_().neg_().add_(logits)  # logits + Gumbel, in place: 4x faster
        d = degrees[start:stop]
        # top-k costs ~k and degrees are heavy-tailed: take every row's top at a k that covers
        # most rows, then the few longer rows again at their own k.
        k = min(int(np.percentile(d, 95)), int(d.max()))
        top = torch.topk(keys, k, dim=1).indices.numpy()
        short = d <= k
        users.append(np.repeat(start + np.flatnonzero(short), d[short]))
        items.append(top[short][np.arange(k)[None, :] < d[short, None]])
        rows = np.flatnonzero(~short)
        if len(rows):
            top = torch.topk(keys[torch.from_numpy(rows)], int(d[rows].max()), dim=1).indices
            users.append(np.repeat(start + rows, d[rows]))
            items.append(top.numpy()[np.arange(top.shape[1])[None, :] < d[rows, None]])
    users, items = np.concatenate(users), np.concatenate(items)
    order = np.argsort(users, kind="stable")  # back to user order, each user's draws as before
    return users[order], items[order]


class _Tied:
    """The tied path's tables: item ``i`` has factor ``proto[assign[i]]`` and popularity weight
    ``q[i]``; items sorted by prototype, with the running sum of their weights, so an item is
    drawn within its prototype by inverting that sum (a guide table, then a short walk)."""

    def __init__(self, proto: torch.Tensor, assign: np.ndarray, pop_bias: torch.Tensor,
                 scale: float):
        self.proto, self.assign, self.scale = proto, assign, scale
        self.pop_bias = pop_bias
        self.n_items, self.n_proto = len(assign), len(proto)
        b = pop_bias.double().numpy()
        q = np.exp(b - b.max())
        self.mass = np.bincount(assign, q, minlength=self.n_proto)
        with np.errstate(divide="ignore"):  # an empty prototype: -inf, never drawn
            self.log_mass = torch.from_numpy(np.log(self.mass)).float()
        self.by_proto = np.argsort(assign, kind="stable")
        self.start = np.zeros(self.n_proto + 1, dtype=np.int64)
        np.cumsum(np.bincount(assign, minlength=self.n_proto), out=self.start[1:])
        self.cum = np.cumsum(q[self.by_proto])
        self.base = np.concatenate([[0.0], self.cum])[self.start[:-1]]
        # guide table: bin b of 4 per item starts the search for a mass in it at the first
        # item whose running sum passes the bin's start (Chen and Asau's indexed search)
        self.bins = 4 * self.n_items
        self.bin_width = self.cum[-1] / self.bins
        self.guide = np.searchsorted(self.cum, np.arange(self.bins) * self.bin_width,
                                     side="right")

    def proto_logits(self, uf: torch.Tensor) -> torch.Tensor:
        """``[users, prototypes]`` affinity logits (without popularity)."""
        return self.scale * uf @ self.proto.T

    def row_law(self, logits: torch.Tensor):
        """Each row's law over prototypes as one flat running sum (row ``r``'s in
        ``(r, r + 1]``) and a guide table of ``n_proto`` bins per row into it."""
        n_rows, c = logits.shape
        p = torch.softmax(logits + self.log_mass, dim=1).double()
        cdf = torch.cumsum(p, dim=1)
        cdf[:, -1] = 1.0
        # bin g of a row starts at the number of its prototypes whose running sum is below
        # g / c, less one for rounding: at or before the first that passes a target in it
        offset = np.arange(n_rows)[:, None] * c
        binned = np.minimum((cdf.numpy() * c).astype(np.int64), c - 1) + offset
        counts = np.bincount(binned.reshape(-1), minlength=n_rows * c).reshape(n_rows, c)
        guide = np.maximum(np.cumsum(counts, axis=1) - counts - 1, 0) + offset
        cdf += torch.arange(n_rows, dtype=torch.float64)[:, None]
        return cdf.view(-1).numpy(), guide.reshape(-1)

    def draw(self, gen, law, rows: np.ndarray) -> np.ndarray:
        """One item per entry of ``rows`` from its row's law: a prototype (``law`` from
        :meth:`row_law`), then an item within it by popularity; each by a guide table."""
        cdf, guide = law
        n, c = len(rows), self.n_proto
        u = torch.rand(n, generator=gen, dtype=torch.float64).numpy()
        start = rows * c
        pos = guide[start + np.minimum((u * c).astype(np.int64), c - 1)]
        proto = _walk(cdf, pos, rows + u) - start
        np.clip(proto, 0, c - 1, out=proto)
        u = torch.rand(n, generator=gen, dtype=torch.float64).numpy()
        target = self.base[proto] + u * self.mass[proto]
        b = np.minimum((target / self.bin_width).astype(np.int64), self.bins - 1)
        b -= b * self.bin_width > target  # a quotient rounded up into the next bin
        pos = _walk(self.cum, self.guide[b], target)
        np.clip(pos, self.start[proto], self.start[proto + 1] - 1, out=pos)  # rounding
        return self.by_proto[pos]

    def finish(self, gen, logits: torch.Tensor, taken_keys: np.ndarray, rows: np.ndarray,
               need: np.ndarray) -> np.ndarray:
        """Keys ``row * n_items + item`` of ``need`` more items for each of ``rows``: the
        Gumbel top-k over each row's items not yet taken (given the first draws of a
        Plackett-Luce sequence, the rest is Plackett-Luce over the remaining items)."""
        n, out = self.n_items, []
        step = max(1, _FINISH_CELLS // n)
        assign = torch.from_numpy(self.assign)
        for s in range(0, len(rows), step):
            r, k = rows[s:s + step], need[s:s + step]
            keys = logits[torch.from_numpy(r)][:, assign].add_(self.pop_bias)
            lo = np.searchsorted(taken_keys, r * n)
            hi = np.searchsorted(taken_keys, (r + 1) * n)
            cnt = hi - lo
            at = np.repeat(np.arange(len(r)), cnt)
            items = taken_keys[np.repeat(lo, cnt) + np.arange(cnt.sum()) - np.repeat(
                np.cumsum(cnt) - cnt, cnt)] - np.repeat(r, cnt) * n
            g = torch.rand(keys.shape, generator=gen).clamp_(1e-12, 1.0)
            keys.add_(g.log_().neg_().log_().neg_())
            keys[torch.from_numpy(at), torch.from_numpy(items)] = -float("inf")
            top = torch.topk(keys, int(k.max()), dim=1).indices.numpy()
            top = top[np.arange(top.shape[1])[None, :] < k[:, None]]
            out.append(np.repeat(r, k) * n + top)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _walk(cum: np.ndarray, pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``pos`` (a guide table's start, at or before the answer) moved on, in place, to the
    first index whose running sum ``cum`` passes ``target``: ``searchsorted(cum, target,
    side="right")`` in a few steps instead of a binary search's cache misses."""
    last = len(cum) - 1
    np.minimum(pos, last, out=pos)
    walk = np.flatnonzero((cum[pos] <= target) & (pos < last))
    while len(walk):
        pos[walk] += 1
        p = pos[walk]
        walk = walk[(cum[p] <= target[walk]) & (p < last)]
    return pos


def _first_new(keys: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Mask of the entries of ``keys`` that are their value's first occurrence and not in the
    sorted ``taken``."""
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    first = np.ones(len(ks), dtype=bool)
    first[1:] = ks[1:] != ks[:-1]
    if len(taken):
        pos = np.minimum(np.searchsorted(taken, ks), len(taken) - 1)
        first &= taken[pos] != ks
    out = np.empty(len(ks), dtype=bool)
    out[order] = first
    return out


def _block_items(gen, tied: _Tied, uf: torch.Tensor, d: np.ndarray, stats: dict) -> np.ndarray:
    """Sorted keys ``row * n_items + item`` of the block's users' items: ``d[row]`` distinct
    items per row, drawn without replacement from the row's law."""
    n, n_rows = tied.n_items, len(d)
    logits = tied.proto_logits(uf)
    law = tied.row_law(logits)
    need = np.where(d > n // _HEAVY, 0, d)  # the heaviest go straight to the finish
    drawn, found = np.zeros(n_rows, dtype=np.int64), np.zeros(n_rows, dtype=np.int64)
    taken = np.zeros(0, dtype=np.int64)
    for _ in range(_ROUNDS):
        rows = np.flatnonzero(need)
        if not len(rows):
            break
        # draws per distinct item so far, 1 at first: how much a row's draws repeat
        factor = 1.25 * np.maximum(1.0, drawn[rows] / np.maximum(found[rows], 1))
        m = np.ceil(need[rows] * factor).astype(np.int64) + 4
        row = np.repeat(rows, m)
        keys = row * n + tied.draw(gen, law, row)
        new = _first_new(keys, taken)
        rank = np.cumsum(new)  # draw order within a row: rows are in blocks, in order
        start = np.cumsum(m) - m
        rank -= np.repeat(np.concatenate([[0], rank])[start], m)
        keep = new & (rank <= need[row])
        got = np.bincount(row[keep], minlength=n_rows)
        drawn[rows] += m
        found[rows] += np.bincount(row[new], minlength=n_rows)[rows]
        need -= got
        taken = np.sort(np.concatenate([taken, np.sort(keys[keep])]), kind="stable")  # a merge
        stats["draws"] += int(m.sum())
    need = d - np.bincount(taken // n, minlength=n_rows)
    rows = np.flatnonzero(need)
    stats["finished"] += len(rows)
    if len(rows):
        taken = np.sort(np.concatenate([taken, tied.finish(gen, logits, taken, rows,
                                                            need[rows])]))
    return taken


def _block_split(rng, keys: np.ndarray, n_items: int, n_rows: int, warm_mask, ratios):
    """:func:`~.split_rules.random_split` for one block of rows whose pairs are the sorted ``keys``: per split,
    (items per row, items sorted within each row)."""
    row, item = np.divmod(keys, n_items)
    # shuffle within each row: rows ascending, random order inside (ties: the lower key)
    noise = rng.integers(0, 2**31, size=len(keys), dtype=np.int64)
    shuffled = np.argsort((row << 31) | noise, kind="stable")
    is_cold = ~warm_mask[item[shuffled]]
    split = np.zeros(len(keys), dtype=np.int8)  # 0 train, 1 val, 2 test, in shuffled order
    split[is_cold] = 1 + (rng.random(int(is_cold.sum())) < 0.5)
    w_rows = row[shuffled][~is_cold]
    n_w = np.bincount(w_rows, minlength=n_rows)
    start = np.cumsum(n_w) - n_w
    rank = np.arange(len(w_rows)) - start[w_rows]
    n_val = np.where(n_w >= 3, np.maximum(1, np.round(n_w * ratios[1])), 0).astype(np.int64)
    n_test = np.where(n_w >= 3, np.maximum(1, np.round(n_w * ratios[2])), 0).astype(np.int64)
    split[~is_cold] = np.where(rank < n_val[w_rows], 1,
                               np.where(rank < (n_val + n_test)[w_rows], 2, 0))
    in_order = np.empty_like(split)
    in_order[shuffled] = split  # back to the keys' order: rows, then items, ascending
    return [(np.bincount(row[in_order == s], minlength=n_rows), item[in_order == s])
            for s in range(3)]


def _draw_tied(gen, rng, uf, tied: _Tied, degrees, warm_mask, ratios):
    """The tied path, block by block of users: (train, val, test) CSRs."""
    n_users = len(degrees)
    cost = np.cumsum(np.ceil(1.25 * degrees) + 4)
    parts = [[], [], []]
    stats = {"draws": 0, "finished": 0}
    start = 0
    while start < n_users:
        stop = int(np.searchsorted(cost, (cost[start - 1] if start else 0) + _BLOCK_DRAWS,
                                   side="right"))
        stop = min(max(stop, start + 1), start + _BLOCK_ROWS, n_users)
        d = degrees[start:stop]
        keys = _block_items(gen, tied, uf[start:stop], d, stats)
        for s, part in enumerate(_block_split(rng, keys, tied.n_items, stop - start,
                                              warm_mask, ratios)):
            parts[s].append(part)
        start = stop
    out = []
    for s in range(3):
        counts = np.concatenate([c for c, _ in parts[s]])
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        out.append((indptr, np.concatenate([i for _, i in parts[s]])))
    log.info("tied draws: %d draws for %d pairs, %d users finished by top-k",
             stats["draws"], int(degrees.sum()), stats["finished"])
    return out


def method(cfg) -> str:
    """``dense`` or ``tied``: which path ``generate`` takes for this config."""
    return "dense" if cfg.n_users * cfg.n_items <= DENSE_MAX_CELLS else "tied"


def generate(cfg) -> Interactions:
    """Build an :class:`Interactions` from a ``SyntheticData`` config (same seed, same data);
    from ``cfg.cache_dir`` when the config sets one and it was built before."""
    cache_dir = getattr(cfg, "cache_dir", "")  # '' (the default): generated every time
    if not cache_dir:
        return build(cfg)
    from . import cache

    options = {k: v for k, v in _options(cfg).items() if k not in ("name", "cache_dir")}
    options.update(generator=GENERATOR_VERSION, method=method(cfg))
    return cache.cached(cache_dir, "synthetic", cfg.name, [], options, lambda: build(cfg))


def _options(cfg) -> dict:
    try:
        from omegaconf import OmegaConf

        return OmegaConf.to_container(cfg, resolve=True)
    except ValueError:  # a plain object
        return dict(vars(cfg))


def build(cfg) -> Interactions:
    """:func:`generate` without the cache."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(int(cfg.seed))
    n_users, n_items, k = cfg.n_users, cfg.n_items, cfg.latent_dim
    how = method(cfg)
    uf = torch.randn(n_users, k, generator=gen)
    if how == "dense":
        vf = torch.randn(n_items, k, generator=gen)
    else:
        proto = torch.randn(PROTOTYPES, k, generator=gen)
        assign = rng.integers(0, PROTOTYPES, size=n_items)
        vf = proto[torch.from_numpy(assign)]
    rank = torch.from_numpy(rng.permutation(n_items)).float()
    pop_bias = -cfg.popularity_exponent * torch.log1p(rank)
    scale = cfg.affinity / np.sqrt(k)
    degrees = _degrees(rng, cfg, n_users)
    warm_mask = np.ones(n_items, dtype=bool)
    n_cold = int(round(cfg.cold_share * n_items))

    if how == "dense":
        def logits_fn(start, stop):
            return scale * uf[start:stop] @ vf.T + pop_bias

        users, items = _draw_items(gen, logits_fn, degrees)
        warm_mask[rng.choice(n_items, size=n_cold, replace=False)] = False
        (tr, va, te) = random_split(rng, users, items, warm_mask, list(cfg.split), n_users)
        del users, items
    else:
        warm_mask[rng.choice(n_items, size=n_cold, replace=False)] = False
        tied = _Tied(proto, assign, pop_bias, scale)
        (tr, va, te) = _draw_tied(gen, rng, uf, tied, degrees, warm_mask, list(cfg.split))
    t_pairs = time.perf_counter() - t0

    features = {}
    for name, dim in zip(MODALITIES, cfg.feat_dims):
        if dim <= 0:
            continue
        w = torch.randn(k, dim, generator=gen) / np.sqrt(k)
        x = vf @ w + cfg.feat_noise * torch.randn(n_items, dim, generator=gen)
        features[name] = x.numpy().astype(np.float32)

    data = Interactions(n_users=n_users, n_items=n_items,
                        train_indptr=tr[0], train_indices=tr[1],
                        val_indptr=va[0], val_indices=va[1],
                        test_indptr=te[0], test_indices=te[1],
                        warm_mask=warm_mask, features=features, name=cfg.name,
                        meta={"features_source": "synthetic", "generator": how})
    data.check()
    log.info("synthetic %s (%s path): pairs in %.1f s, all in %.1f s", cfg.name, how, t_pairs,
             time.perf_counter() - t0)
    return data
