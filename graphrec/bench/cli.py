"""``python -m graphrec.bench MODE [options]``: one subcommand per mode, each with its own
options; ``--mode MODE`` (the old spelling) works too, and no mode at all means ``train``."""
from __future__ import annotations

import argparse
import logging
import sys

from ..errors import GraphrecError, report
from . import accuracy, evaluation, recbole, recommend, sampler, scale, serve, target, train
from .harness import OUT, Harness

MODES = {"train": train, "sampler": sampler, "accuracy": accuracy, "eval": evaluation,
         "target": target, "scale": scale, "recbole": recbole, "recommend": recommend,
         "serve": serve}


def common_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--out", default=str(OUT),
                   help="folder for RESULTS.md, bench.jsonl and the mode's files "
                        "(default: %(default)s)")
    p.add_argument("--results", default=None,
                   help="markdown table to append the rows to (default: OUT/RESULTS.md; "
                        "'' = none)")
    p.add_argument("--note", default="", help="free text for the note column")
    return p


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m graphrec.bench", description="Side-by-side benchmarks of graphrec.",
        epilog="MODE --help lists its options. '--mode MODE' works too; no mode is 'train'.")
    sub = p.add_subparsers(dest="mode", metavar="MODE", required=True)
    common = common_options()
    for name, mod in MODES.items():
        m = sub.add_parser(name, parents=[common], help=mod.HELP, description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(m)
    child = sub.add_parser("scale-child")  # no help: one size, in the process scale starts
    child.add_argument("size")
    child.add_argument("--result", required=True)
    child.add_argument("--device", default="auto")
    scale.add_child_arguments(child)
    return p


def normalise(argv: list) -> list:
    """``--mode X`` anywhere -> ``X`` first; no mode -> ``train``."""
    for i, tok in enumerate(argv):
        if tok == "--mode" and i + 1 < len(argv):
            return [argv[i + 1]] + argv[:i] + argv[i + 2:]
        if tok.startswith("--mode="):
            return [tok.split("=", 1)[1]] + argv[:i] + argv[i + 1:]
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return ["train"] + argv
    return argv


def main(argv=None) -> list:
    args = parser().parse_args(normalise(list(sys.argv[1:] if argv is None else argv)))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.mode == "scale-child":
        scale.child(args)
        return []
    try:  # main returns the rows (tests read them), so a user error ends here, as exit 2
        h = Harness(args, args.mode)
        MODES[args.mode].run(h)
    except GraphrecError as exc:
        raise SystemExit(report(exc))
    h.report()
    return h.rows
