"""Launcher presets (`sweeps/`): each composes; the joblib one runs a 2-trial sweep."""
from __future__ import annotations

import json

import pytest
import yaml
from optuna.trial import TrialState

from sweep_helpers import TINY, config, load_study, train

pytestmark = pytest.mark.slow


@pytest.fixture
def joblib_launcher():
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher",
                        reason="pip install -e \".[joblib]\" (make test installs it)")


def test_parallel_accuracy_preset_composes(joblib_launcher, tmp_path):
    cfg = config(tmp_path, "+sweeps=parallel_accuracy")
    assert cfg["hydra"]["launcher"]["_target_"].endswith("JoblibLauncher")
    assert cfg["hydra"]["sweeper"]["n_jobs"] == cfg["hydra"]["launcher"]["n_jobs"] == 2
    assert cfg["hydra"]["sweeper"]["direction"] == ["maximize"]
    assert cfg["sweep"]["objective"] == "accuracy"


def test_parallel_accuracy_sweep_runs_two_trials(joblib_launcher, tmp_path):
    train("-m", "+sweeps=parallel_accuracy", f"hydra.sweep.dir={tmp_path}",
          "hydra.sweeper.n_trials=2", *TINY, cwd=tmp_path)
    study = load_study(tmp_path)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert len(study.directions) == 1
    for trial in study.trials:
        folder = tmp_path / str(trial.number)
        record = json.loads((folder / "metrics.json").read_text())
        assert trial.value == pytest.approx(record["val"]["recall@20"])
        hydra_cfg = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())["hydra"]
        assert hydra_cfg["launcher"]["_target_"].endswith("JoblibLauncher")
        assert hydra_cfg["job"]["num"] == trial.number
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["objectives"] == ["val_recall@20"]
    assert results["best_trial"] in (0, 1)


def test_slurm_preset_composes(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher",
                        reason="pip install -e \".[slurm]\" (make test installs it)")
    cfg = config(tmp_path, "+sweeps=slurm", "hydra.launcher.partition=gpu")
    launcher = cfg["hydra"]["launcher"]
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert (launcher["gpus_per_node"], launcher["tasks_per_node"], launcher["partition"]) == (
        1, 1, "gpu")
    assert launcher["submitit_folder"].startswith("multirun/clcrec-synthetic-both/")
    assert cfg["hydra"]["sweeper"]["n_jobs"] == 4
    assert cfg["hydra"]["sweeper"]["params"]["loader.num_workers"] == "choice(0,1,2,4,8)"
    assert cfg["trainer"]["device"] == "cuda"
