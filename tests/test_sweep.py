"""``python train.py -m``: the Optuna sweep, resume, failing trials, listed rows."""
from __future__ import annotations

import json
import shutil

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from graphrec.sweeping.resolvers import choice_upto_cores, sweep_directions
from graphrec.sweeping.sampler import TrialSeededSampler
from sweep_helpers import TINY, config, load_study, rows_arg, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A 2-trial default sweep (both objectives) on tiny data."""
    out = tmp_path_factory.mktemp("sweep")
    train("-m", f"hydra.sweep.dir={out}", "hydra.sweeper.n_trials=2", *TINY, cwd=out)
    return out


def test_two_trial_sweep_records_trials_and_pareto_front(sweep_dir):
    study = load_study(sweep_dir)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert len(study.directions) == 2
    for trial in study.trials:
        folder = sweep_dir / str(trial.number)
        assert trial.user_attrs["run_dir"] == str(folder)
        assert "loader.num_workers" not in trial.params  # TINY fixes loader=fast: ignored
        assert "batch.size" not in trial.params  # TINY fixes it: a plain value, not searched
        record = json.loads((folder / "metrics.json").read_text())
        assert record["status"] == "completed"
        assert trial.values[0] == pytest.approx(record["throughput"]["samples_per_s"])
        assert trial.values[1] == pytest.approx(record["val"]["recall@20"])
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["objectives"] == ["samples_per_s", "val_recall@20"]
    assert results["trials"]["complete"] == 2
    assert {s["trial"] for s in results["solutions"]} <= {0, 1}


def test_resume_continues_numbers_and_folders_and_proposes_new_points(sweep_dir, tmp_path):
    resumed = tmp_path / "sweep"
    shutil.copytree(sweep_dir, resumed)
    before = {n: (resumed / str(n) / "metrics.json").read_bytes() for n in (0, 1)}
    train("-m", f"hydra.sweep.dir={resumed}", "hydra.sweeper.n_trials=1", *TINY, cwd=tmp_path)
    study = load_study(resumed)
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for n in (0, 1):  # earlier trials untouched
        assert (resumed / str(n) / "metrics.json").read_bytes() == before[n]
    hydra_cfg = yaml.safe_load((resumed / "2" / ".hydra" / "hydra.yaml").read_text())
    assert hydra_cfg["hydra"]["job"]["num"] == 2
    first, again = study.trials[0].params, study.trials[2].params
    assert first["model.lr"] != again["model.lr"]  # not the first proposal again


def test_failing_trials_are_recorded_and_the_sweep_goes_on(tmp_path):
    rows = {"first": ["trainer.seed=0"],
            "impossible": ["sampling.num_neg=500"],           # ConfigError: > 68 candidates
            "crash": ["sampling.num_neg=4", "trainer.fail_after_steps=1"],
            "second": ["trainer.seed=1", "trainer.fail_after_steps=0"]}
    train("-m", f"hydra.sweep.dir={tmp_path}", "hydra.sweeper.params=null", rows_arg(rows),
          *TINY, cwd=tmp_path)
    study = load_study(tmp_path)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert [t.user_attrs["row"] for t in study.trials] == list(rows)
    assert "ConfigError" in study.trials[1].user_attrs["error"]
    assert "sampling.num_neg" in (tmp_path / "1" / "error.txt").read_text()
    assert "injected failure" in study.trials[2].user_attrs["error"]
    assert "injected failure" in (tmp_path / "2" / "error.txt").read_text()
    overrides = yaml.safe_load((tmp_path / "2" / ".hydra" / "overrides.yaml").read_text())
    assert "trainer.seed=0" in overrides  # rows are cumulative
    assert json.loads((tmp_path / "3" / "metrics.json").read_text())["status"] == "completed"


def test_repeats_run_each_row_with_consecutive_seeds(tmp_path):
    rows = {"a": ["trainer.seed=3"], "b": ["model.lr=0.01"]}
    train("-m", f"hydra.sweep.dir={tmp_path}", "hydra.sweeper.params=null", rows_arg(rows),
          "hydra.sweeper.repeats=2", *TINY, cwd=tmp_path)
    study = load_study(tmp_path)
    assert [t.user_attrs["row"] for t in study.trials] == ["a", "a", "b", "b"]
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    got = []
    for n in range(4):
        cfg = yaml.safe_load((tmp_path / str(n) / ".hydra" / "config.yaml").read_text())
        got.append((cfg["sweep"]["label"], cfg["trainer"]["seed"]))
    assert got == [("a", 3), ("a", 4), ("b", 3), ("b", 4)]


def test_sweep_stops_past_max_failure_rate(tmp_path):
    rows = {"impossible": ["sampling.num_neg=500"], "never": ["sampling.num_neg=4"]}
    done = train("-m", f"hydra.sweep.dir={tmp_path}", "hydra.sweeper.params=null",
                 "hydra.sweeper.max_failure_rate=0", rows_arg(rows), *TINY, cwd=tmp_path,
                 check=False)
    assert done.returncode != 0
    assert "max_failure_rate" in done.stderr
    assert not (tmp_path / "1").exists()
    assert [t.state for t in load_study(tmp_path).trials] == [TrialState.FAIL]


def test_default_sweep_config(tmp_path):
    cfg = config(tmp_path)
    sweeper = cfg["hydra"]["sweeper"]
    assert sweeper["_target_"].endswith("GraphrecSweeper")
    assert sweeper["direction"] == ["maximize", "maximize"]
    assert sweeper["storage"] == "sqlite:///multirun/clcrec-synthetic-both/study.db"
    assert cfg["hydra"]["sweep"]["dir"] == "multirun/clcrec-synthetic-both"
    assert set(sweeper["params"]) >= {"loader", "loader.num_workers", "batch.size", "model.lr",
                                      "sampling.num_neg"}
    assert sweeper["conditions"] == {"loader.num_workers": {"loader": ["workers"]}}
    assert (sweeper["heartbeat_interval"], sweeper["grace_period"]) == (60, 180)
    assert config(tmp_path, "sweep.objective=accuracy")["hydra"]["sweeper"]["direction"] == [
        "maximize"]


def test_seed_guide_lists_the_guides_rows(tmp_path):
    cfg = config(tmp_path, "+sweeps=seed_guide", "data=synthetic")
    rows = cfg["hydra"]["sweeper"]["rows"]
    assert list(rows) == ["original", "workers_auto", "batch_512", "pin_memory", "amp",
                          "extreme", "fast_path", "fast_seed_maths"]
    assert rows["original"] == ["loader=baseline", "loader.num_workers=1", "batch=b256",
                                "precision=fp32", "sampling=neg512"]
    assert cfg["hydra"]["sweeper"]["params"] is None
    # every row is timed to one target, to the end: no pruner, a stop at the target, a cap
    assert cfg["sweep"]["objective"] == "time_to_target"
    assert cfg["hydra"]["sweeper"]["pruner"] is None
    assert cfg["trainer"]["stop_at_target"] and cfg["trainer"]["target"]["value"] > 0
    assert cfg["trainer"]["time_budget_s"] > 0 and cfg["trainer"]["eval_every_s"] > 0
    assert cfg["hydra"]["launcher"]["_target_"].endswith("BasicLauncher")
    assert cfg["data"]["name"] == "synthetic"


def test_worker_choices_are_capped_by_cores(monkeypatch):
    monkeypatch.setattr("graphrec.sweeping.resolvers.usable_cores", lambda: 2)
    assert choice_upto_cores(0, 1, 2, 4, 8) == "choice(0,1,2)"
    with pytest.raises(ValueError, match="sweep.objective"):
        sweep_directions("speed")


def _proposals(storage, n: int, seed=0) -> list:
    def make(s):
        return optuna.samplers.TPESampler(seed=s)
    study = optuna.create_study(study_name="s", storage=storage, load_if_exists=True,
                                sampler=TrialSeededSampler(make, seed))
    return [study.ask().suggest_float("x", 0, 1) for _ in range(n)]


def test_sampler_is_seeded_per_trial_not_per_process():
    storage = optuna.storages.InMemoryStorage()
    first = _proposals(storage, 2)
    resumed = _proposals(storage, 2)  # a new process on the same study
    assert len(set(first + resumed)) == 4
    assert _proposals(optuna.storages.InMemoryStorage(), 2) == first  # reproducible
