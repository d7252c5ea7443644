"""``recommend``: top-K lists for every user, graphrec against RecBole 1.2.1's
``full_sort_topk`` on the ml-100k folder ``--data-path`` (when RecBole imports: ``pip install
-e ".[recbole]"``). Both sides train BPR (``+experiment=recbole_bpr_ml100k``; RecBole's BPR)
for one epoch, then, in alternation round by round, list ``--k`` items for every user,
``--chunk`` users a call, ``--passes`` timed passes a round. users/s: users over the median
pass. graphrec's pass is what ``python -m graphrec.recommend RUN --all`` does before writing:
``Lists.for_users`` on the run's bundle (scores, training items masked, top-K with ties to
the lower id, the data's own user and item ids). RecBole's: ``full_sort_topk`` (scores, the
test loader's history, train and val items, masked, ``torch.topk``) and ``id2token``. Loading
the model and data is outside both clocks."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from ..config import resolve_device
from ..errors import UsageError
from .harness import add_rounds, alternate, compose_cfg, device_name, train_run
from .recbole import recbole_folder

HELP = "top-K lists for every user: graphrec against RecBole's full_sort_topk on ml-100k"


def add_arguments(p):
    p.add_argument("--data-path", default="",
                   help="RecBole atomic ml-100k folder, with ml-100k.inter")
    p.add_argument("--k", type=int, default=20, help="list length (default %(default)s)")
    p.add_argument("--chunk", type=int, default=2048,
                   help="users per call on both sides (graphrec's --all default: %(default)s)")
    p.add_argument("--passes", type=int, default=5, help="timed passes per side and round")
    add_rounds(p)


def graphrec_users_per_s(lists, n_users: int, k: int, chunk: int, passes: int) -> float:
    rows = np.arange(n_users)
    times = []
    for _ in range(passes):
        t = time.perf_counter()
        for _block in lists.for_users(rows, k, chunk=chunk):
            pass
        times.append(time.perf_counter() - t)
    return n_users / statistics.median(times)


def run(h):
    a = h.args
    for name in ("k", "chunk", "passes", "rounds"):
        if getattr(a, name) < 1:
            raise UsageError(f"--{name}={getattr(a, name)} is invalid: at least 1")
    folder = recbole_folder("recommend", a.data_path)
    from ..serving.lists import Lists
    from ..serving.run_folder import CONFIG, bundle_from_run
    from .recbole_side import RecboleSide

    device = resolve_device(a.device)
    theirs = RecboleSide("BPR", folder, device)
    tmp = tempfile.TemporaryDirectory()
    try:
        cfg = compose_cfg(["+experiment=recbole_bpr_ml100k", f"data.path={folder}",
                           "trainer.epochs=1", "trainer.eval_every=0", "trainer.patience=0",
                           "trainer.progress=false", f"trainer.device={device.type}"])
        train_run(cfg, tmp.name, h.data(cfg, heldout=True))
        (Path(tmp.name) / CONFIG).parent.mkdir()
        OmegaConf.save(cfg, Path(tmp.name) / CONFIG)  # what train.py's Hydra run writes
        bundle = bundle_from_run(tmp.name, device=str(device))
        ours = Lists(bundle)
        n_users = bundle.n_users

        def one(r, side):
            if side == "graphrec":
                speed = graphrec_users_per_s(ours, n_users, a.k, a.chunk, a.passes)
            else:
                speed = theirs.topk_users_per_s(a.k, a.chunk, a.passes, seed=r)
            print(f"round {r} | {side} | {speed:,.0f} users/s", flush=True)
            return speed

        speeds = alternate(range(a.rounds), ["graphrec", "RecBole"], one)
    finally:
        theirs.close()
        tmp.cleanup()
    g, rb = (statistics.median(speeds[s]) for s in ("graphrec", "RecBole"))
    what = (f"ml-100k {n_users} users, BPR, top-{a.k}, {a.chunk} users a call, "
            f"median of {a.passes} passes x {a.rounds} rounds")
    h.record(f"RecBole 1.2.1 full_sort_topk, {what}", f"{rb:,.0f} users/s", "1.00x", a.rounds,
             device_name(device), values=speeds["RecBole"])
    h.record(f"graphrec recommend --all (Lists.for_users), {what}", f"{g:,.0f} users/s",
             f"{g / rb:.2f}x", a.rounds, device_name(device), values=speeds["graphrec"])
    print(f"\nmedians over rounds: graphrec {g:,.0f} users/s | RecBole {rb:,.0f} users/s | "
          f"{g / rb:.2f}x", flush=True)
