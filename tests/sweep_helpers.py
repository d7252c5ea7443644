"""Run ``python train.py`` as a user would, on data small enough for CI (~2 s a run)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import yaml

REPO = Path(__file__).resolve().parents[1]
# mf on 100 users x 80 items, 4 negatives, one epoch; loader=fast starts no worker processes
TINY = ["model=mf", "loader=fast", "data.n_users=100", "data.n_items=80", "sampling.num_neg=4",
        "batch.size=64", "trainer.epochs=1", "trainer.progress=false"]


def train(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HYDRA_FULL_ERROR": "1"}
    done = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)
    if check and done.returncode != 0:
        raise AssertionError(f"train.py {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return done


def rows_arg(rows: dict) -> str:
    """``hydra.sweeper.rows`` on the command line (``++``: the key exists, its dict is typed)."""
    body = ",".join(f"{name}:[{','.join(repr(o) for o in row)}]" for name, row in rows.items())
    return "++hydra.sweeper.rows={" + body + "}"


def load_study(sweep_dir: Path) -> optuna.Study:
    return optuna.load_study(study_name=None, storage=f"sqlite:///{sweep_dir}/study.db")


def config(cwd: Path, *overrides: str) -> dict:
    """The composed config, Hydra's included, resolved (``train.py --cfg all``)."""
    return yaml.safe_load(train("--cfg", "all", "--resolve", *overrides, cwd=cwd).stdout)
