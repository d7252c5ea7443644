"""CLCRec's own full ranking (weiyinwei/CLCRec: ``Full_rank.full_ranking`` calling
``Metric.rank`` and ``Metric.full_accuracy``), kept only as the benchmark's yardstick for
:func:`graphrec.evaluation.evaluate`. Same algorithm and cost as the original:

* every user, in chunks of ``step`` (2,000 there), is scored against every item;
* per chunk, a Python loop over the whole train dict masks each user's items of the chunk;
  ``mask_items`` (the other list's items) are masked in every row. CLCRec writes ``1e-15``,
  which outranks every negative score; here ``-inf``, so masked items really rank last;
* one ``torch.topk`` at a single K, the rank lists concatenated chunk after chunk;
* a Python loop over the list's rows computes precision, recall and NDCG.

Item ids are offset by the number of users, as in CLCRec's files. Not used in training.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch


def clcrec_inputs(data, split: str) -> Tuple[Dict[int, set], Dict[str, list], dict]:
    """CLCRec's structures built from ``data``, as its files hold them: the train dict
    ``{user: {item + n_users}}``, the held-out lists (rows ``[user, item + n_users, ...]``)
    for all, warm and cold items, and the items each list masks (None, cold, warm)."""
    n_users = data.n_users
    train = {u: set((data.train_indices[data.train_indptr[u]:data.train_indptr[u + 1]]
                     + n_users).tolist())
             for u in range(n_users) if data.train_indptr[u + 1] > data.train_indptr[u]}
    indptr, indices = data.heldout(split)
    warm = data.warm_mask
    lists = {"": [], "_warm": [], "_cold": []}
    for u in range(n_users):
        items = indices[indptr[u]:indptr[u + 1]]
        for name, part in (("", items), ("_warm", items[warm[items]]),
                           ("_cold", items[~warm[items]])):
            if len(part):
                lists[name].append([u] + (part + n_users).tolist())
    masked = {"": None,
              "_warm": torch.from_numpy(np.flatnonzero(~warm) + n_users),
              "_cold": torch.from_numpy(np.flatnonzero(warm) + n_users)}
    return train, lists, masked


def rank(score: Callable[[torch.Tensor], torch.Tensor], n_users: int, train: Dict[int, set],
         mask_items: Optional[torch.Tensor], step: int, topk: int) -> torch.Tensor:
    """``Metric.rank``: the top-``topk`` item ids (offset by ``n_users``) of every user."""
    if step is None or step > n_users:  # CLCRec's loop would never start: no user ranked
        step = n_users
    start, end = 0, step
    ranked = torch.LongTensor([])
    while end <= n_users and start < end:
        scores = score(torch.arange(start, end))
        for user, items in train.items():
            if start <= user < end:
                scores[user - start][torch.LongTensor(list(items)) - n_users] = float("-inf")
        if mask_items is not None:
            scores[:, mask_items - n_users] = float("-inf")
        _, top = torch.topk(scores, topk)
        ranked = torch.cat((ranked, top.cpu() + n_users), dim=0)
        start = end
        end = end + step if end + step < n_users else n_users
    return ranked


def full_accuracy(rows: List[list], ranked: torch.Tensor, topk: int) -> Tuple[float, float, float]:
    """``Metric.full_accuracy`` on held-out rows: mean precision, recall, NDCG at ``topk``."""
    length = 0
    precision = recall = ndcg = 0.0
    for row in rows:
        user, positives = row[0], set(row[1:])
        n_pos = len(positives)
        if n_pos == 0:
            continue
        length += 1
        listed = ranked[user].tolist()
        n_hit = len(positives.intersection(set(listed)))
        precision += float(n_hit / topk)
        recall += float(n_hit / n_pos)
        best = sum(1 / math.log2(i + 2) for i in range(min(n_pos, topk)))
        if best == 0:
            continue
        gain = sum(1 / math.log2(i + 2) for i, item in enumerate(listed) if item in positives)
        ndcg += gain / best
    return precision / length, recall / length, ndcg / length


def full_ranking(score, n_users: int, rows: List[list], train: Dict[int, set],
                 mask_items: Optional[torch.Tensor], step: int = 2000,
                 topk: int = 20) -> Tuple[float, float, float]:
    """``Full_rank.full_ranking`` at evaluation: (precision, recall, NDCG) of one list."""
    with torch.no_grad():
        return full_accuracy(rows, rank(score, n_users, train, mask_items, step, topk), topk)
