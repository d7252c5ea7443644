"""``python -m graphrec.compare``: on written run folders (fast), and on runs made here (slow)."""
from __future__ import annotations

import copy
import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from graphrec.errors import UsageError
from graphrec.reporting.compare import main, pareto_mask
from sweep_helpers import REPO, TINY, rows_arg, train

# ---------------------------------------------------------------- run folders without training
CONFIG = {  # a composed config's shape (nested groups), cut down
    "data": {"kind": "synthetic", "name": "synthetic", "seed": 0, "n_users": 300,
             "n_items": 160, "split": [0.8, 0.1, 0.1]},
    "loader": {"kind": "fast", "num_workers": 0, "pin_memory": False},
    "batch": {"size": 256, "lr_scaling": "none"},
    "precision": {"mode": "fp32"},
    "sampling": {"num_neg": 512, "candidates": "warm", "exclude_train": True},
    "model": {"name": "clcrec", "impl": "auto", "dim": 64, "lr": 0.001, "n_layers": 0},
    "trainer": {"epochs": 3, "eval_every": 1, "monitor": "recall@20", "ks": [10, 20],
                "seed": 0, "device": "cpu", "resume": None,
                "target": {"metric": "recall@20", "value": None}},
    "sweep": {"objective": "both", "label": ""},
}
CURVE = ((1.0, 0.05), (2.0, 0.1), (4.0, 0.2))  # (wall seconds, val Recall@20) per evaluation


def scores(recall20: float) -> dict:
    """Every metric@K from Recall@20; Recall@10 is half of it, so the two cross apart."""
    return {f"{name}@{k}": recall20 * (0.5 if k == 10 else 1.0) * (1 + i / 10)
            for k in (10, 20) for i, name in enumerate(("recall", "ndcg", "precision", "hit"))}


def write_run(folder: Path, config: dict = None, *, status="completed", samples_per_s=1000.0,
              curve=CURVE, target=None, error=None, error_txt=None, old=False,
              record=True) -> Path:
    """A run folder as training leaves it. ``config``: dotted overrides; ``target``: the
    run's own target on val Recall@20 (None: it had none); ``old``: epochs.csv without the
    clock columns; ``record=False``: no metrics.json (killed, or still running)."""
    cfg = copy.deepcopy(CONFIG)
    for key, value in (config or {}).items():
        *groups, leaf = key.split(".")
        node = cfg
        for group in groups:
            node = node[group]
        node[leaf] = value
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(cfg))
    rows = []
    for i, (wall, recall) in enumerate(curve):
        row = {"epoch": i // 2, "step": 10 * (i + 1), "samples": int(900 * wall),
               "train_s": 0.9 * wall, "eval_s": 0.08 * wall, "wall_s": wall, "loss": 1 / (i + 1),
               "samples_per_s": samples_per_s, "epoch_s": wall / (i + 1)}
        if old:
            row = {k: row[k] for k in ("epoch", "step", "loss", "epoch_s", "samples_per_s")}
        else:  # a row without an evaluation first (an epoch end between evaluations)
            rows.append({**row, "wall_s": 0.99 * wall})
        rows.append({**row, **{f"val_{m}": v for m, v in scores(recall).items()}})
    with open(folder / "epochs.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[-1]))
        writer.writeheader()
        writer.writerows(rows)
    if error_txt is not None:
        (folder / "error.txt").write_text(error_txt)
    if not record:
        return folder
    best = max(value for _, value in curve)
    metrics = {"status": status, "val": scores(best), "test": scores(0.9 * best),
               "throughput": {"samples_per_s": samples_per_s, "epoch_s": 2.0,
                              "wall_s": curve[-1][0], "eval_s": 0.08 * curve[-1][0]}}
    if target is not None:
        hit = next((wall for wall, value in curve if value >= target), None)
        metrics["target"] = {"metric": "recall@20", "value": target,
                             "target_reached": hit is not None, "time_to_target_s": hit,
                             "train_s_to_target": hit and 0.9 * hit,
                             "eval_s_to_target": hit and 0.08 * hit,
                             "epochs_to_target": None, "samples_to_target": None}
    if error is not None:
        metrics["error"] = error
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def run_compare(*args, capsys) -> tuple:
    table = main([str(a) for a in args])
    return table, capsys.readouterr().out


def by_label(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("sweep.label")


# ---------------------------------------------------------------- time to target
def test_time_to_target_from_metrics_json_with_its_speedup(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for trial, (label, seed, rate, reach) in enumerate([("original", 0, 1000, 20.0),
                                                        ("original", 1, 1100, 24.0),
                                                        ("fast", 0, 4000, 5.0),
                                                        ("fast", 1, 4400, 6.0)]):
        write_run(sweep / str(trial), {"sweep.label": label, "trainer.seed": seed,
                                       "loader.kind": label}, samples_per_s=rate,
                  curve=[(reach / 2, 0.1), (reach, 0.25)], target=0.2)
    table, out = run_compare(sweep, "--out", tmp_path / "out", "--width", "400", capsys=capsys)
    rows = by_label(table)
    assert rows.loc["original", "time_to_target_s"] == pytest.approx(22.0)
    assert rows.loc["original", "time_to_target_s_std"] == pytest.approx(math.sqrt(8))
    assert rows.loc["fast", "time_to_target_s"] == pytest.approx(5.5)
    assert rows.loc["fast", "speedup_time_to_target"] == pytest.approx(22.0 / 5.5)
    assert rows.loc["fast", "speedup"] == pytest.approx(4200 / 1050)  # same baseline row
    assert rows.loc["original", "speedup_time_to_target"] == pytest.approx(1.0)
    header = next(line for line in out.splitlines() if "samples/s" in line)
    assert "time to target" in header and "speed-up (time to target)" in header
    # ± is the 95 % t half-width over 2 seeds: t(0.975, 1) * std / sqrt(2)
    assert "22.0 ± 25.4" in out and "5.50 ± 6.35" in out and "4.00x" in out
    assert "val recall@20 >= 0.2" in out
    saved = pd.read_csv(tmp_path / "out" / "compare.csv")
    for column in ("time_to_target_s", "time_to_target_s_std", "speedup_time_to_target"):
        assert column in saved.columns


def test_target_not_reached_and_reached_by_some_seeds(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    runs = [("partial", 0, 0.25, 10.0), ("partial", 1, 0.25, 14.0), ("partial", 2, 0.15, 9.0),
            ("never", 0, 0.1, 5.0), ("never", 1, 0.12, 5.0)]
    for trial, (label, seed, best, wall) in enumerate(runs):
        write_run(sweep / str(trial), {"sweep.label": label, "trainer.seed": seed,
                                       "batch.size": 512 if label == "never" else 256},
                  curve=[(wall / 2, best / 2), (wall, best)], target=0.2)
    table, out = run_compare(sweep, "--out", tmp_path, capsys=capsys)
    rows = by_label(table)
    assert rows.loc["partial", "target_reached"] == 2
    assert rows.loc["partial", "target_runs"] == 3
    assert rows.loc["partial", "time_to_target_s"] == pytest.approx(12.0)  # over those reaching
    assert "2/3 reached: 12.0 ± 25.4" in out  # 95 % t half-width over the 2 that reached
    assert rows.loc["never", "target_reached"] == 0
    assert np.isnan(rows.loc["never", "time_to_target_s"])
    assert np.isnan(rows.loc["never", "speedup_time_to_target"])
    never = next(line for line in out.splitlines() if " never " in line)
    assert "not reached" in never


def test_target_recomputed_from_epochs_csv(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    curve = [(1.0, 0.1), (3.0, 0.2), (7.0, 0.3), (9.0, 0.4)]
    write_run(sweep / "0", {"sweep.label": "no_target"}, curve=curve)
    write_run(sweep / "1", {"sweep.label": "other_target", "batch.size": 1024}, target=0.5,
              curve=[(wall / 2, value) for wall, value in curve])
    write_run(sweep / "2", {"sweep.label": "old_run", "batch.size": 4096}, curve=curve,
              old=True)
    table, out = run_compare(sweep, "--out", tmp_path, capsys=capsys)
    rows = by_label(table)
    assert rows.loc["no_target", "target_runs"] == 0  # its own record: no target, no answer
    assert rows.loc["other_target", "target_reached"] == 0  # 0.5 was never reached

    table, out = run_compare(sweep, "--target", "0.25", "--out", tmp_path, capsys=capsys)
    rows = by_label(table)
    assert rows.loc["no_target", "time_to_target_s"] == pytest.approx(7.0)  # first >= 0.25
    assert rows.loc["other_target", "time_to_target_s"] == pytest.approx(3.5)
    assert rows.loc["other_target", "speedup_time_to_target"] == pytest.approx(2.0)
    assert rows.loc["old_run", "target_runs"] == 0  # no wall_s column: no curve on the clock
    assert "first val recall@20 >= 0.25" in out

    # another metric: Recall@10 (half of Recall@20 here) first passes 0.14 at Recall@20 0.3
    table, _ = run_compare(sweep, "--target", "0.14", "--metric", "recall@10", "--out",
                           tmp_path, capsys=capsys)
    assert by_label(table).loc["no_target", "time_to_target_s"] == pytest.approx(7.0)
    table, _ = run_compare(sweep, "--target", "0.14", "--out", tmp_path, capsys=capsys)
    assert by_label(table).loc["no_target", "time_to_target_s"] == pytest.approx(3.0)


# ---------------------------------------------------------------- one table per (model, data)
def write_groups(root: Path) -> Path:
    """clcrec on synthetic (two batch sizes), mf on synthetic (two lrs, slower: every mf row
    is dominated by a clcrec one when pooled), clcrec on movielens (one run)."""
    sweep = root / "multirun"
    write_run(sweep / "a" / "0", {"batch.size": 256}, samples_per_s=1000)
    write_run(sweep / "a" / "1", {"batch.size": 1024}, samples_per_s=3000)
    write_run(sweep / "b" / "0", {"model.name": "mf", "model.lr": 0.01, "model.n_layers": 2},
              samples_per_s=400, curve=[(1.0, 0.02), (2.0, 0.05)])
    write_run(sweep / "b" / "1", {"model.name": "mf", "model.lr": 0.02, "model.n_layers": 2},
              samples_per_s=200, curve=[(1.0, 0.03), (2.0, 0.08)])
    write_run(sweep / "c" / "0", {"data.name": "movielens", "data.kind": "movielens"},
              samples_per_s=50)
    return sweep


def test_one_table_per_model_and_data(tmp_path, capsys, monkeypatch):
    write_groups(tmp_path)
    monkeypatch.chdir(tmp_path)  # no path: outputs/ and multirun/ here
    table, out = run_compare("--width", "400", capsys=capsys)
    assert list(dict.fromkeys(table["group"])) == ["clcrec on synthetic", "mf on synthetic",
                                                   "clcrec on movielens"]
    assert list(table.index) == [0, 1, 2, 3, 4]  # row numbers run on across the tables
    for _, group in table.groupby("group"):
        assert group["speedup"].iloc[0] == pytest.approx(1.0)  # each table's own baseline
        assert group["pareto"].any()  # each table's own front
    mf = table[table["group"] == "mf on synthetic"]
    assert mf["speedup"].tolist() == pytest.approx([1.0, 0.5])
    blocks = out.split("\n== ")[1:]
    assert [b.split(":")[0] for b in blocks] == ["clcrec on synthetic", "mf on synthetic",
                                                  "clcrec on movielens"]
    clcrec_header = blocks[0].splitlines()[1]
    assert "batch.size" in clcrec_header and "model.lr" not in clcrec_header
    assert "model.name" not in clcrec_header and "data.name" not in clcrec_header
    mf_header = blocks[1].splitlines()[1]
    assert "model.lr" in mf_header and "batch.size" not in mf_header
    assert "model.n_layers" not in mf_header  # same within mf, though it differs pooled
    assert header_order(clcrec_header, "samples/s", "speed-up", "batch.size", "run")
    # no run had a target, every run completed: nothing to say in those columns
    assert "status" not in clcrec_header and "time to target" not in clcrec_header
    assert max(len(line) for block in blocks for line in block.splitlines()[1:4]) < 200
    assert (tmp_path / "compare" / "compare.md").read_text().count("## ") == 3
    curves = png(tmp_path / "compare" / "curves.png")
    assert curves.shape[:2] == (PANEL_PX[0], 3 * PANEL_PX[1])  # a panel per table, in a row
    assert shows(curves, "tab:blue")  # each table's first row drawn (C0)


PANEL_PX = (5 * 120, 7 * 120)  # graphrec/reporting/plot.py: 7 x 5 inch panels at 120 dpi


def png(path) -> np.ndarray:
    from matplotlib.image import imread

    return imread(path)


def shows(image: np.ndarray, colour: str) -> bool:
    """Some pixel of ``image`` is ``colour`` (a marker's inside, not just an antialiased edge)."""
    from matplotlib.colors import to_rgb

    return bool((np.abs(image[..., :3] - np.array(to_rgb(colour))) < 0.01).all(-1).any())


def header_order(header: str, *titles) -> bool:
    places = [header.index(title) for title in titles]
    return places == sorted(places)


def test_all_pools_every_run_in_one_table(tmp_path, capsys):
    sweep = write_groups(tmp_path)
    table, out = run_compare(sweep, "--all", "--out", tmp_path / "out", capsys=capsys)
    assert set(table["group"]) == {"all runs"} and len(table) == 5
    assert out.count("\n== ") == 1
    assert {"model.name", "data.name", "model.lr", "batch.size"} <= set(table.columns)
    assert table["speedup"].tolist() == pytest.approx([1.0, 3.0, 0.4, 0.2, 0.05])
    assert not table.loc[table["model.name"] == "mf", "pareto"].any()  # pooled front


def test_baseline_by_label_in_each_table(tmp_path, capsys):
    sweep = write_groups(tmp_path)
    table, out = run_compare(sweep, "--baseline", "a/1", "--out", tmp_path, capsys=capsys)
    clcrec = table[table["group"] == "clcrec on synthetic"]
    assert clcrec["speedup"].tolist() == pytest.approx([1 / 3, 1.0])
    assert "speed-up over row 1" in out
    with pytest.raises(UsageError, match="matches no completed row"):
        main([str(sweep), "--baseline", "nowhere", "--out", str(tmp_path)])


# ---------------------------------------------------------------- statuses
def test_error_pruned_and_incomplete_statuses(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    message = "ConfigError: sampling.num_neg=1024 is not below the 160 candidate items of " \
              "data=synthetic; pick fewer negatives"
    write_run(sweep / "0", {"batch.size": 256})
    write_run(sweep / "1", {"batch.size": 512}, status="error", error=message,
              error_txt=f"{message}\n\nTraceback ...\n")
    write_run(sweep / "2", {"batch.size": 1024}, record=False,
              error_txt="\nRuntimeError: CUDA out of memory\n\nTraceback ...\n")
    write_run(sweep / "3", {"batch.size": 2048}, status="pruned", error_txt="pruned at step 40")
    write_run(sweep / "4", {"batch.size": 4096}, record=False)
    table, out = run_compare(sweep, "--out", tmp_path, capsys=capsys)
    rows = table.set_index("batch.size")
    assert rows["status"].to_dict() == {"256": "completed", "512": "error", "1024": "error",
                                        "2048": "pruned", "4096": "incomplete"}
    assert rows.loc["512", "error"] == message  # in full
    assert rows.loc["1024", "error"] == "RuntimeError: CUDA out of memory"
    assert rows["in_table"].to_dict() == {"256": True, "2048": True, "512": False,
                                          "1024": False, "4096": False}
    # the table: the completed and the pruned run; the rest listed under it, one line each
    assert "3 runs in 2 rows" not in out and "2 runs in 2 rows" in out
    assert "not in the table: 2 error, 1 incomplete" in out
    line = next(line for line in out.splitlines() if "ConfigError" in line)
    assert line.lstrip().startswith("#2 error  1: ConfigError") and line.endswith("…")
    assert len(line) <= 120 and message not in out
    assert "#3 error  2: RuntimeError: CUDA out of memory" in out
    assert "#4 incomplete  4: no metrics.json: killed, or still running" in out
    assert not rows.loc[["512", "1024", "2048", "4096"], "pareto"].any()
    saved = pd.read_csv(tmp_path / "compare.csv")
    assert message in saved["error"].tolist()
    assert message in (tmp_path / "compare.md").read_text()  # listed whole there


def test_pareto_mask_keeps_non_dominated_points():
    x = [1.0, 2.0, 3.0, 2.0, np.nan]
    y = [0.9, 0.5, 0.1, 0.4, 1.0]
    assert pareto_mask(x, y).tolist() == [True, True, True, False, False]


# ---------------------------------------------------------------- runs made here (slow)
@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """outputs/<single run> and multirun/<study>/{0,1,2}: seeds 0 and 1, then a higher lr."""
    work = tmp_path_factory.mktemp("compare")
    train(*TINY, "model.lr=0.001", cwd=work)
    rows = {"seed0": ["trainer.seed=0"], "seed1": ["trainer.seed=1"],
            "high_lr": ["trainer.seed=0", "model.lr=0.02"]}
    train("-m", "hydra.sweeper.params=null", rows_arg(rows), *TINY, cwd=work)
    return work


@pytest.mark.slow
def test_cli_reads_outputs_and_multirun_by_default(workdir):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "graphrec.compare"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "±" in done.stdout and "speed-up" in done.stdout
    out = workdir / "compare"
    table = pd.read_csv(out / "compare.csv")
    assert len(table) == 3  # the single run, seeds 0+1 as one row, the high-lr row
    assert set(table["group"]) == {"mf on synthetic"}
    grouped = table[table["n"] == 2].iloc[0]
    assert str(grouped["trainer.seed"]) == "0,1"
    assert np.isfinite(grouped["samples_per_s_std"])
    assert "model.lr" in table.columns and "trainer.epochs" not in table.columns
    assert table.loc[0, "speedup"] == pytest.approx(1.0)  # default baseline: the first row
    assert table["pareto"].any()
    assert (out / "compare.md").read_text().startswith("## mf on synthetic\n\n| # |")
    for name in ("compare.png", "curves.png"):
        png = (out / name).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000


@pytest.mark.slow
def test_failed_runs_are_listed_and_baseline_is_selectable(workdir, tmp_path):
    sweep = next((workdir / "multirun").iterdir())
    failed = sweep / "9"
    shutil.copytree(sweep / "0" / ".hydra", failed / ".hydra")
    config = OmegaConf.load(failed / ".hydra" / "config.yaml")
    config.batch.size = 4096  # a config of its own, not a repeat of row 0
    OmegaConf.save(config, failed / ".hydra" / "config.yaml")
    (failed / "error.txt").write_text("RuntimeError: out of memory\n")
    try:
        table = main([str(sweep), "--baseline", "slowest", "--out", str(tmp_path)])
    finally:
        shutil.rmtree(failed)
    assert set(table["status"]) == {"completed", "error"}
    row = table[table["status"] == "error"].iloc[0]
    assert row["error"] == "RuntimeError: out of memory"
    assert not row["pareto"] and np.isnan(row["samples_per_s"])
    assert table["speedup"].min() == pytest.approx(1.0)
    image = png(tmp_path / "compare.png")
    assert image.shape[:2] == PANEL_PX  # one table (the failed run has no point of its own)
    assert shows(image, "tab:red")  # the Pareto front's stars


def test_runs_without_a_target_get_a_hint_to_set_one(tmp_path, capsys):
    write_run(tmp_path / "runs" / "a", {"loader.kind": "baseline"})  # made without a target
    write_run(tmp_path / "runs" / "b", {"loader.kind": "fast"}, target=0.2)
    _, out = run_compare(tmp_path / "runs", "--out", tmp_path / "out", capsys=capsys)
    assert "--target VALUE times every run on one target" in " ".join(out.split())  # wrapped
    table, out = run_compare(tmp_path / "runs", "--out", tmp_path / "out", "--target", "0.2",
                             capsys=capsys)
    assert "--target VALUE times" not in out and table["time_to_target_s"].notna().all()


def test_a_key_older_runs_lack_does_not_split_repeats():
    """Runs recorded before a config key existed group with runs at one value of it; runs
    that disagree on it still split."""
    from pathlib import Path

    from graphrec.reporting.compare import differing_keys
    from graphrec.reporting.runs import Run

    old = Run(Path("a"), {"model.lr": 0.1, "trainer.seed": 0}, "completed")
    new = Run(Path("b"), {"model.lr": 0.1, "trainer.seed": 1, "optimizer.name": "adam"},
              "completed")
    other = Run(Path("c"), {"model.lr": 0.1, "trainer.seed": 2, "optimizer.name": "sgd"},
                "completed")
    assert differing_keys([old, new]) == ["trainer.seed"]
    assert differing_keys([old, new, other]) == ["trainer.seed", "optimizer.name"]
