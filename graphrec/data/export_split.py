"""``python -m graphrec.data.export_split --out DIR [--name N] [--format inter|csv] data.K=V ...``

Loads a ``data=movielens`` source as training would (the same keys: ``data.path``,
``data.split``, ``data.seed``, ...) and writes its train/valid/test pairs to ``DIR``, with
the source's own user and item ids. ``--format inter`` (default) writes RecBole's
``NAME.train.inter``, ``NAME.valid.inter``, ``NAME.test.inter`` (NAME: ``--name``, default
DIR's own name, as RecBole wants ``data_path/NAME/NAME.*.inter`` for ``dataset: NAME``), which
RecBole reads with ``benchmark_filename: [train, valid, test]``; ``csv`` writes
``train.csv``/``valid.csv``/``test.csv``. Both are read back by ``data.split=files
data.path=DIR``. Example, graphrec's RecBole-sized split of ml-100k::

    python -m graphrec.data.export_split --out dataset/ml100k-graphrec \\
        data.path=dataset/ml-100k data.split=recbole_rs data.seed=2020

RecBole 1.2.1 reads its bundled copy for a dataset named ``ml-100k``, whatever ``data_path``
says: name the export otherwise and set RecBole's ``dataset`` to that name.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..errors import ConfigError, DataError, UsageError, command
from .splits import write_split

log = logging.getLogger(__name__)


def export(cfg, out, name: Optional[str] = None, fmt: str = "inter") -> List[Path]:
    """Write the split that ``data=movielens`` with ``cfg`` trains on; returns the files."""
    from . import load_data
    from .movielens import source_ids

    data = load_data(cfg)
    user_ids, item_ids = source_ids(cfg)
    name = name or Path(out).resolve().name or "graphrec"
    if fmt == "inter" and name == "ml-100k":
        log.warning("RecBole 1.2.1 reads its bundled ml-100k for dataset=ml-100k whatever "
                    "data_path says: to have it read this split, name it otherwise")
    try:
        return write_split(data, out, name=name, fmt=fmt, user_ids=user_ids, item_ids=item_ids)
    except OSError as exc:
        raise UsageError(f"--out={str(out)!r} is invalid: {exc.strerror or exc} (allowed: a "
                         "folder you can write to)") from exc


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphrec.data.export_split",
                                     description=__doc__.split("\n\n")[1])
    parser.add_argument("--out", required=True, help="folder to write the three files to")
    parser.add_argument("--name", help="file name prefix for --format inter (RecBole's "
                        "dataset name); default: the --out folder's name")
    parser.add_argument("--format", choices=("inter", "csv"), default="inter")
    parser.add_argument("overrides", nargs="*", metavar="data.KEY=VALUE")
    args = parser.parse_args(argv)
    # the data=movielens schema, so the keys and defaults are training's; imported here, as
    # importing graphrec.config registers the Hydra schemas (graphrec.data itself does not)
    from ..config import MovielensData, require_values

    dotlist = [o[len("data."):] if o.startswith("data.") else o for o in args.overrides]
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(MovielensData), OmegaConf.from_dotlist(dotlist))
    except OmegaConfBaseException as exc:
        key = f"data.{exc.full_key}: " if getattr(exc, "full_key", None) else ""
        raise ConfigError(f"{key}{str(exc).splitlines()[0]} (the keys and types of "
                          "data=movielens, conf/data/movielens.yaml)") from exc
    require_values(cfg, prefix="data.")
    try:
        files = export(cfg, args.out, args.name, args.format)
    except OSError as exc:  # a data file that cannot be read
        raise DataError(f"{exc.filename or args.out}: {exc.strerror or exc}") from exc
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
