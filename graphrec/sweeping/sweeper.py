"""graphrec's sweeper: hydra-optuna-sweeper's study loop, made resumable and failure-aware.

What it changes from hydra-optuna-sweeper 1.4.0rc3 (whose search-space parsing it reuses):

* Hydra's job number is the Optuna trial number, so trial folders (``${hydra.job.num}``)
  continue on resume instead of restarting at 0 and overwriting earlier trials;
* the sampler is seeded per trial from (seed, trial number), so a resumed study does not
  propose its first parameters again (:mod:`.sampler`);
* a trial that raises, returns a non-finite value or writes a ``metrics.json`` whose status is
  not ``completed`` (a diverged run) is a failed trial: its reason goes to ``error.txt`` in its
  folder and to the trial's ``error`` user attribute, and the sweep goes on until more than
  ``max_failure_rate * n_trials`` trials of this invocation have failed;
* a trial left RUNNING by a sweep process that was killed is failed through Optuna's
  heartbeat: the sweep records each running trial's heartbeat, and fails the study's stale
  trials (``optuna.storages.fail_stale_trials``) when it opens the study and before each
  batch (:mod:`.heartbeat`; ``heartbeat_interval``, ``grace_period``);
* ``conditions``: a searched key may be searched only when other keys take given values
  (``loader.num_workers`` only for ``loader=workers``), define-by-run (:mod:`.space`);
* ``rows``: a fixed, ordered list of cumulative override rows instead of sampled trials,
  each run ``repeats`` times (``trainer.seed`` = the row's seed + 0, 1, ...), row-major;
* the SQLite file's folder is created, and the study's directions and search space are checked
  when it opens, before any trial is asked (:mod:`.study_space`); ``study_name_from_space``
  gives each search space its own study and folder;
* an error in the sweep's own set-up (a trial's config that does not compose, a custom search
  space that raises) fails the trials it had asked, with the reason, before it propagates;
  graphrec's errors in the sweep's options end it with one line and exit code 2;
* the time left after each trial is estimated from the study's trials like the next ones
  (:mod:`.eta`), not from this invocation's first trials;
* several processes may share the study: opening it is retried while another process creates
  it (:mod:`.storage`), and the results file is written under a lock (:mod:`.results`).

It is a Hydra ``Sweeper`` of its own, written against Hydra's and Optuna's public API; of
hydra-optuna-sweeper it uses the schema of its options (:mod:`.options`) and its parsing of
sweep overrides into Optuna distributions (``create_params_from_overrides``, the one function
of its private ``_impl`` module left: it follows Hydra's override grammar, which a copy would
have to track).
"""
from __future__ import annotations

import functools
import logging
import math
import os
import re
import time
import traceback
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import optuna
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.utils import instantiate
from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
from hydra_plugins.hydra_optuna_sweeper.config import Direction
from omegaconf import OmegaConf, open_dict, read_write
from optuna.trial import TrialState

from .. import errors
from ..errors import ConfigError, GraphrecError
from ..reporting.run_record import RunRecord, Target
from . import eta, report, study_space
from .heartbeat import OWNER, Heartbeat, StaleTrialCallback, ask, fail_stale_trials
from .options import NOT_OPTIONS, GraphrecSweeperConf
from .resolvers import OBJECTIVES
from .results import write_results
from .sampler import TrialSeededSampler
from .space import SearchSpace
from .storage import open_storage, open_study, shown

log = logging.getLogger(__name__)
SAMPLER_TARGETS = ("hydra_plugins.hydra_optuna_sweeper.*", "optuna.samplers.*")
PRUNER_TARGETS = ("optuna.pruners.*",)


class SweepAborted(RuntimeError):
    """More trials failed than ``max_failure_rate`` allows."""


@contextmanager
def one_line_errors():
    """A graphrec error in the sweep's options or set-up: one line and exit code 2, as
    every graphrec command says it (the traceback only with HYDRA_FULL_ERROR=1)."""
    try:
        yield
    except GraphrecError as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        raise SystemExit(errors.report(e)) from None


def _override_value(text: str) -> str:
    """``text`` as a value in Hydra's override grammar: quoted unless plainly safe."""
    if re.fullmatch(r"[\w.\-/:@]+", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _trial_line(study, trial, state: str, names, k: int, todo: int, left: str) -> str:
    """``trial 4/20 (#12) complete: time_to_target_s=31.2 | best so far ... | ~3 min left |
    multirun/STUDY/12``: number, values (or why not), status, estimate, folder."""
    frozen = next((t for t in study.get_trials(deepcopy=False) if t.number == trial.number),
                  None)
    line = f"trial {k}/{todo} (#{trial.number}) {state}"
    if state == "complete" and frozen is not None and frozen.values:
        line += ": " + " ".join(f"{n}={_num(v)}" for n, v in zip(names, frozen.values))
    elif frozen is not None:
        line += ": " + str(frozen.user_attrs.get("reason") or frozen.user_attrs.get("error"))[:120]
    if len(study.directions) == 1:
        try:
            best = study.best_trial
            line += f" | best so far #{best.number} {names[0]}={_num(best.value)}"
        except ValueError:
            pass
    if k < todo and left:
        line += f" | {left}"
    if frozen is not None and frozen.user_attrs.get("run_dir"):
        line += f" | {frozen.user_attrs['run_dir']}"
    return line


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


class GraphrecSweeperImpl(Sweeper):
    """The sweeper; ``options``: the keys of ``hydra.sweeper`` (:class:`.GraphrecSweeperConf`
    declares them and their defaults)."""

    def __init__(self, **options) -> None:
        opts = GraphrecSweeperConf(**options)
        for f in fields(opts):
            if f.name not in NOT_OPTIONS:
                setattr(self, f.name, getattr(opts, f.name))
        self._check_options()
        self.custom_search_space_extender = None
        if self.custom_search_space:  # a dotted path to f(config, trial), as in Optuna's
            self.custom_search_space_extender = instantiate(
                {"_target_": self.custom_search_space, "_partial_": True})
        self.job_overrides: list = []  # added to every trial's (study_name_from_space)

    def _check_options(self) -> None:
        rate, repeats = self.max_failure_rate, self.repeats
        interval, grace = self.heartbeat_interval, self.grace_period
        if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ConfigError(f"hydra.sweeper.max_failure_rate={rate!r}: a share between 0 and "
                              "1 of the invocation's trials that may fail")
        if not isinstance(self.n_jobs, int) or self.n_jobs < 1:
            raise ConfigError(f"hydra.sweeper.n_jobs={self.n_jobs!r}: an integer >= 1, the "
                              "trials launched at once")
        if not isinstance(repeats, int) or repeats < 1:
            raise ConfigError(f"hydra.sweeper.repeats={repeats!r}: an integer >= 1 (runs of "
                              "each listed row, trainer.seed = the row's + 0, 1, ...)")
        if interval is not None and interval <= 0:
            raise ConfigError(f"hydra.sweeper.heartbeat_interval={interval}: a positive "
                              "number of seconds, or null for no heartbeat")
        if interval is not None and grace is not None and grace <= interval:
            raise ConfigError(f"hydra.sweeper.grace_period={grace} must exceed "
                              f"heartbeat_interval={interval}, else live trials are failed as "
                              "stale (3x the interval is a sensible value)")

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)

    def _directions(self) -> list:
        given = self.direction
        given = list(given) if OmegaConf.is_list(given) or isinstance(given, (list, tuple)) \
            else [given]
        directions = [(d.name if isinstance(d, Direction) else str(d)).lower() for d in given]
        wrong = [d for d in directions if d not in ("minimize", "maximize")]
        if wrong or not directions:
            raise ConfigError(f"hydra.sweeper.direction={directions}: each minimize or "
                              "maximize, one per objective")
        return directions

    # ------------------------------------------------------------------------- study
    def _make_sampler(self) -> TrialSeededSampler:
        def make(seed):
            sampler = instantiate(self.sampler, seed=seed,
                                  _execution_whitelist_=SAMPLER_TARGETS)
            if isinstance(sampler, functools.partial):
                raise ConfigError("hydra/sweeper/sampler=grid is not supported by graphrec's "
                                  "sweeper: list the points as hydra.sweeper.rows instead")
            return sampler
        return TrialSeededSampler(make, self.sampler.get("seed"))

    def _name_from_space(self, space: dict) -> None:
        """``study_name_from_space``: the study, and with the default storage and sweep
        folder (both named after the study) its folder, named ``<study_name>-<8 hex>``. Each
        trial's config is composed anew from its overrides, so it gets the name too."""
        name = f"{self.study_name}-{study_space.space_suffix(space)}"
        unnamed = Path(self.config.hydra.sweep.dir)
        with read_write(self.config.hydra), open_dict(self.config.hydra):
            self.config.hydra.sweeper.study_name = name
        if unnamed == Path(self.config.hydra.sweep.dir):  # trial folders are numbered per study
            raise ConfigError(
                f"hydra.sweeper.study_name_from_space=true with hydra.sweep.dir={unnamed}: the "
                "folder must follow the study's name (the default, multirun/"
                "${hydra.sweeper.study_name}), else studies of other spaces would write the "
                "same trial folders")
        try:  # made empty by graphrec's writable-folder check; a used one stays
            unnamed.rmdir()
        except OSError:
            pass
        self.study_name = name
        self.storage = OmegaConf.select(self.config, "hydra.sweeper.storage")
        self.job_overrides = [f"hydra.sweeper.study_name={_override_value(name)}"]
        log.info("study named by its search space (hydra.sweeper.study_name_from_space): %s",
                 name)

    def _open_study(self, directions: list, space: dict) -> optuna.Study:
        storage = str(self.storage) if self.storage else None
        if storage and storage.startswith("sqlite:///"):
            Path(storage[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        sampler = self._make_sampler()
        pruner = (instantiate(self.pruner, _execution_whitelist_=PRUNER_TARGETS)
                  if self.pruner else optuna.pruners.NopPruner())
        heartbeat = {}
        if self.heartbeat_interval is not None:
            grace = (self.grace_period if self.grace_period is not None
                     else 2 * self.heartbeat_interval)  # Optuna's own default
            heartbeat = dict(heartbeat_interval=self.heartbeat_interval, grace_period=grace,
                             on_stale=StaleTrialCallback(grace))
        rdb = open_storage(storage, **heartbeat)
        study = open_study(self.study_name, rdb, sampler, directions, pruner)
        self.heartbeat = Heartbeat(rdb, study.study_name)
        found = [d.name.lower() for d in study.directions]
        if found != directions:
            raise ConfigError(f"hydra.sweeper.direction: study {study.study_name!r} in "
                              f"{shown(storage)} has directions {found}, this sweep asks for "
                              f"{directions} (sweep.objective changed?): set "
                              "hydra.sweeper.study_name to start another study")
        log.info("Study %s | storage %s | sampler %s seeded per trial | pruner %s | "
                 "directions %s | %d trials already in it | heartbeat %s", study.study_name,
                 shown(storage), sampler.name, type(pruner).__name__, directions,
                 len(study.trials),
                 f"every {heartbeat['heartbeat_interval']} s, stale after "
                 f"{heartbeat['grace_period']} s" if heartbeat and rdb else "off")
        fail_stale_trials(study)
        # before any trial is asked: Optuna would refuse a changed range in suggest, with
        # the trial asked already
        study_space.check(study, space, shown(storage), self.study_name_from_space)
        return study

    # ------------------------------------------------------------------------- trials
    def _configure_trials(self, trials, space: SearchSpace, fixed: dict,
                          fixed_overrides: list) -> list:
        """hydra-optuna-sweeper's ``_configure_trials`` on a conditional space: each trial
        suggests what applies to it (:meth:`SearchSpace.suggest`); fixed values are recorded
        as user attributes, as there."""
        overrides = []
        for trial in trials:
            params = space.suggest(trial)
            for name, value in fixed.items():
                trial.set_user_attr(name, value)
            if self.custom_search_space_extender:
                self.custom_search_space_extender(self.config, trial)
                params = dict(trial.params)
            overlap = params.keys() & fixed.keys()
            if overlap:
                raise ConfigError("hydra.sweeper.custom_search_space suggests keys that are "
                                  f"fixed: {', '.join(sorted(overlap))}")
            params.update(fixed)
            overrides.append([f"{name}={value}" for name, value in params.items()]
                             + list(fixed_overrides))
        return overrides

    def _row_overrides(self, fixed: dict, fixed_overrides: list) -> list:
        """One override list per row and repeat; each row adds its overrides to the previous
        row's (a later value of the same key wins), as the guide's '+ this' tables do. Repeat
        ``i`` of a row sets ``trainer.seed`` to the row's seed + i; a row's repeats run one
        after another (row-major), under the row's label, so compare averages them."""
        state, jobs = dict(fixed), []
        base = OmegaConf.select(self.config, "trainer.seed", default=0)
        for name, row in self.rows.items():
            space, row_fixed, row_deletes = create_params_from_overrides(list(row))
            if space:
                raise ConfigError(f"hydra.sweeper.rows.{name}: rows take plain values, "
                                  f"not sweeps ({', '.join(space)})")
            state.update(row_fixed)
            fixed_overrides = fixed_overrides + row_deletes
            seed = int(state.get("trainer.seed", base))
            for i in range(self.repeats):
                row_state = {**state, "trainer.seed": seed + i} if self.repeats > 1 else state
                jobs.append((name, [f"{k}={v}" for k, v in row_state.items()]
                             + fixed_overrides + [f"sweep.label={name}"]))
        return jobs

    def _launch(self, trials: list, overrides: list) -> list:
        """Launch so that each job's number is its trial's number (consecutive runs of trial
        numbers go together; another process sharing the study may take numbers between)."""
        returns, start = [], 0
        for end in range(1, len(trials) + 1):
            if end == len(trials) or trials[end].number != trials[end - 1].number + 1:
                returns += self.launcher.launch(overrides[start:end],
                                                initial_job_idx=trials[start].number)
                start = end
        return returns

    @staticmethod
    def _values(ret, record: RunRecord, n_values: int, objective: str) -> list:
        """The trial's values from its return and its ``metrics.json`` (``record``, an empty
        RunRecord when none was written); raises TrialPruned (the pruner stopped it, or the
        target was not reached) or any other error (the trial failed), with the reason."""
        status = record.status
        if status == "pruned":
            raise optuna.TrialPruned(f"pruned by the study's pruner after validation "
                                     f"{record.validations}")
        value = ret.return_value  # raises the trial's own exception when the job failed
        if status != "completed":
            where = record.stopped_at
            raise RuntimeError(f"run ended with status {status!r}"
                               + (f" at {where}" if where else ""))
        target = record.target or Target()
        if objective == "time_to_target" and not target.target_reached:
            raise optuna.TrialPruned(
                f"target {target.metric} >= {target.value} not reached within "
                f"the trial's budget (stopped by {record.stop_reason} after "
                f"{record.throughput.wall_s or 0:.0f} s; best val "
                f"{record.split('val').get(target.metric, float('nan')):.4f})")
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        values = [float(v) for v in values]
        if len(values) != n_values:
            raise ValueError(f"train.py returned {len(values)} values, the study has "
                             f"{n_values} objectives")
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"objective values are not finite: {values}")
        return values

    def _tell(self, study, trial, ret, n_values: int, objective: str) -> str:
        """Tell the study how the trial ended; returns its state's name ("stale" when another
        process failed it already: its heartbeat stopped for longer than the grace period)."""
        try:
            return self._tell_once(study, trial, ret, n_values, objective)
        except optuna.exceptions.UpdateFinishedTrialError as e:
            log.warning("trial %d was failed by another sweep process while it ran (its "
                        "heartbeat was older than hydra.sweeper.grace_period: raise it if "
                        "this machine is that busy); its result is not recorded: %s",
                        trial.number, e)
            return "stale"

    def _tell_once(self, study, trial, ret, n_values: int, objective: str) -> str:
        run_dir = Path(ret.hydra_cfg.hydra.runtime.output_dir)
        trial.set_user_attr("run_dir", str(run_dir))
        try:
            record = RunRecord.load(run_dir / "metrics.json")
            status = record.status
        except (OSError, ValueError):
            # none written (a bad config, a crash): `error` below says why
            record, status = RunRecord.from_json({}), "error"
        # what optuna-dashboard shows beside each trial: how it ended and how fast it ran
        trial.set_user_attr("status", status)
        speed = record.throughput.samples_per_s
        if speed is not None:
            trial.set_user_attr("samples_per_s", speed)
        to_target = record.target.time_to_target_s if record.target else None
        if to_target is not None:
            trial.set_user_attr("time_to_target_s", to_target)
        try:
            values = self._values(ret, record, n_values, objective)
        except optuna.TrialPruned as e:
            trial.set_user_attr("reason", str(e))
            (run_dir / "pruned.txt").write_text(f"{e}\n")
            study.tell(trial, state=TrialState.PRUNED)
            log.info("trial %d pruned: %s (%s)", trial.number, e, run_dir)
            return "pruned"
        except Exception as e:  # any reason a trial cannot count: record it, go on
            reason = f"{type(e).__name__}: {e}"
            (run_dir / "error.txt").write_text(
                f"{reason}\n\n{''.join(traceback.format_exception(e))}")
            trial.set_user_attr("error", reason[:2000])
            study.tell(trial, state=TrialState.FAIL)
            log.warning("trial %d failed: %s (%s)", trial.number, reason, run_dir)
            return "failed"
        study.tell(trial, values=values)
        return "complete"

    def _interrupted(self, study, trials, names, results: Path) -> None:
        """Fail the open trials as ``interrupted``, write the summary of the trials so far,
        say how to go on, and leave with exit code 130 and no traceback."""
        for trial in trials:
            reason = "interrupted: the sweep was stopped (Ctrl-C or SIGTERM) during the trial"
            trial.set_user_attr("error", reason)
            run_dir = Path(self.config.hydra.sweep.dir) / str(trial.number)
            if run_dir.is_dir():
                (run_dir / "error.txt").write_text(reason + "\n")
            try:
                study.tell(trial, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # failed as stale by another process meanwhile
        write_results(study, names, results)
        log.warning("sweep interrupted; trial %s marked failed. Run the same command again to "
                    "resume study %s (new trials continue the numbering)",
                    ", ".join(str(t.number) for t in trials), study.study_name)
        raise SystemExit(130)

    # ------------------------------------------------------------------------- the loop
    def sweep(self, arguments: list) -> None:
        params = [f"{k!s}={v}" for k, v in (self.params or {}).items()]
        space, fixed, fixed_overrides = create_params_from_overrides(params + list(arguments))
        for name in fixed:
            space.pop(name, None)
        space = SearchSpace(space, fixed, self.conditions, self.config)
        if space.conditions:
            log.info("Conditional keys: %s", space.describe())
        if self.rows and space.space:
            raise ConfigError("hydra.sweeper.rows and a search space in hydra.sweeper.params "
                              f"({', '.join(space.space)}) exclude each other: set "
                              "hydra.sweeper.params=null in a listed sweep")
        rows = self._row_overrides(fixed, fixed_overrides) if self.rows else None
        directions = self._directions()
        objective = OmegaConf.select(self.config, "sweep.objective", default=None)
        names = ([name for name, _ in OBJECTIVES[objective]] if objective in OBJECTIVES
                 else [f"value{i}" for i in range(len(directions))])
        # the Recall@K train.py returns: @10 under a trainer.ks=[10] preset, not @20
        metric = "val_" + report.objective_metric(self.config)
        names = [metric if n == "val_recall@20" else n for n in names]
        if self.study_name_from_space and not rows:  # rows search nothing
            self._name_from_space(space.space)
        study = self._open_study(directions, space.space)
        results = Path(self.config.hydra.sweep.dir) / "optimization_results.yaml"

        todo = len(rows) if rows else self.n_trials
        allowed = int(self.max_failure_rate * todo)
        done = failed = 0
        self.elapsed = 0.0
        while done < todo:
            if done:
                fail_stale_trials(study)  # a process sharing the study may have died meanwhile
            trials = [ask(study) for _ in range(min(self.n_jobs, todo - done))]
            try:
                failed += self._batch(study, trials, done, todo, rows, space, fixed_overrides,
                                      names, directions, objective, results)
            except BaseException as e:  # no trial of a failed set-up is left RUNNING
                self._fail_open(study, trials, e)
                raise
            done += len(trials)
            if failed > allowed:
                write_results(study, names, results)
                raise SweepAborted(
                    f"{failed} of {done} trials failed; max_failure_rate="
                    f"{self.max_failure_rate} of {todo} trials allows {allowed}. Reasons are "
                    f"in each failed trial's error.txt under {self.config.hydra.sweep.dir}")
        write_results(study, names, results)

    def _batch(self, study, trials, done, todo, rows, space, fixed_overrides, names,
               directions, objective, results) -> int:
        """Launch and tell one batch of asked trials; returns how many failed."""
        failed = 0
        with self.heartbeat.beating(trials):  # from the ask to the tell
            sweep_dir = Path(self.config.hydra.sweep.dir)
            for trial in trials:  # known before launch, so a killed trial can be traced
                trial.set_user_attr("owner", OWNER)
                trial.set_user_attr("run_dir", str(sweep_dir / str(trial.number)))
            if rows:
                batch = rows[done:done + len(trials)]
                for trial, (name, _) in zip(trials, batch):
                    trial.set_user_attr("row", name)
                overrides = [job for _, job in batch]
            else:
                overrides = self._configure_trials(trials, space, space.fixed,
                                                   fixed_overrides)
            overrides = [list(job) + self.job_overrides for job in overrides]
            for trial in trials:
                report.register(trial)
            t_batch = time.perf_counter()
            try:
                returns = self._launch(trials, overrides)
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the run saved what it could
                self._interrupted(study, trials, names, results)
            finally:
                for trial in trials:
                    report.release(trial.number)
            self.elapsed += time.perf_counter() - t_batch
            for i, (trial, ret) in enumerate(zip(trials, returns)):
                state = self._tell(study, trial, ret, len(directions), objective)
                failed += state in ("failed", "stale")
                done_one = done + i + 1
                log.info(_trial_line(study, trial, state, names, done_one, todo,
                                     self._left(study, done_one, todo, rows, space)))
        return failed

    def _left(self, study, done: int, todo: int, rows, space: SearchSpace) -> str:
        """``~3.1 min left``: from the study's timed trials like the next ones (:mod:`.eta`),
        else from this invocation's mean time per trial."""
        remaining = todo - done
        left, note = eta.estimate(study.get_trials(deepcopy=False), remaining, self.n_jobs,
                                  fixed=space.fixed, space=space.space,
                                  next_rows=[n for n, _ in rows[done:]] if rows else None)
        if left is None:
            left = self.elapsed / done * remaining
        return eta.shown(left, note)

    def _fail_open(self, study, trials, error: BaseException) -> None:
        """Fail the asked trials still RUNNING after ``error`` ended their batch, saying why,
        so none waits for the stale-trial check (or forever, without heartbeat)."""
        reason = f"sweep error before the trial was told: {type(error).__name__}: {error}"
        states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
        for trial in trials:
            if states.get(trial.number) != TrialState.RUNNING:
                continue  # told, or failed as interrupted or stale meanwhile
            try:
                trial.set_user_attr("error", reason[:2000])
                study.tell(trial, state=TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            run_dir = Path(self.config.hydra.sweep.dir) / str(trial.number)
            if run_dir.is_dir() and not (run_dir / "error.txt").exists():
                (run_dir / "error.txt").write_text(reason + "\n")
            log.warning("trial %d marked failed: %s", trial.number, reason)
