"""Everything a resumed run needs, in one weights-only-loadable dict.

The fast sampler keeps no state (its draws are keyed by seed, epoch and step); the seed
loader is re-seeded per epoch and skips the steps already done. What remains is the model,
the optimizer and its lr schedule, the host RNGs (CLCRec's hybrid index uses torch's), the
position in the epoch, the partial epoch's loss sums, early stopping and the rows written.
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field, fields
from typing import List, Optional

import numpy as np
import torch


@dataclass
class Progress:
    epoch: int = 0          # current epoch
    epoch_step: int = 0     # steps done in the current epoch
    step: int = 0           # optimizer steps done in the run
    loss_sum: float = 0.0   # current epoch, for its mean loss
    n_loss: int = 0
    seen: int = 0           # samples in the current epoch
    epoch_s: float = 0.0    # wall seconds of the current epoch before an interrupt
    best: float = -math.inf
    best_epoch: int = -1
    bad_evals: int = 0
    time_to_best_s: float = 0.0  # wall seconds from the first step to the best validation
    wall_s: float = 0.0     # the clock (clock.py) when last saved: wall, of which validation
    eval_s: float = 0.0     #   and writing periodic checkpoints
    checkpoint_s: float = 0.0
    checkpoints: int = 0          # periodic checkpoints written, and the step of the last
    last_ckpt_step: int = 0       #   one (checkpoint_every_steps counts from there)
    samples: int = 0        # samples seen in the run (this process)
    evals: int = 0          # validations done
    last_eval_step: int = 0       # step and training seconds at the last validation
    last_eval_train_s: float = 0.0
    row_samples: int = 0          # samples and training seconds at the last csv row
    row_train_s: float = 0.0
    target: Optional[dict] = None  # the clock when the quality target was first reached
    stop_reason: str = ""
    rows: List[dict] = field(default_factory=list)


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)),
                      "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                      "gauss": float(np_state[4])},
            "python": repr(random.getstate()),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["gauss"]))
    random.setstate(_literal(state["python"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _literal(text: str):
    import ast

    return ast.literal_eval(text)


def snapshot(model, optimizer, progress: Progress, scheduler=None) -> dict:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "rng": rng_state(), "progress": asdict(progress)}
    if scheduler is not None:  # none with scheduler=constant
        state["scheduler"] = scheduler.state_dict()
    return state


def restore(ckpt: dict, model, optimizer, scheduler=None) -> Progress:
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])  # the lr the schedule had reached, too
    if scheduler is not None and "scheduler" in ckpt:
        scheduler.load_state_dict(ckpt["scheduler"])
    set_rng_state(ckpt["rng"])
    # a checkpoint of an earlier version may hold fields since dropped (train_s: now derived)
    known = {f.name for f in fields(Progress)}
    return Progress(**{k: v for k, v in ckpt["progress"].items() if k in known})
