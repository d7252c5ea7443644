"""Full-ranking evaluation: every candidate item scored, training items masked to -inf,
vectorised and chunked over users. Users with no held-out item in a split are skipped."""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import numpy as np
import torch

from .metrics import topk_metrics, topk_stable


def _csr_dense(indptr, indices, users: np.ndarray, n_items: int, device) -> torch.Tensor:
    lo, hi = indptr[users], indptr[users + 1]
    counts = hi - lo
    rows = np.repeat(np.arange(len(users)), counts)
    starts = np.cumsum(counts) - counts
    cols = indices[lo[rows] + np.arange(len(rows)) - starts[rows]]
    out = torch.zeros(len(users), n_items, dtype=torch.bool, device=device)
    out[torch.from_numpy(rows).to(device), torch.from_numpy(cols).to(device)] = True
    return out


@torch.no_grad()
def evaluate(score: Callable[[torch.Tensor], torch.Tensor], data, split: str,
             ks: Sequence[int] = (10, 20), device=torch.device("cpu"),
             chunk_users: int = 2048, item_sets: Optional[Dict[str, np.ndarray]] = None,
             ) -> Dict[str, Dict[str, float]]:
    """Metrics averaged over users with held-out items, one dict per item set.

    ``item_sets`` maps a suffix to a bool mask over items: the ranking is restricted to
    those candidates and the held-out items to those in the set (CLCRec's warm/cold
    protocol). By default: ``""`` = all items, plus ``_warm``/``_cold`` when cold items exist.
    """
    if item_sets is None:
        item_sets = {"": np.ones(data.n_items, dtype=bool)}
        if data.n_cold:
            item_sets["_warm"] = data.warm_mask
            item_sets["_cold"] = ~data.warm_mask
    indptr, indices = data.heldout(split)
    kmax = max(ks)
    sums = {name: {} for name in item_sets}
    counts = dict.fromkeys(item_sets, 0)
    masks = {n: torch.from_numpy(np.asarray(m, dtype=bool)).to(device) for n, m in item_sets.items()}
    users_all = np.flatnonzero(np.diff(indptr) > 0)
    for start in range(0, len(users_all), chunk_users):
        users = users_all[start:start + chunk_users]
        scores = score(torch.from_numpy(users).to(device)).float()
        seen = _csr_dense(data.train_indptr, data.train_indices, users, data.n_items, device)
        target = _csr_dense(indptr, indices, users, data.n_items, device)
        scores = scores.masked_fill(seen, float("-inf"))
        for name, cand in masks.items():
            tgt = target & cand
            n_rel = tgt.sum(1)
            keep = n_rel > 0
            if not bool(keep.any()):
                continue
            s = scores[keep].masked_fill(~cand, float("-inf"))
            top = topk_stable(s, min(kmax, int(cand.sum())))
            hits = tgt[keep].gather(1, top)
            for key, val in topk_metrics(hits, n_rel[keep], ks).items():
                sums[name][key] = sums[name].get(key, 0.0) + float(val.sum())
            counts[name] += int(keep.sum())
    return {name: {k: v / counts[name] for k, v in sums[name].items()}
            for name in item_sets if counts[name]}
