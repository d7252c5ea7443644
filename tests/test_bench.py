"""The benchmark harness runs end to end on small data: benchmarks/gpu.sh's CPU dry run, and the
sampler and accuracy modes of ``python -m graphrec.bench``."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from graphrec import bench
from conftest import ROOT


@pytest.mark.slow
def test_gpu_script_dry_run_on_cpu(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path))
    res = subprocess.run(["bash", "benchmarks/gpu.sh", "--device", "cpu", "--tiny"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    rows = [json.loads(line) for line in open(tmp_path / "bench.jsonl")]
    train = [r for r in rows if r["mode"] == "train"]
    assert len(train) == 12  # 3 batch sizes x fp32/amp x baseline/fast
    assert all("samples/s" in r["result"] and "s/epoch" in r["result"] for r in train)
    assert any(r["mode"] == "eval" for r in rows)
    target = [r for r in rows if r["mode"] == "target"]
    assert len(target) == 2 and all("to target" in r["result"] for r in target)
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| train | loader=fast batch.size=64 precision=amp" in table
    assert "samples/s" in res.stdout


def test_sampler_and_accuracy_modes(tmp_path):
    results = tmp_path / "RESULTS.md"
    common = ["--tiny", "--device", "cpu", "--results", str(results)]
    rows = bench.main(["--mode", "sampler", "--rounds", "1", "--seconds", "0.2"] + common)
    assert [r["mode"] for r in rows] == ["sampler", "sampler"]
    assert rows[0]["ratio"] == "1.0x" and rows[1]["configuration"].startswith("fast")
    rows = bench.main(["--mode", "accuracy", "--epochs", "1", "--seeds", "0"] + common)
    assert len(rows) == 2 and all("val recall@20" in r["result"] for r in rows)
    text = results.read_text()
    assert text.startswith("# Benchmark results") and text.count("| accuracy |") == 2
    assert "Intel" in text or "cores" in text  # the machine is named
