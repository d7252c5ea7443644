"""Stale trials: Optuna's heartbeat for the trials a sweep launches.

A sweep process that is killed (SIGKILL, out of memory, a machine lost) cannot tell the study
how its trial ended, so the trial stays RUNNING forever. Optuna's answer is the heartbeat of
its RDB storage (``RDBStorage(url, heartbeat_interval=..., grace_period=...)``): while a
trial runs, its process writes a timestamp every ``heartbeat_interval`` seconds, and
``optuna.storages.fail_stale_trials(study)``, called by any process, fails the RUNNING trials
whose last heartbeat is older than ``grace_period`` seconds and calls the storage's stale-trial
callback on each. The sweeper calls it when the study is opened and before each batch of
trials, so a sweep started or resumed after a kill cleans up after it, on any host.

``Study.optimize`` runs that heartbeat thread itself, but graphrec's sweeper asks and tells
(``study.ask()``, a Hydra launcher, ``study.tell()``), and Optuna starts no heartbeat for an
asked trial. :class:`Heartbeat` does what ``optimize`` does, with public storage methods only:
the trial's storage id comes from ``get_study_id_from_name`` and
``get_trial_id_from_study_id_trial_number``, and the thread calls ``record_heartbeat``.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

import optuna
from optuna.trial import FrozenTrial

log = logging.getLogger(__name__)

OWNER = f"{socket.gethostname()}:{os.getpid()}"  # this sweep process, in each trial's attrs
STALE_ATTR = "stale:{number}"  # the study's user attribute that says why trial N failed


def beats(storage) -> bool:
    """Whether ``storage`` records heartbeats (an RDB storage opened with an interval)."""
    return (isinstance(storage, optuna.storages.RDBStorage)
            and storage.get_heartbeat_interval() is not None)


def fail_stale_trials(study: optuna.Study) -> None:
    """``optuna.storages.fail_stale_trials``, without its experimental-feature warning; a
    no-op on a storage without heartbeat (in memory, or ``heartbeat_interval: null``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def ask(study: optuna.Study) -> optuna.Trial:
    """``study.ask()`` without Optuna's warning that the heartbeat needs ``optimize``: the
    sweeper records it itself (:class:`Heartbeat`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
        return study.ask()


class StaleTrialCallback:
    """The storage's stale-trial callback: says why the trial failed. Optuna calls it after
    the trial is FAIL, when the trial's own attributes can no longer be written, so the
    reason goes to the study's user attribute ``stale:<number>``, to ``error.txt`` in the
    trial's folder (when this host sees it) and to the log."""

    def __init__(self, grace_period: int) -> None:
        self.grace_period = grace_period

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        owner = trial.user_attrs.get("owner", "its sweep process")
        reason = (f"stale: no heartbeat from {owner} for over {self.grace_period} s, so it "
                  f"was killed or lost while the trial ran; failed by {OWNER}")
        try:
            study.set_user_attr(STALE_ATTR.format(number=trial.number), reason)
        except Exception as e:  # the trial is failed already: the note is a courtesy
            log.warning("could not record why trial %d failed: %s", trial.number, e)
        run_dir = trial.user_attrs.get("run_dir")
        if run_dir and Path(run_dir).is_dir() and not (Path(run_dir) / "error.txt").exists():
            (Path(run_dir) / "error.txt").write_text(reason + "\n")
        log.warning("trial %d marked failed: %s", trial.number, reason)


class Heartbeat:
    """Records the heartbeat of the trials this process runs, from a thread, every
    ``heartbeat_interval`` seconds: ``with heartbeat.beating(trials): launch them``."""

    def __init__(self, storage, study_name: str) -> None:
        self.storage = storage if beats(storage) else None
        self.study_name = study_name
        self.study_id: Optional[int] = None

    def _trial_ids(self, numbers: Sequence[int]) -> list:
        if self.study_id is None:
            self.study_id = self.storage.get_study_id_from_name(self.study_name)
        return [self.storage.get_trial_id_from_study_id_trial_number(self.study_id, n)
                for n in numbers]

    def _beat(self, ids: list) -> None:
        for trial_id in ids:
            try:
                self.storage.record_heartbeat(trial_id)
            except Exception as e:  # a database hiccup must not stop the trial: the next
                # beat may get through, within the grace period
                log.warning("heartbeat not recorded: %s: %s", type(e).__name__, e)

    @contextmanager
    def beating(self, trials: Sequence) -> Iterator[None]:
        """Beat for ``trials`` (Optuna trials of the study) from now until the block ends.
        The first beat is written before the block starts: a trial without any heartbeat is
        never failed as stale."""
        if self.storage is None or not trials:
            yield
            return
        ids = self._trial_ids([t.number for t in trials])
        self._beat(ids)
        stop = threading.Event()
        interval = self.storage.get_heartbeat_interval()

        def run() -> None:
            while not stop.wait(interval):
                self._beat(ids)

        thread = threading.Thread(target=run, name="optuna-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
