"""``python -m graphrec.export RUN_DIR OUT``: a bundle of what scoring needs (bundle.py)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

from ..errors import GraphrecError, UsageError
from .bundle import CARD, Bundle, is_bundle
from .recommend import device_of

EXAMPLES = """\
example:
  python -m graphrec.export outputs/DATE/TIME model-bundle
  python -m graphrec.recommend model-bundle --users 196

OUT holds bundle.json (the model card: config, metrics, format version), users.npy and
items.npy (float32 final vectors, cold items included; VBPR adds item_bias.npy), their ids
(user_ids.npy, item_ids.npy), each user's training items, and for feature models the
weights that encode new items (encoder.npz). Loading it (graphrec.serving.Bundle.load)
reads no training file and unpickles nothing; docs/serving.md shows how to put the vectors
into an ANN index."""


def export(run_dir, out, device="cpu", data_path: Optional[str] = None,
           force: bool = False) -> Bundle:
    """Write ``run_dir``'s model as a bundle in ``out``; returns it."""
    from .run_folder import bundle_from_run

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not force:
            raise UsageError(f"{out}: exists and is not empty; pass --force to replace "
                             "a bundle there, or name a new folder")
        if is_bundle(out):  # the old bundle's files, so none is left over
            for name in json.loads((out / CARD).read_text()).get("files", {}).values():
                (out / name).unlink(missing_ok=True)
    if Path(run_dir).resolve() == out.resolve():
        raise UsageError(f"{out}: is the run folder itself; name another folder")
    bundle = bundle_from_run(run_dir, device, data_path)
    bundle.save(out)
    return bundle


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m graphrec.export",
        description="Export a trained run as a bundle that needs no training data.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a train.py run folder (with best.pt)")
    p.add_argument("out", metavar="OUT", help="the bundle's folder (new, or empty)")
    p.add_argument("--device", default="cpu",
                   help="where to compute the final vectors (default cpu)")
    p.add_argument("--data", metavar="PATH",
                   help="where the run's data is now (default: its data.path)")
    p.add_argument("--force", action="store_true", help="replace a bundle already in OUT")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        bundle = export(args.run_dir, args.out, device_of(args.device), args.data, args.force)
    except GraphrecError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    card = bundle.card
    print(f"{args.out}: {card['model']} bundle, {bundle.n_users} users x {bundle.n_items} "
          f"items ({card['n_cold']} cold), {card['dim']}-wide vectors"
          + (", new-item encoder" if bundle.encoder is not None else ""))
    return 0
