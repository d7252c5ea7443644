"""How close a training step runs to the machine's limit: the step's matrix-product FLOPs,
counted from the shapes by torch's FlopCounterMode (forward and backward), times the steps a
second the timed runs reached, against a large square matrix product timed in the same run at
the step's dtype. Elementwise work, gathers, the sampler and the optimizer are not counted
(they are memory-bound, not in a product), so the fraction is of the compute limit only."""
from __future__ import annotations

import statistics
import tempfile
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..config import resolve_impl
from .harness import train_run


def _addmm_(self_shape, a, b, *args, out_shape=None, **kwargs) -> int:
    return 2 * a[0] * a[1] * b[1]


def _baddbmm_(self_shape, a, b, *args, out_shape=None, **kwargs) -> int:
    return 2 * a[0] * a[1] * a[2] * b[2]


# in-place products torch's table leaves out (the lean steps' backward accumulates with them);
# FlopCounterMode passes each argument's shape
IN_PLACE = {torch.ops.aten.addmm_: _addmm_, torch.ops.aten.baddbmm_: _baddbmm_}
DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "amp": torch.bfloat16,
          "amp_fp16": torch.float16}


def applies(cfg) -> bool:
    """Lean, uncompiled steps only: the reference steps are the seed's, not tuned to a limit,
    and counting a compiled step would compile it twice more."""
    return resolve_impl(cfg) == "lean" and not cfg.trainer.compile


def step_flops(h, config: str, extra, data) -> int:
    """FLOPs of one optimizer step: the count over 3 steps minus the count over 2, so model
    set-up, the first step's lazy work and the final evaluation cancel out."""
    own = " ".join(o for o in config.split()
                   if not o.startswith(("trainer.max_steps=", "trainer.log_every=")))
    counts = []
    for steps in (2, 3):
        cfg = h.cfg(own, [*extra, f"trainer.max_steps={steps}", "trainer.log_every=1"])
        counter = FlopCounterMode(display=False, custom_mapping=IN_PLACE)
        with tempfile.TemporaryDirectory() as out, counter:
            train_run(cfg, out, data)
        counts.append(counter.get_total_flops())
    return counts[1] - counts[0]


def mm_peak(device: torch.device, mode: str, n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an [n, n] x [n, n] product on ``device`` at precision ``mode``'s dtype (tf32
    with TF32 products allowed): median of ``reps`` (after one warm-up); 2 n^3 FLOPs each."""
    a = torch.randn(n, n, device=device).to(DTYPES[mode])
    b = torch.randn(n, n, device=device).to(DTYPES[mode])
    allow = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    times = []
    try:
        for i in range(reps + 1):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t = time.perf_counter()
            torch.mm(a, b)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i:
                times.append(time.perf_counter() - t)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = allow
    return 2 * n ** 3 / statistics.median(times) / 1e9


def roofline(flops: int, samples_per_s: float, batch: int, peak_gflops: float) -> str:
    """``flops`` a step at ``samples_per_s`` / ``batch`` steps a second, against the peak."""
    if flops <= 0:
        return "no matrix product in the step (elementwise only): no roofline"
    achieved = flops * samples_per_s / batch / 1e9
    return (f"{flops / 1e9:.2f} GFLOP a step, {achieved:,.1f} GFLOP/s = "
            f"{achieved / peak_gflops:.0%} of the {peak_gflops:,.0f} GFLOP/s mm peak")
