"""What every model offers the trainer and the evaluator, and nothing more."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from ..errors import ConfigError
from .negatives import SharedNegatives

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
    raise ConfigError(f"model.init={how!r} is invalid: allowed normal|xavier_normal|xavier_uniform")


@dataclass
class Representations:
    """A model's final vectors, cold items included: ``score(u, i) = <users[u], items[i]>``
    (``+ item_bias[i]`` where the model has one). What ranking reads (:meth:`scorer`) and
    what an export writes, so the two cannot differ."""

    users: torch.Tensor  # [n_users, d]
    items: torch.Tensor  # [n_items, d]
    item_bias: Optional[torch.Tensor] = None  # [n_items]

    def scorer(self) -> Scorer:
        users, items, bias = self.users, self.items, self.item_bias
        if bias is None:
            return lambda u: users[u] @ items.T
        return lambda u: torch.addmm(bias, users[u], items.T)


class Recommender(nn.Module):
    """``loss(users [B], items [B, 1+N]) -> (loss, parts)``: column 0 of ``items`` is the
    positive. ``scorer()`` precomputes what ranking needs once and returns
    ``users -> scores [len(users), n_items]``. ``impl`` is ``reference`` (the seed's
    gather-[B, 1+N, d] formulation, the oracle: :meth:`reference_loss`) or ``lean`` (the
    same maths, faster: :meth:`lean_loss`); :meth:`loss` picks one, here only.

    ``items`` may instead be a :class:`~.negatives.SharedNegatives` (negatives shared by the
    batch): then :meth:`reference_shared_loss` (the per-sample layout, expanded) or
    :meth:`lean_shared_loss` (one product against the shared rows) runs."""

    impl: str = "reference"
    # Set by the trainer for optimizer=lazy_adam (models whose spec says row_grads): the lean
    # step's table gathers then give sparse gradients of the touched rows (:mod:`.rows`).
    row_grads: bool = False

    def loss(self, users: torch.Tensor, items) -> Loss:
        if isinstance(items, SharedNegatives):  # lean always pays: it reads U <= B + K rows
            if self.impl == "lean":
                return self.lean_shared_loss(users, items)
            return self.reference_shared_loss(users, items)
        if self.impl == "lean" and self.lean_pays(items.numel()):
            return self.lean_loss(users, items)
        return self.reference_loss(users, items)

    def reference_loss(self, users: torch.Tensor, items: torch.Tensor) -> Loss:
        raise NotImplementedError

    def lean_loss(self, users: torch.Tensor, items: torch.Tensor) -> Loss:
        raise NotImplementedError

    def reference_shared_loss(self, users: torch.Tensor, shared: SharedNegatives) -> Loss:
        """The reference form on the per-sample layout ``[B, 1 + K]``, hits masked."""
        return self.reference_loss(users, shared.expand(), shared=shared)

    def lean_shared_loss(self, users: torch.Tensor, shared: SharedNegatives) -> Loss:
        raise NotImplementedError

    def lean_pays(self, slots: int) -> bool:
        """Whether the lean form is the faster at ``slots`` item slots a step (``B * (1+N)``);
        where it is not, ``lean`` runs the reference form."""
        return True

    def impl_for(self, slots: Optional[int]) -> str:
        """The form a step of ``slots`` item slots runs: what a run records as its impl
        (``None``: negatives shared by the batch, where ``lean`` always runs lean)."""
        if self.impl == "lean" and slots is not None and not self.lean_pays(slots):
            log.warning("%s: impl=lean runs (and records) reference at %d item slots a step",
                        type(self).__name__, slots)
            return "reference"
        return self.impl

    def forward(self, users: torch.Tensor, items: torch.Tensor):
        """The training step's entry (so DDP's gradient hooks see the call): the loss."""
        return self.loss(users, items)

    def representations(self) -> Representations:
        """The final user and item vectors (graph models propagate here, once)."""
        raise NotImplementedError(f"{type(self).__name__} has no final representations")

    @torch.no_grad()
    def scorer(self) -> Scorer:
        return self.representations().scorer()

    def item_encoder(self):
        """What scores an item the model never saw from its features alone, as it scores its
        cold items: an :class:`~.encoders.ItemEncoder` holding a copy of the weights; None
        for a model that reads no features."""
        return None

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.scorer()(users)
