"""Item encoders: a feature model's weights that score an item it never saw from its features
alone, exactly as the model scores its own cold items (``Recommender.item_encoder()``).

An encoder is rebuilt from :meth:`ItemEncoder.config` (plain JSON) and its ``state_dict`` (plain
tensors), so an exported bundle needs neither the model class nor the training data. Input:
``{modality: float [n, width]}`` raw features, the modalities and widths of training; output:
``(items [n, d], item_bias [n] or None)``, the rows :class:`~.base.Representations` holds.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .features import item_feature_matrix

Encoded = Tuple[torch.Tensor, Optional[torch.Tensor]]


class ItemEncoder(nn.Module):
    kind = ""

    def __init__(self, widths: Dict[str, int]):
        super().__init__()
        self.widths = {str(m): int(w) for m, w in widths.items()}  # in training's order

    def config(self) -> dict:
        return {"kind": self.kind, "widths": [[m, w] for m, w in self.widths.items()],
                **self._args()}

    def _args(self) -> dict:
        return {}

    def _matrix(self, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The model's input: each modality L2-normalised, concatenated in training's order."""
        return item_feature_matrix({m: features[m] for m in self.widths})

    def forward(self, features: Dict[str, torch.Tensor]) -> Encoded:
        raise NotImplementedError


class ClcrecEncoder(ItemEncoder):
    """CLCRec's cold items: the encoder MLP's output is the item's row."""
    kind = "clcrec"

    def __init__(self, widths, hidden: int, dim: int):
        super().__init__(widths)
        self.hidden, self.dim = int(hidden), int(dim)
        self.layer1 = nn.Linear(sum(self.widths.values()), self.hidden)
        self.layer2 = nn.Linear(self.hidden, self.dim)

    def _args(self):
        return {"hidden": self.hidden, "dim": self.dim}

    def forward(self, features):
        x = self._matrix(features).to(self.layer1.weight.device)
        return self.layer2(F.leaky_relu(self.layer1(x))), None


class VbprEncoder(ItemEncoder):
    """VBPR's cold items: ``[0, E f]`` (no ``gamma_i``) and the bias ``beta' f`` (no
    ``beta_i``)."""
    kind = "vbpr"

    def __init__(self, widths, dim: int):
        super().__init__(widths)
        self.dim = int(dim)
        width = sum(self.widths.values())
        self.proj = nn.Linear(width, self.dim, bias=False)
        self.visual_bias = nn.Parameter(torch.zeros(width))

    def _args(self):
        return {"dim": self.dim}

    def forward(self, features):
        f = self._matrix(features).to(self.proj.weight.device)
        visual = self.proj(f)
        table = torch.cat([torch.zeros_like(visual), visual], dim=1)
        return table, f @ self.visual_bias


class DropoutnetEncoder(ItemEncoder):
    """DropoutNet's cold items: the item tower over a zero preference input and the content."""
    kind = "dropoutnet"

    def __init__(self, widths, dim: int, hidden: int):
        super().__init__(widths)
        self.dim, self.hidden = int(dim), int(hidden)
        self.tower = nn.Sequential(nn.Linear(self.dim + sum(self.widths.values()), self.hidden),
                                   nn.Tanh(), nn.Linear(self.hidden, self.dim))

    def _args(self):
        return {"dim": self.dim, "hidden": self.hidden}

    def forward(self, features):
        f = self._matrix(features).to(self.tower[0].weight.device)
        pref = torch.zeros(len(f), self.dim, dtype=f.dtype, device=f.device)
        return self.tower(torch.cat([pref, f], dim=1)), None


class _MmgcnBranch(nn.Module):
    """One modality of :class:`~.mmgcn.ModalityGCN` without what only a node with edges reads
    (its user preferences, the aggregation weights ``W1``): same names, so its weights load
    from the model's branch."""

    def __init__(self, width: int, dim: int, dim_latent: int, n_layers: int, concat: bool):
        super().__init__()
        self.concat = concat
        self.mlp = nn.Linear(width, dim_latent)
        widths = [dim_latent] + [dim] * n_layers
        self.w2 = nn.ModuleList(nn.Linear(w, dim) for w in widths[:-1])
        self.w3 = nn.ModuleList(nn.Linear(w + dim if concat else w, dim) for w in widths[:-1])

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        x = F.normalize(self.mlp(feat).float(), dim=1)
        for w2, w3 in zip(self.w2, self.w3):
            h = torch.zeros(len(x), x.shape[1], dtype=x.dtype, device=x.device)  # no neighbours
            x_hat = F.leaky_relu(w2(x))  # + a zero id row
            x = F.leaky_relu(w3(torch.cat([h, x_hat], dim=1))) if self.concat \
                else F.leaky_relu(w3(h) + x_hat)
        return x


class MmgcnEncoder(ItemEncoder):
    """MMGCN's cold items: no training edge, so each layer aggregates nothing and the id row
    is zero; the mean over modalities of what their features give."""
    kind = "mmgcn"

    def __init__(self, widths, dim: int, dim_latent: int, n_layers: int, concat: bool):
        super().__init__(widths)
        self.dim, self.dim_latent = int(dim), int(dim_latent)
        self.n_layers, self.concat = int(n_layers), bool(concat)
        self.gcn = nn.ModuleDict({m: _MmgcnBranch(w, self.dim, self.dim_latent, self.n_layers,
                                                  self.concat)
                                  for m, w in self.widths.items()})

    def _args(self):
        return {"dim": self.dim, "dim_latent": self.dim_latent, "n_layers": self.n_layers,
                "concat": self.concat}

    def forward(self, features):
        device = self.gcn[next(iter(self.widths))].mlp.weight.device
        reps = [self.gcn[m](torch.as_tensor(features[m], dtype=torch.float32).to(device))
                for m in self.widths]
        return torch.stack(reps).mean(0), None


ENCODERS = {cls.kind: cls for cls in (ClcrecEncoder, VbprEncoder, DropoutnetEncoder,
                                       MmgcnEncoder)}


def build_encoder(config: dict) -> ItemEncoder:
    """An encoder of :meth:`ItemEncoder.config`'s shape, weights not loaded."""
    args = dict(config)
    kind = args.pop("kind")
    if kind not in ENCODERS:
        raise ValueError(f"unknown item encoder {kind!r}: known {'|'.join(ENCODERS)}")
    widths = {m: w for m, w in args.pop("widths")}
    return ENCODERS[kind](widths, **args)
