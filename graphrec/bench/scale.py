"""``scale``: cost as the work grows. Each size (``--sizes``: data options, or ``--configs``:
override strings, one per size) runs in a fresh process (``scale-child``), so its peak memory
is its own: data load (generation or cache), the fast sampler alone, the lean step of each
``--models`` (``--steps`` steps after ``--warmup``; batch 1024, 512 negatives unless the size's
overrides say otherwise) and one full validation, timed. Writes ``scale.md``, ``scale.json``
and a log-log plot ``scale.png`` of cost against training pairs into ``--out``."""
from __future__ import annotations

import gc
import json
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..config import resolve_device
from ..data import load_data
from ..evaluation import evaluate
from ..models import build_model
from ..sampling import build_sampler
from .harness import (ROOT, add_configs, compose_cfg, device_name, machine, train_run,
                      without_heldout)
from .scale_report import scale_plot, scale_summary, scale_table

HELP = "cost against size: load, sampler, lean steps, full validation, peak memory"
DEFAULT_CONFIGS = []  # --sizes
SIZES = "synthetic_seed,synthetic_10m,synthetic_25m"
# what every size runs, before the size's own overrides (which win)
BASE = ["batch.size=1024", "sampling.num_neg=512", "loader=fast", "precision=fp32",
        "trainer.progress=false", "trainer.eval_every=0"]


def add_child_arguments(p):
    """The options a size's own process gets too."""
    p.add_argument("--steps", type=int, default=30, help="timed steps per model")
    p.add_argument("--warmup", type=int, default=5, help="steps before the timed ones")
    p.add_argument("--models", default="mf,clcrec", help="lean steps to time, comma-separated")
    p.add_argument("--no-eval", action="store_true", help="skip the full validation")


def add_arguments(p):
    add_configs(p, DEFAULT_CONFIGS, "override strings, one per size "
                "(replace --sizes)")
    p.add_argument("--sizes", default=SIZES,
                   help="data options, comma-separated (--configs replaces them)")
    add_child_arguments(p)


def run(h):
    a = h.args
    sizes = a.configs or [s for s in a.sizes.split(",") if s]
    out_dir = h.out_dir()
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "scale.json"
            cmd = [sys.executable, "-m", "graphrec.bench", "scale-child", size,
                   "--result", str(out), "--steps", str(a.steps),
                   "--warmup", str(a.warmup), "--models", a.models,
                   "--device", a.device] + (["--no-eval"] if a.no_eval else [])
            print(f"scale | {size} | {' '.join(shlex.quote(c) for c in cmd[1:])}", flush=True)
            proc = subprocess.run(cmd, cwd=ROOT)
            if proc.returncode or not out.exists():
                raise RuntimeError(f"scale: the run for {size!r} failed "
                                   f"(exit {proc.returncode})")
            res = json.loads(out.read_text())
        results.append(res)
        h.record(size, scale_summary(res), "", 1, res["device"])
    table = scale_table(results)
    (out_dir / "scale.md").write_text(
        f"`python -m graphrec.bench {' '.join(shlex.quote(x) for x in sys.argv[1:])}`"
        f"\n\n{machine()}, torch {torch.__version__}\n\n{table}")
    (out_dir / "scale.json").write_text(json.dumps(results, indent=1))
    scale_plot(results, out_dir / "scale.png")
    print("\n" + table, flush=True)
    print(f"scale: table {out_dir / 'scale.md'}, plot {out_dir / 'scale.png'}", flush=True)


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM), MB."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM); False if it can't."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child(a) -> dict:
    """One size, in this (fresh) process: each phase's time, throughput and peak memory."""
    size, warmup, steps = a.size, a.warmup, a.steps
    overrides = ["data=" + size] if "=" not in size else shlex.split(size)
    keys = {o.split("=", 1)[0] for o in overrides}
    base = [o for o in BASE if o.split("=", 1)[0] not in keys]
    base += [] if a.device == "auto" else [f"trainer.device={a.device}"]
    cfg = compose_cfg(base + overrides)
    dev = resolve_device(cfg.trainer.device)
    phases, res = {}, {"size": size, "device": device_name(dev), "torch": torch.__version__}

    def phase(name, t0, **extra):
        phases[name] = {"s": round(time.perf_counter() - t0, 3), "peak_mb": round(_peak_mb()),
                        **extra}
        if dev.type == "cuda":  # the device's own peak too, per phase
            phases[name]["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20)
            torch.cuda.reset_peak_memory_stats(dev)
        print(f"scale child | {size} | {name}: {phases[name]}", flush=True)
        _reset_peak()

    _reset_peak()
    t = time.perf_counter()
    data = load_data(cfg.data)
    extra = {}
    if data.meta.get("cache") == "miss":  # built and stored: time the load a later run gets
        del data
        gc.collect()
        t2 = time.perf_counter()
        data = load_data(cfg.data)
        extra["cached_s"] = round(time.perf_counter() - t2, 3)
        t += time.perf_counter() - t2
    phase("load", t, cache=data.meta.get("cache", "none") if not extra else "miss",
          generator=data.meta.get("generator", ""), **extra)
    res.update(data.summary(), name=cfg.data.name,
               features=int(sum(f.shape[1] for f in data.features.values())),
               batch=int(cfg.batch.size), num_neg=int(cfg.sampling.num_neg))
    train_only = without_heldout(data)

    # the fast sampler alone: set-up (tables and the epoch permutation), then batches
    t = time.perf_counter()
    sampler = build_sampler(train_only, cfg, dev)
    batches = sampler.epoch(0)
    next(batches)
    setup = time.perf_counter() - t
    for _ in range(warmup):
        next(batches)
    t = time.perf_counter()
    for _ in range(steps):
        next(batches)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    rate = steps * cfg.batch.size / (time.perf_counter() - t)
    phase("sampler", t, samples_per_s=round(rate), setup_s=round(setup, 3),
          method=sampler.method)
    del batches, sampler
    gc.collect()

    for name in [m for m in a.models.split(",") if m]:
        mcfg = compose_cfg(base + overrides + [
            f"model={name}", "model.impl=lean", f"trainer.max_steps={warmup + steps}",
            f"trainer.log_every={max(1, min(warmup or steps, steps))}"])
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            m = train_run(mcfg, tmp, train_only)
        phase(name, t, samples_per_s=round(m.throughput.samples_per_s),
              steps=int(m.steps))
        gc.collect()

    if not a.no_eval:
        model = build_model(compose_cfg(base + overrides + ["model=mf"]).model, data,
                            "lean").to(dev).eval()
        score = model.scorer()
        t = time.perf_counter()
        val = evaluate(score, data, "val", ks=list(cfg.trainer.ks), device=dev,
                       chunk_users=cfg.trainer.eval_chunk_users)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        users = int((np.diff(data.val_indptr) > 0).sum())
        phase("eval", t, users=users, sets=len(val))
        del model, score

    res["phases"] = phases
    res["peak_mb"] = max(p["peak_mb"] for p in phases.values())
    Path(a.result).write_text(json.dumps(res))
    return res
