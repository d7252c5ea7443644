"""Interrupt handling and failure injection (for tests and sweep drills)."""
from __future__ import annotations

import os
import signal
import threading

import torch


class InterruptFlag:
    """While active, SIGINT and SIGTERM only set a flag; the loop checks it between steps,
    saves a resumable checkpoint and returns. A second signal falls through to the
    previous handler (a second Ctrl-C still kills)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.is_set = False
        self._previous = {}

    def _handle(self, signum, frame):
        if self.is_set:
            prev = self._previous.get(signum)
            if callable(prev):
                prev(signum, frame)
            raise KeyboardInterrupt
        self.is_set = True
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, prev in self._previous.items():
            signal.signal(sig, prev)
        return False


class Fault:
    """``trainer.fail_after_steps=N`` with ``trainer.fail_kind``: ``error`` raises,
    ``nan`` poisons the loss, ``oom`` raises MemoryError (what an allocator failure looks
    like to the loop), ``interrupt`` sends this process SIGTERM."""

    def __init__(self, after_steps: int, kind: str):
        self.after, self.kind = after_steps, kind

    def _due(self, step: int) -> bool:
        return bool(self.after) and step == self.after

    def maybe_fire(self, step: int) -> None:
        if not self._due(step):
            return
        if self.kind == "error":
            raise RuntimeError(f"injected failure after {step} steps (trainer.fail_after_steps)")
        if self.kind == "oom":
            raise MemoryError(f"injected out-of-memory after {step} steps "
                              "(trainer.fail_after_steps)")
        if self.kind == "interrupt":
            os.kill(os.getpid(), signal.SIGTERM)

    def corrupt(self, loss: torch.Tensor, step: int) -> torch.Tensor:
        return loss * float("nan") if self.kind == "nan" and self._due(step) else loss
