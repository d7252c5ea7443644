"""compare's PNGs, one panel per table: throughput against Recall@K with the Pareto front
marked (``compare.png``), and the validation metric against wall seconds (``curves.png``).

Uses matplotlib's object API on an Agg canvas: no pyplot, no global backend change."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .table import row_name


def _panels(count: int, width: float = 7, height: float = 5):
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes


def pareto_plot(panels: list, recall: str, path: Path, ylabel: str = "") -> None:
    """``panels``: (title, table, baseline row or None) per table; a table is compare's numeric
    table (index = row number, columns samples_per_s, ``recall``, their ``_ci``, pareto).
    Error bars are the 95 % Student-t interval of the mean over a row's seeds, the table's ±
    (none for a single run)."""
    fig, axes = _panels(len(panels))
    for ax, (title, table, baseline) in zip(axes, panels):
        done = table[np.isfinite(table["samples_per_s"]) & np.isfinite(table[recall])]
        ax.errorbar(done["samples_per_s"], done[recall],
                    xerr=done["samples_per_s_ci"].fillna(0),
                    yerr=done[f"{recall}_ci"].fillna(0), fmt="o", color="tab:blue", alpha=0.7,
                    label="runs: mean, bars 95 % t interval over seeds")
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
        ax.set_title(f"{title}: throughput vs accuracy (numbers: table rows)", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.savefig(path, dpi=120)


def _mean_band(curves: list) -> tuple:
    """Several runs' (wall, value) curves on one time grid: (grid, mean, min, max). The grid
    is every evaluation time where all runs have started and none has ended."""
    start = max(wall[0] for wall, _ in curves)
    end = min(wall[-1] for wall, _ in curves)
    grid = np.unique(np.concatenate([wall for wall, _ in curves]))
    grid = grid[(grid >= start) & (grid <= end)]
    values = np.array([np.interp(grid, wall, value) for wall, value in curves])
    return grid, values.mean(0), values.min(0), values.max(0)


def _plain_log_ticks(ax) -> None:
    """Seconds as plain numbers; on a short span also 2x and 5x ticks, which matplotlib
    would label in overlapping scientific notation."""
    low, high = ax.get_xlim()
    few_decades = high / low < 300

    def minor(x, _):
        lead = round(x / 10 ** math.floor(math.log10(x)), 6)
        return f"{x:g}" if few_decades and lead in (2, 5) else ""
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(minor))


def curves_plot(panels: list, curves: dict, path: Path, ylabel: str, target=None) -> None:
    """``panels``: (title, table) per table; ``curves``: {row: [(wall_s, value) per run]};
    ``target``: the value drawn as a dashed line, or None. A row with several runs is drawn
    as their mean with a min-max band where their curves overlap in time."""
    fig, axes = _panels(len(panels))
    for ax, (title, table) in zip(axes, panels):
        drawn = False
        for row in table.index:
            runs = [(w, v) for w, v in curves.get(row, []) if (w > 0).any()]
            runs = [(w[w > 0], v[w > 0]) for w, v in runs]  # log axis: t = 0 cannot be shown
            if not runs:
                continue
            label = f"{row} {row_name(table, row)}" + (f" (n={len(runs)})" if len(runs) > 1 else "")
            if len(runs) == 1:
                ax.plot(*runs[0], marker=".", label=label)
            else:  # mean and band where all seeds have run; each seed thin, whole length
                grid, mean, low, high = _mean_band(runs)
                line, = ax.plot(grid, mean, marker=".", label=label)
                ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2)
                for wall, value in runs:
                    ax.plot(wall, value, color=line.get_color(), linewidth=0.8, alpha=0.4)
            drawn = True
        if target is not None:
            ax.axhline(target, color="black", linestyle="--", linewidth=1,
                       label=f"target {target:g}")
        if drawn:
            ax.set_xscale("log")  # runs of one table can differ in speed by orders of magnitude
            _plain_log_ticks(ax)
        ax.set_xlabel("wall seconds since the first step (log)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}: {ylabel} over time (seeds: mean, min-max band, thin lines)",
                     fontsize=10)
        ax.grid(True, alpha=0.3)
        if drawn or target is not None:
            ax.legend(loc="best", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no curve on the clock (epochs.csv without wall_s)",
                    ha="center", va="center", transform=ax.transAxes)
    fig.savefig(path, dpi=120)
