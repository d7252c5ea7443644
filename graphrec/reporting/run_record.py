"""``RunRecord``: ``metrics.json`` as typed dataclasses, one writer (``training.loop``) and
every reader (train.py, the sweeper, ``runs.load_run``, ``record.summary``) going through it.

The JSON layout is the one runs have always written (same keys, values and order) plus
``format_version``. ``from_json`` is tolerant: a key a record predates is left at its
default (and, read back, not written out again), and a key this code does not know is kept
in ``extra`` and written back, so ``from_json(d).to_json() == d`` for any record."""
from __future__ import annotations

import json
import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

FORMAT_VERSION = 1
SPLIT_KEY = re.compile(r"^(val|test)(_[A-Za-z0-9]+)?$")  # val, test, val_warm, test_cold...

OMIT_NONE = {"omit_none": True}  # written only when set (the writer adds it conditionally)


def _default(f):
    return f.default_factory() if f.default_factory is not MISSING else f.default


class _Section:
    """to_json / from_json over the dataclass fields; unknown keys kept in ``extra``."""

    _sections: dict = {}  # field name -> nested _Section class
    _virtual: tuple = ("extra",)  # fields that are not a JSON key of their own

    def to_json(self) -> dict:
        out = {}
        absent = getattr(self, "_absent", frozenset())
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            if f.name in absent and (value is None or value == _default(f)):  # predates it
                continue
            out[f.name] = value.to_json() if isinstance(value, _Section) else value
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Optional[dict]):
        data = dict(data or {})
        known = {f.name for f in fields(cls)} - set(cls._virtual)
        kwargs = {}
        for name in known & set(data):
            value = data.pop(name)
            nested = cls._sections.get(name)
            # a section written as null reads as an empty one (readers need not check)
            kwargs[name] = nested.from_json(value) if nested and (
                isinstance(value, dict) or (value is None and name != "target")) else value
        obj = cls(**kwargs, extra=data)
        obj._absent = frozenset(known - set(kwargs))
        return obj


@dataclass
class Throughput(_Section):
    samples_per_s: Optional[float] = None
    data_wait_share: Optional[float] = None
    samples_per_s_per_rank: Optional[float] = field(default=None, metadata=OMIT_NONE)
    world_size: Optional[int] = field(default=None, metadata=OMIT_NONE)
    epoch_s: Optional[float] = None           # median; None when no epoch ended
    time_to_best_s: Optional[float] = None
    train_s: Optional[float] = None
    eval_s: Optional[float] = None
    wall_s: Optional[float] = None
    checkpoint_s: Optional[float] = None      # writing periodic checkpoints: in wall_s only
    checkpoints: Optional[int] = None         # periodic checkpoints written
    extra: dict = field(default_factory=dict)


@dataclass
class Target(_Section):
    metric: Optional[str] = None
    value: Optional[float] = None
    target_reached: bool = False
    time_to_target_s: Optional[float] = None
    train_s_to_target: Optional[float] = None
    eval_s_to_target: Optional[float] = None
    epochs_to_target: Optional[float] = None
    samples_to_target: Optional[int] = None
    step_to_target: Optional[int] = None
    clock: Optional[str] = None
    extra: dict = field(default_factory=dict)


@dataclass
class Memory(_Section):
    peak_rss_mb: Optional[float] = None
    peak_cuda_mb: Optional[float] = field(default=None, metadata=OMIT_NONE)
    extra: dict = field(default_factory=dict)


@dataclass
class Evaluation(_Section):
    exclude: Any = None
    heldout: Optional[str] = None
    per_user: Optional[str] = None
    extra: dict = field(default_factory=dict)


@dataclass
class RunInfo(_Section):
    model: Optional[str] = None
    impl: Optional[str] = None
    loader: Optional[str] = None
    batch_size: Optional[int] = None
    num_neg: Optional[int] = None
    precision: Optional[str] = None
    lr: Optional[float] = None
    sampler: Optional[str] = None
    optimizer: Optional[str] = None
    scheduler: Optional[str] = None
    step_threads: Optional[int] = None  # CPU threads of the training step (trainer.step_threads)
    extra: dict = field(default_factory=dict)


@dataclass
class RunRecord(_Section):
    """``scores``: {"val": {...}, "test_cold": {...}} written as top-level keys right after
    ``status``; ``stopped_at``: written as ``<status>_at`` (a run that did not complete)."""
    status: str = "completed"
    scores: dict = field(default_factory=dict)
    best_epoch: Optional[int] = None
    epochs_run: Optional[int] = None
    steps: Optional[int] = None
    samples: Optional[int] = None
    validations: Optional[int] = None
    stop_reason: Optional[str] = None
    target: Optional[Target] = field(default=None, metadata=OMIT_NONE)
    throughput: Throughput = field(default_factory=Throughput)
    memory: Memory = field(default_factory=Memory)
    data: dict = field(default_factory=dict)   # data.summary() (+ "meta"), free-form
    evaluation: Evaluation = field(default_factory=Evaluation)
    run: RunInfo = field(default_factory=RunInfo)
    device: Optional[str] = None
    torch_version: Optional[str] = None
    stopped_at: Optional[dict] = field(default=None, metadata=OMIT_NONE)
    error: Optional[str] = field(default=None, metadata=OMIT_NONE)
    format_version: Optional[int] = FORMAT_VERSION
    extra: dict = field(default_factory=dict)

    _virtual = ("extra", "scores", "stopped_at")
    _sections = {"target": Target, "throughput": Throughput, "memory": Memory,
                 "evaluation": Evaluation, "run": RunInfo}

    # ---- readers ------------------------------------------------------------------------
    def split(self, name: str) -> dict:
        """The metric dict of one split/list ("val", "test_warm"); {} when not evaluated."""
        return self.scores.get(name) or {}

    def score(self, name: str, metric: str) -> Optional[float]:
        return self.split(name).get(metric)

    @property
    def target_reached(self) -> bool:
        return bool(self.target and self.target.target_reached)

    # ---- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict:
        out = {}
        for key, value in super().to_json().items():
            if key == "scores":
                out.update(value)
            elif key == "stopped_at":
                out[f"{self.status}_at"] = value
            else:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, data: Optional[dict]) -> "RunRecord":
        data = dict(data or {})
        scores = {k: data.pop(k) for k in list(data)
                  if SPLIT_KEY.match(k) and isinstance(data[k], dict)}
        status = data.get("status", "completed")
        stopped = data.pop(f"{status}_at", None)
        record = super().from_json(data)
        record.scores = scores
        record.stopped_at = stopped
        if "format_version" not in data:  # written before the field existed
            record.format_version = None
        return record

    @classmethod
    def load(cls, path) -> "RunRecord":
        """A run folder's (or a file's) record; raises OSError / ValueError as json does."""
        path = Path(path)
        if path.is_dir():
            path = path / "metrics.json"
        return cls.from_json(json.loads(path.read_text()))
