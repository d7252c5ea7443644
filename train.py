"""Entry point: ``python train.py [overrides]`` for one run, ``python train.py -m`` to sweep.

Returns the sweep objective(s) so the Optuna sweeper can read them. In a single run a bad
config or a failed run ends with a one-line message and a non-zero exit code (the traceback
only with HYDRA_FULL_ERROR=1); in a sweep it raises, so the trial is recorded as failed."""
import os
import sys

# Idle OpenMP threads sleep instead of spinning (unless you set it): on a shared machine a
# thread spinning for a descheduled sibling made CPU runs ~50x slower (12,518 vs 261
# samples/s measured side by side). Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from hydra.types import RunMode  # noqa: E402

import graphrec.config  # noqa: F401,E402  (registers the schemas in Hydra's ConfigStore)
from graphrec.errors import EXIT_USER, GraphrecError, report  # noqa: E402
from graphrec.reporting.record import record_error, summary  # noqa: E402
from graphrec.reporting.run_record import RunRecord  # noqa: E402
from graphrec.sweeping.report import objective_metric, reporter  # noqa: E402
from graphrec.training import train  # noqa: E402
from graphrec.training.resume import resumed_config, resumed_folder  # noqa: E402
from graphrec.training.streams import guarded  # noqa: E402

EXIT_CODES = {"diverged": 3, "oom": 4, "interrupted": 130}
STARTED = []  # set once Hydra has composed a config and called main


class RunFailed(RuntimeError):
    """A run that ended without a result (diverged, out of memory, interrupted)."""


def objective(cfg, metrics):
    """What the sweep reads (graphrec/sweeping/resolvers.py: OBJECTIVES); None when a
    time_to_target run missed its target (the sweeper prunes the trial, saying so).
    ``metrics``: the run's RunRecord (or its JSON, as ``train`` returns it)."""
    record = metrics if isinstance(metrics, RunRecord) else RunRecord.from_json(metrics)
    recall = record.split("val")[objective_metric(cfg)]
    speed = record.throughput.samples_per_s
    return {"both": (speed, recall), "accuracy": recall, "throughput": speed,
            "accuracy_at_budget": recall,
            "time_to_target": record.target.time_to_target_s if record.target else None,
            }[cfg.sweep.objective]


def fail(message: str, code: int, multirun: bool, exc: Exception = None):
    if multirun and code == EXIT_CODES["interrupted"]:
        raise KeyboardInterrupt(message)  # stops the sweep; the trial is failed on resume
    if multirun or os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise (exc or RunFailed(message))
    if isinstance(exc, GraphrecError):
        sys.exit(report(exc))  # `error: <one line>`, as every graphrec command
    print(f"graphrec: {message}", file=sys.stderr)
    sys.exit(code)


# Config-selected targets Hydra may instantiate: our callbacks, the sweeper and its samplers.
TRUSTED = ["graphrec.*", "hydra_plugins.*", "optuna.*"]


@hydra.main(config_path="conf", config_name="config", execution_whitelist=TRUSTED)
def main(cfg):
    STARTED.append(True)
    hc = HydraConfig.get()
    out_dir, multirun = hc.runtime.output_dir, hc.mode == RunMode.MULTIRUN
    report = reporter(hc.job.num, cfg) if multirun else None
    try:
        if cfg.trainer.resume:
            cfg = resumed_config(cfg, hc.overrides.task)
            out_dir = resumed_folder(out_dir, cfg.trainer.resume)
        metrics = train(cfg, out_dir=out_dir, report=report)
    except GraphrecError as exc:
        if not multirun:  # the sweeper writes a failed trial's own error.txt
            record_error(hc.runtime.output_dir, exc, keep=cfg.trainer.resume)
        return fail(str(exc), EXIT_USER, multirun, exc)
    record = RunRecord.from_json(metrics)
    status = record.status
    if status == "pruned":  # only in a sweep: the sweeper tells the study so
        return None
    if status != "completed":
        where = record.stopped_at or {}
        detail = f" ({record.error})" if record.error else ""
        run_dir = out_dir
        hint = f"; resume with trainer.resume={run_dir}" if status == "interrupted" else ""
        return fail(f"run {status} at epoch {where.get('epoch')} step {where.get('step')}"
                    f"{detail}{hint}; record in {run_dir}", EXIT_CODES[status], multirun)
    print(summary(cfg, record, out_dir))
    return objective(cfg, record)


def _quiet_workers() -> None:
    """Under torchrun every rank runs this script; rank 0 alone keeps a run folder."""
    if int(os.environ.get("RANK", "0")) > 0:
        import tempfile

        sys.argv += ["hydra.output_subdir=null",
                     f"hydra.run.dir={tempfile.mkdtemp(prefix='graphrec-rank')}"]


if __name__ == "__main__":
    _quiet_workers()
    try:
        with guarded():  # a closed stdout/stderr (| head, | tee on Ctrl-C) stops the run cleanly
            main()
    except SystemExit as exc:
        # Hydra exits 1 when it cannot compose the config (a mistyped key or option, with
        # its "Did you mean"): a user's mistake, exit 2 as in every graphrec command. Once
        # main has run, 1 is a bug's traceback and stays 1.
        if exc.code == 1 and not STARTED:
            sys.exit(EXIT_USER)
        raise
