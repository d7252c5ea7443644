"""The search space: ``hydra.sweeper.params`` as Optuna distributions, some of them conditional.

``hydra.sweeper.conditions`` maps a searched key to the values other keys must take for it to
be searched at all::

    conditions:
      loader.num_workers: {loader: [workers]}   # only the workers loader reads it

A trial suggests its unconditional keys first, then each conditional key whose conditions
all hold (define-by-run, as Optuna intends), so TPE never samples, and never learns from, a
value the trial ignores; a trial that skips the key runs with the config's own value. A
condition may name a searched key (conditional ones too, in any order, without cycles), a
key fixed by a plain value (``loader=fast`` on the command line), or a key left out of the
sweep, whose composed value (a config group's selected option, or a config value) is used.
Values compare as strings (``choice(1,2)`` matches ``[1, 2]`` and ``['1', '2']``).

Suggestions go through the public ``trial.suggest_*`` methods (hydra-optuna-sweeper calls
its private suggest method).
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (BaseDistribution, CategoricalDistribution,
                                  FloatDistribution, IntDistribution)

from ..errors import ConfigError

_MISSING = object()


def suggest(trial, name: str, dist: BaseDistribution) -> Any:
    """``trial.suggest_*`` for a distribution hydra-optuna-sweeper made from an override."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    raise TypeError(f"{name}: no suggest method for {type(dist).__name__}")


class SearchSpace:
    """Distributions by key, fixed values by key, and the conditions on some keys."""

    def __init__(self, space: Dict[str, BaseDistribution], fixed: Dict[str, Any],
                 conditions: Optional[Mapping] = None,
                 config: Optional[DictConfig] = None) -> None:
        self.space, self.fixed = dict(space), dict(fixed)
        conditions = _plain(conditions)
        # a condition on a key that is not searched here (fixed, or not in this sweep) is moot
        self.conditions: Dict[str, Dict[str, List[str]]] = {}
        for key, when in conditions.items():
            if key not in self.space:
                continue
            if not isinstance(when, Mapping) or not when:
                raise ConfigError(f"hydra.sweeper.conditions.{key}: expected a mapping "
                                  "{other_key: [values]}, e.g. {loader: [workers]}")
            self.conditions[key] = {
                other: [str(v) for v in (values if isinstance(values, (list, tuple))
                                          else [values])]
                for other, values in when.items()}
        self.defaults: Dict[str, Any] = {}
        for key, when in self.conditions.items():
            for other in when:
                if other == key:
                    raise ConfigError(f"hydra.sweeper.conditions.{key} names {key} itself")
                if other in self.space or other in self.fixed:
                    continue
                value = _composed(config, other)
                if value is _MISSING:
                    raise ConfigError(
                        f"hydra.sweeper.conditions.{key} depends on {other}, which is neither "
                        "searched, fixed, nor a key or config group of the composed config")
                self.defaults[other] = value
        self.order = self._order()

    def _order(self) -> List[str]:
        """Searched keys in the order a trial suggests them: unconditional ones as listed,
        then conditional ones, each after the conditional keys it depends on."""
        order = [k for k in self.space if k not in self.conditions]
        pending = [k for k in self.space if k in self.conditions]
        while pending:
            ready = [k for k in pending
                     if all(o not in self.conditions or o in order for o in self.conditions[k])]
            if not ready:
                raise ConfigError("hydra.sweeper.conditions form a cycle: "
                                  + ", ".join(f"{k} <- {sorted(self.conditions[k])}"
                                              for k in pending))
            order += ready
            pending = [k for k in pending if k not in ready]
        return order

    def applies(self, key: str, chosen: Mapping[str, Any]) -> bool:
        """Whether ``key`` is searched given the values ``chosen`` so far in a trial."""
        for other, allowed in self.conditions.get(key, {}).items():
            value = chosen.get(other, _MISSING)
            if value is _MISSING:
                value = self.fixed.get(other, self.defaults.get(other, _MISSING))
            if value is _MISSING or str(value) not in allowed:
                return False
        return True

    def suggest(self, trial) -> Dict[str, Any]:
        """Suggest this trial's values; returns them by key (skipped conditional keys are
        absent, so the trial runs with the config's value)."""
        chosen: Dict[str, Any] = {}
        for key in self.order:
            if self.applies(key, chosen):
                chosen[key] = suggest(trial, key, self.space[key])
        return chosen

    def describe(self) -> str:
        return "; ".join(f"{k} only when " + " and ".join(f"{o} in {v}" for o, v in w.items())
                         for k, w in self.conditions.items())


def _plain(conditions) -> dict:
    if conditions is None:
        return {}
    if isinstance(conditions, DictConfig):
        return OmegaConf.to_container(conditions, resolve=True)
    return dict(conditions)


def _composed(config: Optional[DictConfig], key: str) -> Any:
    """A key's value in the sweep's composed config: a config group's selected option
    (``loader`` -> ``fast``), else the value at that path."""
    if config is None:
        return _MISSING
    choice = OmegaConf.select(config, "hydra.runtime.choices", default=None)
    if choice is not None and key in choice:
        return choice[key]
    value = OmegaConf.select(config, key, default=_MISSING)
    if isinstance(value, DictConfig):
        return _MISSING  # a config group's node, not a value to compare
    return value
