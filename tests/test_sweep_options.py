"""The sweeper's options are declared once (graphrec/sweeping/options.py): the composed
``hydra.sweeper`` is exactly its fields, the sweeper takes them as they are, and the values
conf/config.yaml sets agree with the declared defaults."""
from __future__ import annotations

from dataclasses import MISSING, fields

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import graphrec.sweeping.resolvers  # noqa: F401  (${sweep_directions:...})
from conftest import CONF
from graphrec.sweeping.options import NOT_OPTIONS, GraphrecSweeperConf
from graphrec.sweeping.sweeper import GraphrecSweeperImpl

OPTIONS = {f.name: f for f in fields(GraphrecSweeperConf) if f.name not in NOT_OPTIONS}


def default(f):
    return f.default_factory() if f.default_factory is not MISSING else f.default


def test_the_composed_options_are_the_declared_ones_and_the_sweeper_takes_them():
    with initialize_config_dir(config_dir=str(CONF)):
        cfg = compose("config", return_hydra_config=True)
    composed = OmegaConf.to_container(cfg.hydra.sweeper, resolve=True)
    assert composed.pop("_target_").endswith("graphrec_sweeps.GraphrecSweeper")
    assert set(composed) == set(OPTIONS)
    impl = GraphrecSweeperImpl(**composed)
    assert impl.n_jobs == 1 and impl.heartbeat_interval == 60 and not impl.study_name_from_space


def test_config_yaml_sets_the_declared_defaults():
    """conf/config.yaml documents each option where a user reads it; its plain values must be
    the defaults declared in options.py (interpolations and search spaces are graphrec's)."""
    raw = OmegaConf.to_container(OmegaConf.load(CONF / "config.yaml").hydra.sweeper)
    plain = {k: v for k, v in raw.items() if not isinstance(v, (dict, list))
             and not (isinstance(v, str) and "${" in v)}
    assert {"n_jobs", "max_failure_rate", "repeats", "heartbeat_interval", "grace_period",
            "study_name_from_space"} <= set(plain)
    for key, value in plain.items():
        assert value == default(OPTIONS[key]), key
