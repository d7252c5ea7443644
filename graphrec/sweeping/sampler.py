"""Seed each trial's sampler from (seed, trial number) instead of once per process.

A sampler seeded once per process proposes the same first parameters every time a study is
resumed (and in every process sharing one study). Trial numbers are unique in a study, so a
sampler made for each trial with ``seed(seed, number)`` proposes new points on resume and in
parallel processes, and a sequential sweep stays reproducible."""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
from optuna.samplers import BaseSampler


def trial_seed(seed: Optional[int], number: int) -> Optional[int]:
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


class TrialSeededSampler(BaseSampler):
    """Delegates every call to a sampler made by ``make(trial_seed(seed, trial.number))``.

    Trials of one batch are asked before any is sampled, so one inner sampler is kept per open
    trial; Optuna keeps the history samplers learn from in the study, not in the sampler."""

    def __init__(self, make: Callable[[Optional[int]], BaseSampler], seed: Optional[int]):
        self._make, self._seed = make, seed
        self._open: dict = {}
        self.name = type(make(seed)).__name__

    def _inner(self, trial) -> BaseSampler:
        if trial.number not in self._open:
            self._open[trial.number] = self._make(trial_seed(self._seed, trial.number))
        return self._open[trial.number]

    def before_trial(self, study, trial):
        self._inner(trial).before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._inner(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._inner(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._inner(trial).sample_independent(study, trial, param_name,
                                                     param_distribution)

    def after_trial(self, study, trial, state, values):
        self._inner(trial).after_trial(study, trial, state, values)
        self._open.pop(trial.number, None)

    def reseed_rng(self):
        for sampler in self._open.values():
            sampler.reseed_rng()
