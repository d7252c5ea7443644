"""``precision`` group: autocast context and loss scaling, set up once per run."""
from __future__ import annotations

import contextlib
import logging
from typing import Optional

import torch

log = logging.getLogger(__name__)


def cpu_has_bf16() -> Optional[bool]:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX), from /proc/cpuinfo;
    None where that cannot be read. Without it, bf16 autocast emulates every product."""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = fh.read()
    except OSError:
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


class Precision:
    def __init__(self, mode: str, device: torch.device):
        self.mode, self.device = mode, device
        self.scaler = None
        if mode == "tf32":
            if device.type == "cuda":
                torch.backends.cuda.matmul.allow_tf32 = True
                torch.backends.cudnn.allow_tf32 = True
            else:
                log.warning("precision=tf32 has no effect on CPU; running fp32")
        if mode == "amp" and device.type == "cpu" and cpu_has_bf16() is False:
            log.warning("precision=amp on a CPU without native bf16 (no avx512_bf16/amx_bf16): "
                        "bf16 is emulated in software and may be slower than fp32; compare "
                        "before keeping it: python -m graphrec.bench --configs precision=fp32 "
                        "precision=amp")
        if mode == "amp_fp16":
            self.scaler = torch.amp.GradScaler("cuda")

    def autocast(self):
        if self.mode == "amp":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        if self.mode == "amp_fp16":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
