"""The run record: ``metrics.json`` (atomic) and ``epochs.csv`` in the run folder."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path


def write_json(path: Path, obj) -> None:
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=float))
    os.replace(tmp, path)


def write_epochs(path: Path, rows) -> None:
    keys = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
