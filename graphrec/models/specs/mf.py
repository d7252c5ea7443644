"""Matrix factorisation (:mod:`graphrec.models.mf`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec import ModelSpec, RankingModel, common


@dataclass
class MfModel(RankingModel):
    name: str = "mf"


def build(m, data, impl):
    from ..mf import MF

    return MF(data.n_users, data.n_items, temp_value=m.temp_value, **common(m, impl))


SPEC = ModelSpec("mf", MfModel, build, row_grads=True)
