"""The benchmark harness runs end to end on small data: benchmarks/gpu.sh's CPU dry run, and the
modes of ``python -m graphrec.bench``: each its own subcommand, ``--mode`` as an alias."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from graphrec import bench
from graphrec.bench import cli, harness
from conftest import ROOT


@pytest.mark.slow
def test_gpu_script_dry_run_on_cpu(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path))
    res = subprocess.run(["bash", "benchmarks/gpu.sh", "--device", "cpu", "--tiny"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    rows = [json.loads(line) for line in open(tmp_path / "bench.jsonl")]
    train = [r for r in rows if r["mode"] == "train"]
    assert len(train) == 15  # 3 batch sizes x fp32/amp x baseline/fast, then 3 strategies
    strategies = [r for r in train if "gpu.sh strategies" in r["note"]]
    assert len(strategies) == 3 and all("GFLOP a step" in r["note"] for r in strategies)
    assert all("samples/s" in r["result"] and "s/epoch" in r["result"] for r in train)
    assert any(r["mode"] == "eval" for r in rows)
    target = [r for r in rows if r["mode"] == "target"]
    assert len(target) == 2 and all("to target" in r["result"] for r in target)
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| train | loader=fast batch.size=64 precision=amp" in table
    assert "samples/s" in res.stdout


def test_sampler_and_accuracy_modes(tmp_path):
    results = tmp_path / "RESULTS.md"
    common = ["--tiny", "--device", "cpu", "--results", str(results), "--out", str(tmp_path)]
    rows = bench.main(["sampler", "--rounds", "1", "--seconds", "0.2"] + common)
    assert [r["mode"] for r in rows] == ["sampler", "sampler"]
    assert rows[0]["ratio"] == "1.0x" and rows[1]["configuration"].startswith("fast")
    rows = bench.main(["--mode", "accuracy", "--epochs", "1", "--seeds", "0"] + common)
    assert len(rows) == 2 and all("val recall@20" in r["result"] for r in rows)
    text = results.read_text()
    assert text.startswith("# Benchmark results") and text.count("| accuracy |") == 2
    # every row names the machine, the device, torch and the load it ran under
    table = [line.split(" | ") for line in text.splitlines() if line.startswith("| 20")]
    assert len(table) == 4 and all(len(cells) == 10 for cells in table)
    for cells in table:
        assert cells[6] == harness.machine() and cells[6].endswith(f"{os.cpu_count()} cores")
        assert cells[7] == f"cpu ({torch.get_num_threads()} threads)"
        assert cells[8] == torch.__version__ and "load avg " in cells[9]
    jsonl = [json.loads(line) for line in open(tmp_path / "bench.jsonl")]
    assert [r["mode"] for r in jsonl] == ["sampler"] * 2 + ["accuracy"] * 2


def test_mode_alias_and_default_mode():
    assert cli.normalise(["--tiny", "--mode", "eval", "--rounds", "1"]) == [
        "eval", "--tiny", "--rounds", "1"]
    assert cli.normalise(["--mode=scale"]) == ["scale"]
    assert cli.normalise(["--rounds", "3"]) == ["train", "--rounds", "3"]
    assert cli.normalise([]) == ["train"] and cli.normalise(["--help"]) == ["--help"]


@pytest.mark.parametrize("mode, own, other", [
    ("train", "--steps", "--seconds"), ("sampler", "--seconds", "--steps"),
    ("accuracy", "--seeds", "--rounds"), ("eval", "--configs", "--target"),
    ("target", "--eval-every-s", "--seeds"), ("scale", "--warmup", "--tiny"),
    ("recbole", "--data-path", "--configs"), ("recommend", "--passes", "--configs")])
def test_each_mode_has_its_own_help(mode, own, other, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main([mode, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and f"graphrec.bench {mode}" in out
    assert own in out and "--out" in out and other not in out


def test_package_runs_as_a_program_and_its_import_patches_nothing():
    """``python -m graphrec.bench`` lists the modes; importing the package and every module
    in it (RecBole's side included) leaves NumPy and SciPy as they were."""
    res = subprocess.run([sys.executable, "-m", "graphrec.bench", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and all(m in res.stdout for m in cli.MODES)
    assert "scale-child" not in res.stdout
    code = ("import importlib, pkgutil, sys, numpy as np, scipy.sparse as sp\n"
            "import graphrec.bench as b\n"
            "assert 'torch' not in sys.modules, 'the package import loads torch'\n"
            "for m in pkgutil.iter_modules(b.__path__):\n"
            "    if m.name != '__main__': importlib.import_module('graphrec.bench.' + m.name)\n"
            "from graphrec.bench.recbole_side import NUMPY_ALIASES\n"
            "print([old for old, _ in NUMPY_ALIASES if old in np.__dict__],"
            " hasattr(sp.dok_matrix, '_update'))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split("\n")[-2] == "[] False"


TINY_SIZE = ("data=synthetic data.n_users={} data.n_items={} data.max_degree=60 "
             "data.feat_dims=[16,8,8] sampling.num_neg=32 batch.size=64")


@pytest.mark.slow
def test_scale_mode_on_two_tiny_sizes(tmp_path):
    """scale: each size in its own process; the table, the json and the plot."""
    sizes = [TINY_SIZE.format(300, 160), TINY_SIZE.format(600, 320)]
    rows = bench.main(["scale", "--configs", *sizes, "--steps", "2", "--warmup", "1",
                       "--out", str(tmp_path)])
    assert [r["mode"] for r in rows] == ["scale", "scale"]
    assert all("samples/s" in r["result"] and "full validation" in r["result"] for r in rows)
    table = (tmp_path / "scale.md").read_text()
    for column in ("train pairs", "load s", "peak RSS GB", "sampler samples/s",
                   "mf lean samples/s", "clcrec lean samples/s", "full validation s"):
        assert f" {column}" in table, column
    assert table.count("| synthetic |") == 2
    results = json.loads((tmp_path / "scale.json").read_text())
    assert [r["n_users"] for r in results] == [300, 600]
    for r in results:
        assert set(r["phases"]) == {"load", "sampler", "mf", "clcrec", "eval"}
        assert r["peak_mb"] > 0 and r["phases"]["eval"]["users"] > 0
        assert r["phases"]["mf"]["steps"] == 3  # warm-up + timed
    assert (tmp_path / "scale.png").stat().st_size > 10_000


@pytest.mark.parametrize("mode", ["recbole", "recommend"])
def test_recbole_modes_without_recbole_say_how_to_install(tmp_path, mode):
    """--mode recbole where RecBole does not import: a non-zero exit that names the install
    command, before anything else (the --data-path given does not even exist); no NumPy
    alias added."""
    code = ("import sys; sys.modules['recbole'] = None\n"  # import recbole fails, as uninstalled
            "from graphrec.bench import main\n"
            "import numpy as np\n"
            "try:\n"
            f"    main(['--mode', {mode!r}, '--data-path', {str(tmp_path / 'none')!r}, "
            f"'--out', {str(tmp_path)!r}])\n"
            "finally:\n"
            "    assert 'float_' not in np.__dict__\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.count("\n") == 1 and "RecBole is not installed" in res.stderr
    assert 'pip install -e ".[recbole]"' in res.stderr
    assert "Traceback" not in res.stderr and "samples/s" not in res.stdout


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("recbole") is None,
                    reason="RecBole 1.2.1 not installed (pip install -e '.[recbole]')")
def test_recommend_mode_against_recbole_on_a_small_atomic_folder(tmp_path):
    """Both sides list top-K for every user of a small RecBole atomic folder: one row each,
    with positive users/s and each round's figure in bench.jsonl."""
    folder = tmp_path / "tiny100k"
    folder.mkdir()
    rng = np.random.default_rng(0)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for u in range(1, 41):
        for i in rng.choice(np.arange(1, 61), size=15, replace=False):
            lines.append(f"{u}\t{i}\t{rng.integers(1, 6)}\t{rng.integers(1e8, 2e8)}")
    (folder / "tiny100k.inter").write_text("\n".join(lines) + "\n")
    rows = bench.main(["recommend", "--data-path", str(folder), "--rounds", "1", "--passes",
                       "1", "--k", "5", "--device", "cpu", "--out", str(tmp_path / "out")])
    assert [r["configuration"].split(" ")[0] for r in rows] == ["RecBole", "graphrec"]
    assert all(float(r["result"].split()[0].replace(",", "")) > 0 for r in rows)
    jsonl = [json.loads(x) for x in (tmp_path / "out" / "bench.jsonl").read_text().splitlines()]
    assert [len(r["values"]) for r in jsonl] == [1, 1]


@pytest.mark.parametrize("flag", ["--k", "--passes", "--chunk"])
def test_recommend_mode_refuses_counts_below_one(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["recommend", flag, "0", "--data-path", "none"])
    assert exc.value.code == 2 and f"{flag}=0 is invalid" in capsys.readouterr().err


def test_roofline_counts_a_lean_step_from_its_shapes(tmp_path):
    """MF's lean step on 160 items scores the whole table: one [B, d] x [d, n] product
    forward and two backward (the query's and the table's gradients, one of them in place),
    6 B n d FLOPs; the count is per step (3 steps minus 2) and linear in d."""
    from graphrec.bench.roofline import mm_peak, roofline, step_flops
    h = harness.Harness(cli.parser().parse_args(["train", "--tiny", "--device", "cpu"]), "train")
    extra = ["trainer.eval_every=0", "trainer.progress=false"]
    flops = {}
    for dim in (32, 64):
        c = f"model=mf loader=fast model.impl=lean model.dim={dim} trainer.max_steps=50"
        cfg = h.cfg(c, extra)
        data = h.data(cfg, heldout=False)
        flops[dim] = step_flops(h, c, extra, data)
    assert flops[64] == 6 * 256 * data.n_items * 64 == 2 * flops[32]
    # the reference step has no product to count: said, not a 0 % roofline
    assert "no matrix product" in roofline(0, 1e4, 256, 50.0)
    assert roofline(2e9, 256.0, 256, 40.0).startswith("2.00 GFLOP a step, 2.0 GFLOP/s = 5%")
    assert mm_peak(torch.device("cpu"), "fp32", n=256, reps=2) > 0


@pytest.mark.slow
def test_ddp_shared_draw_script_times_both_choices_on_each_rank():
    """benchmarks/ddp_shared_draw.py under torchrun (gloo, 2 CPU ranks): each rank reports
    its own shared batch and a broadcast of the K ids."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "benchmarks/ddp_shared_draw.py", "--steps", "5", "--data", "synthetic",
           "--num-neg", "32"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    # the two ranks write to one pipe: their lines may run together
    found = re.findall(r"rank (\d)/2 \(cpu, synthetic, batch 256, K 32, 5 steps\): own shared "
                       r"batch [\d.]+ ms median; broadcast of K ids [\d.]+ ms median", res.stdout)
    assert sorted(found) == ["0", "1"], res.stdout
