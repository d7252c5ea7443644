"""``python -m graphrec.compare --table models PATHS``: the models x data table papers print.

Rows are ``model.name`` (``--rows KEY``: any config key, e.g. ``sweep.label``); columns are
data.name x list (all, and warm/cold where the data has cold items) x metric@K, then time to
target and samples/s per data set where runs have them. A cell is mean ± std over the row's
seeds (completed runs with the same row label and data). The best mean per metric column is
bold; it carries a dagger when it beats the runner-up by a paired per-user test: two-sided
Wilcoxon signed-rank (``--test t``: paired t) on each user's value averaged over a row's seeds
(``per_user.parquet``), Holm-corrected over every column tested, alpha 0.05 (``--alpha``). A
column is not tested when either row lacks per-user values or their held-out lists differ
(``evaluation.heldout``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UsageError
from . import per_user, stats
from .paper_render import footer, to_latex, to_markdown
from .run_record import RunRecord
from .runs import find_runs, load_run

LISTS = {"all": "", "warm": "_warm", "cold": "_cold"}  # list -> metrics.json key suffix
TIME, SPEED = "time_to_target_s", "samples_per_s"


@dataclass
class Repeat:
    path: Path
    record: RunRecord             # metrics.json


@dataclass(frozen=True)
class Column:
    data: str
    list_: str                    # all | warm | cold; "" for time and samples/s
    metric: str                   # recall@20, ..., time_to_target_s, samples_per_s


def collect(runs, rows_key: str) -> tuple:
    """({(row, data): [Repeat]}, rows in order, data sets in order, runs left out)."""
    groups: dict = {}
    left_out = 0
    for run in runs:
        path = run.path / "metrics.json"
        if run.status != "completed" or not path.is_file():
            left_out += 1
            continue
        key = (str(run.config.get(rows_key)), str(run.config.get("data.name")))
        groups.setdefault(key, []).append(Repeat(run.path, RunRecord.load(path)))
    rows = list(dict.fromkeys(r for r, _ in groups))
    datas = list(dict.fromkeys(d for _, d in groups))
    return groups, rows, datas, left_out


def value(rec: RunRecord, col: Column, split: str) -> float:
    if col.metric == TIME:
        return float(rec.target.time_to_target_s) if rec.target_reached else math.nan
    if col.metric == SPEED:
        return float(rec.throughput.samples_per_s or math.nan)
    got = rec.score(split + LISTS[col.list_], col.metric)
    return float(got) if got is not None else math.nan


def columns(groups, datas, metrics, k: int, split: str) -> list:
    cols = []
    for data in datas:
        recs = [r.record for (_, d), reps in groups.items() if d == data for r in reps]
        for list_, suffix in LISTS.items():
            if any(rec.split(split + suffix) for rec in recs):
                cols += [Column(data, list_, f"{m}@{k}") for m in metrics]
        if any(rec.target and isinstance(rec.target.value, (int, float)) for rec in recs):
            cols.append(Column(data, "", TIME))
        if any(math.isfinite(value(rec, Column(data, "", SPEED), split)) for rec in recs):
            cols.append(Column(data, "", SPEED))
    return cols


def _user_means(reps, metric: str, split: str, list_: str, cache: dict):
    series = []
    for rep in reps:
        if rep.path not in cache:
            cache[rep.path] = per_user.read(rep.path)
        series.append(per_user.values(rep.path, metric, split, list_, table=cache[rep.path])
                      if cache[rep.path] is not None else None)
    return None if any(s is None for s in series) else stats.user_means(series)


def beats_runner_up(groups, col: Column, ranked: list, split: str, cache: dict,
                    test: str = "wilcoxon") -> tuple:
    """(p, rel_diff, why not tested) of the best row against the runner-up."""
    best, runner = ranked[0], ranked[1]
    reps = {row: groups[(row, col.data)] for row in (best, runner)}
    prints = {r.record.evaluation.heldout for rs in reps.values() for r in rs}
    if len(prints) > 1:
        return math.nan, math.nan, f"{best} and {runner} on {col.data}: held-out lists differ"
    means = {row: _user_means(rs, col.metric, split, col.list_, cache) for row, rs in reps.items()}
    missing = [row for row, m in means.items() if m is None]
    if missing:
        return math.nan, math.nan, (f"no per-user values ({per_user.FILE}) for "
                                    f"{' and '.join(missing)} on {col.data}")
    result = stats.paired(means[runner], means[best])
    return result["p_t" if test == "t" else "p_wilcoxon"], result["rel_diff"], ""


def build(runs, rows_key="model.name", metrics=("recall", "ndcg"), k=20, split="test",
          alpha=stats.ALPHA, test="wilcoxon") -> tuple:
    """(long table: a row per (row, column) cell, rows, columns, notes, runs left out)."""
    groups, rows, datas, left_out = collect(runs, rows_key)
    cols = columns(groups, datas, metrics, k, split)
    cells, tests, notes, cache = [], [], [], {}
    for col in cols:
        means = {}
        for row in rows:
            vals = [value(r.record, col, split) for r in groups.get((row, col.data), [])]
            done = [v for v in vals if math.isfinite(v)]
            mean = float(np.mean(done)) if done else math.nan
            std = float(np.std(done, ddof=1)) if len(done) > 1 else math.nan
            cells.append({"row": row, "data": col.data, "list": col.list_, "metric": col.metric,
                          "mean": mean, "std": std, "n": len(done), "runs": len(vals),
                          "best": False, "p": math.nan, "p_holm": math.nan,
                          "significant": False})
            means[row] = mean
        if col.metric in (TIME, SPEED):
            continue
        ranked = sorted((r for r in rows if math.isfinite(means[r])), key=lambda r: -means[r])
        if not ranked:
            continue
        for cell in cells[-len(rows):]:
            cell["best"] = cell["mean"] == means[ranked[0]]
        if len(ranked) < 2 or means[ranked[0]] == means[ranked[1]]:
            continue  # nothing to beat, or a tie
        p, rel, why = beats_runner_up(groups, col, ranked, split, cache, test)
        if why:
            notes.append(why)
            continue
        tests.append((len(cells) - len(rows) + rows.index(ranked[0]), p, rel))
    for (i, p, rel), adjusted in zip(tests, stats.holm([p for _, p, _ in tests])):
        cells[i].update(p=p, p_holm=adjusted,
                        significant=bool(adjusted < alpha and rel > 0))
    table = pd.DataFrame(cells)
    notes.insert(0, f"{len(tests)} column{'s' * (len(tests) != 1)} tested")
    return table, rows, cols, list(dict.fromkeys(notes)), left_out


def main(args, paths) -> pd.DataFrame:
    runs = [load_run(p, args.k, args.split) for p in find_runs(paths)]
    alpha, test = getattr(args, "alpha", stats.ALPHA), getattr(args, "test", "wilcoxon")
    table, rows, cols, notes, left_out = build(runs, args.rows, args.metrics.split(","),
                                               args.k, args.split, alpha, test)
    if table.empty:
        raise UsageError(f"--table: no completed runs under {' '.join(map(str, paths))} (pass "
                         "folders holding completed run folders)")
    if left_out:
        notes.append(f"{left_out} run{'s' * (left_out != 1)} not completed: left out")
    foot = footer(table, rows, args.split, notes, alpha, test)
    one_folder = len(args.paths) == 1 and Path(args.paths[0]).is_dir()
    out = Path(args.out or (args.paths[0] if one_folder else "compare"))
    out.mkdir(parents=True, exist_ok=True)
    markdown = to_markdown(table, rows, cols, args.rows) + "\n" + "\n".join(foot) + "\n"
    (out / "models.md").write_text(markdown)
    (out / "models.tex").write_text(to_latex(table, rows, cols, args.rows, foot))
    table.to_csv(out / "models.csv", index=False)
    print(markdown + f"written: {out}/models.md, models.tex, models.csv")
    return table
