"""python -m graphrec.export: a bundle scores as the run folder's model does (all six models),
encodes new items as the model scores its cold items, loads with the training data deleted,
without Hydra and without unpickling anything."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from data_fixtures import write_clcrec
from graphrec.errors import DataError
from graphrec.evaluation import topk_stable
from graphrec.serving import Bundle
from graphrec.serving.export import export, main as export_main
from graphrec.serving.recommend import main as recommend_main
from graphrec.serving.run_folder import rebuild
from serving_runs import train_run

STEPS = ["trainer.epochs=1", "trainer.max_steps=3"]  # weights that are not the init's
MODELS = {"mf": [], "lightgcn": ["model.n_layers=2"], "clcrec": ["model.graph_layers=1"],
          "vbpr": [], "dropoutnet": ["model.hidden=32"],
          "mmgcn": ["model.dim_latent=16", "model.n_layers=2"]}
FEATURE_MODELS = ["clcrec", "vbpr", "dropoutnet", "mmgcn"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (run folder, bundle folder), each trained once, when first asked for."""
    done = {}

    def get(name):
        if name not in done:
            run = train_run(tmp_path_factory.mktemp(name), [f"model={name}", *MODELS[name],
                                                            *STEPS])
            out = tmp_path_factory.mktemp(f"{name}-bundle") / "bundle"
            export(run, out)
            done[name] = (run, out)
        return done[name]
    return get


@pytest.mark.parametrize("name", list(MODELS))
def test_bundle_scores_equal_the_run_folders_model(exported, name):
    run, out = exported(name)
    _, data, model = rebuild(run)
    bundle = Bundle.load(out)
    users = torch.arange(data.n_users)
    with torch.no_grad():
        expected = model.scorer()(users).detach()
    got = bundle.scorer()(users)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)
    assert torch.equal(topk_stable(got, 10), topk_stable(expected, 10))
    assert (bundle.card["model"], bundle.card["format_version"]) == (name, 1)
    assert bundle.card["metrics"]["status"] == "completed"
    assert bundle.card["config"]["model"]["name"] == name
    np.testing.assert_array_equal(bundle.known[1], data.train_indices)
    np.testing.assert_array_equal(bundle.warm, data.warm_mask)


@pytest.mark.parametrize("name", FEATURE_MODELS)
def test_new_items_encode_as_the_model_scores_its_cold_items(exported, name):
    run, out = exported(name)
    _, data, _ = rebuild(run)
    bundle = Bundle.load(out)
    cold = np.flatnonzero(~data.warm_mask)
    with torch.no_grad():
        items, bias = bundle.encoder({m: torch.from_numpy(f[cold])
                                      for m, f in data.features.items()})
    torch.testing.assert_close(items, bundle.reps.items[cold], rtol=1e-5, atol=1e-6)
    if name == "vbpr":
        torch.testing.assert_close(bias, bundle.reps.item_bias[cold], rtol=1e-5, atol=1e-6)
    else:
        assert bias is None and bundle.reps.item_bias is None
    assert bundle.card["modalities"] == {m: f.shape[1] for m, f in data.features.items()}


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_a_model_without_features_refuses_new_items(exported, name, tmp_path, capsys):
    _, out = exported(name)
    assert Bundle.load(out).encoder is None
    (tmp_path / "new").mkdir()
    np.save(tmp_path / "new" / "feat_v.npy", np.ones((2, 16), np.float32))
    assert recommend_main([str(out), "--users", "0", "--new-items", str(tmp_path / "new")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"model {name} reads no item features" in err[0]


def test_the_ann_files_score_as_the_bundle(exported):
    """users.npy / items.npy (+ item_bias.npy as one more column) are an inner-product
    index's input: docs/serving.md."""
    _, out = exported("vbpr")
    users, items = np.load(out / "users.npy"), np.load(out / "items.npy")
    bias = np.load(out / "item_bias.npy")
    assert users.dtype == items.dtype == np.float32 and users.shape[1] == items.shape[1]
    folded = np.hstack([users, np.ones((len(users), 1), np.float32)]) @ \
        np.hstack([items, bias[:, None]]).T
    scores = Bundle.load(out).scorer()(torch.arange(len(users))).numpy()
    np.testing.assert_allclose(folded, scores, rtol=1e-4, atol=1e-4)
    ids = np.load(out / "item_ids.npy", allow_pickle=False)
    assert ids.dtype == np.int64 and len(ids) == len(items)


LOAD = """
import pickle, sys
def refuse(*a, **k):
    raise AssertionError("a bundle must unpickle nothing")
pickle.load = pickle.loads = refuse
pickle.Unpickler = refuse
import torch
torch.load = refuse
from graphrec.serving import Bundle
b = Bundle.load(sys.argv[1])
s = b.scorer()(torch.arange(b.n_users))
for name in ("hydra", "graphrec.config", "graphrec.data", "graphrec.training"):
    assert name not in sys.modules, name
print(b.model, b.n_users, b.n_items, tuple(s.shape), b.encoder is not None)
"""


def test_a_bundle_needs_no_training_data_no_hydra_and_no_pickle(tmp_path, capsys):
    data = write_clcrec(tmp_path / "Data" / "tiny")
    run = train_run(tmp_path / "run", [
        "data=clcrec", f"data.path={data}", f"data.cache_dir={tmp_path / 'cache'}",
        "data.feat_dims=[8,4,4]", "sampling.num_neg=2", "batch.size=4", *STEPS,
        "trainer.progress=false"], tiny=False)
    assert export_main([str(run), str(tmp_path / "bundle")]) == 0
    assert "clcrec bundle, 6 users x 8 items (2 cold)" in capsys.readouterr().out
    shutil.rmtree(tmp_path / "Data")
    shutil.rmtree(tmp_path / "cache")
    res = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path / "bundle")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["clcrec", "6", "8", "(6,", "8)", "True"]
    # the files' own ids: users 0.., items numbered after the users
    assert recommend_main([str(tmp_path / "bundle"), "--users", "5", "--k", "8"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    assert {int(r[2]) for r in rows} == {10, 11, 12, 13}  # user 5 trained on 6..9
    assert recommend_main([str(run), "--users", "5"]) == 2  # the run folder needs its data
    assert "CLCRec data folder not found" in capsys.readouterr().err


def test_bundle_format_and_export_target_checked(exported, tmp_path, capsys):
    run, out = exported("mf")
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    card = json.loads((copy / "bundle.json").read_text())
    (copy / "bundle.json").write_text(json.dumps({**card, "format_version": 99}))
    with pytest.raises(DataError, match="format version 99"):
        Bundle.load(copy)
    assert export_main([str(run), str(copy)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert export_main([str(run), str(copy), "--force"]) == 0
    assert Bundle.load(copy).card["format_version"] == 1
