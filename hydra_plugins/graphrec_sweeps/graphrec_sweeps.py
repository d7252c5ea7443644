"""graphrec's Hydra plugins: the ``sweeps`` config group and the ``graphrec`` sweeper.

The work is done in :mod:`graphrec.sweeping`; the sweeper imports it (and Optuna) only when a
sweep starts, so a single run does not pay for it. Hydra imports this module in every Hydra
app of the environment, so it registers nothing by itself: the ``sweeps`` group, the
``hydra/sweeper=graphrec`` option and the sweep configs' resolvers are added only when the
app composing is graphrec's (its primary config folder is ``conf/`` of this checkout)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra.plugins.sweeper import Sweeper

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
            from graphrec.sweeping.options import GraphrecSweeperConf

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


class GraphrecSweeper(Sweeper):
    """graphrec's sweeper (graphrec/sweeping/sweeper.py), its options declared once in
    graphrec/sweeping/options.py. This class only defers importing it (and Optuna) until a
    sweep starts, and says graphrec's errors in one line (exit code 2)."""

    def __init__(self, **options: Any) -> None:
        from graphrec.sweeping.sweeper import GraphrecSweeperImpl, one_line_errors

        self.one_line_errors = one_line_errors
        with one_line_errors():
            self.sweeper = GraphrecSweeperImpl(**options)

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function,
                           config=config)

    def sweep(self, arguments: List[str]) -> None:
        with self.one_line_errors():
            return self.sweeper.sweep(arguments)
