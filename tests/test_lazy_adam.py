"""``optimizer=lazy_adam`` and row gradients: the lean step's sparse gradients are its dense
ones, lazy Adam is Adam on the rows it touches (and Adam itself when every row is touched),
untouched rows and their moments stay put, and the options it cannot serve fail up front."""
from __future__ import annotations

import copy

import pytest
import torch

from graphrec.config import ConfigError, validate
from graphrec.models import negatives
from graphrec.sampling import build_sampler
from graphrec.training import train
from graphrec.training.lazy_adam import LazyAdam
from conftest import make_cfg
from test_lean import loss_and_grads, pair
from test_lean_shared import a_batch, data_of, shared_cfg

TOL = dict(rtol=1e-5, atol=1e-6)


def _sparse(idx, values, shape):
    return torch.sparse_coo_tensor(torch.as_tensor(idx).reshape(1, -1), values, shape,
                                   check_invariants=True)


@pytest.mark.parametrize("fused", [None, True])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_every_row_touched_is_adam(fused, wd):
    """A sparse gradient naming every row (in any order, some twice) each step: Adam's path."""
    torch.manual_seed(0)
    start = torch.randn(6, 3)
    lazy_p, adam_p = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    lazy = LazyAdam([lazy_p], lr=0.05, weight_decay=wd, fused=fused)
    adam = torch.optim.Adam([adam_p], lr=0.05, weight_decay=wd, fused=fused)
    for _ in range(5):
        idx = torch.cat([torch.randperm(6), torch.tensor([2, 4])])
        vals = torch.randn(len(idx), 3)
        lazy_p.grad = _sparse(idx, vals, (6, 3))
        adam_p.grad = torch.zeros(6, 3).index_add_(0, idx, vals)
        lazy.step()
        adam.step()
    torch.testing.assert_close(lazy_p.data, adam_p.data, **TOL)
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(lazy.state[lazy_p][key], adam.state[adam_p][key], **TOL)
    assert float(lazy.state[lazy_p]["step"]) == 5


def test_untouched_rows_and_their_moments_stay_put():
    """Rows 0-2 touched every step move as Adam moves a 3-row table; rows 3-5, never touched,
    keep their values and zero moments; a row touched once then left keeps its moments."""
    torch.manual_seed(1)
    start = torch.randn(6, 4)
    lazy_p = torch.nn.Parameter(start.clone())
    sub = torch.nn.Parameter(start[:3].clone())
    lazy, adam = LazyAdam([lazy_p], lr=0.1), torch.optim.Adam([sub], lr=0.1)
    for step in range(4):
        g = torch.randn(3, 4)
        idx = [0, 1, 2] if step else [0, 1, 2, 5]  # row 5 only in the first step
        vals = torch.cat([g, torch.ones(1, 4)]) if not step else g
        lazy_p.grad = _sparse(idx, vals, (6, 4))
        sub.grad = g
        lazy.step()
        adam.step()
        if step == 0:
            row5 = lazy_p.data[5].clone(), lazy.state[lazy_p]["exp_avg"][5].clone()
    torch.testing.assert_close(lazy_p.data[:3], sub.data, **TOL)
    assert torch.equal(lazy_p.data[3:5], start[3:5])
    assert not lazy.state[lazy_p]["exp_avg"][3:5].any()
    assert torch.equal(lazy_p.data[5], row5[0]) and not torch.equal(row5[0], start[5])
    assert torch.equal(lazy.state[lazy_p]["exp_avg"][5], row5[1]) and row5[1].any()


def test_dense_parameters_get_torchs_own_adam():
    torch.manual_seed(2)
    w = torch.randn(5, 2)
    a, b = torch.nn.Parameter(w.clone()), torch.nn.Parameter(w.clone())
    table = torch.nn.Parameter(torch.zeros(4, 2))
    lazy = LazyAdam([a, table], lr=0.1, fused=True)
    adam = torch.optim.Adam([b], lr=0.1, fused=True)
    for _ in range(3):
        g = torch.randn(5, 2)
        a.grad, b.grad = g.clone(), g.clone()
        table.grad = _sparse([1], torch.ones(1, 2), (4, 2))
        lazy.step()
        adam.step()
        assert table.grad.is_sparse  # handed back after the step
    assert torch.equal(a.data, b.data)
    assert table.data[1].ne(0).all() and not table.data[[0, 2, 3]].any()


def test_state_dict_round_trip_resumes_the_same():
    torch.manual_seed(3)
    p, q = torch.nn.Parameter(torch.randn(5, 2)), torch.nn.Parameter(torch.zeros(1))
    opt = LazyAdam([p, q], lr=0.1)
    grads = [(_sparse([0, 3], torch.randn(2, 2), (5, 2)), torch.randn(1)) for _ in range(4)]
    for gp, gq in grads[:2]:
        p.grad, q.grad = gp, gq
        opt.step()
    p2, q2 = torch.nn.Parameter(p.data.clone()), torch.nn.Parameter(q.data.clone())
    opt2 = LazyAdam([p2, q2], lr=0.1)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # as from a file: no shared tensors
    for gp, gq in grads[2:]:
        p.grad, q.grad, p2.grad, q2.grad = gp, gq, gp, gq
        opt.step()
        opt2.step()
    assert torch.equal(p.data, p2.data) and torch.equal(q.data, q2.data)


def _row_pair(cfg, data):
    _, dense = pair(cfg, data)
    dense.impl = "lean"
    rows = copy.deepcopy(dense)
    rows.row_grads = True
    return dense, rows


TABLES = {"mf": {"user_emb", "item_emb"}, "clcrec": {"id_embedding"}}


def _check_rows(model, dense, rows, users, batch):
    """The same loss; the tables' gradients sparse and equal to the dense ones, every other
    parameter's (CLCRec's encoder) dense and equal."""
    for seed in (0, 1) if model == "clcrec" else (0,):  # CLCRec's hybrid rows
        loss_d, grads_d = loss_and_grads(dense, users, batch, seed)
        loss_r, grads_r = loss_and_grads(rows, users, batch, seed)
        torch.testing.assert_close(loss_r, loss_d, **TOL)
        assert {n for n, g in grads_r.items() if g.is_sparse} == TABLES[model]
        for name, g in grads_r.items():
            torch.testing.assert_close(g.to_dense(), grads_d[name], **TOL, msg=name)


@pytest.mark.parametrize("model,strategy", [("mf", "shared"), ("mf", "mixed"), ("mf", "bpr"),
                                            ("clcrec", "shared"), ("clcrec", "in_batch")])
def test_row_gradients_are_the_dense_gradients_shared(model, strategy):
    cfg = shared_cfg(model, strategy)
    data = data_of(cfg)
    dense, rows = _row_pair(cfg, data)
    users, batch = a_batch(cfg, data)
    assert isinstance(batch, negatives.SharedNegatives)
    _check_rows(model, dense, rows, users, batch)


@pytest.mark.parametrize("model,extra", [("mf", []), ("mf", ["sampling.num_neg=1"]),
                                         ("mf", ["model.reg_weight=0"]), ("clcrec", [])])
def test_row_gradients_are_the_dense_gradients_per_sample(model, extra):
    cfg = make_cfg([f"model={model}", "loader=fast"] + extra)
    data = data_of(cfg)
    dense, rows = _row_pair(cfg, data)
    users, items = next(iter(build_sampler(data, cfg, torch.device("cpu")).epoch(0)))
    _check_rows(model, dense, rows, users, items)


def test_mf_row_gradients_under_bf16_autocast_stay_close():
    cfg = shared_cfg("mf", "shared")
    data = data_of(cfg)
    dense, rows = _row_pair(cfg, data)
    users, batch = a_batch(cfg, data)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss_d, grads_d = loss_and_grads(dense, users, batch)
        loss_r, grads_r = loss_and_grads(rows, users, batch)
    torch.testing.assert_close(loss_r, loss_d, rtol=1e-2, atol=1e-3)
    for name, g in grads_r.items():
        torch.testing.assert_close(g.to_dense(), grads_d[name], rtol=1e-2, atol=1e-3)


def test_lazy_adam_under_ddp_fails_before_training(tmp_path):
    from graphrec.training import distributed
    from graphrec.training.loop import Run

    cfg = make_cfg(["model=mf", "loader=fast", "optimizer=lazy_adam"])
    data = data_of(cfg)
    with pytest.raises(ConfigError, match="more than one process"):
        Run(cfg, tmp_path, data, torch.device("cpu"), world=distributed.World(rank=0, size=2))


@pytest.mark.parametrize("over,key", [
    (["model=lightgcn"], "model=lightgcn"),
    (["model=mmgcn"], "model=mmgcn"),
    (["model=clcrec", "model.graph_layers=2"], "graph_layers"),
    (["model=mf", "loader=baseline"], "reference step"),
    (["model=mf", "model.impl=reference"], "reference step"),
])
def test_what_lazy_adam_cannot_serve_fails_up_front(over, key):
    with pytest.raises(ConfigError, match=key):
        validate(make_cfg(["optimizer=lazy_adam"] + over))


def test_trains_mf_shared_and_records_it(tmp_path):
    """A user's run: trains, evaluates and records the optimizer."""
    out = train(make_cfg(["model=mf", "loader=fast", "optimizer=lazy_adam",
                          "sampling.strategy=shared", "trainer.epochs=2"]),
                out_dir=str(tmp_path / "run"))
    assert out["run"]["optimizer"] == "lazy_adam"
    assert out["val"]["recall@20"] > 0 and out["status"] == "completed"
