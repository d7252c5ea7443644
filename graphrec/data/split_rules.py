"""Split rules shared by the data sources (``data=synthetic`` and ``data=movielens``'s
``random``/``cold_items``): kept apart so that neither source imports the other."""
from __future__ import annotations

import numpy as np

from .interactions import csr_from_pairs


def random_split(rng, users, items, warm_mask, ratios, n_users):
    """Per user: cold items go to val/test only; warm items split train/val/test by ratios,
    with at least one training item and, when the user has 3+, one val and one test item."""
    order = np.lexsort((rng.random(len(users)), users))  # shuffle within each user
    users, items = users[order], items[order]
    is_cold = ~warm_mask[items]
    split = np.zeros(len(users), dtype=np.int8)  # 0 train, 1 val, 2 test
    split[is_cold] = 1 + (rng.random(is_cold.sum()) < 0.5)
    w_users = users[~is_cold]
    n_w = np.bincount(w_users, minlength=n_users)
    start = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(n_w, out=start[1:])
    rank = np.arange(len(w_users)) - start[w_users]
    n_val = np.where(n_w >= 3, np.maximum(1, np.round(n_w * ratios[1])), 0).astype(np.int64)
    n_test = np.where(n_w >= 3, np.maximum(1, np.round(n_w * ratios[2])), 0).astype(np.int64)
    w_split = np.where(rank < n_val[w_users], 1, np.where(rank < (n_val + n_test)[w_users], 2, 0))
    split[~is_cold] = w_split
    out = []
    for s in range(3):
        m = split == s
        out.append(csr_from_pairs(users[m], items[m], n_users))
    return out
