"""The default sweep's search space, composed as ``python train.py -m`` composes it:
``loader.num_workers`` is searched only for the loader that reads it, and the space is bounded
for memory."""
from __future__ import annotations

import optuna
import pytest
from hydra import compose, initialize_config_dir
from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

import graphrec.sweeping.resolvers  # noqa: F401  (${choice_upto_cores:...})
from conftest import CONF
from graphrec.sweeping.space import SearchSpace, suggest


def _sweep_config(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF)):
        return compose("config", overrides=list(overrides), return_hydra_config=True)


def _space(cfg, *arguments: str) -> SearchSpace:
    """What GraphrecSweeperImpl.sweep builds: params, then command-line arguments."""
    sweeper = cfg.hydra.sweeper
    space, fixed, _ = create_params_from_overrides(
        [f"{k}={v}" for k, v in sweeper.params.items()] + list(arguments))
    for name in fixed:
        space.pop(name, None)
    return SearchSpace(space, fixed, sweeper.conditions, cfg)


def _sample(space: SearchSpace, n: int, enqueue=()) -> list:
    """``n`` trials of a seeded TPE study on ``space`` (its first ones random, then TPE's)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    for params in enqueue:
        study.enqueue_trial(params)
    chosen = []
    for i in range(n):
        trial = study.ask()
        chosen.append(space.suggest(trial))
        study.tell(trial, float(i % 7))
    return chosen


def test_default_space_searches_num_workers_only_for_the_workers_loader():
    space = _space(_sweep_config())
    assert "loader.num_workers" in space.space
    assert space.conditions == {"loader.num_workers": {"loader": ["workers"]}}
    chosen = _sample(space, 30, enqueue=[{"loader": "fast"}, {"loader": "baseline"},
                                         {"loader": "workers"}])
    assert {p["loader"] for p in chosen} == {"baseline", "workers", "fast"}
    for params in chosen:  # no suggestion, so no TPE history, where the loader ignores it
        assert ("loader.num_workers" in params) == (params["loader"] == "workers"), params
    assert "loader.num_workers" not in chosen[0] and "loader.num_workers" in chosen[2]


@pytest.mark.parametrize("loader, searched", [("fast", False), ("baseline", False),
                                              ("workers", True)])
def test_a_fixed_loader_decides_num_workers(loader, searched):
    """``python train.py -m loader=fast``: the loader is fixed, so is the condition."""
    space = _space(_sweep_config(), f"loader={loader}")
    assert all(("loader.num_workers" in p) == searched for p in _sample(space, 4))


def test_a_condition_on_a_key_left_out_reads_the_composed_config():
    """With ``loader`` not in the sweep, the condition reads the selected option."""
    cfg = _sweep_config("loader=workers", "~hydra.sweeper.params.loader")
    space = _space(cfg)
    assert "loader" not in space.space and space.defaults == {"loader": "workers"}
    assert all("loader.num_workers" in p for p in _sample(space, 3))
    space = _space(_sweep_config("~hydra.sweeper.params.loader"))  # the default: fast
    assert not any("loader.num_workers" in p for p in _sample(space, 3))


def test_default_space_is_bounded_for_memory():
    """The reference step (loader=baseline/workers) at batch 4096 and 512 negatives peaked at
    6.2 GB of RSS on the default data, at 2048 at 3.3 GB: the default space stops at 1024."""
    space = _space(_sweep_config())
    assert max(space.space["batch.size"].choices) <= 1024
    assert max(space.space["sampling.num_neg"].choices) == 512


def test_conditions_chain_and_are_checked():
    dists = {"a": CategoricalDistribution(["x", "y"]), "c": IntDistribution(1, 4),
             "b": CategoricalDistribution([1, 2])}
    # c depends on b, itself conditional: b is suggested first whatever the order listed
    space = SearchSpace(dists, {}, {"c": {"b": [2]}, "b": {"a": ["y"]}})
    assert space.order == ["a", "b", "c"]
    for params in _sample(space, 20):
        assert ("b" in params) == (params["a"] == "y")
        assert ("c" in params) == (params.get("b") == 2)
    with pytest.raises(ValueError, match="cycle"):
        SearchSpace(dists, {}, {"b": {"c": [1]}, "c": {"b": [1]}})
    with pytest.raises(ValueError, match="neither searched"):
        SearchSpace(dists, {}, {"b": {"nowhere": [1]}})
    with pytest.raises(ValueError, match="mapping"):
        SearchSpace(dists, {}, {"b": ["a"]})
    # a condition on a key that is fixed (or not searched) is moot
    assert SearchSpace(dists, {"d": "1"}, {"d": {"a": ["x"]}}).conditions == {}


def test_suggest_uses_each_distribution():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    dists = {"i": IntDistribution(2, 64, log=True), "s": IntDistribution(0, 10, step=5),
             "f": FloatDistribution(1e-4, 1e-2, log=True),
             "q": FloatDistribution(0.0, 1.0, step=0.25),
             "c": CategoricalDistribution(["a", "b"])}
    values = {name: suggest(trial, name, dist) for name, dist in dists.items()}
    assert trial.distributions == dists
    assert trial.params == values
