"""``train``: each configuration trains ``--steps`` steps, in alternating rounds; the median
of ``metrics.throughput.samples_per_s`` and its ratio to the first configuration."""
from __future__ import annotations

import statistics
import tempfile

from ..config import resolve_device
from .harness import add_configs, add_data, add_rounds, alternate, device_name, train_run

HELP = "training throughput of each configuration (samples/s), alternating"
DEFAULT_CONFIGS = ["loader=baseline model.impl=reference", "loader=fast model.impl=lean",
                   "loader=fast batch=b1024 precision=amp"]


def add_arguments(p):
    add_configs(p, DEFAULT_CONFIGS)
    add_data(p)
    add_rounds(p)
    p.add_argument("--steps", type=int, default=40, help="steps per run")


def run(h):
    a = h.args
    extra = [f"trainer.max_steps={a.steps}", "trainer.eval_every=0",
             "trainer.progress=false", f"trainer.log_every={max(1, a.steps // 4)}"]
    devices = []

    def one(r, c):
        cfg = h.cfg(c, extra)
        with tempfile.TemporaryDirectory() as out:
            m = train_run(cfg, out, h.data(cfg, heldout=False))
        devices.append(device_name(resolve_device(cfg.trainer.device)))
        speed = m.throughput.samples_per_s
        print(f"round {r} | {c} | {speed:,.0f} samples/s", flush=True)
        return speed, m.data["n_train"]

    runs = alternate(range(a.rounds), a.configs, one)
    first = statistics.median(s for s, _ in runs[a.configs[0]])
    for c, v in runs.items():
        med = statistics.median(s for s, _ in v)
        epoch_s = v[-1][1] / max(med, 1e-9)
        h.record(c, f"{med:,.0f} samples/s ({epoch_s:,.1f} s/epoch)", f"{med / first:.2f}x",
                 len(v), devices[0], values=[s for s, _ in v])
