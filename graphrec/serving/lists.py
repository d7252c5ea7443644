"""Top-K lists from a bundle, in blocks of bounded memory: items for users, users for items.

Ranked by evaluation's own rule and code (:func:`graphrec.evaluation.ranking.mask_pairs`,
:func:`~graphrec.evaluation.ranking.top_items`): by score, ties to the lower item id, NaN
last; a user's training items are masked unless asked to keep them, and a masked item is
never listed (a list is shorter when fewer candidates remain).

Candidates (``items``): ``all`` the catalogue (and the new items, when given), ``warm`` the
items seen in training, ``cold`` the others (and the new items), ``new`` the new items only.
Columns ``0..n_items-1`` are the catalogue's items, ``n_items..`` the new items."""
from __future__ import annotations

from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch

from ..errors import UsageError
from ..evaluation.ranking import BLOCK_SCORES, MAX_BLOCK_SCORES, mask_pairs, top_items
from ..models.base import Representations
from .bundle import Bundle
from .ids import plain_array
from .new_items import NewItems

ITEM_SETS = ("all", "warm", "cold", "new")
Block = Tuple[int, dict]  # (lists in the block, its columns)


def _cap(device: torch.device) -> int:
    return BLOCK_SCORES if device.type == "cpu" else MAX_BLOCK_SCORES


def _keep(vals: torch.Tensor):
    """(values, kept, 1-based rank) of listed entries: masked ones (-inf) are dropped."""
    vals = vals.float().cpu().numpy()
    keep = ~np.isneginf(vals)
    return vals, keep, np.cumsum(keep, axis=1, dtype=np.int32)


class Lists:
    def __init__(self, bundle: Bundle, new: Optional[NewItems] = None):
        self.bundle, self.new = bundle, new
        self.device = bundle.reps.users.device
        self.catalogue = bundle.scorer()
        self.new_scorer = None if new is None else \
            Representations(bundle.reps.users, new.items, new.item_bias).scorer()
        values = bundle.item_ids.values
        titles = bundle.titles
        if new is not None:
            values = plain_array(np.concatenate([values.astype(object),
                                                 new.ids.values.astype(object)]))
            if titles is not None:
                titles = np.concatenate([titles, np.full(len(new), "", dtype=object)])
        self.item_values, self.item_titles = values, titles

    # ------------------------------------------------------------------ candidates
    def layout(self, items: str) -> Tuple[bool, bool, Optional[torch.Tensor], np.ndarray]:
        """(score the catalogue, score the new items, candidate columns of those scores or
        None for all, the item index of each column)."""
        n, m = self.bundle.n_items, 0 if self.new is None else len(self.new)
        warm = self.bundle.warm
        if items not in ITEM_SETS:
            raise UsageError(f"--items={items!r} is invalid: allowed {'|'.join(ITEM_SETS)}")
        if items == "new":
            if not m:
                raise UsageError("--items=new needs --new-items FEATURES (the items to rank)")
            return False, True, None, n + np.arange(m)
        cat, new = True, m > 0 and items != "warm"
        index = np.arange(n + (m if new else 0))
        if items == "all":
            return cat, new, None, index
        mask = np.concatenate([warm if items == "warm" else ~warm, np.ones(m if new else 0, bool)])
        if not mask.any():
            raise UsageError(f"--items={items}: this model's data has no {items} items")
        cols = torch.from_numpy(np.flatnonzero(mask)).to(self.device)
        return cat, new, cols, index

    def _scores(self, rows: np.ndarray, cat: bool, new: bool, seen: bool) -> torch.Tensor:
        u = torch.from_numpy(rows).to(self.device)
        parts = []
        if cat:
            s = self.catalogue(u).float()
            if s._base is not None:  # a view of the bundle's table: never write into it
                s = s.clone()
            if not seen:
                mask_pairs(s, *self.bundle.known, rows)
            parts.append(s)
        if new:
            parts.append(self.new_scorer(u).float())
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    # ------------------------------------------------------------------ users -> items
    @torch.no_grad()
    def for_users(self, rows: np.ndarray, k: int, items: str = "all",
                  include_seen: bool = False, chunk: int = 2048) -> Iterator[Block]:
        """Blocks of lists for the users at ``rows``: columns user, rank, item, score
        (and title where the data has titles)."""
        _check_k(k)
        cat, new, cols, index = self.layout(items)
        width = self.bundle.n_items * cat + (len(self.new) if new else 0)  # columns scored
        block = max(1, min(chunk, _cap(self.device) // max(width, 1)))
        user_values = self.bundle.user_ids.values
        for start in range(0, len(rows), block):
            part = np.asarray(rows[start:start + block], dtype=np.int64)
            ids, vals = top_items(self._scores(part, cat, new, include_seen), k, cols)
            vals, keep, rank = _keep(vals)
            items_at = index[ids.cpu().numpy()]
            out = {"user": np.repeat(user_values[part], keep.sum(1)), "rank": rank[keep],
                   "item": self.item_values[items_at[keep]], "score": vals[keep]}
            if self.item_titles is not None:
                out["title"] = self.item_titles[items_at[keep]]
            yield len(part), out

    # ------------------------------------------------------------------ items -> users
    def item_index(self, given: Sequence[str]) -> np.ndarray:
        """Column indices (catalogue ``0..``, new items after) of these item ids."""
        n = self.bundle.n_items
        new_rows = np.full(len(given), -1)
        if self.new is not None:
            key = pd.Index(self.new.ids.values.astype(str))
            new_rows = key.get_indexer([str(g) for g in given])
        out = np.empty(len(given), dtype=np.int64)
        is_new = new_rows >= 0
        out[is_new] = n + new_rows[is_new]
        rest = [g for g, f in zip(given, is_new) if not f]
        if rest:
            try:
                out[~is_new] = self.bundle.item_ids.rows(rest)
            except UsageError as exc:
                if self.new is None:
                    raise
                raise UsageError(f"{exc}; nor a new item's ({self.new.ids.example()})") from None
        return out

    @torch.no_grad()
    def for_items(self, given: Sequence[str], k: int,
                  include_seen: bool = False) -> Iterator[Block]:
        """Per item, the users who should see it first: columns item, rank, user, score
        (and title). A catalogue item's own users (it is among their training items) are
        left out unless ``include_seen``."""
        _check_k(k)
        index = self.item_index(given)
        n, reps = self.bundle.n_items, self.bundle.reps
        n_users = self.bundle.n_users
        per = max(1, MAX_BLOCK_SCORES // max(n_users, 1))  # queries ranked at once
        for start in range(0, len(index), per):
            g = index[start:start + per]
            q, bias = self._item_rows(g)
            score = Representations(reps.users, q, bias).scorer()
            block = max(1, _cap(self.device) // max(len(g), 1))
            s = torch.cat([score(torch.arange(a, min(a + block, n_users), device=self.device))
                           for a in range(0, n_users, block)]).T.contiguous()
            if not include_seen:
                self._mask_owners(s, g[g < n], np.flatnonzero(g < n))
            users, vals = top_items(s, k)
            vals, keep, rank = _keep(vals)
            out = {"item": np.repeat(self.item_values[g], keep.sum(1)), "rank": rank[keep],
                   "user": self.bundle.user_ids.values[users.cpu().numpy()[keep]],
                   "score": vals[keep]}
            if self.item_titles is not None:
                out["title"] = np.repeat(self.item_titles[g], keep.sum(1))
            yield len(g), out

    def _item_rows(self, g: np.ndarray):
        n, reps = self.bundle.n_items, self.bundle.reps
        rows, biases = [], []
        for j in g.tolist():
            if j < n:
                rows.append(reps.items[j])
                biases.append(None if reps.item_bias is None else reps.item_bias[j])
            else:
                rows.append(self.new.items[j - n])
                biases.append(None if self.new.item_bias is None else self.new.item_bias[j - n])
        bias = None if biases[0] is None else torch.stack(biases)
        return torch.stack(rows), bias

    def _mask_owners(self, s: torch.Tensor, items: np.ndarray, at: np.ndarray) -> None:
        """``s[query, user] = -inf`` where the query (a catalogue item) is a training item
        of the user."""
        if not len(items):
            return
        indptr, indices = self.bundle.known
        owner = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        hit = np.isin(indices, items)
        pairs = pd.DataFrame({"item": indices[hit], "user": owner[hit]})
        queries = pd.DataFrame({"item": items, "row": at})
        both = queries.merge(pairs, on="item")
        if len(both):
            where = (torch.as_tensor(both["row"].to_numpy(np.int64, copy=True), device=s.device),
                     torch.as_tensor(both["user"].to_numpy(np.int64, copy=True), device=s.device))
            s.index_put_(where, torch.tensor(float("-inf"), device=s.device))


def _check_k(k: int) -> None:
    if k < 1:
        raise UsageError(f"--k={k} is invalid: allowed an integer >= 1")

