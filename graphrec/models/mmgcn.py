"""MMGCN (Wei et al., ACM MM 2019): multi-modal graph convolution network.

One GCN per modality ``m`` over the user-item training graph (both directions, no self
loops). A modality's nodes start as ``x = normalize([P_m ; MLP_m(f_m)])``: a learned user
preference ``P_m [n_users, dim_latent]`` above the items' features projected to
``dim_latent``. Each layer then computes (equation numbers as the released code labels them)

* aggregation (eq. 1): ``h = LeakyReLU(mean_{j in N(v)} W1 x_j)`` (``aggr=add``: the sum);
* the node's own part (eq. 5): ``x_hat = LeakyReLU(W2 x + b2) + id_v``, its transformed
  representation plus its id embedding, shared by all modalities;
* combination, ``concat=false``: ``x' = LeakyReLU(W3 h + b3 + x_hat)``;
  ``concat=true``: ``x' = LeakyReLU(W3 [h || x_hat] + b3)``.

The first layer maps ``dim_latent`` to ``dim``, the others ``dim`` to ``dim``. A node's
representation is the mean over modalities of its last layer; a score is ``<u, i>``. The loss
is BPR with one negative and a sampled softmax with temperature with more (as :mod:`.mf`),
plus ``reg_weight`` times half the mean squared norm of the batch's id rows (user and items)
and of the batch users' preference rows.

Each step propagates the whole graph once: one ``torch.sparse.mm`` per modality per layer.
``reference`` then gathers ``[B, 1+N, d]`` item rows; ``lean`` scores the batch's users
against the whole item table and gathers the sampled columns (:func:`.scores.gather_scores`).

Cold items (no training edge) aggregate nothing (``h = 0``) and have no trained id row: their
id embedding is masked to zero (every node without a training edge's is), so they are ranked
by what their features give through ``MLP``, ``W2`` and ``W3``.

Where this departs from the released code (weiyinwei/MMGCN ``Model_MMGCN.py``), on purpose:
its ``id_embedding`` and ``preference`` tables are made with ``.cuda()`` after
``requires_grad``, so they are not parameters and never train; here they are. Its forward
runs three layers whatever ``num_layer`` says; here ``n_layers`` is honoured. Its audio and
text branches feed raw features (no ``MLP``); here every modality is projected, so one
``dim_latent`` sizes them all. Its regulariser is the element mean of the batch's id rows
squared plus the whole visual preference table's; here it is the batch's rows, every
modality's, as :mod:`.mf` regularises. Its ``main.py`` passes ``concate='False'``, a string,
which its ``if self.concate`` reads as true; here ``concat`` is a bool and false by default,
as the argument says.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .base import Recommender, Representations, init_table
from .spec import NO_FEATURES
from .losses import ranking_loss
from .scores import gather_scores, shared_scores
from .rows import gather_rows


def graph_adjacency(n_users: int, n_items: int, users: np.ndarray, items: np.ndarray,
                    aggr: str = "mean"):
    """The user-item graph, users first, both directions, as a coalesced COO tensor whose
    product with ``x`` is each node's neighbours' mean (``aggr=mean``: D^-1 A) or sum
    (``add``: A). A node without neighbours gets a zero row."""
    if aggr not in ("mean", "add"):
        raise ConfigError(f"model.aggr={aggr!r} is invalid: allowed mean|add")
    n = n_users + n_items
    rows = np.concatenate([users, items + n_users]).astype(np.int64)
    cols = np.concatenate([items + n_users, users]).astype(np.int64)
    deg = np.bincount(rows, minlength=n).astype(np.float64)
    if aggr == "mean":
        vals = (1.0 / deg[rows]).astype(np.float32)
    else:
        vals = np.ones(len(rows), dtype=np.float32)
    idx = torch.from_numpy(np.stack([rows, cols]))
    adj = torch.sparse_coo_tensor(idx, torch.from_numpy(vals), (n, n), check_invariants=False)
    return adj.coalesce(), deg


def _xavier_linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_normal_(layer.weight)
    return layer


class ModalityGCN(nn.Module):
    """One modality's branch: its user preferences, feature projection and layers."""

    def __init__(self, n_users: int, feat_dim: int, dim: int, dim_latent: int, n_layers: int,
                 concat: bool, init: str):
        super().__init__()
        self.concat = concat
        self.preference = nn.Parameter(init_table(n_users, dim_latent, init))
        self.mlp = _xavier_linear(feat_dim, dim_latent)
        widths = [dim_latent] + [dim] * n_layers
        self.w1 = nn.ParameterList()  # aggregation weights, no bias (the paper's W1)
        self.w2 = nn.ModuleList()     # the node's own transform (W2, b2)
        self.w3 = nn.ModuleList()     # combination (W3, b3)
        for width in widths[:-1]:
            self.w1.append(nn.Parameter(nn.init.xavier_normal_(torch.empty(width, width))))
            self.w2.append(_xavier_linear(width, dim))
            self.w3.append(_xavier_linear(width + dim if concat else width, dim))

    def start(self, feat: torch.Tensor) -> torch.Tensor:
        """Layer 0: ``normalize([P ; MLP(f)])``, ``[users + items, dim_latent]``."""
        return F.normalize(torch.cat([self.preference, self.mlp(feat).float()]), dim=1)

    def layer(self, i: int, x: torch.Tensor, adj: torch.Tensor, ids: torch.Tensor):
        """One layer: aggregation, the node's own part, combination."""
        y = (x @ self.w1[i]).float()
        # fp32 under autocast too: autocast would run the sparse product in bf16, whose
        # backward then fails outside the autocast region on CPU.
        with torch.autocast(y.device.type, enabled=False):
            h = F.leaky_relu(torch.sparse.mm(adj, y))
        x_hat = F.leaky_relu(self.w2[i](x)) + ids
        if self.concat:
            return F.leaky_relu(self.w3[i](torch.cat([h, x_hat.to(h.dtype)], dim=1)))
        return F.leaky_relu(self.w3[i](h) + x_hat)

    def forward(self, feat, adj, ids):
        x = self.start(feat)
        for i in range(len(self.w2)):
            x = self.layer(i, x, adj, ids)
        return x


class MMGCN(Recommender):
    def __init__(self, n_users: int, n_items: int, features: Dict[str, np.ndarray],
                 train_users: np.ndarray, train_items: np.ndarray, dim: int = 64,
                 dim_latent: int = 256, n_layers: int = 2, aggr: str = "mean",
                 concat: bool = False, reg_weight: float = 1e-5, temp_value: float = 0.2,
                 impl: str = "reference", init: str = "xavier_normal"):
        super().__init__()
        if not features:
            raise ConfigError(NO_FEATURES.format(model="mmgcn"))
        self.n_users, self.n_items, self.impl = n_users, n_items, impl
        self.reg_weight, self.temp = reg_weight, temp_value
        self.modalities: List[str] = list(features)
        adj, deg = graph_adjacency(n_users, n_items, train_users, train_items, aggr)
        self.register_buffer("adj", adj, persistent=False)
        # Nodes without a training edge (cold items) would keep their random id row: zero it.
        self.register_buffer("id_mask", torch.from_numpy(deg > 0).float().unsqueeze(1),
                             persistent=False)
        self.id_embedding = nn.Parameter(init_table(n_users + n_items, dim, init))
        for name, f in features.items():
            self.register_buffer(f"feat_{name}", torch.as_tensor(f, dtype=torch.float32),
                                 persistent=False)
        self.gcn = nn.ModuleDict({
            name: ModalityGCN(n_users, f.shape[1], dim, dim_latent, n_layers, concat, init)
            for name, f in features.items()})

    def ids(self) -> torch.Tensor:
        """The id table as the layers read it: zero rows for nodes without a training edge."""
        return self.id_embedding * self.id_mask

    def representation(self) -> torch.Tensor:
        """``[users + items, d]``: the mean over modalities of each GCN's last layer."""
        ids = self.ids()
        reps = [self.gcn[m](getattr(self, f"feat_{m}"), self.adj, ids) for m in self.modalities]
        return torch.stack(reps).mean(0)

    def lean_loss(self, users, items):
        user_t, item_t, ids = self._tables()
        scores = gather_scores(user_t[users], item_t, items)
        item_sq = (ids[self.n_users:] ** 2).sum(1).index_select(0, items.reshape(-1)).mean()
        return self._total(users, ids, ranking_loss(scores, self.temp), item_sq)

    def lean_shared_loss(self, users, shared):
        """Negatives shared by the batch: the ``U`` drawn rows of the propagated table."""
        user_t, item_t, ids = self._tables()
        rows = gather_rows(item_t, shared.items)
        pos, neg = shared_scores(user_t[users], rows, shared.pos, shared.neg)
        item_sq = shared.slot_mean(
            (gather_rows(ids, shared.items + self.n_users) ** 2).sum(1))
        return self._total(users, ids, shared.lean_loss(pos, neg, self.temp), item_sq)

    def reference_loss(self, users, items, shared=None):
        """``shared``: the batch's shared negatives (``items`` their per-sample layout)."""
        user_t, item_t, ids = self._tables()
        rows = item_t[items]  # [B, 1+N, d], as seed-style code does
        scores = (user_t[users].unsqueeze(1) * rows).sum(-1)
        item_sq = (ids[items + self.n_users] ** 2).sum(-1).mean()
        rank = ranking_loss(scores, self.temp) if shared is None else \
            shared.ranking_loss(scores, self.temp)
        return self._total(users, ids, rank, item_sq)

    def _tables(self):
        """This step's user and item representations and the (masked) id table."""
        rep = self.representation()
        return rep[:self.n_users], rep[self.n_users:], self.ids()

    def _total(self, users, ids, rank, item_sq):
        user_sq = (ids[users] ** 2).sum(1).mean()
        pref_sq = sum((g.preference[users] ** 2).sum(1).mean() for g in self.gcn.values())
        reg = self.reg_weight * (user_sq + item_sq + pref_sq) / 2
        return rank + reg, {"rank": rank, "reg": reg}

    def representations(self):
        rep = self.representation()
        return Representations(rep[:self.n_users], rep[self.n_users:])

    def item_encoder(self):
        """A new item as a cold one: no edge, so no aggregation and a zero id row; its
        features go through each modality's ``MLP``, ``W2`` and ``W3``."""
        from .encoders import MmgcnEncoder

        some = self.gcn[self.modalities[0]]
        widths = {m: getattr(self, f"feat_{m}").shape[1] for m in self.modalities}
        enc = MmgcnEncoder(widths, self.id_embedding.shape[1], some.mlp.out_features,
                           len(some.w2), some.concat)
        for m, branch in enc.gcn.items():
            branch.load_state_dict({k: v for k, v in self.gcn[m].state_dict().items()
                                    if not k.startswith(("preference", "w1."))})
        return enc
