"""CLCRec (:mod:`graphrec.models.clcrec`)."""
from __future__ import annotations

from dataclasses import dataclass

from ..spec import ModelBase, ModelSpec, common


@dataclass
class ClcrecModel(ModelBase):
    name: str = "clcrec"
    lr: float = 1e-2
    reg_weight: float = 0.1
    init: str = "xavier_normal"
    temp_value: float = 2.0
    lr_lambda: float = 0.5
    num_sample: float = 0.5
    encoder_hidden: int = 256
    graph_layers: int = 0


def build(m, data, impl):
    from ..clcrec import CLCRec

    return CLCRec(
        data.n_users, data.n_items, data.warm_mask, data.features, temp_value=m.temp_value,
        lr_lambda=m.lr_lambda, num_sample=m.num_sample, encoder_hidden=m.encoder_hidden,
        graph_layers=m.graph_layers,
        train_pairs=(data.train_users(), data.train_indices) if m.graph_layers else None,
        **common(m, impl))


RANGES = {
    "num_sample": (lambda v: 0.0 <= v <= 1.0, "a float in [0, 1]"),
    "lr_lambda": (lambda v: 0.0 <= v <= 1.0, "a float in [0, 1]"),
    "encoder_hidden": (lambda v: v > 0, "an integer > 0"),
    "graph_layers": (lambda v: v >= 0, "an integer >= 0 (0 = no graph encoder)"),
}
# row_grads: the id table, gathered once a step (graph_layers=0 only: config checks it)
SPEC = ModelSpec("clcrec", ClcrecModel, build, features=True, row_grads=True, ranges=RANGES)
