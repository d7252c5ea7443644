"""VBPR (:mod:`graphrec.models.vbpr`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec import ModelSpec, RankingModel, common


@dataclass
class VbprModel(RankingModel):
    name: str = "vbpr"
    item_bias: bool = True


def build(m, data, impl):
    from ..vbpr import VBPR

    return VBPR(data.n_users, data.n_items, data.warm_mask, data.features,
                temp_value=m.temp_value, item_bias=m.item_bias, **common(m, impl))


SPEC = ModelSpec("vbpr", VbprModel, build, features=True)
