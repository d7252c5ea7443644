"""``optimizer`` and ``scheduler`` groups: build the optimizer and its learning-rate schedule.

The learning rate itself is ``model.lr`` scaled by ``batch.lr_scaling`` (loop.scaled_lr);
these groups hold only the optimizer's own keys and the schedule's shape. A run recorded
before the groups existed has neither: it trains as ``adam`` + ``constant``, as it did.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Optional

import torch
from omegaconf import OmegaConf

from ..errors import ConfigError
from .lazy_adam import LazyAdam

log = logging.getLogger(__name__)

# The lean step fuses these (one pass over each tensor instead of about ten: 55 -> 8 ms per
# step at the seed's 62k x 64 table on CPU, for Adam); the seed's step keeps torch's default.
# Adagrad's fused kernel is CPU-only, so it keeps the default everywhere.
FUSED = ("adam", "adamw", "sgd", "lazy_adam")


def _group(cfg, name: str):
    node = OmegaConf.select(cfg, name)
    return {} if node is None else OmegaConf.to_container(node)


def make_optimizer(params, lr: float, impl: str, cfg) -> torch.optim.Optimizer:
    keys = _group(cfg, "optimizer")
    name = keys.pop("name", "adam")
    fused = {"fused": True if impl == "lean" else None} if name in FUSED else {}
    if name in ("adam", "adamw", "lazy_adam"):
        keys["betas"] = tuple(keys.get("betas", (0.9, 0.999)))
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "lazy_adam": LazyAdam}[name]
    elif name == "sgd":
        cls = torch.optim.SGD
    elif name == "adagrad":
        cls = torch.optim.Adagrad
    else:
        raise ConfigError(f"optimizer.name={name!r} is invalid: allowed "
                          "adam|adamw|sgd|adagrad|lazy_adam")
    return cls(params, lr=lr, **keys, **fused)


@dataclass
class WarmupDecay:
    """The factor on the lr at optimizer step ``s`` (0-based): ``(s + 1) / warmup`` while
    warming up, 1 at ``warmup``, then down to ``min_ratio`` at ``total`` and after. A
    callable object, not a function: LambdaLR then saves its fields with the state."""
    kind: str           # cosine | linear
    warmup: int
    total: int
    min_ratio: float

    def __call__(self, s: int) -> float:
        if s < self.warmup:
            return (s + 1) / self.warmup
        done = min(1.0, (s - self.warmup) / max(1, self.total - self.warmup))
        shape = 0.5 * (1 + math.cos(math.pi * done)) if self.kind == "cosine" else 1 - done
        return self.min_ratio + (1 - self.min_ratio) * shape


def run_steps(cfg, steps_per_epoch: int) -> int:
    """The optimizer steps a run takes: epochs x steps per epoch, or max_steps if fewer."""
    total = cfg.trainer.epochs * steps_per_epoch
    return min(total, cfg.trainer.max_steps) if cfg.trainer.max_steps else total


def make_scheduler(optimizer, cfg, steps_per_epoch: int) -> Optional[object]:
    """A LambdaLR stepped once per optimizer step, or None for ``constant`` (today's run,
    untouched)."""
    keys = _group(cfg, "scheduler")
    name = keys.get("name", "constant")
    if name == "constant":
        return None
    if name not in ("warmup_cosine", "warmup_linear"):
        raise ConfigError(f"scheduler.name={name!r} is invalid: allowed "
                          "constant|warmup_cosine|warmup_linear")
    total = keys["total_steps"] or run_steps(cfg, steps_per_epoch)
    if keys["warmup_steps"] >= total:  # a sweep's short trials may: warn, do not fail them
        log.warning("scheduler.warmup_steps=%d is not below the run's %d steps: the lr never "
                    "reaches model.lr nor decays", keys["warmup_steps"], total)
    shape = WarmupDecay(name.split("_")[1], keys["warmup_steps"], total, keys["min_lr_ratio"])
    return torch.optim.lr_scheduler.LambdaLR(optimizer, shape)


def row_grads(cfg) -> bool:
    """Whether the model's lean step should give its tables row (sparse) gradients."""
    return OmegaConf.select(cfg, "optimizer.name") == "lazy_adam"


def names(cfg) -> dict:
    """metrics.json ``run``: the chosen options (a run from before the groups: adam, constant)."""
    return {"optimizer": OmegaConf.select(cfg, "optimizer.name", default="adam"),
            "scheduler": OmegaConf.select(cfg, "scheduler.name", default="constant")}
