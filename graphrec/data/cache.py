"""Loaded data kept as plain arrays in one ``.npz`` per (source files, loading options).

The key hashes the bytes of every source file and the options that change the result, so an
edited file or a new option value is a miss, never a stale hit. A file is written to a
temporary name and renamed into place, so a crash leaves no half-written entry, and it is
read back with ``allow_pickle=False``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional

import numpy as np

from .interactions import Interactions

log = logging.getLogger(__name__)

VERSION = 1  # bump when the stored layout or a loader's output changes
_CSR = ("train_indptr", "train_indices", "val_indptr", "val_indices", "test_indptr",
        "test_indices", "warm_mask")


def file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def cache_key(kind: str, files: Iterable[Path], options: Dict[str, object]) -> str:
    parts = {"version": VERSION, "kind": kind, "options": options,
             "files": {Path(f).name: file_digest(Path(f)) for f in files}}
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def _to_arrays(data: Interactions) -> Dict[str, np.ndarray]:
    arrays = {k: getattr(data, k) for k in _CSR}
    arrays["sizes"] = np.array([data.n_users, data.n_items], dtype=np.int64)
    arrays["meta"] = np.array(json.dumps(data.meta))
    arrays.update({f"feat_{name}": f for name, f in data.features.items()})
    return arrays


def _from_arrays(z, name: str) -> Interactions:
    n_users, n_items = (int(x) for x in z["sizes"])
    features = {k[len("feat_"):]: z[k] for k in z.files if k.startswith("feat_")}
    return Interactions(n_users=n_users, n_items=n_items, features=features, name=name,
                        meta=json.loads(str(z["meta"])), **{k: z[k] for k in _CSR})


def _read(path: Path, name: str) -> Optional[Interactions]:
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            return _from_arrays(z, name)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # damaged: rebuild
        log.warning("cache entry %s is unreadable (%s): rebuilding it", path, exc)
        return None


def save(path: Path, data: Interactions) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **_to_arrays(data))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached(cache_dir: str, kind: str, name: str, files: Iterable[Path],
           options: Dict[str, object], build: Callable[[], Interactions]) -> Interactions:
    """``build()`` once per key; later calls read the arrays back. ``build`` must validate
    (raise :class:`DataError`) before returning, so only good data is ever stored."""
    t0 = time.perf_counter()
    path = Path(cache_dir) / f"{kind}-{cache_key(kind, files, options)}.npz"
    data = _read(path, name)
    hit = data is not None
    if data is None:
        data = build()
        data.name = name
        data.check()
        save(path, data)
    data.meta.update(cache="hit" if hit else "miss", load_s=round(time.perf_counter() - t0, 3))
    log.info("data %s: %s in %.2f s (cache %s: %s)", name, data.summary(),
             data.meta["load_s"], data.meta["cache"], path)
    return data
