"""RunRecord: metrics.json as typed dataclasses, read and written without losing a key."""
from __future__ import annotations

import json

from graphrec.reporting.run_record import FORMAT_VERSION, RunRecord, Target
from graphrec.training import train
from conftest import make_cfg

# a record as runs wrote it before format_version (and before optimizer/scheduler, the
# cold lists and data_wait_share existed), with keys this code does not know
OLD = {"status": "diverged", "val": {"recall@20": 0.1, "ndcg@20": 0.05},
       "test": {"recall@20": 0.09}, "best_epoch": 0, "epochs_run": 2, "steps": 7,
       "samples": 448, "validations": 1, "stop_reason": "diverged",
       "throughput": {"samples_per_s": 900.0, "epoch_s": None, "wall_s": 3.5, "gpu_util": 0.4},
       "memory": {"peak_rss_mb": 512.0},
       "data": {"n_users": 10, "meta": {"source": "synthetic"}},
       "run": {"model": "mf", "lr": 0.01, "seed_note": "kept"},
       "device": "cpu", "torch_version": "2.0.0",
       "diverged_at": {"epoch": 1, "step": 7}, "error": "loss is nan",
       "future_section": {"a": [1, 2]}}


def test_round_trip_of_a_real_record(tmp_path):
    cfg = make_cfg(["trainer.epochs=1", "trainer.target.value=0.01"])
    returned = train(cfg, out_dir=str(tmp_path))
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert returned == on_disk and on_disk["format_version"] == FORMAT_VERSION
    record = RunRecord.load(tmp_path)
    out = record.to_json()
    assert out == on_disk and list(out) == list(on_disk)  # same keys, values and order
    assert json.dumps(out) == json.dumps(on_disk)  # nested order too
    assert record.status == "completed" and record.format_version == FORMAT_VERSION
    assert record.split("val")["recall@20"] == on_disk["val"]["recall@20"]
    assert {"val", "test", "val_cold", "test_warm"} <= set(record.scores)
    assert record.throughput.samples_per_s == on_disk["throughput"]["samples_per_s"] > 0
    assert isinstance(record.target, Target) and record.target_reached
    assert record.target.time_to_target_s == on_disk["target"]["time_to_target_s"]
    assert record.run.model == cfg.model.name and record.memory.peak_rss_mb > 0
    assert record.stopped_at is None and record.error is None
    assert record.extra == {} and record.throughput.extra == {}


def test_old_record_without_format_version():
    record = RunRecord.from_json(OLD)
    assert record.format_version is None  # written before the field existed
    assert record.status == "diverged" and record.stopped_at == {"epoch": 1, "step": 7}
    assert record.error == "loss is nan" and record.score("val", "recall@20") == 0.1
    assert record.split("val_cold") == {} and record.target is None
    assert record.throughput.data_wait_share is None and record.throughput.epoch_s is None
    assert record.run.optimizer is None and record.memory.peak_cuda_mb is None
    assert record.to_json() == OLD and list(record.to_json()) == list(OLD)


def test_unknown_keys_are_preserved():
    record = RunRecord.from_json(OLD)
    assert record.extra == {"future_section": {"a": [1, 2]}}
    assert record.throughput.extra == {"gpu_util": 0.4}
    assert record.run.extra == {"seed_note": "kept"}
    out = record.to_json()
    assert out["future_section"] == {"a": [1, 2]} and out["throughput"]["gpu_util"] == 0.4
    assert out["run"]["seed_note"] == "kept" and out["data"]["meta"] == {"source": "synthetic"}


def test_minimal_and_error_records():
    assert RunRecord.from_json({"status": "error", "error": "bad"}).to_json() == \
        {"status": "error", "error": "bad"}
    empty = RunRecord.from_json({})
    assert empty.status == "completed" and empty.throughput.samples_per_s is None
    assert empty.to_json() == {}
    nulls = RunRecord.from_json({"status": "completed", "throughput": None, "target": None})
    assert nulls.throughput.wall_s is None and nulls.target is None
