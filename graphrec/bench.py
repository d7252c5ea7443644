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
import statistics
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
from .sampling import DataLoaderSampler, DeviceSampler
from .training import train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
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
    p.add_argument("--epochs", type=int, default=3, help="epochs per run (accuracy)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="accuracy seeds")
    p.add_argument("--target", type=float, default=0.10, help="val Recall@20 to reach (target)")
    p.add_argument("--budget", type=float, default=900, help="seconds per run (target)")
    p.add_argument("--eval-every-s", type=float, default=1.0,
                   help="training seconds between validations (target)")
    p.add_argument("--tiny", action="store_true", help="small data: a dry run of the harness")
    p.add_argument("--results", default=str(RESULTS), help="markdown file to append to ('' = none)")
    p.add_argument("--out", default="", help="folder for a bench.jsonl copy of the rows")
    p.add_argument("--note", default="", help="free text for the note column")
    args = p.parse_args(argv)
    args.configs = args.configs or DEFAULT_CONFIGS[args.mode]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
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
