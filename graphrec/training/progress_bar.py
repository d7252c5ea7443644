"""The per-epoch progress display: tqdm's bar on a terminal, plain lines anywhere else.

tqdm redraws its line with ``\\r`` several times a second; in a file (``> log``, ``| tee``,
nohup.out) every redraw is kept, and a long run's log fills with them. So the bar is drawn
only when stderr is a terminal; elsewhere a plain line is written every
``trainer.progress_every_s`` seconds (epoch, steps, loss, samples/s, ETA).
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


_now = time.monotonic  # the plain lines' clock (tests replace it)


def make(total: int, initial: int, desc: str, enabled: bool, every_s: float, stream=None,
         clock=None):
    """The display for one epoch: ``update(n)``, ``set_postfix(**values)``, ``close()``."""
    stream = sys.stderr if stream is None else stream
    if not enabled or stream is None:
        return Quiet()
    if stream.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit="step", leave=False,
                    dynamic_ncols=True, file=stream)
    return Lines(total, initial, desc, stream, every_s, clock or _now)


class Quiet:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **values) -> None:
        pass

    def close(self) -> None:
        pass


class Lines(Quiet):
    """A plain line every ``every_s`` seconds of ``clock``, asked at each step (a
    monotonic clock read, ~0.1 us)."""

    def __init__(self, total: int, initial: int, desc: str, stream, every_s: float, clock):
        self.total, self.n, self.desc, self.stream = total, initial, desc, stream
        self.every_s, self.clock = every_s, clock
        self._n0, self._t0 = initial, clock()
        self._last = self._t0
        self.postfix = {}

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        if now - self._last >= self.every_s:
            self._last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def set_postfix(self, **values) -> None:
        self.postfix = values

    def line(self, now: float) -> str:
        rate = (self.n - self._n0) / (now - self._t0) if now > self._t0 else 0.0
        eta = _duration((self.total - self.n) / rate) if rate > 0 else "?"
        values = "".join(f" {k}={v}" for k, v in self.postfix.items())
        return (f"{self.desc}: {self.n}/{self.total} steps "
                f"({100 * self.n / max(self.total, 1):.0f}%){values} | ETA {eta}")


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02d}:{s:02d}" if hours else f"{m}:{s:02d}"
