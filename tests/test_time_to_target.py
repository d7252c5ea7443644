"""Time to quality: the curve on the clock, the quality target, the time budget."""
from __future__ import annotations

import csv
import json

import pytest

from graphrec.config import ConfigError, validate
from graphrec.training import train
from conftest import make_cfg


def _rows(folder):
    with open(folder / "epochs.csv") as fh:
        return list(csv.DictReader(fh))


def test_epochs_csv_grows_during_the_run_with_the_clock(tmp_path):
    seen = []

    def report(n, values):  # called at each validation: the file must already hold the rows
        seen.append(len(_rows(tmp_path)))
        return False

    metrics = train(make_cfg(["trainer.epochs=3", "trainer.patience=0"]), str(tmp_path),
                    report=report)
    assert seen == [0, 1, 2]  # written row by row, not at the end
    rows = _rows(tmp_path)
    assert len(rows) == 3
    wall = [float(r["wall_s"]) for r in rows]
    assert wall == sorted(wall) and wall[0] > 0
    for r in rows:  # wall = training + validation (+ nothing else on this clock)
        assert float(r["wall_s"]) == pytest.approx(float(r["train_s"]) + float(r["eval_s"]),
                                                   abs=2e-3)
        assert float(r["eval_s"]) > 0 and r["val_recall@20"]
    assert [int(r["samples"]) for r in rows] == [metrics["data"]["n_train"] * k for k in (1, 2, 3)]
    tp = metrics["throughput"]
    assert tp["wall_s"] == pytest.approx(wall[-1], abs=0.05)
    assert tp["train_s"] + tp["eval_s"] == pytest.approx(tp["wall_s"])


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


def test_eval_every_s_gives_a_curve_within_one_epoch(tmp_path):
    # one long epoch (small batches) validated on the clock
    metrics = train(make_cfg(["trainer.epochs=1", "batch.size=8", "trainer.eval_every=0",
                              "trainer.eval_every_s=0.05", "trainer.patience=0"]),
                    str(tmp_path))
    rows = [r for r in _rows(tmp_path) if r["val_recall@20"]]
    assert len(rows) >= 3 and metrics["validations"] == len(rows)
    gaps = [float(b["train_s"]) - float(a["train_s"]) for a, b in zip(rows, rows[1:])]
    assert min(gaps[:-1]) >= 0.05  # the last one may be the epoch's end


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


def test_time_budget_stops_training_then_validates(tmp_path):
    budget = 1.0
    metrics = train(make_cfg(["trainer.epochs=1000", "batch.size=16", "trainer.patience=0",
                              "trainer.eval_every=5", f"trainer.time_budget_s={budget}"]),
                    str(tmp_path))
    assert metrics["status"] == "completed" and metrics["stop_reason"] == "time_budget"
    rows = _rows(tmp_path)
    last = rows[-1]
    assert last["val_recall@20"]  # the budget's end is validated
    wall = metrics["throughput"]["wall_s"]
    assert budget <= wall < budget + 1.0
    assert metrics["epochs_run"] < 1000


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

