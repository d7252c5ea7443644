"""Where a run's progress goes while it trains: the ``logger`` config group.

``csv`` is ``epochs.csv`` (:class:`EpochsCsv`); ``tensorboard`` writes event files with
``torch.utils.tensorboard``. The loop talks to all the chosen ones through :class:`Loggers`,
on rank 0 only, at the points where it already has the values on the host:

* ``log_step(step, values)`` at each log point (loss, samples/s, data-wait share, lr, memory);
* ``log_row(row)`` for each epoch-end and validation row (the rows of ``epochs.csv``);
* ``finish(cfg, record)`` once, with the ``RunRecord`` written to ``metrics.json``;
* ``close()`` always, after an error too.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

from omegaconf import OmegaConf

from .record import EpochsCsv, epoch_columns
from .run_record import RunRecord

CLOCK = ("train_s", "eval_s", "wall_s")


class CsvLogger:
    """``epochs.csv``: rewritten from the restored rows on resume, flushed per row."""

    def __init__(self, cfg, out: Path, rows: Iterable[dict] = (), start_step: int = 0):
        self.csv = EpochsCsv(out / "epochs.csv", epoch_columns(cfg.trainer.ks), rows)

    def log_step(self, step: int, values: dict) -> None:
        pass  # epochs.csv has rows only

    def log_row(self, row: dict) -> None:
        self.csv.append(row)

    def finish(self, cfg, record: RunRecord) -> None:
        pass

    def close(self) -> None:
        self.csv.close()


class TensorboardLogger:
    """Event files in ``<run>/<logger.tensorboard.dir>``, one TensorBoard run per training run,
    so ``tensorboard --logdir`` over a sweep folder compares trials (HParams view)."""

    def __init__(self, cfg, out: Path, rows: Iterable[dict] = (), start_step: int = 0):
        from torch.utils.tensorboard import SummaryWriter

        self.opts = cfg.logger.tensorboard
        # A resumed run repeats the steps after its checkpoint: purge_step hides the events
        # the interrupted run wrote from there on, as epochs.csv drops its rows.
        self.writer = SummaryWriter(str(out / self.opts.dir), flush_secs=self.opts.flush_secs,
                                    purge_step=start_step or None)
        if not start_step:
            text = OmegaConf.to_yaml(cfg)
            self.writer.add_text("config", "".join(f"    {line}\n" for line in
                                                   text.splitlines()), 0)  # a code block

    def _scalar(self, tag: str, value, step: int) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.writer.add_scalar(tag, value, step)

    def log_step(self, step: int, values: dict) -> None:
        if self.opts.steps:
            for key, value in values.items():
                self._scalar(("memory/" if key.startswith("peak_") else "train/") + key, value,
                             step)

    def log_row(self, row: dict) -> None:
        step = row["step"]
        for key, value in row.items():
            if key.startswith("val_"):
                self._scalar(f"val/{key[4:]}", value, step)
            elif key in CLOCK:
                self._scalar(f"clock/{key}", value, step)
            elif key in ("loss", "samples_per_s", "epoch_s"):
                self._scalar(f"epoch/{key}", value, step)

    def finish(self, cfg, record: RunRecord) -> None:
        # an interrupted run is not over: its resume writes the final figures
        if self.opts.hparams and record.status != "interrupted":
            from torch.utils.tensorboard.summary import hparams

            final = final_metrics(record)
            for summary in hparams(hparam_values(cfg, record), final):
                self.writer.file_writer.add_summary(summary)
            for tag, value in final.items():
                self._scalar(tag, value, record.steps or 0)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


KINDS = {"csv": CsvLogger, "tensorboard": TensorboardLogger}


def hparam_values(cfg, record: RunRecord) -> dict:
    """The composed config, flat (``model.lr``...), as HParams takes it: lists as text, nulls
    left out; and the run's status, to filter on."""
    try:
        config = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # an interpolation only Hydra's app can resolve: show it as written
        config = OmegaConf.to_container(cfg, resolve=False)
    config.pop("logger", None)  # how a run is watched, not what it computes
    flat = {}

    def walk(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            elif value is not None:
                flat[prefix + key] = str(value) if isinstance(value, list) else value
    walk(config)
    flat["status"] = record.status
    return flat


def final_metrics(record: RunRecord) -> dict:
    """``final/...`` scalars from ``metrics.json``: val and test metrics (of the best
    checkpoint), speed, clock, time to target and memory."""
    out = {}
    for split in ("val", "test", "val_warm", "val_cold", "test_warm", "test_cold"):
        for name, value in record.split(split).items():
            out[f"final/{split}_{name}"] = value
    for key in ("samples_per_s", "data_wait_share", "epoch_s", "wall_s", "time_to_best_s"):
        out[f"final/{key}"] = getattr(record.throughput, key)
    out["final/time_to_target_s"] = record.target.time_to_target_s if record.target else None
    for key, value in record.memory.to_json().items():
        out[f"final/{key}"] = value
    return {k: v for k, v in out.items() if isinstance(v, (int, float)) and math.isfinite(v)}


class Loggers:
    """The chosen loggers as one; empty (every call a no-op) on ranks other than 0."""

    def __init__(self, each=()):
        self.each = list(each)

    @classmethod
    def from_cfg(cls, cfg, out: Path, rows: Iterable[dict] = (), start_step: int = 0):
        # a run recorded before the logger group existed (resumed) keeps its epochs.csv
        chosen = cfg.logger if "logger" in cfg else {"csv": {}}
        rows = list(rows)
        return cls(KINDS[name](cfg, Path(out), rows, start_step)
                   for name, opts in chosen.items() if opts is not None)

    def log_step(self, step: int, values: dict) -> None:
        for logger in self.each:
            logger.log_step(step, values)

    def log_row(self, row: dict) -> None:
        for logger in self.each:
            logger.log_row(row)

    def finish(self, cfg, record: RunRecord) -> None:
        for logger in self.each:
            logger.finish(cfg, record)

    def close(self) -> None:
        for logger in self.each:
            logger.close()
        self.each = []  # closing twice is harmless
