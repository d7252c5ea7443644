"""Top-K metrics from a hit matrix. Ranking ties are broken by the lower item id."""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch

NEG = float("-inf")


def order_top(vals: torch.Tensor, ids: torch.Tensor, k: int,
              more_below: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The first ``k`` of each row's candidates ordered by value, then by lower id, and the
    rows this does not settle (``None`` if none can be unsettled).

    ``vals``/``ids`` are a row's top values as ``torch.topk`` returns them (descending, ties
    in any order), ``k`` or ``k + 1`` of them. The top k are settled when the k-th value is
    above the next one, which is the (k+1)-th listed or, past the list, -inf when
    ``more_below`` (columns left out of the list count as -inf)."""
    top = ids[:, :k].clone()
    dup = (vals[:, 1:k] == vals[:, :k - 1]).any(1)  # ties inside the top k: order them
    if bool(dup.any()):
        some, by_id = ids[dup].sort(1)
        by_value = vals[dup].gather(1, by_id).sort(dim=1, descending=True, stable=True).indices
        top[dup] = some.gather(1, by_value)[:, :k]
    if vals.shape[1] > k:
        return top, vals[:, k - 1] == vals[:, k]
    return top, (vals[:, k - 1] == NEG) if more_below else None


def stable_top(scores: torch.Tensor, k: int) -> torch.Tensor:
    """The exact rule on whole rows, for the few rows with ties at the k-th place."""
    return torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]


def topk_stable(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k column ids per row, best first, equal scores ordered by lower column id.

    ``torch.topk`` leaves the order of ties unspecified. One ``topk`` of k+1 finds the rows
    where the k-th value ties with the next: only those rows are sorted in full. NaN ranks
    last, as -inf (``topk`` puts NaN first); +inf is an ordinary, maximal score."""
    k = min(k, scores.shape[1])
    if k <= 0:
        return torch.zeros(scores.shape[0], 0, dtype=torch.long, device=scores.device)
    width = min(k + 1, scores.shape[1])
    vals, ids = torch.topk(scores, width, dim=1)
    if bool(vals.isnan().any()):  # a row's NaN are its largest topk values: always listed
        scores = scores.masked_fill(scores.isnan(), NEG)
        vals, ids = torch.topk(scores, width, dim=1)
    top, tied = order_top(vals, ids, k)
    if tied is not None and bool(tied.any()):
        top[tied] = stable_top(scores[tied], k)
    return top


def topk_metrics(hits: torch.Tensor, n_relevant: torch.Tensor, ks: Sequence[int]) -> Dict[str, torch.Tensor]:
    """Per-user metrics (summed later). ``hits`` is ``[U, Kmax]`` 0/1 in rank order and
    ``n_relevant`` the held-out count per user (> 0)."""
    hits = hits.float()
    n_rel = n_relevant.float()
    kmax = hits.shape[1]
    discount = 1.0 / torch.log2(torch.arange(2, kmax + 2, device=hits.device, dtype=torch.float32))
    ideal = torch.cumsum(discount, 0)
    out = {}
    for k in ks:
        h = hits[:, :k]
        n_hit = h.sum(1)
        dcg = (h * discount[:k]).sum(1)
        idcg = ideal[(torch.clamp(n_rel, max=min(k, kmax)) - 1).long()]
        out[f"recall@{k}"] = n_hit / n_rel
        out[f"ndcg@{k}"] = dcg / idcg
        out[f"precision@{k}"] = n_hit / k
        out[f"hit@{k}"] = (n_hit > 0).float()
    return out
