"""A sweep whose search space changed since its study began is refused when the study opens,
before any trial is asked, in one line naming each changed key; an error in a sweep's own
set-up fails the trials it had asked instead of leaving them RUNNING."""
from __future__ import annotations

import os
import subprocess
import sys

import optuna
import pytest
from hydra import compose, initialize_config_dir
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

import graphrec.sweeping.resolvers  # noqa: F401  (${sweep_directions:...} in the config)
from conftest import CONF
from graphrec.errors import ConfigError
from graphrec.sweeping import study_space
from graphrec.sweeping.sweeper import GraphrecSweeperImpl
from sweep_helpers import REPO, TINY

NUM_NEG = CategoricalDistribution([2, 4])
LR = FloatDistribution(1e-4, 1e-2, log=True)


def old_study(url: str, name: str = "s", directions=("maximize",)) -> optuna.Study:
    """A study with one completed trial that searched num_neg in choice(2,4)."""
    study = optuna.create_study(study_name=name, storage=url, directions=list(directions))
    study.add_trial(create_trial(
        params={"sampling.num_neg": 2, "model.lr": 1e-3},
        distributions={"sampling.num_neg": NUM_NEG, "model.lr": LR},
        values=[0.5] * len(directions)))
    return study


def test_changed_choices_are_refused_naming_key_old_and_new():
    study = old_study(None)
    new = {"sampling.num_neg": CategoricalDistribution([2, 3]), "model.lr": LR,
           "model.dim": CategoricalDistribution([32, 64])}  # a new key is no change
    with pytest.raises(ConfigError) as e:
        study_space.check(study, new, "in memory")
    text = str(e.value)
    assert "\n" not in text and text.startswith("hydra.sweeper.params: ")
    assert "sampling.num_neg was choice(2,4), now choice(2,3)" in text
    assert "model" not in text.split("now choice(2,3)")[1].split("To go on")[0]
    assert "hydra.sweeper.study_name" in text and "study_name_from_space=true" in text


def test_kinds_and_log_scale_are_refused_bounds_are_kept(caplog):
    study = old_study(None)
    refused, kept = study_space.changes(
        study_space.recorded(study.trials),
        {"sampling.num_neg": IntDistribution(2, 4),
         "model.lr": FloatDistribution(1e-3, 1e-1, log=True)})
    assert refused == ["sampling.num_neg was choice(2,4), now interval(2, 4)"]
    assert kept == ["model.lr was tag(log, interval(0.0001, 0.01)), now "
                    "tag(log, interval(0.001, 0.1))"]
    assert study_space.changes({"x": LR}, {"x": FloatDistribution(1e-4, 1e-2)})[0]
    with caplog.at_level("INFO", logger=study_space.log.name):
        study_space.check(study, {"model.lr": FloatDistribution(1e-3, 1e-1, log=True)}, "x")
    assert "model.lr was tag(log, interval(0.0001, 0.01))" in caplog.text


def test_space_suffix_names_the_space_not_its_order():
    a = study_space.space_suffix({"a": NUM_NEG, "b": LR})
    assert a == study_space.space_suffix({"b": LR, "a": NUM_NEG}) and len(a) == 8
    assert a != study_space.space_suffix({"a": CategoricalDistribution([2, 3]), "b": LR})


def sweeper(tmp_path, *overrides, **options):
    """The sweeper on the composed default config, its study in ``tmp_path``."""
    with initialize_config_dir(config_dir=str(CONF)):
        cfg = compose("config", overrides=[f"hydra.sweep.dir={tmp_path}", *overrides],
                      return_hydra_config=True)
    impl = GraphrecSweeperImpl(**{
        "sampler": cfg.hydra.sweeper.sampler, "direction": ["maximize"], "study_name": "s",
        "storage": f"sqlite:///{tmp_path}/study.db", "n_trials": 2,
        "params": cfg.hydra.sweeper.params, "conditions": cfg.hydra.sweeper.conditions,
        "heartbeat_interval": None, **options})
    impl.config = cfg
    return impl


class Launcher:
    def __init__(self, error: Exception):
        self.error, self.calls = error, 0

    def launch(self, overrides, initial_job_idx):
        self.calls += 1
        raise self.error


def test_a_changed_space_is_refused_before_any_trial_is_asked(tmp_path):
    url = f"sqlite:///{tmp_path}/study.db"
    old_study(url)
    impl = sweeper(tmp_path)
    impl.launcher = Launcher(AssertionError("never launched"))
    with pytest.raises(ConfigError, match="sampling.num_neg was choice.2,4.,"):
        impl.sweep(["sampling.num_neg=choice(2,3)", "model=mf"])
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE]  # nothing asked
    assert impl.launcher.calls == 0


@pytest.mark.parametrize("where", ["launch", "custom_search_space"])
def test_an_error_in_the_sweeps_set_up_fails_its_trial(tmp_path, where, monkeypatch):
    """A trial's config that does not compose (the launcher raises), or a custom search
    space that raises: the asked trial is failed with the reason, then the error goes on."""
    options = {}
    if where == "custom_search_space":
        options["custom_search_space"] = "test_sweep_space_change.broken_space"
        monkeypatch.syspath_prepend(os.path.dirname(__file__))
    impl = sweeper(tmp_path, **options)
    impl.launcher = Launcher(ValueError("Error merging override batch.size=abc"))
    with pytest.raises(Exception, match="Error merging|custom space"):
        impl.sweep(["model=mf"])
    trials = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/study.db").trials
    assert [t.state for t in trials] == [TrialState.FAIL]
    assert trials[0].user_attrs["error"].startswith("sweep error before the trial was told")


def broken_space(cfg, trial) -> None:
    raise RuntimeError("custom space bug")


def test_name_from_space_names_study_folder_and_each_trial(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with initialize_config_dir(config_dir=str(CONF)):
        cfg = compose("config", overrides=["hydra.sweeper.study_name=s"],
                      return_hydra_config=True)
    impl = GraphrecSweeperImpl(study_name="s", study_name_from_space=True,
                               storage=cfg.hydra.sweeper.storage)
    impl.config = cfg
    (tmp_path / "multirun" / "s").mkdir(parents=True)  # as the writable-folder check left it
    impl._name_from_space({"sampling.num_neg": NUM_NEG})
    name = f"s-{study_space.space_suffix({'sampling.num_neg': NUM_NEG})}"
    assert impl.study_name == name and impl.config.hydra.sweep.dir == f"multirun/{name}"
    assert impl.storage == f"sqlite:///multirun/{name}/study.db"
    assert impl.job_overrides == [f"hydra.sweeper.study_name={name}"]
    assert not (tmp_path / "multirun" / "s").exists()


@pytest.mark.parametrize("key, value", [("repeats", 0), ("max_failure_rate", 2),
                                        ("n_jobs", 0), ("heartbeat_interval", -1),
                                        ("direction", "up")])
def test_options_are_checked_as_config_errors(key, value):
    with pytest.raises(ConfigError, match=f"hydra.sweeper.{key}"):
        impl = GraphrecSweeperImpl(**{key: value})
        impl._directions()


@pytest.mark.slow
def test_cli_says_it_in_one_line_and_exits_2(tmp_path):
    """``train.py -m`` on a study whose num_neg range was choice(2,4): exit 2 with one line,
    no traceback, no trial asked (nothing trains)."""
    old_study(f"sqlite:///{tmp_path}/study.db", "mf-synthetic-both", ["maximize"] * 2)
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "-m", f"hydra.sweep.dir={tmp_path}",
         *[a for a in TINY if not a.startswith("sampling.num_neg")],
         "sampling.num_neg=choice(2,3)"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=240)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert "sampling.num_neg was choice(2,4), now choice(2,3)" in error
    study = optuna.load_study(study_name="mf-synthetic-both",
                              storage=f"sqlite:///{tmp_path}/study.db")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE]


def test_name_from_space_needs_a_folder_named_after_the_study(tmp_path):
    impl = sweeper(tmp_path, study_name_from_space=True)  # hydra.sweep.dir fixed: tmp_path
    with pytest.raises(ConfigError, match="hydra.sweeper.study_name_from_space=true with "
                                          "hydra.sweep.dir"):
        impl._name_from_space({"sampling.num_neg": NUM_NEG})
