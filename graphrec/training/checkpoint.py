"""State-dict checkpoints: written atomically, read weights-only.

A write goes to a temporary file in the same folder, is fsynced, renamed over the old file,
and the folder is fsynced: a kill, a power cut or a full disk at any point leaves either the
old file or the new one, whole. A failed write raises the OSError of the write itself
(``errno.ENOSPC`` for a full disk; torch alone reports it as a RuntimeError without one).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from ..errors import CheckpointError


class _Writer:
    """The file torch.save writes to, keeping the OSError of a failed write."""

    def __init__(self, fh):
        self.fh, self.error = fh, None

    def write(self, data):
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self):
        self.fh.flush()


def save_atomic(obj, path: Path) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            writer = _Writer(fh)
            try:
                torch.save(obj, writer)
            except RuntimeError:
                if writer.error is None:
                    raise
                raise writer.error from None
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync a folder, so a rename in it survives a power cut (not every filesystem can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: Path, device: torch.device):
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated, corrupt, or not a weights-only checkpoint
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: {first}") from exc


RESUMABLE = ("model", "optimizer", "rng", "progress")


def load_resumable(path: Path, device: torch.device) -> dict:
    """``last.pt``, or CheckpointError naming the file when it is not one (e.g. a best.pt)."""
    ckpt = load(path, device)
    missing = [k for k in RESUMABLE if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"cannot resume from {path}: not a resumable checkpoint "
                              f"(no {', '.join(missing)}; last.pt holds {', '.join(RESUMABLE)})")
    return ckpt


def reason(exc: OSError) -> str:
    """A failed write in a few words: 'No space left on device'."""
    return exc.strerror or str(exc) or type(exc).__name__
