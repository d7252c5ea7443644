"""Models: one file each, ``reference`` and ``lean`` forms side by side. Each model's keys
are typed by its schema in :mod:`graphrec.config` (``MODEL_SCHEMAS``); ``BUILDERS`` maps the
same names to constructors, which read only the model config and the data."""
from __future__ import annotations

from .base import Recommender
from .clcrec import CLCRec
from .lightgcn import LightGCN
from .mf import MF
from .mmgcn import MMGCN
from .dropoutnet import DropoutNet
from .vbpr import VBPR


def _common(m, impl):
    return dict(dim=m.dim, reg_weight=m.reg_weight, impl=impl, init=m.init)


BUILDERS = {
    "clcrec": lambda m, data, impl: CLCRec(
        data.n_users, data.n_items, data.warm_mask, data.features, temp_value=m.temp_value,
        lr_lambda=m.lr_lambda, num_sample=m.num_sample, encoder_hidden=m.encoder_hidden,
        graph_layers=m.graph_layers,
        train_pairs=(data.train_users(), data.train_indices) if m.graph_layers else None,
        **_common(m, impl)),
    "mf": lambda m, data, impl: MF(data.n_users, data.n_items, temp_value=m.temp_value,
                                   **_common(m, impl)),
    "lightgcn": lambda m, data, impl: LightGCN(
        data.n_users, data.n_items, data.train_users(), data.train_indices,
        n_layers=m.n_layers, temp_value=m.temp_value, **_common(m, impl)),
    "mmgcn": lambda m, data, impl: MMGCN(
        data.n_users, data.n_items, data.features, data.train_users(), data.train_indices,
        dim_latent=m.dim_latent, n_layers=m.n_layers, aggr=m.aggr, concat=m.concat,
        temp_value=m.temp_value, **_common(m, impl)),
    "vbpr": lambda m, data, impl: VBPR(
        data.n_users, data.n_items, data.warm_mask, data.features, temp_value=m.temp_value,
        item_bias=m.item_bias, **_common(m, impl)),
    "dropoutnet": lambda m, data, impl: DropoutNet(
        data.n_users, data.n_items, data.warm_mask, data.features, hidden=m.hidden,
        dropout=m.dropout, temp_value=m.temp_value, **_common(m, impl)),
}


def build_model(mcfg, data, impl: str) -> Recommender:
    if mcfg.name not in BUILDERS:
        raise ValueError(f"model.name={mcfg.name!r} is invalid: allowed {'|'.join(BUILDERS)}")
    return BUILDERS[mcfg.name](mcfg, data, impl)


__all__ = ["build_model", "BUILDERS", "Recommender", "CLCRec", "MF", "LightGCN", "MMGCN", "VBPR",
           "DropoutNet"]
