"""``trainer.resume=DIR`` continues the run in DIR with DIR's own config.

A resume that took today's defaults instead would change the experiment without a word (an
interrupted ``loader=baseline`` run continued on the fast path, its record then mixing the
two). So the config is read back from ``DIR/.hydra/config.yaml``, and an override on the
command line that would change it is refused; repeating the run's own settings is fine, and
so are the few keys that change how a run is watched or placed, not what it computes.
"""
from __future__ import annotations

import atexit
import logging
import shutil
from pathlib import Path
from typing import Sequence

from omegaconf import OmegaConf

from ..errors import ConfigError

# What a resume may set: how the run is watched, placed or kept, not what it computes.
FREE = ("trainer.resume", "trainer.progress", "trainer.progress_every_s", "trainer.threads",
        "trainer.step_threads",
        "trainer.log_every", "trainer.checkpoint_every_s", "trainer.checkpoint_every_steps",
        "logger")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def resumed_config(cfg, overrides: Sequence[str]):
    """DIR's config with ``trainer.resume`` set, or ConfigError naming what would change."""
    run_dir = Path(cfg.trainer.resume)
    saved_path = run_dir / ".hydra" / "config.yaml"
    if not saved_path.is_file():
        raise ConfigError(f"trainer.resume={str(run_dir)!r} is invalid: no .hydra/config.yaml "
                          "there (allowed: a run folder left by an interrupted or killed run)")
    saved = OmegaConf.load(saved_path)
    changed = [o for o in overrides if _key(o).split(".")[0] != "logger"
               and _key(o) not in FREE and not _key(o).startswith("hydra")
               and OmegaConf.select(saved, _key(o)) != OmegaConf.select(cfg, _key(o))]
    if changed:
        raise ConfigError(f"trainer.resume={str(run_dir)!r} continues that run with its own "
                          f"config, and {' '.join(changed)} would change it: drop "
                          f"{'it' if len(changed) == 1 else 'them'}, or start a new run")
    given = {_key(o) for o in overrides}
    for key in FREE[1:]:  # as given now; else as the run had them (today's default if none)
        if key in given or any(g.startswith(key + ".") for g in given) or \
                OmegaConf.select(saved, key) is None:
            OmegaConf.update(saved, key, OmegaConf.select(cfg, key), force_add=True, merge=False)
    saved.trainer.resume = str(run_dir)
    return saved


def resumed_folder(new_dir: str, run_dir: str) -> str:
    """A resumed run logs to, and leaves its record in, its own folder: the one Hydra just
    made for this command (``.hydra/`` and an empty log) is removed at exit."""
    new, old = Path(new_dir), Path(run_dir)
    if new.resolve() != old.resolve():
        handler = logging.FileHandler(old / "train.log")
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - "
                                               "%(message)s"))
        logging.getLogger().addHandler(handler)
        atexit.register(_remove, new)
    return str(old)


def _remove(folder) -> None:
    """The folder, and its date folder (outputs/DATE/TIME) if that is left empty."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
    except OSError:
        pass
