"""compare's paired tests: each row against the table's baseline row, user by user.

A row's per-user values are its completed repeats' ``per_user.parquet`` values averaged per
user (:func:`~.stats.user_means`); a row is paired with the baseline on the users both
evaluated, only when every run used has the baseline's ``evaluation.heldout`` fingerprint
(the same users and held-out lists). The p-values are Holm-adjusted over the table's tested
rows, so ``▲``/``▼`` at alpha holds for the whole table, not per row.
"""
from __future__ import annotations

import math
from typing import List, Optional

import numpy as np
import pandas as pd

from . import per_user, stats

COLUMNS = ("paired_users", "rel_diff", "p_t", "p_wilcoxon", "p_holm", "sig")
NAMES = {"ndcg": "NDCG", "hit": "Hit", "recall": "Recall", "precision": "Precision"}


def add_arguments(parser) -> None:
    """compare's options for the paired tests."""
    parser.add_argument("--test-metric", help="per-user metric of the paired tests against "
                        "the baseline row (default: recall@K), on --split")
    parser.add_argument("--list", default="all", choices=("all", "warm", "cold"),
                        help="candidate items of --test-metric (default all)")
    parser.add_argument("--test", default="wilcoxon", choices=("wilcoxon", "t"),
                        help="the p that is Holm-adjusted and marked: Wilcoxon signed-rank "
                        "(default: no normality assumed) or the paired t-test")
    parser.add_argument("--alpha", type=float, default=stats.ALPHA, help="significance level "
                        "of the marks, family-wise over each table (default 0.05)")


def pretty(metric: str) -> str:
    """``recall@20`` -> ``Recall@20``."""
    name, _, k = metric.partition("@")
    return NAMES.get(name, name) + (f"@{k}" if k else "")


def title(metric: str, split: str, list_: str) -> str:
    items = "" if list_ == "all" else f", {list_} items"
    return f"vs base ({split} {pretty(metric)}{items})"


def row_values(runs, metric: str, split: str, list_: str) -> tuple:
    """(per-user means over the row's completed repeats, their fingerprint, why not)."""
    done = [r for r in runs if r.status == "completed"]
    series, prints = [], set()
    for run in done:
        values = per_user.values(run.path, metric, split, list_)
        if values is not None:
            series.append(values)
            prints.add(run.heldout)
    if not series:
        what = "no completed run" if not done else f"no {per_user.FILE} with {split} {metric}"
        return None, None, what
    if len(prints) > 1 or "" in prints:
        return None, None, "its runs' held-out data differ or are unrecorded"
    return stats.user_means(series), prints.pop(), ""


def done_any(runs) -> bool:
    return any(r.status == "completed" for r in runs)


def add_tests(table: pd.DataFrame, row_runs, base: Optional[int], metric: str, split: str,
              list_: str = "all", test: str = "wilcoxon", alpha: float = stats.ALPHA) -> List[str]:
    """Fill :data:`COLUMNS` in ``table`` (rows in ``row_runs``' order); returns footer notes
    for the rows left untested."""
    for col in COLUMNS:
        table[col] = "" if col == "sig" else math.nan
    if base is None:
        return ["no baseline row: no paired tests"]
    rows = list(table.index)
    found = {row: row_values(runs, metric, split, list_) for row, runs in zip(rows, row_runs)}
    base_values, base_print, why = found[base]
    if base_values is None:
        return [f"row {base} (baseline): {why}: no paired tests"]
    notes = []
    for row in rows:
        values, fingerprint, why = found[row]
        if row == base:
            continue
        if values is None:
            if done_any(row_runs[rows.index(row)]):  # else its status says why
                notes.append(f"row {row}: {why}: not paired")
        elif fingerprint != base_print:
            notes.append(f"row {row}: other held-out data (fingerprint differs): not paired")
        else:
            result = stats.paired(base_values, values)
            table.loc[row, "paired_users"] = result["users"]
            for col in ("rel_diff", "p_t", "p_wilcoxon"):
                table.loc[row, col] = result[col]
    table["p_holm"] = stats.holm(table[f"p_{test}"])
    table["sig"] = [stats.mark(d, p, alpha) for d, p in zip(table["rel_diff"], table["p_holm"])]
    return notes


def cells(table: pd.DataFrame, base: Optional[int]) -> list:
    """The printed column: ``+3.1 % ▲ p=0.002`` (Holm-adjusted p), ``base`` on the baseline."""
    out = []
    for row, diff, p, sig in zip(table.index, table["rel_diff"], table["p_holm"], table["sig"]):
        if row == base:
            out.append("base")
        elif not (np.isfinite(diff) and np.isfinite(p)):
            out.append("")
        else:
            shown = "p<0.001" if p < 0.001 else f"p={p:.3f}"
            out.append(f"{100 * diff:+.1f} % {sig} {shown}")
    return out


def show(shown: pd.DataFrame, table: pd.DataFrame, base: Optional[int], heading: str):
    """The printed table with the tests' column before ``pareto``."""
    shown.insert(shown.columns.get_loc("pareto"), heading, cells(table, base))
    return shown


def footer(metric: str, split: str, list_: str, test: str, alpha: float) -> str:
    return (f"vs base: paired over users ({split} {metric}, {list_} items, each user's mean over "
            f"a row's seeds); p: {test}, Holm-adjusted over the table's rows; "
            f"▲/▼ significant gain/loss at alpha={alpha:g}, = not significant")
