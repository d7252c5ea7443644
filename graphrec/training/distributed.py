"""DistributedDataParallel under torchrun: the world comes from torchrun's environment.

Every rank trains on its share of each global batch; rank 0 alone evaluates, writes the run
record and checkpoints, and decides whether to go on. Decisions that every rank must take
together (stop, diverged, interrupted) are all-reduced at log points and epoch ends only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..config import resolve_device


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool, device) -> bool:
        """True on every rank when it is True on any rank."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def total(self, value: float, device) -> float:
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return float(t.item())

    def from_main(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def setup(device_name: str):
    """(World, device) from torchrun's environment; a plain run is a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_name)
    if size == 1:
        return World(), device
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world, device


def wrap(model: torch.nn.Module, world: World, device) -> torch.nn.Module:
    """The module the step calls: DDP averages gradients over ranks. Buffers (features, the
    graph) are constant, so they are not re-broadcast every step."""
    if not world.active:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                                     broadcast_buffers=False)


def teardown(world: World) -> None:
    if world.active and dist.is_initialized():
        dist.destroy_process_group()
