"""Counter-based random numbers from plain int32 tensor ops.

Every draw of the fast sampler is ``hash32(counter * a + b)`` where ``(a, b)`` come from
``stream_key(seed, epoch, step, ...)``: no generator state, so the same (seed, epoch, step)
gives the same numbers on CPU and CUDA, with any number of processes, and a checkpoint needs
nothing to resume the stream. int32 because it is 3-4x cheaper than int64 per element on CPU;
its multiplication wraps modulo 2**32 on every backend, which the hash needs (a test pins the
values against numpy's uint32 arithmetic). Right shifts are made logical with a mask.

The hash is ``lowbias32`` (C. Wellons' hash-prospector). Its ops run in place on one buffer,
3x faster on CPU than a fresh tensor per op.
"""
from __future__ import annotations

import numpy as np
import torch

_MASK64 = (1 << 64) - 1
_MUL1 = 0x7FEB352D
_MUL2 = 0x846CA68B - (1 << 32)  # as int32


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def stream_key(*parts: int) -> int:
    """Fold integers (seed, epoch, step, ...) into one 64-bit key, on the host."""
    key = 0
    for p in parts:
        key = _splitmix64(key ^ (int(p) & _MASK64))
    return key


def _int32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def hash32_(x: torch.Tensor, tmp: torch.Tensor) -> torch.Tensor:
    """lowbias32 in place on an int32 tensor; ``tmp`` is scratch of the same shape."""
    for shift, mul in ((16, _MUL1), (15, _MUL2), (16, None)):
        torch.bitwise_right_shift(x, shift, out=tmp)
        tmp &= (1 << (32 - shift)) - 1
        x ^= tmp
        if mul is not None:
            x.mul_(mul)
    return x


def bits(key: int, counters: torch.Tensor) -> torch.Tensor:
    """32 random bits (as int32) per int32 counter, for stream ``key``.

    Streams differ by an odd multiplier and an offset, so two streams never run through the
    same inputs in the same order, as ``counter + key`` streams would."""
    out = torch.empty_like(counters)
    offset = torch.tensor(_int32(key >> 32), dtype=torch.int32)  # a CPU scalar: no copy
    torch.add(offset, counters, alpha=_int32(key | 1), out=out)  # one pass, not two
    return hash32_(out, torch.empty_like(out))


def below_(x: torch.Tensor, high) -> torch.Tensor:
    """In place: int32 random bits -> uniform ints in ``[0, high)``, ``high`` an int or a
    tensor broadcast to ``x`` (each < 2**31). floor((x + 2**31) * high / 2**32) in float64,
    which is exact enough that the bias is below high / 2**32 and never reaches ``high``."""
    if isinstance(high, torch.Tensor):
        high = high.to(torch.float64) * 2.0**-32
    else:
        high = float(high) * 2.0**-32
    x.copy_(x.to(torch.float64).add_(2.0**31).mul_(high))
    return x


def randint(key: int, counters: torch.Tensor, high) -> torch.Tensor:
    """Uniform int32 in ``[0, high)`` at each counter of stream ``key``."""
    return below_(bits(key, counters), high)


# numpy twins: the CPU sampler handles its ~1 % re-drawn slots in numpy, whose per-op cost on
# small arrays is ~5x below torch's. Same values as the torch functions (a test pins them).
def bits_np(key: int, counters: np.ndarray) -> np.ndarray:
    x = counters.astype(np.uint32) * np.uint32((key | 1) & 0xFFFFFFFF)
    x += np.uint32((key >> 32) & 0xFFFFFFFF)
    for shift, mul in ((16, _MUL1), (15, _MUL2), (16, None)):
        x ^= x >> np.uint32(shift)
        if mul is not None:
            x *= np.uint32(mul & 0xFFFFFFFF)
    return x.view(np.int32)


def randint_np(key: int, counters: np.ndarray, high) -> np.ndarray:
    x = bits_np(key, counters).astype(np.float64)
    return ((x + 2.0**31) * (np.asarray(high, dtype=np.float64) * 2.0**-32)).astype(np.int32)
