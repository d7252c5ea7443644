"""Negatives shared by the whole batch, as the models read them (``sampling.strategy`` shared,
in_batch, mixed; ``per_sample`` keeps the ``[B, 1 + N]`` item tensor).

A :class:`SharedNegatives` batch scores sample ``b``'s positive and ``K`` columns that every
sample of the batch shares, so the logits are ``[B, 1 + K]`` as in the per-sample layout:

* ``hit [B, K]``: column ``k`` is an accidental hit for sample ``b`` (its own positive; with
  ``exclude_train`` any training item of its user). Hits are masked out of the softmax (their
  logit is ``-inf``: no loss, no gradient), not redrawn as per-sample draws are, so a row
  keeps ``K`` minus its hits columns. With BPR (one column) a masked pair adds 0 to the mean.
* ``pos_logq [B]``, ``neg_logq [K]`` (or None): the logQ correction, subtracted from each
  logit after the temperature: ``log(B * p_i)`` for an in-batch column or positive (``p_i``
  its training frequency: its expected count among the batch's positives), 0 for a uniform
  column.

``items [U]`` holds every item a step reads, positives and columns together, once each on
CPU (the sampler de-duplicates), so a model gathers or encodes ``U <= B + K`` rows, never the
catalogue and never ``[B, K, d]``. :meth:`expand` gives the per-sample ``[B, 1 + K]`` layout
the reference forms gather (the oracle the lean forms are tested against).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F


class SharedNegatives(NamedTuple):
    items: torch.Tensor                      # [U] item ids read this step
    pos: torch.Tensor                        # [B] each sample's positive, index into items
    neg: torch.Tensor                        # [K] the shared columns, indices into items
    hit: torch.Tensor                        # [B, K] bool, True: masked out of row b
    pos_logq: Optional[torch.Tensor] = None  # [B] logQ of the positive, or None
    neg_logq: Optional[torch.Tensor] = None  # [K] logQ of each column (0: uniform)

    # ------------------------------------------------------------- the per-sample layout
    def expand(self) -> torch.Tensor:
        """``[B, 1 + K]`` item ids, positive first, every row the same ``K`` columns."""
        pos = self.items.index_select(0, self.pos)
        neg = self.items.index_select(0, self.neg)
        return torch.cat([pos.unsqueeze(1), neg.unsqueeze(0).expand(len(pos), -1)], dim=1)

    def _keep(self) -> torch.Tensor:
        """``[B, 1 + K]`` bool, False at the hits (never at the positive)."""
        return torch.cat([torch.ones_like(self.hit[:, :1]), ~self.hit], dim=1)

    def _shift(self) -> Optional[torch.Tensor]:
        if self.pos_logq is None:
            return None
        return torch.cat([self.pos_logq.unsqueeze(1),
                          self.neg_logq.unsqueeze(0).expand(len(self.pos), -1)], dim=1)

    def slot_mean(self, per_item: torch.Tensor) -> torch.Tensor:
        """The mean of ``per_item [U]`` over the ``[B, 1 + K]`` slots, without expanding
        (what a regulariser over the batch's item rows reads)."""
        b, k = len(self.pos), len(self.neg)
        return (per_item.index_select(0, self.pos).sum()
                + b * per_item.index_select(0, self.neg).sum()) / (b * (1 + k))

    # ------------------------------------------------------------- losses, reference form
    def ranking_loss(self, scores: torch.Tensor, temp: float) -> torch.Tensor:
        """:func:`~.losses.ranking_loss` of ``[B, 1 + K]`` scores with the hits masked and
        the logQ shift applied: BPR with one column, a sampled softmax with more."""
        shift, keep = self._shift(), self._keep()
        if scores.shape[1] == 2:
            x = scores[:, 0] - scores[:, 1]
            if shift is not None:
                x = x - (shift[:, 0] - shift[:, 1])
            return -(F.logsigmoid(x) * keep[:, 1]).mean()
        logits = scores.float() / temp
        if shift is not None:
            logits = logits - shift
        logits = logits.masked_fill(~keep, float("-inf"))
        return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()

    def seed_contrastive(self, logits: torch.Tensor) -> torch.Tensor:
        """The seed's ``-log(exp(s0) / sum exp(s))`` over ``[B, 1 + K]`` logits (already
        over the temperature), the hits' terms left out of the sum."""
        shift = self._shift()
        if shift is not None:
            logits = logits - shift
        e = torch.exp(logits) * self._keep()
        return (-torch.log(e[:, 0] / e.sum(dim=1))).mean()

    # ------------------------------------------------------------- losses, lean form
    def lean_loss(self, pos: torch.Tensor, neg: torch.Tensor, temp: float,
                  bpr: bool = True) -> torch.Tensor:
        """The same losses from ``pos [B]`` and ``neg [B, K]`` scores, without building the
        ``[B, 1 + K]`` logits: ``logaddexp(pos, logsumexp(neg))``. ``bpr=False`` keeps the
        softmax at one column (CLCRec's contrastive terms)."""
        if self.pos_logq is not None:
            pos_shift, neg_shift = self.pos_logq, self.neg_logq
        else:
            pos_shift = neg_shift = None
        if bpr and neg.shape[1] == 1:
            x = pos - neg[:, 0]
            if pos_shift is not None:
                x = x - (pos_shift - neg_shift[0])
            return -F.logsigmoid(x).masked_fill(self.hit[:, 0], 0.0).mean()
        pos, neg = pos.float() / temp, neg.float() / temp
        if pos_shift is not None:
            pos, neg = pos - pos_shift, neg - neg_shift
        # a row whose every column is a hit: logsumexp is -inf and the row's loss 0
        rest = torch.logsumexp(neg.masked_fill(self.hit, float("-inf")), dim=1)
        return (torch.logaddexp(pos, rest) - pos).mean()
