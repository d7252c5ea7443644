"""+experiment=recbole_bpr_ml100k / recbole_lightgcn_ml100k: RecBole 1.2.1's defaults for
BPR and LightGCN on ml-100k (properties/overall.yaml, model/BPR.yaml, model/LightGCN.yaml)."""
from __future__ import annotations

import pytest

from graphrec.config import validate

from conftest import make_cfg

COMMON = {
    "data.kind": "movielens", "data.path": "x", "data.split": "recbole_rs",
    "data.ratios": [0.8, 0.1, 0.1], "data.min_rating": 0.0, "data.kcore": 0,
    "data.cold_share": 0.0, "data.features": "none",
    "loader.kind": "fast", "batch.size": 2048, "batch.lr_scaling": "none",
    "sampling.num_neg": 1, "sampling.exclude_train": True,
    "model.dim": 64, "model.lr": 0.001,
    "trainer.epochs": 300, "trainer.eval_every": 1, "trainer.patience": 11,
    "trainer.monitor": "ndcg@10", "trainer.ks": [10], "trainer.seed": 2020,
    "evaluation.exclude": "train_val",
}
PRESETS = {
    "recbole_bpr_ml100k": {"model.name": "mf", "model.reg_weight": 0.0,
                           "model.init": "xavier_normal"},
    "recbole_lightgcn_ml100k": {"model.name": "lightgcn", "model.reg_weight": 1e-05,
                                "model.init": "xavier_uniform", "model.n_layers": 2},
}


def _get(cfg, dotted):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return list(node) if hasattr(node, "__len__") and not isinstance(node, str) else node


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_has_recboles_defaults(preset):
    cfg = make_cfg([f"+experiment={preset}", "data.path=x"], tiny=False)
    validate(cfg)
    want = {**COMMON, **PRESETS[preset]}
    assert {k: _get(cfg, k) for k in want} == want


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_leaves_data_path_required(preset):
    from omegaconf import OmegaConf

    cfg = make_cfg([f"+experiment={preset}"], tiny=False)
    assert OmegaConf.is_missing(cfg.data, "path")
