"""Trainer-side parts of the lean step: the GPU-only options ``trainer.compile``
(torch.compile) and ``trainer.cuda_graphs`` (CUDA-graph capture). The optimizer, fused for
the lean step, is built in optim.py.

``config.validate`` refuses both on CPU before anything is built; they are checked again
here so a caller that skips validation gets the same clear error.
"""
from __future__ import annotations

import logging

import torch

from ..errors import ConfigError

log = logging.getLogger(__name__)


def prepare(model, cfg, device: torch.device):
    """Compile ``model.loss`` in place when ``trainer.compile`` is set (CUDA only).

    With ``trainer.cuda_graphs`` the compiled forward and backward are captured as CUDA
    graphs (mode ``reduce-overhead``): the step then costs a graph launch instead of a few
    hundred kernel launches, which is what bounds small batches on a fast GPU."""
    if not cfg.trainer.compile:
        return model
    if device.type != "cuda":
        raise ConfigError("trainer.compile=true is invalid on CPU: it is a CUDA-only option "
                          "here (allowed on CPU: false)")
    mode = "reduce-overhead" if cfg.trainer.cuda_graphs else "default"
    log.info("torch.compile(model.loss, mode=%s): the first steps compile (~1 min)", mode)
    model.loss = torch.compile(model.loss, mode=mode)
    return model
