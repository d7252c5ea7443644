"""Data sources. Every source returns an :class:`Interactions`; ``load_data`` picks one by
``cfg.kind`` (the ``data`` config group)."""
from __future__ import annotations

from ..errors import ConfigError, DataError
from .interactions import Interactions, csr_from_pairs


def load_data(cfg) -> Interactions:
    kind = cfg.kind
    if kind == "synthetic":
        from .synthetic import generate

        return generate(cfg)
    if kind == "clcrec":
        from . import clcrec

        return clcrec.load(cfg)
    if kind == "movielens":
        from . import movielens

        return movielens.load(cfg)
    raise ConfigError(f"data.kind={kind!r} is invalid: allowed synthetic|clcrec|movielens "
                      "(pick a source with data=synthetic|clcrec|movielens)")


__all__ = ["DataError", "Interactions", "csr_from_pairs", "load_data"]
