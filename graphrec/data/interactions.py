"""The one in-memory form every data source produces: CSR interactions plus item metadata."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import DataError


def csr_from_pairs(users: np.ndarray, items: np.ndarray, n_users: int):
    """(indptr, indices) with each user's items sorted and duplicates removed."""
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    order = np.lexsort((items, users))
    users, items = users[order], items[order]
    if len(users):
        keep = np.ones(len(users), dtype=bool)
        keep[1:] = (users[1:] != users[:-1]) | (items[1:] != items[:-1])
        users, items = users[keep], items[keep]
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
    return indptr, items


@dataclass
class Interactions:
    """Implicit feedback split into train/val/test, users and items 0-based.

    ``*_indptr``/``*_indices`` are CSR rows per user. ``warm_mask[i]`` is True for items that
    may appear in training; cold items appear only in val/test. ``features`` maps a modality
    name (``v``, ``a``, ``t``) to a float32 ``[n_items, dim]`` array. ``exclude_*``, when
    set, is a CSR of the items negatives must avoid per user, training items included
    (``data.exclude_heldout`` adds the held-out ones); unset, that is the training items.
    """

    n_users: int
    n_items: int
    train_indptr: np.ndarray
    train_indices: np.ndarray
    val_indptr: np.ndarray
    val_indices: np.ndarray
    test_indptr: np.ndarray
    test_indices: np.ndarray
    warm_mask: np.ndarray
    features: Dict[str, np.ndarray] = field(default_factory=dict)
    name: str = "data"
    meta: Dict[str, object] = field(default_factory=dict)
    exclude_indptr: Optional[np.ndarray] = None
    exclude_indices: Optional[np.ndarray] = None

    @property
    def n_train(self) -> int:
        return int(len(self.train_indices))

    @property
    def n_warm(self) -> int:
        return int(self.warm_mask.sum())

    @property
    def n_cold(self) -> int:
        return self.n_items - self.n_warm

    def train_users(self) -> np.ndarray:
        """User id of every training pair, aligned with ``train_indices``."""
        return np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(self.train_indptr))

    def max_excluded_degree(self, among: Optional[np.ndarray] = None) -> int:
        """Most items any user has excluded from its negatives, counting only the items where
        the bool mask ``among`` (the candidates) is True when it is given."""
        if not self.n_users:
            return 0
        indptr, indices = self.negative_exclusions()
        if among is None:
            return int(np.diff(indptr).max())
        counted = np.concatenate([[0], np.cumsum(among[indices])])
        return int((counted[indptr[1:]] - counted[indptr[:-1]]).max())

    def negative_exclusions(self) -> Tuple[np.ndarray, np.ndarray]:
        """(indptr, indices): per user, the items a sampler must never draw as negatives."""
        if self.exclude_indptr is None:
            return self.train_indptr, self.train_indices
        return self.exclude_indptr, self.exclude_indices

    def exclude_heldout(self) -> None:
        """Make negatives avoid the user's val/test items too, as the seed code did (it read
        ``user_item_all_dict.npy``). That leaks held-out data into training; off by default."""
        parts = [(self.train_indptr, self.train_indices), (self.val_indptr, self.val_indices),
                 (self.test_indptr, self.test_indices)]
        users = np.concatenate([np.repeat(np.arange(self.n_users), np.diff(p)) for p, _ in parts])
        items = np.concatenate([i for _, i in parts])
        self.exclude_indptr, self.exclude_indices = csr_from_pairs(users, items, self.n_users)

    def heldout(self, split: str):
        if split not in ("val", "test"):
            raise ValueError(f"split must be val or test, not {split!r}")
        return getattr(self, f"{split}_indptr"), getattr(self, f"{split}_indices")

    def summary(self) -> Dict[str, int]:
        return {"n_users": self.n_users, "n_items": self.n_items, "n_train": self.n_train,
                "n_warm": self.n_warm, "n_cold": self.n_cold}

    def check(self) -> None:
        """Invariants every source must satisfy; a loader calls this before returning. A
        breach is bad input (a file or arrays given by hand), named as a DataError."""
        where = f"data {self.name!r}"
        for split in ("train", "val", "test"):
            indptr = getattr(self, f"{split}_indptr")
            indices = getattr(self, f"{split}_indices")
            if len(indptr) != self.n_users + 1 or indptr[-1] != len(indices):
                raise DataError(f"{where}, {split} pairs: CSR rows do not match {self.n_users} "
                                "users (build them with csr_from_pairs)")
            if len(indices) and (indices.min() < 0 or indices.max() >= self.n_items):
                raise DataError(f"{where}, {split} pairs: item id out of range "
                                f"0..{self.n_items - 1} (ids must be 0-based, below n_items)")
        if self.warm_mask.shape != (self.n_items,):
            raise DataError(f"{where}: warm_mask has shape {self.warm_mask.shape}, expected "
                            f"({self.n_items},), one entry per item")
        if self.n_train and not self.warm_mask[self.train_indices].all():
            raise DataError(f"{where}, train pairs: a cold item appears in training (mark it "
                            "warm or move its pairs to val/test)")
        for name, feat in self.features.items():
            if feat.shape[0] != self.n_items:
                raise DataError(f"{where}, feature {name}: {feat.shape[0]} rows for "
                                f"{self.n_items} items (one row per item, in item id order)")
