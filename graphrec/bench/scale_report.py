"""The scale mode's outputs: a one-line summary per size, the markdown table, the plot."""
from __future__ import annotations

from pathlib import Path


def _fmt_rate(x):
    return "" if x is None else f"{x:,.0f}"


def _load_cell(load: dict) -> str:
    """The load: generated and stored, then read back; or from the cache; or not cached."""
    if "cached_s" in load:
        return f"{load['s']:.1f} built, {load['cached_s']:.1f} cached"
    how = "not cached" if load["cache"] == "none" else load["cache"]
    return f"{load['s']:.1f} ({how})"


def scale_summary(r: dict) -> str:
    ph = r["phases"]
    parts = [f"{r['n_train']:,} train pairs", f"load {_load_cell(ph['load'])} s",
             f"peak {r['peak_mb'] / 1024:.2f} GB",
             f"sampler {_fmt_rate(ph['sampler']['samples_per_s'])} samples/s"]
    parts += [f"{m} lean {_fmt_rate(ph[m]['samples_per_s'])} samples/s"
              for m in ph if m not in ("load", "sampler", "eval")]
    if "eval" in ph:
        parts.append(f"full validation {ph['eval']['s']:.1f} s")
    return ", ".join(parts)


def scale_table(results: list) -> str:
    """Markdown: one row per size."""
    models = [m for r in results for m in r["phases"] if m not in ("load", "sampler", "eval")]
    models = list(dict.fromkeys(models))
    head = (["size", "users", "items", "train pairs", "load s", "peak RSS GB",
             "sampler samples/s (method)"] + [f"{m} lean samples/s" for m in models]
            + ["full validation s (users)", "peak RSS GB per phase"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ph = r["phases"]
        row = [r["name"], f"{r['n_users']:,}", f"{r['n_items']:,}", f"{r['n_train']:,}",
               _load_cell(ph["load"]), f"{r['peak_mb'] / 1024:.2f}",
               f"{_fmt_rate(ph['sampler']['samples_per_s'])} ({ph['sampler']['method']})"]
        row += [_fmt_rate(ph[m]["samples_per_s"]) if m in ph else "" for m in models]
        row.append(f"{ph['eval']['s']:.1f} ({ph['eval']['users']:,})" if "eval" in ph else "")
        row.append(", ".join(f"{k} {v['peak_mb'] / 1024:.2f}" for k, v in ph.items()))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def scale_plot(results: list, path: Path) -> None:
    """Log-log: each cost against training pairs; seconds and GB on the left, microseconds per
    sample on the right."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    x = [r["n_train"] for r in results]
    series = {"load s": [r["phases"]["load"]["s"] for r in results],
              "peak RSS GB": [r["peak_mb"] / 1024 for r in results]}
    if all("eval" in r["phases"] for r in results):
        series["full validation s"] = [r["phases"]["eval"]["s"] for r in results]
    cached = [(xi, r["phases"]["load"]["cached_s"]) for xi, r in zip(x, results)
              if "cached_s" in r["phases"]["load"]]
    for label, y in series.items():
        left.plot(x, y, "o-", label=label)
    if cached:
        left.plot(*zip(*cached), "s--", label="load from the cache s")
    per_sample = {"sampler": "sampler"}
    for r in results:
        per_sample.update({m: f"{m} lean step" for m in r["phases"]
                           if m not in ("load", "sampler", "eval")})
    for key, label in per_sample.items():
        pts = [(xi, 1e6 / r["phases"][key]["samples_per_s"]) for xi, r in zip(x, results)
               if key in r["phases"] and r["phases"][key]["samples_per_s"]]
        if pts:
            right.plot(*zip(*pts), "o-", label=label)
    for ax, title, ylabel in ((left, "time and memory", "seconds / GB"),
                              (right, "cost per training sample", "microseconds per sample")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training pairs")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        for xi, r in zip(x, results):
            ax.annotate(r["name"], (xi, ax.get_ylim()[0]), textcoords="offset points",
                        xytext=(2, 4), fontsize=7, rotation=90)
    fig.suptitle(f"graphrec cost against size ({results[0]['device']}, torch "
                 f"{results[0]['torch']})", fontsize=10)
    fig.savefig(path, dpi=120)
