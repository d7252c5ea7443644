"""Hydra callbacks. Hydra creates the output folder before the task runs, so an unwritable
folder must be caught here to get a one-line error instead of Hydra's traceback."""
from __future__ import annotations

import os
import sys

from hydra.experimental.callback import Callback

from .config import unwritable_reason
from .errors import ConfigError, report


class OutputDirCheck(Callback):
    def _check(self, key: str, value: str) -> None:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            return
        reason = unwritable_reason(value)
        if reason is not None:
            sys.exit(report(ConfigError(f"{key}={value!r} is invalid: {reason} (allowed: a "
                                        "folder you can write to)")))

    def on_run_start(self, config, **kwargs) -> None:
        self._check("hydra.run.dir", config.hydra.run.dir)

    def on_multirun_start(self, config, **kwargs) -> None:
        self._check("hydra.sweep.dir", config.hydra.sweep.dir)
