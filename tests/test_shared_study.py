"""Sweep processes started at once on one study (PostgreSQL, then SQLite) share it: every
trial runs once, in its own folder, and the results cover the trials of both. A process
killed mid-trial has its trial failed by another, once its heartbeat is stale."""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

import pg_server
from graphrec.sweeping.storage import rdb_storage, shown, with_driver
from sweep_helpers import REPO, TINY, rows_arg

pytestmark = pytest.mark.slow
STUDY = "shared"
DATABASES = itertools.count()


@pytest.fixture(scope="module")
def postgres_server():
    reason = pg_server.unavailable()
    if reason:
        pytest.skip(reason)
    with pg_server.running() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server):
    """A new, empty database: each test creates Optuna's tables itself."""
    return pg_server.new_database(postgres_server, f"test{next(DATABASES)}")


def _sweep_together(sweep: Path, storage: str, n_processes: int = 2) -> None:
    """Start ``n_processes`` 3-trial sweeps on one study at once; wait for all."""
    args = [sys.executable, str(REPO / "train.py"), "-m", f"hydra.sweep.dir={sweep}",
            f"hydra.sweeper.storage={storage}", f"hydra.sweeper.study_name={STUDY}",
            "hydra.sweeper.n_trials=3", *TINY, "trainer.threads=1"]  # 2 processes, 2 cores
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    logs = [sweep.parent / f"sweep{i}.log" for i in range(n_processes)]
    procs = []
    for log in logs:
        with open(log, "w") as out:
            procs.append(subprocess.Popen(args, cwd=sweep.parent, env=env, stdout=out,
                                          stderr=subprocess.STDOUT))
    deadline = time.time() + 120
    for proc, log in zip(procs, logs):
        try:
            proc.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.returncode == 0, f"{log}:\n{log.read_text()[-5000:]}"


def _check_shared(study: optuna.Study, sweep: Path) -> None:
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert sorted(t.number for t in trials) == list(range(6))
    assert sorted(Counter(t.user_attrs["owner"] for t in trials).values()) == [3, 3]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir() and not p.name.startswith(
        ".")) == [str(n) for n in range(6)]
    for t in trials:  # each folder holds its own trial's run, written once
        folder = sweep / str(t.number)
        assert t.user_attrs["run_dir"] == str(folder)
        hydra_cfg = yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())
        assert hydra_cfg["hydra"]["job"]["num"] == t.number
        record = json.loads((folder / "metrics.json").read_text())
        assert record["status"] == "completed"
        assert t.values == pytest.approx([record["throughput"]["samples_per_s"],
                                          record["val"]["recall@20"]])
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["trials"]["complete"] == 6  # whichever process wrote last saw all six
    assert sorted(s["trial"] for s in results["solutions"]) == sorted(
        t.number for t in study.best_trials)


def test_two_sweeps_share_a_postgresql_study(postgres_url, tmp_path):
    sweep = tmp_path / "sweep"
    _sweep_together(sweep, postgres_url)
    _check_shared(optuna.load_study(study_name=STUDY, storage=rdb_storage(postgres_url)), sweep)


def test_two_sweeps_share_a_sqlite_study(tmp_path):
    """SQLite on a local disk works too: writers take turns (graphrec waits up to 60 s for
    the file's lock). It is not for processes on different machines (NFS locks)."""
    sweep = tmp_path / "sweep"
    _sweep_together(sweep, f"sqlite:///{sweep}/study.db")
    _check_shared(optuna.load_study(study_name=STUDY, storage=f"sqlite:///{sweep}/study.db"),
                  sweep)


def test_a_killed_sweeps_trial_is_failed_by_another_sweep_after_the_grace_period(
        postgres_url, tmp_path):
    """Sweep A runs a long trial; sweep B, started meanwhile, leaves it alone (its heartbeat
    is fresh); A is killed (SIGKILL: nothing of it runs); sweep C, started after the grace
    period, fails A's trial. Every process has heartbeat 1 s and grace period 5 s."""
    sweep, grace = tmp_path / "sweep", 5
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    common = [sys.executable, str(REPO / "train.py"), "-m", f"hydra.sweep.dir={sweep}",
              f"hydra.sweeper.storage={postgres_url}", f"hydra.sweeper.study_name={STUDY}",
              "hydra.sweeper.heartbeat_interval=1", f"hydra.sweeper.grace_period={grace}",
              *TINY, "trainer.threads=1"]

    def study() -> optuna.Study:
        return optuna.load_study(study_name=STUDY, storage=rdb_storage(postgres_url))

    def run(*args: str) -> None:
        done = subprocess.run(common + list(args), cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=240)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    a = subprocess.Popen(common + ["hydra.sweeper.params=null", rows_arg(
        {"long": ["trainer.epochs=100000", "trainer.patience=0"]})], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 150
        while not (sweep / "0" / ".hydra").exists():
            assert a.poll() is None and time.time() < deadline, "sweep A did not start"
            time.sleep(0.2)
        time.sleep(grace + 1)  # A's trial is older than the grace period, its beat is not
        run("hydra.sweeper.n_trials=1")  # B: checks for stale trials, runs one trial
        assert [t.state for t in study().trials] == [TrialState.RUNNING, TrialState.COMPLETE]
    finally:
        os.killpg(a.pid, signal.SIGKILL)
        a.wait(timeout=30)
    time.sleep(grace + 2)
    run("hydra.sweeper.n_trials=0")  # C: opens the study, runs nothing
    killed = study().trials[0]
    assert killed.state == TrialState.FAIL
    reason = study().user_attrs["stale:0"]
    assert reason.startswith(f"stale: no heartbeat from {killed.user_attrs['owner']} for over "
                             f"{grace} s")
    assert (sweep / "0" / "error.txt").read_text().strip() == reason
    assert not (sweep / "0" / "metrics.json").exists()


OPEN_AT = """
import sys, time
from graphrec.sweeping.storage import open_study
start, url = float(sys.argv[1]), sys.argv[2]
time.sleep(max(0, start - time.time()))
open_study("race", url, None, ["maximize"])
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_opening_a_new_study_at_once(backend, tmp_path, request):
    """Without retries about 4 in 10 such processes crashed creating Optuna's tables."""
    url = (f"sqlite:///{tmp_path}/race.db" if backend == "sqlite"
           else request.getfixturevalue("postgres_url"))
    start = time.time() + 3  # past every process's imports: they open within milliseconds
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT, str(start), url], env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [proc.communicate(timeout=60)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, "\n".join(errors)
    assert len(optuna.get_all_study_names(rdb_storage(url))) == 1


def test_storage_urls(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # no psycopg 3
    assert with_driver("postgresql://me@db/s") == "postgresql+psycopg2://me@db/s"
    assert with_driver("postgresql+psycopg://me@db/s") == "postgresql+psycopg://me@db/s"
    assert "secret" not in shown("postgresql://me:secret@db/s")
