"""The sweep's time left: from the study's timed trials like the next ones, not from the
first trial (trials built with fixed durations: no clock)."""
from __future__ import annotations

from datetime import datetime, timedelta

from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from graphrec.sweeping import eta

T0 = datetime(2026, 1, 1)
LOADER = CategoricalDistribution(["baseline", "workers", "fast"])


def trial(number, seconds, state=TrialState.COMPLETE, loader=None, attrs=None):
    params = {"loader": loader} if loader else {}
    return FrozenTrial(number=number, state=state, value=1.0 if state.name == "COMPLETE"
                       else None, datetime_start=T0,
                       datetime_complete=T0 + timedelta(seconds=seconds), params=params,
                       distributions={"loader": LOADER} if loader else {},
                       user_attrs=dict(attrs or {}), system_attrs={}, intermediate_values={},
                       trial_id=number)


def test_a_slow_loader_weighs_as_often_as_it_was_drawn():
    trials = [trial(0, 8, loader="fast"), trial(1, 240, loader="baseline"),
              trial(2, 10, loader="fast"), trial(3, 12, loader="fast")]
    left, note = eta.estimate(trials, remaining=8, space={"loader": LOADER})
    # fast: median 10 s, 3 of 4 trials; baseline 240 s, 1 of 4: 67.5 s a trial
    assert left == 8 * (3 * 10 + 240) / 4
    assert note == "loader=workers not timed yet"
    assert eta.shown(left, note) == "~9.0 min left (loader=workers not timed yet)"


def test_the_first_trial_alone_does_not_set_the_pace():
    """After trial 0 (fast) and a slow baseline trial, the estimate is no longer trial 0's."""
    fast_only = eta.estimate([trial(0, 8, loader="fast")], 18, space={"loader": LOADER})[0]
    both = eta.estimate([trial(0, 8, loader="fast"), trial(1, 240, loader="baseline")], 18,
                        space={"loader": LOADER})[0]
    assert fast_only == 18 * 8 and both == 18 * (8 + 240) / 2


def test_failed_running_and_unlike_trials_are_not_timed():
    trials = [trial(0, 9000, TrialState.FAIL, loader="fast"),     # failed as stale, hours on
              trial(1, 5, TrialState.RUNNING, loader="fast"),
              trial(2, 30, TrialState.PRUNED, loader="fast", attrs={"trainer.epochs": "3"}),
              trial(3, 300, loader="fast", attrs={"trainer.epochs": "30"})]  # another budget
    assert eta.estimate(trials, 2, fixed={"trainer.epochs": "3"}) == (60.0, "")
    assert eta.estimate(trials[:2], 2) == (None, "")  # nothing timed: the caller's fallback


def test_listed_rows_take_their_own_repeats_time():
    trials = [trial(0, 100, attrs={"row": "original"}), trial(1, 120, attrs={"row": "original"}),
              trial(2, 10, attrs={"row": "fast_path"})]
    left, _ = eta.estimate(trials, 3, next_rows=["fast_path", "fast_path", "amp"])
    assert left == 10 + 10 + 100  # amp not run yet: the median of all timed trials
    assert eta.estimate(trials, 4, n_jobs=2, next_rows=["original"] * 4)[0] == 4 * 110 / 2


def test_shown_in_minutes_or_hours():
    assert eta.shown(None) == "" and eta.shown(90) == "~1.5 min left"
    assert eta.shown(20) == "~20 s left"
    assert eta.shown(3 * 3600) == "~3.0 h left"
