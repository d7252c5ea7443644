"""RecBole 1.2.1, one side of the ``recbole`` mode: its import with the NumPy/SciPy aliases it
needs (applied here, when a RecBole mode runs, never at the import of ``graphrec.bench``) and
one model timed at RecBole's defaults: training, and ``full_sort_topk`` lists."""
from __future__ import annotations

import importlib.util
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

# RecBole 1.2.1 still uses these NumPy 1 names (gone in NumPy 2)
NUMPY_ALIASES = (("float_", "float64"), ("complex_", "complex128"), ("unicode_", "str_"))


def import_recbole():
    """The ``recbole`` package, ready for RecBole 1.2.1 on today's NumPy and SciPy; None when
    it is not installed, or the import error as a string when it does not import.

    RecBole 1.2.1 still uses ``np.float_``/``np.complex_``/``np.unicode_`` (gone in NumPy 2)
    and ``dok_matrix._update`` (gone in SciPy 1.15; LightGCN builds its graph with it): the
    aliases are added only where missing, only once RecBole is found, nothing else changes."""
    if importlib.util.find_spec("recbole") is None:
        return None
    for old, new in NUMPY_ALIASES:
        if old not in np.__dict__:
            setattr(np, old, getattr(np, new))
    try:
        import recbole
        import recbole.config  # noqa: F401  (what RecboleSide uses)
        import recbole.data  # noqa: F401
        import recbole.utils  # noqa: F401
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    import scipy.sparse as sp

    if not hasattr(sp.dok_matrix, "_update"):
        sp.dok_matrix._update = lambda self, d: self._dict.update(d)
    return recbole


class RecboleSide:
    """One RecBole model on one atomic data folder at RecBole's defaults (batch 2048, one
    uniform negative): its dataset and loaders built once, a fresh model and trainer per
    :meth:`samples_per_s`. RecBole's files (tensorboard logs, checkpoints) go to a
    temporary folder."""

    def __init__(self, model: str, folder: Path, device: torch.device):
        from recbole.config import Config
        from recbole.data import create_dataset, data_preparation

        self.model, self.device = model, device
        self.tmp = tempfile.mkdtemp(prefix="graphrec-recbole-")
        argv, sys.argv = sys.argv, sys.argv[:1]  # Config reads --key=value from the command line
        try:
            self.cfg = Config(model=model, dataset=folder.name, config_dict={
                "data_path": str(folder.parent), "use_gpu": device.type == "cuda",
                "state": "WARNING", "show_progress": False, "checkpoint_dir": self.tmp,
                "train_batch_size": 2048,
                "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1}})
        finally:
            sys.argv = argv
        logging.getLogger().setLevel(logging.WARNING)  # Config's logger would print per epoch
        t = time.perf_counter()
        dataset = create_dataset(self.cfg)
        self.train_data, _, self.test_data = data_preparation(self.cfg, dataset)
        self.n_train = len(self.train_data.dataset)
        print(f"RecBole {model}: {self.n_train:,} training pairs, loaders built in "
              f"{time.perf_counter() - t:.1f} s", flush=True)

    def _fresh(self, seed: int):
        from recbole.utils import get_model, get_trainer, init_seed

        init_seed(self.cfg["seed"] + seed, self.cfg["reproducibility"])
        here = os.getcwd()
        os.chdir(self.tmp)  # the trainer opens a tensorboard writer in ./log_tensorboard
        try:
            model = get_model(self.model)(self.cfg, self.train_data.dataset).to(self.device)
            return model, get_trainer(self.cfg["MODEL_TYPE"], self.model)(self.cfg, model)
        finally:
            os.chdir(here)

    def topk_users_per_s(self, k: int, chunk: int, passes: int, seed: int = 0) -> float:
        """Users over the median of ``passes`` timed passes of RecBole's ``full_sort_topk``
        (``recbole.utils.case_study``: scores of every item, the test loader's history
        masked, ``torch.topk``) over every user, ``chunk`` users a call, the item indices
        turned into the data's own ids (``dataset.id2token``), as a user of it does. The
        model is trained one epoch first (its lists' quality is not what is timed)."""
        from recbole.utils.case_study import full_sort_topk

        model, trainer = self._fresh(seed)
        trainer._train_epoch(self.train_data, 0, show_progress=False)
        trainer.tensorboard.close()
        model.eval()
        dataset = self.test_data.dataset
        users = np.arange(1, dataset.user_num)  # 0 is RecBole's padding id
        times = []
        for _ in range(passes):
            t = time.perf_counter()
            for start in range(0, len(users), chunk):
                _, index = full_sort_topk(users[start:start + chunk], model, self.test_data,
                                          k=k, device=self.device)
                dataset.id2token(dataset.iid_field, index.cpu())
            times.append(time.perf_counter() - t)
        return len(users) / statistics.median(times)

    def samples_per_s(self, epochs: int, seed: int = 0) -> float:
        """Training pairs over the median of ``epochs`` timed ``Trainer._train_epoch`` calls
        (its sampler, forward, backward and Adam; no validation)."""
        model, trainer = self._fresh(seed)
        times = []
        for e in range(epochs):
            t = time.perf_counter()
            trainer._train_epoch(self.train_data, e, show_progress=False)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            times.append(time.perf_counter() - t)
        trainer.tensorboard.close()
        return self.n_train / statistics.median(times)

    def close(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)
