"""compare as a person reads it after an hour of runs: runs with nothing to compare listed under
the table, repeats only among completed runs, no columns for keys that change nothing the run
computes, and a printed table that fits 120 characters (everything in compare.csv)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from test_compare import run_compare, write_run


def test_a_broken_run_is_no_repeat_of_a_good_one(tmp_path, capsys):
    for seed in (0, 1):
        write_run(tmp_path / "s" / str(seed), {"trainer.seed": seed})
    write_run(tmp_path / "s" / "2", {"trainer.seed": 2}, status="diverged",
              error="loss is nan at epoch 1")
    table, out = run_compare(tmp_path / "s", "--out", tmp_path / "out", capsys=capsys)
    assert table["n"].tolist() == [2, 1] and table["status"].tolist() == ["completed", "diverged"]
    assert table.loc[0, "run"] == "0 1" and np.isfinite(table.loc[0, "samples_per_s_ci"])
    assert "diverged: loss is nan at epoch 1" in out


def test_keys_that_change_nothing_computed_are_no_columns_and_no_split(tmp_path, capsys):
    unseen = [{"trainer.fail_kind": "nan", "trainer.resume": "outputs/x", "trainer.threads": 2,
               "trainer.progress": False, "trainer.checkpoint_every_s": 5.0},
              {"trainer.fail_kind": "error", "trainer.resume": None, "trainer.threads": 0,
               "trainer.progress": True, "trainer.checkpoint_every_s": 60.0}]
    for i, keys in enumerate(unseen):
        write_run(tmp_path / "s" / str(i), {"trainer.seed": i, **keys})
    write_run(tmp_path / "s" / "2", {"batch.size": 1024})
    table, out = run_compare(tmp_path / "s", "--out", tmp_path / "out", capsys=capsys)
    assert table["n"].tolist() == [2, 1]  # the first two are repeats
    for key in unseen[0]:
        assert key not in table.columns and key not in out
    assert "batch.size" in table.columns


def wide_sweep(root, trials=20):
    """A default-sweep-like study: every key of the space differs, long floats, a target."""
    rng = np.random.default_rng(0)
    for n in range(trials):
        loader = ["baseline", "workers", "fast"][n % 3]
        write_run(root / str(n), {"loader.kind": loader, "loader.num_workers": n % 4,
                                  "batch.size": int(rng.choice([256, 512, 1024])),
                                  "model.lr": float(rng.uniform(1e-4, 1e-2)),
                                  "sampling.num_neg": int(rng.choice([64, 128, 256, 512])),
                                  "trainer.seed": n},
                  samples_per_s=float(rng.uniform(1e3, 1e5)), target=0.15)
    write_run(root / "20", {"batch.size": 2048}, status="error",
              error="ConfigError: batch.size=2048 is invalid: " + "x" * 200)


def test_the_printed_table_fits_120_characters_and_the_csv_has_everything(tmp_path, capsys):
    wide_sweep(tmp_path / "s")
    table, out = run_compare(tmp_path / "s", "--out", tmp_path / "out", "--width", "120",
                             capsys=capsys)
    assert max(map(len, out.splitlines())) <= 120
    assert "model.lr" in out and "sampling." in out  # the searched keys are shown
    assert "0.00" in out and str(table.loc[0, "model.lr"]) not in out  # as 4 digits
    assert "not shown, to fit 120 characters" in out and "run" in out
    saved = pd.read_csv(tmp_path / "out" / "compare.csv")
    for column in ("model.lr", "sampling.num_neg", "run", "epoch_s", "ndcg@20", "status",
                   "error", "in_table", "time_to_target_s"):
        assert column in saved.columns
    assert len(saved) == 21 and saved["in_table"].sum() == 20
    wide = run_compare(tmp_path / "s", "--out", tmp_path / "out", "--width", "400",
                       capsys=capsys)[1]
    assert "not shown" not in wide and max(map(len, wide.splitlines())) > 120


def test_runs_left_out_are_listed_briefly_and_all_with_errors(tmp_path, capsys):
    write_run(tmp_path / "s" / "0", {})
    for n in range(1, 6):
        write_run(tmp_path / "s" / str(n), {"batch.size": 100 + n}, status="error",
                  error=f"ConfigError: bad value {n}")
    write_run(tmp_path / "s" / "6", {"batch.size": 7}, record=False)
    write_run(tmp_path / "s" / "7", {"batch.size": 8}, status="interrupted")
    table, out = run_compare(tmp_path / "s", "--out", tmp_path / "out", capsys=capsys)
    assert "1 run in 1 row" in out and "batch.size" not in out.split("not in the table")[0]
    assert "not in the table: 5 error, 1 incomplete, 1 interrupted (the first 3 below; " \
           "--errors lists all 7)" in out
    assert "bad value 3" in out and "bad value 4" not in out
    everything = run_compare(tmp_path / "s", "--out", tmp_path / "out", "--errors",
                             capsys=capsys)[1]
    for text in ("bad value 5", "6: no metrics.json", "7: stopped early, resumable"):
        assert text in everything
    assert table["in_table"].tolist() == [True] + [False] * 7


def test_compare_png_error_bars_are_the_t_interval(tmp_path, monkeypatch):
    """The bars are the table's ± (95 % Student-t half-width), not the std, and say so."""
    from matplotlib.axes import Axes

    from graphrec.reporting import plot

    drawn = {}
    real = Axes.errorbar

    def errorbar(self, x, y, xerr=None, yerr=None, label=None, **kwargs):
        drawn.update(xerr=list(xerr), yerr=list(yerr), label=label)
        return real(self, x, y, xerr=xerr, yerr=yerr, label=label, **kwargs)

    monkeypatch.setattr(Axes, "errorbar", errorbar)
    table = pd.DataFrame({"samples_per_s": [100.0, 200.0], "samples_per_s_std": [10.0, 20.0],
                          "samples_per_s_ci": [24.8, 49.7], "recall@20": [0.2, 0.3],
                          "recall@20_std": [0.01, np.nan], "recall@20_ci": [0.0248, np.nan],
                          "pareto": [False, True]})
    plot.pareto_plot([("t", table, 0)], "recall@20", tmp_path / "c.png")
    assert drawn["xerr"] == [24.8, 49.7] and drawn["yerr"] == [0.0248, 0.0]
    assert "95 % t interval" in drawn["label"]
