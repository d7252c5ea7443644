"""``python -m graphrec.data.download ml-1m|ml-100k|ml-latest-small [--cache-dir DIR]``

Fetches a MovieLens zip into ``<cache-dir>/downloads``, checks its SHA-256, and unpacks it to
``<cache-dir>/<name>``, ready for ``data=movielens data.path=<cache-dir>/<name>``. Every step
writes under a temporary name first, so an interrupted or corrupt download leaves nothing that
a later run would take for finished. ``--url``/``--sha256`` override the table (a mirror, or a
re-published ``ml-latest-small``, whose contents GroupLens updates now and then).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Dict, NamedTuple, Optional

from ..errors import DataError, UsageError, command


class Source(NamedTuple):
    url: str
    sha256: str


_BASE = "https://files.grouplens.org/datasets/movielens/"
# Checksums as listed in tensorflow_datasets' url_checksums/movielens.txt.
SOURCES: Dict[str, Source] = {
    "ml-100k": Source(_BASE + "ml-100k.zip",
                      "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
    "ml-1m": Source(_BASE + "ml-1m.zip",
                    "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
    "ml-latest-small": Source(_BASE + "ml-latest-small.zip",
                              "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"),
}


def _fetch(url: str, dest: Path, sha256: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                while chunk := resp.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:  # nothing kept
            raise DataError(f"{url}: cannot fetch it ({getattr(exc, 'reason', exc)}); check "
                            "the network, or pass a mirror with --url and --sha256") from exc
        if digest.hexdigest() != sha256:
            raise DataError(f"{url}: SHA-256 {digest.hexdigest()} does not match the expected "
                            f"{sha256}; nothing was kept")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _unpack(archive: Path, dest: Path) -> None:
    """Unzip into ``dest``; the archive's single top folder (``ml-1m/``) is dropped."""
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=dest.name, suffix=".part"))
    try:
        if not zipfile.is_zipfile(archive):
            raise DataError(f"{archive}: not a zip archive; delete it to fetch it again")
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():  # no absolute paths or '..' (zip-slip)
                if Path(name).is_absolute() or ".." in Path(name).parts:
                    raise DataError(f"{archive}: unsafe member path {name!r}")
            zf.extractall(tmp)
        entries = list(tmp.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        os.replace(root, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download(name: str, cache_dir: str = ".cache/graphrec",
             sources: Optional[Dict[str, Source]] = None) -> Path:
    """The unpacked folder of ``name``, fetched and checked on first use."""
    table = SOURCES if sources is None else sources
    if name not in table:
        raise DataError(f"unknown dataset {name!r}: allowed {'|'.join(table)}")
    src = table[name]
    dest = Path(cache_dir) / name
    if dest.is_dir():
        return dest
    archive = Path(cache_dir) / "downloads" / f"{name}.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    if not archive.is_file():
        _fetch(src.url, archive, src.sha256)
    _unpack(archive, dest)
    return dest


@command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphrec.data.download",
                                     description=__doc__.split("\n\n")[1])
    parser.add_argument("name", choices=sorted(SOURCES))
    parser.add_argument("--cache-dir", default=".cache/graphrec")
    parser.add_argument("--url", help="fetch from here instead (needs --sha256)")
    parser.add_argument("--sha256", help="expected SHA-256 of the zip")
    args = parser.parse_args(argv)
    sources = dict(SOURCES)
    if args.url or args.sha256:
        if not (args.url and args.sha256):
            parser.error("--url and --sha256 go together")
        sources[args.name] = Source(args.url, args.sha256)
    try:
        path = download(args.name, args.cache_dir, sources)
    except OSError as exc:  # the cache folder: permissions, a full disk
        raise UsageError(f"--cache-dir={args.cache_dir!r} is invalid: {exc.strerror or exc} "
                         f"({exc.filename or args.cache_dir}); allowed: a folder you can write "
                         "to, with room for the archive") from exc
    print(f"{path}\ntrain with: python train.py data=movielens data.path={path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
