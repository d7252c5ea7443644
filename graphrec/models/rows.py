"""Row gradients: gathers whose backward is a sparse ``[n, d]`` tensor of the gathered rows,
not a dense table of zeros with a few rows added in.

A dense gradient of an embedding table costs a fresh ``[n, d]`` buffer (allocated, zeroed,
summed over every use, then read by the optimizer) however few rows a step touches: at
MovieLens-25M size (162k users) that is most of MF's shared step. A sparse one holds only
the touched rows, as ``nn.Embedding(sparse=True)`` gives; ``optimizer=lazy_adam``
(:mod:`graphrec.training.lazy_adam`) updates just those rows. A model gathers through
:func:`gather_rows` with ``sparse`` set from its ``row_grads`` flag; nothing changes while
it is off.
"""
from __future__ import annotations

import torch


def row_grad(idx: torch.Tensor, values: torch.Tensor, shape, dtype) -> torch.Tensor:
    """The sparse gradient of a table of ``shape``: ``values[j]`` added to row ``idx[j]``
    (repeats summed when the optimizer coalesces)."""
    return torch.sparse_coo_tensor(idx.reshape(1, -1), values.to(dtype), shape,
                                   check_invariants=False)


class _SparseRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, table, idx):
        ctx.save_for_backward(idx)
        ctx.shape, ctx.dtype = table.shape, table.dtype
        return table.index_select(0, idx)

    @staticmethod
    def backward(ctx, grad):
        (idx,) = ctx.saved_tensors
        return row_grad(idx, grad.contiguous(), ctx.shape, ctx.dtype), None


def gather_rows(table: torch.Tensor, idx: torch.Tensor, sparse: bool = False) -> torch.Tensor:
    """``table.index_select(0, idx)`` (``idx`` 1-D); with ``sparse`` its gradient to
    ``table`` is a sparse tensor of the ``len(idx)`` rows."""
    if not sparse:
        return table.index_select(0, idx)
    return _SparseRows.apply(table, idx)
