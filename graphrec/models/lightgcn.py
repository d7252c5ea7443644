"""LightGCN (He et al., 2020): mean of K propagations over the normalised bipartite graph,
with torch sparse ops; the loss and both impls come from :class:`MF`."""
from __future__ import annotations

import numpy as np
import torch

from .mf import MF


def normalized_adjacency(n_users: int, n_items: int, users: np.ndarray, items: np.ndarray):
    """D^-1/2 A D^-1/2 of the user-item graph, users first, as a coalesced COO tensor."""
    n = n_users + n_items
    rows = np.concatenate([users, items + n_users])
    cols = np.concatenate([items + n_users, users])
    deg = np.bincount(rows, minlength=n).astype(np.float64)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1)), 0.0)
    vals = (inv[rows] * inv[cols]).astype(np.float32)
    idx = torch.from_numpy(np.stack([rows, cols]))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(vals), (n, n),
                                   check_invariants=False).coalesce()


class LightGCN(MF):
    def __init__(self, n_users: int, n_items: int, train_users: np.ndarray,
                 train_items: np.ndarray, dim: int = 64, n_layers: int = 3,
                 reg_weight: float = 1e-4, temp_value: float = 1.0, impl: str = "reference",
                 init: str = "normal"):
        super().__init__(n_users, n_items, dim, reg_weight, temp_value, impl, init)
        self.n_users, self.n_layers = n_users, n_layers
        self.register_buffer("adj", normalized_adjacency(n_users, n_items, train_users,
                                                         train_items), persistent=False)

    def tables(self):
        ego = torch.cat([self.user_emb, self.item_emb], dim=0)
        acc, e = ego, ego
        for _ in range(self.n_layers):
            e = torch.sparse.mm(self.adj, e)
            acc = acc + e
        out = acc / (self.n_layers + 1)
        return out[:self.n_users], out[self.n_users:]
