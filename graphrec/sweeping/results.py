"""``optimization_results.yaml`` and the printed summary: the Pareto front (two objectives)
or the best trial (one), over every finished trial of the study, resumed ones included."""
from __future__ import annotations

import fcntl
import logging
import os
from contextlib import contextmanager
from pathlib import Path

from omegaconf import OmegaConf
from optuna.trial import TrialState

log = logging.getLogger(__name__)


def _solution(trial, names) -> dict:
    return {"trial": trial.number,
            "values": dict(zip(names, trial.values)),
            "params": dict(trial.params),
            **({"row": trial.user_attrs["row"]} if "row" in trial.user_attrs else {}),
            "run_dir": trial.user_attrs.get("run_dir")}


def _line(sol: dict) -> str:
    values = "  ".join(f"{k}={v:,.0f}" if abs(v) >= 100 else f"{k}={v:.4f}"
                       for k, v in sol["values"].items())
    what = sol.get("row") or " ".join(f"{k}={v}" for k, v in sol["params"].items())
    return f"  #{sol['trial']:<4} {values}  {what}  [{sol['run_dir']}]"


@contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` (a file, created), held for the block, and the file
    removed at its end. A process that waited on a file another then removed holds a lock on
    nothing: it sees the inode changed (or gone) and tries again."""
    while True:
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                continue
            try:
                yield
            finally:
                os.unlink(path)  # still holding the lock: nobody else holds this inode
            return


def write_results(study, names, path: Path) -> dict:
    """Sweep processes sharing a study write the same file when they end. Each reads the
    study and writes under one lock, so the last writer has read every trial the others had
    told, and the file is replaced whole, never seen half-written."""
    with _locked(path.with_name(f".{path.name}.lock")):
        result = _summary(study, names)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        OmegaConf.save(OmegaConf.create(result), partial)
        os.replace(partial, path)
    log.info("trials: %s | results: %s", result["trials"], path)
    return result


def _summary(study, names) -> dict:
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in study.trials:
        counts[trial.state.name.lower()] += 1
    result = {"name": "optuna", "study_name": study.study_name, "objectives": list(names),
              "directions": [d.name.lower() for d in study.directions], "trials": counts}
    if counts["complete"] == 0:
        log.warning("no trial of study %s has completed yet", study.study_name)
    elif len(names) > 1:
        front = [_solution(t, names) for t in sorted(study.best_trials, key=lambda t: t.number)]
        result["solutions"] = front
        log.info("Pareto front of %s (%d of %d completed trials):", study.study_name, len(front),
                 counts["complete"])
        for sol in front:
            log.info(_line(sol))
    else:
        best = _solution(study.best_trial, names)
        result.update(best_trial=best["trial"], best_value=study.best_value,
                      best_params=best["params"], best_run_dir=best["run_dir"])
        log.info("Best of %s (%d completed trials):", study.study_name, counts["complete"])
        log.info(_line(best))
    return result
