"""Negatives shared by the batch (sampling.strategy shared | in_batch | mixed): every model's
lean form is its reference form on the per-sample layout with the hits masked (the same loss
and the same gradient for every parameter, within 1e-5 in fp32), the masked losses are the
softmax over the columns left, and the shared-score kernel is plain autograd."""
from __future__ import annotations

import pytest
import torch

from graphrec.data import load_data
from graphrec.models import negatives, scores
from graphrec.sampling import build_sampler
from conftest import TINY, make_cfg
from test_lean import TOL, loss_and_grads, pair

BASE = [o for o in TINY if not o.startswith("sampling.")]  # in_batch has no num_neg
STRATEGIES = {
    "shared": ["sampling.strategy=shared", "sampling.num_neg=32"],
    "in_batch": ["sampling=in_batch", "batch.size=48"],
    "mixed": ["sampling=mixed", "sampling.num_neg=16"],
    "bpr": ["sampling.strategy=shared", "sampling.num_neg=1"],  # BPR keeps its meaning
}
MODELS = ["clcrec", "mf", "lightgcn", "mmgcn", "vbpr", "dropoutnet"]
EXTRA = [
    ("clcrec", "shared", ["model.graph_layers=2"]),  # CLCRec over a propagated id table
    ("clcrec", "in_batch", ["model.graph_layers=1", "sampling.logq=false"]),
    ("clcrec", "shared", ["sampling.candidates=all"]),  # cold items among the columns
    ("vbpr", "shared", ["sampling.candidates=all"]),
    ("dropoutnet", "mixed", ["sampling.candidates=all", "sampling.replacement=false"]),
    ("vbpr", "bpr", ["model.item_bias=false", "batch.size=128"]),
    ("mf", "mixed", ["sampling.exclude_train=false", "sampling.logq=false"]),
    ("mmgcn", "bpr", ["model.concat=true"]),
]


def shared_cfg(model, strategy, extra=()):
    return make_cfg(BASE + [f"model={model}", "loader=fast"] + STRATEGIES[strategy]
                    + list(extra), tiny=False)


_DATA = {}


def data_of(cfg):
    """Every case here reads the same tiny data: generated once."""
    key = str(cfg.data)
    if key not in _DATA:
        _DATA[key] = load_data(cfg.data)
    return _DATA[key]


def a_batch(cfg, data):
    return next(iter(build_sampler(data, cfg, torch.device("cpu")).epoch(0)))


@pytest.mark.parametrize("model,strategy,extra",
                         [(m, s, []) for m in MODELS for s in STRATEGIES] + EXTRA)
def test_lean_equals_reference_with_shared_negatives(model, strategy, extra):
    cfg = shared_cfg(model, strategy, extra)
    data = data_of(cfg)
    ref, lean = pair(cfg, data)
    users, batch = a_batch(cfg, data)
    assert isinstance(batch, negatives.SharedNegatives)
    # two seeds where the step draws from torch's RNG (CLCRec's hybrid rows, DropoutNet's mask)
    for seed in (0, 1) if model in ("clcrec", "dropoutnet") else (0,):
        loss_r, grads_r = loss_and_grads(ref, users, batch, seed)
        loss_l, grads_l = loss_and_grads(lean, users, batch, seed)
        torch.testing.assert_close(loss_l, loss_r, **TOL)
        assert grads_l.keys() == grads_r.keys()
        for name in grads_r:
            torch.testing.assert_close(grads_l[name], grads_r[name], **TOL, msg=name)


def test_lean_clcrec_encodes_only_the_batch_items():
    """CLCRec's lean step encodes the batch's positives and the shared columns, nothing else."""
    cfg = shared_cfg("clcrec", "shared", ["sampling.num_neg=8", "batch.size=8"])
    data = data_of(cfg)
    _, lean = pair(cfg, data)
    users, batch = a_batch(cfg, data)
    seen = []
    encoder = lean.encoder
    lean.encoder = lambda n_rows=None, rows=None: seen.append(rows) or encoder(n_rows, rows)
    lean.loss(users, batch)
    assert len(seen) == 1 and len(seen[0]) == len(batch.items) <= 8 + 8 < data.n_warm
    assert set(batch.items.tolist()) == set(batch.expand().reshape(-1).tolist())


def test_shared_clcrec_under_bf16_autocast_stays_close():
    cfg = shared_cfg("clcrec", "mixed")
    data = data_of(cfg)
    ref, lean = pair(cfg, data)
    users, batch = a_batch(cfg, data)
    loss_r, _ = loss_and_grads(ref, users, batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss_l, grads = loss_and_grads(lean, users, batch)
    torch.testing.assert_close(loss_l.float(), loss_r, rtol=2e-2, atol=2e-2)
    assert all(torch.isfinite(g).all() for g in grads.values())


def _batch(b=6, k=5, logq=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    hit = torch.rand(b, k, generator=g) < 0.3
    hit[0] = True  # a row whose every column is a hit: no negative left
    shift = (torch.randn(b, generator=g), torch.randn(k, generator=g)) if logq else (None, None)
    return negatives.SharedNegatives(torch.arange(b + k), torch.arange(b), b + torch.arange(k),
                                     hit, *shift)


@pytest.mark.parametrize("logq", [True, False])
@pytest.mark.parametrize("k", [5, 1])  # 1 column: BPR
def test_masked_losses_leave_the_hits_out(logq, k):
    """Both forms equal the loss over the columns that are not hits, computed row by row; a
    hit gets no gradient, a row with no column left adds 0 and stays finite."""
    batch = _batch(k=k, logq=logq)
    g = torch.Generator().manual_seed(1)
    pos = torch.randn(6, generator=g, requires_grad=True)
    neg = torch.randn(6, k, generator=g, requires_grad=True)
    temp = 0.5
    terms = []
    for b in range(6):
        keep = ~batch.hit[b]
        p, n = pos[b] / temp, neg[b][keep] / temp
        if k == 1:  # BPR: no temperature; the pair is left out when it is a hit
            p, n = pos[b], neg[b][keep]
        if logq:
            p, n = p - batch.pos_logq[b], n - batch.neg_logq[keep]
        if k == 1:
            terms.append(-torch.nn.functional.logsigmoid(p - n).sum())
        else:
            terms.append(torch.logsumexp(torch.cat([p.view(1), n]), 0) - p)
    want = torch.stack(terms).mean()
    full = torch.cat([pos.unsqueeze(1), neg], 1)
    for got in (batch.lean_loss(pos, neg, temp), batch.ranking_loss(full, temp)):
        torch.testing.assert_close(got, want)
        g_pos, g_neg = torch.autograd.grad(got, (pos, neg))
        assert torch.isfinite(g_pos).all() and torch.isfinite(g_neg).all()
        assert (g_neg[batch.hit] == 0).all()
    if k > 1:  # CLCRec's seed form, over the same columns
        seed = batch.seed_contrastive(full / temp)
        torch.testing.assert_close(seed, want)


def test_shared_scores_equal_plain_autograd():
    """One product against the shared rows (forward and backward, with a table-side gradient
    weight) is the gather of the per-sample layout."""
    torch.manual_seed(0)
    q, rows = torch.randn(7, 8, requires_grad=True), torch.randn(12, 8, requires_grad=True)
    pos, neg = torch.randint(0, 12, (7,)), torch.tensor([3, 0, 11, 3, 5])  # repeats, overlaps
    w_pos, w_neg = torch.randint(1, 4, (7,)).float(), torch.randint(1, 4, (7, 5)).float()
    g_pos, g_neg = torch.randn(7), torch.randn(7, 5)
    p, n = scores.shared_scores(q, rows, pos, neg, weight=(w_pos, w_neg))
    gq, gr = torch.autograd.grad((p, n), (q, rows), (g_pos, g_neg))
    cols = torch.cat([pos.unsqueeze(1), neg.expand(7, -1)], 1)
    ref = (q.unsqueeze(1) * rows[cols]).sum(-1)
    g = torch.cat([g_pos.unsqueeze(1), g_neg], 1)
    w = torch.cat([w_pos.unsqueeze(1), w_neg], 1)
    torch.testing.assert_close(torch.cat([p.unsqueeze(1), n], 1), ref, **TOL)
    torch.testing.assert_close(gq, torch.autograd.grad(ref, q, g)[0], **TOL)
    ref_rows = (q.detach().unsqueeze(1) * rows[cols]).sum(-1)
    torch.testing.assert_close(gr, torch.autograd.grad(ref_rows, rows, g * w)[0], **TOL)
