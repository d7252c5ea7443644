"""Counter-based random numbers built from plain int64 tensor ops.

``splitmix64(key)`` hashes each element of an int64 tensor. Every draw of the fast sampler is
``hash(seed, epoch, step, round, position)``, so the same (seed, epoch, step) gives the same
negatives on CPU and CUDA, with any number of processes, and with no generator state to carry
in a checkpoint. int64 multiplication wraps modulo 2**64 on every device, which is what
splitmix64 needs; the right shifts are made logical with a mask.
"""
from __future__ import annotations

import torch

_M1 = -4658895280553007687  # 0xBF58476D1CE4E5B9 as int64
_M2 = -7723592293110705685  # 0x94D049BB133111EB as int64
_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64


def _srl(x: torch.Tensor, k: int) -> torch.Tensor:
    return (x >> k) & ((1 << (64 - k)) - 1)


def splitmix64(x: torch.Tensor) -> torch.Tensor:
    x = x + _GOLDEN
    x = (x ^ _srl(x, 30)) * _M1
    x = (x ^ _srl(x, 27)) * _M2
    return x ^ _srl(x, 31)


def stream_key(*parts: int) -> int:
    """Fold integers (seed, epoch, step, ...) into one int64 key on the host."""
    key = 0
    for p in parts:
        t = splitmix64(torch.tensor([key ^ int(p)], dtype=torch.int64))
        key = int(t.item())
    return key


def randint(key: int, shape, high: torch.Tensor | int, device) -> torch.Tensor:
    """Uniform ints in [0, high) (``high`` may be a tensor broadcast to ``shape``).
    53 random bits times ``high``: bias below 2**-40 for any catalogue we meet."""
    n = 1
    for s in shape:
        n *= s
    pos = torch.arange(n, device=device, dtype=torch.int64).view(shape)
    bits = _srl(splitmix64(pos ^ key), 11).to(torch.float64) * (1.0 / (1 << 53))
    return (bits * high).to(torch.int64)


def rand(key: int, shape, device) -> torch.Tensor:
    n = 1
    for s in shape:
        n *= s
    pos = torch.arange(n, device=device, dtype=torch.int64).view(shape)
    return (_srl(splitmix64(pos ^ key), 40).to(torch.float32)) * (1.0 / (1 << 24))
