"""``train(cfg) -> metrics``: one run from config to run record.

The step does no host sync: losses accumulate on the device and are read, with throughput
and memory, only every ``trainer.log_every`` steps and at the end of an epoch. That is also
where NaN/Inf is caught. Ctrl-C, SIGTERM, SIGHUP or a closed stdout/stderr finishes the
current step, writes ``last.pt`` and returns ``status: interrupted``; the same resumable
state is written every ``trainer.checkpoint_every_s`` seconds (or ``_steps``), so a killed
run loses at most that. ``trainer.resume=RUN_DIR`` continues from it. A checkpoint or record
write that fails (a full disk) keeps the previous file and says so in one line.
"""
from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from omegaconf import OmegaConf

from ..config import (ConfigError, require_writable, resolve_impl, validate,
                      validate_against_data)
from ..data import load_data
from ..errors import CheckpointError
from ..evaluation import evaluate
from ..models import build_model
from ..reporting import per_user, write_json
from ..reporting.loggers import Loggers
from ..reporting.run_record import (Evaluation, Memory, RunInfo, RunRecord, Target,
                                    Throughput)
from ..sampling import build_sampler, describe, step_slots, strategy
from . import accel, advice, checkpoint, distributed, optim, progress_bar, threads
from .clock import Clock
from .cost import Projection
from .faults import Fault, InterruptFlag
from .meter import ThroughputMeter, peak_memory
from .meter import sync as meter_sync
from .precision import Precision
from .state import Progress, restore, snapshot
from .stopping import Rules, StopReason, reason_of

log = logging.getLogger(__name__)

# A time-triggered checkpoint waits at least this many times its last write's duration, so
# writing them never takes more than 1 % of the clock, however large the model.
CHECKPOINT_SPACING = 100


def scaled_lr(cfg) -> float:
    ratio = cfg.batch.size / 256
    factor = {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[cfg.batch.lr_scaling]
    return cfg.model.lr * factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def protocol(cfg) -> str:
    """evaluation.exclude; a run recorded before the key existed was ranked as ``train``."""
    return OmegaConf.select(cfg, "evaluation.exclude", default="train")


def _flat_eval(model, data, split, cfg, device, per_user: Optional[dict] = None) -> dict:
    model.eval()
    with torch.no_grad():
        res = evaluate(model.scorer(), data, split, ks=list(cfg.trainer.ks), device=device,
                       chunk_users=cfg.trainer.eval_chunk_users, exclude=protocol(cfg),
                       per_user=per_user)
    model.train()
    return {f"{split}{suffix}": vals for suffix, vals in res.items()}


class Run:
    """One training run's moving parts; ``train`` below is the only caller."""

    def __init__(self, cfg, out: Path, data, device: torch.device,
                 world: distributed.World = distributed.World(), report=None):
        self.cfg, self.out, self.data, self.device, self.world = cfg, out, data, device, world
        self.report = report
        self.rules = Rules(cfg.trainer, report)  # when to stop: stopping.py
        self.loggers = Loggers()  # the chosen loggers on rank 0 (_train), none elsewhere
        self.due_at_end = False
        self.clock = Clock()
        self.impl = resolve_impl(cfg)
        model = build_model(cfg.model, data, self.impl).to(device)
        model.row_grads = optim.row_grads(cfg)  # lazy_adam: sparse gradients of the rows
        if model.row_grads and world.size > 1:
            raise ConfigError("optimizer=lazy_adam is invalid with more than one process: "
                              "DDP would all-reduce its sparse gradients densely (allowed: "
                              "optimizer=adam under torchrun)")
        if model.row_grads and OmegaConf.select(cfg, "sampling.strategy",
                                                default="per_sample") == "per_sample":
            log.warning("optimizer=lazy_adam with per-sample negatives: every step coalesces "
                        "its B x (1 + num_neg) gathered rows; on a small catalogue adam is "
                        "faster (MF 8.5x at the seed's shape); it pays with shared ones")
        self.model = accel.prepare(model, cfg, device)
        self.step_model = distributed.wrap(self.model, world, device)
        self.sampler = build_sampler(data, cfg, device, rank=world.rank, world=world.size)
        self.precision = Precision(cfg.precision.mode, device)
        self.lr = scaled_lr(cfg)
        self.optimizer = optim.make_optimizer(self.model.parameters(), self.lr, self.impl, cfg)
        self.scheduler = optim.make_scheduler(self.optimizer, cfg, len(self.sampler))
        self.impl = self.model.impl_for(step_slots(cfg, world.size))
        self.meter = ThroughputMeter(device)
        self.threads = torch.get_num_threads()  # the process's: validation keeps them
        self.step_threads = threads.step_threads(cfg, self.model, device)  # 0: the same
        self.cost = Projection(cfg, len(self.sampler), world.size, world.is_main)  # cost.py
        self.resumed_step = 0  # steps a resumed run had done: the projection counts the rest
        self.fault = Fault(cfg.trainer.fail_after_steps, cfg.trainer.fail_kind,
                           armed=not cfg.trainer.resume)
        self.p = Progress()
        self.status, self.cause = "completed", ""
        self.best_path, self.last_path = out / "best.pt", out / "last.pt"
        # periodic checkpoints, as plain values (read per step); rank 0 alone writes them
        t = cfg.trainer
        self.ckpt_every_steps = t.checkpoint_every_steps if world.is_main else 0
        self.ckpt_every_s = t.checkpoint_every_s if world.is_main else 0.0
        self.ckpt_write_s = 0.0    # the last write's duration (CHECKPOINT_SPACING)
        self.ckpt_t = 0.0          # time.monotonic() at the last one (or training's start)
        self.saved_step = None     # the step last.pt on disk holds, if any
        self.best_pending = None   # best weights a failed write left in memory only
        self._epoch_t0 = 0.0       # training seconds when the current epoch (re)started
        self.row_failed = False    # a row could not be written (said once)

    # ------------------------------------------------------------------ checkpoints
    def _write_last(self, progress: Progress) -> bool:
        """``last.pt`` holding ``progress``; False, saying so in one line, when the write
        fails (the previous file is then kept whole)."""
        if not self.world.is_main:
            return True
        kept = (f"the one of step {self.saved_step} is kept" if self.saved_step is not None
                else "there is no resumable checkpoint yet")
        if not self._write_best_pending():
            log.warning("not writing %s at step %d: best.pt must be written first and cannot "
                        "be; %s", self.last_path, progress.step, kept)
            return False
        state = snapshot(self.model, self.optimizer, progress, self.scheduler)
        if self.precision.scaler is not None:
            state["scaler"] = self.precision.scaler.state_dict()
        try:
            checkpoint.save_atomic(state, self.last_path)
        except OSError as exc:
            log.warning("could not write %s at step %d (%s): %s", self.last_path, progress.step,
                        checkpoint.reason(exc), kept)
            return False
        self.saved_step = progress.step
        return True

    def _save_best(self) -> None:
        """``best.pt``; when the write fails the weights stay in memory (the final evaluation
        reads them) and are written before the next ``last.pt``, which must not get ahead."""
        state = self.model.state_dict()
        try:
            checkpoint.save_atomic(state, self.best_path)
            self.best_pending = None
        except OSError as exc:
            self.best_pending = {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
            log.warning("could not write %s at epoch %d step %d (%s): the previous file is "
                        "kept; the new best weights stay in memory for the final evaluation",
                        self.best_path, self.p.epoch, self.p.step, checkpoint.reason(exc))

    def _write_best_pending(self) -> bool:
        if self.best_pending is None:
            return True
        try:
            checkpoint.save_atomic(self.best_pending, self.best_path)
        except OSError:
            return False
        self.best_pending = None
        return True

    def _checkpoint_due(self) -> bool:
        """By steps (exact, kept across a resume), or by this process's monotonic time since
        its last one: a plain clock read a step, not the run's clock (which it leaves be)."""
        p = self.p
        if self.ckpt_every_steps and p.step - p.last_ckpt_step >= self.ckpt_every_steps:
            return True
        return bool(self.ckpt_every_s) and time.monotonic() - self.ckpt_t >= max(
            self.ckpt_every_s, self.ckpt_write_s * CHECKPOINT_SPACING)

    def _checkpoint(self, loss_sum: Optional[torch.Tensor] = None) -> None:
        """The periodic ``last.pt``: the state an interrupt at this point would leave, on
        the clock as ``checkpoint_s`` (in wall time, not in training seconds or samples/s).
        Mid-epoch with the epoch's ``loss_sum`` so far; else at an epoch's end."""
        p, t = self.p, time.monotonic()
        with self.meter.paused(), self.clock.checkpointing():
            p.last_ckpt_step = p.step
            state = replace(p, wall_s=self.clock.wall(), eval_s=self.clock.eval_s,
                            checkpoint_s=self.clock.checkpoint_s, checkpoints=p.checkpoints + 1)
            if loss_sum is not None:
                state.loss_sum = float(loss_sum)
                state.epoch_s = p.epoch_s + self.clock.train() - self._epoch_t0
            if self._write_last(state):
                p.checkpoints += 1
        self.ckpt_t = time.monotonic()
        self.ckpt_write_s = self.ckpt_t - t

    def resume(self, run_dir: Path) -> None:
        ckpt = checkpoint.load_resumable(run_dir / "last.pt", self.device)
        self.p = restore(ckpt, self.model, self.optimizer, self.scheduler)
        if self.precision.scaler is not None and "scaler" in ckpt:
            self.precision.scaler.load_state_dict(ckpt["scaler"])
        self.saved_step = self.p.step
        if self.p.best_epoch >= 0:  # the final evaluation reads it: fail now, not at the end
            if not self.best_path.exists():
                raise CheckpointError(
                    f"cannot resume {run_dir}: {self.best_path} is missing (last.pt has its best "
                    f"validation at epoch {self.p.best_epoch}; the test metrics come from it)")
            checkpoint.load(self.best_path, self.device)
        self.resumed_step = self.p.step
        log.info("resumed %s at epoch %d, step %d", run_dir, self.p.epoch, self.p.step)

    # ------------------------------------------------------------------ the loop
    def fit(self, stop: InterruptFlag) -> None:
        cfg, p = self.cfg.trainer, self.p
        self.clock = Clock(p.wall_s, p.eval_s, p.checkpoint_s)
        self.clock.start()
        self.ckpt_t = time.monotonic()
        while p.epoch < cfg.epochs and self.status == "completed":
            self._epoch_t0 = self.clock.train()
            with threads.limited(self.step_threads):
                self._epoch(stop)
            p.epoch_s += self.clock.train() - self._epoch_t0
            self._save_clock()
            if self.status == "interrupted":
                self.cause = stop.cause
                self._interrupted(self._write_last(p))
                return
            keep_going = self._end_epoch()
            self._save_clock()
            if not keep_going:
                break
            if (self.ckpt_every_steps or self.ckpt_every_s) and self._checkpoint_due():
                self._checkpoint()
                self._save_clock()

    def _interrupted(self, saved: bool) -> None:
        """The line train.log ends with: why, where, and how to resume."""
        p, how = self.p, f"resume with: python train.py trainer.resume={self.out}"
        if self.report is not None:  # a sweep trial: the sweep resumes, not the trial
            how = "the sweep resumes the study"
        if saved:
            what = f"resumable checkpoint {self.last_path}; {how}"
        elif self.saved_step is not None:
            what = f"{self.last_path} of step {self.saved_step} is kept; {how} (from there)"
        else:
            what = "no resumable checkpoint could be written"
        log.warning("interrupted (%s) at epoch %d step %d: %s", self.cause or "signal",
                    p.epoch, p.step, what)

    def _save_clock(self) -> None:
        self.p.wall_s, self.p.eval_s = self.clock.wall(), self.clock.eval_s
        self.p.checkpoint_s = self.clock.checkpoint_s

    def _epoch(self, stop: InterruptFlag) -> None:
        cfg, p = self.cfg.trainer, self.p
        loss_sum = torch.full((), p.loss_sum, device=self.device)
        n_steps = len(self.sampler)
        bar = progress_bar.make(n_steps, p.epoch_step, f"epoch {p.epoch}", cfg.progress,
                                cfg.progress_every_s)
        self.meter.start()
        batches = self.sampler.epoch(p.epoch, start_step=p.epoch_step)
        # plain values: config reads cost microseconds each, per step
        log_every, max_steps, interrupt = cfg.log_every, self.rules.max_steps, \
            self.rules.interrupt
        clock_checks = bool(cfg.eval_every_steps or cfg.eval_every_s or cfg.time_budget_s)
        ckpt_checks = bool(self.ckpt_every_steps or self.ckpt_every_s)
        while True:
            # single process: the flag is asked before each step; under DDP at log points
            if not self.world.active and self._stop(interrupt.after_step(stop.is_set)):
                break
            t_wait = time.perf_counter()
            batch = next(batches, None)
            wait = time.perf_counter() - t_wait
            if batch is None:
                break
            loss_sum += self._step(*batch, wait)
            bar.update(1)
            last = max_steps.after_step(p.step) is not None  # _end_epoch records it
            log_point = p.step % log_every == 0 or last
            if log_point and self._log_point(float(loss_sum), bar, stop):
                break
            if last:
                break
            if clock_checks and self._clock_rules(log_point, loss_sum):
                break
            # the epoch's last step checkpoints after its end (fit): its validation first
            if ckpt_checks and p.epoch_step < n_steps and self._checkpoint_due():
                self._checkpoint(loss_sum)
        self.meter.mark()
        bar.close()
        p.loss_sum = float(loss_sum)

    def _step(self, users, items, wait: float) -> torch.Tensor:
        """One optimizer step; the batch's loss, detached, still on the device."""
        p = self.p
        self.fault.maybe_fire(p.step)
        with self.precision.autocast():
            loss, _ = self.step_model(users, items)
        loss = self.fault.corrupt(loss, p.step)
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.backward_step(loss, self.optimizer)
        if self.scheduler is not None:  # host arithmetic only: sets param_groups' lr
            self.scheduler.step()
        p.n_loss, p.step, p.epoch_step = p.n_loss + 1, p.step + 1, p.epoch_step + 1
        p.seen, p.samples = p.seen + len(users), p.samples + len(users)
        self.meter.add(len(users), wait)
        return loss.detach().float()

    def _stop(self, reason: Optional[StopReason]) -> bool:
        """Stop for ``reason`` (True), or go on (None: False). The reason sets the status
        (stopping.py) and, unless diverged or interrupted, ``Progress.stop_reason``."""
        if reason is None:
            return False
        if reason.recorded:
            self.p.stop_reason = reason.value
        if reason.status != "completed":
            self.status = reason.status
        return True

    def _log_point(self, loss_sum: float, bar, stop: InterruptFlag) -> bool:
        """Log the mean loss and throughput (the host reads the loss here only), then ask
        divergence and, under DDP, the interrupt, the ranks agreeing; True to stop."""
        p = self.p
        rate = self.meter.mark()
        self.cost.after_log(rate, self.resumed_step)  # a long run says its time left, once
        mean = loss_sum / p.n_loss
        bar.set_postfix(loss=f"{mean:.4f}", samples_s=f"{rate:,.0f}")
        self.loggers.log_step(p.step, {  # host values only: no extra sync
            "loss": mean, "samples_per_s": rate * self.world.size,
            "data_wait_share": self.meter.wait_s / (self.meter.step_s or 1.0),
            "lr": self.optimizer.param_groups[0]["lr"], **peak_memory(self.device)})
        rules = self.rules
        if self.world.any(rules.divergence.after_step(mean) is not None, self.device):
            return self._stop(StopReason.DIVERGED)
        if self.world.active and self.world.any(
                rules.interrupt.after_step(stop.is_set) is not None, self.device):
            return self._stop(StopReason.INTERRUPTED)
        return False

    def _clock_rules(self, log_point: bool, loss_sum: torch.Tensor) -> bool:
        """The time budget and a validation due by steps or seconds; True to stop."""
        p = self.p
        due, over = self._clock_checks(log_point)
        if over:
            return self._stop(StopReason.TIME_BUDGET)
        if due and p.epoch_step >= len(self.sampler):
            self.due_at_end = True  # the epoch's end validates, with its own row
        elif due:
            self.meter.mark()
            self._validate(self._row(float(loss_sum) / p.n_loss))
            self.meter.start()
            return bool(p.stop_reason) or self.status != "completed"
        return False

    def _clock_checks(self, log_point: bool) -> tuple:
        """(a validation is due, the time budget is spent), after a step. Host clock only, no
        device sync. Under DDP the clock is read at log points and the ranks agree, so they
        all validate or stop at the same step."""
        cfg, p = self.cfg.trainer, self.p
        due = bool(cfg.eval_every_steps) and p.step - p.last_eval_step >= cfg.eval_every_steps
        if not (cfg.eval_every_s or cfg.time_budget_s) or (self.world.active and not log_point):
            return due, False
        timed = bool(cfg.eval_every_s) and \
            self.clock.train() - p.last_eval_train_s >= cfg.eval_every_s
        budget = self.rules.time_budget
        over = bool(budget) and budget.spent(self.clock.wall())
        if self.world.active:
            timed, over = self.world.any(timed, self.device), self.world.any(over, self.device)
        return due or timed, over

    def _row(self, loss: float, epoch_end: bool = False) -> dict:
        """A csv row for now: the clock, samples and the loss since the epoch began."""
        p = self.p
        train_s = self.clock.train()
        dt = train_s - p.row_train_s
        row = {"epoch": p.epoch, "step": p.step, "samples": p.samples * self.world.size,
               "loss": loss, **self.clock.reading(),
               "samples_per_s": (p.samples - p.row_samples) * self.world.size / dt if dt > 0
               else 0.0}
        if epoch_end and p.epoch_step >= len(self.sampler):  # whole epochs only
            row["epoch_s"] = round(p.epoch_s, 4)
        p.row_samples, p.row_train_s = p.samples, train_s
        return row

    def _validate(self, row: dict, mid_epoch: bool = True) -> None:
        """Validate now, on the clock: best checkpoint, quality target, the sweep's pruner,
        early stopping and the time budget. Writes ``row`` with the metrics."""
        cfg, p = self.cfg.trainer, self.p
        with self.clock.evaluating(), threads.limited(self.threads):
            meter_sync(self.device)  # the steps queued so far are training time
            val = self.world.from_main(
                _flat_eval(self.model, self.data, "val", self.cfg, self.device)["val"]
                if self.world.is_main else None)
            improved = val[cfg.monitor] > p.best
            if improved:
                p.best, p.best_epoch, p.bad_evals = val[cfg.monitor], p.epoch, 0
                if self.world.is_main:
                    self._save_best()
        p.evals, p.last_eval_step, p.last_eval_train_s = p.evals + 1, p.step, self.clock.train()
        row.update(self.clock.reading())
        row.update({f"val_{k}": v for k, v in val.items()})
        if improved:
            p.time_to_best_s = row["wall_s"]
        else:
            p.bad_evals += 1
        target, first = self.rules.target, p.target is None
        if first and target.reached(val):
            p.target = {k: row[k] for k in ("wall_s", "train_s", "eval_s", "samples", "step")}
            p.target["epochs"] = row["samples"] / self.data.n_train
            log.info("target %s >= %g reached after %.1f s (%.1f s training, %.2f epochs)",
                     target.metric, target.value, row["wall_s"], row["train_s"],
                     p.target["epochs"])
        before = reason_of(p.stop_reason)
        reason = self.rules.after_validation(
            before, n=p.evals, val=val, values={**val, **row}, first_target=first,
            bad_evals=p.bad_evals, wall_s=row["wall_s"])
        if reason is not before and reason is StopReason.PRUNED:
            log.info("pruned by the sweep's pruner after validation %d", p.evals)
        elif reason is not before and reason is StopReason.EARLY_STOPPING:
            log.info("early stopping: no %s gain for %d validations", cfg.monitor, cfg.patience)
        self._stop(reason)
        self._write_row(row)
        if mid_epoch:
            log.info("epoch %d step %d | %.1f s, %.1f s of it validating | val %s %.4f",
                     p.epoch, p.step, row["wall_s"], row["eval_s"], cfg.monitor,
                     val[cfg.monitor])

    def _write_row(self, row: dict) -> None:
        self.p.rows.append(row)
        try:
            self.loggers.log_row(row)
        except OSError as exc:  # a full disk: the rows live on in last.pt and metrics.json
            if not self.row_failed:
                log.warning("could not write a row of epochs.csv (%s): the rows are kept in "
                            "last.pt and metrics.json, and a resume writes the file again",
                            checkpoint.reason(exc))
            self.row_failed = True

    def _end_epoch(self) -> bool:
        """Row, validation when due, stopping rules; False when the run must stop."""
        cfg, p = self.cfg.trainer, self.p
        loss = p.loss_sum / p.n_loss if p.n_loss else float("nan")
        row = self._row(loss, epoch_end=True)
        if self.status == "diverged" or self.rules.divergence.after_step(loss):
            self._stop(StopReason.DIVERGED)
            row["status"] = "diverged"
            self._write_row(row)
            log.error("loss is %s at epoch %d step %d: stopping; the best checkpoint so far "
                      "is kept", loss, p.epoch, p.step)
            return False
        done = self.rules.max_steps.after_step(p.step) or \
            self.rules.epochs.after_epoch(p.epoch + 1)  # max_steps first when both
        due = (cfg.eval_every and (p.epoch + 1) % cfg.eval_every == 0) or self.due_at_end
        self.due_at_end = False
        # a run stopped by its time budget ends with a validation of where it got to
        if (due or p.stop_reason == "time_budget") and p.step > p.last_eval_step \
                and self.status == "completed" and p.stop_reason in ("", "time_budget"):
            self._validate(row, mid_epoch=False)
        elif p.step > p.last_eval_step or "epoch_s" in row:  # else the last row says it all
            self._write_row(row)
        val = row.get(f"val_{cfg.monitor}")
        # the epoch's own rate: the row's counts only since the last row, none when the epoch
        # was cut (time budget) right at a mid-epoch validation
        rate = p.seen * self.world.size / p.epoch_s if p.epoch_s > 0 else row["samples_per_s"]
        log.info("epoch %d | loss %.4f | %.0f samples/s | %.1f s | wall %.1f s%s", p.epoch, loss,
                 rate, p.epoch_s, row["wall_s"],
                 "" if val is None else f" | val {cfg.monitor} {val:.4f}")
        p.epoch, p.epoch_step, p.loss_sum, p.n_loss, p.seen, p.epoch_s = \
            p.epoch + 1, 0, 0.0, 0, 0, 0.0
        if p.stop_reason or self.status != "completed":
            return False
        return not self._stop(done)

    # ------------------------------------------------------------------ the record
    def finish(self, error: Optional[str] = None) -> dict:
        """Rank 0 evaluates the best checkpoint and writes the record; every rank returns it."""
        p = self.p
        throughput = self.meter.summary()
        if self.world.active:  # collective: every rank takes part
            throughput["samples_per_s_per_rank"] = throughput["samples_per_s"]
            throughput["samples_per_s"] = self.world.total(throughput["samples_per_s"],
                                                           self.device)
            throughput["world_size"] = self.world.size
        if not self.world.is_main:
            return self.world.from_main(None)
        epoch_s = [r["epoch_s"] for r in p.rows if "epoch_s" in r]
        results = {}
        if self.status == "completed" and p.best_epoch < 0:
            # never validated during training: the final model is the one reported
            self._save_best()
            p.best_epoch, p.time_to_best_s = max(p.epoch - 1, 0), p.wall_s
        self._write_best_pending()  # a last try; else the weights in memory are evaluated
        best = self.best_pending
        if (best is not None or self.best_path.exists()) and \
                self.status not in ("interrupted", "pruned"):
            self.model.load_state_dict(best if best is not None else
                                       checkpoint.load(self.best_path, self.device))
            users = {"val": {}, "test": {}}  # per-user values, for paired tests later
            for split in users:
                results.update(_flat_eval(self.model, self.data, split, self.cfg, self.device,
                                          per_user=users[split]))
            try:
                per_user.write(self.out, (per_user.to_frame(s, u) for s, u in users.items()))
            except OSError as exc:
                users = None
                log.warning("could not write %s (%s): compare's paired tests will skip this "
                            "run", self.out / per_user.FILE, checkpoint.reason(exc))
        tp = dict(throughput)
        record = RunRecord(
            status=self.status, scores=results,
            best_epoch=p.best_epoch,
            epochs_run=p.epoch,  # begun, the last maybe in part
            steps=p.step, samples=p.samples * self.world.size, validations=p.evals,
            stop_reason=p.stop_reason or self.status,
            target=self._target_record(),
            throughput=Throughput(
                samples_per_s=tp.pop("samples_per_s"), data_wait_share=tp.pop("data_wait_share"),
                samples_per_s_per_rank=tp.pop("samples_per_s_per_rank", None),
                world_size=tp.pop("world_size", None),
                epoch_s=float(np.median(epoch_s)) if epoch_s else None,
                time_to_best_s=p.time_to_best_s, train_s=p.wall_s - p.eval_s - p.checkpoint_s,
                eval_s=p.eval_s, wall_s=p.wall_s, checkpoint_s=round(p.checkpoint_s, 4),
                checkpoints=p.checkpoints, extra=tp),
            memory=Memory.from_json(peak_memory(self.device)),
            data=self.data.summary(),
            evaluation=Evaluation(exclude=protocol(self.cfg),
                                  heldout=per_user.heldout_fingerprint(self.data),
                                  per_user=per_user.FILE if results and users else None),
            run=RunInfo.from_json({
                "model": self.cfg.model.name, "impl": self.impl,
                "loader": self.cfg.loader.kind, "batch_size": self.cfg.batch.size,
                "num_neg": OmegaConf.select(self.cfg, "sampling.num_neg"),
                "strategy": strategy(self.cfg), "precision": self.cfg.precision.mode,
                "lr": self.lr, "sampler": getattr(self.sampler, "method", "dataset"),
                **optim.names(self.cfg),
                **({"step_threads": self.step_threads or self.threads}
                   if self.device.type == "cpu" else {})}),
            device=str(self.device), torch_version=torch.__version__,
            stopped_at=(None if self.status == "completed" else
                        {"epoch": p.epoch, "step": p.step,
                         **({"cause": self.cause} if self.cause else {})}),
            error=error or None)
        if self.data.meta:
            record.data["meta"] = dict(self.data.meta)
        metrics = record.to_json()
        self._write_record(metrics)
        self.loggers.finish(self.cfg, record)
        return self.world.from_main(metrics)

    def _write_record(self, metrics: dict) -> None:
        """``metrics.json``; then a run that cannot resume drops its ``last.pt``. When the
        write fails the previous file is kept, and so is ``last.pt``; the record goes to the
        log on the same line (the summary is printed as usual)."""
        path = self.out / "metrics.json"
        try:
            write_json(path, metrics)
        except OSError as exc:
            log.error("could not write %s (%s): the previous file is kept; this run's record: "
                      "%s", path, checkpoint.reason(exc), json.dumps(metrics, default=float))
            return
        if self.status in ("completed", "pruned", "diverged"):
            self.last_path.unlink(missing_ok=True)

    def _target_record(self) -> Optional[Target]:
        """``target``: the first validation at or above ``trainer.target``, on the clock."""
        target = self.cfg.trainer.target
        if target.value is None:
            return None
        hit = self.p.target or {}
        return Target(metric=target.metric, value=target.value, target_reached=bool(hit),
                      time_to_target_s=hit.get("wall_s"), train_s_to_target=hit.get("train_s"),
                      eval_s_to_target=hit.get("eval_s"), epochs_to_target=hit.get("epochs"),
                      samples_to_target=hit.get("samples"), step_to_target=hit.get("step"),
                      clock="wall seconds from the first step, validations included; "
                            "data loading and set-up excluded")


def train(cfg, out_dir: Optional[str] = None, data=None, report=None) -> dict:
    """Run one training job; return its metrics (also written to ``metrics.json``).

    ``status`` is ``completed``, ``diverged`` (NaN/Inf loss), ``interrupted`` (Ctrl-C or
    SIGTERM; ``last.pt`` resumes it), ``oom`` or ``pruned``. ``data`` may be passed in to skip
    loading. ``report(n, values) -> bool``, when given, is called after the n-th validation
    with the val metrics and the clock (``wall_s``, ...); True stops the run as ``pruned``
    (a sweep's pruner: graphrec/sweeping/report.py)."""
    validate(cfg)
    resume = cfg.trainer.resume
    out = Path(resume) if resume else Path(out_dir or ".")
    if resume and not (out / "last.pt").exists():
        raise ConfigError(f"trainer.resume={resume!r} is invalid: no last.pt there "
                          "(allowed: a run folder left by an interrupted or killed run)")
    require_writable(out, "trainer.resume" if resume else "hydra.run.dir")
    if cfg.data.get("cache_dir"):  # '' is off: nothing is written
        require_writable(cfg.data.cache_dir, "data.cache_dir")
    world, device = distributed.setup(cfg.trainer.device)
    try:
        return _train(cfg, out, data, world, device, report)
    finally:
        distributed.teardown(world)


def _train(cfg, out: Path, data, world: distributed.World, device: torch.device,
           report=None) -> dict:
    resume = cfg.trainer.resume
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    seed_everything(cfg.trainer.seed)
    if data is None:
        data = load_data(advice.data_config(cfg))
    validate_against_data(cfg, data)
    if cfg.batch.size > data.n_train:
        log.warning("batch.size=%d is larger than the %d training pairs: every step is one "
                    "whole epoch, smaller than the batch asked for", cfg.batch.size, data.n_train)
    if world.active and cfg.batch.size % world.size:
        raise ConfigError(f"batch.size={cfg.batch.size} is invalid with {world.size} processes: "
                          "allowed a multiple of the world size (it is the global batch)")
    run = Run(cfg, out, data, device, world, report)
    log.info("data %s %s | model %s (%s) | loader %s | batch %d lr %.2g | negatives %s | %s on %s%s",
             data.name, data.summary(), cfg.model.name, run.impl, cfg.loader.kind,
             cfg.batch.size, run.lr, describe(cfg), cfg.precision.mode, device,
             threads.describe(cfg, run.step_threads, run.threads))
    if data.meta.get("features_source") not in (None, "file"):
        log.info("item features: %s", data.meta.get("features_source"))
    if resume:
        run.resume(out)
        if world.rank:  # ranks differ in their own random draws after a resume
            torch.manual_seed(cfg.trainer.seed * 7919 + world.rank + run.p.step)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    if world.is_main:
        try:
            run.loggers = Loggers.from_cfg(cfg, out, run.p.rows, run.p.step)
        except OSError as exc:  # a full disk; the rows are kept in last.pt and metrics.json
            log.warning("could not write the loggers' files (epochs.csv, ...) in %s (%s): "
                        "training without them; their rows are kept in last.pt and "
                        "metrics.json", out, checkpoint.reason(exc))
    try:
        with InterruptFlag() as stop:
            run.fit(stop)
    except (torch.OutOfMemoryError, MemoryError) as exc:
        run.status = "oom"
        mem = peak_memory(device)
        log.error("out of memory at epoch %d step %d (%s): %s", run.p.epoch, run.p.step,
                  ", ".join(f"{k} {v:,.0f}" for k, v in mem.items()), exc)
        return run.finish(error=f"{type(exc).__name__}: {exc}")
    else:
        return run.finish()
    finally:
        try:
            run.loggers.close()  # also after an error: no writer thread left behind in a sweep
        except OSError as exc:  # the last buffered rows, on a full disk
            log.warning("could not close the loggers' files in %s (%s)", out,
                        checkpoint.reason(exc))
