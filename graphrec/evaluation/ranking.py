"""Full-ranking evaluation: every candidate item scored, training items masked to -inf,
vectorised and chunked over users. Users with no held-out item in a split are skipped.

Validation time counts in the time to a quality target, so this is kept cheap:

* each block of users is scored once and masked in place, for all item sets; on CPU a
  block is small enough to stay in cache (metrics are still summed per ``chunk_users``);
* a set lists its K+1 best with one ``topk`` over its own columns: a view when they are
  contiguous, a copy when they are few, else the matrix with the others at -inf; a set that
  is the union of two disjoint others (all = warm + cold) merges their lists instead;
* only rows whose K-th and (K+1)-th values tie are sorted in full, so ties still go to the
  lower item id and every metric is what ranking the whole masked row gives.
"""
from __future__ import annotations

import itertools
import logging
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import torch

from ..errors import ConfigError
from .metrics import NEG, order_top, stable_top, topk_metrics, topk_stable

log = logging.getLogger(__name__)


def _csr_pairs(indptr, indices, users: np.ndarray):
    """(row within ``users``, item) of every stored pair of these users."""
    lo, hi = indptr[users], indptr[users + 1]
    counts = hi - lo
    rows = np.repeat(np.arange(len(users)), counts)
    starts = np.cumsum(counts) - counts
    return rows, indices[lo[rows] + np.arange(len(rows)) - starts[rows]]


def mask_pairs(s: torch.Tensor, indptr, indices, users: np.ndarray) -> torch.Tensor:
    """``s[row, item] = -inf`` in place for every stored pair of ``users`` (row ``r`` of ``s``
    is ``users[r]``): how ranking takes a user's known items out."""
    rows, cols = _csr_pairs(indptr, indices, users)
    device = s.device
    s.index_put_((torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)),
                 torch.tensor(NEG, device=device))
    return s


def top_items(s: torch.Tensor, k: int, cols: Optional[torch.Tensor] = None):
    """(ids, values) of each row's ``k`` best among the columns ``cols`` (ascending ids;
    None: all), by the rule evaluation ranks with: by value, ties to the lower id, NaN last
    (as -inf, its value kept), masked items (-inf) after every scored one."""
    src = s if cols is None else s.index_select(1, cols)
    top = topk_stable(src, k)
    vals = src.gather(1, top)
    return (top if cols is None else cols[top]), vals


class _Scores:
    """A chunk's masked scores. A large scattered set is ranked over the whole matrix with
    its complement at -inf; those columns are put back only when something else reads them
    (mostly never: the complement's own copy was taken before)."""

    def __init__(self, s: torch.Tensor):
        self.s, self.hidden = s, None  # hidden: (columns at -inf, their values)

    def restored(self) -> torch.Tensor:
        if self.hidden is not None:
            self.s.index_copy_(1, *self.hidden)
            self.hidden = None
        return self.s

    def without(self, cols: torch.Tensor, values: Optional[torch.Tensor]) -> torch.Tensor:
        s = self.restored()
        self.hidden = (cols, s.index_select(1, cols) if values is None else values)
        return s.index_fill_(1, cols, NEG)


class _ItemSet:
    """One candidate set and the cheapest way to take its columns out of a score matrix."""

    def __init__(self, mask: np.ndarray, device):
        cols = np.flatnonzero(mask)
        self.size, n = len(cols), len(mask)
        self.np_mask = mask
        self.mask = torch.from_numpy(mask).to(device)
        self.all = self.size == n
        self.start = int(cols[0]) if cols[-1] - cols[0] + 1 == self.size else None
        self.few = self.size <= n // 2  # copy its columns; else -inf over the others
        self.cols = torch.from_numpy(cols).to(device)
        self.others = torch.from_numpy(np.flatnonzero(~mask)).to(device)
        self.parts = None  # two disjoint sets whose union this one is
        self.complement = None  # the set of all the others, if there is one

    def listed(self, sc: _Scores, rows: Optional[torch.Tensor], width: int, copies: dict):
        """(values, item ids) of each row's ``width`` best (of ``rows``, None = all), values
        descending, ties in any order; None when one is NaN (``topk`` lists NaN first).
        ``copies`` holds the column copies of sets listed on every row, for reuse."""
        every_row = rows is None or 2 * len(rows) > len(sc.s)  # rank all, keep some
        if self.start is not None:
            s = sc.restored()
            src = s if self.all else s.narrow(1, self.start, self.size)
        elif self.few:
            src = sc.restored().index_select(1, self.cols)
            if rows is None:
                copies[self] = src
        else:
            src = sc.without(self.others, copies.get(self.complement))
        if not every_row:
            src = src.index_select(0, rows)
        vals, idx = torch.topk(src, min(width, self.size), dim=1)
        if rows is not None and every_row:
            vals, idx = vals[rows], idx[rows]
        if bool(vals.isnan().any()):
            return None
        if self.start is not None:
            idx = idx + self.start if self.start else idx
        elif self.few:
            idx = self.cols[idx]
        return vals, idx

    def settle(self, sc: _Scores, vals, ids, rows: Optional[torch.Tensor], k: int):
        """The k best item ids per row, by value then lower id: rows tied at the k-th place
        are sorted in full, with the set's others at -inf as the former code ranked them."""
        top, tied = order_top(vals, ids, k, more_below=not self.all)
        if tied is not None and bool(tied.any()):
            whole = sc.restored()[tied.nonzero().squeeze(1) if rows is None else rows[tied]]
            top[tied] = stable_top(whole.masked_fill_(~self.mask, NEG), k)
        return top


def _merge(a, b, width: int):
    """The ``width`` best of two disjoint sets' lists, values descending."""
    vals, ids = torch.cat([a[0], b[0]], 1), torch.cat([a[1], b[1]], 1)
    vals, pos = torch.topk(vals, min(width, vals.shape[1]), dim=1)
    return vals, ids.gather(1, pos)


def _find_unions(sets: Dict[str, _ItemSet]) -> None:
    for a, (b, c) in itertools.product(sets.values(), itertools.combinations(sets, 2)):
        mb, mc = sets[b].np_mask, sets[c].np_mask
        if a.size == sets[b].size + sets[c].size and np.array_equal(mb | mc, a.np_mask):
            a.parts = (b, c)
    for a, b in itertools.permutations(sets.values(), 2):
        if a.size + b.size == len(a.np_mask) and not (a.np_mask & b.np_mask).any():
            a.complement = b
    for a in sets.values():  # one level: a part is not itself merged
        if a.parts and any(sets[p].parts for p in a.parts):
            a.parts = None


def _hits(keys: torch.Tensor, rows: torch.Tensor, top: torch.Tensor, n_items: int):
    """Whether each listed item is held out: a look-up of row * n_items + item in ``keys``,
    the chunk's held-out pairs so encoded, sorted."""
    q = rows.unsqueeze(1) * n_items + top
    pos = torch.searchsorted(keys, q).clamp_(max=max(len(keys) - 1, 0))
    return keys[pos] == q


def _heldout_counts(indptr, indices, n_items: int, masks: Dict[str, np.ndarray]):
    """Held-out items per user within each set, a repeated pair counted once."""
    users = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    user, item = np.divmod(np.unique(users * n_items + indices), n_items)
    return {name: np.bincount(user[m[item]], minlength=len(indptr) - 1)
            for name, m in masks.items()}


class _Ranker:
    """Ranks blocks of users for every item set; remembers whether scores held NaN."""

    def __init__(self, data, split: str, sets: Dict[str, _ItemSet], kmax: int, device,
                 masked=()):
        self.data, self.sets, self.kmax, self.device = data, sets, kmax, device
        self.heldout = data.heldout(split)
        self.masked = [(data.train_indptr, data.train_indices)] + list(masked)
        _find_unions(sets)
        parts = {p for iset in sets.values() if iset.parts for p in iset.parts}
        self.parts = sorted(parts, key=lambda p: not sets[p].few)  # copies first, for reuse
        self.nan_seen = False
        self.tops = None  # {set: the last block's lists}, when evaluate keeps them

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(self.device)

    def _listed(self, sc: _Scores, iset: _ItemSet, rows, copies):
        out = iset.listed(sc, rows, self.kmax + 1, copies)
        if out is None:  # NaN ranks last: as -inf, for this set and the later ones
            self.nan_seen = True
            s = sc.restored()
            s.masked_fill_(s.isnan(), NEG)
            copies.clear()
            out = iset.listed(sc, rows, self.kmax + 1, copies)
        return out

    def hits(self, score, users: np.ndarray, keep: Dict[str, np.ndarray]):
        """Per set, the hit matrix ``[len(keep[name]), k]`` of these users' rows ``keep``."""
        n_items = self.data.n_items
        s = score(self._tensor(users)).float()
        if s._base is not None:  # a view of someone's tensor: never write into it
            s = s.clone()
        for indptr, indices in self.masked:  # training items, and val items under train_val
            mask_pairs(s, indptr, indices, users)
        sc, copies = _Scores(s), {}
        rows, cols = _csr_pairs(*self.heldout, users)
        keys = self._tensor(np.sort(rows * n_items + cols))
        whole = {p: self._listed(sc, self.sets[p], None, copies) for p in self.parts}
        out = {}
        for name, iset in self.sets.items():
            if not len(keep[name]):
                continue
            rows = None if len(keep[name]) == len(users) else self._tensor(keep[name])
            if iset.parts:
                vals, ids = _merge(*(whole[p] for p in iset.parts), self.kmax + 1)
            elif name in whole:
                vals, ids = whole[name]
            else:
                vals, ids = self._listed(sc, iset, rows, copies)
            if (iset.parts or name in whole) and rows is not None:
                vals, ids = vals[rows], ids[rows]
            top = iset.settle(sc, vals, ids, rows, min(self.kmax, iset.size))
            if self.tops is not None:
                self.tops[name] = top
            hits = _hits(keys, self._tensor(keep[name]), top, n_items)
            if not iset.all:  # a fully tied row may list items outside the set, at -inf
                hits &= iset.mask[top]
            out[name] = hits
        return out


# Scores ranked at once on CPU (~12 MB): the block stays in cache from the product to topk.
# On 2 cores with 32 MB L3, blocks of 2,048 users x 6k items (49 MB) measured slower.
BLOCK_SCORES = 3 * 2 ** 20
# On other devices a block is ``chunk_users`` rows, but never more scores than this (256 MB
# in fp32; with the column copies and masks ranking makes, ~0.6 GB at most), whatever the
# catalogue: at MovieLens-25M's 59k items that is 1,136 rows, not 2,048 (480 MB of scores).
MAX_BLOCK_SCORES = 2 ** 26


@torch.no_grad()
def evaluate(score: Callable[[torch.Tensor], torch.Tensor], data, split: str,
             ks: Sequence[int] = (10, 20), device=torch.device("cpu"),
             chunk_users: int = 2048, item_sets: Optional[Dict[str, np.ndarray]] = None,
             exclude: str = "train",
             per_user: Optional[dict] = None,
             lists: Optional[dict] = None) -> Dict[str, Dict[str, float]]:
    """Metrics averaged over users with held-out items, one dict per item set.

    ``item_sets`` maps a suffix to a bool mask over items: the ranking is restricted to
    those candidates and the held-out items to those in the set (CLCRec's warm/cold
    protocol). By default: ``""`` = all items, plus ``_warm``/``_cold`` when cold items exist.
    NaN scores rank last, as -inf, with one warning; +inf is a maximal score.
    ``exclude``: which of the user's items are masked: ``train`` (CLCRec's protocol: the
    training items) or ``train_val`` (RecBole's, the usual one for a train/val/test split:
    when ranking for ``test``, the validation items too).
    ``score(users)`` must return a new ``[len(users), n_items]`` tensor: it is masked in place.
    Metrics are summed per ``chunk_users`` users, as before; fewer are scored at once when
    ``chunk_users x n_items`` passes ``BLOCK_SCORES`` (CPU: cache-sized) or
    ``MAX_BLOCK_SCORES`` (other devices), so memory is bounded whatever the catalogue: nothing
    here is ``n_users x n_items``.
    ``per_user``, when a dict, is filled with each set's per-user values (the ones averaged):
    ``{suffix: {"user": int64 ids, "recall@20": float32, ...}}``, users in ascending order.
    ``lists``, when a dict, is filled with the lists scored: ``{suffix: {"user": int64 ids,
    "items": int64 [users, max(ks)]}}`` (past a user's ranked items, -inf ones in id order).
    """
    if item_sets is None:
        item_sets = {"": np.ones(data.n_items, dtype=bool)}
        if data.n_cold:
            item_sets["_warm"] = data.warm_mask
            item_sets["_cold"] = ~data.warm_mask
    masks = {n: np.asarray(m, dtype=bool) for n, m in item_sets.items()}
    sets = {n: _ItemSet(m, device) for n, m in masks.items() if m.any()}
    if exclude not in ("train", "train_val"):
        raise ConfigError(f"evaluation.exclude={exclude!r} is invalid: allowed train_val|train")
    masked = [data.heldout("val")] if exclude == "train_val" and split == "test" else []
    ranker = _Ranker(data, split, sets, max(ks), device, masked)
    if lists is not None:
        ranker.tops = {}
        kept_lists = {name: ([], []) for name in sets}
    indptr, indices = data.heldout(split)
    n_rel = _heldout_counts(indptr, indices, data.n_items, masks)
    cap = BLOCK_SCORES if torch.device(device).type == "cpu" else MAX_BLOCK_SCORES
    block = max(1, min(chunk_users, cap // max(data.n_items, 1)))  # memory ~ block x n_items
    sums = {name: {} for name in sets}
    counts = dict.fromkeys(sets, 0)
    kept = {name: {} for name in sets}  # per-user values, only when asked for
    users_all = np.flatnonzero(np.diff(indptr) > 0)
    for start in range(0, len(users_all), chunk_users):
        users = users_all[start:start + chunk_users]
        hits = {name: [] for name in sets}
        for b in range(0, len(users), block):
            part = users[b:b + block]
            keep = {name: np.flatnonzero(n_rel[name][part] > 0) for name in sets}
            for name, h in ranker.hits(score, part, keep).items():
                hits[name].append(h)
                if lists is not None:
                    kept_lists[name][0].append(part[keep[name]])
                    kept_lists[name][1].append(ranker.tops[name].cpu().numpy())
        for name, h in hits.items():
            if not h:
                continue
            rel = n_rel[name][users]
            if per_user is not None:
                kept[name].setdefault("user", []).append(users[rel > 0])
            rel = torch.from_numpy(rel[rel > 0]).to(device)
            for key, val in topk_metrics(torch.cat(h), rel, ks).items():
                sums[name][key] = sums[name].get(key, 0.0) + float(val.sum())
                if per_user is not None:
                    kept[name].setdefault(key, []).append(val.float().cpu().numpy())
            counts[name] += len(rel)
    if per_user is not None:
        for name, cols in kept.items():
            if cols:
                per_user[name] = {k: np.concatenate(v) for k, v in cols.items()}
    if lists is not None:
        for name, (users, tops) in kept_lists.items():
            if users:
                lists[name] = {"user": np.concatenate(users), "items": np.concatenate(tops)}
    if ranker.nan_seen:
        log.warning("evaluate %s: scores hold NaN; they rank last, as -inf", split)
    return {name: {k: v / counts[name] for k, v in sums[name].items()}
            for name in sets if counts[name]}
