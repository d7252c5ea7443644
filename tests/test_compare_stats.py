"""compare's intervals over repeats, MLPerf score and paired tests, on written run folders."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from graphrec.reporting import per_user
from test_compare import run_compare, write_run

USERS = 500
RNG = np.random.default_rng(7)
BASE = RNG.uniform(0.1, 0.5, USERS)  # the baseline's per-user val Recall@20


def write_user_run(folder, config, values=None, heldout="same", **kwargs):
    """A run with ``per_user.parquet`` (``values`` None: without) and its fingerprint."""
    write_run(folder, config, **kwargs)
    record = json.loads((folder / "metrics.json").read_text())
    record["evaluation"] = {"exclude": "train_val", "heldout": heldout,
                            "per_user": None if values is None else per_user.FILE}
    (folder / "metrics.json").write_text(json.dumps(record))
    if values is not None:
        cols = {"user": np.arange(len(values)), "recall@20": np.asarray(values)}
        per_user.write(folder, [per_user.to_frame("val", {"": cols})])
    return folder


def noisy(shift: float, seed: int) -> np.ndarray:
    return BASE + shift + np.random.default_rng(seed).normal(0, 0.02, USERS)


def rows(tmp_path, spec, *args, capsys):
    """``spec``: [(label, lr, values, heldout)]; one row each; returns (table by label, out)."""
    for trial, (label, lr, values, heldout) in enumerate(spec):
        write_user_run(tmp_path / "sweep" / str(trial), {"sweep.label": label, "model.lr": lr},
                       values, heldout)
    table, out = run_compare(tmp_path / "sweep", "--out", tmp_path / "out", *args,
                             capsys=capsys)
    return table.set_index("sweep.label"), out


def test_copy_gain_and_loss_against_the_baseline(tmp_path, capsys):
    table, out = rows(tmp_path, [("base", 0.001, BASE, "same"),
                                 ("copy", 0.002, BASE, "same"),
                                 ("gain", 0.003, noisy(0.05, 1), "same"),
                                 ("loss", 0.004, noisy(-0.05, 2), "same")], "--width", "400",
                      capsys=capsys)
    assert table.loc["copy", "sig"] == "=" and table.loc["copy", "p_holm"] == 1.0
    assert table.loc["copy", "rel_diff"] == 0.0
    assert table.loc["gain", "sig"] == "▲" and table.loc["gain", "p_holm"] < 0.05
    assert table.loc["gain", "rel_diff"] == pytest.approx(0.05 / BASE.mean(), rel=0.1)
    assert table.loc["loss", "sig"] == "▼" and table.loc["loss", "rel_diff"] < 0
    assert table.loc["gain", "paired_users"] == USERS
    assert table.loc["base", "sig"] == "" and math.isnan(table.loc["base", "p_holm"])
    header = next(line for line in out.splitlines() if "samples/s" in line)
    assert "vs base (val Recall@20)" in header
    gain = next(line for line in out.splitlines() if " gain " in line)
    expected = 100 * (noisy(0.05, 1).mean() / BASE.mean() - 1)  # about 0.05 / 0.3
    assert f"{expected:+.1f} % ▲ p<0.001" in gain
    assert "Holm-adjusted" in out and "alpha=0.05" in out
    saved = pd.read_csv(tmp_path / "out" / "compare.csv")
    for column in ("rel_diff", "p_t", "p_wilcoxon", "p_holm", "sig"):
        assert column in saved.columns


def test_holm_adjusted_at_least_raw_and_monotone(tmp_path, capsys):
    shifts = [0.0005, 0.001, 0.002, 0.004, 0.03]
    spec = [("base", 0.001, BASE, "same")] + [
        (f"r{i}", 0.01 * (i + 1), noisy(s, i), "same") for i, s in enumerate(shifts)]
    table, _ = rows(tmp_path, spec, "--test", "t", capsys=capsys)
    tested = table.drop(index="base").sort_values("p_t")
    assert (tested["p_holm"] >= tested["p_t"] - 1e-15).all()
    assert tested["p_holm"].is_monotonic_increasing
    # the smallest p is multiplied by the number of tested rows (Holm's first step)
    assert tested["p_holm"].iloc[0] == pytest.approx(min(1.0, 5 * tested["p_t"].iloc[0]))


def test_rows_without_per_user_or_with_other_heldout_get_a_note(tmp_path, capsys):
    table, out = rows(tmp_path, [("base", 0.001, BASE, "same"),
                                 ("old", 0.002, None, "same"),
                                 ("other", 0.003, noisy(0.05, 1), "different"),
                                 ("gain", 0.004, noisy(0.05, 1), "same")], capsys=capsys)
    assert table.loc["old", "sig"] == "" and math.isnan(table.loc["old", "p_wilcoxon"])
    assert table.loc["other", "sig"] == ""
    assert table.loc["gain", "sig"] == "▲"
    assert "row 1: no per_user.parquet with val recall@20: not paired" in out
    assert "row 2: other held-out data (fingerprint differs): not paired" in out
    md = (tmp_path / "out" / "compare.md").read_text()
    assert "row 1: no per_user.parquet" in md


def test_baseline_without_per_user_means_no_tests(tmp_path, capsys):
    table, out = rows(tmp_path, [("base", 0.001, None, "same"),
                                 ("gain", 0.002, noisy(0.05, 1), "same")], capsys=capsys)
    assert (table["sig"].fillna("") == "").all()
    assert "row 0 (baseline): no per_user.parquet with val recall@20: no paired tests" in out


def test_repeats_are_averaged_per_user_before_the_test(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    write_user_run(sweep / "0", {"sweep.label": "base", "model.lr": 0.001}, BASE)
    # two seeds: +0.1 and -0.1 on every user average back to the baseline: no difference
    for seed, shift in enumerate((0.1, -0.1)):
        write_user_run(sweep / str(seed + 1), {"sweep.label": "pair", "model.lr": 0.002,
                                               "trainer.seed": seed}, BASE + shift)
    table, _ = run_compare(sweep, "--out", tmp_path / "out", capsys=capsys)
    pair = table.set_index("sweep.label").loc["pair"]
    assert pair["n"] == 2
    assert pair["rel_diff"] == pytest.approx(0.0, abs=1e-6) and pair["sig"] == "="


def test_ci_half_width_is_the_t_formula(tmp_path, capsys):
    for seed, rate in enumerate((100.0, 200.0, 600.0)):
        write_run(tmp_path / "sweep" / str(seed), {"trainer.seed": seed}, samples_per_s=rate)
    table, out = run_compare(tmp_path / "sweep", "--out", tmp_path / "out", capsys=capsys)
    # mean 300, sample std 100 * sqrt(7), t(0.975, 2) = 4.302653
    half = 4.302653 * 100 * math.sqrt(7) / math.sqrt(3)
    assert table["samples_per_s_ci"].iloc[0] == pytest.approx(half, rel=1e-6)
    assert table["samples_per_s_n"].iloc[0] == 3
    assert table["samples_per_s_std"].iloc[0] == pytest.approx(100 * math.sqrt(7))
    assert "300 ± 657" in out and "± 95 % CI (t)" in out


@pytest.mark.parametrize("repeats", [4, 5])
def test_mlperf_score_from_five_reached_runs(tmp_path, capsys, repeats):
    reach = [9.0, 1.0, 4.0, 5.0, 6.0][:repeats]
    for seed, wall in enumerate(reach):
        write_run(tmp_path / "sweep" / str(seed), {"trainer.seed": seed},
                  curve=[(wall / 2, 0.1), (wall, 0.25)], target=0.2)
    table, out = run_compare(tmp_path / "sweep", "--out", tmp_path / "out", "--width", "400",
                             capsys=capsys)
    score = table["time_to_target_mlperf_s"].iloc[0]
    header = next(line for line in out.splitlines() if "samples/s" in line)
    if repeats == 5:
        assert score == pytest.approx(5.0)  # 9 and 1 dropped: mean of 4, 5, 6
        assert "MLPerf score" in header
    else:
        assert math.isnan(score) and "MLPerf score" not in header
    saved = pd.read_csv(tmp_path / "out" / "compare.csv")
    assert "time_to_target_mlperf_s" in saved.columns
