"""Throughput and memory, read at log points only (the one place the host syncs)."""
from __future__ import annotations

import resource
import statistics
import time
from contextlib import contextmanager

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> dict:
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


class ThroughputMeter:
    """Samples/s per log interval; the run's figure is the median over intervals, so one
    slow interval (warm-up, a noisy neighbour) does not move it."""

    def __init__(self, device: torch.device):
        self.device = device
        self.rates = []
        self.wait_s = 0.0
        self.step_s = 0.0
        self._t = None
        self._samples = 0

    def start(self) -> None:
        sync(self.device)
        self._t = time.perf_counter()
        self._samples = 0

    def add(self, samples: int, wait_s: float) -> None:
        self._samples += samples
        self.wait_s += wait_s

    def mark(self) -> float:
        """Close the interval at a log point; returns its samples/s."""
        sync(self.device)
        now = time.perf_counter()
        dt = now - self._t
        rate = self._samples / dt if dt > 0 else 0.0
        if self._samples:
            self.rates.append(rate)
            self.step_s += dt
        self._t, self._samples = now, 0
        return rate

    @contextmanager
    def paused(self):
        """Time spent inside (writing a checkpoint) is left out of the current interval,
        without closing it; the steps queued before it are waited for first, so they count."""
        sync(self.device)
        t = time.perf_counter()
        try:
            yield
        finally:
            if self._t is not None:
                self._t += time.perf_counter() - t

    def summary(self) -> dict:
        return {"samples_per_s": statistics.median(self.rates) if self.rates else 0.0,
                "data_wait_share": self.wait_s / self.step_s if self.step_s else 0.0}
