"""End to end: train(cfg) on a CLCRec folder, composed from conf/ as train.py composes it."""
import json

from hydra import compose, initialize_config_dir

import graphrec.config  # noqa: F401  (registers the schemas)
from data_fixtures import REPO, TRAIN, write_clcrec
from graphrec.training import train


def test_train_on_clcrec_folder(tmp_path):
    folder = write_clcrec(tmp_path / "Data" / "tiny", train={**TRAIN, 5: {6, 7}})
    overrides = ["data=clcrec", f"data.path={folder}", f"data.cache_dir={tmp_path / 'c'}",
                 "data.exclude_heldout=true", "sampling=neg1", "trainer.epochs=1",
                 "trainer.progress=false", "trainer.device=cpu"]
    with initialize_config_dir(config_dir=str(REPO / "conf")):
        cfg = compose(config_name="config", overrides=overrides)
    metrics = train(cfg, out_dir=str(tmp_path / "run"))
    assert metrics["status"] == "completed" and metrics["steps"] == 1
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    meta = saved["data"]["meta"]
    assert meta["format"] == "clcrec" and meta["features_source"] == "synthetic"
    assert meta["features_missing"] == ["feat_v", "feat_a", "feat_t"]
    assert meta["exclude_heldout"] is True and saved["data"]["n_cold"] == 2


def test_a_model_without_features_gets_none_built(tmp_path, caplog):
    """Issue 11.10: MF on a folder without feature files builds no random features and
    says nothing about cold items; data.features=required is kept as asked."""
    folder = write_clcrec(tmp_path / "Data" / "tiny", train={**TRAIN, 5: {6, 7}})
    overrides = ["data=clcrec", f"data.path={folder}", f"data.cache_dir={tmp_path / 'c'}",
                 "model=mf", "sampling=neg1", "trainer.epochs=1", "trainer.progress=false",
                 "trainer.device=cpu"]
    with initialize_config_dir(config_dir=str(REPO / "conf")):
        cfg = compose(config_name="config", overrides=overrides)
    with caplog.at_level("INFO", logger="graphrec"):
        train(cfg, out_dir=str(tmp_path / "run"))
    meta = json.loads((tmp_path / "run" / "metrics.json").read_text())["data"]["meta"]
    assert meta["features_source"] == "none" and meta["features_dims"] == {}
    assert "reads no item features" in caplog.text and "chance level" not in caplog.text
