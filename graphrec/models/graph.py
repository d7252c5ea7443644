"""The normalised training graph D^-1/2 A D^-1/2, for every model that propagates over it
(LightGCN, CLCRec with ``graph_layers``), with torch sparse ops.

The graph is kept as CSR: on CPU ``torch.sparse.mm`` with a CSR matrix is ~10x faster than with
a COO one (ml-100k, 64 wide: 1.3 vs 14 ms a product). D^-1/2 A D^-1/2 is symmetric, so the
backward of a propagation is the same product on the gradient (:class:`_SymmetricSpMM`)
instead of autograd's transposed, re-coalesced copy of the matrix at every step."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn


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


def csr(adj: torch.Tensor) -> torch.Tensor:
    """``adj`` (sparse COO) as sparse CSR, without torch's "beta" warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return adj.to_sparse_csr()


class _SymmetricSpMM(torch.autograd.Function):
    """``adj @ x`` for a symmetric sparse ``adj``: the gradient to ``x`` is ``adj @ grad``."""

    @staticmethod
    def forward(ctx, adj, x):
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad):
        return None, torch.sparse.mm(ctx.adj, grad)


def propagate_mean(adj: torch.Tensor, ego: torch.Tensor, n_layers: int) -> torch.Tensor:
    """Mean of ``ego`` and its ``n_layers`` propagations over the symmetric sparse ``adj``
    (LightGCN's layer combination; its backward reuses ``adj``). In fp32 under autocast too:
    autocast would run the sparse product in bf16, whose backward then fails outside the
    autocast region on CPU."""
    acc = e = ego
    with torch.autocast(ego.device.type, enabled=False):
        for _ in range(n_layers):
            e = _SymmetricSpMM.apply(adj, e.float())
            acc = acc + e
    return acc / (n_layers + 1)


class NormalizedGraph(nn.Module):
    """D^-1/2 A D^-1/2 of the training graph as CSR, for every model that propagates over it
    (LightGCN, CLCRec with ``graph_layers``). Its three arrays are plain buffers: they follow
    ``.to(device)``, and a CSR tensor itself cannot be deep-copied; the CSR view is rebuilt
    per step, for free."""

    def __init__(self, n_users: int, n_items: int, users: np.ndarray, items: np.ndarray):
        super().__init__()
        adj = csr(normalized_adjacency(n_users, n_items, users, items))
        self.register_buffer("crow", adj.crow_indices(), persistent=False)
        self.register_buffer("col", adj.col_indices(), persistent=False)
        self.register_buffer("val", adj.values(), persistent=False)

    def adjacency(self) -> torch.Tensor:
        n = len(self.crow) - 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self.crow, self.col, self.val, (n, n),
                                           check_invariants=False)

    def propagate_mean(self, ego: torch.Tensor, n_layers: int) -> torch.Tensor:
        return propagate_mean(self.adjacency(), ego, n_layers)
