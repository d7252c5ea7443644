"""``python -m graphrec.compare DIR --suggest-target``: a quality target chosen by rule.

The rule, MLPerf Training's way of fixing a target from reference runs: train the reference
row with >= 3 seeds to convergence (early stopping: ``stop_reason`` ``early_stopping``), take
each seed's best validation value (the max of ``epochs.csv``'s ``val_<metric>``), and set the
target to ``fraction`` (0.97) x their median, rounded down to 4 significant digits. Every
reference seed must reach it, or the target says more about luck than about speed: the seeds
that do not are named (exit 1), and so are seeds that were not trained to convergence.
Fewer than 3 seeds: exit 2.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from ..errors import UsageError
from .compare import NOT_GROUPED, differing_keys
from .run_record import RunRecord
from .runs import Run, find_runs, load_run, val_curve

MIN_SEEDS = 3
FRACTION = 0.97
DIGITS = 4           # significant digits of the value, rounded down: seeds still reach it
CONVERGED = "early_stopping"


@dataclass
class Seed:
    run: Run
    peak: float          # best val metric over the run
    stop_reason: str
    n_train: float       # training pairs (epochs = samples / n_train); NaN when unknown


def record(run: Run) -> RunRecord:
    path = run.path / "metrics.json"
    return RunRecord.load(path) if path.is_file() else RunRecord.from_json({})


def rows(runs) -> list:
    """[(label, runs)]: runs differing only by seed or sweep label share a row."""
    keys = [k for k in differing_keys(runs) if k not in NOT_GROUPED]
    sets: dict = {}
    for run in runs:
        sets.setdefault(tuple(str(run.config.get(k)) for k in keys), []).append(run)
    out = []
    for values, members in sets.items():
        label = str(members[0].config.get("sweep.label") or "")
        label = label or ", ".join(f"{k}={v}" for k, v in zip(keys, values)) or "all runs"
        out.append((label, members))
    return out


def pick_row(found: list, spec: str) -> Optional[int]:
    """Index of the reference row: ``first``, a row number, a row label or a run folder."""
    if spec == "first":
        return 0
    if spec.isdigit():
        return int(spec) if int(spec) < len(found) else None
    folder = spec.rstrip("/")
    for i, (label, members) in enumerate(found):
        if spec == label or any(str(m.path).endswith("/" + folder) for m in members):
            return i
    return None


def round_down(value: float, digits: int = DIGITS) -> float:
    if not value > 0:
        return value
    scale = 10.0 ** (math.floor(math.log10(value)) - digits + 1)
    return round(math.floor(value / scale + 1e-9) * scale, 12)


def first_hit(seed: Seed, metric: str, value: float) -> Optional[dict]:
    """The first validation at or above ``value``: wall seconds, epochs, value reached."""
    epochs = seed.run.epochs.apply(pd.to_numeric, errors="coerce")
    vals = epochs[f"val_{metric}"].to_numpy(float)
    hits = np.flatnonzero(np.nan_to_num(vals, nan=-np.inf) >= value)
    if not hits.size:
        return None
    row = epochs.iloc[hits[0]]
    if "samples" in epochs and math.isfinite(seed.n_train):
        done = float(row["samples"]) / seed.n_train
    else:  # epochs.csv's epoch is the 0-based epoch under way
        done = float(row.get("epoch", math.nan)) + 1
    # val_curve guarantees wall_s
    return {"wall_s": float(row["wall_s"]), "epochs": done, "value": float(vals[hits[0]]),
            "run_wall_s": float(epochs["wall_s"].max())}


def suggest(runs, metric: str, fraction: float = FRACTION) -> dict:
    """The rule on one row's repeats: the target, and how each seed stands to it."""
    seeds, skipped = [], []
    for run in runs:
        curve = val_curve(run, metric)
        if run.status != "completed" or curve is None:
            skipped.append(run)
            continue
        rec = record(run)
        n_train = rec.data.get("n_train")
        seeds.append(Seed(run, float(curve[1].max()), str(rec.stop_reason or ""),
                          float(n_train) if n_train else math.nan))
    out = {"metric": metric, "fraction": fraction, "seeds": seeds, "skipped": skipped}
    if len(seeds) < MIN_SEEDS:
        return out
    peaks = np.array([s.peak for s in seeds])
    out["median_peak"] = float(np.median(peaks))
    out["value"] = value = round_down(fraction * out["median_peak"])
    out["missed"] = [s for s in seeds if s.peak < value]
    out["not_converged"] = [s for s in seeds if s.stop_reason != CONVERGED]
    middle = np.argsort(peaks, kind="stable")[(len(seeds) - 1) // 2]  # even n: the lower one
    out["median_seed"] = median = seeds[int(middle)]
    out["knee"] = first_hit(median, metric, value)
    return out


def _name(run: Run, root: str) -> str:
    seed = run.config.get("trainer.seed")
    return f"{os.path.relpath(run.path, root)} (seed {seed})"


def report(result: dict, root: str) -> list:
    """The printed lines, for a result with a value."""
    metric, value, seeds = result["metric"], result["value"], result["seeds"]
    lines = [f"target: val {metric} >= {value:g}  ({result['fraction']:g} x the median "
             f"{result['median_peak']:.4f} of {len(seeds)} seeds' best validation values)"]
    knee = result["knee"]
    median = result["median_seed"]
    if knee is not None:
        share = knee["wall_s"] / knee["run_wall_s"] if knee["run_wall_s"] else math.nan
        lines.append(f"knee: the median seed, {_name(median.run, root)}, first reaches it at "
                     f"{knee['wall_s']:.2f} s wall, epoch {knee['epochs']:.2f} ({share:.0%} "
                     f"of its {knee['run_wall_s']:.2f} s run; the target is "
                     f"{value / median.peak:.1%} of its peak {median.peak:.4f})")
    for seed in seeds:
        hit = first_hit(seed, metric, value)
        when = f"reached at {hit['wall_s']:.2f} s" if hit else "NEVER reaches it"
        lines.append(f"  {_name(seed.run, root)}: peak {seed.peak:.4f}, {when}, "
                     f"stop_reason {seed.stop_reason or '?'}")
    if result["not_converged"]:
        lines.append("not converged (stop_reason is not early_stopping; their peaks may be "
                     "low: train with trainer.patience and enough epochs): "
                     + ", ".join(_name(s.run, root) for s in result["not_converged"]))
    if result["skipped"]:
        lines.append(f"skipped (not completed, or no val {metric} in epochs.csv): "
                     + ", ".join(os.path.relpath(r.path, root) for r in result["skipped"]))
    if result["missed"]:
        lines.append("RULE FAILED: every reference seed must reach the target; these do not: "
                     + ", ".join(_name(s.run, root) for s in result["missed"])
                     + f" (the lowest peak is {min(s.peak for s in seeds):.4f})")
    lines.append(f"use it: trainer.target.value={value:g} trainer.target.metric={metric} "
                 "trainer.stop_at_target=true")
    return lines


def main(args, paths) -> dict:
    """Print the suggested target for the reference row under ``paths``; a UsageError under
    3 seeds (exit 2), exit 1 when a reference seed does not reach it (the rule failed)."""
    runs = [load_run(p, args.k, "val") for p in find_runs(paths)]
    if not runs:
        raise UsageError(f"no runs under {' '.join(map(str, paths))}: pass folders holding run "
                         "folders (outputs/..., multirun/...)")
    metric = args.metric or f"recall@{args.k}"
    found = rows(runs)
    index = pick_row(found, args.baseline)
    if index is None:
        raise UsageError(f"--baseline {args.baseline!r} names no row; rows: "
                         + "; ".join(f"{i}: {label}" for i, (label, _) in enumerate(found)))
    label, members = found[index]
    root = os.path.commonpath([str(r.path.parent) for r in runs])
    if len(found) > 1:
        print(f"{len(found)} rows here; the reference is row {index} ({label}); --baseline "
              "ROW picks another: " + "; ".join(f"{i}: {lab}" for i, (lab, _) in enumerate(found)))
    result = suggest(members, metric, args.fraction)
    if "value" not in result:
        # a folder holding the reference beside other rows: name the rows that would do
        ready = [i for i, (_, m) in enumerate(found)
                 if i != index and "value" in suggest(m, metric, args.fraction)]
        hint = (f"; rows with enough: {', '.join(map(str, ready))} (--baseline {ready[0]})"
                if ready else "")
        raise UsageError(f"--suggest-target needs >= {MIN_SEEDS} completed reference seeds with "
                         f"val {metric} in epochs.csv; row {label!r} has "
                         f"{len(result['seeds'])} (train more seeds of it){hint}")
    print("\n".join(report(result, root)))
    if result["missed"]:
        raise SystemExit(1)
    return result
