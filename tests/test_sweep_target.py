"""Sweeps on time to target: trials that miss the target or trail others are pruned, with
the reason; the objective is the wall time to the target, minimised."""
from __future__ import annotations

import csv
import json

import pytest
import yaml
from optuna.trial import TrialState

from graphrec.sweeping.resolvers import sweep_directions
from sweep_helpers import TINY, load_study, rows_arg, train

pytestmark = pytest.mark.slow
TARGET = ["sweep.objective=time_to_target", "trainer.target.value=0.42",
          "trainer.stop_at_target=true", "trainer.epochs=30", "trainer.patience=0",
          "hydra.sweeper.params=null", "model.lr=0.05"]


def test_directions_follow_the_objective():
    assert sweep_directions("time_to_target") == ["minimize"]
    assert sweep_directions("accuracy_at_budget") == ["maximize"]


def test_missed_target_is_a_pruned_trial_with_its_reason(tmp_path):
    rows = {"fast": ["trainer.time_budget_s=30"],
            "starved": ["model.lr=1e-6", "trainer.time_budget_s=0.5"]}
    done = train("-m", f"hydra.sweep.dir={tmp_path}", *TINY, *TARGET,
                 "hydra.sweeper.pruner=null", rows_arg(rows), cwd=tmp_path)
    study = load_study(tmp_path)
    fast, starved = study.trials
    assert study.directions[0].name == "MINIMIZE"
    assert fast.state == TrialState.COMPLETE
    record = json.loads((tmp_path / "0" / "metrics.json").read_text())
    assert fast.values[0] == pytest.approx(record["target"]["time_to_target_s"])
    assert starved.state == TrialState.PRUNED
    assert "not reached" in starved.user_attrs["reason"]
    assert "time_budget" in (tmp_path / "1" / "pruned.txt").read_text()
    line = next(x for x in done.stdout.splitlines() if "trial 2/2 (#1) pruned" in x)
    assert "target recall@20 >= 0.42 not reached" in line and line.endswith(str(tmp_path / "1"))
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["best_trial"] == 0 and results["trials"]["pruned"] == 1


def test_pruner_stops_a_trailing_trial_early(tmp_path):
    # lr 0.05 reaches val Recall@20 ~0.46 at once; at lr 1e-6 it stays at ~0.32 (the
    # initial ranking). The first row sets the pace; the second learns nothing and is stopped by the median
    # pruner at its first validation instead of running its 30 epochs
    rows = {"good": [], "hopeless": ["model.lr=1e-6"]}
    pruner = ["hydra.sweeper.pruner.n_startup_trials=1", "hydra.sweeper.pruner.n_warmup_steps=0"]
    train("-m", f"hydra.sweep.dir={tmp_path}", *TINY, *TARGET, *pruner, rows_arg(rows),
          cwd=tmp_path)
    good, hopeless = load_study(tmp_path).trials
    assert good.state == TrialState.COMPLETE and good.intermediate_values
    assert hopeless.state == TrialState.PRUNED
    assert "pruner" in hopeless.user_attrs["reason"]
    record = json.loads((tmp_path / "1" / "metrics.json").read_text())
    assert record["status"] == "pruned" and record["validations"] == 1
    assert list(hopeless.intermediate_values) == [1]
    # reported as the gap to the target, which the study minimises
    (row,) = csv.DictReader(open(tmp_path / "1" / "epochs.csv"))
    assert hopeless.intermediate_values[1] == pytest.approx(0.42 - float(row["val_recall@20"]))


def test_accuracy_at_budget_returns_val_recall(tmp_path):
    # patience 0: only the budget can end it (1000 epochs take far longer than 1 s), however
    # many validations a loaded machine fits in that second (the budget's end is validated)
    train("-m", f"hydra.sweep.dir={tmp_path}", *TINY, "sweep.objective=accuracy_at_budget",
          "trainer.time_budget_s=1", "trainer.epochs=1000", "trainer.patience=0",
          "hydra.sweeper.params=null", rows_arg({"only": []}), cwd=tmp_path)
    (trial,) = load_study(tmp_path).trials
    record = json.loads((tmp_path / "0" / "metrics.json").read_text())
    assert record["stop_reason"] == "time_budget" and record["epochs_run"] < 1000
    assert record["validations"] >= 1 and record["throughput"]["wall_s"] >= 1
    assert trial.state == TrialState.COMPLETE
    assert trial.values[0] == pytest.approx(record["val"]["recall@20"])
