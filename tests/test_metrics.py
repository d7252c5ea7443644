"""Metrics against hand-computed cases, ties and short held-out lists included."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from graphrec.data import Interactions, csr_from_pairs
from graphrec.evaluation import evaluate, topk_metrics, topk_stable


def test_topk_breaks_ties_by_lower_item_id():
    scores = torch.tensor([[0.5, 0.9, 0.5, 0.5, 0.1]])
    assert topk_stable(scores, 3).tolist() == [[1, 0, 2]]
    assert topk_stable(torch.zeros(1, 4), 2).tolist() == [[0, 1]]


def test_metrics_by_hand():
    # user 0: hits at ranks 1 and 3 of 3 relevant; user 1: one relevant item, hit at rank 2
    hits = torch.tensor([[1, 0, 1, 0], [0, 1, 0, 0]])
    m = topk_metrics(hits, torch.tensor([3, 1]), ks=[2, 4])
    assert m["recall@2"].tolist() == pytest.approx([1 / 3, 1.0])
    assert m["precision@4"].tolist() == pytest.approx([0.5, 0.25])
    assert m["hit@2"].tolist() == [1.0, 1.0]
    dcg0 = 1 + 1 / math.log2(4)
    idcg0_k4 = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(3 relevant, K=4) ideal places
    assert m["ndcg@4"][0].item() == pytest.approx(dcg0 / idcg0_k4)
    assert m["ndcg@2"][0].item() == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert m["ndcg@2"][1].item() == pytest.approx(1 / math.log2(3))  # fewer than K held out


def _data(train, val, n_users=3, n_items=6, warm=None):
    def csr(pairs):
        u = np.array([p[0] for p in pairs], dtype=np.int64)
        i = np.array([p[1] for p in pairs], dtype=np.int64)
        return csr_from_pairs(u, i, n_users)
    tr, va = csr(train), csr(val)
    warm = np.ones(n_items, bool) if warm is None else np.asarray(warm)
    return Interactions(n_users, n_items, tr[0], tr[1], va[0], va[1], va[0], va[1], warm)


def test_full_ranking_masks_training_items_and_skips_users_without_heldout():
    # user 0 trained on item 0 (top score) -> masked; its held-out item 1 ranks first.
    # user 2 has no held-out item: skipped, not counted as zero.
    data = _data(train=[(0, 0), (1, 2), (2, 3)], val=[(0, 1), (1, 5)])
    scores = torch.tensor([[9.0, 5, 4, 3, 2, 1]]).repeat(3, 1)
    res = evaluate(lambda u: scores[u], data, "val", ks=[1, 2])[""]
    # user 0: item 1 at rank 1 -> recall@1 = 1; user 1: ranking 0,1,3,4,5 -> item 5 is 5th
    assert res["recall@1"] == pytest.approx(0.5)
    assert res["recall@2"] == pytest.approx(0.5)
    assert res["hit@2"] == pytest.approx(0.5)


def test_cold_split_ranks_only_cold_items():
    warm = [True, True, True, True, False, False]
    data = _data(train=[(0, 0), (1, 1)], val=[(0, 4), (1, 2)], warm=warm)
    scores = torch.tensor([[1.0, 2, 3, 4, 5, 6]]).repeat(3, 1)
    res = evaluate(lambda u: scores[u], data, "val", ks=[1])
    # cold: user 0 holds item 4; among cold items {4, 5}, 5 ranks first -> miss
    assert res["_cold"]["recall@1"] == 0.0
    # warm: only user 1 (item 2) counts; warm ranking 3,2,(1 masked),0 -> miss at @1
    assert res["_warm"]["recall@1"] == 0.0
    assert set(res) == {"", "_warm", "_cold"}
