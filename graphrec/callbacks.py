"""Hydra callbacks. Hydra creates the output folder before the task runs, so an unwritable
folder must be caught here to get a one-line error instead of Hydra's traceback."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback


def cannot_write(path: Path):
    """Why ``path`` cannot hold a run (a short reason), or None when it can."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".graphrec-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


class OutputDirCheck(Callback):
    def _check(self, key: str, value: str) -> None:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            return
        reason = cannot_write(Path(value))
        if reason is not None:
            print(f"graphrec: error: {key}={value!r} is invalid: {reason} (allowed: a folder "
                  "you can write to)", file=sys.stderr)
            sys.exit(2)

    def on_run_start(self, config, **kwargs) -> None:
        self._check("hydra.run.dir", config.hydra.run.dir)

    def on_multirun_start(self, config, **kwargs) -> None:
        self._check("hydra.sweep.dir", config.hydra.sweep.dir)
