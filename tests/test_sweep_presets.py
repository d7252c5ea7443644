"""Every named sweep (``sweeps/*.yaml``) composes, and every listed row of one composes and
passes validation as the trial it launches (rows are cumulative: a key one model's row sets
must exist in the later rows' models)."""
from __future__ import annotations

import importlib.util

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from conftest import CONF, ROOT
from graphrec.config import validate
from graphrec.sweeping.sweeper import GraphrecSweeperImpl

PRESETS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))
NEEDS = {"parallel_accuracy": "hydra_plugins.hydra_joblib_launcher",  # launcher plugins
         "slurm": "hydra_plugins.hydra_submitit_launcher"}
EXTRA = {"models": ["data.path=x"], "slurm": ["hydra.launcher.partition=gpu"]}


def compose_preset(name: str, *overrides: str):
    if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
        pytest.skip(f"{NEEDS[name]} is not installed")
    with initialize_config_dir(config_dir=str(CONF)):
        return compose("config", overrides=[f"+sweeps={name}", *EXTRA.get(name, []),
                                            *overrides], return_hydra_config=True)


def row_jobs(cfg, repeats=None) -> list:
    sweeper = cfg.hydra.sweeper
    impl = GraphrecSweeperImpl(study_name="s", rows=OmegaConf.to_container(sweeper.rows),
                               repeats=repeats or sweeper.repeats)
    impl.config = cfg
    return impl._row_overrides({}, [])


@pytest.mark.parametrize("name", PRESETS)
def test_preset_composes_and_its_rows_validate(name):
    cfg = compose_preset(name)
    assert cfg.hydra.sweeper._target_.endswith("GraphrecSweeper")
    for _, job in row_jobs(cfg, repeats=1) if cfg.hydra.sweeper.rows else []:
        validate(compose_preset(name, *job))


@pytest.mark.parametrize("split", ["cold_items", "recbole_rs"])
def test_models_preset_runs_every_model_three_seeds(split):
    cfg = compose_preset("models", f"data.split={split}")
    assert cfg.hydra.sweeper.study_name == f"models-ml-100k-{split}"
    jobs = row_jobs(cfg)
    assert [n for n, _ in jobs[::3]] == ["mf", "clcrec", "vbpr", "dropoutnet", "lightgcn",
                                         "mmgcn"]
    assert [n for n, _ in jobs] == [n for n, _ in jobs[::3] for _ in range(3)]
    for _, job in jobs[::3]:
        run = compose_preset("models", f"data.split={split}", *job)
        assert run.trainer.patience > 0 and run.trainer.eval_every == 1
        assert 0 < run.trainer.epochs <= 80 and run.data.split == split
    seeds = [[o for o in job if o.startswith("trainer.seed=")] for _, job in jobs[:4]]
    assert seeds == [["trainer.seed=2020"], ["trainer.seed=2021"], ["trainer.seed=2022"],
                     ["trainer.seed=2020"]]
