"""``python train.py trainer.resume=DIR`` continues DIR's own run: its config, its folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import ROOT

pytestmark = pytest.mark.slow
TINY = ["data.n_users=200", "data.n_items=300", "trainer.progress=false", "sampling.num_neg=32",
        "trainer.epochs=3", "trainer.patience=0", "model=mf", "loader.num_workers=0"]


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240, env=env)


@pytest.fixture
def interrupted(tmp_path):
    """A loader=baseline run interrupted in its first epoch."""
    run_dir = tmp_path / "outputs" / "cut"
    res = _run([f"hydra.run.dir={run_dir}", "loader=baseline", *TINY,
                "trainer.fail_after_steps=6", "trainer.fail_kind=interrupt"], tmp_path)
    assert res.returncode == 130, res.stderr[-2000:]
    assert f"trainer.resume={run_dir}" in res.stderr
    return run_dir


def test_resume_continues_with_the_runs_own_config(tmp_path, interrupted):
    res = _run([f"trainer.resume={interrupted}"], tmp_path)  # loader=baseline not repeated
    assert res.returncode == 0, res.stderr[-2000:]
    record = json.loads((interrupted / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert record["run"]["loader"] == "baseline" and record["run"]["impl"] == "reference"
    assert not (interrupted / "last.pt").exists()
    assert f"run folder: {interrupted}" in res.stdout
    # no other folder left behind: the one Hydra made for the command is removed
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["cut"]
    assert "resumed" in (interrupted / "train.log").read_text()


def test_resume_refuses_an_override_that_changes_the_run(tmp_path, interrupted):
    res = _run([f"trainer.resume={interrupted}", "loader=fast", "model.lr=0.5",
                "trainer.progress=false"], tmp_path)
    assert res.returncode == 2
    line = res.stderr.strip().splitlines()[-1]
    assert "loader=fast" in line and "model.lr=0.5" in line
    assert "trainer.progress" not in line
    assert json.loads((interrupted / "metrics.json").read_text())["status"] == "interrupted"
    assert (interrupted / "last.pt").exists()
    saved = OmegaConf.load(interrupted / ".hydra" / "config.yaml")
    assert saved.loader.kind == "baseline"


def test_input_error_leaves_its_message_in_the_run_folder(tmp_path):
    run_dir = tmp_path / "bad"
    res = _run([f"hydra.run.dir={run_dir}", *TINY, "sampling.num_neg=100000"], tmp_path)
    assert res.returncode == 2
    assert "sampling.num_neg" in (run_dir / "error.txt").read_text()
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "error" and "sampling.num_neg" in record["error"]
