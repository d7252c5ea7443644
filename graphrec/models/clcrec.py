"""CLCRec (Wei et al., 2021): contrastive learning for cold-start recommendation.

``reference`` mirrors the seed code line by line: it gathers ``[B*(1+N), d]`` rows, uses
``exp`` then ``log`` and keeps the seed's two result-changing details:

* the hybrid term replaces the rows at ``int(n * num_sample)`` indices drawn *with*
  replacement out of ``n = B*(1+N)`` rows (about 39 % distinct rows at 0.5, not 50 %), and
  autograd then sends a row's gradient to its feature once per copy of its index;
* ranking scores warm items with their id embeddings and cold items with encoded features.

``lean`` is the same maths, loss and gradients (``tests/test_lean.py``): score the batch's
users against whole tables and gather the sampled columns (:mod:`.scores`), normalise the
tables once, reduce with logsumexp, gather item norms instead of norming gathered rows, and
on CPU encode only the items drawn when the catalogue is much larger than the batch's
columns (else only the warm items' when the batch holds no cold item).

``graph_layers=N > 0`` puts a graph encoder under the id embeddings (the seed user's
``main_graph.py`` variant): once per step the whole ``[users + items, d]`` id table is
propagated over the normalised training graph as LightGCN does (no weights, the mean of
layers ``0..N``, one ``torch.sparse.mm`` per layer), and both contrastive terms, both impls
and ranking read that table instead of the raw one. The regulariser stays on the raw (ego)
rows, as LightGCN's does. Cold items have no training edge, so their propagated row is their
own ego row / (N + 1); ranking scores them with their encoded features as before. ``N = 0``
runs exactly the computations it ran before the option existed.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Recommender, Representations, init_table
from .features import FeatureInput
from .graph import NormalizedGraph
from .losses import seed_contrastive, softmax_ce
from .rows import gather_rows
from .scores import gather_scores, shared_scores


# Encode only the drawn items when the warm catalogue is this many times the batch's columns.
SUBSET_FACTOR = 2


def hybrid_index(n: int, num_sample: float, device) -> torch.Tensor:
    """The seed's ``torch.randint(n, (int(n * num_sample),))``: with replacement."""
    return torch.randint(n, (int(n * num_sample),), device=device)


class CLCRec(Recommender, FeatureInput):
    def __init__(self, n_users: int, n_items: int, warm_mask: np.ndarray, features: dict,
                 dim: int = 64, reg_weight: float = 0.1, temp_value: float = 2.0,
                 lr_lambda: float = 0.5, num_sample: float = 0.5, encoder_hidden: int = 256,
                 impl: str = "reference", init: str = "xavier_normal", graph_layers: int = 0,
                 train_pairs: tuple | None = None):
        """``train_pairs`` = (users, items) of every training pair: the graph, needed only
        when ``graph_layers > 0``."""
        super().__init__()
        self.n_users, self.n_items, self.impl = n_users, n_items, impl
        self.reg_weight, self.temp_value = reg_weight, temp_value
        self.lr_lambda, self.num_sample = lr_lambda, num_sample
        self.id_embedding = nn.Parameter(init_table(n_users + n_items, dim, init))
        self.register_buffer("item_ids", torch.arange(n_users, n_users + n_items),
                             persistent=False)
        # Feature rows are stored warm items first: the lean step then encodes only the warm
        # block when a batch holds no cold item (always, with warm candidates).
        warm = torch.as_tensor(warm_mask, dtype=torch.bool)
        order = torch.cat([torch.nonzero(warm).squeeze(1), torch.nonzero(~warm).squeeze(1)])
        self.n_warm = int(warm.sum())
        self.set_features(features, "CLCRec", order)
        self.register_buffer("row_of_item", torch.argsort(order), persistent=False)
        self.register_buffer("warm", warm, persistent=False)
        self.encoder_layer1 = nn.Linear(self.feat.shape[1], encoder_hidden)
        self.encoder_layer2 = nn.Linear(encoder_hidden, dim)
        self.graph_layers = graph_layers
        if graph_layers:
            if train_pairs is None:
                raise ValueError("CLCRec with graph_layers > 0 needs the training pairs")
            self.graph = NormalizedGraph(n_users, n_items, *train_pairs)

    def id_table(self) -> torch.Tensor:
        """The ``[users + items, d]`` id table the losses and ranking read: the parameter
        itself, or with ``graph_layers`` its LightGCN propagation (mean of layers 0..N)."""
        if not self.graph_layers:
            return self.id_embedding
        return self.graph.propagate_mean(self.id_embedding, self.graph_layers)

    def encoder(self, n_rows: int | None = None, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Encoded features of the first ``n_rows`` feature rows (all by default), or of the
        feature rows ``rows``, in that order."""
        x = self.step_feat()
        if rows is not None:
            x = x.index_select(0, rows)
        elif n_rows is not None:
            x = x[:n_rows]
        return self.encoder_layer2(F.leaky_relu(self.encoder_layer1(x)))

    def item_features(self) -> torch.Tensor:
        """Encoded features per item id."""
        return self.encoder()[self.row_of_item]

    def reference_loss(self, users, items, shared=None):
        """``shared``: the batch's shared negatives (``items`` their per-sample layout)."""
        return self._combine(*self._reference_terms(users, items, shared))

    def lean_loss(self, users, items):
        return self._combine(*self._lean_terms(users, items))

    def lean_shared_loss(self, users, shared):
        return self._combine(*self._lean_shared_terms(users, shared))

    def _combine(self, cl1, cl2, reg):
        contrastive = cl1 * self.lr_lambda + cl2 * (1 - self.lr_lambda)
        reg = self.reg_weight * reg
        return contrastive + reg, {"contrastive": contrastive, "reg": reg}

    # -------------------------------------------------------------- the seed's formulation
    def _reference_terms(self, users, items, shared=None):
        num_neg = items.shape[1] - 1
        pos_item_tensor = items[:, 0].unsqueeze(1).repeat(1, 1 + num_neg).view(-1)
        user_tensor = users.unsqueeze(1).repeat(1, 1 + num_neg).view(-1)
        item_tensor = items.reshape(-1)
        feature = self.item_features()
        all_item_feat = feature[item_tensor]
        table = self.id_table()
        user_embedding = table[user_tensor]
        pos_item_embedding = table[pos_item_tensor + self.n_users]
        all_item_embedding = table[item_tensor + self.n_users]
        head_feat = F.normalize(all_item_feat, dim=1)
        head_embed = F.normalize(pos_item_embedding, dim=1)
        all_item_input = all_item_embedding.clone()
        rand_index = hybrid_index(all_item_embedding.size(0), self.num_sample, users.device)
        all_item_input[rand_index] = all_item_feat[rand_index].clone().to(all_item_input.dtype)

        def contrastive(anchor, other):
            s = torch.sum(anchor * other, dim=1) / self.temp_value
            if shared is not None:  # the hits left out, the logQ shift applied
                return shared.seed_contrastive(s.view(-1, 1 + num_neg))
            return seed_contrastive(s.view(-1, 1 + num_neg))

        cl1 = contrastive(head_embed, head_feat)
        cl2 = contrastive(user_embedding, all_item_input)
        if self.graph_layers:  # the regulariser reads the ego rows
            user_embedding = self.id_embedding[user_tensor]
            all_item_embedding = self.id_embedding[item_tensor + self.n_users]
        reg = (torch.sqrt((user_embedding ** 2).sum(1)).mean()
               + torch.sqrt((all_item_embedding ** 2).sum(1)).mean()) / 2
        return cl1, cl2, reg

    # -------------------------------------------------------------- same maths, lean
    def _lean_terms(self, users, items):
        b, m = items.shape
        # One gather of the batch's users and every item: one dense gradient for the table.
        rows_of = torch.cat([users, self.item_ids])
        emb = gather_rows(self.id_table(), rows_of, self.row_grads)  # (row_grads: no graph)
        user_emb, item_emb = emb[:b], emb[b:]
        flat = items.reshape(-1)  # index_select: several times faster than [] indexing on CPU
        rows = self.row_of_item.index_select(0, flat).view(b, m)
        # The first layer over 2276-wide features is most of a CPU step. With a catalogue much
        # larger than the batch's columns, encode only the rows drawn (rows becomes their
        # index in that subset); otherwise only the warm block when the batch holds no cold
        # item. On a GPU both would stall the device on a host read, and encoding every item
        # costs little there.
        if items.device.type != "cpu":
            feature = self.encoder()  # [rows, d]
        elif SUBSET_FACTOR * flat.numel() < self.n_warm:
            needed, rows = torch.unique(rows, return_inverse=True)
            feature = self.encoder(rows=needed)
        else:
            feature = self.encoder(self.n_warm if int(rows.max()) < self.n_warm else None)

        head_embed = F.normalize(item_emb[items[:, 0]], dim=1)
        cl1 = softmax_ce(gather_scores(head_embed, F.normalize(feature, dim=1), rows)
                         / self.temp_value)

        # Score each user against id embeddings and features at once; take the feature score
        # at the hybrid slots, the id score elsewhere.
        idx = hybrid_index(b * m, self.num_sample, items.device)
        ones = torch.ones(len(idx), device=items.device)  # index_add: no host sync, unlike bincount
        copies = torch.zeros(b * m, device=items.device).index_add_(0, idx, ones).view(b, m)
        cols = torch.where(copies > 0, rows + self.n_items, items)
        both = torch.cat([item_emb, feature.to(item_emb.dtype)])
        # The seed swaps rows in with index_put at indices drawn with replacement, so autograd
        # sends a slot's gradient to its feature row once per copy of the index (the user row
        # gets it once): weight the table side's gradient by the copies.
        s2 = gather_scores(user_emb, both, cols, table_weight=copies.clamp(min=1))
        cl2 = softmax_ce(s2 / self.temp_value)
        if self.graph_layers:  # the regulariser reads the ego rows
            ego = gather_rows(self.id_embedding, rows_of)
            user_emb, item_emb = ego[:b], ego[b:]
        item_norms = item_emb.norm(dim=1).index_select(0, flat)
        reg = (user_emb.norm(dim=1).mean() + item_norms.mean()) / 2
        return cl1, cl2, reg

    # -------------------------------------------------------------- negatives shared by the batch
    def _lean_shared_terms(self, users, shared):
        """The same two terms over ``[B, 1 + K]`` slots whose ``K`` columns every sample
        shares: only the ``U <= B + K`` drawn items are gathered and encoded (on any device:
        ``U`` is known without a host read), and each term is one ``[B, d] x [d, K]`` product
        (:func:`~.scores.shared_scores`). The item-side term keeps its meaning: each
        positive's id embedding must pick its own encoded features among its features and the
        columns' (the shared negatives, or the batch's other positives), hits left out. Both
        terms are softmaxes over the same columns, so both take the logQ shift."""
        b, k = len(users), len(shared.neg)
        items = shared.items
        rows_of = torch.cat([users, items + self.n_users])  # one gather: one gradient
        emb = gather_rows(self.id_table(), rows_of, self.row_grads)
        user_emb, item_emb = emb[:b], emb[b:]  # [B, d], [U, d]
        feature = self.encoder(rows=self.row_of_item.index_select(0, items))  # [U, d]

        head_embed = F.normalize(gather_rows(item_emb, shared.pos), dim=1)
        pos, neg = shared_scores(head_embed, F.normalize(feature, dim=1), shared.pos, shared.neg)
        cl1 = shared.lean_loss(pos, neg, self.temp_value, bpr=False)

        # The seed's hybrid slots over the [B, 1 + K] layout, as in _lean_terms: the feature
        # score there (its table-side gradient once per copy), the id score elsewhere.
        idx = hybrid_index(b * (1 + k), self.num_sample, users.device)
        ones = torch.ones(len(idx), device=users.device)
        copies = torch.zeros(b * (1 + k), device=users.device).index_add_(0, idx, ones)
        copies = copies.view(b, 1 + k)
        weight = copies.clamp(min=1)
        id_pos, id_neg = shared_scores(user_emb, item_emb, shared.pos, shared.neg)
        f_pos, f_neg = shared_scores(user_emb, feature.to(item_emb.dtype), shared.pos,
                                     shared.neg, weight=(weight[:, 0], weight[:, 1:]))
        hybrid = copies > 0
        pos = torch.where(hybrid[:, 0], f_pos, id_pos)
        neg = torch.where(hybrid[:, 1:], f_neg, id_neg)
        cl2 = shared.lean_loss(pos, neg, self.temp_value, bpr=False)
        if self.graph_layers:  # the regulariser reads the ego rows
            ego = gather_rows(self.id_embedding, rows_of)
            user_emb, item_emb = ego[:b], ego[b:]
        reg = (user_emb.norm(dim=1).mean() + shared.slot_mean(item_emb.norm(dim=1))) / 2
        return cl1, cl2, reg

    def representations(self):
        """Warm items by their id rows, cold items by their encoded features."""
        table = self.id_table()
        item_emb = table[self.n_users:]
        items = torch.where(self.warm.unsqueeze(1), item_emb,
                            self.item_features().to(item_emb.dtype))
        return Representations(table[:self.n_users], items)

    def item_encoder(self):
        from .encoders import ClcrecEncoder

        enc = ClcrecEncoder(self.feature_widths, self.encoder_layer1.out_features,
                            self.encoder_layer2.out_features)
        enc.layer1.load_state_dict(self.encoder_layer1.state_dict())
        enc.layer2.load_state_dict(self.encoder_layer2.state_dict())
        return enc
