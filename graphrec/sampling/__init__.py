"""Samplers yield ``(users [B], items)`` on the training device. With
``sampling.strategy=per_sample`` (the default) ``items`` is ``[B, 1 + num_neg]``, column 0
the positive; with ``shared``, ``in_batch`` or ``mixed`` (``loader=fast`` only) it is a
:class:`~graphrec.models.negatives.SharedNegatives`. ``build_sampler`` picks one from the
``loader`` and ``sampling`` groups."""
from __future__ import annotations

from typing import Optional

import torch
from omegaconf import OmegaConf

from ..errors import ConfigError
from .baseline import DataLoaderSampler, SeedDataset
from .fast import DeviceSampler
from .shared import SharedSampler


def strategy(cfg) -> str:
    """``sampling.strategy``; a run recorded before the key existed drew per sample."""
    return OmegaConf.select(cfg, "sampling.strategy", default="per_sample")


def step_slots(cfg, world: int = 1) -> Optional[int]:
    """Item slots of a per-sample step on one rank (``B / world x (1 + num_neg)``), which
    decides whether a lean form pays; None when the negatives are shared by the batch (the
    lean form then reads only the drawn items, and always pays)."""
    if strategy(cfg) != "per_sample":
        return None
    return cfg.batch.size // world * (1 + cfg.sampling.num_neg)


def describe(cfg) -> str:
    """The negatives in a few words, for the run's log line: ``per_sample 512``."""
    k = OmegaConf.select(cfg, "sampling.num_neg")
    return strategy(cfg) + ("" if k is None else f" {k}")


def build_sampler(data, cfg, device: torch.device, rank: int = 0, world: int = 1):
    seed = int(cfg.trainer.seed)
    s, how = cfg.sampling, strategy(cfg)
    if cfg.loader.kind == "fast" and how == "per_sample":
        return DeviceSampler(data, s.num_neg, cfg.batch.size, device, seed,
                             candidates=s.candidates, exclude_train=s.exclude_train,
                             replacement=s.replacement, bitmap_max_mb=cfg.loader.bitmap_max_mb,
                             rank=rank, world=world)
    if cfg.loader.kind == "fast":
        return SharedSampler(data, how, s.get("num_neg", 0), cfg.batch.size, device, seed,
                             candidates=s.get("candidates", "warm"),
                             exclude_train=s.exclude_train,
                             replacement=s.get("replacement", True), logq=s.get("logq", False),
                             bitmap_max_mb=cfg.loader.bitmap_max_mb, rank=rank, world=world)
    if how != "per_sample":  # config.validate says so first; callers that skip it too
        raise ConfigError(f"sampling.strategy={how!r} is invalid with loader={cfg.loader.kind}:"
                          " the seed's per-sample loader draws each sample's own negatives "
                          "(allowed: per_sample; shared|in_batch|mixed need loader=fast)")
    return DataLoaderSampler(data, cfg, device, seed, rank=rank, world=world)


__all__ = ["build_sampler", "describe", "step_slots", "strategy", "DataLoaderSampler",
           "DeviceSampler", "SeedDataset", "SharedSampler"]
