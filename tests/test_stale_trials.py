"""Stale trials through Optuna's heartbeat: a trial whose sweep process is killed is failed by
the next process that checks after the grace period, never while its process lives.

The whole sweep (``train.py -m``, killed and resumed) is tested in test_sweep_kill.py
(SQLite) and test_shared_study.py (PostgreSQL); here the storage and heartbeat functions, on
SQLite, with two Python processes."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from graphrec.sweeping.heartbeat import (STALE_ATTR, Heartbeat, StaleTrialCallback, beats,
                                         fail_stale_trials)
from graphrec.sweeping.storage import open_storage, open_study
from sweep_helpers import REPO

HEARTBEAT, GRACE = 1, 2  # seconds; SQLite's clock has whole seconds: stale 3 s after a beat

# A sweep process in miniature: asks a trial, beats for it, and runs until killed.
BEATING = """
import sys, time
from graphrec.sweeping.heartbeat import OWNER, Heartbeat, StaleTrialCallback, ask
from graphrec.sweeping.storage import open_storage, open_study
url, run_dir = sys.argv[1], sys.argv[2]
storage = open_storage(url, heartbeat_interval=1, grace_period=2, on_stale=StaleTrialCallback(2))
study = open_study("stale", storage, None, ["maximize"])
trial = ask(study)
trial.set_user_attr("owner", OWNER)
trial.set_user_attr("run_dir", run_dir)
with Heartbeat(storage, study.study_name).beating([trial]):
    print("running", trial.number, flush=True)
    time.sleep(600)
"""


def _checker(url: str) -> optuna.Study:
    """Another process's view of the study, with the same heartbeat settings."""
    storage = open_storage(url, heartbeat_interval=HEARTBEAT, grace_period=GRACE,
                           on_stale=StaleTrialCallback(GRACE))
    return open_study("stale", storage, None, ["maximize"])


@pytest.mark.slow
def test_a_killed_process_trial_is_failed_after_the_grace_period(tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    run_dir = tmp_path / "0"
    run_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", BEATING, url, str(run_dir)],
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().split() == ["running", "0"]
        time.sleep(GRACE + 2)  # beating all along: alive, so not stale
        study = _checker(url)
        fail_stale_trials(study)
        assert study.trials[0].state == TrialState.RUNNING
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    time.sleep(GRACE + 2)
    fail_stale_trials(study)
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    reason = study.user_attrs[STALE_ATTR.format(number=0)]
    assert reason.startswith("stale: no heartbeat from ") and trial.user_attrs["owner"] in reason
    assert (run_dir / "error.txt").read_text().strip() == reason


def test_in_memory_storage_has_no_heartbeat():
    study = open_study("mem", None, None, ["maximize"])
    heartbeat = Heartbeat(None, study.study_name)
    trial = study.ask()
    with heartbeat.beating([trial]):
        fail_stale_trials(study)  # a no-op without heartbeat
    study.tell(trial, 1.0)
    assert study.trials[0].state == TrialState.COMPLETE


def test_heartbeat_is_off_without_an_interval(tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    assert not beats(open_storage(url))
    assert beats(open_storage(url, heartbeat_interval=HEARTBEAT, grace_period=GRACE))
    assert open_storage(None) is None


def test_a_beating_trial_records_its_heartbeat(tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    storage = open_storage(url, heartbeat_interval=HEARTBEAT, grace_period=GRACE)
    study = open_study("beat", storage, None, ["maximize"])
    trials = [study.ask(), study.ask()]
    with Heartbeat(storage, study.study_name).beating(trials):
        time.sleep(GRACE + 2)  # several beats, so nothing is stale
        fail_stale_trials(study)
        assert [t.state for t in study.trials] == [TrialState.RUNNING] * 2
    for trial in trials:
        study.tell(trial, 1.0)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2


def test_sweeping_code_uses_no_private_optuna_attributes():
    """``study._storage``, ``trial._trial_id``, ``trial._suggest`` and their kind: what
    graphrec needs of Optuna goes through its public API."""
    files = list((REPO / "graphrec" / "sweeping").glob("*.py")) + list(
        (REPO / "hydra_plugins" / "graphrec_sweeps").glob("*.py"))
    private = re.compile(r"\.(_storage|_trial_id|_study_id|_suggest|_thread_local)\b")
    found = [f"{path.name}:{n}: {line.strip()}" for path in files
             for n, line in enumerate(Path(path).read_text().splitlines(), 1)
             if private.search(line)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("interval, grace", [(0, None), (5, 5), (5, 2)])
def test_heartbeat_settings_are_checked(interval, grace):
    from graphrec.sweeping.sweeper import GraphrecSweeperImpl

    with pytest.raises(ValueError, match="heartbeat_interval"):
        GraphrecSweeperImpl(study_name="s", heartbeat_interval=interval, grace_period=grace)
