"""Issue 22.1: one spec per model. The registry assembled from graphrec/models/specs/ gives
config the same schemas, ranges and feature flags the hand-kept dicts gave, and a run's
``run.impl`` says which form actually ran."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from graphrec.config import FEATURE_MODELS, MODEL_RANGES, MODEL_SCHEMAS
from graphrec.models import SPECS, build_model
from graphrec.models.spec import ModelSpec
from graphrec.training import train
from conftest import make_cfg

# The dicts config.py kept by hand before the specs (schema defaults per model; ranges by key).
BASE = {"impl": "auto", "dim": 64, "lr": 0.005, "reg_weight": 0.0001, "init": "normal",
        "temp_value": 0.2}
OLD_SCHEMAS = {
    "clcrec": ("ClcrecModel", {**BASE, "lr": 0.01, "reg_weight": 0.1, "init": "xavier_normal",
                               "temp_value": 2.0, "lr_lambda": 0.5, "num_sample": 0.5,
                               "encoder_hidden": 256, "graph_layers": 0}),
    "mf": ("MfModel", BASE),
    "lightgcn": ("LightgcnModel", {**BASE, "n_layers": 3}),
    "mmgcn": ("MmgcnModel", {**BASE, "reg_weight": 1e-05, "init": "xavier_normal",
                             "dim_latent": 256, "n_layers": 2, "aggr": "mean",
                             "concat": False}),
    "vbpr": ("VbprModel", {**BASE, "item_bias": True}),
    "dropoutnet": ("DropoutnetModel", {**BASE, "hidden": 256, "dropout": 0.5}),
}
OLD_RANGES = {  # key -> (allowed text, a valid value, an invalid value)
    "lr": ("a float > 0", 1e-3, 0.0),
    "dim": ("an integer > 0", 1, 0),
    "reg_weight": ("a float >= 0 (0 = no regulariser)", 0.0, -1e-3),
    "num_sample": ("a float in [0, 1]", 1.0, 1.5),
    "lr_lambda": ("a float in [0, 1]", 0.0, -0.1),
    "temp_value": ("a float > 0", 0.1, 0.0),
    "n_layers": ("an integer >= 0", 0, -1),
    "encoder_hidden": ("an integer > 0", 1, 0),
    "graph_layers": ("an integer >= 0 (0 = no graph encoder)", 0, -1),
    "dim_latent": ("an integer > 0", 1, 0),
    "aggr": ("one of mean|add", "add", "max"),
    "hidden": ("an integer > 0", 1, 0),
    "dropout": ("a float in [0, 1]", 0.5, 1.1),
}
OLD_FEATURE_MODELS = {"clcrec", "mmgcn", "vbpr", "dropoutnet"}


def test_registry_lists_the_six_models_as_the_old_dicts_did():
    """A model added later only adds entries (its spec is its own file)."""
    assert set(SPECS) == set(MODEL_SCHEMAS) >= set(OLD_SCHEMAS)
    for name, (cls, defaults) in OLD_SCHEMAS.items():
        schema = MODEL_SCHEMAS[name]
        assert schema is SPECS[name].schema and schema.__name__ == cls
        assert {f.name: f.default for f in dataclasses.fields(schema)} == {"name": name,
                                                                             **defaults}
        assert SPECS[name].impls == ("reference", "lean")
    assert FEATURE_MODELS == {n for n, s in SPECS.items() if s.features}
    assert FEATURE_MODELS & set(OLD_SCHEMAS) == OLD_FEATURE_MODELS
    assert set(MODEL_RANGES) >= set(OLD_RANGES)
    for key, (allowed, good, bad) in OLD_RANGES.items():
        ok, text = MODEL_RANGES[key]
        assert text == allowed and ok(good) and not ok(bad), key


def test_config_does_not_import_torch():
    """Hydra composes with config's schemas; the model code (torch) loads when built."""
    code = "import sys, graphrec.config; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("model", ["vbpr", "dropoutnet"])
def test_lean_that_falls_back_records_reference(tmp_path, caplog, model):
    """160 items > 16 * (1 + 1) slots a step: the lean form would cost more, so the step runs
    the reference form, and metrics.json says so (it said lean before)."""
    cfg = make_cfg([f"model={model}", "model.impl=lean", "loader=fast", "batch.size=16",
                    "sampling.num_neg=1", "trainer.max_steps=3", "trainer.epochs=1",
                    "trainer.device=cpu"])
    with caplog.at_level("WARNING", logger="graphrec"):
        metrics = train(cfg, out_dir=str(tmp_path))
    assert metrics["status"] == "completed", metrics.get("error")
    assert json.loads((tmp_path / "metrics.json").read_text())["run"]["impl"] == "reference"
    assert "impl=lean runs (and records) reference" in caplog.text


def test_a_model_without_a_lean_form_is_built_as_reference(monkeypatch):
    built = []
    spec = ModelSpec("mf", SPECS["mf"].schema, lambda m, data, impl: built.append(impl),
                     impls=("reference",))
    monkeypatch.setitem(SPECS, "mf", spec)
    build_model(make_cfg(["model=mf"]).model, None, "lean")
    assert built == ["reference"]
