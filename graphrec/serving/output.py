"""Where lists go: tab-separated text on stdout, or a file written block by block (Parquet,
or CSV), so memory stays one block's, whatever the number of users."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Optional, TextIO

import numpy as np
from tqdm import tqdm

from ..errors import UsageError
from .lists import Block

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv"}


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    return str(value)


class TextSink:
    """One header line, then a tab-separated line per entry."""

    def __init__(self, stream: TextIO, sep: str = "\t"):
        self.stream, self.sep, self.header = stream, sep, False

    def write(self, cols: dict) -> None:
        if not self.header:
            self.stream.write(self.sep.join(cols) + "\n")
            self.header = True
        rows = zip(*(c.tolist() for c in cols.values()))
        self.stream.write("".join(self.sep.join(map(_fmt, r)) + "\n" for r in rows))

    def close(self) -> None:
        self.stream.flush()


class FileSink:
    """A file written under a temporary name and renamed into place when complete."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind = path, kind
        self.tmp = path.with_name(path.name + ".tmp")
        self.writer = None
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind != "parquet":
            self.text = open(self.tmp, "w", encoding="utf-8", newline="")
            self.writer = TextSink(self.text, "," if kind == "csv" else "\t")

    def write(self, cols: dict) -> None:
        if self.kind != "parquet":
            if self.kind == "csv" and "title" in cols:  # titles hold commas: quote them
                cols = dict(cols, title=np.asarray(
                    ['"' + str(t).replace('"', '""') + '"' for t in cols["title"]]))
            return self.writer.write(cols)
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({k: pa.array(v.tolist() if v.dtype == object else v)
                          for k, v in cols.items()})
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self, ok: bool = True) -> None:
        if self.kind == "parquet":
            if self.writer is None:  # no entry at all: still a valid, empty file
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.table({"rank": pa.array([], pa.int32())}), self.tmp)
            else:
                self.writer.close()
        else:
            self.text.close()
        if ok:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def open_sink(out: Optional[str], stream: TextIO = None):
    if out is None:
        return TextSink(stream or sys.stdout)
    path = Path(out)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"--out={out!r}: the file's extension names its format; allowed "
                         f"{'|'.join(FORMATS)}")
    return FileSink(path, kind)


def write(blocks: Iterable[Block], sink, total: int, unit: str, progress: bool) -> int:
    """Every block into ``sink``; a progress bar on stderr (lists/s, ETA). Entries written."""
    written = 0
    bar = tqdm(total=total, unit=unit, disable=not progress, file=sys.stderr,
               dynamic_ncols=True, leave=False)
    ok = False
    try:
        for n, cols in blocks:
            if len(next(iter(cols.values()))):
                sink.write(cols)
            written += len(cols["rank"])
            bar.update(n)
        ok = True
    finally:
        bar.close()
        if isinstance(sink, FileSink):
            sink.close(ok)
        else:
            sink.close()
    return written
