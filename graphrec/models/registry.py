"""Every model's spec, found in :mod:`.specs` (one module each, no torch), and the tables
:mod:`graphrec.config` validates with."""
from __future__ import annotations

import importlib
import pkgutil
from typing import Dict

from . import specs
from .spec import COMMON_RANGES, ModelSpec, Ranges


def _find() -> Dict[str, ModelSpec]:
    found = {}
    for mod in sorted(m.name for m in pkgutil.iter_modules(specs.__path__)):
        spec = importlib.import_module(f"{specs.__name__}.{mod}").SPEC
        if spec.name != mod or spec.schema.name != mod:
            raise ValueError(f"models/specs/{mod}.py declares model {spec.name!r}: a spec's "
                             "module, name and schema name must agree")
        found[spec.name] = spec
    return found


def _ranges(found: Dict[str, ModelSpec]) -> Ranges:
    """One rule per key: two models sharing a key must share its rule."""
    ranges = dict(COMMON_RANGES)
    for spec in found.values():
        for key, rule in spec.ranges.items():
            if ranges.setdefault(key, rule) is not rule:
                raise ValueError(f"model key {key!r} has two ranges ({spec.name}'s and another)")
    return ranges


SPECS = _find()
MODEL_SCHEMAS = {name: spec.schema for name, spec in SPECS.items()}
MODEL_RANGES = _ranges(SPECS)
# Models that read item features (data.features must not be empty).
FEATURE_MODELS = {name for name, spec in SPECS.items() if spec.features}
