"""Time to quality: the curve on the clock, the quality target, the time budget."""
from __future__ import annotations

import csv
import json
import logging
import types

import pytest

import graphrec.training.clock as clock_module
import graphrec.training.loop as loop_module
from graphrec.config import ConfigError, validate
from graphrec.training import train
from conftest import make_cfg

TICK = 1e-3  # fake seconds per reading of the run's clock


def _rows(folder):
    with open(folder / "epochs.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def fake_clock(monkeypatch):
    """The run's clock (graphrec/training/clock.py) on a counter: each reading advances it by
    TICK and each evaluation by ``eval_cost`` seconds, so what a test sees depends on the
    steps and validations the run makes, not on how loaded the machine is."""
    fake = types.SimpleNamespace(now=0.0, eval_cost=0.0)

    def perf_counter():
        fake.now += TICK
        return fake.now

    def evaluate(*args, **kwargs):
        fake.now += fake.eval_cost
        return real_eval(*args, **kwargs)

    real_eval = loop_module._flat_eval
    monkeypatch.setattr(clock_module, "time", types.SimpleNamespace(perf_counter=perf_counter))
    monkeypatch.setattr(loop_module, "_flat_eval", evaluate)
    return fake


def test_epochs_csv_grows_during_the_run_with_the_clock(tmp_path, fake_clock):
    fake_clock.eval_cost = 1.0  # each validation: one second on the clock
    seen = []

    def report(n, values):  # called at each validation: the file must already hold the rows
        seen.append(len(_rows(tmp_path)))
        return False

    metrics = train(make_cfg(["trainer.epochs=3", "trainer.patience=0"]), str(tmp_path),
                    report=report)
    assert seen == [0, 1, 2]  # written row by row, not at the end
    rows = _rows(tmp_path)
    assert len(rows) == 3 and all(r["val_recall@20"] for r in rows)
    wall = [float(r["wall_s"]) for r in rows]
    train_s = [float(r["train_s"]) for r in rows]
    assert wall == sorted(wall) and train_s == sorted(train_s) and train_s[0] > 0
    # each validation is counted once, as validation time, and not as training time
    assert [float(r["eval_s"]) for r in rows] == pytest.approx([1, 2, 3], abs=0.01)
    assert train_s[-1] < 1
    assert [int(r["samples"]) for r in rows] == [metrics["data"]["n_train"] * k for k in (1, 2, 3)]
    tp = metrics["throughput"]  # the final evaluation (val and test: 2 s more) is off the clock
    assert tp["wall_s"] == pytest.approx(wall[-1], abs=0.01)
    assert tp["eval_s"] == pytest.approx(float(rows[-1]["eval_s"]), abs=0.01)


def test_eval_every_steps_validates_inside_epochs(tmp_path):
    metrics = train(make_cfg(["trainer.epochs=2", "trainer.eval_every=0",
                              "trainer.eval_every_steps=2", "trainer.patience=0"]),
                    str(tmp_path))
    rows = _rows(tmp_path)
    evaluated = [int(r["step"]) for r in rows if r["val_recall@20"]]
    steps_per_epoch = metrics["steps"] // 2
    assert evaluated == list(range(2, metrics["steps"] + 1, 2))
    assert metrics["validations"] == len(evaluated) > 2 * 1
    assert any(not r["epoch_s"] for r in rows) and steps_per_epoch > 2


def test_eval_every_s_gives_a_curve_within_one_epoch(tmp_path, fake_clock):
    # one long epoch (small batches, ~480 steps, a few clock readings each) validated on the clock
    metrics = train(make_cfg(["trainer.epochs=1", "batch.size=8", "trainer.eval_every=0",
                              "trainer.eval_every_s=0.05", "trainer.patience=0"]),
                    str(tmp_path))
    rows = [r for r in _rows(tmp_path) if r["val_recall@20"]]
    assert len(rows) >= 4 and metrics["validations"] == len(rows)
    gaps = [float(b["train_s"]) - float(a["train_s"]) for a, b in zip(rows, rows[1:])]
    # due once 0.05 s of training passed, and validated at that step
    assert all(0.05 <= g < 0.05 + 10 * TICK for g in gaps), gaps


def test_target_reached_is_timed_at_the_first_validation_above_it(tmp_path):
    probe = train(make_cfg(["trainer.epochs=4", "trainer.patience=0"]), str(tmp_path / "a"))
    curve = [float(r["val_recall@20"]) for r in _rows(tmp_path / "a")]
    value = round((curve[0] + max(curve)) / 2, 4)  # above the first validation, reached later
    assert curve[0] < value <= max(curve)
    metrics = train(make_cfg(["trainer.epochs=4", "trainer.patience=0",
                              f"trainer.target.value={value}"]), str(tmp_path / "b"))
    rows = _rows(tmp_path / "b")
    first = next(r for r in rows if float(r["val_recall@20"]) >= value)
    target = json.loads((tmp_path / "b" / "metrics.json").read_text())["target"]
    assert target["target_reached"] is True and target["metric"] == "recall@20"
    assert target["time_to_target_s"] == pytest.approx(float(first["wall_s"]))
    assert target["train_s_to_target"] == pytest.approx(float(first["train_s"]))
    assert target["samples_to_target"] == int(first["samples"])
    assert target["epochs_to_target"] == pytest.approx(int(first["samples"]) /
                                                       metrics["data"]["n_train"])
    assert metrics["epochs_run"] == 4  # without stop_at_target the run goes on


def test_stop_at_target_ends_the_run_there(tmp_path):
    metrics = train(make_cfg(["trainer.epochs=20", "trainer.patience=0",
                              "trainer.target.value=0.01", "trainer.stop_at_target=true"]),
                    str(tmp_path))
    assert metrics["status"] == "completed" and metrics["stop_reason"] == "target"
    assert metrics["epochs_run"] == 1 and metrics["target"]["target_reached"]


def test_target_not_reached_is_null(tmp_path):
    metrics = train(make_cfg(["trainer.epochs=1", "trainer.target.value=0.999"]),
                    str(tmp_path))
    target = metrics["target"]
    assert target["target_reached"] is False
    assert all(target[k] is None for k in ("time_to_target_s", "train_s_to_target",
                                           "epochs_to_target", "samples_to_target"))


def test_no_target_no_record(tmp_path):
    assert "target" not in train(make_cfg(["trainer.epochs=1"]), str(tmp_path))


def test_time_budget_stops_training_then_validates(tmp_path, fake_clock):
    budget = 0.3  # ~300 steps at a reading a step: in the second epoch, before its validation
    metrics = train(make_cfg(["trainer.epochs=1000", "batch.size=16", "trainer.patience=0",
                              "trainer.eval_every=5", f"trainer.time_budget_s={budget}"]),
                    str(tmp_path))
    assert metrics["status"] == "completed" and metrics["stop_reason"] == "time_budget"
    rows = _rows(tmp_path)
    last = rows[-1]
    assert last["val_recall@20"] and metrics["validations"] == 1  # the budget's end, validated
    assert int(last["step"]) == metrics["steps"]
    wall = metrics["throughput"]["wall_s"]
    assert budget <= wall < budget + 10 * TICK  # stopped at the first step past it
    assert 1 <= metrics["epochs_run"] - 1 < 5


def test_epoch_cut_at_a_validation_logs_its_own_rate(tmp_path, fake_clock, caplog):
    # the first validation (0.05 s of training, mid-epoch) takes the run past its budget: the
    # epoch ends there with no step since that row, and is still logged at its samples/s
    fake_clock.eval_cost = 1.0
    caplog.set_level(logging.INFO, logger="graphrec.training.loop")
    metrics = train(make_cfg(["trainer.epochs=5", "batch.size=8", "trainer.patience=0",
                              "trainer.eval_every=0", "trainer.eval_every_s=0.05",
                              "trainer.time_budget_s=0.5"]), str(tmp_path))
    assert metrics["stop_reason"] == "time_budget" and metrics["validations"] == 1
    (row,) = _rows(tmp_path)
    assert metrics["epochs_run"] == 1 and int(row["step"]) == metrics["steps"] < 400
    (epoch,) = [r for r in caplog.records if r.msg.startswith("epoch %d | loss")]
    rate = epoch.args[2]  # the epoch's samples over its training time
    assert rate == pytest.approx(metrics["samples"] / float(row["train_s"]), rel=0.05)


def test_pruning_callback_stops_the_run(tmp_path):
    metrics = train(make_cfg(["trainer.epochs=5", "trainer.patience=0"]), str(tmp_path),
                    report=lambda n, values: n == 2)
    assert metrics["status"] == "pruned" and metrics["validations"] == 2
    assert metrics["epochs_run"] == 2 and "test" not in metrics


@pytest.mark.parametrize("over,key", [
    (["trainer.stop_at_target=true"], "trainer.stop_at_target"),
    (["sweep.objective=time_to_target"], "sweep.objective"),
    (["sweep.objective=accuracy_at_budget"], "sweep.objective"),
    (["trainer.target.metric=recall@50"], "trainer.target.metric"),
    (["trainer.time_budget_s=-1"], "trainer.time_budget_s"),
    (["trainer.eval_every_s=-1"], "trainer.eval_every_s"),
])
def test_clock_options_are_validated(over, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(make_cfg(over))


def test_interrupted_run_resumes_its_clock_and_curve(tmp_path):
    over = ["trainer.epochs=3", "trainer.patience=0"]
    first = train(make_cfg(over + ["trainer.fail_after_steps=7",
                                   "trainer.fail_kind=interrupt"]), str(tmp_path))
    assert first["status"] == "interrupted"
    before = _rows(tmp_path)
    resumed = train(make_cfg(over + [f"trainer.resume={tmp_path}"]))
    rows = _rows(tmp_path)
    assert rows[:len(before)] == before and len(rows) == 3
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    wall = [float(r["wall_s"]) for r in rows]
    assert wall == sorted(wall)
    assert resumed["throughput"]["wall_s"] >= first["throughput"]["wall_s"]

