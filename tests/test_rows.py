"""rows.index_add and gather_rows' dense path: the same bits as torch's own, on any thread count."""
from __future__ import annotations

import pytest
import torch

from graphrec.models.rows import SERIAL_ADD, gather_rows, index_add


@pytest.mark.parametrize("rows, n", [(256, 768), (4096, 50), (SERIAL_ADD // 64 + 8, 3000)])
def test_index_add_is_torchs_index_add_bit_for_bit(rows, n):
    g = torch.Generator().manual_seed(rows)
    src = torch.randn(rows, 64, generator=g)
    idx = torch.randint(0, n, (rows,), generator=g)  # many repeats: summation order matters
    threads = torch.get_num_threads()
    ours = index_add(torch.zeros(n, 64), idx, src, alpha=-0.5)
    assert torch.get_num_threads() == threads  # restored
    assert torch.equal(ours, torch.zeros(n, 64).index_add_(0, idx, src, alpha=-0.5))


def test_dense_gather_backward_is_index_selects():
    g = torch.Generator().manual_seed(0)
    table = torch.randn(300, 16, generator=g, requires_grad=True)
    idx = torch.randint(0, 300, (2000,), generator=g)
    weight = torch.randn(2000, 16, generator=g)
    (gather_rows(table, idx) * weight).sum().backward()
    ours, table.grad = table.grad, None
    (table.index_select(0, idx) * weight).sum().backward()
    assert torch.equal(ours, table.grad)
    frozen = torch.randn(300, 16)  # no gradient wanted: a plain index_select
    assert gather_rows(frozen, idx).grad_fn is None
