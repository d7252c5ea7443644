"""A long run says what it will cost, once, after its first log interval.

``loader=baseline`` (a README example) takes ~15 min for its 10 epochs on 2 cores, where the
default run takes 23 s; nothing said so until the end. At its first log point (the second
with ``trainer.compile``, whose first interval is mostly compiling) the run projects its
training time as epochs x the measured epoch time (steps per epoch x batch / samples/s over
that interval), bounded by ``trainer.max_steps`` and ``trainer.time_budget_s``, and logs it
when that exceeds :data:`LONG_S`. Validation is not counted, and early stopping may end the
run sooner: the figure is an upper bound on training, not a promise.

The training loop (training/loop.py) holds one :class:`Projection` and calls
:meth:`Projection.after_log` with each log interval's samples/s; only rank 0 speaks."""
from __future__ import annotations

import logging
import math
from typing import Optional

log = logging.getLogger(__name__)

LONG_S = 180.0  # "a few minutes": shorter runs say nothing


def duration(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


class Projection:
    def __init__(self, cfg, steps_per_epoch: int, world_size: int = 1, main: bool = True,
                 long_s: Optional[float] = None) -> None:
        t = cfg.trainer
        self.epochs, self.max_steps, self.budget_s = t.epochs, t.max_steps, t.time_budget_s
        self.steps_per_epoch = steps_per_epoch
        self.batch = max(cfg.batch.size // max(world_size, 1), 1)  # samples a step, a rank
        self.loader = cfg.loader.kind
        self.skip = 1 if t.get("compile") else 0  # intervals to let pass first
        self.long_s = LONG_S if long_s is None else long_s
        self.done = not main

    def projected(self, samples_per_s: float, done_steps: int = 0) -> Optional[tuple]:
        """(training seconds, seconds an epoch, epochs) left at ``samples_per_s`` a rank, after
        ``done_steps`` (a resumed run's steps so far)."""
        if not samples_per_s > 0 or not self.steps_per_epoch:
            return None
        epoch_s = self.steps_per_epoch * self.batch / samples_per_s
        steps = self.epochs * self.steps_per_epoch
        if self.max_steps:
            steps = min(steps, self.max_steps)
        steps = max(steps - done_steps, 0)
        total = steps * self.batch / samples_per_s
        if self.budget_s:
            total = min(total, self.budget_s)
        return total, epoch_s, steps / self.steps_per_epoch

    def after_log(self, samples_per_s: float, done_steps: int = 0) -> Optional[str]:
        """Log (and return) the projection at the first interval that counts, if long."""
        if self.done:
            return None
        if self.skip:
            self.skip -= 1
            return None
        self.done = True
        found = self.projected(samples_per_s, done_steps)
        if found is None or found[0] <= self.long_s:
            return None
        total, epoch_s, epochs = found
        bound = ("trainer.time_budget_s ends it there" if self.budget_s and total >= self.budget_s
                 else f"{_epochs(epochs)} x {duration(epoch_s)} an epoch")
        hint = "; loader=fast costs far less" if self.loader in ("baseline", "workers") else ""
        text = (f"this run will train for up to ~{duration(total)} ({bound}, at "
                f"{samples_per_s:,.0f} samples/s measured so far; validation not counted, "
                f"early stopping may end it sooner); trainer.epochs or trainer.time_budget_s "
                f"bound it{hint}")
        log.info(text)
        return text


def _epochs(epochs: float) -> str:
    whole = math.isclose(epochs, round(epochs))
    return f"{round(epochs)} epochs" if whole else f"{epochs:.2f} epochs"
