"""``python -m graphrec.compare [PATHS...]``: one table of measured runs.

Reads every run folder under PATHS (default ``outputs/`` and ``multirun/``). Rows are runs,
and runs whose configs differ only by ``trainer.seed`` (or a sweep row's label) share a row
with mean ± std. Columns: the config keys that differ between runs, n, samples/s, epoch s,
Recall@K and NDCG@K, status, the speed-up in samples/s over a baseline row (``--baseline``:
``first`` row with a throughput, the default, so a listed sweep's first row is the reference;
``slowest``; a row number; or a run folder or row label) and ``*`` on the Pareto front
(samples/s and Recall@K both maximised). Writes ``compare.csv`` (numbers), ``compare.md`` and
``compare.png`` (throughput vs Recall@K) to ``--out``: by default the folder you named when
you name one, else ``compare/``.
"""
from __future__ import annotations

import argparse
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from .plot import pareto_plot
from .runs import RUN_CONFIG, find_runs, load_run

DEFAULT_PATHS = ("outputs", "multirun")
NOT_GROUPED = ("trainer.seed", "sweep.label")  # runs differing only here are repeats


def differing_keys(runs) -> list:
    keys = list(dict.fromkeys(k for run in runs for k in run.config))
    keys = [k for k in keys if len({repr(run.config.get(k)) for run in runs}) > 1]
    return sorted(keys, key=lambda k: k != "sweep.label")  # the row's name first


def pareto_mask(x, y) -> np.ndarray:
    """True where no other point is at least as good on both and better on one."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    mask = np.zeros(len(x), bool)
    for i in np.flatnonzero(ok):
        better = ok & (x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i]))
        mask[i] = not better.any()
    return mask


def _mean_std(values) -> tuple:
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def build_table(runs, k: int = 20) -> tuple:
    """One row per group of runs; returns (numeric table, the differing config keys)."""
    keys = differing_keys(runs)
    grouped = [c for c in keys if c not in NOT_GROUPED]
    root = os.path.commonpath([str(r.path.parent) for r in runs])
    groups: dict = {}
    for run in runs:
        groups.setdefault(tuple(repr(run.config.get(c)) for c in grouped), []).append(run)
    rows = []
    for members in groups.values():
        row = {"run": " ".join(os.path.relpath(m.path, root) for m in members)}
        for key in keys:
            values = list(dict.fromkeys(str(m.config.get(key)) for m in members))
            row[key] = values[0] if len(values) == 1 else ",".join(values)
        row["n"] = len(members)
        done = [m for m in members if m.status == "completed"]
        for name in ("samples_per_s", "epoch_s", f"recall@{k}", f"ndcg@{k}"):
            row[name], row[f"{name}_std"] = _mean_std([m.metrics[name] for m in done])
        counts = Counter(m.status for m in members)
        row["status"] = (members[0].status if len(counts) == 1
                         else ", ".join(f"{n} {s}" for s, n in counts.items()))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["pareto"] = pareto_mask(table["samples_per_s"], table[f"recall@{k}"])
    return table, keys


def pick_baseline(table: pd.DataFrame, spec: str) -> int:
    timed = table[np.isfinite(table["samples_per_s"])]
    if timed.empty:
        raise SystemExit("no completed run has a throughput: nothing to compare against")
    if spec == "first":
        return int(timed.index[0])
    if spec == "slowest":
        return int(timed["samples_per_s"].idxmin())
    if spec.isdigit() and int(spec) in timed.index:
        return int(spec)
    for row, item in timed.iterrows():
        labels = item["run"].split() + [str(item.get("sweep.label", ""))]
        if spec in labels or any(label.endswith(spec.rstrip("/")) for label in labels):
            return int(row)
    raise SystemExit(f"--baseline {spec!r} matches no completed row (use first, slowest, a row "
                     "number, or a run folder or row label from the table)")


def _fmt(mean: float, std: float, spec: str) -> str:
    if not math.isfinite(mean):
        return ""
    return format(mean, spec) + (f" ± {format(std, spec)}" if math.isfinite(std) else "")


def format_table(table: pd.DataFrame, keys: list, k: int, split: str) -> pd.DataFrame:
    shown = table[["run", *keys, "n"]].copy()
    for name, title, spec in [("samples_per_s", "samples/s", ",.0f"), ("epoch_s", "epoch s", ".2f"),
                              (f"recall@{k}", f"{split} Recall@{k}", ".4f"),
                              (f"ndcg@{k}", f"{split} NDCG@{k}", ".4f")]:
        shown[title] = [_fmt(m, s, spec) for m, s in zip(table[name], table[f"{name}_std"])]
    shown["status"] = table["status"]
    shown["speed-up"] = [f"{x:.2f}x" if math.isfinite(x) else "" for x in table["speedup"]]
    shown["pareto"] = np.where(table["pareto"], "*", "")
    return shown


def to_markdown(shown: pd.DataFrame) -> str:
    cells = [["#", *map(str, shown.columns)]]
    cells += [[str(row), *(str(v).replace("|", "\\|") for v in values)]
              for row, values in zip(shown.index, shown.itertuples(index=False))]
    lines = ["| " + " | ".join(line) + " |" for line in cells]
    lines.insert(1, "|" + "---|" * len(cells[0]))
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graphrec.compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="run or sweep folders (default: outputs "
                        "multirun)")
    parser.add_argument("--baseline", default="first", help="first (default) | slowest | row "
                        "number | run folder | row label: the row speed-ups are relative to")
    parser.add_argument("--k", type=int, default=20, help="cut-off of Recall@K and NDCG@K")
    parser.add_argument("--split", default="val", choices=("val", "test"))
    parser.add_argument("--out", help="folder for compare.csv/.md/.png (default: the one "
                        "folder named, else compare/)")
    return parser.parse_args(argv)


def main(argv=None) -> pd.DataFrame:
    args = parse_args(argv)
    paths = args.paths or [p for p in DEFAULT_PATHS if Path(p).is_dir()]
    runs = [load_run(path, args.k, args.split) for path in find_runs(paths)]
    if not runs:
        raise SystemExit(f"no runs (folders with {RUN_CONFIG}) under "
                         f"{' '.join(args.paths or DEFAULT_PATHS)}")
    table, keys = build_table(runs, args.k)
    base = pick_baseline(table, args.baseline)
    table["speedup"] = table["samples_per_s"] / table.loc[base, "samples_per_s"]
    one_folder = len(args.paths) == 1 and Path(args.paths[0]).is_dir()
    out = Path(args.out or (args.paths[0] if one_folder else "compare"))
    out.mkdir(parents=True, exist_ok=True)
    shown = format_table(table, keys, args.k, args.split)
    table.to_csv(out / "compare.csv", index_label="row")
    (out / "compare.md").write_text(to_markdown(shown))
    pareto_plot(table, f"recall@{args.k}", base, out / "compare.png",
                ylabel=f"{args.split} Recall@{args.k}")
    with pd.option_context("display.max_columns", None, "display.width", None,
                           "display.max_colwidth", 40):
        print(shown.to_string())
    print(f"\n{len(runs)} runs in {len(table)} rows | speed-up over row {base} "
          f"({table.loc[base, 'run']}) | * = Pareto front | written: {out}/compare.csv, "
          "compare.md, compare.png")
    return table
