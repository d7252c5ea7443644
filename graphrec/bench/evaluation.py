"""``eval``: graphrec's full-ranking validation against CLCRec's own ranking loop
(``clcrec_reference``) on the same model and masks, in alternating rounds A B C D A B C D ...:
(a) CLCRec's full list, (b) its three lists (all, warm, cold), (c) ``evaluate`` of the full
list, (d) ``evaluate`` of the whole validation (every set, every K). Medians over rounds, times
relative to (a); round 0 warms every side up, and its results are checked equal."""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from ..config import resolve_device
from ..evaluation import clcrec_reference, evaluate
from ..models import build_model
from .harness import add_configs, add_data, add_rounds, alternate, device_name

HELP = "full-ranking validation against CLCRec's own loop: checked equal, timed"
DEFAULT_CONFIGS = ["model=clcrec"]


def add_arguments(p):
    add_configs(p, DEFAULT_CONFIGS)
    add_data(p)
    add_rounds(p, "timed rounds, after one warm-up round")


def run(h):
    a = h.args
    cfg = h.cfg(a.configs[0])
    device = resolve_device(cfg.trainer.device)
    data = h.data(cfg, heldout=True)
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

    def one(r, name):
        t = time.perf_counter()
        res = sides[name]()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        s = time.perf_counter() - t
        first.setdefault(name, res)
        if r:
            print(f"round {r} | {name} | {s:.3f} s", flush=True)
        return s

    times = {name: v[1:] for name, v in  # round 0 warms up
             alternate(range(max(a.rounds, 1) + 1), list(sides), one).items()}
    worst = check(first, k)
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
        h.record(f"{name}, {kk}, {what}", f"{m:.3f} s", f"{m / base:.2f}x", len(times[name]),
                 device_name(device), f"checked vs CLCRec within {worst:.0e}")


def check(first: dict, k: int) -> float:
    """Same model, same masks: the same users must get the same metrics. The largest gap."""
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
    return worst
