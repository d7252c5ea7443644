"""Matrix factorisation: BPR for one negative, sampled softmax (temperature) for more."""
from __future__ import annotations

import torch
from torch import nn

from .base import Recommender, Representations, init_table
from .losses import mean_sq_rows, ranking_loss
from .rows import gather_rows
from .scores import gather_scores, gathered_bpr, shared_scores


class MF(Recommender):
    def __init__(self, n_users: int, n_items: int, dim: int = 64, reg_weight: float = 1e-4,
                 temp_value: float = 1.0, impl: str = "reference", init: str = "normal"):
        super().__init__()
        self.impl, self.reg_weight, self.temp = impl, reg_weight, temp_value
        self.user_emb = nn.Parameter(init_table(n_users, dim, init))
        self.item_emb = nn.Parameter(init_table(n_items, dim, init))

    def tables(self):
        return self.user_emb, self.item_emb

    def lean_loss(self, users, items):
        user_t, item_t = self.tables()
        sparse = self.row_grads  # the tables' gradients as their touched rows (.rows)
        if items.shape[1] == 2:  # BPR: one node for gather, score, loss and backward
            rank = gathered_bpr(user_t, item_t, users, items, sparse)
        else:
            rank = ranking_loss(gather_scores(gather_rows(user_t, users, sparse), item_t, items,
                                              sparse=sparse), self.temp)
        if not self.reg_weight:  # no L2 term (RecBole's BPR): nothing to compute
            return rank, {"rank": rank, "reg": torch.zeros((), device=rank.device)}
        reg = self.reg_weight * (mean_sq_rows(self.user_emb, users, sparse)
                                 + mean_sq_rows(self.item_emb, items, sparse)) / 2
        return rank + reg, {"rank": rank, "reg": reg}

    def lean_shared_loss(self, users, shared):
        """Negatives shared by the batch: the ``U`` drawn rows gathered once, one product."""
        user_t, item_t = self.tables()
        sparse = self.row_grads
        u = gather_rows(user_t, users, sparse)
        rows = gather_rows(item_t, shared.items, sparse)
        pos, neg = shared_scores(u, rows, shared.pos, shared.neg)
        rank = shared.lean_loss(pos, neg, self.temp)
        if not self.reg_weight:
            return rank, {"rank": rank, "reg": torch.zeros((), device=rank.device)}
        if sparse:  # the rows already gathered: no second gradient of each table
            item_sq, user_sq = shared.slot_mean(rows.pow(2).sum(1)), u.pow(2).sum(1).mean()
        else:
            item_sq = shared.slot_mean(gather_rows(self.item_emb, shared.items).pow(2).sum(1))
            user_sq = mean_sq_rows(self.user_emb, users)
        reg = self.reg_weight * (user_sq + item_sq) / 2
        return rank + reg, {"rank": rank, "reg": reg}

    def reference_loss(self, users, items, shared=None):
        """``shared``: the batch's :class:`~.negatives.SharedNegatives` (``items`` is then
        its per-sample layout), whose hits are masked out of the loss."""
        user_t, item_t = self.tables()
        u = user_t[users]
        rows = item_t[items]  # [B, 1+N, d], as seed-style code does
        scores = (u.unsqueeze(1) * rows).sum(-1)
        item_sq = (self.item_emb[items] ** 2).sum(-1).mean()
        rank = ranking_loss(scores, self.temp) if shared is None else \
            shared.ranking_loss(scores, self.temp)
        reg = self.reg_weight * ((self.user_emb[users] ** 2).sum(1).mean() + item_sq) / 2
        return rank + reg, {"rank": rank, "reg": reg}

    def representations(self):
        return Representations(*self.tables())
