"""``torchrun --nproc_per_node=2`` with gloo on CPU: one model over two processes."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

# MF keeps the comparison about DDP itself: no random feature swap as in CLCRec.
ARGS = ["model=mf", "data.n_users=300", "data.n_items=160", "data.mean_degree=20",
        "sampling.num_neg=16", "batch.size=64", "trainer.epochs=3", "trainer.progress=false",
        "trainer.threads=1", "trainer.patience=0"]
TOLERANCE = 0.03  # absolute val recall@20: the ranks draw their own negatives


def _torchrun(args, run_dir):
    torchrun = shutil.which("torchrun") or f"{sys.executable} -m torch.distributed.run"
    cmd = torchrun.split() + ["--standalone", "--nproc_per_node=2", "train.py",
                              f"hydra.run.dir={run_dir}"] + args
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def _single(args, run_dir):
    return subprocess.run([sys.executable, "train.py", f"hydra.run.dir={run_dir}"] + args,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("loader", ["fast", "baseline"])
def test_ddp_matches_single_process_and_resumes(tmp_path, loader):
    args = ARGS + [f"loader={loader}", "loader.num_workers=0"]
    ddp_dir, one_dir = tmp_path / "ddp", tmp_path / "one"
    res = _torchrun(args, ddp_dir)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _single(args, one_dir).returncode == 0
    ddp = json.loads((ddp_dir / "metrics.json").read_text())
    one = json.loads((one_dir / "metrics.json").read_text())
    tp = ddp["throughput"]
    assert ddp["status"] == "completed" and tp["world_size"] == 2
    assert tp["samples_per_s"] > tp["samples_per_s_per_rank"] > 0
    # the global batch is 64 on both sides; DDP drops the last incomplete one
    assert ddp["steps"] == ddp["epochs_run"] * (ddp["data"]["n_train"] // 64)
    assert abs(ddp["val"]["recall@20"] - one["val"]["recall@20"]) <= TOLERANCE, (ddp, one)
    assert not list(tmp_path.glob("ddp/*rank*"))  # rank 1 wrote no record of its own

    cut_dir = tmp_path / "cut"
    res = _torchrun(args + ["trainer.fail_after_steps=20", "trainer.fail_kind=interrupt"], cut_dir)
    assert res.returncode != 0 and (cut_dir / "last.pt").exists(), res.stderr[-3000:]
    res = _torchrun(args + [f"trainer.resume={cut_dir}"], tmp_path / "resumed")
    assert res.returncode == 0, res.stderr[-3000:]
    resumed = json.loads((cut_dir / "metrics.json").read_text())
    assert resumed["status"] == "completed" and resumed["steps"] == ddp["steps"]


def test_ddp_ranks_agree_on_clock_decisions(tmp_path):
    """Validations on the clock and the time budget are decided at log points and agreed by
    the ranks: a rank that validated or stopped alone would hang the other."""
    args = ARGS + ["loader=fast", "trainer.epochs=1000", "trainer.patience=0",
                   "trainer.eval_every=0", "trainer.eval_every_s=0.3", "trainer.time_budget_s=2",
                   "trainer.log_every=2"]
    res = _torchrun(args, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["stop_reason"] == "time_budget" and record["validations"] >= 2
