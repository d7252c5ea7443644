"""Losses shared by the models. Scores are ``[B, 1 + N]`` with the positive in column 0."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def softmax_ce(scores: torch.Tensor) -> torch.Tensor:
    """-log(exp(s0) / sum_j exp(s_j)), via logsumexp (stable in any precision)."""
    return (torch.logsumexp(scores.float(), dim=1) - scores[:, 0].float()).mean()


def seed_contrastive(scores: torch.Tensor) -> torch.Tensor:
    """The seed's literal form, -log(exp(s0) / sum exp(s)); overflows for large scores."""
    e = torch.exp(scores)
    return (-torch.log(e[:, 0] / e.sum(dim=1))).mean()


def bpr(scores: torch.Tensor) -> torch.Tensor:
    """BPR with one negative: -log sigmoid(s_pos - s_neg)."""
    return -F.logsigmoid(scores[:, 0] - scores[:, 1]).mean()
