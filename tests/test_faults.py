"""Bad input, divergence, interrupts, resume, checkpoints and memory: a clear outcome each."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from graphrec.errors import CheckpointError, ConfigError
from graphrec.training import checkpoint, train
from conftest import ROOT, make_cfg

CLI_TINY = ["data.n_users=200", "data.n_items=300", "trainer.progress=false",
            "sampling=neg128", "trainer.epochs=1"]


def _cli(args, tmp_path, **kw):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    cmd = [sys.executable, "train.py", f"hydra.run.dir={tmp_path / 'run'}"] + CLI_TINY + args
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, env=env,
                          **kw)


@pytest.mark.parametrize("args,key", [
    (["batch.size=0"], "batch.size"),
    (["sampling.num_neg=100000"], "sampling.num_neg"),
    (["trainer.device=cuda"], "trainer.device"),
    (["precision=amp_fp16", "trainer.device=cpu"], "precision.mode"),
    (["hydra.run.dir=/proc/no/such"], "hydra.run.dir"),
])
def test_cli_config_errors_are_one_line(tmp_path, args, key):
    if key == "trainer.device" and torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    res = _cli(args, tmp_path)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in res.stderr, res.stderr


def test_unwritable_cache_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = make_cfg(["data=clcrec", f"data.path={tmp_path}",
                    f"data.cache_dir={blocker / 'cache'}"], tiny=False)  # a folder below a file
    with pytest.raises(ConfigError, match="data.cache_dir"):
        train(cfg, out_dir=str(tmp_path / "out"))


def test_divergence_stops_and_keeps_best_checkpoint(tmp_path):
    cfg = make_cfg(["trainer.epochs=3", "trainer.fail_after_steps=100", "trainer.fail_kind=nan"])
    m = train(cfg, out_dir=str(tmp_path))
    assert m["status"] == "diverged"
    assert m["diverged_at"]["epoch"] == 1 and m["diverged_at"]["step"] > 100
    assert m["best_epoch"] == 0 and m["val"]["recall@20"] > 0  # the epoch-0 model
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "diverged"
    state = torch.load(tmp_path / "best.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state.values())


def test_cli_divergence_exit_code(tmp_path):
    res = _cli(["trainer.fail_after_steps=2", "trainer.fail_kind=nan"], tmp_path)
    assert res.returncode == 3 and "diverged" in res.stderr


@pytest.mark.parametrize("loader,model", [("fast", "clcrec"), ("baseline", "mf")])
def test_interrupt_then_resume_matches_uninterrupted(tmp_path, loader, model):
    # clcrec: torch's RNG (its hybrid index) must resume; baseline: the DataLoader's position
    over = [f"loader={loader}", "loader.num_workers=0", "trainer.epochs=2", f"model={model}"]
    full = train(make_cfg(over), out_dir=str(tmp_path / "full"))
    run_dir = tmp_path / "cut"
    cut = train(make_cfg(over + ["trainer.fail_after_steps=110", "trainer.fail_kind=interrupt"]),
                out_dir=str(run_dir))
    assert cut["status"] == "interrupted" and (run_dir / "last.pt").exists()
    assert cut["interrupted_at"]["epoch"] == 1  # mid-epoch: 75 steps an epoch
    resumed = train(make_cfg(over + [f"trainer.resume={run_dir}"]))
    assert resumed["status"] == "completed" and not (run_dir / "last.pt").exists()
    assert resumed["val"] == full["val"] and resumed["test"] == full["test"]
    assert resumed["steps"] == full["steps"] and resumed["best_epoch"] == full["best_epoch"]


def test_sigterm_from_outside_writes_resumable_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    cmd = [sys.executable, "train.py", f"hydra.run.dir={run_dir}", "data.n_users=200",
           "data.n_items=300", "trainer.progress=false", "sampling=neg128",
           "trainer.epochs=200", "trainer.patience=0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    deadline = time.time() + 120
    while not (run_dir / "best.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "trainer.resume=" in err and (run_dir / "last.pt").exists()
    state = torch.load(run_dir / "last.pt", weights_only=True)
    assert {"model", "optimizer", "rng", "progress"} <= set(state)
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "interrupted"


def test_atomic_save_never_leaves_a_broken_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "best.pt"
    checkpoint.save_atomic({"w": torch.ones(3)}, path)

    def dies_midway(obj, f, *a, **k):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt("killed during the write")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_atomic({"w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(checkpoint.load(path, torch.device("cpu"))["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        train(make_cfg([f"trainer.resume={tmp_path}"]))


def test_checkpoint_load_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path}/pwned",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "evil.pt", torch.device("cpu"))
    assert not (tmp_path / "pwned").exists()


def test_resume_without_checkpoint_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="trainer.resume"):
        train(make_cfg([f"trainer.resume={tmp_path}"]))


def test_out_of_memory_is_reported_with_memory_figures(tmp_path):
    m = train(make_cfg(["trainer.fail_after_steps=5", "trainer.fail_kind=oom"]), str(tmp_path))
    assert m["status"] == "oom" and "MemoryError" in m["error"]
    assert m["memory"]["peak_rss_mb"] > 0 and m["oom_at"]["step"] == 5


def test_cli_oom_exit_code_and_message(tmp_path):
    res = _cli(["trainer.fail_after_steps=2", "trainer.fail_kind=oom"], tmp_path)
    assert res.returncode == 4 and "oom" in res.stderr and "MemoryError" in res.stderr
