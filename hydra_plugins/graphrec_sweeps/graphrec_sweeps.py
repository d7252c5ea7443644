"""graphrec's Hydra plugins: the ``sweeps`` config group and the ``graphrec`` sweeper.

The work is done in :mod:`graphrec.sweeping`; the sweeper imports it (and Optuna) only when a
sweep starts, so a single run does not pay for it. Hydra imports this module in every Hydra
app of the environment, so it registers nothing by itself: the ``sweeps`` group, the
``hydra/sweeper=graphrec`` option and the sweep configs' resolvers are added only when the
app composing is graphrec's (its primary config folder is ``conf/`` of this checkout)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra.plugins.sweeper import Sweeper
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf

REPO = Path(__file__).resolve().parents[2]


class GraphrecSearchPath(SearchPathPlugin):
    """Makes ``sweeps/NAME.yaml`` option NAME of the config group ``sweeps`` of graphrec's own
    app (primary config in ``conf/``): ``python train.py -m +sweeps=NAME`` from any working
    folder. The files are stored in Hydra's ConfigStore as global packages rather than by
    adding the repository root to the search path, which would make every folder there
    (``outputs/``, ``multirun/``, ``conf/``) a config group in ``--help``. Other Hydra apps
    in the same environment are left alone."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        conf = REPO / "conf"
        if any(Path(e.path.removeprefix("file://")).resolve() == conf
               for e in search_path.get_path()):
            from graphrec.sweeping import resolvers

            resolvers.register()  # ${sweep_directions:...}, ${choice_upto_cores:...}
            ConfigStore.instance().store(group="hydra/sweeper", name="graphrec",
                                         node=GraphrecSweeperConf, provider="graphrec",
                                         replace=True)  # the plugin may be asked again
            store_sweeps(REPO / "sweeps")


def store_sweeps(folder: Path) -> None:
    from omegaconf import OmegaConf

    for path in sorted(folder.glob("*.yaml")):  # each starts with `# @package _global_`
        ConfigStore.instance().store(group="sweeps", name=path.stem, provider="graphrec",
                                     replace=True,  # the plugin may be asked again
                                     node=OmegaConf.load(path), package="_global_")


@dataclass
class GraphrecSweeperConf(OptunaSweeperConf):
    _target_: str = "hydra_plugins.graphrec_sweeps.graphrec_sweeps.GraphrecSweeper"
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


class GraphrecSweeper(Sweeper):
    """hydra-optuna-sweeper's options plus ``rows``, ``repeats``, ``pruner``, ``conditions``,
    ``heartbeat_interval`` and ``grace_period``; see graphrec/sweeping/sweeper.py."""

    def __init__(self, sampler: Any, direction: Any, storage: Any, study_name: Optional[str],
                 n_trials: int, n_jobs: int, max_failure_rate: float,
                 custom_search_space: Optional[str], params: Any, rows: Any = None,
                 pruner: Any = None, conditions: Any = None,
                 heartbeat_interval: Optional[int] = 60,
                 grace_period: Optional[int] = 180, repeats: int = 1) -> None:
        from graphrec.sweeping.sweeper import GraphrecSweeperImpl

        self.sweeper = GraphrecSweeperImpl(sampler, direction, storage, study_name, n_trials,
                                           n_jobs, max_failure_rate, custom_search_space,
                                           params, rows, pruner, conditions,
                                           heartbeat_interval, grace_period, repeats)

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function,
                           config=config)

    def sweep(self, arguments: List[str]) -> None:
        return self.sweeper.sweep(arguments)
