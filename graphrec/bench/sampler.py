"""``sampler``: the seed's Dataset behind its DataLoader against the fast sampler, batches
only, on the CPU, in alternating rounds of ``--seconds`` each."""
from __future__ import annotations

import gc
import itertools
import statistics
import time

import torch

from ..sampling import DataLoaderSampler, DeviceSampler
from .harness import add_data, add_rounds, alternate, device_name

HELP = "the seed's DataLoader against the fast sampler, batches only (samples/s)"
DEFAULT_CONFIGS = []


def add_arguments(p):
    add_data(p)
    add_rounds(p)
    p.add_argument("--seconds", type=float, default=5.0, help="time per side and round")


def run(h):
    a = h.args
    cfg = h.cfg("loader=baseline")
    data = h.data(cfg, heldout=False)
    cpu = torch.device("cpu")
    s = cfg.sampling
    sides = {
        "baseline Dataset + DataLoader (1 worker)": lambda: DataLoaderSampler(data, cfg, cpu, 0),
        "fast DeviceSampler": lambda: DeviceSampler(
            data, s.num_neg, cfg.batch.size, cpu, 0, candidates=s.candidates,
            exclude_train=s.exclude_train, replacement=s.replacement),
    }

    def one(r, name):
        sampler = sides[name]()
        batches = (b for e in itertools.count() for b in sampler.epoch(e))
        next(batches)  # worker start-up and the epoch permutation
        n, t = 0, time.perf_counter()
        while n < 3 or time.perf_counter() - t < a.seconds:
            next(batches)
            n += 1
        speed = n * cfg.batch.size / (time.perf_counter() - t)
        batches.close()  # stops the DataLoader's worker before the other side runs
        del batches, sampler
        gc.collect()
        print(f"round {r} | {name} | {speed:,.0f} samples/s", flush=True)
        return speed

    speeds = alternate(range(a.rounds), list(sides), one)
    first = statistics.median(next(iter(speeds.values())))
    for name, v in speeds.items():
        med = statistics.median(v)
        h.record(f"{name}, batch {cfg.batch.size}, num_neg {s.num_neg}",
                 f"{med:,.0f} samples/s", f"{med / first:.1f}x", len(v), device_name(cpu))
