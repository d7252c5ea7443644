"""How many CPU threads the training step uses (``trainer.step_threads``).

graphrec runs with ``OMP_WAIT_POLICY=PASSIVE`` (train.py, the bench): an idle OpenMP thread
sleeps instead of spinning, which keeps a shared machine usable, but then every parallel
region of an op wakes it. A small step (BPR on ml-100k: a few dozen ops on 2,048 x 64 rows)
is all wake-ups: ``index_add_`` of 2,048 rows took 651 us on 2 threads and 46 us on 1,
elementwise ops ~3x longer on 2 (``benchmarks/RESULTS.md``, "Small steps on one thread"). Up
to ~1M elements a second thread costs more than it saves; from ~2M elements it pays. So
``auto`` runs the step on one thread when its largest tensor stays under ``SMALL_STEP``
elements; validation and everything outside the step keep the process's threads."""
from __future__ import annotations

from contextlib import contextmanager

import torch
from omegaconf import OmegaConf

SMALL_STEP = 1 << 20  # elements; below it one thread beats two (measured crossover 1-2M)


def step_elements(cfg, model) -> int:
    """The largest tensor a training step touches, estimated from the shapes: the model's
    parameters and buffers (Adam and a dense gradient each sweep them) or the batch's
    gathered rows at per-sample width, B x (1 + num_neg) x dim (an upper bound for shared
    negatives, whose step reads fewer rows)."""
    tensors = sum(t.numel() for t in model.parameters()) + sum(t.numel() for t in model.buffers())
    k = OmegaConf.select(cfg, "sampling.num_neg", default=0) or 0
    dim = OmegaConf.select(cfg, "model.dim", default=64) or 64
    return max(tensors, cfg.batch.size * (1 + k) * dim)


def step_threads(cfg, model, device: torch.device) -> int:
    """Threads for the step: 0 leaves the process's setting (trainer.threads or torch's)."""
    value = cfg.trainer.step_threads
    if device.type != "cpu":
        return 0
    if value == "auto":
        return 1 if step_elements(cfg, model) < SMALL_STEP else 0
    return int(value)


@contextmanager
def limited(n: int):
    """torch's intra-op threads set to ``n`` inside, restored after (0: unchanged)."""
    before = torch.get_num_threads()
    if n <= 0 or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def describe(cfg, n: int, process: int) -> str:
    """The log line's tail when the step's threads differ from the process's."""
    if n <= 0 or n == process:
        return ""
    why = " (a small step: trainer.step_threads=auto)" if cfg.trainer.step_threads == "auto" else ""
    return f" | step on {n} thread{'s' if n > 1 else ''}{why}"
