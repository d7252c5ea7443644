"""``accuracy``: each configuration for the same ``--epochs`` with several seeds; the mean
val Recall@20 and its difference to the first configuration."""
from __future__ import annotations

import statistics
import tempfile
import time

from ..config import resolve_device
from .harness import add_configs, add_data, alternate, device_name, train_run

HELP = "val Recall@20 of each configuration at the same epochs, several seeds"
DEFAULT_CONFIGS = ["loader=baseline", "loader=fast"]


def add_arguments(p):
    add_configs(p, DEFAULT_CONFIGS)
    add_data(p)
    p.add_argument("--epochs", type=int, default=3, help="epochs per run")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run per seed")


def run(h):
    a = h.args
    extra = [f"trainer.epochs={a.epochs}", "trainer.eval_every=0", "trainer.progress=false"]
    devices = []

    def one(seed, c):
        cfg = h.cfg(c, extra + [f"trainer.seed={seed}"])
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            m = train_run(cfg, out, h.data(cfg, heldout=True))
        devices.append(device_name(resolve_device(cfg.trainer.device)))
        recall = m.score("val", "recall@20")
        print(f"seed {seed} | {c} | val recall@20 {recall:.4f} | "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        return recall

    recall = alternate(a.seeds, a.configs, one)
    first = statistics.mean(recall[a.configs[0]])
    for c, v in recall.items():
        mean = statistics.mean(v)
        seeds = ", ".join(f"{x:.5f}" for x in v)
        h.record(f"{c}, {a.epochs} epochs", f"val recall@20 {mean:.5f} (seeds {seeds})",
                 f"{100 * (mean / first - 1):+.2f} %", len(v), devices[0])
