"""Every option of every group composes; wrong keys, types and combinations fail early."""
from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException as HydraCompositionError
from omegaconf import OmegaConf

from graphrec.config import ConfigError, validate

from conftest import CONF, make_cfg

GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())


def _options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in _options(g)])
def test_every_option_composes(group, option):
    extra = []
    if group == "data" and option in ("clcrec", "movielens"):
        extra = [f"data.path=/nonexistent/{option}"]
    if group == "experiment":  # whole setups, outside the defaults list: `+experiment=`
        cfg = make_cfg([f"+{group}={option}"], tiny=False)
        if OmegaConf.is_missing(cfg.data, "path"):  # the user's to give (recbole_*: ml-100k)
            cfg.data.path = "/nonexistent"
        validate(cfg)
        return
    if (group, option) == ("optimizer", "lazy_adam"):  # row gradients: MF's lean step
        extra = ["model=mf"]
    cfg = make_cfg([f"{group}={option}"] + extra, tiny=False)
    assert cfg[group] is not None
    if group != "data":
        try:
            validate(cfg)
        except ConfigError as exc:  # only the CUDA-only options may be refused here
            assert not torch.cuda.is_available() and "CUDA" in str(exc)


def test_unknown_key_fails_at_compose():
    with pytest.raises(HydraCompositionError):
        make_cfg(["trainer.epochz=3"])


def test_wrong_type_fails_at_compose():
    with pytest.raises(HydraCompositionError):
        make_cfg(["batch.size=big"])


@pytest.mark.parametrize("override,key", [
    ("batch.size=0", "batch.size"),
    ("sampling.num_neg=0", "sampling.num_neg"),
    ("loader.num_workers=-1", "loader.num_workers"),
    ("model.lr=0", "model.lr"),
    ("trainer.patience=-1", "trainer.patience"),
    ("trainer.ks=[0]", "trainer.ks"),
    ("trainer.device=tpu", "trainer.device"),
    ("precision.mode=fp8", "precision.mode"),
])
def test_bad_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(make_cfg([override]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_amp_fp16_on_cpu_is_refused_before_training():
    with pytest.raises(ConfigError, match="amp_fp16.*CUDA"):
        validate(make_cfg(["precision=amp_fp16", "trainer.device=cpu"]))


def test_num_neg_must_leave_candidates(tmp_path):
    from graphrec.training import train

    with pytest.raises(ConfigError, match="sampling.num_neg"):
        train(make_cfg(["sampling.num_neg=100000"]), out_dir=str(tmp_path))
    assert not (tmp_path / "metrics.json").exists()


def test_seed_loader_num_neg_must_fit_the_busiest_user(tmp_path):
    """The seed's Dataset draws without replacement: num_neg must fit every user's pool."""
    from graphrec.training import train

    over = ["loader=baseline", "data.n_users=200", "data.n_items=300", "sampling=neg128"]
    with pytest.raises(ConfigError, match="without replacement"):
        train(make_cfg(over, tiny=False), out_dir=str(tmp_path))


def test_default_sweep_negatives_all_fit_the_default_data():
    """Issue 11.7: no choice of the default space fails on the default data, with either
    loader (the seed's draws without replacement are the stricter)."""
    from graphrec.config import validate_against_data
    from graphrec.data import load_data

    with initialize_config_dir(config_dir=str(CONF)):
        base = compose("config", return_hydra_config=True)
    space = base.hydra.sweeper.params["sampling.num_neg"]
    choices = [int(v) for v in space[space.index("(") + 1:space.rindex(")")].split(",")]
    data = load_data(base.data)
    for loader in ("fast", "baseline"):
        for num_neg in choices:
            cfg = make_cfg([f"loader={loader}", f"sampling.num_neg={num_neg}"], tiny=False)
            validate_against_data(cfg, data)


def test_seed_experiment_is_the_seed_run():
    """+experiment=seed: CLCRec main.py's defaults with its README command's temp and lambda."""
    cfg = make_cfg(["+experiment=seed"], tiny=False)
    assert (cfg.loader.kind, cfg.loader.num_workers, cfg.batch.size, cfg.sampling.num_neg,
            cfg.precision.mode) == ("baseline", 1, 256, 512, "fp32")
    assert (cfg.model.name, cfg.model.lr, cfg.model.temp_value, cfg.model.lr_lambda,
            cfg.model.reg_weight) == ("clcrec", 0.001, 2.0, 0.5, 0.1)
    assert (cfg.trainer.seed, cfg.trainer.monitor, cfg.trainer.patience) == (1, "recall@10", 7)
    clcrec = make_cfg(["+experiment=seed", "data=clcrec", "data.path=/x",
                       "data.exclude_heldout=true"], tiny=False)
    assert clcrec.data.exclude_heldout and clcrec.loader.kind == "baseline"


def test_protocol_is_recorded_and_the_seed_preset_uses_clcrecs(tmp_path):
    from graphrec.training import train

    metrics = train(make_cfg(["trainer.epochs=1"]), str(tmp_path))
    assert metrics["evaluation"]["exclude"] == "train_val"
    assert make_cfg(["+experiment=seed"], tiny=False).evaluation.exclude == "train"
    with pytest.raises(ConfigError, match="evaluation.exclude"):
        validate(make_cfg(["evaluation.exclude=all"]))


@pytest.mark.parametrize("override", ["model=mf model.lr_lambda=0.3",
                                      "model=lightgcn model.encoder_hidden=8",
                                      "model=mf model.n_layers=2",
                                      "model=clcrec model.n_layers=2"])
def test_a_key_of_another_model_fails_at_compose(override):
    """Issue 13.1: each model has its own schema; a key it does not read is refused."""
    with pytest.raises(HydraCompositionError, match=override.split()[1].split("=")[0]
                       .split(".")[1]):
        make_cfg(override.split())


def test_model_init_is_checked():
    with pytest.raises(ConfigError, match=r"model\.init"):
        validate(make_cfg(["model=mf", "model.init=zeros"]))


@pytest.mark.parametrize("how", ["normal", "xavier_normal", "xavier_uniform"])
def test_model_init_sets_the_tables(how):
    import math

    from graphrec.data import load_data
    from graphrec.models import build_model

    cfg = make_cfg(["model=mf", f"model.init={how}", "model.dim=32"])
    torch.manual_seed(0)
    model = build_model(cfg.model, load_data(cfg.data), "lean")
    std = float(model.item_emb.detach().std())
    n = model.item_emb.shape[0]
    expected = 0.1 if how == "normal" else math.sqrt(2.0 / (n + 32))
    assert abs(std - expected) / expected < 0.1
