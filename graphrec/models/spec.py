"""What a model declares about itself: :class:`ModelSpec`, and the schema keys every model
shares. Light on purpose (no torch): :mod:`graphrec.config` reads the specs when Hydra
composes a config, so a spec's builder imports its model's code only when it is called."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Tuple

from omegaconf import MISSING

# key -> (check, what is allowed): checked when the chosen model has the key.
Ranges = Dict[str, Tuple[Callable[[Any], bool], str]]

# A model whose spec reads features, on data without any (config and the model both say it).
NO_FEATURES = ("model.name={model!r} needs item features, and this data has none (set "
               "data.features=synthetic or give feat_v/feat_a/feat_t files)")


@dataclass(frozen=True)
class ModelSpec:
    """One model, as config, validation and the trainer see it.

    ``build(model cfg, data, impl)`` returns the model (a :class:`~.base.Recommender`);
    ``features``: it reads item features (the data must have some); ``ranges``: its own keys'
    valid values (the shared keys' are :data:`COMMON_RANGES`); ``impls``: the forms it has
    (a ``lean`` request for a model without one runs, and is recorded as, ``reference``);
    ``row_grads``: its lean step can give its tables sparse gradients of the rows it
    gathers (:mod:`.rows`), which ``optimizer=lazy_adam`` needs."""

    name: str
    schema: type
    build: Callable[[Any, Any, str], Any]
    features: bool = False
    ranges: Ranges = field(default_factory=dict)
    impls: Tuple[str, ...] = ("reference", "lean")
    row_grads: bool = False


# One schema per model: shared keys on the base, each model's own keys on its class only, so
# `model=mf model.lr_lambda=0.3` fails at composition naming the key, as a wrong data key does.
@dataclass
class ModelBase:
    name: str = MISSING
    impl: str = "auto"
    dim: int = 64
    lr: float = 1e-3
    reg_weight: float = 1e-4
    init: str = "normal"


@dataclass
class RankingModel(ModelBase):
    """The models trained with BPR (one negative) or a sampled softmax at ``temp_value``."""
    lr: float = 5e-3
    temp_value: float = 0.2


COMMON_RANGES: Ranges = {
    "lr": (lambda v: v > 0, "a float > 0"),
    "dim": (lambda v: v > 0, "an integer > 0"),
    "reg_weight": (lambda v: v >= 0, "a float >= 0 (0 = no regulariser)"),
    "temp_value": (lambda v: v > 0, "a float > 0"),
}
LAYERS = (lambda v: v >= 0, "an integer >= 0")  # LightGCN's and MMGCN's n_layers


def common(m, impl: str) -> dict:
    """The constructor arguments every model takes from :class:`ModelBase`."""
    return dict(dim=m.dim, reg_weight=m.reg_weight, impl=impl, init=m.init)
