"""What every model offers the trainer and the evaluator, and nothing more."""
from __future__ import annotations

import logging
from typing import Callable, Dict, Tuple

import torch
from torch import nn

Scorer = Callable[[torch.Tensor], torch.Tensor]
Loss = Tuple[torch.Tensor, Dict[str, torch.Tensor]]

log = logging.getLogger(__name__)


def init_table(rows: int, dim: int, how: str = "normal") -> torch.Tensor:
    """An embedding table's start: ``normal`` (std 0.1), or Xavier's normal or uniform rule
    over the ``[rows, dim]`` table (RecBole's BPR and LightGCN; CLCRec's whole id table)."""
    table = torch.empty(rows, dim)
    if how == "normal":
        return table.normal_(0.0, 0.1)
    if how == "xavier_normal":
        return nn.init.xavier_normal_(table)
    if how == "xavier_uniform":
        return nn.init.xavier_uniform_(table)
    raise ValueError(f"model.init={how!r} is invalid: allowed normal|xavier_normal|xavier_uniform")


class Recommender(nn.Module):
    """``loss(users [B], items [B, 1+N]) -> (loss, parts)``: column 0 of ``items`` is the
    positive. ``scorer()`` precomputes what ranking needs once and returns
    ``users -> scores [len(users), n_items]``. ``impl`` is ``reference`` (the seed's
    gather-[B, 1+N, d] formulation, the oracle: :meth:`reference_loss`) or ``lean`` (the
    same maths, faster: :meth:`lean_loss`); :meth:`loss` picks one, here only."""

    impl: str = "reference"

    def loss(self, users: torch.Tensor, items: torch.Tensor) -> Loss:
        if self.impl == "lean" and self.lean_pays(items.numel()):
            return self.lean_loss(users, items)
        return self.reference_loss(users, items)

    def reference_loss(self, users: torch.Tensor, items: torch.Tensor) -> Loss:
        raise NotImplementedError

    def lean_loss(self, users: torch.Tensor, items: torch.Tensor) -> Loss:
        raise NotImplementedError

    def lean_pays(self, slots: int) -> bool:
        """Whether the lean form is the faster at ``slots`` item slots a step (``B * (1+N)``);
        where it is not, ``lean`` runs the reference form."""
        return True

    def impl_for(self, slots: int) -> str:
        """The form a step of ``slots`` item slots runs: what a run records as its impl."""
        if self.impl == "lean" and not self.lean_pays(slots):
            log.warning("%s: impl=lean runs (and records) reference at %d item slots a step",
                        type(self).__name__, slots)
            return "reference"
        return self.impl

    def forward(self, users: torch.Tensor, items: torch.Tensor):
        """The training step's entry (so DDP's gradient hooks see the call): the loss."""
        return self.loss(users, items)

    @torch.no_grad()
    def scorer(self) -> Scorer:
        raise NotImplementedError

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.scorer()(users)
