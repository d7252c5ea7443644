"""The fast full ranking gives exactly what the former, straightforward one gave (kept here as
the reference), ties and warm/cold sets included; NaN scores rank last with one warning; the
benchmark's CLCRec loop agrees with ``evaluate`` on the same scores."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from graphrec.data import Interactions, csr_from_pairs
from graphrec.evaluation import clcrec_reference, evaluate, ranking, topk_metrics, topk_stable


# ---------------------------------------------------------------- the former implementation
def _old_topk_stable(scores, k):
    k = min(k, scores.shape[1])
    kth = torch.topk(scores, k, dim=1).values[:, -1:]
    above = scores > kth
    tied = scores == kth
    need = k - above.sum(1, keepdim=True)
    chosen = above | (tied & (torch.cumsum(tied.int(), 1) <= need))
    cols = torch.nonzero(chosen)[:, 1].view(-1, k)
    order = torch.sort(scores.gather(1, cols), dim=1, descending=True, stable=True).indices
    return cols.gather(1, order)


def _old_dense(indptr, indices, users, n_items):
    out = torch.zeros(len(users), n_items, dtype=torch.bool)
    for r, u in enumerate(users):
        out[r, torch.from_numpy(indices[indptr[u]:indptr[u + 1]])] = True
    return out


def _old_evaluate(score, data, split, ks, chunk_users, item_sets):
    indptr, indices = data.heldout(split)
    kmax = max(ks)
    sums = {name: {} for name in item_sets}
    counts = dict.fromkeys(item_sets, 0)
    masks = {n: torch.from_numpy(np.asarray(m, dtype=bool)) for n, m in item_sets.items()}
    users_all = np.flatnonzero(np.diff(indptr) > 0)
    for start in range(0, len(users_all), chunk_users):
        users = users_all[start:start + chunk_users]
        scores = score(torch.from_numpy(users)).float()
        seen = _old_dense(data.train_indptr, data.train_indices, users, data.n_items)
        target = _old_dense(indptr, indices, users, data.n_items)
        scores = scores.masked_fill(seen, float("-inf"))
        for name, cand in masks.items():
            tgt = target & cand
            n_rel = tgt.sum(1)
            keep = n_rel > 0
            if not bool(keep.any()):
                continue
            s = scores[keep].masked_fill(~cand, float("-inf"))
            top = _old_topk_stable(s, min(kmax, int(cand.sum())))
            hits = tgt[keep].gather(1, top)
            for key, val in topk_metrics(hits, n_rel[keep], ks).items():
                sums[name][key] = sums[name].get(key, 0.0) + float(val.sum())
            counts[name] += int(keep.sum())
    return {name: {k: v / counts[name] for k, v in sums[name].items()}
            for name in item_sets if counts[name]}


# ---------------------------------------------------------------- random data with ties
def _random_data(rng, n_users=90, n_items=60, cold=None, overlap=True):
    warm = np.ones(n_items, bool)
    warm[rng.choice(n_items, 9, replace=False) if cold is None else cold] = False
    warm_ids = np.flatnonzero(warm)

    def pairs(n, items):
        return rng.integers(0, n_users, n), rng.choice(items, n)
    tr_u, tr_i = pairs(900, warm_ids)
    # Users 0-4 have trained on almost every warm item: fewer candidates than K, so -inf ties.
    full_u = np.repeat(np.arange(5), len(warm_ids) - 3)
    full_i = np.concatenate([warm_ids[:-3]] * 5)
    va_u, va_i = pairs(300, np.arange(n_items))
    tr_u, tr_i = np.append(tr_u, full_u), np.append(tr_i, full_i)
    if overlap:  # a held-out item the user also trained on: counts only if ranked
        va_u, va_i = np.append(va_u, tr_u[:20]), np.append(va_i, tr_i[:20])
    else:
        fresh = ~np.isin(va_u * n_items + va_i, tr_u * n_items + tr_i)
        va_u, va_i = va_u[fresh], va_i[fresh]
    tr = csr_from_pairs(tr_u, tr_i, n_users)
    va = csr_from_pairs(va_u, va_i, n_users)
    return Interactions(n_users, n_items, tr[0], tr[1], va[0], va[1], va[0], va[1], warm)


def _tied_scores(rng, n_users, n_items, levels):
    """Few distinct values, so most rows tie at the K-th place; some +-inf."""
    s = torch.from_numpy(rng.integers(0, levels, (n_users, n_items)).astype(np.float32))
    s[rng.random(s.shape) < 0.02] = float("inf")
    s[rng.random(s.shape) < 0.02] = float("-inf")
    return s


@pytest.mark.parametrize("seed", range(6))
def test_evaluate_equals_the_former_implementation_with_ties_and_item_sets(seed, monkeypatch):
    if seed % 3 == 0:  # rank blocks of 7 users within each chunk: the sums must not change
        monkeypatch.setattr(ranking, "BLOCK_SCORES", 7 * 60)
    rng = np.random.default_rng(seed)
    cold = np.arange(50, 60) if seed % 2 else None  # contiguous (a view) or scattered cold ids
    data = _random_data(rng, cold=cold, overlap=seed < 4)
    n = data.n_items
    odd = np.arange(n) % 2 == 1
    tiny = np.zeros(n, bool)
    tiny[[3, 7, 11]] = True  # fewer items than K
    sets = [None,  # the default "", _warm, _cold
            {"": np.ones(n, bool)},
            {"all": np.ones(n, bool), "odd": odd, "even": ~odd, "tiny": tiny,
             "first": np.arange(n) < 40, "none": np.zeros(n, bool),
             "odd_low": odd & (np.arange(n) < 30), "odd_high": odd & (np.arange(n) >= 30)}]
    for levels in (2, 5, 1000):
        scores = _tied_scores(rng, data.n_users, n, levels)
        for item_sets in sets:
            for chunk in (7, 64, 1000):
                got = evaluate(lambda u: scores[u], data, "val", ks=[1, 5, 20],
                               chunk_users=chunk, item_sets=item_sets)
                want = _old_evaluate(lambda u: scores[u], data, "val", [1, 5, 20], chunk,
                                     item_sets or {"": np.ones(n, bool), "_warm": data.warm_mask,
                                                   "_cold": ~data.warm_mask})
                assert got == want  # exact: same ranks, same sums in the same order


def test_evaluate_does_not_write_into_a_view_the_scorer_returns():
    data = _random_data(np.random.default_rng(0))
    table = torch.randn(data.n_users, data.n_items)
    before = table.clone()
    evaluate(lambda u: table[:len(u)], data, "val", ks=[5], chunk_users=data.n_users)
    assert torch.equal(table, before)


@pytest.mark.parametrize("levels", [2, 1000])
def test_topk_stable_matches_a_full_stable_sort(levels):
    rng = np.random.default_rng(levels)
    s = _tied_scores(rng, 200, 50, levels)
    s[rng.random(s.shape) < 0.05] = float("nan")
    clean = s.masked_fill(s.isnan(), float("-inf"))
    for k in (1, 3, 49, 50, 80):
        want = torch.sort(clean, dim=1, descending=True, stable=True).indices[:, :min(k, 50)]
        assert torch.equal(topk_stable(s, k), want)
        assert torch.equal(topk_stable(clean, k), _old_topk_stable(clean, k))


def test_nan_scores_rank_last_with_one_warning(caplog):
    rng = np.random.default_rng(3)
    data = _random_data(rng)
    scores = _tied_scores(rng, data.n_users, data.n_items, 1000)
    scores[rng.random(scores.shape) < 0.1] = float("nan")
    scores[:, 5] = float("nan")  # a NaN column
    clean = scores.masked_fill(scores.isnan(), float("-inf"))
    with caplog.at_level(logging.WARNING, logger="graphrec.evaluation"):
        got = evaluate(lambda u: scores[u], data, "val", ks=[5, 20], chunk_users=16)
    want = _old_evaluate(lambda u: clean[u], data, "val", [5, 20], 16,
                         {"": np.ones(data.n_items, bool), "_warm": data.warm_mask,
                          "_cold": ~data.warm_mask})
    assert got == want
    warnings = [r for r in caplog.records if "NaN" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    caplog.clear()
    evaluate(lambda u: clean[u], data, "val", ks=[5], chunk_users=16)
    assert not [r for r in caplog.records if "NaN" in r.getMessage()]


def test_nan_row_ranks_by_item_id_and_plus_inf_first():
    scores = torch.tensor([[float("nan")] * 4, [0.0, float("nan"), float("inf"), 1.0]])
    assert topk_stable(scores, 3).tolist() == [[0, 1, 2], [2, 3, 0]]


def test_clcrec_reference_agrees_with_evaluate():
    # CLCRec's loop on the same scores and masks: same metrics at its single K (no ties).
    rng = np.random.default_rng(1)
    data = _random_data(rng, n_users=120, n_items=80, overlap=False)
    table = torch.from_numpy(rng.standard_normal((data.n_users, data.n_items)).astype(np.float32))
    train, lists, masked = clcrec_reference.clcrec_inputs(data, "val")
    ours = evaluate(lambda u: table[u], data, "val", ks=[10], chunk_users=50)
    for name in ("", "_warm", "_cold"):
        p, r, n = clcrec_reference.full_ranking(lambda u: table[u], data.n_users, lists[name],
                                                train, masked[name], step=37, topk=10)
        assert (p, r, n) == pytest.approx((ours[name]["precision@10"], ours[name]["recall@10"],
                                           ours[name]["ndcg@10"]), abs=1e-6)


def test_bench_eval_mode_checks_graphrec_against_clcrec(tmp_path, capsys):
    from graphrec import bench
    rows = bench.main(["eval", "--tiny", "--device", "cpu", "--rounds", "1",
                       "--out", str(tmp_path)])
    assert [r["configuration"][:3] for r in rows] == ["(a)", "(b)", "(c)", "(d)"]
    assert all(r["result"].endswith(" s") and r["mode"] == "eval" for r in rows)
    out = capsys.readouterr().out
    assert "check passed" in out and "(d)/(a) = " in out
    assert (tmp_path / "RESULTS.md").read_text().count("| eval |") == 4


def _split_data(rng, n_users=40, n_items=30):
    """Train, val and test pairs drawn apart (one user's three sets do not overlap)."""
    items = np.stack([rng.permutation(n_items) for _ in range(n_users)])
    users = np.repeat(np.arange(n_users), 4)
    tr = csr_from_pairs(users, items[:, :4].ravel(), n_users)
    va = csr_from_pairs(users, items[:, 4:8].ravel(), n_users)
    te = csr_from_pairs(users, items[:, 8:12].ravel(), n_users)
    return Interactions(n_users, n_items, tr[0], tr[1], va[0], va[1], te[0], te[1],
                        np.ones(n_items, bool)), items


def test_train_val_protocol_masks_validation_items_when_ranking_test():
    data, items = _split_data(np.random.default_rng(0))
    rank = torch.zeros(data.n_users, data.n_items)  # val items first, then test items
    rows = torch.arange(data.n_users).unsqueeze(1)
    rank[rows, torch.from_numpy(items[:, 4:8])] = 2.0
    rank[rows, torch.from_numpy(items[:, 8:12])] = 1.0
    score = lambda u: rank[u].clone()  # noqa: E731
    train_only = evaluate(score, data, "test", ks=[4], exclude="train")[""]
    train_val = evaluate(score, data, "test", ks=[4], exclude="train_val")[""]
    assert train_only["recall@4"] == 0.0  # the 4 val items fill the top 4
    assert train_val["recall@4"] == 1.0   # masked, the 4 test items come first
    # exactly the former ranking with val items counted as training items
    merged = csr_from_pairs(np.repeat(np.arange(data.n_users), 8),
                            items[:, :8].ravel(), data.n_users)
    as_train = Interactions(data.n_users, data.n_items, merged[0], merged[1], data.val_indptr,
                            data.val_indices, data.test_indptr, data.test_indices,
                            data.warm_mask)
    noisy = torch.rand(data.n_users, data.n_items, generator=torch.Generator().manual_seed(1))
    noisy_score = lambda u: noisy[u].clone()  # noqa: E731
    assert evaluate(noisy_score, data, "test", ks=[3, 5], exclude="train_val") == \
        evaluate(noisy_score, as_train, "test", ks=[3, 5], exclude="train")
    # validation itself is ranked the same under both protocols
    assert evaluate(noisy_score, data, "val", ks=[5], exclude="train_val") == \
        evaluate(noisy_score, data, "val", ks=[5], exclude="train")
