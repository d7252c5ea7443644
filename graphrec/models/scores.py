"""``gather_scores``: ``<query[b], table[cols[b, j]]>`` as ``[B, M]``, exactly, without
gathering ``[B, M, d]`` rows when the table is small.

Score-then-gather computes one ``[B, n]`` product and gathers the sampled columns. Done in one
piece on CPU, that product and its dense gradient (45 MB in fp32 at batch 1024 and n = 11k)
stream through memory several times; done in blocks of rows, each block stays in cache, which
halves the cost. Its backward can also weight each slot's gradient to the table, which CLCRec
needs (see :mod:`.clcrec`).
"""
from __future__ import annotations

from typing import Optional

import torch

_BLOCK_ELEMS = 2**19  # per block of rows: [rows, n] scores, ~1-2 MB, fits L2


class _BlockScores(torch.autograd.Function):
    @staticmethod
    def forward(ctx, query, table, cols, table_weight, block):
        ctx.save_for_backward(query, table, cols, table_weight)
        ctx.block, ctx.dtypes = block, (query.dtype, table.dtype)
        out = query.new_empty(cols.shape)
        for s in range(0, len(query), block):
            torch.gather(query[s:s + block] @ table.T, 1, cols[s:s + block], out=out[s:s + block])
        return out

    @staticmethod
    def backward(ctx, grad):
        # In fp32 whatever the forward ran in: bf16 scatter_add and accumulation round-trip
        # through fp32 copies on CPU, and accumulating blocks needs fp32 anyway.
        query, table, cols, weight = ctx.saved_tensors
        query, table = query.float(), table.float()
        grad = grad.float()
        grad_q = torch.empty_like(query)
        grad_t = torch.zeros_like(table)
        for s in range(0, len(query), ctx.block):
            g, c = grad[s:s + ctx.block], cols[s:s + ctx.block]
            dense = torch.zeros(len(c), len(table), device=table.device)
            torch.mm(dense.scatter_add_(1, c, g), table, out=grad_q[s:s + ctx.block])
            if weight is not None:
                dense.zero_().scatter_add_(1, c, g * weight[s:s + ctx.block])
            grad_t.addmm_(dense.T, query[s:s + ctx.block])
        return grad_q.to(ctx.dtypes[0]), grad_t.to(ctx.dtypes[1]), None, None, None


def gather_scores(query: torch.Tensor, table: torch.Tensor, cols: torch.Tensor,
                  table_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``[B, M]`` scores of ``query [B, d]`` against ``table [n, d]`` rows ``cols [B, M]``.

    ``table_weight [B, M]`` (optional) scales each slot's gradient to the table, not the one
    to the query. Tables much larger than M are read by gathering rows instead."""
    device = query.device.type
    if torch.is_autocast_enabled(device):  # what autocast does to the product, done up front
        dtype = torch.get_autocast_dtype(device)
        query, table = query.to(dtype), table.to(dtype)
    if table_weight is None and table.shape[0] > 16 * cols.shape[1]:
        return torch.bmm(table[cols], query.unsqueeze(2)).squeeze(2)
    block = max(1, _BLOCK_ELEMS // table.shape[0]) if device == "cpu" else len(query)
    return _BlockScores.apply(query, table, cols, table_weight, block)
