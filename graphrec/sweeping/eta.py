"""The sweep's time-left estimate, from the measured time of trials like the next ones.

Trials of one sweep differ in cost by orders of magnitude (``loader=baseline`` took ~4 min
where ``loader=fast`` took seconds, on 2 cores), so the mean of this invocation's first
trials is no guide. The estimate reads every finished trial of the study (earlier
invocations and other processes included) that ran with this sweep's fixed values:

* listed rows: each next row at its own earlier repeats' median time, else at the median of
  all measured trials;
* sampled trials: the trials grouped by their ``loader`` (the key that sets a trial's cost
  most), each group at its median, weighted by how often the study drew it; a loader the
  space searches that no trial has run yet is named, since its cost is unknown.

A trial's time is its Optuna ``duration`` (asked to told): completed and pruned trials only,
since a failed one may have failed at once, or been failed as stale long after."""
from __future__ import annotations

import statistics
from typing import Mapping, Optional, Sequence

from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

COST_KEY = "loader"
TIMED = (TrialState.COMPLETE, TrialState.PRUNED)


def seconds(trial) -> Optional[float]:
    if trial.state not in TIMED or trial.duration is None:
        return None
    return trial.duration.total_seconds()


def _value(trial, key: str):
    """A trial's value of ``key``: searched (params) or fixed (user attributes)."""
    value = trial.params.get(key, trial.user_attrs.get(key))
    return None if value is None else str(value)


def _like(trial, fixed: Mapping) -> bool:
    return all(_value(trial, key) == str(value) for key, value in fixed.items())


def estimate(trials, remaining: int, n_jobs: int = 1, fixed: Optional[Mapping] = None,
             next_rows: Optional[Sequence[str]] = None, space: Optional[Mapping] = None):
    """(seconds left or None when no like trial was timed, a note or ""). ``trials``: the
    study's; ``fixed``: the sweep's fixed values (sampled trials record them); ``next_rows``:
    the row names still to run (listed sweeps); ``space``: the searched distributions."""
    if remaining <= 0:
        return 0.0, ""
    if next_rows is not None:
        timed = [(t.user_attrs.get("row"), s) for t in trials if (s := seconds(t)) is not None]
        if not timed:
            return None, ""
        every = statistics.median(s for _, s in timed)
        rows = {}
        for row, s in timed:
            rows.setdefault(row, []).append(s)
        total = sum(statistics.median(rows[r]) if r in rows else every for r in next_rows)
        return total / max(n_jobs, 1), ""
    groups: dict = {}
    for trial in trials:
        s = seconds(trial)
        if s is not None and _like(trial, fixed or {}):
            groups.setdefault(_value(trial, COST_KEY), []).append(s)
    if not groups:
        return None, ""
    count = sum(len(g) for g in groups.values())
    per_trial = sum(len(g) * statistics.median(g) for g in groups.values()) / count
    note = ""
    searched = (space or {}).get(COST_KEY)
    if isinstance(searched, CategoricalDistribution):
        untimed = [str(c) for c in searched.choices if str(c) not in groups]
        if untimed:
            note = f"{COST_KEY}={','.join(untimed)} not timed yet"
    return remaining * per_trial / max(n_jobs, 1), note


def shown(left_s: Optional[float], note: str = "") -> str:
    """``~3.1 min left``, ``~2.4 h left (loader=baseline not timed yet)``."""
    if left_s is None:
        return ""
    text = (f"~{left_s / 3600:.1f} h left" if left_s >= 5400 else
            f"~{left_s / 60:.1f} min left" if left_s >= 60 else f"~{left_s:.0f} s left")
    return text + (f" ({note})" if note else "")
