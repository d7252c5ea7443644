"""A run folder back as a model: its config (``.hydra/config.yaml``), its data rebuilt as
training built it, its best checkpoint loaded; and from those, a :class:`~.bundle.Bundle`.

This module reads the training data and imports the config schemas (Hydra's ConfigStore);
a bundle (:mod:`.bundle`) needs neither."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

import graphrec

from ..errors import CheckpointError, DataError
from .bundle import Bundle
from .ids import Ids

log = logging.getLogger(__name__)

CONFIG = Path(".hydra") / "config.yaml"
CHECKPOINT = "best.pt"


def load_config(run_dir: Path, data_path: Optional[str] = None) -> DictConfig:
    """The run's config, each group merged over its schema (a key the run predates takes
    today's default, as training would read it); ``data_path`` replaces ``data.path``."""
    from ..config import MODEL_SCHEMAS, ClcrecData, MovielensData, SyntheticData

    file = run_dir / CONFIG
    if not file.is_file():
        raise DataError(f"{run_dir}: no {CONFIG} (the config train.py writes in its run folder) "
                        "and no bundle.json (python -m graphrec.export writes one): pass a run "
                        "folder or a bundle")
    try:
        cfg = OmegaConf.load(file)
    except (OSError, OmegaConfBaseException, ValueError) as exc:
        raise DataError(f"{file}: cannot read the run's config ({exc})") from None
    schemas = {"synthetic": SyntheticData, "clcrec": ClcrecData, "movielens": MovielensData}
    for group, schema in [("data", schemas.get(OmegaConf.select(cfg, "data.kind"))),
                          ("model", MODEL_SCHEMAS.get(OmegaConf.select(cfg, "model.name")))]:
        if schema is None:
            raise DataError(f"{file}: {group} is not one graphrec knows "
                            f"({OmegaConf.select(cfg, group)})")
        try:
            cfg[group] = OmegaConf.merge(OmegaConf.structured(schema), cfg[group])
        except OmegaConfBaseException:  # a key since removed: read the run's own as they are
            log.warning("%s: %s keys differ from today's schema; reading them as written",
                        file, group)
    if data_path is not None:
        cfg.data.path = str(data_path)
    return cfg


def rebuild(run_dir, device="cpu", data_path: Optional[str] = None):
    """(config, data, model) of a run: the data loaded as training loaded it, the model built
    from the config and given the best checkpoint's weights, in eval mode on ``device``."""
    from ..data import load_data
    from ..models import build_model
    from ..training import checkpoint
    from ..training.advice import data_config

    run_dir = Path(run_dir)
    cfg = load_config(run_dir, data_path)
    ckpt = run_dir / CHECKPOINT
    if not ckpt.is_file():
        raise CheckpointError(f"{ckpt}: not found; a run leaves it once it has validated "
                              "(an interrupted run that never did has none)")
    try:
        data = load_data(data_config(cfg))
    except DataError as exc:  # most often: run from elsewhere, or the data moved
        raise DataError(f"{exc} (rebuilding {run_dir} from its data.path="
                        f"{cfg.data.get('path', '')!r}, relative to the current folder: run "
                        "from where training ran, pass --data PATH, or use a bundle)") from None
    device = torch.device(device)
    model = build_model(cfg.model, data, "reference").to(device)
    state = checkpoint.load(ckpt, device)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{ckpt}: does not fit the model its config builds ({first}); "
                              "was the data changed since training?") from None
    return cfg, data, model.eval()


def source_ids(dcfg, data) -> Tuple[np.ndarray, np.ndarray]:
    """The data files' own ids of graphrec's users and items 0.. (CLCRec files number items
    after the users; synthetic data has no ids but its indices)."""
    if dcfg.kind == "movielens":
        from ..data.movielens import source_ids as movielens_ids

        users, items = movielens_ids(dcfg)
        return np.asarray(users), np.asarray(items)
    if dcfg.kind == "clcrec":
        return np.arange(data.n_users), data.n_users + np.arange(data.n_items)
    return np.arange(data.n_users), np.arange(data.n_items)


def titles(dcfg, item_ids: np.ndarray) -> Optional[np.ndarray]:
    """Item titles from a MovieLens or RecBole catalogue next to the ratings, when there."""
    if dcfg.kind != "movielens":
        return None
    from ..data.movielens import split_item_file
    from ..data.movielens_items import find_item_file, item_titles
    from ..data.ratings import find_ratings
    from ..data.splits import find_split_files

    path = Path(dcfg.path).expanduser()
    if dcfg.split == "files":
        files, fmt = find_split_files(path)
        item_file, fmt = split_item_file(files, fmt), "recbole"
    else:
        file, fmt = find_ratings(path)
        item_file = find_item_file(file, fmt)
    if item_file is None:
        return None
    return item_titles(item_file, fmt, pd.Index(item_ids))


def bundle_from_run(run_dir, device="cpu", data_path: Optional[str] = None) -> Bundle:
    """A run folder as a bundle in memory: what ``graphrec.export`` writes."""
    from ..reporting.run_record import RunRecord
    from ..models.registry import SPECS

    run_dir = Path(run_dir)
    cfg, data, model = rebuild(run_dir, device, data_path)
    with torch.no_grad():
        try:
            reps = model.representations()
        except NotImplementedError:
            raise DataError(f"{run_dir}: model {cfg.model.name} gives no final user and item "
                            "vectors (Recommender.representations), so it cannot be served") \
                from None
        reps = type(reps)(*(None if t is None else t.detach().float()
                            for t in (reps.users, reps.items, reps.item_bias)))
        encoder = model.item_encoder()
    if encoder is not None:
        encoder = encoder.to(device).eval()
    users, items = source_ids(cfg.data, data)
    try:
        metrics = RunRecord.load(run_dir).to_json()
    except (OSError, ValueError):
        metrics = None  # a run that never finished: served, its card says no metrics
    card = {
        "model": cfg.model.name,
        "reads_features": SPECS[cfg.model.name].features,
        "score": "users @ items.T" + (" + item_bias" if reps.item_bias is not None else ""),
        "dim": int(reps.users.shape[1]),
        "n_users": data.n_users, "n_items": data.n_items,
        "n_warm": data.n_warm, "n_cold": data.n_cold,
        "known": "each user's training items",
        "modalities": dict(encoder.widths) if encoder is not None else {},
        "data": {"kind": cfg.data.kind, "name": data.name, **data.summary()},
        "source": {"run_dir": str(run_dir.resolve()), "checkpoint": CHECKPOINT},
        "graphrec_version": graphrec.__version__, "torch_version": torch.__version__,
        "config": OmegaConf.to_container(cfg, resolve=False),
        "metrics": metrics,
    }
    return Bundle(reps=reps, user_ids=Ids(users, "user"), item_ids=Ids(items, "item"),
                  warm=np.asarray(data.warm_mask, dtype=bool),
                  known=(data.train_indptr, data.train_indices), card=card, encoder=encoder,
                  titles=titles(cfg.data, items))
