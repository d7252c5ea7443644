"""LightGCN (:mod:`graphrec.models.lightgcn`): MF's keys and the number of propagations."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec import LAYERS, ModelSpec, common
from .mf import MfModel


@dataclass
class LightgcnModel(MfModel):
    name: str = "lightgcn"
    n_layers: int = 3


def build(m, data, impl):
    from ..lightgcn import LightGCN

    return LightGCN(data.n_users, data.n_items, data.train_users(), data.train_indices,
                    n_layers=m.n_layers, temp_value=m.temp_value, **common(m, impl))


SPEC = ModelSpec("lightgcn", LightgcnModel, build, ranges={"n_layers": LAYERS})
