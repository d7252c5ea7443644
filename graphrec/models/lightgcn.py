"""LightGCN (He et al., 2020): mean of K propagations over the normalised bipartite graph
(:mod:`.graph`); the loss and both impls come from :class:`MF`."""
from __future__ import annotations

import numpy as np
import torch

from .graph import NormalizedGraph, normalized_adjacency  # noqa: F401  (re-exported)
from .mf import MF


class LightGCN(MF):
    def __init__(self, n_users: int, n_items: int, train_users: np.ndarray,
                 train_items: np.ndarray, dim: int = 64, n_layers: int = 3,
                 reg_weight: float = 1e-4, temp_value: float = 1.0, impl: str = "reference",
                 init: str = "normal"):
        super().__init__(n_users, n_items, dim, reg_weight, temp_value, impl, init)
        self.n_users, self.n_layers = n_users, n_layers
        self.graph = NormalizedGraph(n_users, n_items, train_users, train_items)

    def tables(self):
        ego = torch.cat([self.user_emb, self.item_emb], dim=0)
        out = self.graph.propagate_mean(ego, self.n_layers)
        return out[:self.n_users], out[self.n_users:]
