"""``precision`` group: autocast context and loss scaling, set up once per run."""
from __future__ import annotations

import contextlib
import logging

import torch

log = logging.getLogger(__name__)


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
