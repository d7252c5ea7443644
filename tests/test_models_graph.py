"""Graph encoders over the user-item graph: CLCRec with ``model.graph_layers`` and MMGCN.

* MMGCN's propagation is the paper's equations, checked against a hand computation with
  explicit loops on a 3-user x 4-item graph with two modalities;
* CLCRec's propagated id table is LightGCN's mean of layers over the normalised graph;
* both beat popularity on all items, and a popularity or random ranking among cold items on
  cold items, on synthetic data whose features carry the items' latent factors;
* both train with either loader, in fp32 and bf16 autocast, and resume to the same result.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from graphrec.data import load_data
from graphrec.evaluation import evaluate
from graphrec.models import CLCRec, MMGCN
from graphrec.training import train
from conftest import make_cfg

# ----------------------------------------------------------------------------- hand-sized
# 3 users x 4 items; item 3 has no training edge (a cold item), so it aggregates nothing and
# has no id row. Two modalities of widths 3 and 2, dim_latent 4, dim 3.
EDGES = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 2), (2, 1)]
N_USERS, N_ITEMS, DIM, DIM_LATENT = 3, 4, 3, 4


def _leaky(x):
    return np.where(x > 0, x, 0.01 * x)  # F.leaky_relu's default slope, as MMGCN's code uses


def _hand_sized(concat: bool, aggr: str, n_layers: int) -> MMGCN:
    rng = np.random.default_rng(0)
    features = {"v": rng.normal(size=(N_ITEMS, 3)).astype(np.float32),
                "t": rng.normal(size=(N_ITEMS, 2)).astype(np.float32)}
    users = np.array([u for u, _ in EDGES])
    items = np.array([i for _, i in EDGES])
    torch.manual_seed(0)
    model = MMGCN(N_USERS, N_ITEMS, features, users, items, dim=DIM, dim_latent=DIM_LATENT,
                  n_layers=n_layers, aggr=aggr, concat=concat)
    with torch.no_grad():  # nonzero biases, so a dropped bias shows
        for p in model.parameters():
            if p.dim() == 1:
                p.normal_()
    return model


def _by_hand(model: MMGCN, features, concat: bool, aggr: str, n_layers: int) -> np.ndarray:
    """The paper's equations, one node and one neighbour at a time."""
    n = N_USERS + N_ITEMS
    neighbours = {v: [] for v in range(n)}
    for u, i in EDGES:
        neighbours[u].append(N_USERS + i)
        neighbours[N_USERS + i].append(u)
    ids = model.id_embedding.detach().numpy()
    out = np.zeros((n, DIM))
    for name, feat in features.items():
        g = model.gcn[name]
        pref = g.preference.detach().numpy()
        w_mlp, b_mlp = g.mlp.weight.detach().numpy(), g.mlp.bias.detach().numpy()
        x = []
        for v in range(n):  # layer 0: [preference ; MLP(features)], each row L2-normalised
            z = pref[v] if v < N_USERS else w_mlp @ feat[v - N_USERS] + b_mlp
            x.append(z / np.linalg.norm(z))
        for layer in range(n_layers):
            w1 = g.w1[layer].detach().numpy().T  # stored [in, out]: the paper's W1 is its T
            w2, b2 = g.w2[layer].weight.detach().numpy(), g.w2[layer].bias.detach().numpy()
            w3, b3 = g.w3[layer].weight.detach().numpy(), g.w3[layer].bias.detach().numpy()
            new = []
            for v in range(n):
                # (1) aggregation: LeakyReLU of the mean (or sum) of W1 x_j over neighbours
                msg = np.zeros(w1.shape[0])
                for j in neighbours[v]:
                    msg += w1 @ x[j]
                if aggr == "mean" and neighbours[v]:
                    msg /= len(neighbours[v])
                h = _leaky(msg)
                # (5) the node's own transform plus its id (none without a training edge)
                x_hat = _leaky(w2 @ x[v] + b2) + (ids[v] if neighbours[v] else 0.0)
                # (6) combination
                if concat:
                    new.append(_leaky(w3 @ np.concatenate([h, x_hat]) + b3))
                else:
                    new.append(_leaky(w3 @ h + b3 + x_hat))
            x = new
        out += np.array(x)
    return out / len(features)  # the mean over modalities


@pytest.mark.parametrize("concat,aggr,n_layers", [
    (False, "mean", 1),  # the released code's defaults, one layer
    (True, "mean", 1),
    (False, "add", 1),
    (True, "mean", 2),
])
def test_mmgcn_propagation_is_the_papers_equations(concat, aggr, n_layers):
    model = _hand_sized(concat, aggr, n_layers)
    features = {m: getattr(model, f"feat_{m}").numpy() for m in model.modalities}
    with torch.no_grad():
        got = model.representation().numpy()
    want = _by_hand(model, features, concat, aggr, n_layers)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # and ranking scores <u, i> of those rows
    scores = model.scorer()(torch.arange(N_USERS)).numpy()
    np.testing.assert_allclose(scores, want[:N_USERS] @ want[N_USERS:].T, rtol=1e-5,
                               atol=1e-6)


def test_mmgcn_trains_its_id_and_preference_tables():
    """The released code's tables are not parameters (``.cuda()`` after ``requires_grad``);
    here a step moves them, except the id rows of nodes without a training edge."""
    model = _hand_sized(False, "mean", 2)
    loss, _ = model.loss(torch.tensor([0, 1, 2]), torch.tensor([[0, 3], [1, 3], [2, 0]]))
    loss.backward()
    assert model.id_embedding.grad[:N_USERS + 3].abs().sum(1).gt(0).all()
    assert model.id_embedding.grad[N_USERS + 3].abs().sum() == 0  # item 3: no edge
    assert all(g.preference.grad.abs().sum() > 0 for g in model.gcn.values())


def test_clcrec_graph_table_is_lightgcn_propagation():
    """mean_{l=0..N} (D^-1/2 A D^-1/2)^l E, against a dense computation; N = 0: the table."""
    users = np.array([u for u, _ in EDGES])
    items = np.array([i for _, i in EDGES])
    warm = np.array([True, True, True, False])
    feats = {"v": np.random.default_rng(0).normal(size=(N_ITEMS, 3)).astype(np.float32)}
    torch.manual_seed(0)
    plain = CLCRec(N_USERS, N_ITEMS, warm, feats, dim=DIM)
    assert plain.id_table() is plain.id_embedding and not hasattr(plain, "graph")
    graph = CLCRec(N_USERS, N_ITEMS, warm, feats, dim=DIM, graph_layers=2,
                   train_pairs=(users, items))
    n = N_USERS + N_ITEMS
    a = np.zeros((n, n))
    for u, i in EDGES:
        a[u, N_USERS + i] = a[N_USERS + i, u] = 1
    deg = a.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0)
    norm = inv[:, None] * a * inv[None, :]
    e = graph.id_embedding.detach().double().numpy()
    want = (e + norm @ e + norm @ norm @ e) / 3
    np.testing.assert_allclose(graph.id_table().detach().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(want[n - 1], e[n - 1] / 3)  # the cold item: its own row / 3


# ----------------------------------------------------------------------------- accuracy
# 180 cold items, so ranking among them is not close to listing them all in the top 20.
ACC_DATA = ["data.n_users=600", "data.n_items=600", "data.cold_share=0.3", "batch.size=256"]
ACC_MODELS = {
    "clcrec_graph": ["model=clcrec", "model.graph_layers=2", "trainer.epochs=4"],
    # dim_latent 64 instead of 256 keeps the test fast (and is as good on 64/32/32-wide features)
    "mmgcn": ["model=mmgcn", "model.dim_latent=64", "trainer.epochs=3"],
}


def _baselines(data):
    """Val Recall@20 of popularity (all items) and the better of popularity and a seeded
    random ranking among cold items (cold items have no training count: popularity ties
    them all, broken by item id), under the evaluation's own protocol."""
    pop = torch.from_numpy(np.bincount(data.train_indices, minlength=data.n_items)).float()
    by_pop = evaluate(lambda u: pop.expand(len(u), -1).clone(), data, "val", ks=[20])
    rand = torch.rand(data.n_items, generator=torch.Generator().manual_seed(0))
    by_rand = evaluate(lambda u: rand.expand(len(u), -1).clone(), data, "val", ks=[20])
    cold = max(by_pop["_cold"]["recall@20"], by_rand["_cold"]["recall@20"])
    return by_pop[""]["recall@20"], cold


@pytest.mark.parametrize("name", list(ACC_MODELS))
def test_graph_models_beat_popularity_on_all_and_cold_items(tmp_path, name):
    cfg = make_cfg(ACC_DATA + ACC_MODELS[name])
    data = load_data(cfg.data)
    metrics = train(cfg, out_dir=str(tmp_path), data=data)
    pop_all, base_cold = _baselines(data)
    got_all, got_cold = metrics["val"]["recall@20"], metrics["val_cold"]["recall@20"]
    print(f"{name}: val recall@20 all {got_all:.4f} (popularity {pop_all:.4f}), "
          f"cold {got_cold:.4f} (popularity/random among cold {base_cold:.4f})")
    assert metrics["status"] == "completed"
    assert got_all > 2 * pop_all, (metrics["val"], pop_all)
    assert got_cold > 2 * base_cold, (metrics["val_cold"], base_cold)


# ----------------------------------------------------------------------------- plumbing
SMALL = {"clcrec_graph": ["model=clcrec", "model.graph_layers=2"],
         "mmgcn": ["model=mmgcn", "model.dim_latent=32"]}


@pytest.mark.parametrize("name", list(SMALL))
@pytest.mark.parametrize("setup", [
    ["loader=baseline", "loader.num_workers=0"],  # the seed's loader, reference impl
    ["precision=amp"],                             # bf16 autocast on CPU, lean impl
])
def test_graph_models_train_with_each_loader_and_precision(tmp_path, name, setup):
    cfg = make_cfg(SMALL[name] + setup + ["trainer.epochs=1", "trainer.max_steps=20"])
    metrics = train(cfg, out_dir=str(tmp_path))
    assert metrics["status"] == "completed" and metrics["steps"] == 20
    for key in ("val", "val_warm", "val_cold", "test", "test_cold"):
        assert np.isfinite(metrics[key]["recall@20"]), key


@pytest.mark.parametrize("name", list(SMALL))
def test_graph_models_resume_to_the_uninterrupted_result(tmp_path, name):
    over = SMALL[name] + ["trainer.epochs=2", "batch.size=128"]
    full = train(make_cfg(over), out_dir=str(tmp_path / "full"))
    run_dir = tmp_path / "cut"
    cut = train(make_cfg(over + ["trainer.fail_after_steps=50", "trainer.fail_kind=interrupt"]),
                out_dir=str(run_dir))
    assert cut["status"] == "interrupted" and cut["interrupted_at"]["epoch"] == 1
    resumed = train(make_cfg(over + [f"trainer.resume={run_dir}"]))
    assert resumed["status"] == "completed"
    assert resumed["val"] == full["val"] and resumed["test"] == full["test"]
