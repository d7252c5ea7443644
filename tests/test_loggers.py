"""The ``logger`` group: every option composes, wrong keys fail at composition, and a run's
TensorBoard event files hold what TensorBoard will show (read with its own event reader)."""
from __future__ import annotations

import csv

import pytest
from hydra.errors import ConfigCompositionException as HydraCompositionError

from graphrec.config import ConfigError, validate
from graphrec.training import train
from conftest import CONF, make_cfg

OPTIONS = sorted(p.stem for p in (CONF / "logger").glob("*.yaml"))
MF = ["model=mf", "loader=fast", "trainer.epochs=2"]  # a few seconds on tiny data


@pytest.mark.parametrize("choice", OPTIONS + [f"[{','.join(OPTIONS)}]"])
def test_every_logger_choice_composes(choice):
    cfg = make_cfg([f"logger={choice}"])
    chosen = [name for name, opts in cfg.logger.items() if opts is not None]
    assert chosen == [o for o in OPTIONS if o in choice]
    validate(cfg)


def test_csv_is_the_default_logger():
    cfg = make_cfg()
    assert cfg.logger.csv is not None and cfg.logger.tensorboard is None


@pytest.mark.parametrize("overrides", [
    ["logger.csv.every=1"],                                             # csv has no keys
    ["logger=[csv,tensorboard]", "logger.tensorboard.flush_secz=5"],    # a typo
    ["logger=tensorboard", "logger.tensorboard.flush_secs=soon"],       # a wrong type
    ["logger.tensorboard.dir=tb2"],                                     # not selected
])
def test_wrong_logger_key_fails_at_compose(overrides):
    with pytest.raises(HydraCompositionError):
        make_cfg(overrides)


@pytest.mark.parametrize("override,key", [
    ("logger.tensorboard.flush_secs=0", "logger.tensorboard.flush_secs"),
    ("logger.tensorboard.dir=../elsewhere", "logger.tensorboard.dir"),
])
def test_bad_tensorboard_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(make_cfg(["logger=[csv,tensorboard]", override]))


def test_tensorboard_without_its_package_is_refused_before_any_work(monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else find_spec(name, *a))
    with pytest.raises(ConfigError, match=r"pip install -e \"\.\[tensorboard\]\""):
        validate(make_cfg(["logger=tensorboard"]))


def test_tensorboard_events_hold_steps_validations_config_and_hparams(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    metrics = train(make_cfg(MF + ["logger=[csv,tensorboard]"]), out_dir=str(tmp_path))
    with open(tmp_path / "epochs.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == metrics["validations"] == 2  # csv as before, beside TensorBoard

    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    for tag in ("train/loss", "train/samples_per_s", "train/data_wait_share", "train/lr",
                "memory/peak_rss_mb", "val/recall@20", "val/ndcg@10", "clock/wall_s",
                "final/val_recall@20", "final/test_recall@20", "final/samples_per_s"):
        assert tag in scalars, tag
    steps = [e.step for e in events.Scalars("train/loss")]
    assert steps == list(range(5, metrics["steps"] + 1, 5))  # each log point (TINY: 5 steps)
    val = events.Scalars("val/recall@20")
    assert [e.step for e in val] == [int(r["step"]) for r in rows]
    assert val[-1].value == pytest.approx(float(rows[-1]["val_recall@20"]))
    assert events.Scalars("final/val_recall@20")[-1].value == \
        pytest.approx(metrics["val"]["recall@20"])
    assert events.Scalars("train/lr")[0].value == pytest.approx(metrics["run"]["lr"], rel=1e-6)

    text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "name: mf" in text and "num_neg: 32" in text

    hparams = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        hparams["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["model.name"].string_value == "mf"
    assert start.hparams["batch.size"].number_value == 64
    assert start.hparams["status"].string_value == "completed"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        hparams["_hparams_/experiment"]).experiment
    assert "final/val_recall@20" in {m.name.tag for m in experiment.metric_infos}


def test_csv_only_run_writes_no_event_files(tmp_path):
    train(make_cfg(MF + ["trainer.epochs=1"]), out_dir=str(tmp_path))
    assert (tmp_path / "epochs.csv").is_file() and not (tmp_path / "tb").exists()


def test_resumed_run_replaces_the_steps_after_its_checkpoint(tmp_path):
    """An interrupted run's events after its checkpoint are purged, as epochs.csv's rows are:
    each step is in the curve once."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    over = MF + ["logger=[csv,tensorboard]"]
    cut = train(make_cfg(over + ["trainer.fail_after_steps=12", "trainer.fail_kind=interrupt"]),
                out_dir=str(tmp_path))
    assert cut["status"] == "interrupted"
    done = train(make_cfg(over + [f"trainer.resume={tmp_path}"]))
    assert done["status"] == "completed"
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    steps = [e.step for e in events.Scalars("train/loss")]
    assert steps == sorted(set(steps)) and steps[-1] >= done["steps"] - 5
    assert len(events.Scalars("final/val_recall@20")) == 1  # the interrupted run wrote none
