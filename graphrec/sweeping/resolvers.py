"""OmegaConf resolvers used by the sweep configs (``conf/config.yaml``, ``sweeps/``).

Registered when Hydra loads graphrec's plugin, before any config is composed."""
from __future__ import annotations

import os

from omegaconf import OmegaConf

# What train.py returns for each sweep.objective, in order, and which way each is better.
OBJECTIVES = {
    "both": (("samples_per_s", "maximize"), ("val_recall@20", "maximize")),
    "accuracy": (("val_recall@20", "maximize"),),
    "throughput": (("samples_per_s", "maximize"),),
    # wall seconds to trainer.target (validation included); not reached: a pruned trial
    "time_to_target": (("time_to_target_s", "minimize"),),
    # best val Recall@20 within trainer.time_budget_s
    "accuracy_at_budget": (("val_recall@20", "maximize"),),
}


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # honours taskset and container CPU sets
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def choice_upto_cores(*values: int) -> str:
    """``${choice_upto_cores:0,1,2,4,8}`` -> ``choice(0,1,2)`` on 2 cores: more workers than
    cores only contend, so such trials would measure nothing new."""
    kept = [v for v in values if v <= usable_cores()] or [min(values)]
    return "choice(" + ",".join(str(v) for v in kept) + ")"


def sweep_directions(objective: str) -> list:
    """``${sweep_directions:${sweep.objective}}``: one direction per value train.py returns."""
    if objective not in OBJECTIVES:
        raise ValueError(f"sweep.objective={objective!r} is invalid: allowed "
                         + "|".join(OBJECTIVES))
    return [direction for _, direction in OBJECTIVES[objective]]


def register() -> None:
    OmegaConf.register_resolver("choice_upto_cores", choice_upto_cores, replace=True)
    OmegaConf.register_resolver("sweep_directions", sweep_directions, replace=True)


register()
