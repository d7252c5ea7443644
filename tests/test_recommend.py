"""python -m graphrec.recommend: lists equal evaluation's, ids as in the data files, seen items
left out, --all into a file, new items from their features, the reverse question, and one
clear line with exit 2 for what a user got wrong."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from graphrec.evaluation import evaluate, topk_stable
from graphrec.serving import open_source
from graphrec.serving.export import export
from graphrec.serving.lists import Lists
from graphrec.serving.recommend import main
from graphrec.serving.run_folder import rebuild
from serving_runs import train_run, write_ml100k


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """CLCRec, 2 epochs on tiny synthetic data (features carry the item factors)."""
    folder = train_run(tmp_path_factory.mktemp("clcrec"), ["trainer.epochs=2"])
    cfg, data, model = rebuild(folder)
    bundle = tmp_path_factory.mktemp("bundle") / "b"
    export(folder, bundle)
    return {"dir": folder, "bundle": bundle, "data": data, "model": model}


def frame(blocks) -> pd.DataFrame:
    return pd.concat([pd.DataFrame(cols) for _, cols in blocks], ignore_index=True)


def lists_of(df: pd.DataFrame, k: int, who="user", what="item") -> np.ndarray:
    assert (df.groupby(who, sort=False).size() == k).all()
    return df[what].to_numpy().reshape(-1, k)


@pytest.mark.parametrize("source", ["dir", "bundle"])
def test_lists_equal_the_ones_evaluation_scored(run, source):
    lists = {}
    evaluate(run["model"].scorer(), run["data"], "val", ks=[10], exclude="train", lists=lists)
    ranker = Lists(open_source(run[source]))
    for suffix, items in [("", "all"), ("_warm", "warm"), ("_cold", "cold")]:
        users = lists[suffix]["user"]
        got = frame(ranker.for_users(users, 10, items, chunk=64))  # several blocks
        assert (got.user.unique() == users).all()  # synthetic data: ids are the indices
        np.testing.assert_array_equal(lists_of(got, 10), lists[suffix]["items"])
        assert (got["rank"].to_numpy().reshape(-1, 10) == np.arange(1, 11)).all()


def test_all_out_writes_every_users_list_in_blocks(run, tmp_path, capsys):
    out = tmp_path / "lists.parquet"
    assert main([str(run["bundle"]), "--all", "--k", "7", "--out", str(out),
                 "--chunk-users", "50"]) == 0
    captured = capsys.readouterr()
    assert "user/s" in captured.err  # the progress bar
    assert f"{out}: 300 users, 2100 entries" in captured.out
    df = pd.read_parquet(out)
    assert list(df.columns) == ["user", "rank", "item", "score"] and len(df) == 300 * 7
    scores = run["model"].scorer()(torch.arange(300)).detach()
    data = run["data"]
    for u in (0, 123, 299):
        known = data.train_indices[data.train_indptr[u]:data.train_indptr[u + 1]]
        s = scores[u].clone()
        s[known] = float("-inf")
        mine = df[df.user == u]
        assert mine.item.tolist() == topk_stable(s[None], 7)[0].tolist()
        np.testing.assert_allclose(mine.score, s.numpy()[mine.item.to_numpy()], rtol=1e-6)


def test_users_printed_with_seen_items_left_out_unless_asked(run, capsys):
    data = run["data"]
    heavy = int(np.argmax(np.diff(data.train_indptr)))
    known = set(data.train_indices[data.train_indptr[heavy]:data.train_indptr[heavy + 1]])
    assert main([str(run["bundle"]), "--users", f"{heavy},1", "--k", "40"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["user", "rank", "item", "score"] and len(lines) == 81
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[0] for r in rows] == [str(heavy)] * 40 + ["1"] * 40  # in the order given
    assert not known & {int(r[2]) for r in rows[:40]}
    assert main([str(run["bundle"]), "--users", str(heavy), "--k", "40",
                 "--include-seen"]) == 0
    seen = [int(line.split("\t")[2]) for line in capsys.readouterr().out.splitlines()[1:]]
    top = topk_stable(run["model"].scorer()(torch.tensor([heavy])).detach(), 40)[0]
    assert seen == top.tolist() and known & set(seen)


def new_items(folder, data, rows, dims=None):
    folder.mkdir()
    for m, f in data.features.items():
        x = f[rows] if dims is None else np.ones((len(rows), dims.get(m, f.shape[1])))
        np.save(folder / f"feat_{m}.npy", x.astype(np.float32))
    (folder / "ids.txt").write_text("".join(f"new{i}\n" for i in rows))
    return folder


def test_new_items_from_features_beat_chance(run, tmp_path):
    """Cold items as new items, by their features alone: the held-out users of each rank it
    far above chance (the synthetic features are a map of the item factors)."""
    data = run["data"]
    cold = np.flatnonzero(~data.warm_mask)
    folder = new_items(tmp_path / "new", data, cold)
    out = tmp_path / "new.parquet"
    assert main([str(run["bundle"]), "--all", "--new-items", str(folder), "--k", "5",
                 "--out", str(out), "--no-progress"]) == 0
    df = pd.read_parquet(out)
    assert set(df.item) <= {f"new{i}" for i in cold}
    top = {u: set(g.item) for u, g in df.groupby("user")}
    hits = found = 0
    for split in ("val", "test"):
        indptr, indices = data.heldout(split)
        for u in range(data.n_users):
            for i in indices[indptr[u]:indptr[u + 1]]:
                if not data.warm_mask[i]:
                    found += 1
                    hits += f"new{i}" in top[u]
    chance = 5 / len(cold)
    assert found > 50 and hits / found > 1.5 * chance, (hits / found, chance)


def test_for_items_lists_the_users_who_should_see_an_item_first(run, tmp_path, capsys):
    data = run["data"]
    item = int(np.bincount(data.train_indices).argmax())  # the most known item
    assert main([str(run["bundle"]), "--for-items", str(item), "--k", "15"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["item", "rank", "user", "score"]
    users = [int(r[2]) for r in rows[1:]]
    s = run["model"].scorer()(torch.arange(data.n_users)).detach()[:, item].clone()
    owners = data.train_users()[data.train_indices == item]
    s[owners] = float("-inf")
    assert users == topk_stable(s[None], 15)[0].tolist() and not set(owners) & set(users)
    cold = np.flatnonzero(~data.warm_mask)[:3]
    folder = new_items(tmp_path / "new", data, cold)
    assert main([str(run["bundle"]), "--for-items", f"new{cold[0]},new{cold[1]}",
                 "--new-items", str(folder), "--k", "4"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    assert [r[0] for r in rows] == [f"new{cold[0]}"] * 4 + [f"new{cold[1]}"] * 4


def test_movielens_ids_and_titles(tmp_path, capsys):
    """Users and items by their MovieLens ids, with the catalogue's titles; a bundle answers
    as the run folder does."""
    folder = write_ml100k(tmp_path / "ml")
    run = train_run(tmp_path / "run", [
        "data=movielens", f"data.path={folder}", f"data.cache_dir={tmp_path / 'cache'}",
        "model=mf", "sampling=neg1", "trainer.epochs=1", "trainer.progress=false",
        "batch.size=64"], tiny=False)
    assert main([str(run), "--users", "101", "140", "--k", "3"]) == 0
    text = capsys.readouterr().out
    rows = [line.split("\t") for line in text.splitlines()]
    assert rows[0] == ["user", "rank", "item", "score", "title"] and len(rows) == 7
    assert [r[0] for r in rows[1:]] == ["101"] * 3 + ["140"] * 3
    for user, _, item, _, title in rows[1:]:
        i = int(item) - 501
        assert 0 <= i < 30 and title == f"Movie {i} ({1950 + i})"
    export(run, tmp_path / "bundle")
    assert main([str(tmp_path / "bundle"), "--users", "101", "140", "--k", "3"]) == 0
    assert capsys.readouterr().out == text
    bundle = open_source(tmp_path / "bundle")
    row = bundle.user_ids.rows(["101"])[0]
    indptr, indices = bundle.known
    known = set(bundle.item_ids.values[indices[indptr[row]:indptr[row + 1]]].tolist())
    assert len(known) >= 5 and not known & {int(r[2]) for r in rows[1:4]}


@pytest.mark.parametrize("argv, says", [
    (["--users", "99999"], "unknown user id '99999'"),
    (["--users", "0", "--k", "0"], "--k=0 is invalid"),
    (["--users", "0", "--items", "new"], "--items=new needs --new-items"),
    (["--for-items", "nope"], "unknown item id 'nope'"),
    (["--all", "--out", "x.xlsx"], "--out='x.xlsx'"),
    (["--users", "0", "--new-items", "DIMS"], "feat_v.npy: 5 feature columns, and the model "
                                             "was trained on 16 for modality v"),
    (["--users", "0", "--new-items", "MISSING"], "no feat_a.npy or feat_a.pt"),
])
def test_user_errors_are_one_line_and_exit_2(run, tmp_path, capsys, argv, says):
    data = run["data"]
    if "DIMS" in argv:
        argv[argv.index("DIMS")] = str(new_items(tmp_path / "d", data, [1, 2], dims={"v": 5}))
    if "MISSING" in argv:
        folder = new_items(tmp_path / "m", data, [1, 2])
        (folder / "feat_a.npy").unlink()
        argv[argv.index("MISSING")] = str(folder)
    assert main([str(run["bundle"]), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], err


def test_a_folder_that_is_neither_run_nor_bundle(tmp_path, capsys):
    assert main([str(tmp_path), "--users", "1"]) == 2
    assert "no .hydra/config.yaml" in capsys.readouterr().err
    assert main([str(tmp_path / "absent"), "--users", "1"]) == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["ml-100k", "ml-1m", "ml-latest", "recbole"])
def test_titles_from_every_catalogue_format(tmp_path, fmt):
    from data_fixtures import movielens_cfg
    from graphrec.serving.run_folder import source_ids, titles
    from test_data_movielens import MOVIES, write_format

    cfg = movielens_cfg(write_format(fmt, tmp_path / fmt), tmp_path / "cache")
    _, items = source_ids(cfg, None)
    got = titles(cfg, items)
    for item, title in zip(items.tolist(), got.tolist()):
        assert title.startswith(MOVIES[int(item)][0].split(" (")[0])
