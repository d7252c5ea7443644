"""Top-K metrics from a hit matrix. Ranking ties are broken by the lower item id."""
from __future__ import annotations

from typing import Dict, Sequence

import torch


def topk_stable(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k column ids per row, best first, equal scores ordered by lower column id.

    ``torch.topk`` leaves the order of ties unspecified; this fixes it without a full sort:
    everything strictly above the k-th value is in, then the lowest ids among those equal to
    it fill the remaining places."""
    k = min(k, scores.shape[1])
    kth = torch.topk(scores, k, dim=1).values[:, -1:]
    above = scores > kth
    tied = scores == kth
    need = k - above.sum(1, keepdim=True)
    chosen = above | (tied & (torch.cumsum(tied.int(), 1) <= need))
    cols = torch.nonzero(chosen)[:, 1].view(-1, k)  # ascending ids per row
    order = torch.sort(scores.gather(1, cols), dim=1, descending=True, stable=True).indices
    return cols.gather(1, order)


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
