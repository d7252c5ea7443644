"""graphrec.reporting.stats on known values."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from graphrec.reporting import stats


def test_t_interval_on_three_values():
    n, mean, half = stats.t_interval([1.0, 2.0, 6.0])
    # mean 3, sample std sqrt(7); t(0.975, 2) = 4.302653
    assert (n, mean) == (3, 3.0)
    assert half == pytest.approx(4.302653 * math.sqrt(7) / math.sqrt(3), rel=1e-6)


def test_t_interval_drops_nan_and_has_no_width_below_two():
    assert stats.t_interval([2.0, math.nan, None])[:2] == (1, 2.0)
    assert math.isnan(stats.t_interval([2.0])[2])
    assert stats.t_interval([])[0] == 0


def test_mlperf_score_drops_fastest_and_slowest():
    assert stats.mlperf_score([10.0, 1.0, 4.0, 5.0, 6.0]) == pytest.approx(5.0)
    assert math.isnan(stats.mlperf_score([1.0, 2.0, 3.0, 4.0]))           # under 5 runs
    assert math.isnan(stats.mlperf_score([1.0, 2.0, 3.0, 4.0, math.nan]))  # one not reached


def test_user_means_on_common_users():
    a = pd.Series([0.1, 0.2, 0.3], index=[0, 1, 2])
    b = pd.Series([0.3, 0.4], index=[1, 2])
    means = stats.user_means([a, b, None])
    assert means.index.tolist() == [1, 2]
    assert means.tolist() == pytest.approx([0.25, 0.35])
    assert stats.user_means([None]) is None


def test_paired_on_identical_series_is_p_one():
    a = pd.Series(np.linspace(0, 1, 50))
    out = stats.paired(a, a.copy())
    assert out["p_t"] == 1.0 and out["p_wilcoxon"] == 1.0 and out["rel_diff"] == 0.0


def test_paired_finds_a_shift_on_common_users_only():
    rng = np.random.default_rng(0)
    a = pd.Series(rng.uniform(0.2, 0.4, 200))
    b = (a + 0.05 + rng.normal(0, 0.01, 200)).drop(index=range(10))
    out = stats.paired(a, b)
    assert out["users"] == 190
    assert out["rel_diff"] == pytest.approx(0.05 / a.iloc[10:].mean(), rel=0.1)
    assert out["p_t"] < 1e-10 and out["p_wilcoxon"] < 1e-10


def test_holm_matches_a_hand_computed_example():
    # sorted 0.01, 0.02, 0.03, 0.04 with m = 4: 0.04, 0.06, 0.06 (monotone), 0.06
    p = [0.03, 0.01, math.nan, 0.04, 0.02]
    out = stats.holm(p)
    assert out[[1, 4, 0, 3]].tolist() == pytest.approx([0.04, 0.06, 0.06, 0.06])
    assert math.isnan(out[2])
    assert stats.holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # capped at 1


def test_mark():
    assert stats.mark(0.1, 0.01) == "▲"
    assert stats.mark(-0.1, 0.01) == "▼"
    assert stats.mark(0.1, 0.2) == "="
    assert stats.mark(0.1, 0.04, alpha=0.01) == "="
    assert stats.mark(math.nan, 0.01) == ""
