"""Time to target from two measurements that do not share noise: the samples each seed of a
row needs to reach the target (from its ``epochs.csv``: independent of machine load) and the
row's samples/s (from ``python -m graphrec.bench train``, alternating rounds in one run).

    python benchmarks/project_ttt.py --target 0.1907 --bench outputs/bench/bench.jsonl \\
        --row original RUNS_A 1 --row fast_path RUNS_E 7 ...

``--row NAME RUNS INDEX``: RUNS holds the row's seeds (one run folder each, trained with the
row's maths on any loader that draws the same way); INDEX is the row's configuration in the
bench run (1-based, in --configs order), or ``@N`` for a samples/s figure quoted from
elsewhere (the seed user's 3,464 on a GPU, say: one figure, so no spread of its own). The
first row is the base of the speed-ups.

Projected time to target = samples to target / samples/s (training only: the validations are
left out, ~0.1 s each here against ~10 s an epoch). The speed-up's 95 % interval is on the
log scale, from the seeds' spread of samples to target and the rounds' spread of samples/s
(delta method, Welch-Satterthwaite degrees of freedom); rows that share their seeds with the
base (the same maths) share that term, so only the samples/s spread is left.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from graphrec.reporting.compare import ASIDE  # noqa: E402
from graphrec.reporting.run_record import RunRecord  # noqa: E402
from graphrec.reporting.stats import t_interval  # noqa: E402


def record(run: Path):
    """The run's metrics.json as a RunRecord, or None (killed or still running)."""
    path = run / "metrics.json"
    return RunRecord.load(path) if path.is_file() else None


def seeds(folder: Path) -> list:
    """The run folders under folder, less those compare leaves aside (ASIDE: interrupted,
    incomplete, error): their curve may stop short of the target; resumed, they count."""
    runs, left = [], []
    for run in sorted(p.parent for p in folder.glob("*/epochs.csv")):
        rec = record(run)
        (left if (rec.status if rec else "incomplete") in ASIDE else runs).append(run)
    for run in left:
        print(f"left out (not finished; resume it to count it): {run}", file=sys.stderr)
    return runs


def n_pairs(run: Path) -> float:
    """Training pairs in an epoch: the record's, else the samples of epoch 0's last row
    (the first row alone is mid-epoch where validations run every N steps)."""
    rec = record(run)
    if rec and rec.data.get("n_train"):
        return float(rec.data["n_train"])
    df = pd.read_csv(run / "epochs.csv")
    last = df[df["epoch"] == df["epoch"].iloc[0]].iloc[-1]
    return float(last["samples"]) / (float(last["epoch"]) + 1)


def pm(half: float, fmt: str) -> str:
    """' ± half', or nothing where one figure gives no spread."""
    return f" ± {half:{fmt}}" if math.isfinite(half) else ""


def to_target(run: Path, col: str, target: float) -> tuple:
    """(samples to the first validation at or above target, or inf; peak; n_train)."""
    df = pd.read_csv(run / "epochs.csv")
    df = df[df[col].notna()] if col in df else df.iloc[0:0]
    hit = df[df[col] >= target]
    n_train = n_pairs(run)
    peak = float(df[col].max()) if len(df) else math.nan
    return (float(hit["samples"].iloc[0]) if len(hit) else math.inf), peak, n_train


def bench_rows(path: Path) -> list:
    """The rows of the last ``train`` bench run in bench.jsonl (those written together)."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r.get("mode") == "train"]
    last = rows[-1]["date"] if rows else None
    return [r for r in rows if r["date"] == last]


def quoted(index: str) -> dict:
    """A bench row stand-in for ``@N``: N samples/s measured elsewhere, one figure."""
    try:
        value = float(index[1:].replace(",", ""))
    except ValueError:
        value = math.nan
    if not value > 0:
        raise SystemExit(f"--row INDEX {index!r}: a quoted samples/s must be > 0")
    return {"values": [value], "configuration": f"quoted {value:g} samples/s"}


def log_stats(x) -> tuple:
    """(mean of log x, variance of that mean, its degrees of freedom)."""
    lx = np.log(np.asarray(x, float))
    n = len(lx)
    return lx.mean(), (lx.var(ddof=1) / n if n > 1 else math.nan), n - 1


def speedup(base: dict, row: dict) -> tuple:
    """(speed-up, low, high) of row's projected time against base's, 95 %."""
    terms = [log_stats(base["speed"]), log_stats(row["speed"])]
    if row["runs"] != base["runs"]:
        terms += [log_stats(base["samples"]), log_stats(row["samples"])]
    # time = samples / speed: log speed-up = (log S_b - log r_b) - (log S_r - log r_r)
    est = (np.log(base["samples"]).mean() - np.log(base["speed"]).mean()
           - np.log(row["samples"]).mean() + np.log(row["speed"]).mean())
    terms = [t for t in terms if t[2] > 0]  # a figure from one run adds no spread it knows of
    if not terms:
        return math.exp(est), math.nan, math.nan
    var = sum(v for _, v, _ in terms)
    df = var ** 2 / sum(v ** 2 / d for _, v, d in terms)
    half = stats.t.ppf(0.975, df) * math.sqrt(var)
    return math.exp(est), math.exp(est - half), math.exp(est + half)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", type=float, required=True)
    p.add_argument("--metric", default="recall@20", help="validation metric@K")
    p.add_argument("--bench", type=Path, help="bench.jsonl of a train bench (for INDEX numbers)")
    p.add_argument("--row", nargs=3, action="append", metavar=("NAME", "RUNS", "INDEX"),
                   required=True)
    a = p.parse_args(argv)
    speeds = bench_rows(a.bench) if a.bench else []
    if not speeds and any(not i.startswith("@") for _, _, i in a.row):
        p.error("an INDEX number needs --bench with a train bench run in it")
    col = f"val_{a.metric}"
    rows = []
    for name, folder, index in a.row:
        runs = seeds(Path(folder))
        got = [to_target(r, col, a.target) for r in runs]
        b = quoted(index) if index.startswith("@") else speeds[int(index) - 1]
        rows.append(dict(name=name, runs=str(Path(folder).resolve()), n=len(runs),
                         samples=np.array([s for s, _, _ in got]),
                         peaks=[pk for _, pk, _ in got], n_train=got[0][2] if got else math.nan,
                         speed=np.array(b.get("values") or []), config=b["configuration"]))
    base = rows[0]
    where = (f"{a.bench} ({speeds[0]['date']}, {speeds[0]['machine']}, {speeds[0]['note']})"
             if speeds else "quoted")
    print(f"target val {a.metric} >= {a.target:g}; speeds: {where}\n")
    print("| row | seeds reaching | samples to target (epochs) | samples/s (rounds) | "
          "projected time to target | speed-up, 95 % interval | peak val (seeds) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        reached = np.isfinite(r["samples"])
        peaks = ", ".join(f"{x:.4f}" for x in r["peaks"])
        n_s, mean_s, half_s = t_interval(r["samples"][reached])
        n_r, mean_r, half_r = t_interval(r["speed"])
        sp = f"{np.median(r['speed']):,.0f}" + (f" ± {half_r:,.0f}" if n_r > 1 else "") + f" ({n_r})"
        if not reached.all():
            print(f"| {r['name']} | {reached.sum()} of {r['n']} | not reached by every seed | "
                  f"{sp} | - | - | {peaks} |")
            continue
        ep = mean_s / r["n_train"]
        t = r["samples"] / np.exp(np.log(r["speed"]).mean())
        n_t, mean_t, half_t = t_interval(t)
        x, lo, hi = speedup(base, r) if np.isfinite(base["samples"]).all() else (math.nan,) * 3
        print(f"| {r['name']} | {reached.sum()} of {r['n']} | {mean_s / 1e6:.2f} M"
              f"{pm(half_s / 1e6, '.2f')} ({ep:.1f}) | {sp} | {mean_t:,.0f} s{pm(half_t, ',.0f')} | "
              f"{x:.2f}x" + (f" ({lo:.2f}-{hi:.2f})" if math.isfinite(lo) else "") + f" | {peaks} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
