"""``train``: each configuration trains ``--steps`` steps, in alternating rounds; the median
of ``metrics.throughput.samples_per_s`` and its ratio to the first configuration; then each
configuration's roofline (``roofline.py``): its step's product FLOPs at that median against a
matrix product timed in the same run at the same dtype."""
from __future__ import annotations

import statistics
import tempfile

from ..config import resolve_device
from .harness import add_configs, add_data, add_rounds, alternate, device_name, train_run
from .roofline import applies, mm_peak, roofline, step_flops

HELP = "training throughput of each configuration (samples/s), alternating"
DEFAULT_CONFIGS = ["loader=baseline model.impl=reference", "loader=fast model.impl=lean",
                   "loader=fast batch=b1024 precision=amp"]


def add_arguments(p):
    add_configs(p, DEFAULT_CONFIGS)
    add_data(p)
    add_rounds(p)
    p.add_argument("--steps", type=int, default=40, help="steps per run")
    p.add_argument("--no-roofline", action="store_true",
                   help="skip each lean step's roofline: its FLOPs counted over 2 short runs "
                        "and the mm peak timed (a few seconds per configuration)")


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
    peaks = {}
    for c, v in runs.items():
        med = statistics.median(s for s, _ in v)
        epoch_s = v[-1][1] / max(med, 1e-9)
        note, cfg = "", None if a.no_roofline else h.cfg(c, extra)
        if cfg is not None and applies(cfg):
            mode = cfg.precision.mode
            if mode not in peaks:
                peaks[mode] = mm_peak(resolve_device(cfg.trainer.device), mode)
            flops = step_flops(h, c, extra, h.data(cfg, heldout=False))
            note = roofline(flops, med, int(cfg.batch.size), peaks[mode]) + f" ({mode})"
            print(f"roofline | {c} | {note}", flush=True)
        h.record(c, f"{med:,.0f} samples/s ({epoch_s:,.1f} s/epoch)", f"{med / first:.2f}x",
                 len(v), devices[0], note=note, values=[s for s, _ in v])
