"""Settings that would do nothing: said in one line, and not paid for."""
from __future__ import annotations

import logging

from omegaconf import OmegaConf

from ..config import FEATURE_MODELS

log = logging.getLogger(__name__)


def data_config(cfg):
    """``cfg.data``, without item features when the model reads none: a source lacking
    feature files would otherwise build random ones (and warn about cold items) for MF or
    LightGCN, which never look at them. ``data.features=required`` is kept as asked."""
    data = cfg.data
    if cfg.model.name in FEATURE_MODELS or data.get("features") != "synthetic":
        return data
    log.info("model %s reads no item features: none built (data.features=none)",
             cfg.model.name)
    data = OmegaConf.create(OmegaConf.to_container(data))
    data.features = "none"
    return data
