"""data.split=recbole_rs (RecBole 1.2.1's per-user RS counts) and data.split=files (a split
written out, read back as is), with the export that writes graphrec's split for RecBole."""
import os
from pathlib import Path

import numpy as np
import pytest

from data_fixtures import movielens_cfg
from graphrec.config import ConfigError
from graphrec.data import DataError, load_data
from graphrec.data.export_split import export, main as export_main
from graphrec.data.splits import recbole_rs_counts, write_split

# What RecBole 1.2.1's Dataset._calcu_split_ids gives, as (degree: [train, valid, test]):
# its code run on each degree (after split_by_ratio normalises the ratios by their sum), the
# numbers copied here. Its rule: every share but the first is int(ratio * n), the first takes
# the rest; then, while the first keeps more than one pair, test and then valid get one pair
# each when ratio * n is in (0, 1).
RECBOLE_811 = {1: [1, 0, 0], 2: [1, 0, 1], 3: [1, 1, 1], 4: [2, 1, 1], 5: [3, 1, 1],
               9: [7, 1, 1], 10: [8, 1, 1], 11: [9, 1, 1], 19: [17, 1, 1], 20: [16, 2, 2],
               23: [19, 2, 2], 29: [25, 2, 2], 30: [24, 3, 3], 100: [80, 10, 10]}
RECBOLE_OTHER = [  # (ratios, degree, counts)
    ([0.7, 0.2, 0.1], 10, [7, 2, 1]),
    ([0.7, 0.2, 0.1], 23, [17, 4, 2]),
    ([0.9, 0.0, 0.1], 3, [2, 0, 1]),
    ([8, 1, 1], 11, [9, 1, 1]),                # unnormalised ratios, as RecBole allows
    ([0.42, 0.29, 0.29], 100, [44, 28, 28]),   # 0.29 * 100 = 28.999999999999996 -> 28
]


def test_counts_match_recbole():
    degrees = np.array(list(RECBOLE_811))
    got = recbole_rs_counts(degrees, [0.8, 0.1, 0.1])
    assert {int(n): c for n, c in zip(degrees, got.tolist())} == RECBOLE_811
    for ratios, n, want in RECBOLE_OTHER:
        assert recbole_rs_counts(n, ratios).tolist() == [want], (ratios, n)


def write_inter(folder: Path, degrees, name="toy", n_items=40, seed=0) -> Path:
    """A RecBole .inter file: user u+1 rates degrees[u] distinct items (ids 100..)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [f"{u + 1}\t{100 + i}\t{1 + i % 5}\t{1000 * u + i}"
            for u, d in enumerate(degrees) for i in rng.choice(n_items, d, replace=False)]
    (folder / f"{name}.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + "\n".join(rows) + "\n")
    return folder


def sizes(data, split):
    return np.diff(getattr(data, f"{split}_indptr"))


def pairs(data, split):
    indptr, indices = getattr(data, f"{split}_indptr"), getattr(data, f"{split}_indices")
    return set(zip(np.repeat(np.arange(data.n_users), np.diff(indptr)).tolist(), indices.tolist()))


def test_recbole_rs_split_sizes_per_user(tmp_path):
    degrees = list(RECBOLE_811)[:-1]  # 1..30, under the 40 items
    folder = write_inter(tmp_path / "d", degrees)
    data = load_data(movielens_cfg(folder, tmp_path / "c", split="recbole_rs", features="none"))
    # users are numbered in token (string) order; degree per user back from all three splits
    deg = sizes(data, "train") + sizes(data, "val") + sizes(data, "test")
    got = np.stack([sizes(data, s) for s in ("train", "val", "test")], axis=1)
    assert sorted(deg.tolist()) == sorted(degrees)
    assert {int(n): c for n, c in zip(deg, got.tolist())} == {n: RECBOLE_811[n] for n in degrees}
    assert data.n_warm == data.n_items and data.meta["split"] == "recbole_rs"
    again = load_data(movielens_cfg(folder, tmp_path / "c2", split="recbole_rs", features="none"))
    other = load_data(movielens_cfg(folder, tmp_path / "c3", split="recbole_rs", seed=1,
                                    features="none"))
    assert pairs(again, "test") == pairs(data, "test")  # seeded
    assert pairs(other, "test") != pairs(data, "test")  # a shuffle, not a fixed cut
    assert np.array_equal(sizes(other, "test"), sizes(data, "test"))


def test_recbole_rs_refuses_cold_items(tmp_path):
    folder = write_inter(tmp_path / "d", [5, 6])
    with pytest.raises(ConfigError, match="data.cold_share"):
        load_data(movielens_cfg(folder, tmp_path / "c", split="recbole_rs", cold_share=0.1))


ML100K = next((p for p in (os.environ.get("GRAPHREC_ML100K"),
                           "/tmp/recbole_whl/recbole/dataset_example/ml-100k")
               if p and Path(p, "ml-100k.inter").is_file()), None)


@pytest.mark.skipif(ML100K is None, reason="needs RecBole's ml-100k folder (ml-100k.inter): "
                    "set GRAPHREC_ML100K or unzip the recbole 1.2.1 wheel into /tmp/recbole_whl")
def test_ml100k_sizes_match_recbole(tmp_path):
    data = load_data(movielens_cfg(ML100K, tmp_path / "c", split="recbole_rs", features="none"))
    assert (data.n_users, data.n_items) == (943, 1682)
    assert (data.n_train, len(data.val_indices), len(data.test_indices)) == (80808, 9596, 9596)


# ----------------------------------------------------------------------------- split files
@pytest.mark.parametrize("fmt", ["inter", "csv"])
def test_round_trip_gives_identical_pairs(tmp_path, fmt):
    src = write_inter(tmp_path / "toy", [3, 5, 9, 10, 11, 23, 2, 1])
    cfg = movielens_cfg(src, tmp_path / "c", split="recbole_rs", features="none")
    data = load_data(cfg)
    files = export(cfg, tmp_path / "out", fmt=fmt)  # NAME: the folder's, as RecBole wants
    want = ["out.train.inter", "out.valid.inter", "out.test.inter"] if fmt == "inter" else [
        "train.csv", "valid.csv", "test.csv"]
    assert [f.name for f in files] == want
    back = load_data(movielens_cfg(tmp_path / "out", tmp_path / "c", split="files",
                                   features="none"))
    assert back.meta["split"] == "files" and back.meta["pairs_in_several_splits"] == 0
    assert (back.n_users, back.n_items) == (data.n_users, data.n_items)
    for k in ("train_indptr", "train_indices", "val_indptr", "val_indices", "test_indptr",
              "test_indices"):
        np.testing.assert_array_equal(getattr(back, k), getattr(data, k))
    # the source's own ids are written: user 1 (token order puts "1" first) rated 3 items
    first = files[0].read_text().splitlines()
    assert first[0] == ("user_id:token\titem_id:token" if fmt == "inter" else "user,item")
    assert {int(line.split("\t" if fmt == "inter" else ",")[1]) for line in first[1:]} <= set(
        range(100, 140))


def test_files_ids_over_all_three_files(tmp_path):
    """A user or item seen only in valid/test still gets an id; ids are numbered over the
    three files; a data.path naming one of the files finds the other two."""
    d = tmp_path / "bench"
    d.mkdir()
    (d / "train.tsv").write_text("user\titem\n1\t10\n1\t11\n2\t10\n")
    (d / "valid.tsv").write_text("user\titem\n1\t12\n")
    (d / "test.tsv").write_text("user\titem\n3\t13\n2\t12\n")
    data = load_data(movielens_cfg(d / "valid.tsv", tmp_path / "c", split="files",
                                   features="none"))
    assert (data.n_users, data.n_items) == (3, 4)
    assert pairs(data, "train") == {(0, 0), (0, 1), (1, 0)}
    assert pairs(data, "val") == {(0, 2)} and pairs(data, "test") == {(1, 2), (2, 3)}
    assert data.warm_mask.all()


def test_files_numeric_ids_in_numeric_order(tmp_path):
    data = load_data(movielens_cfg(write_inter(tmp_path / "x", [4, 10]), tmp_path / "c",
                                   split="recbole_rs", features="none"))
    write_split(data, tmp_path / "plain", fmt="csv", user_ids=[10, 9])
    back = load_data(movielens_cfg(tmp_path / "plain", tmp_path / "c", split="files",
                                   features="none"))
    assert sizes(data, "train").tolist() == [2, 8]
    assert sizes(back, "train").tolist() == [8, 2]  # token 9 before 10: by value, not as text


@pytest.mark.parametrize("case,match", [
    ("missing", r"toy\.valid\.inter: file not found"),
    ("row", r"toy\.test\.inter: line 3: missing or non-numeric item"),
    ("header", r"toy\.train\.inter: line 1: a RecBole \.inter header needs user_id"),
    ("none", r"no split files for data\.split=files"),
    ("csv_header", r"train\.csv: line 1: the header needs a user and an item column"),
    ("csv_row", r"valid\.csv: line 2: missing or non-numeric item"),
])
def test_bad_split_files_one_clear_error(tmp_path, case, match):
    d = tmp_path / "toy"
    d.mkdir()
    head = "user_id:token\titem_id:token\n"
    files = {"toy.train.inter": head + "1\t10\n2\t11\n", "toy.valid.inter": head + "1\t11\n",
             "toy.test.inter": head + "2\t10\n1\t12\n"}
    if case == "missing":
        del files["toy.valid.inter"]
    elif case == "row":
        files["toy.test.inter"] = head + "2\t10\n1\t\n"
    elif case == "header":
        files["toy.train.inter"] = "uid:token\titem_id:token\n1\t10\n"
    elif case == "none":
        files = {"toy.inter": head + "1\t10\n"}
    elif case.startswith("csv"):
        files = {"train.csv": "user,item\n1,10\n", "valid.csv": "user,item\n1,\n",
                 "test.csv": "user,item\n1,12\n"}
        if case == "csv_header":
            files["train.csv"] = "u,i\n1,10\n"
    for name, text in files.items():
        (d / name).write_text(text)
    with pytest.raises(DataError, match=match):
        load_data(movielens_cfg(d, tmp_path / "c", split="files", features="none"))


def test_export_cli(tmp_path, capsys):
    src = write_inter(tmp_path / "toy", [3, 5, 9])
    rc = export_main(["--out", str(tmp_path / "out"), f"data.path={src}",
                      "data.split=recbole_rs", f"data.cache_dir={tmp_path / 'c'}",
                      "data.features=none"])
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "out.test.inter", "out.train.inter", "out.valid.inter"]
    assert export_main(["--out", str(tmp_path / "o4"), "--name", "toy", "--format", "inter",
                        f"data.path={src}", f"data.cache_dir={tmp_path / 'c'}"]) == 0
    assert (tmp_path / "o4" / "toy.valid.inter").is_file()
    assert export_main(["--out", str(tmp_path / "o2"), f"data.cache_dir={tmp_path / 'c'}"]) == 2
    assert "error: data.path is required" in capsys.readouterr().err
    assert export_main(["--out", str(tmp_path / "o3"), f"data.path={src}",
                        "data.split=nope"]) == 2
