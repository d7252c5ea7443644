"""Interrupt handling and failure injection (for tests and sweep drills)."""
from __future__ import annotations

import os
import signal
import threading

import torch

from . import streams


class InterruptFlag:
    """While active, SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped SSH session)
    only set a flag, and so does a standard output or error that went away (a closed pipe,
    streams.py); the loop checks it between steps, saves a resumable checkpoint and returns.
    ``cause`` says which (``SIGHUP``, ``stdout closed``, ...). A second signal of the same
    kind falls through to the previous handler (a second Ctrl-C still kills); a first one of
    another kind while stopping changes nothing. A signal the parent ignores stays ignored:
    ``nohup`` ignores SIGHUP, a shell's background job SIGINT."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))  # no SIGHUP on Windows

    def __init__(self):
        self.is_set = False
        self.cause = ""
        self._seen = set()
        self._previous = {}
        self._unlisten = None

    def _handle(self, signum, frame):
        if signum in self._seen:  # the same signal again: the user insists
            prev = self._previous.get(signum)
            if callable(prev):
                prev(signum, frame)
            raise KeyboardInterrupt
        self._seen.add(signum)
        if not self.is_set:
            self.is_set, self.cause = True, signal.Signals(signum).name

    def _stream_lost(self, cause: str) -> None:
        if not self.is_set:
            self.is_set, self.cause = True, cause

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        self._unlisten = streams.on_lost(self._stream_lost)
        return self

    def __exit__(self, *exc):
        for sig, prev in self._previous.items():
            signal.signal(sig, prev)
        self._unlisten()
        return False


def die() -> None:
    """What ``fail_kind=kill`` does: SIGKILL, no handler, no clean shutdown (the OOM killer,
    a preempted job). Tests replace it to stay alive."""
    os.kill(os.getpid(), signal.SIGKILL)


class Fault:
    """``trainer.fail_after_steps=N`` with ``trainer.fail_kind``, fired before step N:
    ``error`` raises, ``nan`` poisons the loss, ``oom`` raises MemoryError (what an allocator
    failure looks like to the loop), ``interrupt`` sends this process SIGTERM, ``kill``
    SIGKILL (the run resumes from its last periodic checkpoint). A resumed run fires none:
    its config still holds the fault, and a drill of the first process would repeat."""

    def __init__(self, after_steps: int, kind: str, armed: bool = True):
        self.after, self.kind = (after_steps if armed else 0), kind

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
        if self.kind == "kill":
            die()

    def corrupt(self, loss: torch.Tensor, step: int) -> torch.Tensor:
        return loss * float("nan") if self.kind == "nan" and self._due(step) else loss
