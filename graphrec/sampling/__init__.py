"""Samplers yield ``(users [B], items [B, 1 + num_neg])`` on the training device; column 0 is
the positive. ``build_sampler`` picks one from the ``loader`` group."""
from __future__ import annotations

import torch

from .baseline import DataLoaderSampler, SeedDataset
from .fast import DeviceSampler


def build_sampler(data, cfg, device: torch.device, rank: int = 0, world: int = 1):
    seed = int(cfg.trainer.seed)
    if cfg.loader.kind == "fast":
        s = cfg.sampling
        return DeviceSampler(data, s.num_neg, cfg.batch.size, device, seed,
                             candidates=s.candidates, exclude_train=s.exclude_train,
                             replacement=s.replacement, bitmap_max_mb=cfg.loader.bitmap_max_mb,
                             rank=rank, world=world)
    return DataLoaderSampler(data, cfg, device, seed, rank=rank, world=world)


__all__ = ["build_sampler", "DataLoaderSampler", "DeviceSampler", "SeedDataset"]
