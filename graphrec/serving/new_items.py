"""Items the model never saw, from their features: read, checked against what the model was
trained on, and encoded as it encodes its cold items.

``--new-items PATH``: a folder in the layout ``data=clcrec`` reads, one ``feat_<modality>``
file per modality the model was trained on (``.npy`` or ``.pt``, float ``[n, width]``, one row
per new item, the same rows in every file), and optionally ``ids.txt`` (one id a line) or
``ids.npy``; without ids the items are called ``new-0``, ``new-1``, ... A model trained on one
modality also takes that one file itself."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from ..data.safe_npy import load_matrix
from ..errors import DataError, UsageError
from ..models.base import Representations
from .bundle import Bundle
from .ids import Ids

FEATURE_MODELS_HINT = "clcrec, vbpr, dropoutnet, mmgcn"


@dataclass
class NewItems:
    ids: Ids
    items: torch.Tensor                # [n, d], as the bundle's item rows
    item_bias: Optional[torch.Tensor]  # [n], when the model has item biases

    def __len__(self) -> int:
        return len(self.ids)


def _trained_on(widths: Dict[str, int]) -> str:
    return ", ".join(f"{m} ({w} wide)" for m, w in widths.items())


def read_features(path, widths: Dict[str, int]) -> Dict[str, np.ndarray]:
    """``{modality: [n, width]}`` for exactly the modalities and widths of training."""
    path = Path(path)
    if path.is_file():
        if len(widths) != 1:
            raise DataError(f"{path}: a single file, and the model was trained on "
                            f"{len(widths)} modalities ({_trained_on(widths)}): pass a folder "
                            "with one feat_<modality>.npy or .pt each")
        files = {next(iter(widths)): path}
    elif path.is_dir():
        files = {}
        for m in widths:
            found = [p for p in (path / f"feat_{m}.npy", path / f"feat_{m}.pt") if p.is_file()]
            if not found:
                raise DataError(f"{path}: no feat_{m}.npy or feat_{m}.pt; the model was trained "
                                f"on modalities {_trained_on(widths)}")
            files[m] = found[0]
        extra = sorted(p.name for p in path.glob("feat_*")
                       if p.suffix in (".npy", ".pt") and p.stem[len("feat_"):] not in widths)
        if extra:
            raise DataError(f"{path / extra[0]}: modality {Path(extra[0]).stem[5:]!r} was not "
                            f"in training (modalities {_trained_on(widths)})")
    else:
        raise DataError(f"{path}: not found; --new-items takes a folder of "
                        "feat_<modality>.npy/.pt files (one row per new item)")
    out, rows = {}, None
    for m, file in files.items():
        x = load_matrix(file)
        if x.shape[1] != widths[m]:
            raise DataError(f"{file}: {x.shape[1]} feature columns, and the model was trained "
                            f"on {widths[m]} for modality {m} ({_trained_on(widths)})")
        if rows is not None and x.shape[0] != rows[1]:
            raise DataError(f"{file}: {x.shape[0]} rows, and {rows[0].name} has {rows[1]}: "
                            "every modality needs one row per new item, in the same order")
        rows = rows or (file, x.shape[0])
        out[m] = x
    if not rows[1]:
        raise DataError(f"{rows[0]}: no rows: no new item to score")
    return out


def read_ids(path, n: int) -> Optional[np.ndarray]:
    """``ids.txt`` (one a line) or ``ids.npy`` next to the features, when there."""
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    txt, npy = folder / "ids.txt", folder / "ids.npy"
    if txt.is_file():
        ids = [line.strip() for line in txt.read_text(encoding="utf-8").splitlines()
               if line.strip()]
        where = txt
    elif npy.is_file():
        ids, where = load_npy(npy).reshape(-1).tolist(), npy
    else:
        return None
    if len(ids) != n:
        raise DataError(f"{where}: {len(ids)} ids for {n} new items (one id per feature row)")
    if len(set(map(str, ids))) != n:
        raise DataError(f"{where}: an id appears twice")
    return np.asarray(ids)


def need_encoder(bundle: Bundle, what: str = "--new-items") -> None:
    if bundle.encoder is None:
        raise UsageError(f"{what}: model {bundle.model} reads no item features, so it "
                         f"cannot score items it never saw (feature models: "
                         f"{FEATURE_MODELS_HINT})")


def encode_new_items(bundle: Bundle, path) -> NewItems:
    """The new items in ``path`` as rows of the bundle's item table (and biases)."""
    need_encoder(bundle)
    feats = read_features(path, bundle.encoder.widths)
    n = len(next(iter(feats.values())))
    return encode_features(bundle, feats, read_ids(path, n), path)


def encode_features(bundle: Bundle, feats: Dict[str, np.ndarray], ids=None,
                    where="new items") -> NewItems:
    """Checked features (``{modality: float32 [n, width]}``, as :func:`read_features`
    returns them) and their ids (None: ``new-0``, ...) as rows of the item table; the HTTP
    endpoint's ``POST /new-items`` comes here too."""
    n = len(next(iter(feats.values())))
    if ids is None:
        ids = np.asarray([f"new-{j}" for j in range(n)])
    known = set(map(str, bundle.item_ids.values.tolist()))
    clash = [str(i) for i in ids.tolist() if str(i) in known]
    if clash:
        raise DataError(f"{where}: new item id {clash[0]!r} is already an item of the training "
                        "data: give new items ids of their own")
    with torch.no_grad():
        items, bias = bundle.encoder({m: torch.from_numpy(x) for m, x in feats.items()})
    device = bundle.reps.items.device
    return NewItems(Ids(ids, "new item"), items.float().to(device),
                    None if bias is None else bias.float().to(device))


def new_representations(bundle: Bundle, new: NewItems) -> Representations:
    return Representations(bundle.reps.users, new.items, new.item_bias)
