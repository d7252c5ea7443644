"""Models: one file each, ``reference`` and ``lean`` forms side by side, and one light spec
each in :mod:`.specs` (schema, builder, features, key ranges, impls) that :mod:`.registry`
collects (docs/models.md). Importing this package does not import torch: config reads the
specs at composition; a model's code loads when it is built or named."""
from __future__ import annotations

import importlib
import logging

from ..errors import ConfigError
from .registry import SPECS

log = logging.getLogger(__name__)

# Class name -> module, loaded on first use (``from graphrec.models import MF``).
_CLASSES = {"Recommender": "base", "CLCRec": "clcrec", "MF": "mf", "LightGCN": "lightgcn",
            "MMGCN": "mmgcn", "VBPR": "vbpr", "DropoutNet": "dropoutnet"}


def build_model(mcfg, data, impl: str):
    """The model ``mcfg.name`` names, in ``impl``; ``lean`` for a model without a lean form
    builds its reference form (``model.impl`` then says so)."""
    if mcfg.name not in SPECS:
        raise ConfigError(f"model.name={mcfg.name!r} is invalid: allowed {'|'.join(SPECS)}")
    spec = SPECS[mcfg.name]
    if impl not in spec.impls:
        log.warning("%s has no %s form: it runs (and records) reference", spec.name, impl)
        impl = "reference"
    return spec.build(mcfg, data, impl)


def __getattr__(name):
    if name in _CLASSES:
        return getattr(importlib.import_module(f".{_CLASSES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["build_model", "SPECS", *_CLASSES]
