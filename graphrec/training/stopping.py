"""When a run stops: one small rule per reason, asked by the loop (loop.py).

The loop asks after a step (``after_step``) or after a validation (``after_validation``);
a rule answers with a ``StopReason`` or None. Rules see plain host values only (no tensors,
no device sync, no collectives): the loop reads the values and, under DDP, makes the ranks
agree (``world.any``) on the answers where it did before.

``StopReason.status`` is the run's ``status`` in metrics.json (``completed`` unless the run
diverged, was interrupted or pruned) and ``StopReason.recorded`` says whether the reason is
kept in ``Progress.stop_reason``: ``diverged`` and ``interrupted`` are not (an interrupted
run resumes; the record's ``stop_reason`` then falls back on the status).
"""
from __future__ import annotations

import math
from enum import Enum
from typing import Callable, Optional


class StopReason(str, Enum):
    EPOCHS = "epochs"
    MAX_STEPS = "max_steps"
    TIME_BUDGET = "time_budget"
    TARGET = "target"
    EARLY_STOPPING = "early_stopping"
    PRUNED = "pruned"
    DIVERGED = "diverged"
    INTERRUPTED = "interrupted"

    @property
    def status(self) -> str:
        """The run's status when it stops for this reason."""
        return self.value if self in _NOT_COMPLETED else "completed"

    @property
    def recorded(self) -> bool:
        """Kept in ``Progress.stop_reason`` (and so in ``last.pt``)."""
        return self not in (StopReason.DIVERGED, StopReason.INTERRUPTED)

    @property
    def overrides(self) -> bool:
        """Replaces a reason already recorded by an earlier rule (else the first one stays)."""
        return self in (StopReason.TARGET, StopReason.PRUNED)


_NOT_COMPLETED = (StopReason.PRUNED, StopReason.DIVERGED, StopReason.INTERRUPTED)


# ---------------------------------------------------------------------- after a step
class MaxSteps:
    """``trainer.max_steps``: 0 is no limit."""

    def __init__(self, max_steps: int):
        self.max_steps = int(max_steps or 0)

    def after_step(self, step: int) -> Optional[StopReason]:
        return StopReason.MAX_STEPS if self.max_steps and step >= self.max_steps else None


class Epochs:
    """``trainer.epochs``: asked at an epoch's end with the number of epochs done."""

    def __init__(self, epochs: int):
        self.epochs = int(epochs)

    def after_epoch(self, epochs_done: int) -> Optional[StopReason]:
        return StopReason.EPOCHS if epochs_done >= self.epochs else None


class Divergence:
    """A non-finite mean loss (NaN/Inf)."""

    def after_step(self, loss: float) -> Optional[StopReason]:
        return None if math.isfinite(loss) else StopReason.DIVERGED


class Interrupt:
    """Ctrl-C or SIGTERM (faults.InterruptFlag's ``is_set``)."""

    def after_step(self, stop_set: bool) -> Optional[StopReason]:
        return StopReason.INTERRUPTED if stop_set else None


class TimeBudget:
    """``trainer.time_budget_s`` on the wall clock (clock.py); 0 or None is no budget."""

    def __init__(self, budget_s: Optional[float]):
        self.budget_s = budget_s or 0

    def __bool__(self) -> bool:
        return bool(self.budget_s)

    def spent(self, wall_s: float) -> bool:
        return bool(self.budget_s) and wall_s >= self.budget_s

    def after_step(self, wall_s: float) -> Optional[StopReason]:
        return StopReason.TIME_BUDGET if self.spent(wall_s) else None

    def after_validation(self, wall_s: float) -> Optional[StopReason]:
        return self.after_step(wall_s)


# ---------------------------------------------------------------------- after a validation
class Target:
    """``trainer.target`` (metric, value); stops the run only with ``trainer.stop_at_target``.
    ``reached`` also tells the loop when to record the clock at the target."""

    def __init__(self, metric: str, value: Optional[float], stop: bool = False):
        self.metric, self.value, self.stop = metric, value, bool(stop)

    def reached(self, val: dict) -> bool:
        return self.value is not None and val[self.metric] >= self.value

    def after_validation(self, val: dict, first: bool = True) -> Optional[StopReason]:
        """``first``: the target was not reached before this validation."""
        return StopReason.TARGET if self.stop and first and self.reached(val) else None


class EarlyStopping:
    """``trainer.patience`` validations in a row without a gain; 0 is off."""

    def __init__(self, patience: int, monitor: str = ""):
        self.patience, self.monitor = int(patience or 0), monitor

    def after_validation(self, bad_evals: int) -> Optional[StopReason]:
        return StopReason.EARLY_STOPPING if self.patience and bad_evals >= self.patience \
            else None


class Pruner:
    """The sweep's ``report(n, values) -> bool`` (graphrec/sweeping/report.py); None is off.
    Called after every validation, whatever the other rules say."""

    def __init__(self, report: Optional[Callable[[int, dict], bool]] = None):
        self.report = report

    def after_validation(self, n: int, values: dict) -> Optional[StopReason]:
        if self.report is not None and self.report(n, values):
            return StopReason.PRUNED
        return None


def combine(current: Optional[StopReason], new: Optional[StopReason]) -> Optional[StopReason]:
    """The reason that stands when ``new`` is answered with ``current`` already recorded."""
    if new is None:
        return current
    if current is None or new.overrides:
        return new
    return current


class Rules:
    """The rules of one run, from ``cfg.trainer`` and the sweep's report callback."""

    def __init__(self, trainer, report=None):
        self.max_steps = MaxSteps(trainer.max_steps)
        self.epochs = Epochs(trainer.epochs)
        self.divergence = Divergence()
        self.interrupt = Interrupt()
        self.time_budget = TimeBudget(trainer.time_budget_s)
        self.target = Target(trainer.target.metric, trainer.target.value,
                             trainer.stop_at_target)
        self.early_stopping = EarlyStopping(trainer.patience, trainer.monitor)
        self.pruner = Pruner(report)

    def after_validation(self, current: Optional[StopReason], *, n: int, val: dict,
                         values: dict, first_target: bool, bad_evals: int,
                         wall_s: float) -> Optional[StopReason]:
        """The reason standing after a validation, in the order target, pruner, early
        stopping, time budget (target and pruner replace an earlier reason, the others
        don't)."""
        reason = combine(current, self.target.after_validation(val, first_target))
        reason = combine(reason, self.pruner.after_validation(n, values))
        reason = combine(reason, self.early_stopping.after_validation(bad_evals))
        return combine(reason, self.time_budget.after_validation(wall_s))


def reason_of(stop_reason: str) -> Optional[StopReason]:
    """``Progress.stop_reason`` ("" for none) as a StopReason."""
    return StopReason(stop_reason) if stop_reason else None
