"""``python -m graphrec.recommend RUN_DIR|BUNDLE``: top-K lists from a trained model."""
from __future__ import annotations

import argparse
import sys
import time

import torch

from ..errors import GraphrecError, UsageError
from . import open_source
from .ids import split_ids
from .lists import ITEM_SETS, Lists
from .new_items import encode_new_items
from .output import open_sink, write

EXAMPLES = """\
examples:
  python -m graphrec.recommend outputs/DATE/TIME --users 196 186 --k 10
  python -m graphrec.recommend BUNDLE --users 196 --items cold --include-seen
  python -m graphrec.recommend BUNDLE --all --k 20 --out lists.parquet
  python -m graphrec.recommend BUNDLE --users 196 --new-items new/   # new/feat_v.npy ...
  python -m graphrec.recommend BUNDLE --for-items new-0 --new-items new/ --k 50

Ids are the data files' own (ml-100k's user 196, a CLCRec file's item 55485), not graphrec's
0-based indices. Ties go to the lower item id and NaN scores rank last, as in evaluation.
A user's training items are left out unless --include-seen. Output: tab-separated
user, rank, item, score[, title] (--for-items: item, rank, user, score[, title]);
--out FILE.parquet|.csv|.tsv writes the same columns, block by block."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m graphrec.recommend",
        description="Top-K recommendations from a run folder (train.py's: the data is\n"
                    "rebuilt as training built it) or a bundle (python -m graphrec.export's:\n"
                    "no training data needed).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", metavar="RUN_DIR|BUNDLE",
                   help="a train.py run folder, or a bundle (python -m graphrec.export)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--users", nargs="+", metavar="ID",
                     help="users to list items for (space- or comma-separated ids)")
    who.add_argument("--all", action="store_true", help="every user (with --out: a file)")
    who.add_argument("--for-items", nargs="+", metavar="ID",
                     help="the reverse: the users who should see these items first "
                          "(catalogue items or --new-items ids)")
    p.add_argument("--k", type=int, default=10, metavar="K", help="list length (default 10)")
    p.add_argument("--items", choices=ITEM_SETS, default=None,
                   help="candidates: all (default), warm (seen in training), cold (never "
                        "seen; with the new items), new (--new-items only, its default)")
    p.add_argument("--include-seen", action="store_true",
                   help="keep each user's training items in its list")
    p.add_argument("--new-items", metavar="FEATURES",
                   help="items the model never saw: a folder of feat_<modality>.npy/.pt "
                        "(the layout data=clcrec reads) and optional ids.txt (feature models)")
    p.add_argument("--out", metavar="FILE", help="write to FILE (.parquet, .csv or .tsv)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    p.add_argument("--data", metavar="PATH",
                   help="run folder only: where the run's data is now (default: its data.path)")
    p.add_argument("--chunk-users", type=int, default=2048, metavar="N",
                   help="users ranked per block (default 2048; fewer when the catalogue is large)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar with --all")
    return p


def device_of(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device={name!r} is invalid: allowed cpu, cuda, cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device={name!r} is invalid: no CUDA GPU is visible (allowed: cpu)")
    return device


def run(args, stdout=None) -> int:
    stdout = stdout or sys.stdout
    if args.chunk_users < 1:
        raise UsageError(f"--chunk-users={args.chunk_users} is invalid: allowed >= 1")
    bundle = open_source(args.source, device_of(args.device), args.data)
    new = encode_new_items(bundle, args.new_items) if args.new_items else None
    lists = Lists(bundle, new)
    if args.for_items:
        given = split_ids(args.for_items)
        blocks = lists.for_items(given, args.k, args.include_seen)
        total, unit = len(given), "item"
    else:
        rows = bundle.user_ids.rows(split_ids(args.users)) if args.users else \
            torch.arange(bundle.n_users).numpy()
        items = args.items or ("new" if new is not None else "all")
        blocks = lists.for_users(rows, args.k, items, args.include_seen, args.chunk_users)
        total, unit = len(rows), "user"
    sink = open_sink(args.out, stdout)
    t0 = time.perf_counter()
    entries = write(blocks, sink, total, unit, progress=args.all and not args.no_progress)
    if args.out:
        took = time.perf_counter() - t0
        print(f"{args.out}: {total} {unit}s, {entries} entries in {took:.1f} s "
              f"({total / max(took, 1e-9):,.0f} {unit}s/s)", file=stdout)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except GraphrecError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
