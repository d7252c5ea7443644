"""Models: one file each, ``reference`` and ``lean`` forms side by side."""
from __future__ import annotations

from .base import Recommender
from .clcrec import CLCRec
from .lightgcn import LightGCN
from .mf import MF


def build_model(mcfg, data, impl: str) -> Recommender:
    if mcfg.name == "clcrec":
        return CLCRec(data.n_users, data.n_items, data.warm_mask, data.features, dim=mcfg.dim,
                      reg_weight=mcfg.reg_weight, temp_value=mcfg.temp_value,
                      lr_lambda=mcfg.lr_lambda, num_sample=mcfg.num_sample,
                      encoder_hidden=mcfg.encoder_hidden, impl=impl)
    if mcfg.name == "mf":
        return MF(data.n_users, data.n_items, dim=mcfg.dim, reg_weight=mcfg.reg_weight,
                  temp_value=mcfg.temp_value, impl=impl)
    if mcfg.name == "lightgcn":
        return LightGCN(data.n_users, data.n_items, data.train_users(), data.train_indices,
                        dim=mcfg.dim, n_layers=mcfg.n_layers, reg_weight=mcfg.reg_weight,
                        temp_value=mcfg.temp_value, impl=impl)
    raise ValueError(f"model.name={mcfg.name!r} is invalid: allowed clcrec|mf|lightgcn")


__all__ = ["build_model", "Recommender", "CLCRec", "MF", "LightGCN"]
