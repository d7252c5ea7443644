"""`+sweeps=accuracy`: a search over what changes the trained model only, with the fast loader
fixed, early stopping, pruning on the validation curve, composing with every model."""
from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep
from optuna.trial import TrialState

from graphrec.config import MODEL_SCHEMAS, validate
from graphrec.sweeping.report import objective_metric

from conftest import CONF
from sweep_helpers import load_study, train

SEARCHED = {"model.lr", "model.reg_weight", "model.temp_value", "sampling", "sampling.num_neg",
            "batch.size", "model.dim"}
STRATEGIES = ["neg1", "neg512", "shared512", "in_batch", "mixed"]  # BPR, then the softmaxes
FIXED = {"loader": "fast", "loader.num_workers": 0, "trainer.epochs": 300}


def compose_sweep(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF)):
        return compose("config", overrides=["+sweeps=accuracy", *overrides],
                       return_hydra_config=True)


def parsed_space(cfg) -> dict:
    parser = OverridesParser.create()
    return {k: parser.parse_override(f"{k}={v}").value()
            for k, v in cfg.hydra.sweeper.params.items()}


def trial_overrides(space: dict, end: int) -> list:
    """One trial's overrides: every searched key at one end of its range (0: low, -1: high)."""
    out = []
    for key, value in space.items():
        if isinstance(value, ChoiceSweep):
            value = value.list[end]
        elif isinstance(value, IntervalSweep):
            value = value.start if end == 0 else value.end
        out.append(f"{key}={value}")
    return out


def test_space_holds_model_keys_only_with_the_fast_loader_fixed():
    cfg = compose_sweep("model=mf", "data=movielens", "data.path=x")
    space = parsed_space(cfg)
    searched = {k for k, v in space.items() if isinstance(v, (ChoiceSweep, IntervalSweep))}
    assert searched == SEARCHED
    assert {k: v for k, v in space.items() if k not in searched} == FIXED
    assert space["model.lr"].tags == {"log"} and space["model.reg_weight"].tags == {"log"}
    assert space["sampling"].list == STRATEGIES  # BPR stays in the space
    assert cfg.sweep.objective == "accuracy"
    assert list(cfg.hydra.sweeper.direction) == ["maximize"]
    assert cfg.hydra.sweeper.study_name == "accuracy-mf-movielens"
    # epochs through early stopping, a validation per epoch, pruned on that curve
    assert cfg.trainer.patience > 0 and cfg.trainer.eval_every == 1
    assert cfg.trainer.eval_every_s == 0 and cfg.trainer.eval_every_steps == 0
    assert cfg.hydra.sweeper.pruner._target_ == "optuna.pruners.MedianPruner"
    assert cfg.hydra.sweeper.pruner.n_warmup_steps < cfg.trainer.patience
    # the temperature only where a softmax reads it, K only where negatives are drawn
    conditions = cfg.hydra.sweeper.conditions
    assert list(conditions["model.temp_value"]["sampling"]) == STRATEGIES[1:]
    assert list(conditions["sampling.num_neg"]["sampling"]) == ["neg512", "shared512", "mixed"]


@pytest.mark.parametrize("model", sorted(MODEL_SCHEMAS))
@pytest.mark.parametrize("end", [0, -1])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_trial_composes_with_every_model(model, end, strategy):
    """Each model's schema takes every searched key, under every sampling option, with the
    keys the conditions leave in (an unknown key fails composition)."""
    base = [f"model={model}", "data=movielens", "data.path=x"]
    cfg = compose_sweep(*base)
    space = parsed_space(cfg)
    skip = {k for k, when in cfg.hydra.sweeper.conditions.items()
            if "sampling" in when and strategy not in when["sampling"]}
    keys = [o for o in trial_overrides(space, end) if o.split("=")[0] not in skip | {"sampling"}]
    with initialize_config_dir(config_dir=str(CONF)):
        cfg = compose("config", overrides=["+sweeps=accuracy", *base, f"sampling={strategy}",
                                           *keys])
    validate(cfg)
    assert cfg.model.name == model and cfg.loader.kind == "fast"


@pytest.mark.parametrize("preset,model", [("recbole_bpr_ml100k", "mf"),
                                          ("recbole_lightgcn_ml100k", "lightgcn")])
def test_composes_with_the_recbole_presets(preset, model):
    cfg = compose_sweep(f"+experiment={preset}", "data.path=x")
    assert cfg.model.name == model and cfg.data.split == "recbole_rs"
    assert objective_metric(cfg) == "recall@10"  # the presets rank top-10 only
    assert cfg.trainer.patience > 0 and cfg.trainer.epochs >= 100
    assert set(parsed_space(cfg)) == SEARCHED | set(FIXED)


@pytest.mark.slow
def test_three_trial_sweep_on_tiny_data(tmp_path):
    """A real sweep: one objective (val Recall@20), trials stopped by early stopping or the
    pruner, each trial's params from the space, the temperature only with a softmax."""
    data = ["model=mf", "data.n_users=120", "data.n_items=700", "data.max_degree=60",
            "trainer.progress=false", "trainer.patience=2", "trainer.ks=[10]",
            "trainer.monitor=recall@10", "trainer.target.metric=recall@10"]  # as the presets
    narrow = ["hydra.sweeper.n_trials=3", "trainer.epochs=4", "model.dim=choice(8,16)",
              "batch.size=choice(64,128)", "hydra.sweeper.pruner.n_startup_trials=1",
              "hydra.sweeper.pruner.n_warmup_steps=1"]
    train("-m", "+sweeps=accuracy", f"hydra.sweep.dir={tmp_path}", *data, *narrow,
          cwd=tmp_path)
    study = load_study(tmp_path)
    assert [d.name for d in study.directions] == ["MAXIMIZE"]
    assert len(study.trials) == 3
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials)
    first = study.trials[0]
    assert first.state == TrialState.COMPLETE and first.intermediate_values
    for trial in study.trials:
        drawn = {"model.temp_value", "sampling.num_neg"}
        assert set(trial.params) - drawn == SEARCHED - drawn
        option = trial.params["sampling"]
        assert ("model.temp_value" in trial.params) == (option != "neg1")
        assert ("sampling.num_neg" in trial.params) == (option in ("neg512", "shared512",
                                                                    "mixed"))
        record = json.loads((tmp_path / str(trial.number) / "metrics.json").read_text())
        assert record["run"]["loader"] == "fast" and record["epochs_run"] <= 4
        if trial.state == TrialState.COMPLETE:
            assert trial.value == pytest.approx(record["val"]["recall@10"])
    import yaml  # the results name the metric the trials returned, not a fixed @20

    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["objectives"] == ["val_recall@10"]
