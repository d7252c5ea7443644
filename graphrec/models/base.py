"""What every model offers the trainer and the evaluator, and nothing more."""
from __future__ import annotations

from typing import Callable, Dict, Tuple

import torch
from torch import nn

Scorer = Callable[[torch.Tensor], torch.Tensor]


class Recommender(nn.Module):
    """``loss(users [B], items [B, 1+N]) -> (loss, parts)``: column 0 of ``items`` is the
    positive. ``scorer()`` precomputes what ranking needs once and returns
    ``users -> scores [len(users), n_items]``. ``impl`` is ``reference`` (the seed's
    gather-[B, 1+N, d] formulation, the oracle) or ``lean`` (the same maths, faster)."""

    impl: str = "reference"

    def loss(self, users: torch.Tensor, items: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        raise NotImplementedError

    def forward(self, users: torch.Tensor, items: torch.Tensor):
        """The training step's entry (so DDP's gradient hooks see the call): the loss."""
        return self.loss(users, items)

    @torch.no_grad()
    def scorer(self) -> Scorer:
        raise NotImplementedError

    def score(self, users: torch.Tensor) -> torch.Tensor:
        return self.scorer()(users)
