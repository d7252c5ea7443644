"""The fast paths of the lean step at 1 negative (issue 12.5): LightGCN's CSR propagation with
its symmetric backward, the one-node BPR, the L2 term without a scatter, and each branch of
gather_scores: the same numbers and gradients as the plain formulas."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from graphrec.data import load_data
from graphrec.models import build_model
from graphrec.models.lightgcn import LightGCN, normalized_adjacency
from graphrec.models.losses import bpr, mean_sq_rows
from graphrec.models.scores import gather_scores, gathered_bpr
from graphrec.sampling import build_sampler

from conftest import make_cfg

TOL = dict(rtol=1e-5, atol=1e-6)


def _graph(n_users=30, n_items=40, n_edges=200, seed=0):
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, n_users * n_items, n_edges))
    return n_users, n_items, keys // n_items, keys % n_items


def test_lightgcn_csr_propagation_and_gradient_match_dense():
    n_users, n_items, users, items = _graph()
    model = LightGCN(n_users, n_items, users, items, dim=8, n_layers=3)
    adj = normalized_adjacency(n_users, n_items, users, items).to_dense().double()
    assert model.graph.adjacency().layout == torch.sparse_csr
    torch.testing.assert_close(model.graph.adjacency().to_dense().double(), adj)
    ego = torch.cat([model.user_emb, model.item_emb]).detach().double()
    want = (ego + adj @ ego + adj @ adj @ ego + adj @ adj @ adj @ ego) / 4
    user_t, item_t = model.tables()
    torch.testing.assert_close(torch.cat([user_t, item_t]).double(), want, **TOL)
    # the backward reuses the matrix (it is symmetric): d sum(w * out) / d ego = mean of A^l w
    w = torch.randn(len(ego), 8, dtype=torch.float64)
    (torch.cat([user_t, item_t]).double() * w).sum().backward()
    grad = (w + adj @ w + adj @ adj @ w + adj @ adj @ adj @ w) / 4
    torch.testing.assert_close(model.user_emb.grad.double(), grad[:n_users], **TOL)
    torch.testing.assert_close(model.item_emb.grad.double(), grad[n_users:], **TOL)


def test_lightgcn_survives_deepcopy():
    n_users, n_items, users, items = _graph()
    model = LightGCN(n_users, n_items, users, items, dim=4, n_layers=2)
    twin = copy.deepcopy(model)  # a CSR tensor itself cannot be deep-copied
    torch.testing.assert_close(twin.tables()[1], model.tables()[1])


@pytest.mark.parametrize("model,reg", [("mf", 0.0), ("mf", 1e-3), ("lightgcn", 0.0),
                                       ("lightgcn", 1e-3)])
def test_bpr_lean_step_equals_reference(model, reg):
    """At 1 negative the lean step is one autograd node (and skips a zero L2 term): the
    reference's loss and gradients all the same."""
    cfg = make_cfg([f"model={model}", "loader=fast", "sampling.num_neg=1",
                    f"model.reg_weight={reg}", "batch.size=128"])
    data = load_data(cfg.data)
    torch.manual_seed(0)
    ref = build_model(cfg.model, data, "reference")
    lean = copy.deepcopy(ref)
    lean.impl = "lean"
    users, items = next(iter(build_sampler(data, cfg, torch.device("cpu")).epoch(0)))
    assert items.shape[1] == 2
    out = {}
    for name, m in (("ref", ref), ("lean", lean)):
        loss, _ = m.loss(users, items)
        loss.backward()
        out[name] = (loss.detach(), {n: p.grad for n, p in m.named_parameters()})
    torch.testing.assert_close(out["lean"][0], out["ref"][0], rtol=1e-5, atol=1e-6)
    for n, g in out["ref"][1].items():
        torch.testing.assert_close(out["lean"][1][n], g, rtol=1e-5, atol=1e-6, msg=n)


def test_gathered_bpr_is_bpr_of_gathered_scores():
    torch.manual_seed(0)
    user_t = torch.randn(20, 6, requires_grad=True)
    item_t = torch.randn(30, 6, requires_grad=True)
    users = torch.randint(0, 20, (50,))
    items = torch.randint(0, 30, (50, 2))
    items[0] = torch.tensor([3, 3])  # the positive drawn again as the negative: no gradient
    got = gathered_bpr(user_t, item_t, users, items)
    g_user, g_item = torch.autograd.grad(got, (user_t, item_t))
    want = bpr((user_t[users].unsqueeze(1) * item_t[items]).sum(-1))
    w_user, w_item = torch.autograd.grad(want, (user_t, item_t))
    torch.testing.assert_close(got, want, **TOL)
    torch.testing.assert_close(g_user, w_user, **TOL)
    torch.testing.assert_close(g_item, w_item, **TOL)


@pytest.mark.parametrize("n_rows,n_idx", [(10, 40), (500, 40)])  # counted, gathered
def test_mean_sq_rows_both_ways(n_rows, n_idx):
    torch.manual_seed(0)
    table = torch.randn(n_rows, 5, requires_grad=True)
    idx = torch.randint(0, n_rows, (n_idx // 2, 2))
    got = mean_sq_rows(table, idx)
    (g,) = torch.autograd.grad(got, table)
    want = (table[idx] ** 2).sum(-1).mean()
    (w,) = torch.autograd.grad(want, table)
    torch.testing.assert_close(got, want, **TOL)
    torch.testing.assert_close(g, w, **TOL)


@pytest.mark.parametrize("n_rows,cols", [(3000, 2), (3000, 40), (200, 40)])
def test_gather_scores_each_branch(n_rows, cols):
    """Few columns of a large table: product and sum; more columns: bmm; a table under 64x
    the columns: the blocked product. All equal the plain gather."""
    torch.manual_seed(0)
    query = torch.randn(64, 8, requires_grad=True)
    table = torch.randn(n_rows, 8, requires_grad=True)
    idx = torch.randint(0, n_rows, (64, cols))
    got = gather_scores(query, table, idx)
    g = torch.autograd.grad(got.square().sum(), (query, table))
    want = (query.unsqueeze(1) * table[idx]).sum(-1)
    w = torch.autograd.grad(want.square().sum(), (query, table))
    torch.testing.assert_close(got, want, **TOL)
    for a, b in zip(g, w):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
