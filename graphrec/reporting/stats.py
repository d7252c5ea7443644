"""The statistics behind compare's verdicts: intervals over repeats, MLPerf's score, paired
tests over users, Holm's correction.

* Repeats (runs differing only by ``trainer.seed``) give a mean and a 95 % Student-t
  interval: ``mean ± t_{0.975, n-1} * s / sqrt(n)``.
* MLPerf Training scores a time-to-train result from its runs by dropping the fastest and
  the slowest and averaging the rest (recommendation: 10 runs); here from n >= 5.
* Two rows are compared user by user on the users both evaluated (Elliot's per-user paired
  t-test and Wilcoxon signed-rank). With repeats, each user's value is first averaged over
  the row's seeds, so the test is over users, not over seeds x users.
* Holm's step-down correction keeps the family-wise error at alpha over a table's rows.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
MLPERF_MIN_RUNS = 5


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple:
    """(n, mean, half-width) of the finite values; half-width NaN below two values."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    if not len(x):
        return 0, math.nan, math.nan
    if len(x) < 2:
        return 1, float(x[0]), math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return len(x), float(x.mean()), float(half)


def mlperf_score(times: Sequence[float]) -> float:
    """Mean time with the fastest and slowest dropped; NaN under ``MLPERF_MIN_RUNS`` runs or
    when a run did not reach the target (NaN in ``times``: MLPerf counts no such result)."""
    x = np.asarray(times, float)
    if len(x) < MLPERF_MIN_RUNS or not np.isfinite(x).all():
        return math.nan
    return float(np.sort(x)[1:-1].mean())


def user_means(series: Sequence[pd.Series]) -> Optional[pd.Series]:
    """Per-user mean over a row's repeats, on the users every repeat evaluated."""
    series = [s for s in series if s is not None]
    if not series:
        return None
    return pd.concat(series, axis=1, join="inner").mean(axis=1)


def paired(a: pd.Series, b: pd.Series) -> Dict[str, float]:
    """Row ``b`` against baseline ``a``, on the users both evaluated: their means, the
    relative difference ``(b - a) / a``, and two-sided p-values of the paired t-test and the
    Wilcoxon signed-rank test (zero differences dropped, as Wilcoxon's own rule; all equal:
    p = 1)."""
    a, b = a.align(b, join="inner")
    n = len(a)
    out = {"users": n, "base": math.nan, "mean": math.nan, "rel_diff": math.nan,
           "p_t": math.nan, "p_wilcoxon": math.nan}
    if n == 0:
        return out
    d = (b - a).to_numpy(float)
    out["base"], out["mean"] = float(a.mean()), float(b.mean())
    out["rel_diff"] = (out["mean"] - out["base"]) / out["base"] if out["base"] else math.nan
    if n < 2 or not np.any(d):
        out["p_t"] = out["p_wilcoxon"] = 1.0
        return out
    out["p_t"] = float(stats.ttest_rel(b, a).pvalue) if np.std(d) > 0 else 0.0
    out["p_wilcoxon"] = float(stats.wilcoxon(d[d != 0]).pvalue) if np.count_nonzero(d) else 1.0
    return out


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN, and is not counted)."""
    p = np.asarray(pvalues, float)
    out = np.full(len(p), math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def mark(rel_diff: float, p_adjusted: float, alpha: float = ALPHA) -> str:
    """``▲`` significant gain, ``▼`` significant loss, ``=`` no significant difference."""
    if not (math.isfinite(p_adjusted) and math.isfinite(rel_diff)):
        return ""
    if p_adjusted >= alpha or rel_diff == 0:
        return "="
    return "▲" if rel_diff > 0 else "▼"
