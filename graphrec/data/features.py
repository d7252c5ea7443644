"""What ``data.features`` does when a source has, or lacks, item features.

* ``synthetic`` (default): the source's features when it has any; otherwise seeded Gaussian
  noise of ``data.feat_dims``. The noise lets a feature model (CLCRec) run, but it carries no
  information about the items, so cold-item scores are at chance level; the run says so in
  its log and in ``metrics.json`` (``data.meta.features_source: synthetic``).
* ``required``: the source's features, or a :class:`DataError`.
* ``none``: no features (MF and LightGCN do not use them); feature files are not even read.
"""
from __future__ import annotations

import logging
from typing import Dict, Sequence

import numpy as np
import torch

from ..errors import ConfigError, DataError
from .interactions import Interactions
from .synthetic import MODALITIES

log = logging.getLogger(__name__)

MODES = ("synthetic", "required", "none")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"data.features={mode!r} is invalid: allowed {'|'.join(MODES)}")


def random_features(n_items: int, dims: Sequence[int], seed: int) -> Dict[str, np.ndarray]:
    """One float32 ``[n_items, dim]`` array of N(0, 1) noise per modality with dim > 0."""
    gen = torch.Generator().manual_seed(int(seed))  # torch: ~5x numpy's normal draws
    return {name: torch.randn(n_items, dim, generator=gen).numpy()
            for name, dim in zip(MODALITIES, dims) if dim > 0}


def apply(data: Interactions, mode: str, found: Dict[str, np.ndarray], source: str,
          dims: Sequence[int], seed: int, where: str) -> None:
    """Set ``data.features`` and ``data.meta['features_source']`` (``source`` names where
    ``found`` came from: ``file`` or ``metadata``)."""
    if mode == "none":
        data.features, source = {}, "none"
    elif found:
        data.features = found
    elif mode == "required":
        raise DataError(f"{where}: no item features found and data.features=required "
                        "(use data.features=synthetic or none)")
    else:
        data.features, source = random_features(data.n_items, dims, seed), "synthetic"
        log.warning("%s: no item features; using random ones of dims %s (data.features="
                    "synthetic): they carry no item information, so cold-item scores are "
                    "chance level", where, list(dims))
    data.meta["features_source"] = source
    data.meta["features_dims"] = {k: int(v.shape[1]) for k, v in data.features.items()}
