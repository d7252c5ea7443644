"""``python -m graphrec.compare [PATHS...]``: tables of measured runs.

Reads every run folder under PATHS (default ``outputs/`` and ``multirun/``) and prints one
table per (model.name, data.name) pair (``--all``: one table of every run). Rows are runs, and
completed runs whose configs differ only by ``trainer.seed`` (or a sweep row's label) share a
row: ``n`` runs, each value the mean ± the 95 % Student-t half-width over them
(:mod:`.stats`); any other tabled run is a row of its own. Runs with nothing to compare
(:data:`ASIDE`: error, incomplete, interrupted) are listed under their table (``--errors``:
all of them), and keys that change nothing a run computes (:data:`UNSEEN`) are never columns.
The printed table fits ``--width`` (the terminal's, else 120: :func:`~.terminal.fit`); the
Markdown has every column, the CSV every number.
Columns: samples/s and its speed-up over a baseline row, time to target and its speed-up
(and MLPerf's score when a row has >= 5 runs that reached it), Recall@K, NDCG@K, epoch s,
each row against the baseline user by user (``--test-metric`` on ``--split``/``--list``:
relative difference, Holm-adjusted Wilcoxon or t-test p, ▲/▼/= at ``--alpha``;
:mod:`.significance`), ``*`` on the Pareto front (samples/s and Recall@K both maximised), the
config keys that differ within the table, the run folders and the status.
The baseline and the Pareto front are each table's own (``--baseline``: ``first`` row with a
throughput, the default, so a listed sweep's first row is the reference; ``slowest``; a row
number; or a run folder or row label). Time to target is each run's ``metrics.json`` target,
or, with ``--target VALUE``, the wall seconds until val ``--metric`` first reached VALUE in
its ``epochs.csv``. Writes ``compare.csv`` (numbers: mean, ``_std``, ``_ci``, ``_n``; the
tests' ``rel_diff``, ``p_t``, ``p_wilcoxon``, ``p_holm``, ``sig``), ``compare.md``,
``compare.png`` (throughput vs Recall@K) and ``curves.png`` (val metric against wall seconds)
to ``--out``: by default the folder you named when you name one, else ``compare/``.

``--suggest-target``: a target by rule from the reference row's seeds (:mod:`.targets`).
``--table models``: the models x data table papers print, .md/.tex/.csv (:mod:`.paper_table`).
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UsageError
from . import significance, stats
from .plot import curves_plot, pareto_plot
from .runs import RUN_CONFIG, find_runs, load_run, time_to_target, val_curve
from .table import aside_lines, format_table, row_name, to_markdown
from .terminal import fit, say, screen_width

DEFAULT_PATHS = ("outputs", "multirun")
NOT_GROUPED = ("trainer.seed", "sweep.label")  # runs differing only here are repeats
GROUP_BY = ("model.name", "data.name")         # one table each: other pairs are not comparable


# Keys that change how a run is watched, logged, checkpointed, resumed or fails on purpose
# (failure injection), or where its files go, but not what it computes: never a column, and
# runs differing only there are repeats. (data.path is not one: two files may share a
# data.name.) Prefixes: trainer.progress covers progress_every_s too.
UNSEEN = ("logger.", "trainer.progress", "trainer.log_every", "trainer.fail_kind",
          "trainer.fail_after_steps", "trainer.resume", "trainer.threads", "trainer.step_threads",
          "trainer.checkpoint_every", "trainer.eval_chunk_users", "data.cache_dir",
          "sweep.objective", "hydra.")
# Runs with nothing to compare (bad input, killed or still running, interrupted): listed
# under their table, not rows of it; compare.csv keeps them (in_table false).
ASIDE = ("error", "incomplete", "interrupted")


def differing_keys(runs) -> list:
    """Keys whose values differ between runs. A key some runs lack (recorded before it
    existed: a new config group keeps the old behaviour as its default) differs only where
    the runs that have it disagree."""
    keys = list(dict.fromkeys(k for run in runs for k in run.config if not k.startswith(UNSEEN)))
    keys = [k for k in keys if len({repr(run.config[k]) for run in runs if k in run.config}) > 1]
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


def summarise(row: dict, name: str, values) -> None:
    """``name``: the mean of the finite values; ``_std`` sample std; ``_ci`` the 95 %
    Student-t half-width (what the printed ± is); ``_n`` how many values."""
    n, mean, half = stats.t_interval(values)
    finite = [v for v in values if math.isfinite(v)]
    row[name], row[f"{name}_std"] = mean, float(np.std(finite, ddof=1)) if n > 1 else math.nan
    row[f"{name}_ci"], row[f"{name}_n"] = half, n


def group_runs(runs, pooled: bool = False) -> dict:
    """{title: runs}: one group per (model, data) pair in order of appearance, or all runs."""
    if pooled:
        return {"all runs": list(runs)}
    groups: dict = {}
    for run in runs:
        title = " on ".join(str(run.config.get(key)) for key in GROUP_BY)
        groups.setdefault(title, []).append(run)
    return groups


def row_sets(runs, grouped: list) -> list:
    """The runs of each row: completed runs with equal ``grouped`` keys share one (repeats);
    every other run is a row of its own, those of :data:`ASIDE` last. A run that diverged,
    ran out of memory or was pruned is no repeat of a completed run with its config."""
    sets: dict = {}
    for run in runs:
        if run.status in ASIDE:
            continue
        config = tuple(repr(run.config.get(c)) for c in grouped)
        key = ("completed", config) if run.status == "completed" else ("run", str(run.path))
        sets.setdefault(key, []).append(run)
    return list(sets.values()) + [[run] for run in runs if run.status in ASIDE]


def build_table(runs, k: int = 20, metric=None, target=None, start: int = 0,
                root=None) -> tuple:
    """One row per set of repeats (:func:`row_sets`), numbered from ``start``; returns
    (numeric table, the differing config keys, each row's runs). Rows of :data:`ASIDE` runs
    come last with ``in_table`` false. ``metric``/``target``: see
    :func:`~.runs.time_to_target`; ``root``: run folders are named relative to it."""
    tabled = [run for run in runs if run.status not in ASIDE]
    keys = differing_keys(tabled or runs)  # a stray folder's config adds no column
    grouped = [c for c in keys if c not in NOT_GROUPED]
    root = root or os.path.commonpath([str(r.path.parent) for r in runs])
    sets = row_sets(runs, grouped)
    rows = []
    for members in sets:
        row = {"run": " ".join(os.path.relpath(m.path, root) for m in members)}
        for key in keys:
            values = list(dict.fromkeys(str(m.config.get(key)) for m in members))
            row[key] = values[0] if len(values) == 1 else ",".join(values)
        row["n"] = len(members)
        done = [m for m in members if m.status == "completed"]
        for name in ("samples_per_s", "epoch_s", f"recall@{k}", f"ndcg@{k}"):
            summarise(row, name, [m.metrics[name] for m in done])
        # reaching a target is an event: any run that got there counts, whatever its end
        outcomes = [time_to_target(m, metric, target) for m in members]
        times = [t for reached, t in outcomes if reached]
        summarise(row, "time_to_target_s", times)
        row["time_to_target_mlperf_s"] = stats.mlperf_score(times)
        row["target_reached"] = len(times)
        row["target_runs"] = sum(reached is not None for reached, _ in outcomes)
        row["status"] = members[0].status  # one status per row (row_sets)
        row["error"] = " | ".join(dict.fromkeys(m.error for m in members if m.error))
        row["in_table"] = members[0].status not in ASIDE
        rows.append(row)
    table = pd.DataFrame(rows, index=range(start, start + len(rows)))
    table["pareto"] = pareto_mask(table["samples_per_s"], table[f"recall@{k}"])
    return table, keys, sets


def pick_baseline(table: pd.DataFrame, spec: str):
    """The baseline's row number, or None when no row has a throughput or none matches."""
    timed = table[np.isfinite(table["samples_per_s"])]
    if timed.empty:
        return None
    if spec == "first":
        return int(timed.index[0])
    if spec == "slowest":
        return int(timed["samples_per_s"].idxmin())
    if spec.isdigit() and int(spec) in timed.index:
        return int(spec)
    for row, item in timed.iterrows():
        labels = item["run"].split() + [str(item.get("sweep.label", ""))]
        folder = spec.rstrip("/")  # a run folder, or its tail: "3" is not "13"
        if spec in labels or any(label.endswith("/" + folder) for label in labels):
            return int(row)
    return None


def add_speedups(table: pd.DataFrame, base) -> None:
    """Speed-ups over row ``base``: samples/s ratio, and time to target ratio (base / row)."""
    if base is None:
        table["speedup"] = table["speedup_time_to_target"] = math.nan
        return
    table["speedup"] = table["samples_per_s"] / table.loc[base, "samples_per_s"]
    base_time = table.loc[base, "time_to_target_s"]
    table["speedup_time_to_target"] = base_time / table["time_to_target_s"]


def describe_target(runs, metric, target) -> tuple:
    """(text for the footer, metric and value for the figure's target line or None)."""
    if target is not None:
        return f"first val {metric} >= {target:g} in epochs.csv (--target)", (metric, target)
    targets = list(dict.fromkeys((str(r.target.get("metric")), float(r.target["value"]))
                                 for r in runs if isinstance(r.target.get("value"), (int, float))))
    if not targets:
        return "no run has a target (set one, or pass --target VALUE)", None
    text = ", ".join(f"val {m} >= {v:g}" for m, v in targets)
    if len(targets) > 1:
        return f"runs' targets differ ({text}): pass --target VALUE to compare on one", None
    return f"{text} (each run's metrics.json)", targets[0]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m graphrec.compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="run or sweep folders (default: outputs "
                        "multirun)")
    parser.add_argument("--baseline", default="first", help="first (default) | slowest | row "
                        "number | run folder | row label: the row speed-ups are relative to, "
                        "in each table")
    parser.add_argument("--k", type=int, default=20, help="cut-off of Recall@K and NDCG@K")
    parser.add_argument("--split", choices=("val", "test"), help="default val (--table: test)")
    parser.add_argument("--target", type=float, help="time to target recomputed from every "
                        "run's epochs.csv: wall seconds until val --metric >= TARGET (default: "
                        "each run's metrics.json target)")
    parser.add_argument("--metric", help="validation metric of --target and curves.png "
                        "(default: recall@K; curves.png without --target: the runs' own "
                        "target metric when they share one)")
    parser.add_argument("--all", action="store_true", help="one pooled table of every run "
                        "instead of one per (model, data)")
    parser.add_argument("--out", help="folder for compare.csv/.md/.png and curves.png "
                        "(default: the one folder named, else compare/)")
    parser.add_argument("--errors", action="store_true", help="list every run left out of "
                        "the tables (error, incomplete, interrupted), not just the first few")
    parser.add_argument("--width", type=int, help="characters a printed table may take "
                        "(default: the terminal's, else 120); columns left out to fit are "
                        "named, and in compare.md and compare.csv")
    significance.add_arguments(parser)
    parser.add_argument("--suggest-target", action="store_true", help="suggest a quality "
                        "target from the reference row's >= 3 seeds (--baseline picks the row "
                        "when there are several): --fraction x the median of their best val "
                        "--metric")
    parser.add_argument("--fraction", type=float, default=0.97, help="--suggest-target's "
                        "share of the median best (default 0.97)")
    parser.add_argument("--table", choices=("models",), help="models: the models x data "
                        "table papers print, written as models.md, .tex and .csv")
    parser.add_argument("--rows", default="model.name", help="--table's row key (any config "
                        "key, e.g. sweep.label)")
    parser.add_argument("--metrics", default="recall,ndcg", help="--table's metrics, each @K")
    return parser.parse_args(argv)


def main(argv=None) -> pd.DataFrame:
    args = parse_args(argv)
    paths = args.paths or [p for p in DEFAULT_PATHS if Path(p).is_dir()]
    if args.suggest_target or args.table:  # their own modules; they import this one
        from . import paper_table, targets
        args.split = args.split or ("test" if args.table else "val")
        return (targets if args.suggest_target else paper_table).main(args, paths)
    args.split = args.split or "val"
    width = screen_width(args.width)
    runs = [load_run(path, args.k, args.split) for path in find_runs(paths)]
    if not runs:
        raise UsageError(f"no runs (folders with {RUN_CONFIG}) under "
                         f"{' '.join(args.paths or DEFAULT_PATHS)}: pass run or sweep folders")
    metric = args.metric or f"recall@{args.k}"
    target_text, line = describe_target(runs, metric, args.target)
    plot_metric = line[0] if line and not args.metric else metric
    test_metric = args.test_metric or f"recall@{args.k}"
    heading = significance.title(test_metric, args.split, args.list)
    root = os.path.commonpath([str(r.path.parent) for r in runs])  # one naming for all tables
    tables, bases, shown, curves, notes = [], [], [], {}, []
    for title, members in group_runs(runs, args.all).items():
        start = sum(len(t) for t in tables)
        table, keys, row_runs = build_table(members, args.k, metric, args.target, start, root)
        base = pick_baseline(table, args.baseline)
        if base is None and args.baseline not in ("first", "slowest"):
            base = pick_baseline(table, "first")  # the named baseline is in another table
        add_speedups(table, base)
        notes.append(significance.add_tests(table, row_runs, base, test_metric, args.split,
                                            args.list, args.test, args.alpha))
        table.insert(0, "group", title)
        tables.append(table)
        bases.append(base)
        listed = table[table["in_table"]]
        shown.append((significance.show(format_table(listed, keys, args.k, args.split),
                                        listed, base, heading), keys))
        for row, repeats in zip(table.index, row_runs):
            if table.loc[row, "in_table"]:
                curves[row] = [c for r in repeats if (c := val_curve(r, plot_metric))
                               is not None]
    if args.baseline not in ("first", "slowest") and not any(
            pick_baseline(t, args.baseline) is not None for t in tables):
        raise UsageError(f"--baseline {args.baseline!r} matches no completed row (use first, "
                         "slowest, a row number, or a run folder or row label from the table)")
    one_folder = len(args.paths) == 1 and Path(args.paths[0]).is_dir()
    out = Path(args.out or (args.paths[0] if one_folder else "compare"))
    out.mkdir(parents=True, exist_ok=True)
    full = pd.concat(tables)
    full.to_csv(out / "compare.csv", index_label="row")
    titles = [t["group"].iloc[0] for t in tables]
    (out / "compare.md").write_text("\n".join(
        f"## {title}\n\n{to_markdown(s)}" + "".join(f"\n{note}\n" for note in n)
        + "".join(f"\n{line}\n" for line in aside_lines(t, True, None))
        for title, (s, _), n, t in zip(titles, shown, notes, tables)))
    recall = f"recall@{args.k}"
    pareto_plot(list(zip(titles, tables, bases)), recall, out / "compare.png",
                ylabel=f"{args.split} Recall@{args.k}")
    curves_plot(list(zip(titles, tables)), curves, out / "curves.png", ylabel=f"val {plot_metric}",
                target=line[1] if line and line[0] == plot_metric else None)
    for title, table, base, (s, keys), n in zip(titles, tables, bases, shown, notes):
        speed = (f"speed-up over row {base} ({row_name(table, base)})" if base is not None
                 else "no completed run has a throughput: no speed-ups")
        listed = table[table["in_table"]]
        runs_count = int(listed["n"].sum())
        if listed.empty:
            print(f"\n== {title}: no run to tabulate")
        else:
            print(f"\n== {title}: {runs_count} run{'s' * (runs_count != 1)} in {len(listed)} "
                  f"row{'s' * (len(listed) != 1)} | {speed}")
            lines, dropped = fit(s, keys, width)
            print("\n".join(lines))
            if dropped:
                say(f"not shown, to fit {width} characters (all in compare.md and "
                    f"compare.csv; --width N): {', '.join(dropped)}", width, "  ")
            for note in n:
                say(note, width, "  ")
        print("".join(f"  {line}\n" for line in aside_lines(table, args.errors, width)), end="")
    print()
    say(f"time to target: {target_text} | ± 95 % CI (t) over a row's repeats | * = Pareto "
        f"front | written: {out}/compare.csv, compare.md, compare.png, curves.png", width)
    say(significance.footer(test_metric, args.split, args.list, args.test, args.alpha), width)
    timed = full[full["in_table"]]["time_to_target_s"]
    if args.target is None and timed.isna().any() and timed.notna().any():
        say("some rows have no time to target (not reached, no target set, or another one): "
            "--target VALUE times every run on one target from its epochs.csv", width)
    return full
