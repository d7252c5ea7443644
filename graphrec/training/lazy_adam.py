"""``optimizer=lazy_adam``: Adam on the rows a step touched, for tables whose gradient is sparse.

A parameter with a sparse gradient (a table gathered with row gradients,
:mod:`graphrec.models.rows`) gets Adam's update on the rows the gradient holds; its other
rows and their moments stay as they are, so a row's moments decay only on the steps that
use it (TF's LazyAdam; torch's ``SparseAdam`` by the same rule). Every parameter with a
dense gradient (encoders, graph models' propagated tables) gets torch's own Adam, fused
where ``adam`` is: with every row touched each step, lazy_adam is Adam.

What it saves: Adam's seven passes over each whole table (read parameter, gradient and both
moments, write three) and the dense gradient's buffer, for a pass over the touched rows.
What it changes: an untouched row does not drift on its old momentum, and the bias
correction counts every step, not the row's own (as SparseAdam). On a GPU, coalescing
a gradient (and reading a device-side step count) syncs with the host once per table a step:
not measured there yet.
"""
from __future__ import annotations

import math

import torch


class LazyAdam(torch.optim.Adam):
    """``torch.optim.Adam`` whose parameters with sparse gradients get the lazy row update.
    Its state has Adam's keys (``step``, ``exp_avg``, ``exp_avg_sq``), so checkpoints
    resume as Adam's do."""

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        for group in self.param_groups:
            if group["amsgrad"] or group.get("maximize"):
                raise ValueError("LazyAdam: amsgrad and maximize have no row form here")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        hidden = []  # sparse gradients, hidden from Adam's own (dense) step
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.grad.is_sparse:
                    self._rows_step(p, group)
                    hidden.append((p, p.grad))
                    p.grad = None
        try:
            super().step()
        finally:
            for p, g in hidden:
                p.grad = g
        return loss

    def _rows_step(self, p: torch.Tensor, group: dict) -> None:
        grad = p.grad.coalesce()  # unique rows, repeats summed
        idx, g = grad.indices()[0], grad.values()
        state = self.state[p]
        if not state:  # as Adam's: moments as the parameter, step a float tensor
            kind = {"dtype": torch.float32, "device": p.device} if group["fused"] else \
                {"dtype": torch.float32}
            state["step"] = torch.zeros((), **kind)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        if idx.numel() == 0:
            return
        step = float(state["step"])
        beta1, beta2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        rows = p.index_select(0, idx)
        if wd:  # L2 coupled into the gradient, as Adam's weight_decay, on the touched rows
            g = g.add(rows, alpha=wd)
        m = state["exp_avg"].index_select(0, idx).lerp_(g, 1 - beta1)
        v = state["exp_avg_sq"].index_select(0, idx).mul_(beta2).addcmul_(g, g, value=1 - beta2)
        state["exp_avg"].index_copy_(0, idx, m)
        state["exp_avg_sq"].index_copy_(0, idx, v)
        bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
        denom = v.sqrt_().div_(math.sqrt(bias2)).add_(eps)
        p.index_copy_(0, idx, rows.addcdiv_(m, denom, value=-lr / bias1))
