"""The run's clock, as MLPerf Training counts time to train.

It starts just before the first step: data loading, model and sampler set-up are done by
then and are not counted. From there everything counts: steps, the loader's waits, logging
and every validation. ``wall`` is that whole time; ``eval_s`` the part spent validating
(including writing ``best.pt``); ``checkpoint_s`` the part spent writing the periodic
``last.pt``; ``train`` the rest. So checkpoints count in wall time (time to target, the time
budget, time to best) but not in training seconds (samples/s, ``eval_every_s``). The final
evaluation of the best checkpoint on val and test, after training, is outside the clock. A
resumed run's clock goes on from the figures its checkpoint holds, taken just before that
checkpoint was written: the time it spent stopped and the steps a kill lost after its last
checkpoint are not counted (those steps count once, when they are done again).
"""
from __future__ import annotations

import time
from contextlib import contextmanager


class Clock:
    def __init__(self, wall_s: float = 0.0, eval_s: float = 0.0, checkpoint_s: float = 0.0):
        self._before, self.eval_s, self.checkpoint_s = wall_s, eval_s, checkpoint_s
        self._t0 = None

    def start(self) -> None:
        self._t0 = time.perf_counter() - self._before

    def wall(self) -> float:
        return time.perf_counter() - self._t0 if self._t0 is not None else self._before

    def train(self) -> float:
        return self.wall() - self.eval_s - self.checkpoint_s

    @contextmanager
    def evaluating(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.eval_s += time.perf_counter() - t

    @contextmanager
    def checkpointing(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.checkpoint_s += time.perf_counter() - t

    def reading(self) -> dict:
        """The three figures, rounded for the record."""
        wall = self.wall()
        return {"train_s": round(wall - self.eval_s - self.checkpoint_s, 4),
                "eval_s": round(self.eval_s, 4), "wall_s": round(wall, 4)}
