"""VBPR (He and McAuley, AAAI 2016): matrix factorisation plus a visual term.

    score(u, i) = <gamma_u, gamma_i> + <theta_u, E f_i> + beta' f_i + beta_i

``f_i`` is the item's feature vector (every modality L2-normalised, then concatenated, as
CLCRec builds it), ``E`` a learned linear projection (``dim`` x feature width, no bias) and
``beta'`` the visual bias. The user bias is left out: full ranking per user ignores it.
``gamma_u`` and ``theta_u`` are the two halves of one ``[n_users, 2 * dim]`` table.

Cold items (never in training) are scored from their features alone, as the paper's
cold-start evaluation does: their ``gamma_i`` and ``beta_i`` are masked to zero in training
(where ``sampling.candidates=all`` lets them be negatives) and in ranking, so
``score(u, cold i) = <theta_u, E f_i> + beta' f_i``. Ranked among cold items (the cold
protocol) that is the whole visual half of the model.

Trained on the sampler's negatives as :mod:`.mf` is (BPR with one negative, sampled softmax
at ``temp_value`` with more), with ``reg_weight`` L2 on the batch's user rows and item rows
(``gamma_i`` and ``beta_i``); ``E`` and ``beta'`` are not regularised (the paper's
``lambda_E`` is 0 in most of its runs).

``reference`` gathers ``[B, 1+N, feature width]`` feature rows and projects them, as the
paper's per-sample formulation does. ``lean`` is the same loss and gradients
(``tests/test_lean.py``): it projects the whole catalogue once per step into one
``[n_items, 2 * dim]`` table (``[gamma_i, E f_i]``) and scores it with
:func:`~.scores.gather_scores` against ``[gamma_u, theta_u]``; the biases are one
``[n_items]`` vector gathered. When the catalogue is larger than the batch's ``B * (1+N)``
slots, projecting every item costs more than projecting the gathered rows, so ``lean`` then
takes the reference path (:meth:`lean_pays`; the run records ``reference``).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from .base import Recommender, Representations, init_table
from .features import FeatureInput
from .losses import ranking_loss
from .scores import gather_scores, shared_scores
from .rows import gather_rows


class VBPR(Recommender, FeatureInput):
    def __init__(self, n_users: int, n_items: int, warm_mask: np.ndarray, features: dict,
                 dim: int = 64, reg_weight: float = 1e-4, temp_value: float = 0.2,
                 item_bias: bool = True, impl: str = "reference", init: str = "normal"):
        super().__init__()
        self.impl, self.reg_weight, self.temp, self.dim = impl, reg_weight, temp_value, dim
        self.n_items = n_items
        feat = self.set_features(features, "VBPR")
        self.register_buffer("warm", torch.as_tensor(warm_mask, dtype=torch.float32),
                             persistent=False)
        self.user_emb = nn.Parameter(init_table(n_users, 2 * dim, init))  # [gamma_u, theta_u]
        self.item_emb = nn.Parameter(init_table(n_items, dim, init))  # gamma_i
        self.proj = nn.Linear(feat.shape[1], dim, bias=False)  # E
        self.visual_bias = nn.Parameter(torch.zeros(feat.shape[1]))  # beta'
        self.item_bias = nn.Parameter(torch.zeros(n_items)) if item_bias else None  # beta_i

    # ----------------------------------------------------------------- pieces
    def _id_bias(self) -> Optional[torch.Tensor]:
        return None if self.item_bias is None else self.item_bias * self.warm

    def tables(self, feat: torch.Tensor):
        """``[n_items, 2 * dim]`` item table ``[gamma_i (0 if cold), E f_i]``, the
        ``[n_items]`` bias ``beta' f_i + beta_i (0 if cold)`` and the masked ``gamma_i``."""
        gamma = self.item_emb * self.warm.unsqueeze(1)
        visual = self.proj(feat)
        table = torch.cat([gamma, visual.to(gamma.dtype)], dim=1)
        bias = (feat @ self.visual_bias.to(feat.dtype)).to(gamma.dtype)
        id_bias = self._id_bias()
        if id_bias is not None:
            bias = bias + id_bias
        return table, bias, gamma

    # ----------------------------------------------------------------- training
    def lean_pays(self, slots: int) -> bool:
        return self.n_items <= slots  # else projecting every item costs more than the slots

    def lean_loss(self, users, items):
        q = self.user_emb[users]  # [B, 2d]
        table, bias, gamma = self.tables(self.step_feat())
        scores = gather_scores(q, table, items) + bias[items]
        item_sq = (gamma ** 2).sum(1)
        id_bias = self._id_bias()
        if id_bias is not None:
            item_sq = item_sq + id_bias ** 2
        return self._total(q, ranking_loss(scores, self.temp), item_sq[items].mean())

    def lean_shared_loss(self, users, shared):
        """Negatives shared by the batch: only the ``U`` drawn items are projected."""
        q = self.user_emb[users]  # [B, 2d]
        items = shared.items
        warm = self.warm.index_select(0, items)
        gamma = gather_rows(self.item_emb, items) * warm.unsqueeze(1)
        feat = self.step_feat().index_select(0, items)
        table = torch.cat([gamma, self.proj(feat).to(gamma.dtype)], dim=1)  # [U, 2d]
        bias = (feat @ self.visual_bias.to(feat.dtype)).to(gamma.dtype)
        item_sq = (gamma ** 2).sum(1)
        if self.item_bias is not None:
            beta = self.item_bias.index_select(0, items) * warm
            bias, item_sq = bias + beta, item_sq + beta ** 2
        pos, neg = shared_scores(q, table, shared.pos, shared.neg)
        pos = pos + bias.index_select(0, shared.pos)
        neg = neg + bias.index_select(0, shared.neg)
        return self._total(q, shared.lean_loss(pos, neg, self.temp), shared.slot_mean(item_sq))

    def reference_loss(self, users, items, shared=None):
        """``shared``: the batch's shared negatives (``items`` their per-sample layout)."""
        q = self.user_emb[users]  # [B, 2d]
        d = self.dim
        warm = self.warm[items]  # [B, M]
        gamma = self.item_emb[items] * warm.unsqueeze(-1)  # [B, M, d]
        f = self.feat[items]  # [B, M, feature width], as per-sample code gathers it
        visual = self.proj(f)  # [B, M, d]
        scores = ((q[:, None, :d] * gamma).sum(-1) + (q[:, None, d:] * visual).sum(-1)
                  + f @ self.visual_bias)
        item_sq = (gamma ** 2).sum(-1)
        if self.item_bias is not None:
            beta = self.item_bias[items] * warm
            scores = scores + beta
            item_sq = item_sq + beta ** 2
        rank = ranking_loss(scores, self.temp) if shared is None else \
            shared.ranking_loss(scores, self.temp)
        return self._total(q, rank, item_sq.mean())

    def _total(self, q, rank, item_sq):
        reg = self.reg_weight * ((q ** 2).sum(1).mean() + item_sq) / 2
        return rank + reg, {"rank": rank, "reg": reg}

    # ----------------------------------------------------------------- ranking
    def representations(self):
        table, bias, _ = self.tables(self.feat)
        return Representations(self.user_emb, table, bias)

    def item_encoder(self):
        """A new item as a cold one: ``[0, E f]`` and the bias ``beta' f``."""
        from .encoders import VbprEncoder

        enc = VbprEncoder(self.feature_widths, self.dim)
        enc.load_state_dict({"proj.weight": self.proj.weight, "visual_bias": self.visual_bias})
        return enc
