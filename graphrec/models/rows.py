"""Row gradients: gathers whose backward is a sparse ``[n, d]`` tensor of the gathered rows,
not a dense table of zeros with a few rows added in.

A dense gradient of an embedding table costs a fresh ``[n, d]`` buffer (allocated, zeroed,
summed over every use, then read by the optimizer) however few rows a step touches: at
MovieLens-25M size (162k users) that is most of MF's shared step. A sparse one holds only
the touched rows, as ``nn.Embedding(sparse=True)`` gives; ``optimizer=lazy_adam``
(:mod:`graphrec.training.lazy_adam`) updates just those rows. A model gathers through
:func:`gather_rows` with ``sparse`` set from its ``row_grads`` flag; nothing changes while
it is off.

Dense row gradients go through :func:`index_add`: on CPU, torch's parallel ``index_add_``
(a radix sort, then a scatter) costs ~0.9 ms of thread wake-ups under
``OMP_WAIT_POLICY=PASSIVE`` whatever its size up to ~0.5M elements, where one thread takes
15-170 us with the same bits (``benchmarks/RESULTS.md``, "Small steps on one thread").
"""
from __future__ import annotations

import torch

# Elements of ``src`` below which one CPU thread adds rows faster than two under PASSIVE
# (measured: 768 x 64 15 vs 1,095 us; 8,192 x 64 174 vs 921 us; 131k x 64 12.8 vs 11.3 ms).
SERIAL_ADD = 1 << 22


def index_add(out: torch.Tensor, idx: torch.Tensor, src: torch.Tensor,
              alpha: float = 1) -> torch.Tensor:
    """``out.index_add_(0, idx, src, alpha=alpha)``, on one thread when that is faster (a
    small ``src`` on CPU). The kernel is the same either way, so are the bits."""
    threads = torch.get_num_threads()
    if out.device.type != "cpu" or threads == 1 or src.numel() >= SERIAL_ADD:
        return out.index_add_(0, idx, src, alpha=alpha)
    torch.set_num_threads(1)
    try:
        return out.index_add_(0, idx, src, alpha=alpha)
    finally:
        torch.set_num_threads(threads)


def row_grad(idx: torch.Tensor, values: torch.Tensor, shape, dtype) -> torch.Tensor:
    """The sparse gradient of a table of ``shape``: ``values[j]`` added to row ``idx[j]``
    (repeats summed when the optimizer coalesces)."""
    return torch.sparse_coo_tensor(idx.reshape(1, -1), values.to(dtype), shape,
                                   check_invariants=False)


class _DenseRows(torch.autograd.Function):
    """``table.index_select(0, idx)``; its backward is autograd's own (zeros, then the rows
    added in), through :func:`index_add`."""

    @staticmethod
    def forward(ctx, table, idx):
        ctx.save_for_backward(idx)
        ctx.shape = table.shape
        return table.index_select(0, idx)

    @staticmethod
    def backward(ctx, grad):
        (idx,) = ctx.saved_tensors
        return index_add(grad.new_zeros(ctx.shape), idx, grad), None


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
    ``table`` is a sparse tensor of the ``len(idx)`` rows, else a dense one."""
    if sparse:
        return _SparseRows.apply(table, idx)
    if not table.requires_grad:
        return table.index_select(0, idx)
    return _DenseRows.apply(table, idx)
