"""``python -m graphrec.compare DIR --suggest-target``: the rule on constructed reference runs."""
from __future__ import annotations

import pytest

from graphrec.errors import UsageError
from graphrec.reporting.compare import main
from graphrec.reporting.targets import round_down
from run_folders import write_run


def curve(peak: float) -> list:
    """Four validations, one a second; the peak at the third, then a dip."""
    return [(1.0, peak / 3), (2.0, 0.9 * peak), (3.0, peak), (4.0, 0.98 * peak)]


def reference(folder, peaks, stop="early_stopping", **config):
    for seed, peak in enumerate(peaks):
        write_run(folder / str(seed), seed=seed, curve=curve(peak),
                  record={"stop_reason": stop}, **config)
    return folder


def suggest(folder, *args, capsys):
    result = main([str(folder), "--suggest-target", *args])
    return result, capsys.readouterr().out


def test_target_is_the_fraction_of_the_median_peak(tmp_path, capsys):
    ref = reference(tmp_path / "ref", [0.300, 0.310, 0.305])
    result, out = suggest(ref, capsys=capsys)
    assert result["median_peak"] == pytest.approx(0.305)
    assert result["value"] == pytest.approx(0.97 * 0.305, rel=1e-3)
    assert result["value"] <= 0.97 * 0.305  # rounded down: a seed at the limit still reaches it
    assert result["missed"] == [] and result["not_converged"] == []
    # the median seed (peak 0.305) passes 0.2958 at its third validation, at 3 s of 4
    assert result["knee"]["wall_s"] == 3.0 and result["knee"]["epochs"] == 3.0
    assert "3 seeds" in out and "at 3.00 s wall, epoch 3.00 (75% of its 4.00 s run" in out
    assert "97.0% of its peak 0.3050" in out
    assert ("use it: trainer.target.value=0.2958 trainer.target.metric=recall@20 "
            "trainer.stop_at_target=true") in out


def test_fraction_flag_and_unconverged_seeds_are_named(tmp_path, capsys):
    ref = reference(tmp_path / "ref", [0.2, 0.4, 0.3], stop="epochs")
    result, out = suggest(ref, "--fraction", "0.5", capsys=capsys)
    assert result["value"] == pytest.approx(0.15)
    assert len(result["not_converged"]) == 3 and "not converged" in out


def test_a_seed_that_never_reaches_it_fails_the_rule(tmp_path, capsys):
    ref = reference(tmp_path / "ref", [0.30, 0.31, 0.20])
    with pytest.raises(SystemExit) as stop:
        suggest(ref, capsys=capsys)
    out = capsys.readouterr().out
    assert stop.value.code == 1
    assert "2 (seed 2): peak 0.2000, NEVER reaches it" in out
    assert "RULE FAILED" in out and "2 (seed 2)" in out.split("RULE FAILED")[1]
    assert "0 (seed 0): peak 0.3000, reached" in out


def test_fewer_than_three_seeds_is_a_usage_error(tmp_path, capsys):
    """A user error (exit 2 from ``python -m graphrec.compare``: tests/test_errors.py)."""
    ref = reference(tmp_path / "ref", [0.30, 0.31])
    with pytest.raises(UsageError, match="needs >= 3 .* has 2"):
        suggest(ref, capsys=capsys)


def test_baseline_picks_the_reference_row(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    reference(sweep / "slow", [0.30, 0.30, 0.30], label="slow")
    reference(sweep / "fast", [0.20, 0.20, 0.20], label="fast", model="lightgcn")
    result, out = suggest(sweep, capsys=capsys)
    assert result["median_peak"] == pytest.approx(0.20)  # first found row: fast/ sorts first
    assert "2 rows here" in out and "--baseline" in out
    result, _ = suggest(sweep, "--baseline", "slow", capsys=capsys)
    assert result["median_peak"] == pytest.approx(0.30)
    with pytest.raises(UsageError, match="names no row"):
        suggest(sweep, "--baseline", "medium", capsys=capsys)


def test_too_few_seeds_names_the_row_that_has_enough(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    reference(sweep / "fast", [0.20, 0.20], label="fast", model="lightgcn")  # row 0: 2 seeds
    reference(sweep / "slow", [0.30, 0.30, 0.30], label="slow")
    with pytest.raises(UsageError, match=r"has 2 .*rows with enough: 1 \(--baseline 1\)"):
        suggest(sweep, capsys=capsys)
    with pytest.raises(UsageError) as few:
        suggest(reference(tmp_path / "ref", [0.30, 0.31]), capsys=capsys)
    assert "rows with enough" not in str(few.value)  # no other row: no hint


def test_round_down_keeps_four_significant_digits():
    assert round_down(0.29585) == 0.2958
    assert round_down(0.0123456) == 0.01234
    assert round_down(0.5) == 0.5
