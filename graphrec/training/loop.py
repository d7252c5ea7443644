"""``train(cfg) -> metrics``: one run from config to run record.

The step does no host sync: losses accumulate on the device and are read, with throughput
and memory, only every ``trainer.log_every`` steps and at the end of an epoch. That is also
where NaN/Inf is caught. Ctrl-C or SIGTERM finishes the current step, writes ``last.pt``
and returns ``status: interrupted``; ``trainer.resume=RUN_DIR`` continues from it.
"""
from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm import tqdm

from ..config import (ConfigError, require_writable, resolve_impl, validate,
                      validate_against_data)
from ..data import load_data
from ..evaluation import evaluate
from ..models import build_model
from ..reporting import write_epochs, write_json
from ..sampling import build_sampler
from . import accel, checkpoint, distributed
from .faults import Fault, InterruptFlag
from .meter import ThroughputMeter, peak_memory
from .precision import Precision
from .state import Progress, restore, snapshot

log = logging.getLogger(__name__)


def scaled_lr(cfg) -> float:
    ratio = cfg.batch.size / 256
    factor = {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[cfg.batch.lr_scaling]
    return cfg.model.lr * factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _flat_eval(model, data, split, cfg, device) -> dict:
    model.eval()
    with torch.no_grad():
        res = evaluate(model.scorer(), data, split, ks=list(cfg.trainer.ks), device=device,
                       chunk_users=cfg.trainer.eval_chunk_users)
    model.train()
    return {f"{split}{suffix}": vals for suffix, vals in res.items()}


class Run:
    """One training run's moving parts; ``train`` below is the only caller."""

    def __init__(self, cfg, out: Path, data, device: torch.device,
                 world: distributed.World = distributed.World()):
        self.cfg, self.out, self.data, self.device, self.world = cfg, out, data, device, world
        self.impl = resolve_impl(cfg)
        self.model = accel.prepare(build_model(cfg.model, data, self.impl).to(device), cfg,
                                   device)
        self.step_model = distributed.wrap(self.model, world, device)
        self.sampler = build_sampler(data, cfg, device, rank=world.rank, world=world.size)
        self.precision = Precision(cfg.precision.mode, device)
        self.lr = scaled_lr(cfg)
        self.optimizer = accel.make_optimizer(self.model.parameters(), self.lr, self.impl)
        self.meter = ThroughputMeter(device)
        self.fault = Fault(cfg.trainer.fail_after_steps, cfg.trainer.fail_kind)
        self.p = Progress()
        self.status = "completed"
        self.best_path, self.last_path = out / "best.pt", out / "last.pt"

    # ------------------------------------------------------------------ checkpoints
    def save_last(self) -> None:
        if not self.world.is_main:
            return
        state = snapshot(self.model, self.optimizer, self.p)
        if self.precision.scaler is not None:
            state["scaler"] = self.precision.scaler.state_dict()
        checkpoint.save_atomic(state, self.last_path)

    def resume(self, run_dir: Path) -> None:
        ckpt = checkpoint.load(run_dir / "last.pt", self.device)
        self.p = restore(ckpt, self.model, self.optimizer)
        if self.precision.scaler is not None and "scaler" in ckpt:
            self.precision.scaler.load_state_dict(ckpt["scaler"])
        log.info("resumed %s at epoch %d, step %d", run_dir, self.p.epoch, self.p.step)

    # ------------------------------------------------------------------ the loop
    def fit(self, stop: InterruptFlag) -> None:
        cfg, p = self.cfg.trainer, self.p
        self.t_wall = time.perf_counter() - p.wall_s
        while p.epoch < cfg.epochs and self.status == "completed":
            t_epoch = time.perf_counter() - p.epoch_s
            t_run = time.perf_counter() - p.train_s
            self._epoch(stop)
            p.epoch_s = time.perf_counter() - t_epoch
            p.train_s = time.perf_counter() - t_run
            p.wall_s = time.perf_counter() - self.t_wall
            if self.status == "interrupted":
                self.save_last()
                log.warning("interrupted at epoch %d step %d: resumable checkpoint %s",
                            p.epoch, p.step, self.last_path)
                return
            keep_going = self._end_epoch()
            p.wall_s = time.perf_counter() - self.t_wall
            if not keep_going:
                return
        if self.status == "completed" and self.world.is_main:
            self.last_path.unlink(missing_ok=True)

    def _epoch(self, stop: InterruptFlag) -> None:
        cfg, p = self.cfg.trainer, self.p
        loss_sum = torch.full((), p.loss_sum, device=self.device)
        bar = tqdm(total=len(self.sampler), initial=p.epoch_step, desc=f"epoch {p.epoch}",
                   unit="step", disable=not cfg.progress, leave=False, dynamic_ncols=True)
        self.meter.start()
        batches = self.sampler.epoch(p.epoch, start_step=p.epoch_step)
        while True:
            if stop.is_set and not self.world.active:
                self.status = "interrupted"
                break
            t_wait = time.perf_counter()
            batch = next(batches, None)
            wait = time.perf_counter() - t_wait
            if batch is None:
                break
            users, items = batch
            self.fault.maybe_fire(p.step)
            with self.precision.autocast():
                loss, _ = self.step_model(users, items)
            loss = self.fault.corrupt(loss, p.step)
            self.optimizer.zero_grad(set_to_none=True)
            self.precision.backward_step(loss, self.optimizer)
            loss_sum += loss.detach().float()
            p.n_loss, p.step, p.epoch_step, p.seen = p.n_loss + 1, p.step + 1, \
                p.epoch_step + 1, p.seen + len(users)
            self.meter.add(len(users), wait)
            bar.update(1)
            last = bool(cfg.max_steps) and p.step >= cfg.max_steps
            if p.step % cfg.log_every == 0 or last:
                rate = self.meter.mark()
                mean = float(loss_sum) / p.n_loss  # the host reads the loss here only
                bar.set_postfix(loss=f"{mean:.4f}", samples_s=f"{rate:,.0f}")
                if self.world.any(not math.isfinite(mean), self.device):
                    self.status = "diverged"
                    break
                if self.world.active and self.world.any(stop.is_set, self.device):
                    self.status = "interrupted"
                    break
            if last:
                break
        self.meter.mark()
        bar.close()
        p.loss_sum = float(loss_sum)

    def _end_epoch(self) -> bool:
        """Row, evaluation, early stopping; False when the run must stop."""
        cfg, p = self.cfg.trainer, self.p
        loss = p.loss_sum / p.n_loss if p.n_loss else float("nan")
        row = {"epoch": p.epoch, "step": p.step, "loss": loss, "epoch_s": round(p.epoch_s, 4),
               "samples_per_s": p.seen / p.epoch_s if p.epoch_s else 0.0}
        if self.status == "diverged" or not math.isfinite(loss):
            self.status = "diverged"
            row["status"] = "diverged"
            p.rows.append(row)
            log.error("loss is %s at epoch %d step %d: stopping; the best checkpoint so far "
                      "is kept", loss, p.epoch, p.step)
            return False
        if cfg.eval_every and (p.epoch + 1) % cfg.eval_every == 0:
            val = self.world.from_main(
                _flat_eval(self.model, self.data, "val", self.cfg, self.device)["val"]
                if self.world.is_main else None)
            row.update({f"val_{k}": v for k, v in val.items()})
            if val[cfg.monitor] > p.best:
                p.best, p.best_epoch, p.bad_evals = val[cfg.monitor], p.epoch, 0
                p.time_to_best_s = time.perf_counter() - self.t_wall
                if self.world.is_main:
                    checkpoint.save_atomic(self.model.state_dict(), self.best_path)
            else:
                p.bad_evals += 1
            log.info("epoch %d | loss %.4f | %.0f samples/s | %.1f s | val %s %.4f", p.epoch,
                     loss, row["samples_per_s"], p.epoch_s, cfg.monitor, val[cfg.monitor])
        else:
            log.info("epoch %d | loss %.4f | %.0f samples/s | %.1f s", p.epoch, loss,
                     row["samples_per_s"], p.epoch_s)
        p.rows.append(row)
        p.epoch, p.epoch_step, p.loss_sum, p.n_loss, p.seen, p.epoch_s = p.epoch + 1, 0, 0.0, 0, 0, 0.0
        if cfg.patience and p.bad_evals >= cfg.patience:
            log.info("early stopping: no %s gain for %d evaluations", cfg.monitor, cfg.patience)
            return False
        return not (cfg.max_steps and p.step >= cfg.max_steps)

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
        results = {}
        if self.status == "completed" and p.best_epoch < 0:
            # never validated during training: the final model is the one reported
            checkpoint.save_atomic(self.model.state_dict(), self.best_path)
            p.best_epoch, p.time_to_best_s = max(p.epoch - 1, 0), p.train_s
        if self.best_path.exists() and self.status != "interrupted":
            self.model.load_state_dict(checkpoint.load(self.best_path, self.device))
            results.update(_flat_eval(self.model, self.data, "val", self.cfg, self.device))
            results.update(_flat_eval(self.model, self.data, "test", self.cfg, self.device))
        metrics = {
            "status": self.status,
            **results,
            "best_epoch": p.best_epoch,
            "epochs_run": len(p.rows),
            "steps": p.step,
            "throughput": {**throughput,
                           "epoch_s": float(np.median([r["epoch_s"] for r in p.rows]))
                           if p.rows else 0.0,
                           "time_to_best_s": p.time_to_best_s,
                           "train_s": p.train_s},
            "memory": peak_memory(self.device),
            "data": self.data.summary(),
            "run": {"model": self.cfg.model.name, "impl": self.impl,
                    "loader": self.cfg.loader.kind, "batch_size": self.cfg.batch.size,
                    "num_neg": self.cfg.sampling.num_neg, "precision": self.cfg.precision.mode,
                    "lr": self.lr, "sampler": getattr(self.sampler, "method", "dataset")},
            "device": str(self.device),
            "torch_version": torch.__version__,
        }
        if self.status != "completed":
            metrics[f"{self.status}_at"] = {"epoch": p.epoch, "step": p.step}
        if error:
            metrics["error"] = error
        if self.data.meta:
            metrics["data"]["meta"] = dict(self.data.meta)
        write_json(self.out / "metrics.json", metrics)
        write_epochs(self.out / "epochs.csv", p.rows)
        return self.world.from_main(metrics)


def train(cfg, out_dir: Optional[str] = None, data=None) -> dict:
    """Run one training job; return its metrics (also written to ``metrics.json``).

    ``status`` is ``completed``, ``diverged`` (NaN/Inf loss), ``interrupted`` (Ctrl-C or
    SIGTERM; ``last.pt`` resumes it) or ``oom``. ``data`` may be passed in to skip loading."""
    validate(cfg)
    resume = cfg.trainer.resume
    out = Path(resume) if resume else Path(out_dir or ".")
    if resume and not (out / "last.pt").exists():
        raise ConfigError(f"trainer.resume={resume!r} is invalid: no last.pt there "
                          "(allowed: a run folder left by an interrupted run)")
    require_writable(out, "trainer.resume" if resume else "hydra.run.dir")
    if "cache_dir" in cfg.data:
        require_writable(cfg.data.cache_dir, "data.cache_dir")
    world, device = distributed.setup(cfg.trainer.device)
    try:
        return _train(cfg, out, data, world, device)
    finally:
        distributed.teardown(world)


def _train(cfg, out: Path, data, world: distributed.World, device: torch.device) -> dict:
    resume = cfg.trainer.resume
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    seed_everything(cfg.trainer.seed)
    if data is None:
        data = load_data(cfg.data)
    validate_against_data(cfg, data)
    if world.active and cfg.batch.size % world.size:
        raise ConfigError(f"batch.size={cfg.batch.size} is invalid with {world.size} processes: "
                          "allowed a multiple of the world size (it is the global batch)")
    run = Run(cfg, out, data, device, world)
    log.info("data %s %s | model %s (%s) | loader %s | batch %d lr %.2g | num_neg %d | %s on %s",
             data.name, data.summary(), cfg.model.name, run.impl, cfg.loader.kind,
             cfg.batch.size, run.lr, cfg.sampling.num_neg, cfg.precision.mode, device)
    if data.meta.get("features_source") not in (None, "file"):
        log.info("item features: %s", data.meta.get("features_source"))
    if resume:
        run.resume(out)
        if world.rank:  # ranks differ in their own random draws after a resume
            torch.manual_seed(cfg.trainer.seed * 7919 + world.rank + run.p.step)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    try:
        with InterruptFlag() as stop:
            run.fit(stop)
    except (torch.OutOfMemoryError, MemoryError) as exc:
        run.status = "oom"
        mem = peak_memory(device)
        log.error("out of memory at epoch %d step %d (%s): %s", run.p.epoch, run.p.step,
                  ", ".join(f"{k} {v:,.0f}" for k, v in mem.items()), exc)
        return run.finish(error=f"{type(exc).__name__}: {exc}")
    return run.finish()
