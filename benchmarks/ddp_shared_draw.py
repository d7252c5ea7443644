"""Under DDP, should every rank draw its own shared negatives (what graphrec does) or should
rank 0 draw one set and broadcast it? Times, per step, on each rank: the shared sampler's
batch (positives and the K shared columns drawn on the rank itself), and a broadcast of K
item ids from rank 0 (what the other choice would add to every step, besides rank 0's draw).

    torchrun --nproc_per_node 2 benchmarks/ddp_shared_draw.py [--steps 300] [--num-neg 512]

Prints the median of each per rank (CPU: gloo; CUDA: nccl, ``--device cuda``)."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from graphrec.bench.harness import compose_cfg, without_heldout  # noqa: E402
from graphrec.data import load_data  # noqa: E402
from graphrec.sampling import build_sampler  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--num-neg", type=int, default=512)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default="synthetic_seed")
    a = p.parse_args(argv)
    device = torch.device(a.device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if device.type == "cuda":
        device = torch.device("cuda", rank % torch.cuda.device_count())
    cfg = compose_cfg([f"data={a.data}", "loader=fast", "sampling=shared512",
                       f"sampling.num_neg={a.num_neg}", "batch=b256"])
    data = without_heldout(load_data(cfg.data))
    sampler = build_sampler(data, cfg, device, rank=rank, world=world)
    batches = sampler.epoch(0)
    ids = torch.zeros(a.num_neg, dtype=torch.int64, device=device)
    draw, bcast = [], []
    for i in range(a.steps + 10):
        t = time.perf_counter()
        next(batches)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t2 = time.perf_counter()
        dist.barrier()  # the ranks start the broadcast together, as DDP's allreduce makes them
        t3 = time.perf_counter()
        dist.broadcast(ids, src=0)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t4 = time.perf_counter()
        if i >= 10:
            draw.append(t2 - t)
            bcast.append(t4 - t3)
    print(f"rank {rank}/{world} ({device}, {data.name}, batch {cfg.batch.size}, K "
          f"{a.num_neg}, {a.steps} steps): own shared batch {statistics.median(draw) * 1e3:.3f} "
          f"ms median; broadcast of K ids {statistics.median(bcast) * 1e3:.3f} ms median",
          flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
