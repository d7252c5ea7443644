"""``python -m graphrec.compare`` on runs made here: a single run and a listed sweep."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from graphrec.reporting.compare import main, pareto_mask
from sweep_helpers import REPO, TINY, rows_arg, train


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
    grouped = table[table["n"] == 2].iloc[0]
    assert str(grouped["trainer.seed"]) == "0,1"
    assert np.isfinite(grouped["samples_per_s_std"])
    assert "model.lr" in table.columns and "trainer.epochs" not in table.columns
    assert table.loc[0, "speedup"] == pytest.approx(1.0)  # default baseline: the first row
    assert table["pareto"].any()
    assert (out / "compare.md").read_text().startswith("| # | run |")
    png = (out / "compare.png").read_bytes()
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
    assert set(table["status"]) == {"completed", "failed"}
    row = table[table["status"] == "failed"].iloc[0]
    assert not row["pareto"] and np.isnan(row["samples_per_s"])
    assert table["speedup"].min() == pytest.approx(1.0)
    assert (tmp_path / "compare.png").stat().st_size > 0


def test_pareto_mask_keeps_non_dominated_points():
    x = [1.0, 2.0, 3.0, 2.0, np.nan]
    y = [0.9, 0.5, 0.1, 0.4, 1.0]
    assert pareto_mask(x, y).tolist() == [True, True, True, False, False]
