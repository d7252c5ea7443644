"""A long run says its projected training time once, after its first log interval: epochs x
the measured epoch time, bounded by max_steps and the time budget (rates given: no clock)."""
from __future__ import annotations

import logging

from omegaconf import OmegaConf

from conftest import make_cfg
from graphrec.training import cost, train


def config(epochs=10, max_steps=0, budget=0.0, loader="baseline", compile=False, batch=256):
    return OmegaConf.create({"trainer": {"epochs": epochs, "max_steps": max_steps,
                                         "time_budget_s": budget, "compile": compile},
                             "batch": {"size": batch}, "loader": {"kind": loader}})


def test_a_long_run_says_epochs_times_epoch_time_once():
    projection = cost.Projection(config(), steps_per_epoch=100)
    text = projection.after_log(300.0)  # 100 steps x 256 / 300 = 85.3 s an epoch
    assert text.startswith("this run will train for up to ~14.2 min (10 epochs x 85 s an epoch")
    assert "300 samples/s" in text and "loader=fast" in text
    assert projection.after_log(1.0) is None  # said once


def test_a_short_run_says_nothing_and_only_rank_0_speaks():
    assert cost.Projection(config(), 100).after_log(3000.0) is None  # 85 s in all
    assert cost.Projection(config(), 100, main=False).after_log(10.0) is None


def test_max_steps_and_the_time_budget_bound_it():
    text = cost.Projection(config(max_steps=250), 100).after_log(100.0)
    assert "~10.7 min (2.50 epochs x 4.3 min an epoch" in text  # 250 x 256 / 100 s
    text = cost.Projection(config(budget=600.0), 100).after_log(100.0)
    assert "~10.0 min (trainer.time_budget_s ends it there" in text
    assert cost.Projection(config(budget=120.0), 100).after_log(100.0) is None


def test_compile_waits_for_the_second_interval_and_ranks_share_the_batch():
    projection = cost.Projection(config(compile=True, loader="fast"), 100, world_size=2)
    assert projection.after_log(1.0) is None  # compiling
    text = projection.after_log(50.0)  # 128 a rank: 100 x 128 / 50 = 256 s an epoch
    assert "4.3 min an epoch" in text and "loader=fast" not in text


def test_the_training_loop_logs_it(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(cost, "LONG_S", 0.0)  # every run is long
    with caplog.at_level(logging.INFO, logger="graphrec.training.cost"):
        train(make_cfg(["model=mf", "trainer.epochs=1"]), out_dir=str(tmp_path))
    said = [r.message for r in caplog.records if r.name == "graphrec.training.cost"]
    assert len(said) == 1 and said[0].startswith("this run will train for up to ~")


def test_a_resumed_run_projects_only_the_steps_it_has_left():
    # 10 epochs of 100 steps, 600 done before the interrupt: 400 x 256 / 300 s = 5.7 min
    text = cost.Projection(config(), steps_per_epoch=100).after_log(300.0, done_steps=600)
    assert text.startswith("this run will train for up to ~5.7 min (4 epochs x 85 s an epoch")
    assert cost.Projection(config(), 100).after_log(300.0, done_steps=1000) is None
