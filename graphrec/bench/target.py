"""``target``: each configuration trains to ``--target`` (val Recall@20; validation every
``--eval-every-s`` training seconds, all of it on the clock: MLPerf's) or ``--budget``
seconds, in alternating rounds; the median time to target and the speed-up over the first."""
from __future__ import annotations

import statistics
import tempfile

from ..config import resolve_device
from .harness import add_configs, add_data, add_rounds, alternate, device_name, train_run

HELP = "time to a val Recall@20 target, validation on the clock, alternating"
SCALED = "data.n_users=3000 data.n_items=1500 data.max_degree=300"
# the seed's setup and the fast path, on synthetic_seed scaled as in sweeps/seed_guide
DEFAULT_CONFIGS = [f"{SCALED} loader=baseline loader.num_workers=1",
                   f"{SCALED} loader=fast batch=b1024 precision=amp sampling=neg256"]


def add_arguments(p):
    add_configs(p, DEFAULT_CONFIGS)
    add_data(p)
    add_rounds(p)
    p.add_argument("--target", type=float, default=0.10, help="val Recall@20 to reach")
    p.add_argument("--budget", type=float, default=900, help="seconds per run at most")
    p.add_argument("--eval-every-s", type=float, default=1.0,
                   help="training seconds between validations")


def run(h):
    a = h.args
    extra = [f"trainer.target.value={a.target}", "trainer.stop_at_target=true",
             f"trainer.time_budget_s={a.budget}", "trainer.eval_every=0",
             f"trainer.eval_every_s={a.eval_every_s}", "trainer.patience=0",
             "trainer.epochs=1000", "trainer.progress=false"]
    devices = []

    def one(r, c):
        cfg = h.cfg(c, extra)
        with tempfile.TemporaryDirectory() as out:
            m = train_run(cfg, out, h.data(cfg, heldout=True))
        t = m.target.time_to_target_s
        speed = m.throughput.samples_per_s
        devices.append(device_name(resolve_device(cfg.trainer.device)))
        print(f"round {r} | {c} | time to target "
              f"{'not reached' if t is None else f'{t:.1f} s'} | {speed:,.0f} samples/s",
              flush=True)
        return (t if t is not None else float("inf")), speed

    runs = alternate(range(a.rounds), a.configs, one)
    first = statistics.median(t for t, _ in runs[a.configs[0]])
    for c, v in runs.items():
        med = statistics.median(t for t, _ in v)
        speed = statistics.median(s for _, s in v)
        shown = f"{med:,.1f} s" if med < float("inf") else f"not reached in {a.budget:g} s"
        h.record(f"{c}, val recall@20 >= {a.target:g}",
                 f"{shown} to target ({speed:,.0f} samples/s)",
                 f"{first / med:.2f}x" if med < float("inf") else "", len(v), devices[0])
