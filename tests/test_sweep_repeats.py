"""``hydra.sweeper.repeats``: each listed row run several times, trainer.seed = the row's seed
+ 0, 1, ..., a row's repeats together (row-major), under the row's label."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from graphrec.sweeping.sweeper import GraphrecSweeperImpl


def row_jobs(rows: dict, repeats: int, seed: int = 5, fixed=None) -> list:
    impl = GraphrecSweeperImpl(study_name="s", rows=rows, repeats=repeats)
    impl.config = OmegaConf.create({"trainer": {"seed": seed}})
    return impl._row_overrides(dict(fixed or {}), [])


def seeds(job: list) -> list:
    return [o for o in job if o.startswith("trainer.seed=")]


def test_each_row_runs_repeats_times_with_consecutive_seeds_row_major():
    jobs = row_jobs({"a": ["model=mf"], "b": ["trainer.seed=10"], "c": ["batch=b512"]}, 3)
    assert [name for name, _ in jobs] == ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    got = [seeds(job) for _, job in jobs]
    assert got == [[f"trainer.seed={s}"] for s in (5, 6, 7, 10, 11, 12, 10, 11, 12)]
    for name, job in jobs:
        assert job[-1] == f"sweep.label={name}" and "model=mf" in job
    assert "batch=b512" in jobs[-1][1] and "batch=b512" not in jobs[3][1]  # still cumulative


def test_one_repeat_leaves_rows_as_they_were():
    jobs = row_jobs({"a": ["model=mf"], "b": ["batch=b512"]}, 1, fixed={"trainer.epochs": "2"})
    assert jobs == [("a", ["trainer.epochs=2", "model=mf", "sweep.label=a"]),
                    ("b", ["trainer.epochs=2", "model=mf", "batch=b512", "sweep.label=b"])]


@pytest.mark.parametrize("repeats", [0, -1, 1.5])
def test_repeats_must_be_a_positive_integer(repeats):
    with pytest.raises(ValueError, match="hydra.sweeper.repeats"):
        row_jobs({"a": []}, repeats)
