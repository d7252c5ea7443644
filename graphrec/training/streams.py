"""Standard output and error that go away mid-run.

``python train.py 2>&1 | tee log`` then Ctrl-C: tee dies with the same signal, and the next
write to the pipe (the progress bar, a log line, the final summary, even the flush at exit)
raises BrokenPipeError; ``| head`` closes the pipe early; a closed terminal gives EIO. Under
``guarded()`` (train.py) such a write is dropped instead: the stream's file descriptor is
pointed at /dev/null, so later writes, C-level ones and the flush at exit included, go
nowhere, and the listeners are told (faults.InterruptFlag: the run stops as if interrupted,
its checkpoint, record and resume line in train.log written).
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, List

_listeners: List[Callable[[str], None]] = []


def on_lost(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener("stdout closed")`` when a guarded stream goes away; returns the undo."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


class GuardedStream:
    """A text stream whose failed writes drop the stream instead of raising."""

    def __init__(self, stream, name: str):
        self._stream, self.name, self.lost = stream, name, False

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                return self._stream.write(text)
            except (OSError, ValueError) as exc:
                self._lose(exc)
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._stream.flush()
            except (OSError, ValueError) as exc:
                self._lose(exc)

    def isatty(self) -> bool:
        return not self.lost and self._stream.isatty()

    def __getattr__(self, name):  # fileno, encoding, buffer, ...
        return getattr(self._stream, name)

    def _lose(self, exc: Exception) -> None:
        # not the stream's fault: a full non-blocking pipe, text it cannot encode
        if isinstance(exc, (BlockingIOError, UnicodeError)):
            raise exc
        self.lost = True
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
            self._stream.flush()  # what was buffered goes to /dev/null
        except (OSError, ValueError):
            pass
        for listener in list(_listeners):
            listener(f"{self.name} closed")


@contextmanager
def guarded():
    """sys.stdout and sys.stderr guarded while inside (set before Hydra makes its log
    handlers, so they write through the guards); flushed on the way out."""
    saved = sys.stdout, sys.stderr
    # None: started with the stream closed (``>&-``); print and logging then skip it
    sys.stdout, sys.stderr = (s if s is None else GuardedStream(s, name)
                              for s, name in zip(saved, ("stdout", "stderr")))
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        sys.stdout, sys.stderr = saved
