"""PNG scatter of throughput against Recall@K with the Pareto front marked.

Uses matplotlib's object API on an Agg canvas: no pyplot, no global backend change."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def pareto_plot(table: pd.DataFrame, recall: str, baseline, path: Path,
                ylabel: str = "") -> None:
    """``table``: compare's numeric table (index = row number, columns samples_per_s, recall,
    their ``_std``, ``pareto``); ``baseline``: the baseline's row number or None."""
    done = table[np.isfinite(table["samples_per_s"]) & np.isfinite(table[recall])]
    fig = Figure(figsize=(7, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.errorbar(done["samples_per_s"], done[recall], xerr=done["samples_per_s_std"].fillna(0),
                yerr=done[f"{recall}_std"].fillna(0), fmt="o", color="tab:blue", alpha=0.7,
                label="runs (mean ± std over seeds)")
    front = done[done["pareto"]].sort_values("samples_per_s")
    ax.plot(front["samples_per_s"], front[recall], "*-", color="tab:red", markersize=12,
            label="Pareto front")
    if baseline in done.index:
        ax.plot(done.loc[baseline, "samples_per_s"], done.loc[baseline, recall], "s",
                markersize=14, markerfacecolor="none", color="black", label="baseline")
    for row, point in done.iterrows():
        ax.annotate(str(row), (point["samples_per_s"], point[recall]),
                    textcoords="offset points", xytext=(5, 5), fontsize=8)
    if len(done) and done["samples_per_s"].max() > 10 * done["samples_per_s"].min() > 0:
        ax.set_xscale("log")  # baseline and fast paths are often orders of magnitude apart
    ax.set_xlabel("training throughput (samples/s)")
    ax.set_ylabel(ylabel or recall)
    ax.set_title("throughput vs accuracy (numbers: table rows)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.savefig(path, dpi=120)
