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

from .rows import gather_rows, index_add, row_grad

_BLOCK_ELEMS = 2**19  # per block of rows: [rows, n] scores, ~1-2 MB, fits L2
# Gather rows only for tables more than this many times the columns: below it, the blocked
# product is faster on CPU (B 2048, d 64: n 1682 and M 65, 41 vs 105-136 ms forward and
# backward; n 6000 and M 257 at B 1024, 38 vs 122 ms; about even near n = 80 M). Other
# devices keep 16 (not measured there).
_GATHER_RATIO = {"cpu": 64}


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
                  table_weight: Optional[torch.Tensor] = None,
                  sparse: bool = False) -> torch.Tensor:
    """``[B, M]`` scores of ``query [B, d]`` against ``table [n, d]`` rows ``cols [B, M]``.

    ``table_weight [B, M]`` (optional) scales each slot's gradient to the table, not the one
    to the query. Tables of more than ``64 * M`` rows (CPU; ``16 * M`` elsewhere) are read
    by gathering rows instead, as they are whatever the size with ``sparse`` (the table's
    gradient is then a sparse tensor of the gathered rows: :mod:`.rows`)."""
    device = query.device.type
    if sparse and table_weight is not None:
        raise ValueError("gather_scores: table_weight has no sparse form")
    if torch.is_autocast_enabled(device):  # what autocast does to the product, done up front
        dtype = torch.get_autocast_dtype(device)
        # (the gathered rows only, for sparse: a cast of the whole table is a dense pass)
        query, table = query.to(dtype), table if sparse else table.to(dtype)
    if sparse or table_weight is None and \
            table.shape[0] > _GATHER_RATIO.get(device, 16) * cols.shape[1]:
        # index_select: its backward is an index_add, far cheaper on CPU than the
        # index_put that advanced indexing's backward is. Few columns: a product and a sum
        # (torch.bmm of 2048 [M, d] x [d, 1] products takes 5x longer at M = 2).
        rows = gather_rows(table, cols.reshape(-1), sparse).to(query.dtype)
        rows = rows.view(*cols.shape, table.shape[1])
        if cols.shape[1] <= 32:
            return (rows * query.unsqueeze(1)).sum(-1)
        return torch.bmm(rows, query.unsqueeze(2)).squeeze(2)
    block = max(1, _BLOCK_ELEMS // table.shape[0]) if device == "cpu" else len(query)
    return _BlockScores.apply(query, table, cols, table_weight, block)


class _GatheredBPR(torch.autograd.Function):
    """BPR's mean ``-log sigmoid(<u, p> - <u, n>)`` and its gradients in one node: the rows
    are gathered once, ``<u, p - n>`` is one product, and the backward is three
    ``index_add_`` into the tables, instead of autograd's ~25 small ops per step (each a
    parallel region on CPU, whose thread wake-ups dominate at 1 negative)."""

    @staticmethod
    def forward(ctx, user_t, item_t, users, items, sparse):
        u = user_t.index_select(0, users)
        rows = item_t.index_select(0, items.reshape(-1)).view(len(users), 2, -1)
        diff = rows[:, 0] - rows[:, 1]
        x = (u * diff).sum(1)
        ctx.save_for_backward(u, diff, x, users, items)
        ctx.tables = (user_t.shape, user_t.dtype, item_t.shape, item_t.dtype)
        ctx.sparse = sparse
        return -torch.nn.functional.logsigmoid(x).mean()

    @staticmethod
    def backward(ctx, grad):
        u, diff, x, users, items = ctx.saved_tensors
        u_shape, u_dtype, i_shape, i_dtype = ctx.tables
        # d/dx -log sigmoid(x) = sigmoid(x) - 1, averaged over the batch
        w = torch.sigmoid(x).sub_(1).mul_(grad / len(x)).unsqueeze(1)
        grad_u = grad_i = None
        if ctx.sparse:  # the touched rows only (:mod:`.rows`)
            if ctx.needs_input_grad[0]:
                grad_u = row_grad(users, diff * w, u_shape, u_dtype)
            if ctx.needs_input_grad[1]:
                g = u * w
                grad_i = row_grad(items.T.reshape(-1), torch.cat([g, -g]), i_shape, i_dtype)
            return grad_u, grad_i, None, None, None
        if ctx.needs_input_grad[0]:
            grad_u = index_add(u.new_zeros(u_shape, dtype=u_dtype), users, diff * w)
        if ctx.needs_input_grad[1]:
            g = u * w
            grad_i = index_add(u.new_zeros(i_shape, dtype=i_dtype), items[:, 0], g)
            index_add(grad_i, items[:, 1], g, alpha=-1)
        return grad_u, grad_i, None, None, None


def gathered_bpr(user_t: torch.Tensor, item_t: torch.Tensor, users: torch.Tensor,
                 items: torch.Tensor, sparse: bool = False) -> torch.Tensor:
    """``bpr(gather_scores(user_t[users], item_t, items))`` for ``items [B, 2]`` (positive,
    negative) in one autograd node (:class:`_GatheredBPR`): the same loss and gradients, in
    fp32 whatever autocast says (BPR's products are ``[B, d]``: nothing to gain in bf16);
    with ``sparse``, the tables' gradients hold only the touched rows."""
    return _GatheredBPR.apply(user_t.float(), item_t.float(), users, items, sparse)


class _SharedScores(torch.autograd.Function):
    """Scores against negatives shared by the batch: the positives' ``<q_b, r_pos[b]>`` as a
    row-wise product and every column as one ``[B, d] x [d, K]`` product. Backward: two
    products and an ``index_add_`` of each side into the ``[U, d]`` rows (a row that is both
    a positive and a column gets both), the table side weighted when asked."""

    @staticmethod
    def forward(ctx, query, rows, pos, neg, w_pos, w_neg):
        r_pos, r_neg = rows.index_select(0, pos), rows.index_select(0, neg)
        ctx.save_for_backward(query, r_pos, r_neg, pos, neg, w_pos, w_neg)
        ctx.shape, ctx.dtypes = rows.shape, (query.dtype, rows.dtype)
        return (query * r_pos).sum(1), query @ r_neg.T

    @staticmethod
    def backward(ctx, g_pos, g_neg):
        # fp32 whatever the forward ran in, as _BlockScores (index_add_ accumulates), also
        # when backward is called inside an autocast region
        with torch.autocast(g_neg.device.type, enabled=False):
            return _SharedScores._backward(ctx, g_pos, g_neg)

    @staticmethod
    def _backward(ctx, g_pos, g_neg):
        query, r_pos, r_neg, pos, neg, w_pos, w_neg = ctx.saved_tensors
        query, r_pos, r_neg = query.float(), r_pos.float(), r_neg.float()
        g_pos, g_neg = g_pos.float(), g_neg.float()
        grad_q = grad_r = None
        if ctx.needs_input_grad[0]:
            grad_q = torch.addmm(g_pos.unsqueeze(1) * r_pos, g_neg, r_neg).to(ctx.dtypes[0])
        if ctx.needs_input_grad[1]:
            if w_pos is not None:
                g_pos, g_neg = g_pos * w_pos, g_neg * w_neg
            grad_r = query.new_zeros(ctx.shape)
            index_add(grad_r, pos, g_pos.unsqueeze(1) * query)
            index_add(grad_r, neg, g_neg.T @ query)
            grad_r = grad_r.to(ctx.dtypes[1])
        return grad_q, grad_r, None, None, None, None


def shared_scores(query: torch.Tensor, rows: torch.Tensor, pos: torch.Tensor,
                  neg: torch.Tensor, weight: Optional[tuple] = None):
    """``(pos_scores [B], neg_scores [B, K])`` of ``query [B, d]`` against ``rows [U, d]``:
    row ``pos[b]`` for sample ``b``, rows ``neg [K]`` for every sample (no ``[B, K, d]``
    gather). ``weight = (w_pos [B], w_neg [B, K])`` scales each slot's gradient to ``rows``
    only, as :func:`gather_scores`' ``table_weight`` does."""
    device = query.device.type
    if torch.is_autocast_enabled(device):  # what autocast does to the product, done up front
        dtype = torch.get_autocast_dtype(device)
        query, rows = query.to(dtype), rows.to(dtype)
    w_pos, w_neg = weight if weight is not None else (None, None)
    return _SharedScores.apply(query, rows, pos, neg, w_pos, w_neg)
