"""Each validation of a trial, reported to its Optuna trial so the study's pruner can stop a
hopeless trial early (``hydra.sweeper.pruner``).

The sweeper registers the trials it launches; a trial that runs in the sweeper's own process
(Hydra's basic launcher, the default) finds its trial here by its number and reports to it.
Trials launched elsewhere (joblib, SLURM) run unpruned. Multi-objective studies cannot prune
(Optuna has no intermediate values for them), nor does ``throughput``: nothing is reported.

What is reported is the objective's own quantity, oriented as the study is: val Recall@20 for
``accuracy`` and ``accuracy_at_budget`` (maximised); for ``time_to_target`` (minimised) the
gap to the target, ``target - val metric``, which is <= 0 once reached. The step is the
validation's number, so with ``trainer.eval_every_s`` trials are compared at equal training
time.
"""
from __future__ import annotations

from typing import Callable, Optional

_OPEN: dict = {}  # trial number -> optuna.trial.Trial, launched by this process


def register(trial) -> None:
    _OPEN[trial.number] = trial


def release(number: int) -> None:
    _OPEN.pop(number, None)


def objective_metric(cfg) -> str:
    """The Recall@K that the accuracy objectives read: K=20 when evaluated, else the largest."""
    ks = list(cfg.trainer.ks)
    return f"recall@{20 if 20 in ks else max(ks)}"


def reporter(trial_number: Optional[int], cfg) -> Optional[Callable[[int, dict], bool]]:
    """The ``report`` callback for ``train(cfg, report=...)``, or None when nothing prunes."""
    trial = _OPEN.get(trial_number) if trial_number is not None else None
    objective = cfg.sweep.objective
    if trial is None or objective not in ("accuracy", "accuracy_at_budget", "time_to_target"):
        return None
    if objective == "time_to_target":
        target = cfg.trainer.target

        def value(metrics: dict) -> float:
            return target.value - metrics[target.metric]
    else:
        metric = objective_metric(cfg)

        def value(metrics: dict) -> float:
            return metrics[metric]

    def report(n: int, metrics: dict) -> bool:
        trial.report(value(metrics), step=n)
        return trial.should_prune()

    return report
