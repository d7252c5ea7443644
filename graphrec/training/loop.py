"""``train(cfg) -> metrics``: one run from config to run record.

The step does no host sync: losses accumulate on the device and are read, with throughput
and memory, only every ``trainer.log_every`` steps and at the end of an epoch.
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

from ..config import resolve_device, resolve_impl, validate, validate_against_data
from ..data import load_data
from ..evaluation import evaluate
from ..models import build_model
from ..reporting import write_epochs, write_json
from ..sampling import build_sampler
from . import accel, checkpoint
from .meter import ThroughputMeter, peak_memory, sync
from .precision import Precision

log = logging.getLogger(__name__)


def scaled_lr(cfg) -> float:
    ratio = cfg.batch.size / 256
    factor = {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[cfg.batch.lr_scaling]
    return cfg.model.lr * factor


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class EarlyStopping:
    def __init__(self, patience: int):
        self.patience, self.best, self.best_epoch, self.bad = patience, -math.inf, -1, 0

    def update(self, value: float, epoch: int) -> bool:
        """Record one evaluation; True when it is a new best."""
        if value > self.best:
            self.best, self.best_epoch, self.bad = value, epoch, 0
            return True
        self.bad += 1
        return False

    @property
    def stop(self) -> bool:
        return self.patience > 0 and self.bad >= self.patience


def _flat_eval(model, data, split, cfg, device) -> dict:
    model.eval()
    with torch.no_grad():
        res = evaluate(model.scorer(), data, split, ks=list(cfg.trainer.ks), device=device,
                       chunk_users=cfg.trainer.eval_chunk_users)
    model.train()
    return {f"{split}{suffix}": vals for suffix, vals in res.items()}


def train(cfg, out_dir: Optional[str] = None, data=None) -> dict:
    """Run one training job and return its metrics dict (also written to ``metrics.json``).

    ``data`` may be passed in (tests, benchmarks) to skip loading."""
    validate(cfg)
    out = Path(out_dir or ".")
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.trainer.device)
    if cfg.trainer.threads > 0:
        torch.set_num_threads(cfg.trainer.threads)
    seed_everything(cfg.trainer.seed)
    if data is None:
        data = load_data(cfg.data)
    validate_against_data(cfg, data)
    impl = resolve_impl(cfg)
    model = accel.prepare(build_model(cfg.model, data, impl).to(device), cfg, device)
    sampler = build_sampler(data, cfg, device)
    precision = Precision(cfg.precision.mode, device)
    lr = scaled_lr(cfg)
    optimizer = accel.make_optimizer(model.parameters(), lr, impl)
    log.info("data %s %s | model %s (%s) | loader %s | batch %d lr %.2g | num_neg %d | %s on %s",
             data.name, data.summary(), cfg.model.name, impl, cfg.loader.kind, cfg.batch.size,
             lr, cfg.sampling.num_neg, cfg.precision.mode, device)
    if data.meta.get("features_source") not in (None, "file"):
        log.info("item features: %s", data.meta.get("features_source"))

    meter = ThroughputMeter(device)
    stopper = EarlyStopping(cfg.trainer.patience)
    rows, epoch_times = [], []
    status, step, best_path = "completed", 0, out / "best.pt"
    time_to_best, t_train0 = 0.0, time.perf_counter()
    eval_s = 0.0
    epoch = 0
    for epoch in range(cfg.trainer.epochs):
        t_epoch = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        n_loss, seen = 0, 0
        bar = tqdm(total=len(sampler), desc=f"epoch {epoch}", unit="step",
                   disable=not cfg.trainer.progress, leave=False, dynamic_ncols=True)
        meter.start()
        batches = sampler.epoch(epoch)
        epoch_loss = float("nan")
        while True:
            t_wait = time.perf_counter()
            batch = next(batches, None)
            wait = time.perf_counter() - t_wait
            if batch is None:
                break
            users, items = batch
            if cfg.trainer.fail_after_steps and step >= cfg.trainer.fail_after_steps:
                raise RuntimeError(f"injected failure after {step} steps "
                                   "(trainer.fail_after_steps)")
            with precision.autocast():
                loss, _ = model.loss(users, items)
            optimizer.zero_grad(set_to_none=True)
            precision.backward_step(loss, optimizer)
            loss_sum += loss.detach().float()
            n_loss += 1
            step += 1
            seen += len(users)
            meter.add(len(users), wait)
            bar.update(1)
            last = cfg.trainer.max_steps and step >= cfg.trainer.max_steps
            if step % cfg.trainer.log_every == 0 or last:
                rate = meter.mark()
                epoch_loss = float(loss_sum) / n_loss  # the host reads the loss here only
                bar.set_postfix(loss=f"{epoch_loss:.4f}", samples_s=f"{rate:,.0f}")
                if not math.isfinite(epoch_loss):
                    status = "diverged"
                    break
            if last:
                break
        meter.mark()
        bar.close()
        if n_loss:
            epoch_loss = float(loss_sum) / n_loss
        sync(device)
        epoch_s = time.perf_counter() - t_epoch
        epoch_times.append(epoch_s)
        row = {"epoch": epoch, "step": step, "loss": epoch_loss, "epoch_s": round(epoch_s, 4),
               "samples_per_s": seen / epoch_s if epoch_s else 0.0}
        if status == "diverged" or not math.isfinite(epoch_loss):
            status = "diverged"
            row["status"] = status
            rows.append(row)
            log.error("loss is %s at epoch %d step %d: stopping (best checkpoint kept)",
                      epoch_loss, epoch, step)
            break
        evaluate_now = cfg.trainer.eval_every and (epoch + 1) % cfg.trainer.eval_every == 0
        if evaluate_now:
            t_eval = time.perf_counter()
            val = _flat_eval(model, data, "val", cfg, device)
            eval_s += time.perf_counter() - t_eval
            row.update({f"val_{k}": v for k, v in val["val"].items()})
            if stopper.update(val["val"][cfg.trainer.monitor], epoch):
                time_to_best = time.perf_counter() - t_train0
                checkpoint.save_atomic(model.state_dict(), best_path)
            log.info("epoch %d | loss %.4f | %.0f samples/s | %.1f s | val %s %.4f", epoch,
                     epoch_loss, row["samples_per_s"], epoch_s, cfg.trainer.monitor,
                     val["val"][cfg.trainer.monitor])
        else:
            log.info("epoch %d | loss %.4f | %.0f samples/s | %.1f s", epoch, epoch_loss,
                     row["samples_per_s"], epoch_s)
        rows.append(row)
        if stopper.stop:
            log.info("early stopping: no %s gain for %d evaluations", cfg.trainer.monitor,
                     stopper.patience)
            break
        if cfg.trainer.max_steps and step >= cfg.trainer.max_steps:
            break
    train_s = time.perf_counter() - t_train0 - eval_s

    if stopper.best_epoch < 0:  # never evaluated during training: the last model is "best"
        checkpoint.save_atomic(model.state_dict(), best_path)
        time_to_best = train_s
    model.load_state_dict(checkpoint.load(best_path, device))
    results = {}
    results.update(_flat_eval(model, data, "val", cfg, device))
    results.update(_flat_eval(model, data, "test", cfg, device))

    metrics = {
        "status": status,
        **results,
        "best_epoch": stopper.best_epoch if stopper.best_epoch >= 0 else epoch,
        "epochs_run": len(rows),
        "steps": step,
        "throughput": {**meter.summary(),
                       "epoch_s": float(np.median(epoch_times)) if epoch_times else 0.0,
                       "time_to_best_s": time_to_best,
                       "train_s": train_s},
        "memory": peak_memory(device),
        "data": data.summary(),
        "run": {"model": cfg.model.name, "impl": impl, "loader": cfg.loader.kind,
                "batch_size": cfg.batch.size, "num_neg": cfg.sampling.num_neg,
                "precision": cfg.precision.mode, "lr": lr,
                "sampler": getattr(sampler, "method", "dataset")},
        "device": str(device),
        "torch_version": torch.__version__,
    }
    if status == "diverged":
        metrics["diverged_at"] = {"epoch": epoch, "step": step}
    if data.meta:
        metrics["data"]["meta"] = dict(data.meta)
    write_json(out / "metrics.json", metrics)
    write_epochs(out / "epochs.csv", rows)
    return metrics
