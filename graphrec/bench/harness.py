"""What every mode shares: composing configurations, the data each loads once, alternating
rounds, the machine and load notes, and the result rows (printed, appended to a markdown
table and to ``bench.jsonl`` under ``--out``).

The data is generated once per data config and passed to ``train(cfg, out_dir, data=data)``.
Speed runs see it without val/test items, so the final evaluation ``train`` always does costs
nothing (throughput excludes it anyway)."""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import OmegaConf

from .. import config as _config  # noqa: F401  (registers the schemas)
from ..data import load_data
from ..errors import ConfigError, one_line
from ..reporting.run_record import RunRecord
from ..training import train

ROOT = Path(__file__).resolve().parents[2]
OUT = Path("outputs") / "bench"  # under the working folder, git-ignored: never the sources
HEADER = ("| date | mode | configuration | result | vs first | runs | machine | device | "
          "torch | note |\n|---|---|---|---|---|---|---|---|---|---|\n")
# --tiny: a dry run of the harness on small data, a few steps
TINY = ["data=synthetic", "data.n_users=300", "data.n_items=160", "data.max_degree=80",
        "data.feat_dims=[16,8,8]", "sampling.num_neg=32"]


def add_configs(p, default, what="Hydra override strings on conf/config.yaml and --data; "
                "the first is the base of the ratios"):
    p.add_argument("--configs", nargs="+", default=list(default), metavar="OVERRIDES",
                   help=what + (f" (default: {' | '.join(default)})" if default else ""))


def add_data(p):
    p.add_argument("--data", default="synthetic_seed", help="data option (conf/data/)")
    p.add_argument("--tiny", action="store_true", help="small data: a dry run of the harness")


def add_rounds(p, what="alternations: every side once per round"):
    p.add_argument("--rounds", type=int, default=3, help=what)


def compose_cfg(overrides):
    """A bench configuration, as train.py composes it; a bad override, or a ``???`` key left
    unset (``--data clcrec`` without ``data.path``), is a ConfigError."""
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf")):
            cfg = compose("config", overrides=list(overrides))
    except HydraException as exc:  # Hydra's search path listing is no help here: cut it
        why = one_line(str(exc).split("Config search path")[0])
        raise ConfigError(f"the configuration {' '.join(overrides)!r} (from --configs, --data "
                          f"and the mode's own keys) does not compose: {why}") from exc
    _config.require_values(cfg)
    return cfg


def train_run(cfg, out, data) -> RunRecord:
    """One training run, its record typed (the modes read it without key paths)."""
    return RunRecord.from_json(train(cfg, out, data=data))


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


def load_avg() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def alternate(rounds, sides, run_one) -> dict:
    """``run_one(round, side)`` for each round, every side in turn (A B C A B C ...), so that
    load drifting on a shared machine hits every side alike. Each side's values, in order."""
    values = {side: [] for side in sides}
    for r in rounds:
        for side in sides:
            values[side].append(run_one(r, side))
    return values


def without_heldout(data):
    """The data without val/test items: the final evaluation ``train`` does then costs nothing."""
    empty = np.zeros(data.n_users + 1, dtype=np.int64)
    return dataclasses.replace(data, val_indptr=empty, val_indices=empty[:0],
                               test_indptr=empty, test_indices=empty[:0])


class Harness:
    """One invocation: the bench's default overrides, the data per data config, the rows."""

    def __init__(self, args, mode: str):
        self.args, self.mode = args, mode
        device = [] if args.device == "auto" else ["trainer.device=" + args.device]
        if getattr(args, "tiny", False):
            self.base = TINY + device
        elif hasattr(args, "data"):
            self.base = [f"data={args.data}"] + device
        else:
            self.base = device
        self._data = {}
        self.rows = []
        self._values = {}
        self.load_before = load_avg()

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
        return data if heldout else without_heldout(data)

    def record(self, config, result, ratio, runs, device, note="", values=None):
        """One result row; ``values`` (each round's figure) goes to bench.jsonl only, so an
        interval over rounds can be computed later (the markdown table keeps its columns)."""
        row = dict(date=datetime.datetime.now().isoformat(timespec="minutes"), mode=self.mode,
                   configuration=config, result=result, ratio=ratio, runs=runs,
                   machine=machine(), device=device, torch=torch.__version__,
                   note=" ".join(x for x in (note, self.args.note) if x))
        self.rows.append(row)
        if values is not None:
            self._values[id(row)] = [float(v) for v in values]

    def out_dir(self) -> Path:
        out = Path(self.args.out)
        out.mkdir(parents=True, exist_ok=True)
        return out

    def report(self):
        after = load_avg()
        for row in self.rows:  # how busy the machine was: the figures depend on it
            row["note"] = (row["note"] + f" load avg {self.load_before:.1f}->{after:.1f}, "
                           f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
                           ).strip()
        table = "".join("| " + " | ".join(str(v) for v in r.values()) + " |\n" for r in self.rows)
        print("\n" + HEADER + table, flush=True)
        results = self.args.results
        if results is None:
            results = self.out_dir() / "RESULTS.md"
        if results:
            path = Path(results)
            path.parent.mkdir(parents=True, exist_ok=True)
            new = not path.exists()
            with open(path, "a") as fh:
                fh.write(("# Benchmark results\n\nAppended by `python -m graphrec.bench`.\n\n"
                          + HEADER) if new else "")
                fh.write(table)
        with open(self.out_dir() / "bench.jsonl", "a") as fh:
            fh.writelines(json.dumps({**r, **({"values": self._values[id(r)]}
                                               if id(r) in self._values else {})}) + "\n"
                          for r in self.rows)

