"""Kill a sweep mid-trial, start it again: nothing finished is lost, the killed trial is
failed (Optuna's heartbeat, once the grace period has passed), numbers and folders go on."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from optuna.trial import TrialState

from sweep_helpers import REPO, TINY, load_study, rows_arg, train

pytestmark = pytest.mark.slow
GRACE = 3  # s; SQLite's clock has whole seconds, so a trial is stale GRACE + 1 s after a beat
HEARTBEAT = ["hydra.sweeper.heartbeat_interval=1", f"hydra.sweeper.grace_period={GRACE}"]


def _start_long_sweep(tmp_path, wait_for: str, *extra: str, **popen):
    """A two-row sweep (a quick trial, then a long one), started; returns when the long
    trial's folder holds ``wait_for``."""
    sweep = tmp_path / "sweep"
    rows = rows_arg({"quick": ["trainer.epochs=1"],
                     "long": ["trainer.epochs=100000", "trainer.patience=0"]})
    cmd = [sys.executable, str(REPO / "train.py"), "-m", f"hydra.sweep.dir={sweep}", *TINY,
           "hydra.sweeper.params=null", rows, *extra]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, **popen)
    deadline = time.time() + 150
    while not (sweep / "1" / wait_for).exists() and time.time() < deadline:
        assert proc.poll() is None, "the sweep ended before its long trial started"
        time.sleep(0.2)
    return sweep, proc


def test_killed_sweep_resumes_without_losing_or_overwriting(tmp_path):
    sweep, proc = _start_long_sweep(tmp_path, ".hydra", *HEARTBEAT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)  # no handler can run: the hardest case
    proc.wait(timeout=30)
    first = (sweep / "0" / "metrics.json").read_bytes()
    assert load_study(sweep).trials[1].state == TrialState.RUNNING

    time.sleep(GRACE + 2)  # past the grace period: the resumed sweep finds the trial stale
    train("-m", f"hydra.sweep.dir={sweep}", "hydra.sweeper.n_trials=1", *TINY, *HEARTBEAT,
          cwd=tmp_path)
    study = load_study(sweep)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL,
                                               TrialState.COMPLETE]
    killed = study.trials[1]
    reason = study.user_attrs[f"stale:{killed.number}"]
    assert reason.startswith("stale: no heartbeat from " + killed.user_attrs["owner"])
    assert (sweep / "1" / "error.txt").read_text().strip() == reason
    assert (sweep / "0" / "metrics.json").read_bytes() == first
    assert (sweep / "2" / "metrics.json").exists()


def test_ctrl_c_stops_a_sweep_with_its_summary(tmp_path):
    sweep, proc = _start_long_sweep(tmp_path, "best.pt", stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in err and "Traceback" not in out
    assert "Run the same command again to resume" in out.strip().splitlines()[-1]
    study = load_study(sweep)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert "interrupted" in study.trials[1].user_attrs["error"]
    assert (sweep / "optimization_results.yaml").exists()
    assert not list(sweep.glob(".*.lock"))
