"""model.impl=lean is the reference maths: the same loss and the same gradient for every
parameter, on the same batch, within 1e-5 in fp32, for every model."""
from __future__ import annotations

import copy

import pytest
import torch

from graphrec.data import load_data
from graphrec.models import build_model
from graphrec.sampling import build_sampler
from conftest import make_cfg

TOL = dict(rtol=1e-5, atol=1e-5)


def loss_and_grads(model, users, items, seed=0):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)  # CLCRec's hybrid rows come from torch's global RNG
    loss, _ = model.loss(users, items)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def pair(cfg, data):
    torch.manual_seed(0)
    ref = build_model(cfg.model, data, "reference")
    lean = copy.deepcopy(ref)
    lean.impl = "lean"
    return ref, lean


def a_batch(cfg, data):
    users, items = next(iter(build_sampler(data, cfg, torch.device("cpu")).epoch(0)))
    return users, items


@pytest.mark.parametrize("model,extra", [
    ("clcrec", []),
    ("clcrec", ["sampling.candidates=all"]),  # cold items in the batch: every row encoded
    # catalogue >> the batch's columns: only the drawn items are encoded (issue 15)
    ("clcrec", ["batch.size=4", "sampling.num_neg=8"]),
    ("clcrec", ["batch.size=4", "sampling.num_neg=8", "sampling.candidates=all"]),
    ("mf", []),
    ("mf", ["sampling.num_neg=1"]),  # BPR (TINY sets num_neg: sampling=neg1 would lose)
    ("lightgcn", []),
    ("clcrec", ["model.graph_layers=2"]),  # CLCRec over a LightGCN-propagated id table
    ("clcrec", ["model.graph_layers=2", "sampling.candidates=all"]),
    ("mmgcn", []),
    ("mmgcn", ["sampling.num_neg=1", "model.concat=true"]),  # BPR, the concat combination
    ("vbpr", []),
    ("vbpr", ["sampling.candidates=all"]),  # cold items in the batch: feature part only
    # BPR; lean projects the catalogue only when it is no larger than the batch's slots
    ("vbpr", ["sampling.num_neg=1", "batch.size=128", "model.item_bias=false"]),
    ("dropoutnet", []),  # the preference dropout is drawn the same in both impls
    ("dropoutnet", ["sampling.candidates=all"]),  # cold items: zero preference input
    ("dropoutnet", ["sampling.num_neg=1", "batch.size=128"]),  # BPR
])
def test_lean_equals_reference(model, extra):
    cfg = make_cfg([f"model={model}", "loader=fast"] + extra)
    data = load_data(cfg.data)
    ref, lean = pair(cfg, data)
    users, items = a_batch(cfg, data)
    for seed in (0, 1):
        loss_r, grads_r = loss_and_grads(ref, users, items, seed)
        loss_l, grads_l = loss_and_grads(lean, users, items, seed)
        torch.testing.assert_close(loss_l, loss_r, **TOL)
        assert grads_l.keys() == grads_r.keys()
        for name in grads_r:
            torch.testing.assert_close(grads_l[name], grads_r[name], **TOL, msg=name)


def test_lean_clcrec_under_bf16_autocast_stays_close():
    """amp runs the lean step's products in bf16; the loss moves only by bf16 rounding."""
    cfg = make_cfg(["model=clcrec", "loader=fast"])
    data = load_data(cfg.data)
    ref, lean = pair(cfg, data)
    users, items = a_batch(cfg, data)
    loss_r, _ = loss_and_grads(ref, users, items)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss_l, grads = loss_and_grads(lean, users, items)
    torch.testing.assert_close(loss_l.float(), loss_r, rtol=2e-2, atol=2e-2)
    assert all(torch.isfinite(g).all() for g in grads.values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
@pytest.mark.parametrize("over", [["trainer.compile=true"],
                                  ["trainer.compile=true", "trainer.cuda_graphs=true"],
                                  ["trainer.cuda_graphs=true"]])
def test_compile_and_cuda_graphs_are_refused_on_cpu(over):
    from graphrec.config import ConfigError, validate
    from graphrec.training import accel

    cfg = make_cfg(over + ["trainer.device=cpu"])
    with pytest.raises(ConfigError, match="CUDA"):
        validate(cfg)
    if cfg.trainer.compile:  # the trainer's own guard says the same
        with pytest.raises(ConfigError, match="trainer.compile=true is invalid on CPU"):
            accel.prepare(torch.nn.Linear(2, 2), cfg, torch.device("cpu"))


def test_block_scores_equal_plain_autograd(monkeypatch):
    """Blocked score-then-gather (forward and backward, with a table-side gradient weight)
    is the plain gather of the full product."""
    from graphrec.models import scores

    monkeypatch.setattr(scores, "_BLOCK_ELEMS", 3 * 50)  # 3 rows per block: 7 blocks
    torch.manual_seed(0)
    q, t = torch.randn(20, 8, requires_grad=True), torch.randn(50, 8, requires_grad=True)
    cols, w = torch.randint(0, 50, (20, 9)), torch.randint(1, 4, (20, 9)).float()
    g = torch.randn(20, 9)
    s = scores.gather_scores(q, t, cols, table_weight=w)
    gq, gt = torch.autograd.grad(s, (q, t), g)
    full = q @ t.T
    ref = full.gather(1, cols)
    gq_ref = torch.autograd.grad(ref, q, g)[0]
    gt_ref = torch.autograd.grad((q.detach() @ t.T).gather(1, cols), t, g * w)[0]
    torch.testing.assert_close(s, ref, **TOL)
    torch.testing.assert_close(gq, gq_ref, **TOL)
    torch.testing.assert_close(gt, gt_ref, **TOL)


def test_lean_clcrec_encodes_only_the_drawn_items_of_a_large_catalogue():
    """Issue 15.3: with few columns per batch, the encoder sees only the items drawn."""
    cfg = make_cfg(["model=clcrec", "loader=fast", "batch.size=4", "sampling.num_neg=8"])
    data = load_data(cfg.data)
    _, lean = pair(cfg, data)
    users, items = a_batch(cfg, data)
    seen = []
    encoder = lean.encoder
    lean.encoder = lambda n_rows=None, rows=None: seen.append(rows) or encoder(n_rows, rows)
    lean.loss(users, items)
    assert seen and seen[0] is not None
    assert len(seen[0]) == len(torch.unique(items)) < data.n_warm
