"""A bundle: everything scoring needs, and nothing of the training data.

``OUT/`` holds plain arrays (``np.load(..., allow_pickle=False)`` reads every one) and one
JSON model card; loading it imports no Hydra config and unpickles nothing:

* ``bundle.json``: the model card: format and version, model, how a score is made, sizes,
  the run's config and metrics, the item encoder's shape, which files hold what;
* ``users.npy``, ``items.npy``: float32 ``[n_users, d]``, ``[n_items, d]`` final vectors
  (graph models already propagated, cold items included); ``item_bias.npy`` (VBPR only):
  ``score = users @ items.T + item_bias``;
* ``user_ids.npy``, ``item_ids.npy``: the ids of each row, as in the data files (int64 or
  unicode); ``item_titles.txt``: one title a line, when the data has titles;
* ``warm.npy``: bool per item (False: the item never appeared in training);
* ``known_indptr.npy``, ``known_indices.npy``: each user's training items (CSR by row);
* ``encoder.npz`` (feature models): the weights that encode a new item's features, built
  back from ``bundle.json``'s ``encoder`` entry (``graphrec.models.encoders``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch

from ..errors import DataError
from ..models.base import Representations
from ..models.encoders import ItemEncoder, build_encoder
from .ids import Ids

FORMAT = "graphrec-bundle"
FORMAT_VERSION = 1
CARD = "bundle.json"


@dataclass
class Bundle:
    reps: Representations     # tensors on the scoring device
    user_ids: Ids
    item_ids: Ids
    warm: np.ndarray          # bool [n_items]
    known: Tuple[np.ndarray, np.ndarray]  # (indptr, indices): each user's training items
    card: dict
    encoder: Optional[ItemEncoder] = None
    titles: Optional[np.ndarray] = None   # str [n_items], '' where unknown

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def model(self) -> str:
        return self.card.get("model", "?")

    def scorer(self):
        """``users [B] -> scores [B, n_items]``: the model's own rule (``Representations``)."""
        return self.reps.scorer()

    # ------------------------------------------------------------------ files
    def save(self, out) -> Path:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / CARD).unlink(missing_ok=True)  # written last: a bundle.json means complete
        arrays = {"users": self.reps.users, "items": self.reps.items,
                  "item_bias": self.reps.item_bias}
        files = {}
        for name, t in arrays.items():
            if t is not None:
                np.save(out / f"{name}.npy", t.detach().float().cpu().numpy())
                files[name] = f"{name}.npy"
        indptr, indices = self.known
        small = indices.astype(np.int32) if self.n_items < 2**31 else indices
        for name, a in [("user_ids", self.user_ids.values), ("item_ids", self.item_ids.values),
                        ("warm", self.warm.astype(bool)),
                        ("known_indptr", indptr.astype(np.int64)), ("known_indices", small)]:
            np.save(out / f"{name}.npy", a)
            files[name] = f"{name}.npy"
        if self.titles is not None:
            lines = (str(t).replace("\n", " ").replace("\r", " ") for t in self.titles)
            (out / "item_titles.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            files["item_titles"] = "item_titles.txt"
        card = {"format": FORMAT, "format_version": FORMAT_VERSION, **self.card}
        if self.encoder is not None:
            np.savez(out / "encoder.npz", **{k: v.detach().float().cpu().numpy()
                                             for k, v in self.encoder.state_dict().items()})
            files["encoder"] = "encoder.npz"
            card["encoder"] = self.encoder.config()
        card["files"] = files
        tmp = out / (CARD + ".tmp")
        tmp.write_text(json.dumps(card, indent=2, default=str) + "\n")
        os.replace(tmp, out / CARD)
        return out

    @classmethod
    def load(cls, path, device="cpu") -> "Bundle":
        path = Path(path)
        card = read_card(path)
        files = card.get("files", {})
        device = torch.device(device)

        def array(name: str, required: bool = True) -> Optional[np.ndarray]:
            if name not in files:
                if required:
                    raise DataError(f"{path}: {CARD} lists no {name} file: not a complete bundle")
                return None
            file = path / files[name]
            try:
                return np.load(file, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise DataError(f"{file}: cannot read it as a plain array ({exc})") from None

        def tensor(name: str, required: bool = True) -> Optional[torch.Tensor]:
            a = array(name, required)
            return None if a is None else torch.from_numpy(a).float().to(device)

        reps = Representations(tensor("users"), tensor("items"), tensor("item_bias", False))
        encoder = None
        if "encoder" in files:
            encoder = build_encoder(card["encoder"])
            with np.load(path / files["encoder"], allow_pickle=False) as z:
                encoder.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
            encoder = encoder.to(device).eval()
        titles = None
        if "item_titles" in files:
            text = (path / files["item_titles"]).read_text(encoding="utf-8")
            titles = np.asarray(text.split("\n")[:-1], dtype=object)
        known = (array("known_indptr"), array("known_indices").astype(np.int64))
        bundle = cls(reps=reps, user_ids=Ids(array("user_ids"), "user"),
                     item_ids=Ids(array("item_ids"), "item"), warm=array("warm"),
                     known=known, card=card, encoder=encoder, titles=titles)
        bundle.check(path)
        return bundle

    def check(self, where) -> None:
        """Sizes that must agree, or a DataError naming the bundle."""
        n_users, n_items = self.n_users, self.n_items
        ok = (self.reps.users.shape[0] == n_users and self.reps.items.shape[0] == n_items
              and self.reps.users.shape[1] == self.reps.items.shape[1]
              and self.warm.shape == (n_items,) and len(self.known[0]) == n_users + 1
              and (self.reps.item_bias is None or self.reps.item_bias.shape == (n_items,))
              and (self.titles is None or len(self.titles) == n_items))
        if not ok:
            raise DataError(f"{where}: the bundle's arrays disagree in size (users "
                            f"{tuple(self.reps.users.shape)}, items "
                            f"{tuple(self.reps.items.shape)}, {n_users} user ids, {n_items} "
                            "item ids): re-export it")


def is_bundle(path) -> bool:
    return (Path(path) / CARD).is_file()


def read_card(path: Path) -> dict:
    file = Path(path) / CARD
    try:
        card = json.loads(file.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: no {CARD}: not a bundle (write one with python -m "
                        "graphrec.export RUN_DIR OUT)") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{file}: cannot read it as JSON ({exc})") from None
    if card.get("format") != FORMAT:
        raise DataError(f"{file}: not a graphrec bundle (format {card.get('format')!r})")
    version = card.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataError(f"{file}: bundle format version {version!r}; this graphrec reads "
                        f"versions up to {FORMAT_VERSION} (upgrade graphrec, or re-export)")
    return card
