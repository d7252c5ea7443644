"""DropoutNet (:mod:`graphrec.models.dropoutnet`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec import ModelSpec, RankingModel, common


@dataclass
class DropoutnetModel(RankingModel):
    name: str = "dropoutnet"
    hidden: int = 256
    dropout: float = 0.5


def build(m, data, impl):
    from ..dropoutnet import DropoutNet

    return DropoutNet(data.n_users, data.n_items, data.warm_mask, data.features,
                      hidden=m.hidden, dropout=m.dropout, temp_value=m.temp_value,
                      **common(m, impl))


SPEC = ModelSpec("dropoutnet", DropoutnetModel, build, features=True, ranges={
    "hidden": (lambda v: v > 0, "an integer > 0"),
    "dropout": (lambda v: 0.0 <= v <= 1.0, "a float in [0, 1]"),
})
