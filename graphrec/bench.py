"""Side-by-side benchmarks, each row appended to ``benchmarks/RESULTS.md``.

``python -m graphrec.bench [--mode M] [--configs "overrides" ...] [options]``

* ``train`` (default): each configuration (a string of Hydra overrides on top of
  ``conf/config.yaml`` and ``data=synthetic_seed``) trains for ``trainer.max_steps`` steps,
  in alternation A B C A B C ... so drifting load hits every side alike. Prints the median of
  ``metrics.throughput.samples_per_s`` and the ratio to the first configuration.
* ``sampler``: the seed's Dataset behind its DataLoader vs the fast sampler, batches only.
* ``accuracy``: each configuration for the same epochs with several seeds; val Recall@20.
* ``eval``: graphrec's full-ranking validation against CLCRec's own ranking loop, timed.
* ``target``: each configuration trains to ``--target`` (val Recall@20; validation every
  ``--eval-every-s`` training seconds, all of it on the clock) or ``--budget`` seconds;
  prints the median time to target and the speed-up over the first configuration.
* ``scale``: cost as the work grows. Each size (``--sizes``: data options, or ``--configs``:
  override strings, one per size) runs in a fresh process, so its peak memory is its own:
  data load (generation or cache), the fast sampler alone, the lean step of each
  ``--models`` (``--steps`` steps after ``--warmup``; batch 1024, 512 negatives unless the
  size's overrides say otherwise) and one full validation, timed. Writes ``scale.md``,
  ``scale.json`` and a log-log plot ``scale.png`` of cost against training pairs into
  ``--scale-dir`` (``benchmarks/scale/``).
* ``recbole``: graphrec against RecBole 1.2.1 (when importable: ``pip install -e
  ".[recbole]"``) on the ml-100k folder ``--data-path``: BPR and LightGCN at RecBole's
  settings (batch 2048, 1 negative; ``+experiment=recbole_*_ml100k``), each side training
  ``--epochs`` epochs per round, in alternation graphrec RecBole graphrec RecBole ...
  (``--rounds``). A sample is one positive pair with its negative on both sides; samples/s
  is the training pairs over the median epoch time (RecBole: ``Trainer._train_epoch``, its
  sampler included; graphrec: the epoch on its clock, validation excluded on both sides).

The data is generated once per data config and passed to ``train(cfg, out_dir, data=data)``.
Speed runs see it without val/test items, so the final evaluation ``train`` always does costs
nothing (throughput excludes it anyway).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import itertools
import json
import logging
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # before torch starts OpenMP: on a shared machine, threads that
    # spin while waiting for a descheduled sibling make small ops 10-100x slower
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from . import config as _config  # noqa: F401  (registers the schemas)
from .config import resolve_device
from .data import load_data
from .evaluation import clcrec_reference, evaluate
from .models import build_model
from .sampling import DataLoaderSampler, DeviceSampler, build_sampler
from .training import train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SCALE_DIR = ROOT / "benchmarks" / "scale"
HEADER = ("| date | mode | configuration | result | vs first | runs | machine | device | "
          "torch | note |\n|---|---|---|---|---|---|---|---|---|---|\n")
log = logging.getLogger("graphrec.bench")


def compose_cfg(overrides):
    with initialize_config_dir(config_dir=str(ROOT / "conf")):
        return compose("config", overrides=list(overrides))


def machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads)"


class Bench:
    def __init__(self, args):
        self.args = args
        self.base = [f"data={args.data}"] + (["trainer.device=" + args.device]
                                              if args.device != "auto" else [])
        if args.tiny:  # dry run: default small data, a few steps
            self.base = ["data=synthetic", "data.n_users=300", "data.n_items=160",
                         "data.max_degree=80", "data.feat_dims=[16,8,8]",
                         "sampling.num_neg=32"] + self.base[1:]
        self._data = {}
        self.rows = []

    def cfg(self, config: str, extra=()):
        """The bench's defaults, then the configuration's own overrides, which win."""
        own = config.split()
        keys = {o.split("=", 1)[0] for o in own}
        defaults = [o for o in self.base + list(extra) if o.split("=", 1)[0] not in keys]
        return compose_cfg(defaults + own)

    def data(self, cfg, heldout: bool):
        key = OmegaConf.to_yaml(cfg.data)
        if key not in self._data:
            t = time.perf_counter()
            self._data[key] = load_data(cfg.data)
            print(f"data {cfg.data.name}: {self._data[key].summary()} in "
                  f"{time.perf_counter() - t:.1f} s", flush=True)
        data = self._data[key]
        if heldout:
            return data
        empty = np.zeros(data.n_users + 1, dtype=np.int64)
        return dataclasses.replace(data, val_indptr=empty, val_indices=empty[:0],
                                   test_indptr=empty, test_indices=empty[:0])

    def record(self, mode, config, result, ratio, runs, device, note=""):
        row = dict(date=datetime.datetime.now().isoformat(timespec="minutes"), mode=mode,
                   configuration=config, result=result, ratio=ratio, runs=runs,
                   machine=machine(), device=device, torch=torch.__version__,
                   note=" ".join(x for x in (note, self.args.note) if x))
        self.rows.append(row)

    # ------------------------------------------------------------------ modes
    def run_train(self):
        a = self.args
        extra = [f"trainer.max_steps={a.steps}", "trainer.eval_every=0",
                 "trainer.progress=false", f"trainer.log_every={max(1, a.steps // 4)}"]
        speeds = {c: [] for c in a.configs}
        epoch_s, device = {}, None
        for r in range(a.rounds):
            for c in a.configs:
                cfg = self.cfg(c, extra)
                with tempfile.TemporaryDirectory() as out:
                    m = train(cfg, out, data=self.data(cfg, heldout=False))
                speeds[c].append(m["throughput"]["samples_per_s"])
                epoch_s[c] = m["data"]["n_train"] / max(statistics.median(speeds[c]), 1e-9)
                device = device or device_name(resolve_device(cfg.trainer.device))
                print(f"round {r} | {c} | {speeds[c][-1]:,.0f} samples/s", flush=True)
        first = statistics.median(speeds[a.configs[0]])
        for c in a.configs:
            med = statistics.median(speeds[c])
            self.record("train", c, f"{med:,.0f} samples/s ({epoch_s[c]:,.1f} s/epoch)",
                        f"{med / first:.2f}x", len(speeds[c]), device)

    def run_sampler(self):
        a = self.args
        cfg = self.cfg("loader=baseline")
        data = self.data(cfg, heldout=False)
        cpu = torch.device("cpu")
        s = cfg.sampling
        sides = {
            "baseline Dataset + DataLoader (1 worker)": lambda: DataLoaderSampler(data, cfg, cpu,
                                                                                 0),
            "fast DeviceSampler": lambda: DeviceSampler(
                data, s.num_neg, cfg.batch.size, cpu, 0, candidates=s.candidates,
                exclude_train=s.exclude_train, replacement=s.replacement),
        }
        speeds = {k: [] for k in sides}
        for r in range(a.rounds):
            for name, make in sides.items():
                sampler = make()
                batches = (b for e in itertools.count() for b in sampler.epoch(e))
                next(batches)  # worker start-up and the epoch permutation
                n, t = 0, time.perf_counter()
                while n < 3 or time.perf_counter() - t < a.seconds:
                    next(batches)
                    n += 1
                speeds[name].append(n * cfg.batch.size / (time.perf_counter() - t))
                batches.close()  # stops the DataLoader's worker before the other side runs
                del batches, sampler
                gc.collect()
                print(f"round {r} | {name} | {speeds[name][-1]:,.0f} samples/s", flush=True)
        first = statistics.median(next(iter(speeds.values())))
        for name, v in speeds.items():
            med = statistics.median(v)
            self.record("sampler", f"{name}, batch {cfg.batch.size}, num_neg {s.num_neg}",
                        f"{med:,.0f} samples/s", f"{med / first:.1f}x", len(v),
                        device_name(cpu))

    def run_accuracy(self):
        a = self.args
        extra = [f"trainer.epochs={a.epochs}", "trainer.eval_every=0", "trainer.progress=false"]
        recall = {c: [] for c in a.configs}
        device = None
        for seed in a.seeds:
            for c in a.configs:
                cfg = self.cfg(c, extra + [f"trainer.seed={seed}"])
                t = time.perf_counter()
                with tempfile.TemporaryDirectory() as out:
                    m = train(cfg, out, data=self.data(cfg, heldout=True))
                recall[c].append(m["val"]["recall@20"])
                device = device or device_name(resolve_device(cfg.trainer.device))
                print(f"seed {seed} | {c} | val recall@20 {recall[c][-1]:.4f} | "
                      f"{time.perf_counter() - t:.0f} s", flush=True)
        first = statistics.mean(recall[a.configs[0]])
        for c in a.configs:
            mean = statistics.mean(recall[c])
            seeds = ", ".join(f"{x:.5f}" for x in recall[c])
            self.record("accuracy", f"{c}, {a.epochs} epochs",
                        f"val recall@20 {mean:.5f} (seeds {seeds})",
                        f"{100 * (mean / first - 1):+.2f} %", len(recall[c]), device)

    def run_target(self):
        """Time to a quality target (MLPerf's clock: validation included), alternating."""
        a = self.args
        extra = [f"trainer.target.value={a.target}", "trainer.stop_at_target=true",
                 f"trainer.time_budget_s={a.budget}", "trainer.eval_every=0",
                 f"trainer.eval_every_s={a.eval_every_s}", "trainer.patience=0",
                 "trainer.epochs=1000", "trainer.progress=false"]
        times = {c: [] for c in a.configs}
        speeds = {c: [] for c in a.configs}
        device = None
        for r in range(a.rounds):
            for c in a.configs:
                cfg = self.cfg(c, extra)
                with tempfile.TemporaryDirectory() as out:
                    m = train(cfg, out, data=self.data(cfg, heldout=True))
                t = m["target"]["time_to_target_s"]
                times[c].append(t if t is not None else float("inf"))
                speeds[c].append(m["throughput"]["samples_per_s"])
                device = device or device_name(resolve_device(cfg.trainer.device))
                print(f"round {r} | {c} | time to target "
                      f"{'not reached' if t is None else f'{t:.1f} s'} | "
                      f"{speeds[c][-1]:,.0f} samples/s", flush=True)
        first = statistics.median(times[a.configs[0]])
        for c in a.configs:
            med = statistics.median(times[c])
            shown = f"{med:,.1f} s" if med < float("inf") else f"not reached in {a.budget:g} s"
            self.record("target", f"{c}, val recall@20 >= {a.target:g}",
                        f"{shown} to target ({statistics.median(speeds[c]):,.0f} samples/s)",
                        f"{first / med:.2f}x" if med < float("inf") else "", len(times[c]),
                        device)

    def run_eval(self):
        """graphrec's validation against CLCRec's own ranking loop (``clcrec_reference``) on
        the same model and masks, in alternating rounds A B C D A B C D ...: (a) CLCRec's
        full list, (b) its three lists (all, warm, cold), (c) ``evaluate`` of the full list,
        (d) ``evaluate`` of the whole validation (every set, every K). Medians over rounds,
        times relative to (a); the first call of each side warms up and is checked."""
        a = self.args
        cfg = self.cfg(a.configs[0])
        device = resolve_device(cfg.trainer.device)
        data = self.data(cfg, heldout=True)
        model = build_model(cfg.model, data, "lean").to(device).eval()
        score = model.scorer()  # built once, shared: CLCRec's loop reads a ready table too
        ks = list(cfg.trainer.ks)
        k = 20 if 20 in ks else max(ks)
        train, lists, masked = clcrec_reference.clcrec_inputs(data, "val")

        def clcrec(names):
            return {n: dict(zip(("precision", "recall", "ndcg"), clcrec_reference.full_ranking(
                score, data.n_users, lists[n], train, masked[n], step=2000, topk=k)))
                for n in names if lists[n]}

        def graphrec(item_sets):
            return evaluate(score, data, "val", ks=ks, device=device,
                            chunk_users=cfg.trainer.eval_chunk_users, item_sets=item_sets)

        sides = {
            "(a) CLCRec full_ranking, full list": lambda: clcrec([""]),
            "(b) CLCRec full_ranking, all+warm+cold lists": lambda: clcrec(list(lists)),
            "(c) graphrec evaluate, full list": lambda: graphrec(
                {"": np.ones(data.n_items, dtype=bool)}),
            "(d) graphrec evaluate, whole validation": lambda: graphrec(None),
        }
        first = {}
        times = {name: [] for name in sides}
        for r in range(max(a.rounds, 1) + 1):  # round 0 warms up
            for name, run in sides.items():
                t = time.perf_counter()
                res = run()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if r:
                    times[name].append(time.perf_counter() - t)
                    print(f"round {r} | {name} | {times[name][-1]:.3f} s", flush=True)
                first.setdefault(name, res)
        # Same model, same masks: the same users must get the same metrics.
        ref = first["(b) CLCRec full_ranking, all+warm+cold lists"]
        ours = dict(first["(d) graphrec evaluate, whole validation"])
        ours[""] = first["(c) graphrec evaluate, full list"][""]
        checks = [(name, metric, ref[name][metric], ours[name][f"{metric}@{k}"])
                  for name in ref for metric in ("recall", "ndcg", "precision")]
        worst = max(abs(x - y) for *_, x, y in checks)
        for name, metric, x, y in checks:
            print(f"check {metric}@{k}{name}: CLCRec {x:.6f} graphrec {y:.6f}", flush=True)
        if not worst <= 1e-6:  # not an assert statement: python -O would drop it
            raise AssertionError(f"graphrec and CLCRec disagree by {worst:.2e}")
        print(f"check passed: graphrec = CLCRec's full_ranking within {worst:.1e} "
              f"(Recall/NDCG/Precision@{k}; (c) for the full list, (d) for warm/cold)")
        med = {name: statistics.median(v) for name, v in times.items()}
        base = med["(a) CLCRec full_ranking, full list"]
        for name, m in med.items():
            print(f"median {name}: {m:.3f} s ({m / base:.2f}x (a))", flush=True)
        ratio = med["(d) graphrec evaluate, whole validation"] / base
        print(f"(d)/(a) = {ratio:.2f}: graphrec's whole validation "
              f"{'within' if ratio <= 1 else 'over'} CLCRec's full-list time", flush=True)
        what = (f"val, {data.n_users:,} users x {data.n_items:,} items, "
                f"model {cfg.model.name}, data {cfg.data.name}")
        for name, m in med.items():
            kk = f"K {','.join(map(str, ks))}" if name.startswith(("(c)", "(d)")) else f"K {k}"
            self.record("eval", f"{name}, {kk}, {what}", f"{m:.3f} s", f"{m / base:.2f}x",
                        len(times[name]), device_name(device),
                        f"checked vs CLCRec within {worst:.0e}")

    def run_scale(self):
        """Each size in its own process (:func:`scale_child`), then the table and the plot."""
        a = self.args
        sizes = a.configs
        out_dir = Path(a.scale_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for size in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "scale.json"
                cmd = [sys.executable, "-m", "graphrec.bench", "--scale-child", size,
                       "--scale-out", str(out), "--steps", str(a.steps),
                       "--warmup", str(a.warmup), "--models", a.models,
                       "--device", a.device] + (["--no-eval"] if a.no_eval else [])
                print(f"scale | {size} | {' '.join(shlex.quote(c) for c in cmd[1:])}",
                      flush=True)
                proc = subprocess.run(cmd, cwd=ROOT)
                if proc.returncode or not out.exists():
                    raise RuntimeError(f"scale: the run for {size!r} failed "
                                       f"(exit {proc.returncode})")
                res = json.loads(out.read_text())
            results.append(res)
            self.record("scale", size, _scale_summary(res), "", 1, res["device"])
        table = scale_table(results)
        (out_dir / "scale.md").write_text(
            f"`python -m graphrec.bench {' '.join(shlex.quote(x) for x in sys.argv[1:])}`"
            f"\n\n{machine()}, torch {torch.__version__}\n\n{table}")
        (out_dir / "scale.json").write_text(json.dumps(results, indent=1))
        scale_plot(results, out_dir / "scale.png")
        print("\n" + table, flush=True)
        print(f"scale: table {out_dir / 'scale.md'}, plot {out_dir / 'scale.png'}", flush=True)
        self.scale_results = results

    def run_recbole(self):
        """graphrec and RecBole, BPR and LightGCN at batch 2048 with 1 negative, alternating."""
        a = self.args
        rb = import_recbole()  # first: without RecBole this mode only says how to get it
        if rb is None or isinstance(rb, str):
            why = "is not installed" if rb is None else f"does not import ({rb})"
            raise SystemExit(f"python -m graphrec.bench --mode recbole: RecBole {why}. "
                             "Install it with: pip install -e \".[recbole]\" (RecBole "
                             "1.2.1), then run this again.")
        if not a.data_path:
            raise SystemExit("python -m graphrec.bench --mode recbole: --data-path is required "
                             "(RecBole's atomic ml-100k folder, with ml-100k.inter)")
        folder = Path(a.data_path)
        folder = folder.parent if folder.is_file() else folder
        if not (folder / f"{folder.name}.inter").is_file():  # else RecBole would download
            raise SystemExit(f"--data-path {a.data_path}: no {folder.name}.inter in {folder} "
                             "(RecBole reads DATASET/DATASET.inter)")
        device = resolve_device(a.device)
        if a.threads > 0:  # both sides run in this process: one setting for both
            torch.set_num_threads(a.threads)
        models = [m for m in a.recbole_models.split(",") if m]
        unknown = sorted(set(models) - set(RECBOLE_MODELS))
        if unknown:
            raise SystemExit(f"--recbole-models: unknown {unknown}; allowed "
                             + ",".join(RECBOLE_MODELS))
        sides = {}
        for m in models:
            cfg = compose_cfg([f"+experiment=recbole_{m}_ml100k", f"data.path={folder}",
                               f"trainer.epochs={a.epochs}", "trainer.eval_every=0",
                               "trainer.patience=0", "trainer.progress=false",
                               f"trainer.device={device.type}"])
            sides[m] = (cfg, RecboleSide(RECBOLE_MODELS[m], folder, device))
        speeds = {(m, side): [] for m in models for side in ("graphrec", "RecBole")}
        try:
            for r in range(a.rounds):
                for m, (cfg, recbole) in sides.items():
                    data = self.data(cfg, heldout=False)
                    with tempfile.TemporaryDirectory() as out:
                        met = train(cfg, out, data=data)
                    speeds[m, "graphrec"].append(data.n_train / met["throughput"]["epoch_s"])
                    speeds[m, "RecBole"].append(recbole.samples_per_s(a.epochs, seed=r))
                    print(f"round {r} | {m} | graphrec {speeds[m, 'graphrec'][-1]:,.0f} | "
                          f"RecBole {speeds[m, 'RecBole'][-1]:,.0f} samples/s", flush=True)
        finally:
            for _, recbole in sides.values():
                recbole.close()
        lines = ["| model | graphrec samples/s | RecBole samples/s | graphrec / RecBole |",
                 "|---|---:|---:|---:|"]
        for m in models:
            g = statistics.median(speeds[m, "graphrec"])
            rbs = statistics.median(speeds[m, "RecBole"])
            what = (f"{RECBOLE_MODELS[m]} ml-100k, batch 2048, 1 negative, "
                    f"{a.epochs} epochs x {a.rounds} rounds")
            self.record("recbole", f"RecBole 1.2.1 {what}", f"{rbs:,.0f} samples/s", "1.00x",
                        a.rounds, device_name(device))
            self.record("recbole", f"graphrec +experiment=recbole_{m}_ml100k, {what}",
                        f"{g:,.0f} samples/s", f"{g / rbs:.2f}x", a.rounds,
                        device_name(device))
            lines.append(f"| {RECBOLE_MODELS[m]} | {g:,.0f} | {rbs:,.0f} | {g / rbs:.2f}x |")
        print("\nmedians over rounds (each round: the median epoch of a fresh run)\n"
              + "\n".join(lines), flush=True)

    # ------------------------------------------------------------------ output
    def report(self):
        table = "".join("| " + " | ".join(str(v) for v in r.values()) + " |\n" for r in self.rows)
        print("\n" + HEADER + table, flush=True)
        if self.args.results:
            path = Path(self.args.results)
            path.parent.mkdir(parents=True, exist_ok=True)
            new = not path.exists()
            with open(path, "a") as fh:
                fh.write(("# Benchmark results\n\nAppended by `python -m graphrec.bench`.\n\n"
                          + HEADER) if new else "")
                fh.write(table)
        if self.args.out:
            out = Path(self.args.out)
            out.mkdir(parents=True, exist_ok=True)
            with open(out / "bench.jsonl", "a") as fh:
                fh.writelines(json.dumps(r) + "\n" for r in self.rows)


# ---------------------------------------------------------------------- scale
SCALE_SIZES = "synthetic_seed,synthetic_10m,synthetic_25m"
# what every size runs, before the size's own overrides (which win)
SCALE_BASE = ["batch.size=1024", "sampling.num_neg=512", "loader=fast", "precision=fp32",
              "trainer.progress=false", "trainer.eval_every=0"]


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


def scale_child(size: str, out: str, steps: int, warmup: int, models: str, device: str,
                evaluate_too: bool = True) -> dict:
    """One size, in this (fresh) process: each phase's time, throughput and peak memory."""
    overrides = ["data=" + size] if "=" not in size else shlex.split(size)
    keys = {o.split("=", 1)[0] for o in overrides}
    base = [o for o in SCALE_BASE if o.split("=", 1)[0] not in keys]
    base += [] if device == "auto" else [f"trainer.device={device}"]
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
    train_only = dataclasses.replace(
        data, val_indptr=np.zeros(data.n_users + 1, dtype=np.int64),
        val_indices=np.zeros(0, dtype=np.int64), test_indptr=np.zeros(data.n_users + 1,
                                                                      dtype=np.int64),
        test_indices=np.zeros(0, dtype=np.int64))

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

    for name in [m for m in models.split(",") if m]:
        mcfg = compose_cfg(base + overrides + [
            f"model={name}", "model.impl=lean", f"trainer.max_steps={warmup + steps}",
            f"trainer.log_every={max(1, min(warmup or steps, steps))}"])
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            m = train(mcfg, tmp, data=train_only)
        phase(name, t, samples_per_s=round(m["throughput"]["samples_per_s"]),
              steps=int(m["steps"]))
        gc.collect()

    if evaluate_too:
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
    Path(out).write_text(json.dumps(res))
    return res


def _fmt_rate(x):
    return "" if x is None else f"{x:,.0f}"


def _load_cell(load: dict) -> str:
    """The load: generated and stored, then read back; or from the cache; or not cached."""
    if "cached_s" in load:
        return f"{load['s']:.1f} built, {load['cached_s']:.1f} cached"
    how = "not cached" if load["cache"] == "none" else load["cache"]
    return f"{load['s']:.1f} ({how})"


def _scale_summary(r: dict) -> str:
    ph = r["phases"]
    parts = [f"{r['n_train']:,} train pairs", f"load {_load_cell(ph['load'])} s",
             f"peak {r['peak_mb'] / 1024:.2f} GB",
             f"sampler {_fmt_rate(ph['sampler']['samples_per_s'])} samples/s"]
    parts += [f"{m} lean {_fmt_rate(ph[m]['samples_per_s'])} samples/s"
              for m in ph if m not in ("load", "sampler", "eval")]
    if "eval" in ph:
        parts.append(f"full validation {ph['eval']['s']:.1f} s")
    return ", ".join(parts)


def scale_table(results: list) -> str:
    """Markdown: one row per size."""
    models = [m for r in results for m in r["phases"] if m not in ("load", "sampler", "eval")]
    models = list(dict.fromkeys(models))
    head = (["size", "users", "items", "train pairs", "load s", "peak RSS GB",
             "sampler samples/s (method)"] + [f"{m} lean samples/s" for m in models]
            + ["full validation s (users)", "peak RSS GB per phase"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ph = r["phases"]
        row = [r["name"], f"{r['n_users']:,}", f"{r['n_items']:,}", f"{r['n_train']:,}",
               _load_cell(ph["load"]), f"{r['peak_mb'] / 1024:.2f}",
               f"{_fmt_rate(ph['sampler']['samples_per_s'])} ({ph['sampler']['method']})"]
        row += [_fmt_rate(ph[m]["samples_per_s"]) if m in ph else "" for m in models]
        row.append(f"{ph['eval']['s']:.1f} ({ph['eval']['users']:,})" if "eval" in ph else "")
        row.append(", ".join(f"{k} {v['peak_mb'] / 1024:.2f}" for k, v in ph.items()))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def scale_plot(results: list, path: Path) -> None:
    """Log-log: each cost against training pairs; seconds and GB on the left, microseconds per
    sample on the right."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    x = [r["n_train"] for r in results]
    series = {"load s": [r["phases"]["load"]["s"] for r in results],
              "peak RSS GB": [r["peak_mb"] / 1024 for r in results]}
    if all("eval" in r["phases"] for r in results):
        series["full validation s"] = [r["phases"]["eval"]["s"] for r in results]
    cached = [(xi, r["phases"]["load"]["cached_s"]) for xi, r in zip(x, results)
              if "cached_s" in r["phases"]["load"]]
    for label, y in series.items():
        left.plot(x, y, "o-", label=label)
    if cached:
        left.plot(*zip(*cached), "s--", label="load from the cache s")
    per_sample = {"sampler": "sampler"}
    for r in results:
        per_sample.update({m: f"{m} lean step" for m in r["phases"]
                           if m not in ("load", "sampler", "eval")})
    for key, label in per_sample.items():
        pts = [(xi, 1e6 / r["phases"][key]["samples_per_s"]) for xi, r in zip(x, results)
               if key in r["phases"] and r["phases"][key]["samples_per_s"]]
        if pts:
            right.plot(*zip(*pts), "o-", label=label)
    for ax, title, ylabel in ((left, "time and memory", "seconds / GB"),
                              (right, "cost per training sample", "microseconds per sample")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training pairs")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        for xi, r in zip(x, results):
            ax.annotate(r["name"], (xi, ax.get_ylim()[0]), textcoords="offset points",
                        xytext=(2, 4), fontsize=7, rotation=90)
    fig.suptitle(f"graphrec cost against size ({results[0]['device']}, torch "
                 f"{results[0]['torch']})", fontsize=10)
    fig.savefig(path, dpi=120)


RECBOLE_MODELS = {"bpr": "BPR", "lightgcn": "LightGCN"}  # graphrec preset -> RecBole model


def import_recbole():
    """The ``recbole`` package, ready for RecBole 1.2.1 on today's NumPy and SciPy; None when
    it is not installed, or the import error as a string when it does not import.

    RecBole 1.2.1 still uses ``np.float_``/``np.complex_``/``np.unicode_`` (gone in NumPy 2)
    and ``dok_matrix._update`` (gone in SciPy 1.15; LightGCN builds its graph with it): the
    aliases are added only where missing, nothing else changes."""
    import importlib.util

    for old, new in (("float_", "float64"), ("complex_", "complex128"), ("unicode_", "str_")):
        if old not in np.__dict__:
            setattr(np, old, getattr(np, new))
    try:
        if importlib.util.find_spec("recbole") is None:
            return None
        import recbole
        import recbole.config  # noqa: F401  (what RecboleSide uses)
        import recbole.data  # noqa: F401
        import recbole.utils  # noqa: F401
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    import scipy.sparse as sp

    if not hasattr(sp.dok_matrix, "_update"):
        sp.dok_matrix._update = lambda self, d: self._dict.update(d)
    return recbole


class RecboleSide:
    """One RecBole model on one atomic data folder at RecBole's defaults (batch 2048, one
    uniform negative): its dataset and loaders built once, a fresh model and trainer per
    :meth:`samples_per_s`. RecBole's files (tensorboard logs, checkpoints) go to a
    temporary folder."""

    def __init__(self, model: str, folder: Path, device: torch.device):
        from recbole.config import Config
        from recbole.data import create_dataset, data_preparation

        self.model, self.device = model, device
        self.tmp = tempfile.mkdtemp(prefix="graphrec-recbole-")
        argv, sys.argv = sys.argv, sys.argv[:1]  # Config reads --key=value from the command line
        try:
            self.cfg = Config(model=model, dataset=folder.name, config_dict={
                "data_path": str(folder.parent), "use_gpu": device.type == "cuda",
                "state": "WARNING", "show_progress": False, "checkpoint_dir": self.tmp,
                "train_batch_size": 2048,
                "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1}})
        finally:
            sys.argv = argv
        logging.getLogger().setLevel(logging.WARNING)  # Config's logger would print per epoch
        t = time.perf_counter()
        dataset = create_dataset(self.cfg)
        self.train_data, _, _ = data_preparation(self.cfg, dataset)
        self.n_train = len(self.train_data.dataset)
        print(f"RecBole {model}: {self.n_train:,} training pairs, loaders built in "
              f"{time.perf_counter() - t:.1f} s", flush=True)

    def samples_per_s(self, epochs: int, seed: int = 0) -> float:
        """Training pairs over the median of ``epochs`` timed ``Trainer._train_epoch`` calls
        (its sampler, forward, backward and Adam; no validation)."""
        from recbole.utils import get_model, get_trainer, init_seed

        init_seed(self.cfg["seed"] + seed, self.cfg["reproducibility"])
        here = os.getcwd()
        os.chdir(self.tmp)  # the trainer opens a tensorboard writer in ./log_tensorboard
        try:
            model = get_model(self.model)(self.cfg, self.train_data.dataset).to(self.device)
            trainer = get_trainer(self.cfg["MODEL_TYPE"], self.model)(self.cfg, model)
        finally:
            os.chdir(here)
        times = []
        for e in range(epochs):
            t = time.perf_counter()
            trainer._train_epoch(self.train_data, e, show_progress=False)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            times.append(time.perf_counter() - t)
        trainer.tensorboard.close()
        return self.n_train / statistics.median(times)

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


SCALED = "data.n_users=3000 data.n_items=1500 data.max_degree=300"
DEFAULT_CONFIGS = {
    "train": ["loader=baseline model.impl=reference", "loader=fast model.impl=lean",
              "loader=fast batch=b1024 precision=amp"],
    "sampler": [],
    "accuracy": ["loader=baseline", "loader=fast"],
    "eval": ["model=clcrec"],
    # the seed's setup and the fast path, on synthetic_seed scaled as in sweeps/seed_guide
    "target": [f"{SCALED} loader=baseline loader.num_workers=1",
               f"{SCALED} loader=fast batch=b1024 precision=amp sampling=neg256"],
    "scale": [],  # --sizes
    "recbole": [],  # --data-path, --recbole-models
}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m graphrec.bench", description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=sorted(DEFAULT_CONFIGS), default="train")
    p.add_argument("--configs", nargs="+", help="Hydra override strings, the first is the base")
    p.add_argument("--data", default="synthetic_seed", help="data option (conf/data/)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--rounds", type=int, default=3, help="alternations (speed modes)")
    p.add_argument("--steps", type=int, default=40, help="steps per run (speed modes)")
    p.add_argument("--seconds", type=float, default=5.0, help="time per side (sampler)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run (accuracy, recbole)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="accuracy seeds")
    p.add_argument("--target", type=float, default=0.10, help="val Recall@20 to reach (target)")
    p.add_argument("--budget", type=float, default=900, help="seconds per run (target)")
    p.add_argument("--eval-every-s", type=float, default=1.0,
                   help="training seconds between validations (target)")
    p.add_argument("--tiny", action="store_true", help="small data: a dry run of the harness")
    p.add_argument("--results", default=str(RESULTS), help="markdown file to append to ('' = none)")
    p.add_argument("--out", default="", help="folder for a bench.jsonl copy of the rows")
    p.add_argument("--note", default="", help="free text for the note column")
    p.add_argument("--sizes", default=SCALE_SIZES,
                   help="data options, comma-separated (scale; --configs replaces them)")
    p.add_argument("--models", default="mf,clcrec", help="lean steps to time (scale)")
    p.add_argument("--warmup", type=int, default=5, help="steps before the timed ones (scale)")
    p.add_argument("--no-eval", action="store_true", help="skip the full validation (scale)")
    p.add_argument("--scale-dir", default=str(SCALE_DIR), help="table and plot folder (scale)")
    p.add_argument("--data-path", default="",
                   help="RecBole atomic ml-100k folder, with ml-100k.inter (recbole)")
    p.add_argument("--recbole-models", default="bpr,lightgcn",
                   help="comma-separated, of " + ",".join(RECBOLE_MODELS) + " (recbole)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads for both sides (recbole; 0 = torch's default)")
    p.add_argument("--scale-child", help=argparse.SUPPRESS)
    p.add_argument("--scale-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.scale_child:  # one size, in the process the scale mode started for it
        scale_child(args.scale_child, args.scale_out, args.steps, args.warmup, args.models,
                    args.device, not args.no_eval)
        return []
    if args.mode == "scale" and not args.configs:
        args.configs = [s for s in args.sizes.split(",") if s]
        if "--steps" not in (argv if argv is not None else sys.argv[1:]):
            args.steps = 30
    args.configs = args.configs or DEFAULT_CONFIGS[args.mode]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    bench = Bench(args)
    getattr(bench, f"run_{args.mode}")()
    after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for row in bench.rows:  # how busy the machine was: the figures depend on it
        row["note"] = (row["note"] + f" load avg {load:.1f}->{after:.1f}, OMP_WAIT_POLICY="
                       f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}").strip()
    bench.report()
    return bench.rows


if __name__ == "__main__":
    main()
