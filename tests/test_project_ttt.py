"""benchmarks/project_ttt.py: time to target = samples to target / samples/s, on constructed
curves whose answer is known."""
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("project_ttt", ROOT / "benchmarks/project_ttt.py")
ttt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ttt)


def curve(run: Path, hits: int, status: str = "completed", per_epoch: int = 50) -> None:
    """A run that validates once an epoch and first reaches 0.30 after `hits` samples."""
    run.mkdir(parents=True)
    epochs = hits // per_epoch + 3
    rows = ["epoch,step,samples,val_recall@20"]
    for e in range(epochs):
        s = (e + 1) * per_epoch
        rows.append(f"{e},{e + 1},{s},{0.31 if s >= hits else 0.1 + 0.001 * e}")
    (run / "epochs.csv").write_text("\n".join(rows) + "\n")
    (run / "metrics.json").write_text(json.dumps({"status": status}))


def table(capsys, argv) -> dict:
    assert ttt.main(argv) == 0
    out = capsys.readouterr()
    lines = [x for x in out.out.splitlines() if x.startswith("| ") and "---" not in x]
    return {x.split(" | ")[0][2:]: x.split(" | ") for x in lines[1:]}, out.err


def test_quoted_speeds_give_the_known_ratio(tmp_path, capsys):
    for s, hits in enumerate([1000, 1200, 1100]):
        curve(tmp_path / "ref" / f"s{s}", hits)
    for s, hits in enumerate([500, 600, 550]):
        curve(tmp_path / "fast" / f"s{s}", hits)
    curve(tmp_path / "fast" / "s9", 5_000, status="interrupted")  # part-way: left out
    rows, err = table(capsys, ["--target", "0.3", "--row", "orig", str(tmp_path / "ref"), "@100",
                               "--row", "fast", str(tmp_path / "fast"), "@1,000"])
    assert "left out (not finished" in err and "s9" in err
    assert rows["orig"][1] == "3 of 3" and rows["fast"][1] == "3 of 3"
    assert rows["orig"][4] == "11 s ± 2"  # mean of 10, 12, 11 s at 100 samples/s
    # same samples ratio 2x and 10x the samples/s: 20x, geometric over the seeds
    want = math.exp(np.log([1000, 1200, 1100]).mean() - np.log([500, 600, 550]).mean()) * 10
    got = float(rows["fast"][5].split("x")[0])
    assert got == pytest.approx(want, abs=0.01) and 19.9 < got < 20.1
    assert "(" in rows["fast"][5]  # the seeds' spread gives an interval


def test_a_seed_short_of_the_target_is_reported(tmp_path, capsys):
    for s, hits in enumerate([1000, 1200, 1100]):
        curve(tmp_path / "ref" / f"s{s}", hits)
    curve(tmp_path / "slow" / "s0", 500)
    (tmp_path / "slow" / "s1").mkdir(parents=True)
    (tmp_path / "slow" / "s1" / "epochs.csv").write_text(
        "epoch,step,samples,val_recall@20\n0,1,100,0.2\n1,2,200,0.25\n")
    (tmp_path / "slow" / "s1" / "metrics.json").write_text(json.dumps({"status": "completed"}))
    rows, _ = table(capsys, ["--target", "0.3", "--row", "orig", str(tmp_path / "ref"), "@100",
                             "--row", "slow", str(tmp_path / "slow"), "@100"])
    assert rows["slow"][1] == "1 of 2" and "not reached" in rows["slow"][2]
    assert "0.2500" in rows["slow"][-1]


def test_bench_rows_and_refusals(tmp_path, capsys):
    for s, hits in enumerate([1000, 1200, 1100]):
        curve(tmp_path / "ref" / f"s{s}", hits)
    bench = tmp_path / "bench.jsonl"
    row = dict(mode="train", date="d1", machine="m", note="n", configuration="c")
    bench.write_text("\n".join(json.dumps(dict(row, values=v)) for v in
                               ([100, 110, 90], [1000, 900, 1100])) + "\n")
    rows, _ = table(capsys, ["--target", "0.3", "--bench", str(bench),
                             "--row", "a", str(tmp_path / "ref"), "1",
                             "--row", "b", str(tmp_path / "ref"), "2"])
    # same runs: only the samples/s spread is left in b's interval
    assert rows["b"][5].startswith("10.0") and "(" in rows["b"][5]
    with pytest.raises(SystemExit):
        ttt.main(["--target", "0.3", "--row", "a", str(tmp_path / "ref"), "1"])
    for bad in ("@0", "@fast"):
        with pytest.raises(SystemExit):
            ttt.main(["--target", "0.3", "--row", "a", str(tmp_path / "ref"), bad])


def test_epoch_size_with_validations_inside_epochs(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    # validations every 300 steps of 1,024: the first row is a third of an epoch
    (run / "epochs.csv").write_text("epoch,step,samples,val_recall@20\n0,300,307200,0.1\n"
                                    "0,600,614400,0.2\n0,901,922007,\n1,1200,1228183,0.3\n")
    assert ttt.n_pairs(run) == 922007
    (run / "metrics.json").write_text(json.dumps({"status": "completed",
                                                  "data": {"n_train": 900000}}))
    assert ttt.n_pairs(run) == 900000
