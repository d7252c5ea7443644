"""Text forms of compare's numeric table: its cells, the Markdown table (every column) and the
runs listed under a table. The printed table, fitted to a width: :mod:`.terminal`."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

RUN_WIDTH = 28      # the run column lists folders: keep it from dominating the line
STATUS_WIDTH = 60   # error messages are cut here in print and Markdown (full in compare.csv)
WIDTH = 120         # a printed table fits this many characters unless told otherwise
LISTED = 3          # runs left out of a table listed under it (--errors: all)


def _fmt(mean: float, half: float, spec: str) -> str:
    """``mean ± half`` (the half-width of the row's interval), or the mean alone."""
    if not math.isfinite(mean):
        return ""
    return format(mean, spec) + (f" ± {format(half, spec)}" if math.isfinite(half) else "")


def cut(text: str, width: int, left: bool = False) -> str:
    if len(text) <= width:
        return text
    return "…" + text[-(width - 1):] if left else text[:width - 1] + "…"


def short_run(run: str) -> str:
    """``a/0 a/1 a/2`` -> ``a/0,a/1,a/2``, or ``a/0 +2`` when that is too long."""
    names = run.split()
    text = ",".join(names)
    if len(text) > RUN_WIDTH and len(names) > 1:
        text = f"{names[0]} +{len(names) - 1}"
    return cut(text, RUN_WIDTH, left=True)  # the end of a path names the trial


def _seconds(value: float) -> str:
    # short runs (CPU tests, tiny data) need more decimals than long ones
    return ",.1f" if value >= 10 else ".2f" if value >= 0.1 else ".4f"


def target_cell(mean: float, half: float, reached: int, runs: int) -> str:
    if not runs:
        return ""  # no target known for these runs
    if not reached:
        return "not reached"
    text = _fmt(mean, half, _seconds(mean))
    return text if reached == runs else f"{reached}/{runs} reached: {text}"


def status_cell(status: str, error: str) -> str:
    text = f"{status}: {error}" if error and status != "completed" else status
    return cut(text, STATUS_WIDTH)


def row_name(table: pd.DataFrame, row: int) -> str:
    label = str(table.loc[row].get("sweep.label", "") or "")
    return label if label and label != "nan" else short_run(table.loc[row, "run"])


def format_table(table: pd.DataFrame, keys: list, k: int, split: str) -> pd.DataFrame:
    """The table as printed: label, metrics and speed-ups first, then the differing config
    keys, the run folders and the status."""
    shown = pd.DataFrame(index=table.index)
    if "sweep.label" in keys:
        shown["label"] = table["sweep.label"]
    shown["n"] = table["n"]
    speedup = [f"{x:.2f}x" if math.isfinite(x) else "" for x in table["speedup"]]
    shown["samples/s"] = [_fmt(m, s, ",.0f") for m, s in
                          zip(table["samples_per_s"], table["samples_per_s_ci"])]
    shown["speed-up"] = speedup
    shown["time to target"] = [target_cell(*cells) for cells in zip(
        table["time_to_target_s"], table["time_to_target_s_ci"], table["target_reached"],
        table["target_runs"])]
    mlperf = table["time_to_target_mlperf_s"]
    if mlperf.notna().any():  # only with >= 5 runs that reached the target
        shown["MLPerf score"] = [_fmt(x, math.nan, _seconds(x)) for x in mlperf]
    shown["speed-up (time to target)"] = [f"{x:.2f}x" if math.isfinite(x) else ""
                                          for x in table["speedup_time_to_target"]]
    for name, title, spec in [(f"recall@{k}", f"{split} Recall@{k}", ".4f"),
                              (f"ndcg@{k}", f"{split} NDCG@{k}", ".4f"),
                              ("epoch_s", "epoch s", ".2f")]:
        shown[title] = [_fmt(m, s, spec) for m, s in zip(table[name], table[f"{name}_ci"])]
    shown["pareto"] = np.where(table["pareto"], "*", "")
    for key in keys:
        if key != "sweep.label":
            shown[key] = table[key]
    shown["run"] = [short_run(run) for run in table["run"]]
    shown["status"] = [status_cell(s, e) for s, e in zip(table["status"], table["error"])]
    return shown


def to_markdown(shown: pd.DataFrame) -> str:
    cells = [["#", *map(str, shown.columns)]]
    cells += [[str(row), *(str(v).replace("|", "\\|") for v in values)]
              for row, values in zip(shown.index, shown.itertuples(index=False))]
    lines = ["| " + " | ".join(line) + " |" for line in cells]
    lines.insert(1, "|" + "---|" * len(cells[0]))
    return "\n".join(lines) + "\n"


WHY = {"incomplete": "no metrics.json: killed, or still running",
       "interrupted": "stopped early, resumable: python train.py trainer.resume=<its folder>"}


def aside_lines(table: pd.DataFrame, every: bool, width=WIDTH) -> list:
    """The runs left out of a table (``in_table`` false), one line each: the first
    :data:`LISTED` unless ``every``; ``width`` None: lines uncut."""
    aside = table[~table["in_table"].astype(bool)]
    if aside.empty:
        return []
    counts = aside["status"].value_counts(sort=False)
    head = "not in the table: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    if not every and len(aside) > LISTED:
        head += f" (the first {LISTED} below; --errors lists all {len(aside)})"
        aside = aside.head(LISTED)
    lines = [head]
    for row, item in aside.iterrows():
        why = str(item["error"] or "") or WHY.get(item["status"], "")
        text = f"  #{row} {item['status']}  {item['run']}: {why}"
        lines.append(text if width is None else cut(text, width - 2))
    return lines
