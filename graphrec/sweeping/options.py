"""The options of graphrec's sweeper, declared once: this dataclass is Hydra's schema of
``hydra.sweeper`` (``hydra/sweeper=graphrec``) and the sweeper's only list of options and
defaults (``GraphrecSweeperImpl(**options)`` builds one). ``conf/config.yaml`` sets graphrec's
values and says what each costs; ``tests/test_sweep_options.py`` keeps the two equal.

hydra-optuna-sweeper's options come from its schema (``sampler``, ``direction``, ``storage``,
``study_name``, ``n_trials``, ``n_jobs``, ``max_failure_rate``, ``params``,
``custom_search_space``), with graphrec's defaults for ``n_jobs`` and ``max_failure_rate``.
Imported by the Hydra plugin at start-up, so it imports neither Optuna nor graphrec's code."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf


@dataclass
class GraphrecSweeperConf(OptunaSweeperConf):
    _target_: str = "hydra_plugins.graphrec_sweeps.graphrec_sweeps.GraphrecSweeper"
    # Trials launched at once; 1: throughput is measured alone (hydra-optuna-sweeper: 2).
    n_jobs: int = 1
    # Stop when more than this share of the invocation's trials failed (there: 0.0).
    max_failure_rate: float = 0.5
    # Append 8 hex digits of the search space (its keys and ranges) to study_name, so each
    # space has its own study and folder; the same space resumes its own.
    study_name_from_space: bool = False
    # Ordered rows of overrides run instead of sampled trials; each row adds to the previous.
    rows: Dict[str, List[str]] = field(default_factory=dict)
    # Runs of each listed row (rows only): repeat i sets trainer.seed = the row's seed + i;
    # a row's repeats run together (row-major), under the row's label.
    repeats: int = 1
    # An optuna.pruners.* config (_target_ and its arguments), or null for none. It stops
    # trials of single-objective studies from the validations they report.
    pruner: Any = None
    # Searched keys searched only when other keys take given values, e.g.
    # {loader.num_workers: {loader: [workers]}}: other trials run with the config's value.
    conditions: Optional[Dict[str, Dict[str, List[Any]]]] = field(default_factory=dict)
    # Optuna's heartbeat (RDB storages): each running trial's sweep process writes a
    # timestamp every heartbeat_interval s; a RUNNING trial whose last one is older than
    # grace_period s is failed (its process was killed) when a sweep starts on the study and
    # before each of its batches. null interval: no heartbeat; null grace: twice the interval.
    heartbeat_interval: Optional[int] = 60
    grace_period: Optional[int] = 180


# not options: Hydra's keys of the node
NOT_OPTIONS = ("_target_", "defaults")
