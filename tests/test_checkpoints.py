"""Periodic checkpoints, a killed run resumed from one, a full disk and broken files.

Each test is a row of docs/faults.md. The kill is simulated in-process (faults.die raises
instead of SIGKILL: the loop's clean shutdown never runs, as after a real kill); one CLI test
kills for real."""
from __future__ import annotations

import csv
import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import types

import pytest
import torch

from graphrec.errors import CheckpointError
from graphrec.training import checkpoint, faults, loop, train
from conftest import ROOT, make_cfg

# 60 steps an epoch on the tiny data (conftest.TINY); no time-triggered checkpoints
OVER = ["trainer.epochs=2", "trainer.checkpoint_every_s=0"]


class Killed(BaseException):
    """What a SIGKILL leaves: nothing after it runs (no except Exception catches it)."""


@pytest.fixture
def kill(monkeypatch):
    def die():
        raise Killed

    monkeypatch.setattr(faults, "die", die)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The uninterrupted run every resumed one must equal."""
    out = tmp_path_factory.mktemp("full")
    return train(make_cfg(OVER), out_dir=str(out)), out


def _curve(run_dir):
    """epochs.csv without the clock: what must not change when a run is killed and resumed."""
    with open(run_dir / "epochs.csv") as fh:
        return [{k: v for k, v in row.items() if not k.endswith("_s")}
                for row in csv.DictReader(fh)]


def _step(path):
    return torch.load(path, weights_only=True)["progress"]["step"]


@pytest.mark.parametrize("every,saved,count", [(40, 80, 2), (60, 60, 1)])  # mid-epoch; at its end
def test_killed_run_resumes_from_its_last_checkpoint_as_if_uninterrupted(tmp_path, full, kill,
                                                                          every, saved, count):
    run_dir = tmp_path / "cut"
    with pytest.raises(Killed):
        train(make_cfg(OVER + [f"trainer.checkpoint_every_steps={every}",
                               "trainer.fail_after_steps=110", "trainer.fail_kind=kill"]),
              out_dir=str(run_dir))
    assert _step(run_dir / "last.pt") == saved and not (run_dir / "metrics.json").exists()
    # the resumed run keeps the fault in its config: it must not fire again
    resumed = train(make_cfg(OVER + [f"trainer.checkpoint_every_steps={every}",
                                     "trainer.fail_after_steps=110", "trainer.fail_kind=kill",
                                     f"trainer.resume={run_dir}"]))
    expected, full_dir = full
    assert resumed["status"] == "completed" and not (run_dir / "last.pt").exists()
    assert resumed["val"] == expected["val"] and resumed["test"] == expected["test"]
    assert resumed["steps"] == expected["steps"] and resumed["best_epoch"] == expected["best_epoch"]
    assert _curve(run_dir) == _curve(full_dir)  # losses and metrics, no row twice
    assert resumed["throughput"]["checkpoints"] == count  # none at the run's end


def test_checkpoint_time_is_on_the_wall_clock_not_in_training_seconds(tmp_path):
    m = train(make_cfg(["trainer.epochs=1", "trainer.checkpoint_every_steps=10"]), str(tmp_path))
    tp = m["throughput"]
    assert tp["checkpoints"] == 5 and tp["checkpoint_s"] > 0  # steps 10..50; 60 ends the run
    assert tp["wall_s"] == pytest.approx(tp["train_s"] + tp["eval_s"] + tp["checkpoint_s"],
                                         abs=1e-4)


def test_time_triggered_checkpoints_stay_under_one_percent(monkeypatch):
    """A write that took 2 s spaces the next one 200 s out, whatever checkpoint_every_s says."""
    now = types.SimpleNamespace(t=0.0)
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(monotonic=lambda: now.t))
    run = loop.Run.__new__(loop.Run)
    run.p, run.ckpt_every_steps, run.ckpt_every_s = loop.Progress(), 0, 10.0
    run.ckpt_t, run.ckpt_write_s = 0.0, 2.0
    now.t = 150.0
    assert not run._checkpoint_due()
    now.t = 200.0
    assert run._checkpoint_due()
    run.ckpt_write_s = 0.01  # a fast write: the configured interval rules
    now.t = 10.0
    assert run._checkpoint_due()


class FullFile:
    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class FullDisk:
    """Every checkpoint write past the first ``free`` ones goes to a full disk."""

    def __init__(self, monkeypatch, free: int):
        self.free = free
        real_init, real_save = checkpoint._Writer.__init__, checkpoint.save_atomic

        def init(writer, fh):
            real_init(writer, fh if self.free > 0 else FullFile())

        def save(obj, path):
            try:
                real_save(obj, path)
            finally:
                self.free -= 1

        monkeypatch.setattr(checkpoint._Writer, "__init__", init)
        monkeypatch.setattr(checkpoint, "save_atomic", save)


def test_full_disk_keeps_the_previous_checkpoint_and_says_so(tmp_path, monkeypatch, kill,
                                                             caplog):
    FullDisk(monkeypatch, free=1)  # the step-10 checkpoint fits, nothing after it
    with caplog.at_level(logging.WARNING, logger="graphrec"), pytest.raises(Killed):
        train(make_cfg(OVER + ["trainer.checkpoint_every_steps=10", "trainer.fail_after_steps=45",
                               "trainer.fail_kind=kill"]), out_dir=str(tmp_path))
    assert _step(tmp_path / "last.pt") == 10
    lines = [r.getMessage() for r in caplog.records if "last.pt" in r.getMessage()]
    assert len(lines) == 3 and all("No space left on device" in ln and "step 10 is kept" in ln
                                   for ln in lines), lines  # steps 20, 30, 40: a line each
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epochs.csv", "last.pt"]  # no .tmp


def test_full_disk_best_weights_stay_in_memory_for_the_final_evaluation(tmp_path, monkeypatch,
                                                                        full, caplog):
    FullDisk(monkeypatch, free=0)  # no best.pt, no last.pt can be written
    with caplog.at_level(logging.WARNING, logger="graphrec"):
        m = train(make_cfg(OVER + ["trainer.checkpoint_every_steps=50"]), out_dir=str(tmp_path))
    expected, _ = full
    assert m["status"] == "completed" and m["test"] == expected["test"]
    assert not (tmp_path / "best.pt").exists() and not (tmp_path / "last.pt").exists()
    text = caplog.text
    assert "could not write" in text and "best.pt" in text and "stay in memory" in text


def test_full_disk_at_the_record_keeps_the_previous_record_and_checkpoint(tmp_path, monkeypatch,
                                                                          caplog):
    """A resume on a disk that has filled since: every atomic write fails at its fsync."""
    over = ["trainer.epochs=1", "trainer.checkpoint_every_s=0"]
    train(make_cfg(over + ["trainer.fail_after_steps=30", "trainer.fail_kind=interrupt"]),
          out_dir=str(tmp_path))
    before = {name: (tmp_path / name).read_bytes() for name in ("last.pt", "metrics.json")}
    real_fsync = os.fsync

    def fsync(fd):
        if os.path.isfile(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with caplog.at_level(logging.WARNING, logger="graphrec"):
        m = train(make_cfg(over + ["trainer.checkpoint_every_steps=10",
                                   f"trainer.resume={tmp_path}"]))
    assert m["status"] == "completed" and m["test"]["recall@20"] > 0  # weights from memory
    for name, data in before.items():  # both intact, last.pt kept: the record is not written
        assert (tmp_path / name).read_bytes() == data, name
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "interrupted"
    record_lines = [r.getMessage() for r in caplog.records if "metrics.json" in r.getMessage()]
    assert len(record_lines) == 1 and "No space left on device" in record_lines[0]
    assert '"status": "completed"' in record_lines[0]  # the record itself, on that line
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB filesystem (tmpfs), where this machine lets a test mount one (root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a small filesystem here: {exc}")
    if res.returncode:
        pytest.skip(f"cannot mount a small filesystem here: {res.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def _fill(disk):
    """Write a file until the filesystem has no byte left."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_real_full_disk_loses_nothing_and_a_freed_one_finishes_the_run(small_disk, caplog):
    run_dir = small_disk / "run"
    over = ["trainer.epochs=1", "trainer.checkpoint_every_s=0"]
    train(make_cfg(over + ["trainer.fail_after_steps=30", "trainer.fail_kind=interrupt"]),
          out_dir=str(run_dir))
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert {"last.pt", "metrics.json", "epochs.csv"} <= set(before)
    _fill(small_disk)
    resume = make_cfg(over + ["trainer.checkpoint_every_steps=10", f"trainer.resume={run_dir}"])
    with caplog.at_level(logging.WARNING, logger="graphrec"):
        m = train(resume)  # every write fails with ENOSPC: each says so in one line
    assert m["status"] == "completed"
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # untouched, no .tmp
    failed = [r.getMessage() for r in caplog.records if "No space left on device" in
              r.getMessage()]
    for name in ("epochs.csv", "last.pt", "best.pt", "metrics.json"):
        assert any(name in line for line in failed), (name, failed)
    (small_disk / "filler").unlink()  # space again: the same resume now finishes the run
    again = train(resume)
    assert again["test"] == m["test"] and not (run_dir / "last.pt").exists()
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "completed"


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    """A run interrupted in epoch 1: last.pt, and best.pt from epoch 0's validation."""
    run_dir = tmp_path_factory.mktemp("cut")
    train(make_cfg(OVER + ["trainer.fail_after_steps=80", "trainer.fail_kind=interrupt"]),
          out_dir=str(run_dir))
    return run_dir


@pytest.fixture
def interrupted(cut, tmp_path):
    """A copy of ``cut`` for a test to break."""
    return _copy(cut, tmp_path / "cut")


def _copy(run_dir, new):
    shutil.copytree(run_dir, new)
    return new


@pytest.mark.parametrize("name", ["last.pt", "best.pt"])
def test_truncated_checkpoint_is_one_error_naming_the_file(interrupted, name):
    path = interrupted / name
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=name) as err:  # before any training
        train(make_cfg(OVER + [f"trainer.resume={interrupted}"]))
    assert "\n" not in str(err.value)


def test_missing_best_or_wrong_file_as_last_is_one_error_naming_it(interrupted):
    no_best = _copy(interrupted, interrupted.parent / "no_best")
    (no_best / "best.pt").unlink()
    with pytest.raises(CheckpointError, match="best.pt is missing"):
        train(make_cfg(OVER + [f"trainer.resume={no_best}"]))
    swapped = _copy(interrupted, interrupted.parent / "swapped")
    shutil.copy(swapped / "best.pt", swapped / "last.pt")  # a state dict, not resumable
    with pytest.raises(CheckpointError, match="last.pt: not a resumable checkpoint"):
        train(make_cfg(OVER + [f"trainer.resume={swapped}"]))


@pytest.mark.slow
def test_cli_sigkill_then_resume_continues_from_the_last_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    args = [sys.executable, str(ROOT / "train.py"), "data.n_users=200", "data.n_items=300",
            "trainer.progress=false", "sampling=neg128", "trainer.epochs=3", "model=mf"]
    res = subprocess.run(args + [f"hydra.run.dir={run_dir}", "trainer.checkpoint_every_steps=10",
                                 "trainer.fail_after_steps=25", "trainer.fail_kind=kill"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env)
    assert res.returncode == -9, res.stderr[-2000:]  # SIGKILL: no handler ran
    assert _step(run_dir / "last.pt") == 20 and not (run_dir / "metrics.json").exists()
    res = subprocess.run(args[:2] + [f"trainer.resume={run_dir}"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=240, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "completed" and record["steps"] == 42  # 14 steps an epoch
    assert [row["step"] for row in _curve(run_dir)] == ["14", "28", "42"]
    assert "resumed" in (run_dir / "train.log").read_text() and not (run_dir / "last.pt").exists()
