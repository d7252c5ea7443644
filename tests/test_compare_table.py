"""``python -m graphrec.compare --table models``: the paper table on constructed run folders."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from graphrec.reporting.compare import main
from run_folders import write_run

USERS = 120
BASE = np.random.default_rng(0).uniform(0.0, 0.5, USERS)  # the runner-up's per-user recall


def write_model(folder, model, per_user, seeds=3, data="synthetic", cold=False, parquet=True,
                extra=None):
    """``seeds`` runs of one model whose per-user test recall@20 is ``per_user(seed)``; the
    record's means are those of the per-user values (ndcg@20: half of recall)."""
    for seed in range(seeds):
        values = per_user(seed)
        lists = {"all": values, **({"warm": values * 0.8, "cold": values * 0.3} if cold else {})}
        record = {"evaluation": {"heldout": "same"}, **(extra or {})}
        users = {}
        for list_, v in lists.items():
            key = "test" + ("" if list_ == "all" else f"_{list_}")
            record[key] = {"recall@20": float(v.mean()), "ndcg@20": float(v.mean() / 2)}
            users[("test", list_)] = {"recall@20": v, "ndcg@20": v / 2}
        write_run(folder / f"{model}-{data}-{seed}", model=model, data=data, seed=seed,
                  record=record, users=users if parquet else None)


def seeded(shift, noise=0.01):
    return lambda seed: np.clip(BASE + shift + np.random.default_rng(seed + 7).normal(
        0, noise, USERS), 0, 1)


def table(root, *args, capsys):
    out_dir = root / "out"
    cells = main([str(root), "--table", "models", "--out", str(out_dir), *args])
    printed = capsys.readouterr().out
    return cells.set_index(["row", "data", "list", "metric"]), printed, out_dir


def test_clearly_better_best_is_bold_and_marked(tmp_path, capsys):
    write_model(tmp_path, "lightgcn", seeded(0.0))
    write_model(tmp_path, "clcrec", seeded(0.1))    # better on every user
    write_model(tmp_path, "mf", seeded(-0.2))
    cells, printed, out = table(tmp_path, capsys=capsys)
    best = cells.loc[("clcrec", "synthetic", "all", "recall@20")]
    assert best["best"] and best["significant"] and best["p_holm"] < 0.05
    assert not cells.loc[("lightgcn", "synthetic", "all", "recall@20")]["best"]
    assert cells["best"].sum() == 2 and cells["significant"].sum() == 2  # recall and ndcg
    assert best["n"] == 3 and best["mean"] == pytest.approx(np.mean(
        [seeded(0.1)(s).mean() for s in range(3)]))
    line = next(line for line in printed.splitlines() if line.startswith("| clcrec"))
    assert line.count("**") == 4 and line.count("†") == 2 and " ± " in line
    assert "| model.name | synthetic Recall@20 | synthetic NDCG@20 |" in printed
    assert "n (seeds) per row: clcrec 3 on synthetic; lightgcn 3 on synthetic; mf 3" in printed
    assert "Wilcoxon" in printed and "alpha 0.05" in printed and "2 columns tested" in printed
    tex = (out / "models.tex").read_text()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\cmidrule(lr){2-3}"):
        assert rule in tex
    assert r"\textbf{" in tex and r"$^\dagger$" in tex and r"$\pm$" in tex
    assert r"model.name & Recall@20 & NDCG@20 \\" in tex
    assert "**" in (out / "models.md").read_text()
    saved = pd.read_csv(out / "models.csv")
    assert len(saved) == 6 and saved["significant"].sum() == 2


def test_copy_of_the_runner_up_is_bold_but_not_marked(tmp_path, capsys):
    write_model(tmp_path, "lightgcn", lambda seed: BASE)
    bump = BASE.copy()
    bump[0] += 0.3  # one user better: a higher mean, no evidence
    write_model(tmp_path, "copy", lambda seed: bump)
    cells, printed, _ = table(tmp_path, capsys=capsys)
    best = cells.loc[("copy", "synthetic", "all", "recall@20")]
    assert best["best"] and not best["significant"] and best["p_holm"] > 0.05
    assert "†" not in printed.split("n (seeds)")[0]


def test_row_without_per_user_values_gets_no_mark_and_a_footnote(tmp_path, capsys):
    write_model(tmp_path, "lightgcn", seeded(0.0))
    write_model(tmp_path, "clcrec", seeded(0.1), parquet=False)
    cells, printed, _ = table(tmp_path, capsys=capsys)
    best = cells.loc[("clcrec", "synthetic", "all", "recall@20")]
    assert best["best"] and not best["significant"]
    assert "no per-user values (per_user.parquet) for clcrec on synthetic" in printed


def test_columns_per_data_with_lists_time_and_throughput(tmp_path, capsys):
    timed = {"target": {"value": 0.2, "target_reached": True, "time_to_target_s": 12.0},
             "throughput": {"samples_per_s": 5000.0}}
    for model, shift in (("mf", 0.0), ("clcrec", 0.1)):
        write_model(tmp_path, model, seeded(shift), data="movielens", cold=True, extra=timed)
        write_model(tmp_path, model, seeded(shift), seeds=2, data="synthetic")
    cells, printed, out = table(tmp_path, "--metrics", "recall", "--rows", "model.name",
                                capsys=capsys)
    cols = list(dict.fromkeys((d, l, m) for _, d, l, m in cells.index))
    assert cols == [("movielens", "all", "recall@20"), ("movielens", "warm", "recall@20"),
                    ("movielens", "cold", "recall@20"), ("movielens", "", "time_to_target_s"),
                    ("movielens", "", "samples_per_s"), ("synthetic", "all", "recall@20")]
    assert ("| model.name | movielens all Recall@20 | movielens warm Recall@20 | movielens "
            "cold Recall@20 | movielens time to target (s) | movielens samples/s | synthetic "
            "Recall@20 |") in printed
    assert "12.0 ± 0.0" in printed and "5,000 ± 0" in printed
    assert "mf 3 on movielens, 2 on synthetic" in printed
    assert cells["significant"].sum() == 4  # every list of movielens and synthetic's one
    tex = (out / "models.tex").read_text()
    assert r"\multicolumn{5}{c}{movielens} & \multicolumn{1}{c}{synthetic}" in tex
    assert r"\cmidrule(lr){2-6} \cmidrule(lr){7-7}" in tex
