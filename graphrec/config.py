"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Each YAML option under ``conf/<group>/`` starts its defaults list with its schema
(``/schema/<group>[/<name>]@_here_``, see :func:`register_configs`) so a wrong key or a wrong
type fails when Hydra composes the config, before any work starts.
Cross-field rules (``amp_fp16`` needs CUDA, ``num_neg`` < candidates, ...) live in
:func:`validate`, which ``train(cfg)`` calls before it loads anything heavy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, List, Optional, Union

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from .errors import ConfigError
# One schema per model, in its light spec (graphrec/models/specs/NAME.py) with its builder,
# key ranges and whether it reads item features; no torch is imported.
from .models.registry import FEATURE_MODELS, MODEL_RANGES, MODEL_SCHEMAS, SPECS  # noqa: F401
from .models.spec import NO_FEATURES


# ----------------------------------------------------------------------------- data
@dataclass
class SyntheticData:
    kind: str = "synthetic"
    name: str = "synthetic"
    seed: int = 0
    n_users: int = 1500
    n_items: int = 800
    cold_share: float = 0.15
    mean_degree: float = 25.0
    degree_sigma: float = 0.8
    min_degree: int = 5
    max_degree: int = 300
    latent_dim: int = 16
    popularity_exponent: float = 0.4
    affinity: float = 4.0
    split: List[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    feat_dims: List[int] = field(default_factory=lambda: [64, 32, 32])
    feat_noise: float = 0.5
    cache_dir: str = ""  # generated arrays kept here, keyed by the keys above ('' = off)


@dataclass
class ClcrecData:
    kind: str = "clcrec"
    name: str = "clcrec"
    path: str = MISSING
    features: str = "synthetic"
    feat_dims: List[int] = field(default_factory=lambda: [64, 32, 32])
    seed: int = 0
    exclude_heldout: bool = False
    cache_dir: str = ".cache/graphrec"


@dataclass
class MovielensData:
    kind: str = "movielens"
    name: str = "movielens"
    path: str = MISSING
    min_rating: float = 0.0
    kcore: int = 0
    split: str = "random"
    ratios: List[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    seed: int = 0
    cold_share: Optional[float] = None  # null: the split's default (cold_items 0.2, else 0)
    features: str = "synthetic"
    title_dim: int = 128
    feat_dims: List[int] = field(default_factory=lambda: [64, 32, 32])
    cache_dir: str = ".cache/graphrec"


# ----------------------------------------------------------------------------- the rest
@dataclass
class LoaderConfig:
    kind: str = "baseline"
    num_workers: Union[int, str] = 1
    pin_memory: bool = False
    persistent_workers: bool = False
    prefetch_factor: Optional[int] = None
    bitmap_max_mb: int = 256


@dataclass
class BatchConfig:
    size: int = 256
    lr_scaling: str = "none"


@dataclass
class PrecisionConfig:
    mode: str = "fp32"


# One schema per family of strategies (conf/sampling/*.yaml): a key that means nothing to a
# strategy is not in its schema, so `sampling.strategy=shared sampling.logq=true` or
# `sampling=in_batch sampling.num_neg=8` fails at composition, naming the key.
@dataclass
class SamplingConfig:
    """Uniform draws: ``per_sample`` (each sample its own num_neg) or ``shared`` (num_neg
    for the whole batch)."""
    strategy: str = "per_sample"
    num_neg: int = 512
    candidates: str = "warm"
    exclude_train: bool = True
    replacement: bool = True


@dataclass
class InBatchSampling:
    """The batch's own positives as negatives: no draws, so no num_neg nor candidates."""
    strategy: str = "in_batch"
    exclude_train: bool = True
    logq: bool = True


@dataclass
class MixedSampling(SamplingConfig):
    """In-batch columns plus num_neg shared uniform ones."""
    strategy: str = "mixed"
    logq: bool = True


SAMPLING_SCHEMAS = {"uniform": SamplingConfig, "in_batch": InBatchSampling,
                    "mixed": MixedSampling}
# strategy -> the schema (conf/sampling option) that has its keys
STRATEGY_SCHEMA = {"per_sample": "uniform", "shared": "uniform", "in_batch": "in_batch",
                   "mixed": "mixed"}


# ----------------------------------------------------------------------------- optimizer
# One schema per optimizer and per schedule, as for models: `optimizer=sgd optimizer.betas=...`
# fails at composition. The learning rate is not here: it is model.lr, scaled by batch.
@dataclass
class OptimizerBase:
    name: str = MISSING
    weight_decay: float = 0.0


@dataclass
class AdamOptimizer(OptimizerBase):
    name: str = "adam"
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8


@dataclass
class AdamwOptimizer(AdamOptimizer):
    name: str = "adamw"
    weight_decay: float = 0.01


@dataclass
class SgdOptimizer(OptimizerBase):
    name: str = "sgd"
    momentum: float = 0.9
    nesterov: bool = False


@dataclass
class AdagradOptimizer(OptimizerBase):
    name: str = "adagrad"
    eps: float = 1e-10
    lr_decay: float = 0.0
    initial_accumulator_value: float = 0.0


@dataclass
class LazyAdamOptimizer(AdamOptimizer):
    name: str = "lazy_adam"


OPTIMIZER_SCHEMAS = {"adam": AdamOptimizer, "adamw": AdamwOptimizer, "sgd": SgdOptimizer,
                     "adagrad": AdagradOptimizer, "lazy_adam": LazyAdamOptimizer}


@dataclass
class ConstantScheduler:
    name: str = "constant"


@dataclass
class WarmupCosineScheduler:
    name: str = "warmup_cosine"
    warmup_steps: int = 100
    total_steps: int = 0  # 0: the run's length (trainer.max_steps, else epochs x steps)
    min_lr_ratio: float = 0.0


@dataclass
class WarmupLinearScheduler(WarmupCosineScheduler):
    name: str = "warmup_linear"


SCHEDULER_SCHEMAS = {"constant": ConstantScheduler, "warmup_cosine": WarmupCosineScheduler,
                     "warmup_linear": WarmupLinearScheduler}


@dataclass
class TargetConfig:
    metric: str = "recall@20"
    value: Optional[float] = None


@dataclass
class TrainerConfig:
    epochs: int = 10
    max_steps: int = 0
    eval_every: int = 1
    eval_every_steps: int = 0
    eval_every_s: float = 0.0
    target: TargetConfig = field(default_factory=TargetConfig)
    stop_at_target: bool = False
    time_budget_s: float = 0.0
    monitor: str = "recall@20"
    patience: int = 5
    ks: List[int] = field(default_factory=lambda: [10, 20])
    eval_chunk_users: int = 2048
    seed: int = 0
    device: str = "auto"
    log_every: int = 20
    progress: bool = True
    progress_every_s: float = 30.0
    checkpoint_every_s: float = 60.0
    checkpoint_every_steps: int = 0
    compile: bool = False
    cuda_graphs: bool = False
    threads: int = 0
    step_threads: Union[int, str] = "auto"
    fail_after_steps: int = 0
    fail_kind: str = "error"
    resume: Optional[str] = None


# ----------------------------------------------------------------------------- loggers
# The logger group is a list selection (`logger=[csv,tensorboard]`): every option's file
# holds one top-level key, its own name, so the chosen ones sit side by side under `logger`.
# They are typed here, through Config.logger, rather than by a schema default in each
# file: a per-option schema merged at `logger` would reset the other options' keys.
@dataclass
class CsvLoggerConfig:
    """epochs.csv; no keys (compare reads the file by that name)."""


@dataclass
class TensorboardLoggerConfig:
    dir: str = "tb"
    flush_secs: int = 10
    steps: bool = True
    hparams: bool = True


@dataclass
class LoggerConfig:
    csv: Optional[CsvLoggerConfig] = None
    tensorboard: Optional[TensorboardLoggerConfig] = None


@dataclass
class EvaluationConfig:
    exclude: str = "train_val"


@dataclass
class SweepConfig:
    objective: str = "both"
    label: str = ""


@dataclass
class Config:
    data: Any = MISSING
    loader: LoaderConfig = MISSING
    batch: BatchConfig = MISSING
    precision: PrecisionConfig = MISSING
    sampling: Any = MISSING  # one of SAMPLING_SCHEMAS, as its conf/sampling option says
    model: Any = MISSING
    optimizer: Any = MISSING
    scheduler: Any = MISSING
    trainer: TrainerConfig = MISSING
    evaluation: EvaluationConfig = MISSING
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)


def register_configs() -> None:
    """Schemas live in the ``schema`` group (``schema/model/mf``, ``schema/loader``), which no
    option list shows: ``model=mf_schema`` is not an option, and each YAML option extends
    its schema with ``/schema/<group>[/<name>]@_here_`` first in its defaults list."""
    cs = ConfigStore.instance()
    cs.store(group="schema", name="config", node=Config)
    for name, node in [("synthetic", SyntheticData), ("clcrec", ClcrecData),
                       ("movielens", MovielensData)]:
        cs.store(group="schema/data", name=name, node=node)
    for group, schemas in [("model", MODEL_SCHEMAS), ("optimizer", OPTIMIZER_SCHEMAS),
                           ("scheduler", SCHEDULER_SCHEMAS), ("sampling", SAMPLING_SCHEMAS)]:
        for name, node in schemas.items():
            cs.store(group=f"schema/{group}", name=name, node=node)
    for group, node in [("loader", LoaderConfig), ("batch", BatchConfig),
                        ("precision", PrecisionConfig),
                        ("trainer", TrainerConfig),
                        ("evaluation", EvaluationConfig)]:
        cs.store(group="schema", name=group, node=node)


register_configs()


# ----------------------------------------------------------------------------- validation
CHOICES = {
    "loader.kind": ("baseline", "workers", "fast"),
    "batch.lr_scaling": ("none", "sqrt", "linear"),
    "precision.mode": ("fp32", "tf32", "amp", "amp_fp16"),
    "model.name": tuple(MODEL_SCHEMAS),
    "model.impl": ("auto", "reference", "lean"),
    "model.init": ("normal", "xavier_normal", "xavier_uniform"),
    "trainer.device": ("auto", "cpu", "cuda"),
    "sweep.objective": ("both", "accuracy", "throughput", "time_to_target",
                        "accuracy_at_budget"),
    "trainer.fail_kind": ("error", "nan", "oom", "interrupt", "kill"),
    "evaluation.exclude": ("train_val", "train"),
}


def _get(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def _require(ok: bool, key: str, value, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: allowed {allowed}")


def unwritable_reason(path) -> Optional[str]:
    """Why ``path`` cannot hold output (a short reason), or None when it can: creates the
    folder and a probe file, since permission bits alone mislead (root, read-only mounts).
    The probe's name carries the pid: DDP ranks probe one folder at once, and a shared name
    let one rank delete the other's probe before that rank did (a spurious ENOENT)."""
    from pathlib import Path

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".graphrec-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def require_writable(path, key: str) -> None:
    reason = unwritable_reason(path)
    if reason is not None:
        raise ConfigError(f"{key}={str(path)!r} is invalid: {reason}; allowed: a folder you "
                          "can write to")


def resolve_num_workers(value: Union[int, str]) -> int:
    """``auto`` is the guide's rule, min(cores, 8)."""
    if value == "auto":
        return min(os.cpu_count() or 1, 8)
    return int(value)


def resolve_device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_impl(cfg) -> str:
    """``auto`` pairs the lean step with the fast loader and keeps the seed's formulation
    with the seed's loader, so ``loader=baseline`` alone reproduces the seed run."""
    impl = cfg.model.impl
    if impl == "auto":
        return "lean" if cfg.loader.kind == "fast" else "reference"
    return impl


# What a mandatory key (``???`` in its YAML) wants, per data source: the example its error gives.
EXAMPLES = {
    ("data.path", "clcrec"): "the folder of CLCRec's .npy files, e.g. data.path=Data/movielens",
    ("data.path", "movielens"): ("the ratings file or its folder, e.g. data.path=dataset/ml-100k "
                                 "(python -m graphrec.data.download ml-100k fetches one)"),
}


def require_values(cfg, prefix: str = "") -> None:
    """Raise one ConfigError naming every mandatory key (``???``) left unset, each with an
    example, or an interpolation that does not resolve (``${oc.env:UNSET}``); ``prefix``
    names where ``cfg`` sits (``data.`` for a data node alone). Hydra's own node is left
    out: its ``???`` keys are filled when a job runs."""
    keys = [k for k in cfg if k != "hydra"]
    try:
        missing = [prefix + k for k in keys if OmegaConf.is_missing(cfg, k)]
        nodes = [cfg[k] for k in keys if prefix + k not in missing]  # resolves interpolations
        for node in filter(OmegaConf.is_config, nodes):
            missing += [prefix + k for k in OmegaConf.missing_keys(node)]  # full keys
        if not missing:
            for node in filter(OmegaConf.is_config, nodes):
                OmegaConf.to_container(node, resolve=True)
    except InterpolationResolutionError as exc:
        raise ConfigError(f"{prefix}{exc.full_key} does not resolve: {str(exc).splitlines()[0]} "
                          "(fix the ${...} interpolation or give the value itself)") from exc
    if not missing:
        return
    kind = OmegaConf.select(cfg, "kind" if prefix == "data." else "data.kind", default=None)
    lines = []
    for key in sorted(missing):
        source = f" (data={kind})" if kind and key.startswith("data.") else ""
        wants = EXAMPLES.get((key, kind), f"set it, e.g. {key}=VALUE")
        lines.append(f"{key} is required{source}: {wants}")
    raise ConfigError("; ".join(lines))


def validate(cfg) -> None:
    """Check every rule that composition cannot; raise ConfigError naming key, value, range."""
    import torch

    require_values(cfg)
    for key, allowed in CHOICES.items():
        value = _get(cfg, key)
        _require(value in allowed, key, value, "one of " + "|".join(allowed))
    nw = cfg.loader.num_workers
    _require(nw == "auto" or (isinstance(nw, int) and nw >= 0), "loader.num_workers", nw,
             "an integer >= 0 or 'auto'")
    st = cfg.trainer.step_threads
    _require(st == "auto" or (isinstance(st, int) and st >= 0), "trainer.step_threads", st,
             "an integer >= 0 (0 = trainer.threads) or 'auto'")
    pf = cfg.loader.prefetch_factor
    _require(pf is None or pf > 0, "loader.prefetch_factor", pf, "null or an integer > 0")
    _require(cfg.batch.size > 0, "batch.size", cfg.batch.size, "an integer > 0")
    _validate_sampling(cfg)
    _validate_model(cfg.model)
    _validate_optim(cfg)
    _require(cfg.trainer.epochs > 0, "trainer.epochs", cfg.trainer.epochs, "an integer > 0")
    _require(cfg.trainer.max_steps >= 0, "trainer.max_steps", cfg.trainer.max_steps,
             "an integer >= 0 (0 = no limit)")
    _require(cfg.trainer.patience >= 0, "trainer.patience", cfg.trainer.patience,
             "an integer >= 0 (0 = no early stopping)")
    _require(cfg.trainer.eval_every >= 0, "trainer.eval_every", cfg.trainer.eval_every,
             "an integer >= 0 (0 = evaluate only at the end)")
    _require(cfg.trainer.log_every > 0, "trainer.log_every", cfg.trainer.log_every,
             "an integer > 0")
    ks = list(cfg.trainer.ks)
    _require(len(ks) > 0 and all(k > 0 for k in ks), "trainer.ks", ks,
             "a non-empty list of integers > 0")
    for key in ("trainer.monitor", "trainer.target.metric"):
        metric, _, k = _get(cfg, key).partition("@")
        _require(metric in ("recall", "ndcg", "precision", "hit") and k.isdigit()
                 and int(k) in ks, key, _get(cfg, key),
                 f"metric@K with metric in recall|ndcg|precision|hit and K in {ks}")
    _validate_clock(cfg)
    _validate_loggers(cfg)

    device = cfg.trainer.device
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device='cuda' is invalid: no CUDA GPU is visible "
                          "(allowed here: auto|cpu)")
    on_cuda = resolve_device(device).type == "cuda"
    if cfg.precision.mode == "amp_fp16" and not on_cuda:
        raise ConfigError("precision.mode='amp_fp16' is invalid on CPU: fp16 autocast with "
                          "GradScaler needs CUDA (allowed on CPU: fp32|tf32|amp)")
    if cfg.trainer.compile and not on_cuda:
        raise ConfigError("trainer.compile=true is invalid on CPU: it is a CUDA-only option "
                          "here (allowed on CPU: false)")
    if cfg.trainer.cuda_graphs and not (on_cuda and cfg.trainer.compile):
        raise ConfigError("trainer.cuda_graphs=true is invalid here: CUDA-graph capture needs "
                          "a CUDA device and trainer.compile=true (allowed: false)")


# The conf/sampling option that has each strategy's keys, for the error that names it.
STRATEGY_OPTION = {"per_sample": "neg512", "shared": "shared512", "in_batch": "in_batch",
                   "mixed": "mixed"}


def _validate_sampling(cfg) -> None:
    """``sampling.strategy`` against its option's keys and the loader; the ranges of the keys
    the option has. A run recorded before strategies existed drew per sample."""
    s = cfg.sampling
    how = OmegaConf.select(cfg, "sampling.strategy", default="per_sample")
    _require(how in STRATEGY_SCHEMA, "sampling.strategy", how,
             "one of " + "|".join(STRATEGY_SCHEMA))
    import dataclasses

    want = SAMPLING_SCHEMAS[STRATEGY_SCHEMA[how]]
    typ = OmegaConf.get_type(s)
    if typ in SAMPLING_SCHEMAS.values() and typ is not want:  # the option's schema
        here = "|".join(k for k, v in STRATEGY_SCHEMA.items() if SAMPLING_SCHEMAS[v] is typ)
        raise ConfigError(f"sampling.strategy={how!r} is invalid with this sampling option "
                          f"(allowed here: {here}): {how} reads other keys, pick it with "
                          f"sampling={STRATEGY_OPTION[how]}")
    keys = {f.name for f in dataclasses.fields(want)}
    extra = [k for k in s if k not in keys]  # `+sampling.logq=...`, or a hand-made record
    if extra:
        raise ConfigError(f"sampling.{extra[0]} is invalid with sampling.strategy={how!r}: it "
                          f"means nothing there (allowed keys: {'|'.join(sorted(keys))})")
    if how != "per_sample" and cfg.loader.kind != "fast":
        raise ConfigError(f"sampling.strategy={how!r} is invalid with loader={cfg.loader.kind}:"
                          " the seed's per-sample loader draws each sample's own negatives "
                          "(allowed: per_sample; shared|in_batch|mixed need loader=fast)")
    if "num_neg" in s:
        _require(s.num_neg > 0, "sampling.num_neg", s.num_neg, "an integer > 0")
    if "candidates" in s:
        _require(s.candidates in ("warm", "all"), "sampling.candidates", s.candidates,
                 "one of warm|all")


def _validate_model(mcfg) -> None:
    """The ranges of model keys (each spec's), checked when the chosen model has the key."""
    for key, (ok, allowed) in MODEL_RANGES.items():
        if key in mcfg:
            _require(ok(mcfg[key]), f"model.{key}", mcfg[key], allowed)


# Ranges of optimizer and scheduler keys, checked when the chosen option has the key.
OPTIM_RANGES = {
    "optimizer.weight_decay": (lambda v: v >= 0, "a float >= 0 (0 = no decay)"),
    "optimizer.betas": (lambda v: len(v) == 2 and all(0 <= b < 1 for b in v),
                        "two floats in [0, 1)"),
    "optimizer.eps": (lambda v: v > 0, "a float > 0"),
    "optimizer.momentum": (lambda v: v >= 0, "a float >= 0"),
    "optimizer.lr_decay": (lambda v: v >= 0, "a float >= 0"),
    "optimizer.initial_accumulator_value": (lambda v: v >= 0, "a float >= 0"),
    "scheduler.warmup_steps": (lambda v: v >= 0, "an integer >= 0 (0 = no warm-up)"),
    "scheduler.total_steps": (lambda v: v >= 0, "an integer >= 0 (0 = the run's length)"),
    "scheduler.min_lr_ratio": (lambda v: 0.0 <= v <= 1.0, "a float in [0, 1]"),
}


def _validate_optim(cfg) -> None:
    """Absent groups (a run recorded before them) train as adam + constant."""
    for group, schemas in (("optimizer", OPTIMIZER_SCHEMAS), ("scheduler", SCHEDULER_SCHEMAS)):
        name = OmegaConf.select(cfg, f"{group}.name")
        _require(name is None or name in schemas, f"{group}.name", name,
                 "one of " + "|".join(schemas))
    for key, (ok, allowed) in OPTIM_RANGES.items():
        value = OmegaConf.select(cfg, key)
        if value is not None:
            _require(ok(list(value) if key.endswith("betas") else value), key, value, allowed)
    if OmegaConf.select(cfg, "optimizer.name") == "lazy_adam":
        _validate_lazy(cfg)
    if OmegaConf.select(cfg, "optimizer.nesterov"):
        _require(cfg.optimizer.momentum > 0, "optimizer.nesterov", True,
                 "false while optimizer.momentum is 0 (Nesterov needs momentum)")
    warmup, total = (OmegaConf.select(cfg, f"scheduler.{k}") for k in ("warmup_steps",
                                                                          "total_steps"))
    if total:
        _require(warmup < total, "scheduler.warmup_steps", warmup,
                 f"an integer below scheduler.total_steps={total}")


def _validate_lazy(cfg) -> None:
    """lazy_adam updates the rows of sparse gradients: only lean steps of models that gather
    their tables row by row give them (elsewhere it would silently be Adam)."""
    spec = SPECS.get(cfg.model.name)
    rows = [name for name, s in SPECS.items() if s.row_grads]
    if spec is None or not spec.row_grads:
        raise ConfigError(f"optimizer=lazy_adam is invalid with model={cfg.model.name}: its "
                          "step has no row-gradient form (its tables' gradients are dense, so "
                          f"every row would move each step) (allowed models: {'|'.join(rows)}; "
                          "or optimizer=adam)")
    if OmegaConf.select(cfg, "model.graph_layers"):
        raise ConfigError(f"optimizer=lazy_adam is invalid with model.graph_layers="
                          f"{cfg.model.graph_layers}: the propagated id table's gradient is "
                          "dense (allowed: model.graph_layers=0; or optimizer=adam)")
    if resolve_impl(cfg) != "lean":
        raise ConfigError("optimizer=lazy_adam is invalid with the reference step "
                          f"(model.impl={cfg.model.impl}, loader={cfg.loader.kind}): only the "
                          "lean step gives row gradients (allowed: model.impl=lean or auto "
                          "with loader=fast)")


def _validate_clock(cfg) -> None:
    """Evaluation cadence, quality target and time budget, and the sweep objectives that
    need them."""
    t = cfg.trainer
    _require(t.eval_every_steps >= 0, "trainer.eval_every_steps", t.eval_every_steps,
             "an integer >= 0 (0 = off)")
    _require(t.eval_every_s >= 0, "trainer.eval_every_s", t.eval_every_s,
             "seconds >= 0 (0 = off)")
    _require(t.time_budget_s >= 0, "trainer.time_budget_s", t.time_budget_s,
             "seconds >= 0 (0 = no budget)")
    _require(t.checkpoint_every_s >= 0, "trainer.checkpoint_every_s", t.checkpoint_every_s,
             "seconds >= 0 (0 = off)")
    _require(t.checkpoint_every_steps >= 0, "trainer.checkpoint_every_steps",
             t.checkpoint_every_steps, "an integer >= 0 (0 = off)")
    _require(t.progress_every_s > 0, "trainer.progress_every_s", t.progress_every_s,
             "seconds > 0")
    target = t.target.value
    _require(target is None or target > 0, "trainer.target.value", target,
             "null (no target) or a metric value > 0")
    _require(not t.stop_at_target or target is not None, "trainer.stop_at_target",
             t.stop_at_target, "false while trainer.target.value is null")
    objective = cfg.sweep.objective
    _require(objective != "time_to_target" or target is not None, "sweep.objective", objective,
             "time_to_target only with trainer.target.value set (e.g. "
             "trainer.target.value=0.2)")
    _require(objective != "accuracy_at_budget" or t.time_budget_s > 0, "sweep.objective",
             objective, "accuracy_at_budget only with trainer.time_budget_s > 0")


def _validate_loggers(cfg) -> None:
    import importlib.util

    tb = cfg.logger.tensorboard if "logger" in cfg else None  # absent: a run recorded before
    if tb is None:
        return
    _require(tb.flush_secs > 0, "logger.tensorboard.flush_secs", tb.flush_secs,
             "an integer > 0 (seconds)")
    _require(bool(tb.dir) and not os.path.isabs(tb.dir) and ".." not in tb.dir.split("/"),
             "logger.tensorboard.dir", tb.dir, "a folder name inside the run folder")
    if importlib.util.find_spec("tensorboard") is None:  # before any work, not at the 1st step
        raise ConfigError("logger=tensorboard needs the tensorboard package: "
                          "pip install -e \".[tensorboard]\"")


def validate_against_data(cfg, data) -> None:
    """Rules that need the data's sizes (num_neg below the number of candidates)."""
    if "num_neg" in cfg.sampling:  # in_batch draws nothing
        _sampling_against_data(cfg, data)
    if cfg.model.name in FEATURE_MODELS and not data.features:
        raise ConfigError(NO_FEATURES.format(model=cfg.model.name))
    _validation_against_data(cfg.trainer, data)


def _validation_against_data(t, data) -> None:
    """Validations during training rank each user's val items: data without any (a split
    with no val part) fails here, naming the keys, not at the first epoch's end."""
    asked = [f"{k}={t[k]}" for k in ("eval_every", "eval_every_steps", "eval_every_s",
                                     "time_budget_s") if t[k]]
    if asked and not len(data.val_indices):
        raise ConfigError(f"trainer.{', trainer.'.join(asked)} is invalid with data "
                          f"{data.name}: it has no validation pairs to rank; allowed: "
                          "trainer.eval_every=0 trainer.eval_every_steps=0 "
                          "trainer.eval_every_s=0 trainer.time_budget_s=0 (no validation while "
                          "training; the final evaluation still runs), or data with a val "
                          "split")


def _sampling_against_data(cfg, data) -> None:
    n_cand = data.n_warm if cfg.sampling.candidates == "warm" else data.n_items
    if OmegaConf.select(cfg, "sampling.strategy", default="per_sample") != "per_sample":
        # shared draws: K for the whole batch, hits masked per sample, so no user's share
        # of the candidates bounds K
        _require(cfg.sampling.num_neg < n_cand, "sampling.num_neg", cfg.sampling.num_neg,
                 f"1..{n_cand - 1} (this data has {n_cand} {cfg.sampling.candidates} "
                 "candidate items)")
        return
    if cfg.sampling.exclude_train:
        among = data.warm_mask if cfg.sampling.candidates == "warm" else None
        n_cand_min = n_cand - data.max_excluded_degree(among)
    else:
        n_cand_min = n_cand
    _require(cfg.sampling.num_neg < n_cand, "sampling.num_neg", cfg.sampling.num_neg,
             f"1..{n_cand - 1} (this data has {n_cand} {cfg.sampling.candidates} candidate items)")
    # The seed's Dataset always draws without replacement (random.sample), whatever
    # sampling.replacement says: it is kept as the seed wrote it.
    if not cfg.sampling.replacement or cfg.loader.kind != "fast":
        _require(cfg.sampling.num_neg <= n_cand_min, "sampling.num_neg", cfg.sampling.num_neg,
                 f"1..{n_cand_min} without replacement (loader={cfg.loader.kind}, "
                 f"replacement={cfg.sampling.replacement}): the busiest user leaves only "
                 f"{n_cand_min} candidates")
    if n_cand_min <= 0:
        raise ConfigError(f"sampling.candidates={cfg.sampling.candidates!r} is invalid for this "
                          "data: some user has interacted with every candidate item")
