"""Shared fixtures: compose configs the way train.py does, on tiny synthetic data."""
from __future__ import annotations

import logging
import os
import signal

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine a spinning thread
# waiting for a descheduled sibling slows a run many times over. Set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import graphrec.config  # noqa: F401  (registers the schemas)

# A suite started in the background by a shell without job control (`cmd &` in a script)
# inherits SIGINT ignored, and so would every process the tests start: the Ctrl-C tests
# (serve, sweeps, closed pipes) need it live. A handler, unlike SIG_IGN, is reset to the
# default in a child at exec, so Python installs its own there again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

# Small enough for a CPU test in seconds, large enough to learn above popularity.
TINY = ["data.n_users=300", "data.n_items=160", "data.mean_degree=20", "data.max_degree=80",
        "data.feat_dims=[16,8,8]", "trainer.progress=false", "trainer.epochs=3",
        "sampling.num_neg=32", "trainer.log_every=5", "batch.size=64"]


def make_cfg(overrides=(), tiny: bool = True):
    with initialize_config_dir(config_dir=str(CONF)):
        return compose("config", overrides=(TINY if tiny else []) + list(overrides))


@pytest.fixture
def cfg_factory():
    return make_cfg


@pytest.fixture(autouse=True)
def _quiet_logs():
    logging.getLogger("graphrec").setLevel(logging.WARNING)
    yield
