"""A study's search space against the sweep's: refused when they cannot share the study.

Optuna records each trial's distributions and refuses, when a trial suggests a key, a
distribution of another kind, another log setting or other choices than the study's earlier
trials used (``CategoricalDistribution does not support dynamic value space``). That happens
inside ``suggest``, after the trial was asked, so the study kept a RUNNING trial each time.
:func:`check` compares the whole space when the study opens, before any trial is asked, and
names every key that changed; :func:`space_suffix` names a study by its space, so each space
gets its own study (``hydra.sweeper.study_name_from_space``).

Changes Optuna accepts (an interval's bounds, a range's step) are logged, not refused: the
study's sampler goes on learning from the earlier trials."""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Dict, Mapping

from optuna.distributions import (BaseDistribution, CategoricalDistribution,
                                  FloatDistribution, IntDistribution,
                                  check_distribution_compatibility, distribution_to_json)

from ..errors import ConfigError

log = logging.getLogger(__name__)


def shown(dist: BaseDistribution) -> str:
    """A distribution in Hydra's override syntax, as the user wrote it (near enough)."""
    if isinstance(dist, CategoricalDistribution):
        return f"choice({','.join(map(str, dist.choices))})"
    if isinstance(dist, (IntDistribution, FloatDistribution)):
        low, high = repr(dist.low), repr(dist.high)  # 1 and 1.0 differ: another kind
        if dist.log:
            return f"tag(log, interval({low}, {high}))"
        if dist.step is not None and dist.step != 1:
            return f"range({low}, {high}, step {dist.step!r}, end included)"
        return f"interval({low}, {high})"
    return repr(dist)


def recorded(trials) -> Dict[str, BaseDistribution]:
    """Each key's distribution in the study's trials: the latest trial's that has it."""
    space: Dict[str, BaseDistribution] = {}
    for trial in sorted(trials, key=lambda t: t.number):
        space.update(trial.distributions)
    return space


def changes(old: Mapping[str, BaseDistribution],
            new: Mapping[str, BaseDistribution]) -> tuple:
    """(refused, accepted): ``key was X, now Y`` for each key searched in both whose
    distribution differs; refused where Optuna would not put both in one study."""
    refused, accepted = [], []
    for key, dist in new.items():
        before = old.get(key)
        if before is None or before == dist:
            continue
        line = f"{key} was {shown(before)}, now {shown(dist)}"
        try:
            check_distribution_compatibility(before, dist)
        except ValueError:
            refused.append(line)
        else:
            accepted.append(line)
    return refused, accepted


def space_suffix(space: Mapping[str, BaseDistribution]) -> str:
    """8 hex digits naming the searched keys and their distributions (not their order)."""
    text = json.dumps({k: distribution_to_json(d) for k, d in sorted(space.items())})
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def check(study, space: Mapping[str, BaseDistribution], where: str,
          from_space: bool = False) -> None:
    """Raise a one-line ConfigError naming every key whose distribution the study cannot take
    (``where``: the storage, for the message); log the changes it can take."""
    trials = study.get_trials(deepcopy=False)
    refused, accepted = changes(recorded(trials), space)
    if accepted:
        log.info("search space changed since study %s began, kept in it (the sampler learns "
                 "from its %d earlier trials): %s", study.study_name, len(trials),
                 "; ".join(accepted))
    if not refused:
        return
    name = study.study_name
    ways = (f"give another hydra.sweeper.study_name (e.g. {name}-2), or "
            "hydra.sweeper.study_name_from_space=true (one study per search space, each in "
            "its own folder), or search the old range again")
    if from_space:  # a suffix from the space cannot collide with another space: a hash clash
        ways = "give another hydra.sweeper.study_name"
    raise ConfigError(
        f"hydra.sweeper.params: the search space changed since study {name!r} in {where} "
        f"began ({len(trials)} trials), and Optuna cannot mix the ranges in one study: "
        f"{'; '.join(refused)}. To go on, {ways}")
