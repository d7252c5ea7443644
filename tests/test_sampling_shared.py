"""sampling.strategy: per_sample stays the default and bit-identical to the code before
strategies; shared, in_batch and mixed batches hold the right columns, hits and logQ, the
same per (seed, epoch, step) whatever the lookup and the rows' de-duplication; a key that
means nothing to a strategy fails at composition; each strategy trains every model."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from hydra.errors import ConfigCompositionException as HydraCompositionError
from omegaconf import OmegaConf, open_dict

from graphrec.config import ConfigError, validate, validate_against_data
from graphrec.data import load_data
from graphrec.models import build_model
from graphrec.models.negatives import SharedNegatives
from graphrec.sampling import DeviceSampler, SharedSampler, build_sampler
from graphrec.training import train
from conftest import TINY, make_cfg

CPU = torch.device("cpu")
BASE = [o for o in TINY if not o.startswith("sampling.")]  # in_batch has no num_neg


# ----------------------------------------------------------------------------- per_sample
# Computed with the code before sampling.strategy existed (same TINY data, seed 0, one thread).
BEFORE = {"items_sum": 173675825, "users_sum": 9723,
          "clcrec": (3.5489680767059326, 3.5489683151245117),  # reference, lean
          "mf": (3.576427936553955, 3.576427698135376),
          "recall@20": (0.2678132120768229, 0.2679978688557943),  # val, test
          "loss": 3.4579806327819824}


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reductions in the recorded order
    yield
    torch.set_num_threads(threads)


def test_default_is_per_sample_with_the_same_batches_and_losses(one_thread):
    cfg = make_cfg(["loader=fast"])
    assert cfg.sampling.strategy == "per_sample"
    data = load_data(cfg.data)
    users, items = next(iter(build_sampler(data, cfg, CPU).epoch(0)))
    assert isinstance(items, torch.Tensor) and items.shape == (64, 33)
    slot = torch.arange(items.numel()).view(items.shape)
    assert int((items * slot % 1000003).sum()) == BEFORE["items_sum"]  # exact: integer draws
    assert int(users.sum()) == BEFORE["users_sum"]
    for model in ("clcrec", "mf"):
        mcfg = make_cfg([f"model={model}", "loader=fast"])
        for impl, want in zip(("reference", "lean"), BEFORE[model]):
            torch.manual_seed(0)
            m = build_model(mcfg.model, data, impl)
            torch.manual_seed(1)
            loss, _ = m.loss(users, items)
            assert loss.item() == pytest.approx(want, rel=1e-6, abs=1e-7), (model, impl)


def test_default_run_equals_a_run_recorded_before_strategies(tmp_path, one_thread):
    """A config without sampling.strategy (a run recorded before it) trains as per_sample,
    and both give the figures recorded before the key existed."""
    over = ["loader=fast", "trainer.max_steps=8", "trainer.epochs=2", "trainer.device=cpu"]
    cfg = make_cfg(over)
    old = make_cfg(over)
    with open_dict(old):  # as a recorded .hydra/config.yaml reads: plain keys
        old.sampling = OmegaConf.create({k: v for k, v in old.sampling.items()
                                         if k != "strategy"})
    assert "strategy" not in old.sampling
    runs = [train(c, out_dir=str(tmp_path / name)) for c, name in ((cfg, "new"), (old, "old"))]
    losses = [[r["loss"] for r in csv.DictReader(open(tmp_path / n / "epochs.csv"))]
              for n in ("new", "old")]
    assert losses[0] == losses[1] and runs[0]["val"] == runs[1]["val"]
    assert runs[0]["test"] == runs[1]["test"] and runs[0]["run"]["strategy"] == "per_sample"
    got = (runs[0]["val"]["recall@20"], runs[0]["test"]["recall@20"], float(losses[0][-1]))
    want = (*BEFORE["recall@20"], BEFORE["loss"])
    assert got == pytest.approx(want, rel=1e-6, abs=1e-7)


# ----------------------------------------------------------------------------- shared batches
@pytest.fixture(scope="module")
def data():
    # Few items and long users: many columns are training items of the row's user.
    cfg = make_cfg(["data.n_users=120", "data.n_items=90", "data.mean_degree=30",
                    "data.max_degree=60", "data.cold_share=0.2"])
    return load_data(cfg.data)


def make(data, strategy="shared", **kw):
    args = dict(num_neg=24, batch_size=32, device=CPU, seed=3)
    args.update(kw)
    return SharedSampler(data, strategy, **args)


def check_batch(data, sampler, users, batch, exclude_train=True):
    """The columns are candidates, the positives the sampled pairs', the hits exactly the
    positive (and with exclude_train the user's training items), rows read once."""
    train = np.zeros((data.n_users, data.n_items), dtype=bool)
    train[data.train_users(), data.train_indices] = True
    u = users.numpy()
    items = batch.expand().numpy()
    assert train[u, items[:, 0]].all()
    cand = set(sampler.t["cand"].tolist())
    assert set(items[:, 1:].reshape(-1).tolist()) <= cand
    want = items[:, 1:] == items[:, :1]
    if exclude_train:
        want |= train[u[:, None], items[:, 1:]]
    assert (batch.hit.numpy() == want).all()
    assert len(torch.unique(batch.items)) == len(batch.items)  # CPU: each row once


@pytest.mark.parametrize("method_mb", [256, 0])  # 0 MB forces the CSR lookup
@pytest.mark.parametrize("strategy", ["shared", "in_batch", "mixed"])
@pytest.mark.parametrize("exclude_train", [True, False])
def test_columns_and_hits_are_exact(data, method_mb, strategy, exclude_train):
    sampler = make(data, strategy, bitmap_max_mb=method_mb, exclude_train=exclude_train,
                   candidates="all" if strategy == "mixed" else "warm")
    positives = [i[:, 0] for _, i in DeviceSampler(data, 4, 32, CPU, 3).epoch(0)]
    k = {"shared": 24, "in_batch": 32, "mixed": 32 + 24}[strategy]
    for step, (users, batch) in enumerate(sampler.epoch(0)):
        assert isinstance(batch, SharedNegatives)
        check_batch(data, sampler, users, batch, exclude_train)
        expanded = batch.expand()
        assert torch.equal(expanded[:, 0], positives[step])  # the same pairs, in order
        if strategy != "shared":  # the in-batch columns are the batch's positives
            assert torch.equal(expanded[0, 1:1 + len(users)], expanded[:, 0])
            assert batch.hit[:, :len(users)].diagonal().all()
        if len(users) == 32:
            assert batch.hit.shape == (32, k)


def test_logq_is_the_expected_count_among_the_positives(data):
    sampler = make(data, "mixed", logq=True)
    users, batch = next(iter(sampler.epoch(0)))
    counts = np.bincount(data.train_indices, minlength=data.n_items)
    pos = batch.expand()[:, 0].numpy()
    want = np.log(len(users) * counts[pos] / data.n_train)
    np.testing.assert_allclose(batch.pos_logq.numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(batch.neg_logq[:len(users)].numpy(), want, rtol=1e-5)
    assert (batch.neg_logq[len(users):] == 0).all()  # the uniform part as drawn
    assert next(iter(make(data, "shared", logq=True).epoch(0)))[1].pos_logq is None
    assert next(iter(make(data, "in_batch", logq=False).epoch(0)))[1].pos_logq is None


def test_same_numbers_per_step_device_path_and_resume(data):
    """Deterministic per (seed, epoch, step); the device path (rows not de-duplicated) reads
    the same layout; a resumed epoch continues the same stream; ranks draw their own."""
    a = [b.expand() for _, b in make(data).epoch(1)]
    assert all(torch.equal(x, y) for x, y in zip(a, [b.expand() for _, b in make(data).epoch(1)]))
    dev = make(data)
    dev.unique_rows = False
    for (_, x), (_, y) in zip(make(data).epoch(1), dev.epoch(1)):
        assert torch.equal(x.expand(), y.expand()) and torch.equal(x.hit, y.hit)
        assert len(y.items) == len(y.pos) + 24
    assert all(torch.equal(x, b.expand()) for x, (_, b) in zip(a[2:], make(data).epoch(1, 2)))
    r0, r1 = (next(iter(make(data, rank=r, world=2).epoch(1)))[1] for r in (0, 1))
    assert not torch.equal(r0.items[r0.neg], r1.items[r1.neg])


def test_without_replacement_the_shared_columns_are_distinct(data):
    for _, batch in make(data, replacement=False, num_neg=40).epoch(0):
        cols = batch.items[batch.neg]
        assert len(torch.unique(cols)) == 40


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("over", [["sampling.strategy=shared", "sampling.logq=true"],
                                  ["sampling.logq=false"],  # per_sample
                                  ["sampling=in_batch", "sampling.num_neg=8"],
                                  ["sampling=in_batch", "sampling.candidates=all"],
                                  ["sampling=in_batch", "sampling.replacement=false"]])
def test_a_key_that_means_nothing_to_the_strategy_fails_at_compose(over):
    key = over[-1].split("=")[0].lstrip("+").split(".")[1]
    with pytest.raises(HydraCompositionError, match=key):
        make_cfg(BASE + over, tiny=False)


@pytest.mark.parametrize("over,match", [
    (["loader=baseline", "sampling.strategy=shared"], "loader=fast"),
    (["loader=workers", "sampling=in_batch"], "per-sample loader"),
    (["sampling.strategy=in_batch"], "sampling=in_batch"),
    (["sampling=in_batch", "sampling.strategy=shared"], "sampling=shared512"),
    (["sampling=mixed", "sampling.strategy=per_sample"], "sampling=neg512"),
    (["sampling.strategy=random"], "per_sample|shared|in_batch|mixed"),
    (["sampling=shared512", "+sampling.logq=true"], "sampling.logq.*means nothing"),  # `+` adds
])
def test_strategy_combinations_fail_before_any_work(over, match):
    with pytest.raises(ConfigError, match=match):
        validate(make_cfg(BASE + over, tiny=False))


def test_shared_num_neg_is_bounded_by_the_catalogue_only(data):
    """Shared columns are masked, not redrawn: only num_neg < candidates applies."""
    cfg = make_cfg(["sampling.strategy=shared", "sampling.num_neg=60",
                    "sampling.replacement=false"])
    validate_against_data(cfg, data)  # per_sample would refuse: the busiest user leaves fewer
    with pytest.raises(ConfigError, match="per_sample|busiest"):
        validate_against_data(make_cfg(["sampling.num_neg=60", "sampling.replacement=false"]),
                              data)
    with pytest.raises(ConfigError, match="sampling.num_neg"):
        validate_against_data(make_cfg(["sampling=mixed", "sampling.num_neg=500"]), data)
    validate_against_data(make_cfg(BASE + ["sampling=in_batch"], tiny=False), data)


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("model,over", [
    ("clcrec", ["sampling=shared512", "sampling.num_neg=32"]),
    ("mf", ["sampling.strategy=shared", "sampling.num_neg=1"]),  # BPR
    ("vbpr", ["sampling=in_batch"]),
    ("lightgcn", ["sampling=in_batch", "precision=amp"]),
    ("mmgcn", ["sampling=mixed", "sampling.num_neg=16"]),
    ("dropoutnet", ["sampling=mixed", "sampling.num_neg=16", "precision=amp"]),
    ("clcrec", ["sampling=mixed", "sampling.num_neg=16", "model.impl=reference",
                "model.graph_layers=1"]),
])
def test_every_strategy_trains(tmp_path, model, over):
    cfg = make_cfg(BASE + [f"model={model}", "loader=fast", "trainer.max_steps=3",
                           "trainer.epochs=1", "trainer.device=cpu"] + over, tiny=False)
    metrics = train(cfg, out_dir=str(tmp_path))
    assert metrics["status"] == "completed", metrics.get("error")
    run = metrics["run"]
    assert run["strategy"] == OmegaConf.select(cfg, "sampling.strategy")
    assert run["impl"] == ("reference" if "model.impl=reference" in over else "lean")
    assert all(math.isfinite(v) for v in metrics["test"].values())
