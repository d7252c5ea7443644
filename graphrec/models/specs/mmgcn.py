"""MMGCN (:mod:`graphrec.models.mmgcn`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec import LAYERS, ModelSpec, RankingModel, common


@dataclass
class MmgcnModel(RankingModel):
    name: str = "mmgcn"
    reg_weight: float = 1e-5
    init: str = "xavier_normal"
    dim_latent: int = 256
    n_layers: int = 2
    aggr: str = "mean"
    concat: bool = False


def build(m, data, impl):
    from ..mmgcn import MMGCN

    return MMGCN(
        data.n_users, data.n_items, data.features, data.train_users(), data.train_indices,
        dim_latent=m.dim_latent, n_layers=m.n_layers, aggr=m.aggr, concat=m.concat,
        temp_value=m.temp_value, **common(m, impl))


SPEC = ModelSpec("mmgcn", MmgcnModel, build, features=True, ranges={
    "n_layers": LAYERS,
    "dim_latent": (lambda v: v > 0, "an integer > 0"),
    "aggr": (lambda v: v in ("mean", "add"), "one of mean|add"),
})
