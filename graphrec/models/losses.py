"""Losses shared by the models. Scores are ``[B, 1 + N]`` with the positive in column 0."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .rows import gather_rows


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


def mean_sq_rows(table: torch.Tensor, idx: torch.Tensor, sparse: bool = False) -> torch.Tensor:
    """``(table[idx] ** 2).sum(-1).mean()``, the L2 term of a batch's rows, without the
    scatter-add that the backward of a gather costs on CPU when the table is small: then the
    squared norm of every row is weighted by how often ``idx`` names it (the gradient is
    elementwise). Tables larger than ``4 * idx.numel()`` rows are gathered, as they are at
    any size with ``sparse`` (a row gradient: :mod:`.rows`)."""
    idx = idx.reshape(-1)
    if sparse or table.shape[0] > 4 * idx.numel():
        return gather_rows(table, idx, sparse).pow(2).sum(1).mean()
    # index_add_, not bincount: bincount sizes its output from the data (a host sync on GPUs)
    counts = table.new_zeros(table.shape[0]).index_add_(0, idx, table.new_ones(()).expand(len(idx)))
    return (table.pow(2).sum(1) @ counts) / idx.numel()


def ranking_loss(scores: torch.Tensor, temp: float) -> torch.Tensor:
    """The ranking models' loss (MF, LightGCN, MMGCN, VBPR, DropoutNet): BPR with one
    negative, a sampled softmax at temperature ``temp`` with more."""
    return bpr(scores) if scores.shape[1] == 2 else softmax_ce(scores / temp)
