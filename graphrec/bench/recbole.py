"""``recbole``: graphrec against RecBole 1.2.1 (when importable: ``pip install -e
".[recbole]"``) on the ml-100k folder ``--data-path``: BPR and LightGCN at RecBole's settings
(batch 2048, 1 negative; ``+experiment=recbole_*_ml100k``), each side training ``--epochs``
epochs per round, in alternation graphrec RecBole graphrec RecBole ... (``--rounds``). A sample
is one positive pair with its negative on both sides; samples/s is the training pairs over the
median epoch time (RecBole: ``Trainer._train_epoch``, its sampler included; graphrec: the epoch
on its clock, validation excluded on both sides)."""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch

from ..config import resolve_device
from ..errors import UsageError
from .harness import add_rounds, alternate, compose_cfg, device_name, train_run

HELP = "graphrec against RecBole 1.2.1 on ml-100k: BPR and LightGCN, samples/s"
DEFAULT_CONFIGS = []
MODELS = {"bpr": "BPR", "lightgcn": "LightGCN"}  # graphrec preset -> RecBole model


def add_arguments(p):
    p.add_argument("--data-path", default="",
                   help="RecBole atomic ml-100k folder, with ml-100k.inter")
    p.add_argument("--recbole-models", default="bpr,lightgcn",
                   help="comma-separated, of " + ",".join(MODELS))
    p.add_argument("--epochs", type=int, default=3, help="epochs per side and round")
    add_rounds(p)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads for both sides (0 = torch's default)")


def recbole_folder(mode: str, data_path: str) -> Path:
    """RecBole imported (its patches applied: a RecBole mode only) and the atomic data folder
    checked; a user error naming the fix otherwise."""
    from .recbole_side import import_recbole

    rb = import_recbole()  # first: without RecBole the mode only says how to get it
    if rb is None or isinstance(rb, str):
        why = "is not installed" if rb is None else f"does not import ({rb})"
        raise UsageError(f"python -m graphrec.bench {mode}: RecBole {why}. Install it with: "
                         "pip install -e \".[recbole]\" (RecBole 1.2.1), then run this again.")
    if not data_path:
        raise UsageError(f"python -m graphrec.bench {mode}: --data-path is required "
                         "(RecBole's atomic ml-100k folder, with ml-100k.inter)")
    folder = Path(data_path)
    folder = folder.parent if folder.is_file() else folder
    if not (folder / f"{folder.name}.inter").is_file():  # else RecBole would download
        raise UsageError(f"--data-path {data_path}: no {folder.name}.inter in {folder} "
                         "(RecBole reads DATASET/DATASET.inter)")
    return folder


def run(h):
    a = h.args
    folder = recbole_folder("recbole", a.data_path)
    from .recbole_side import RecboleSide

    device = resolve_device(a.device)
    if a.threads > 0:  # both sides run in this process: one setting for both
        torch.set_num_threads(a.threads)
    models = [m for m in a.recbole_models.split(",") if m]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise UsageError(f"--recbole-models: unknown {unknown}; allowed " + ",".join(MODELS))
    sides = {}
    for m in models:
        cfg = compose_cfg([f"+experiment=recbole_{m}_ml100k", f"data.path={folder}",
                           f"trainer.epochs={a.epochs}", "trainer.eval_every=0",
                           "trainer.patience=0", "trainer.progress=false",
                           f"trainer.device={device.type}"])
        sides[m] = (cfg, RecboleSide(MODELS[m], folder, device))

    def one(r, m):
        cfg, recbole = sides[m]
        data = h.data(cfg, heldout=False)
        with tempfile.TemporaryDirectory() as out:
            met = train_run(cfg, out, data)
        ours, theirs = data.n_train / met.throughput.epoch_s, recbole.samples_per_s(
            a.epochs, seed=r)
        print(f"round {r} | {m} | graphrec {ours:,.0f} | RecBole {theirs:,.0f} samples/s",
              flush=True)
        return ours, theirs

    try:
        speeds = alternate(range(a.rounds), models, one)
    finally:
        for _, recbole in sides.values():
            recbole.close()
    lines = ["| model | graphrec samples/s | RecBole samples/s | graphrec / RecBole |",
             "|---|---:|---:|---:|"]
    for m in models:
        g = statistics.median(s for s, _ in speeds[m])
        rbs = statistics.median(s for _, s in speeds[m])
        what = (f"{MODELS[m]} ml-100k, batch 2048, 1 negative, "
                f"{a.epochs} epochs x {a.rounds} rounds")
        h.record(f"RecBole 1.2.1 {what}", f"{rbs:,.0f} samples/s", "1.00x", a.rounds,
                 device_name(device))
        h.record(f"graphrec +experiment=recbole_{m}_ml100k, {what}", f"{g:,.0f} samples/s",
                 f"{g / rbs:.2f}x", a.rounds, device_name(device))
        lines.append(f"| {MODELS[m]} | {g:,.0f} | {rbs:,.0f} | {g / rbs:.2f}x |")
    print("\nmedians over rounds (each round: the median epoch of a fresh run)\n"
          + "\n".join(lines), flush=True)
