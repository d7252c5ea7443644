"""DropoutNet (Volkovs, Yu and Poutanen, NeurIPS 2017): cold start by input dropout.

Each side has a tower: the user tower maps the user's preference vector ``U_u``, the item
tower the item's preference vector ``V_i`` concatenated with its content (every feature
modality L2-normalised, then concatenated, as CLCRec builds it); the score is the dot
product of the two outputs. Each tower is ``Linear -> tanh -> Linear`` (``hidden`` wide,
``dim`` out); the paper's towers are deeper (800, 400, output 200) with batch norm, left out
here so that a batch's scores do not depend on the rest of the batch.

What differs from the paper, and why:

* **Preference inputs.** The paper feeds pretrained WMF vectors (a separate stage). Here
  ``U``/``V`` are id embeddings learned jointly through the towers: one stage, no
  pre-training, and every parameter is trained by the same loss.
* **Loss.** The paper regresses ``<f_U, f_V>`` onto the WMF score ``U_u . V_i`` (MSE over
  each user's top and random items), i.e. it distils the pretrained model. Without a
  pretrained model there is no target to regress onto, so this trains on the sampler's
  negatives with MF's ranking loss (BPR with one negative, sampled softmax at
  ``temp_value`` with more), as toolkits that train DropoutNet end to end do.
* **Dropout.** Only the item's preference input is dropped (graphrec's cold items are items;
  the paper drops the user's as well for user cold start): each step, each item id's
  ``V_i`` is set to zero with probability ``dropout``, drawn per item id from torch's
  global RNG by :func:`preference_keep` (so both ``impl`` forms draw the same mask). The item
  tower thus learns to score from content alone. Cold items always have a zero ``V_i``, in
  training and in ranking; warm items keep theirs at ranking time.

``reg_weight`` is L2 on the batch's preference rows, as MF's on its embeddings.

``reference`` gathers ``[B, 1+N, dim + feature width]`` tower inputs and runs the item tower
per slot. ``lean`` is the same loss and gradients (``tests/test_lean.py``): it runs the item
tower once over the catalogue and scores the ``[n_items, dim]`` outputs with
:func:`~.scores.gather_scores`. When the catalogue is larger than the batch's ``B * (1+N)``
slots that costs more than the gathered rows, so ``lean`` then takes the reference path
(:meth:`lean_pays`; the run records ``reference``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import Recommender, Representations, init_table
from .losses import ranking_loss
from .scores import gather_scores, shared_scores
from .features import FeatureInput
from .rows import gather_rows


def preference_keep(warm: torch.Tensor, rate: float) -> torch.Tensor:
    """``[n_items]`` bool: True where the item's preference input is kept this step. One
    draw per item id from torch's global RNG (as CLCRec's ``hybrid_index``), so the same seed
    gives the same mask whatever the item's slots; cold items (``warm`` False) never keep."""
    return (torch.rand(warm.shape[0], device=warm.device) >= rate) & warm


def tower(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, d_out))


class DropoutNet(Recommender, FeatureInput):
    def __init__(self, n_users: int, n_items: int, warm_mask: np.ndarray, features: dict,
                 dim: int = 64, hidden: int = 256, dropout: float = 0.5,
                 reg_weight: float = 1e-4, temp_value: float = 0.2,
                 impl: str = "reference", init: str = "normal"):
        super().__init__()
        self.impl, self.reg_weight, self.temp, self.dropout = impl, reg_weight, temp_value, dropout
        self.n_items = n_items
        feat = self.set_features(features, "DropoutNet")
        self.register_buffer("warm", torch.as_tensor(warm_mask, dtype=torch.bool),
                             persistent=False)
        self.user_pref = nn.Parameter(init_table(n_users, dim, init))  # U
        self.item_pref = nn.Parameter(init_table(n_items, dim, init))  # V
        self.user_tower = tower(dim, hidden, dim)  # f_U
        self.item_tower = tower(dim + feat.shape[1], hidden, dim)  # f_V

    def item_inputs(self, pref: torch.Tensor, keep: torch.Tensor, feat: torch.Tensor):
        """``[..., dim + feature width]``: the kept preference rows (0 where dropped or
        cold) next to the content rows."""
        pref = pref * keep.unsqueeze(-1).to(pref.dtype)
        return torch.cat([pref.to(feat.dtype), feat], dim=-1)

    # ----------------------------------------------------------------- training
    def lean_pays(self, slots: int) -> bool:
        return self.n_items <= slots  # else the tower over every item costs more than the slots

    def lean_loss(self, users, items):
        keep, u_pref, user_out = self._users(users)
        item_out = self.item_tower(self.item_inputs(self.item_pref, keep, self.step_feat()))
        scores = gather_scores(user_out, item_out.to(user_out.dtype), items)
        item_sq = (self.item_pref ** 2).sum(1)[items].mean()
        return self._total(u_pref, ranking_loss(scores, self.temp), item_sq)

    def lean_shared_loss(self, users, shared):
        """Negatives shared by the batch: the item tower runs over the ``U`` drawn items."""
        keep, u_pref, user_out = self._users(users)
        items = shared.items
        pref = gather_rows(self.item_pref, items)
        x = self.item_inputs(pref, keep.index_select(0, items),
                             self.step_feat().index_select(0, items))
        item_out = self.item_tower(x).to(user_out.dtype)  # [U, d]
        pos, neg = shared_scores(user_out, item_out, shared.pos, shared.neg)
        item_sq = shared.slot_mean((pref ** 2).sum(1))
        return self._total(u_pref, shared.lean_loss(pos, neg, self.temp), item_sq)

    def reference_loss(self, users, items, shared=None):
        """``shared``: the batch's shared negatives (``items`` their per-sample layout)."""
        keep, u_pref, user_out = self._users(users)
        v_pref = self.item_pref[items]  # [B, M, d]
        x = self.item_inputs(v_pref, keep[items], self.feat[items])  # [B, M, d + width]
        item_out = self.item_tower(x)
        scores = (user_out.unsqueeze(1) * item_out).sum(-1)
        item_sq = (v_pref ** 2).sum(-1).mean()
        rank = ranking_loss(scores, self.temp) if shared is None else \
            shared.ranking_loss(scores, self.temp)
        return self._total(u_pref, rank, item_sq)

    def _users(self, users):
        """This step's preference mask (drawn first, as both impls must), the batch's user
        preference rows and the user tower's output."""
        keep = preference_keep(self.warm, self.dropout if self.training else 0.0)
        u_pref = self.user_pref[users]
        return keep, u_pref, self.user_tower(u_pref)

    def _total(self, u_pref, rank, item_sq):
        reg = self.reg_weight * ((u_pref ** 2).sum(1).mean() + item_sq) / 2
        return rank + reg, {"rank": rank, "reg": reg}

    # ----------------------------------------------------------------- ranking
    def representations(self):
        """Warm items with their preference input, cold items from content alone."""
        item_out = self.item_tower(self.item_inputs(self.item_pref, self.warm, self.feat))
        return Representations(self.user_tower(self.user_pref), item_out)

    def item_encoder(self):
        """A new item as a cold one: the item tower over a zero preference and its content."""
        from .encoders import DropoutnetEncoder

        first = self.item_tower[0]
        enc = DropoutnetEncoder(self.feature_widths, self.item_pref.shape[1], first.out_features)
        enc.tower.load_state_dict(self.item_tower.state_dict())
        return enc
