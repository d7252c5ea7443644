"""trainer.step_threads: a small step on one thread, validation on the process's threads."""
from __future__ import annotations

import json

import pytest
import torch

from graphrec.config import ConfigError, validate
from graphrec.models import build_model
from graphrec.data import load_data
from graphrec.training import loop, threads, train
from conftest import make_cfg


def _model(cfg):
    data = load_data(cfg.data)
    return build_model(cfg.model, data, "lean")


def test_a_tiny_step_runs_on_one_thread_and_a_seed_sized_one_keeps_them():
    tiny = make_cfg(["model=mf", "sampling.num_neg=1", "batch.size=64"])
    assert threads.step_elements(tiny, _model(tiny)) < threads.SMALL_STEP
    assert threads.step_threads(tiny, _model(tiny), torch.device("cpu")) == 1
    # the seed's shape: 256 x 513 x 64 = 8.4M gathered elements, far above the crossover
    wide = make_cfg(["model=mf", "sampling.num_neg=512", "batch.size=256"])
    assert threads.step_elements(wide, _model(wide)) == 256 * 513 * wide.model.dim
    assert threads.step_threads(wide, _model(wide), torch.device("cpu")) == 0


def test_the_tables_count_as_well_as_the_batch():
    cfg = make_cfg(["model=mf", "sampling.num_neg=1", "batch.size=8", "model.dim=64",
                    "data.n_users=9000", "data.n_items=8000"])
    model = _model(cfg)  # (9,000 + 8,000) x 64 = 1.09M parameters: Adam sweeps them all
    assert threads.step_elements(cfg, model) >= 17_000 * 64
    assert threads.step_threads(cfg, model, torch.device("cpu")) == 0


def test_a_number_is_taken_as_it_is_and_a_gpu_is_left_alone():
    cfg = make_cfg(["model=mf", "trainer.step_threads=3"])
    assert threads.step_threads(cfg, _model(cfg), torch.device("cpu")) == 3
    auto = make_cfg(["model=mf", "sampling.num_neg=1"])
    assert threads.step_threads(auto, _model(auto), torch.device("cuda")) == 0


@pytest.mark.parametrize("value", ["two", -1])
def test_a_bad_value_fails_up_front(value):
    with pytest.raises(ConfigError, match="trainer.step_threads"):
        validate(make_cfg([f"trainer.step_threads={value}"]))


def test_limited_restores_the_threads():
    before = torch.get_num_threads()
    with threads.limited(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with threads.limited(0):
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), threads.limited(1):
        raise RuntimeError("a failed step")
    assert torch.get_num_threads() == before


@pytest.mark.skipif(torch.get_num_threads() < 2, reason="needs 2 threads to tell 1 from many")
def test_a_run_steps_on_one_thread_and_validates_on_all(tmp_path, monkeypatch):
    seen = {"step": set(), "eval": set()}
    step, flat_eval = loop.Run._step, loop._flat_eval

    def spy_step(self, *a):
        seen["step"].add(torch.get_num_threads())
        return step(self, *a)

    def spy_eval(*a, **k):
        seen["eval"].add(torch.get_num_threads())
        return flat_eval(*a, **k)

    monkeypatch.setattr(loop.Run, "_step", spy_step)
    monkeypatch.setattr(loop, "_flat_eval", spy_eval)
    process = torch.get_num_threads()
    cfg = make_cfg(["model=mf", "sampling.num_neg=1", "loader=fast", "trainer.epochs=2",
                    "trainer.eval_every_steps=3"])
    train(cfg, out_dir=str(tmp_path))
    assert seen["step"] == {1} and seen["eval"] == {process}  # mid-epoch validations too
    assert torch.get_num_threads() == process
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["run"]["step_threads"] == 1

    seen["step"].clear()
    train(make_cfg(["model=mf", "sampling.num_neg=1", "loader=fast", "trainer.epochs=1",
                    "trainer.step_threads=0"]), out_dir=str(tmp_path / "all"))
    assert seen["step"] == {process}
