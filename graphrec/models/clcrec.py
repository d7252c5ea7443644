"""CLCRec (Wei et al., 2021): contrastive learning for cold-start recommendation.

``reference`` mirrors the seed code line by line: it gathers ``[B*(1+N), d]`` rows, uses
``exp`` then ``log`` and keeps the seed's two result-changing details:

* the hybrid term replaces the rows at ``int(n * num_sample)`` indices drawn *with*
  replacement out of ``n = B*(1+N)`` rows (about 39 % distinct rows at 0.5, not 50 %);
* ranking scores warm items with their id embeddings and cold items with encoded features.

``lean`` is the same maths: score the batch's users against whole tables with one product,
gather the sampled columns, normalise the tables once, reduce with logsumexp, and gather
item norms instead of norming gathered rows.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import Recommender
from .losses import gather_scores, seed_contrastive, softmax_ce


def hybrid_index(n: int, num_sample: float, device) -> torch.Tensor:
    """The seed's ``torch.randint(n, (int(n * num_sample),))``: with replacement."""
    return torch.randint(n, (int(n * num_sample),), device=device)


class CLCRec(Recommender):
    def __init__(self, n_users: int, n_items: int, warm_mask: np.ndarray, features: dict,
                 dim: int = 64, reg_weight: float = 0.1, temp_value: float = 2.0,
                 lr_lambda: float = 0.5, num_sample: float = 0.5, encoder_hidden: int = 256,
                 impl: str = "reference"):
        super().__init__()
        if not features:
            raise ValueError("CLCRec needs item features (feat_v/feat_a/feat_t)")
        self.n_users, self.n_items, self.impl = n_users, n_items, impl
        self.reg_weight, self.temp_value = reg_weight, temp_value
        self.lr_lambda, self.num_sample = lr_lambda, num_sample
        self.id_embedding = nn.Parameter(
            nn.init.xavier_normal_(torch.rand((n_users + n_items, dim))))
        feats = [F.normalize(torch.as_tensor(f, dtype=torch.float32), dim=1)
                 for f in features.values()]
        self.register_buffer("feat", torch.cat(feats, dim=1), persistent=False)
        self.register_buffer("warm", torch.as_tensor(warm_mask, dtype=torch.bool),
                             persistent=False)
        self.encoder_layer1 = nn.Linear(self.feat.shape[1], encoder_hidden)
        self.encoder_layer2 = nn.Linear(encoder_hidden, dim)

    def encoder(self) -> torch.Tensor:
        return self.encoder_layer2(F.leaky_relu(self.encoder_layer1(self.feat)))

    def loss(self, users, items):
        if self.impl == "lean":
            cl1, cl2, reg = self._lean_terms(users, items)
        else:
            cl1, cl2, reg = self._reference_terms(users, items)
        contrastive = cl1 * self.lr_lambda + cl2 * (1 - self.lr_lambda)
        reg = self.reg_weight * reg
        return contrastive + reg, {"contrastive": contrastive, "reg": reg}

    # -------------------------------------------------------------- the seed's formulation
    def _reference_terms(self, users, items):
        num_neg = items.shape[1] - 1
        pos_item_tensor = items[:, 0].unsqueeze(1).repeat(1, 1 + num_neg).view(-1)
        user_tensor = users.unsqueeze(1).repeat(1, 1 + num_neg).view(-1)
        item_tensor = items.reshape(-1)
        feature = self.encoder()
        all_item_feat = feature[item_tensor]
        user_embedding = self.id_embedding[user_tensor]
        pos_item_embedding = self.id_embedding[pos_item_tensor + self.n_users]
        all_item_embedding = self.id_embedding[item_tensor + self.n_users]
        head_feat = F.normalize(all_item_feat, dim=1)
        head_embed = F.normalize(pos_item_embedding, dim=1)
        all_item_input = all_item_embedding.clone()
        rand_index = hybrid_index(all_item_embedding.size(0), self.num_sample, users.device)
        all_item_input[rand_index] = all_item_feat[rand_index].clone()

        def contrastive(anchor, other):
            s = torch.sum(anchor * other, dim=1) / self.temp_value
            return seed_contrastive(s.view(-1, 1 + num_neg))

        cl1 = contrastive(head_embed, head_feat)
        cl2 = contrastive(user_embedding, all_item_input)
        reg = (torch.sqrt((user_embedding ** 2).sum(1)).mean()
               + torch.sqrt((all_item_embedding ** 2).sum(1)).mean()) / 2
        return cl1, cl2, reg

    # -------------------------------------------------------------- same maths, lean
    def _lean_terms(self, users, items):
        b, m = items.shape
        feature = self.encoder()
        item_emb = self.id_embedding[self.n_users:]
        user_emb = self.id_embedding[users]
        head_embed = F.normalize(item_emb[items[:, 0]], dim=1)
        cl1 = softmax_ce(gather_scores(head_embed, F.normalize(feature, dim=1), items)
                         / self.temp_value)
        hybrid = torch.zeros(b * m, dtype=torch.bool, device=items.device)
        hybrid[hybrid_index(b * m, self.num_sample, items.device)] = True
        s_id = gather_scores(user_emb, item_emb, items)
        s_feat = gather_scores(user_emb, feature, items)
        cl2 = softmax_ce(torch.where(hybrid.view(b, m), s_feat, s_id) / self.temp_value)
        reg = (user_emb.norm(dim=1).mean() + item_emb.norm(dim=1)[items].mean()) / 2
        return cl1, cl2, reg

    @torch.no_grad()
    def scorer(self):
        item_emb = self.id_embedding[self.n_users:]
        items = torch.where(self.warm.unsqueeze(1), item_emb, self.encoder().to(item_emb.dtype))
        users = self.id_embedding[:self.n_users]
        return lambda u: users[u] @ items.T
