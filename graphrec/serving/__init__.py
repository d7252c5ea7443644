"""Using a trained model: top-K lists, new items from their features, and bundles that need
no training data (docs/serving.md). ``Bundle.load`` imports neither Hydra nor the data
loaders; a run folder is read through :mod:`.run_folder`, imported only when one is given."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..errors import UsageError
from .bundle import FORMAT_VERSION, Bundle, is_bundle


def open_source(path, device="cpu", data_path: Optional[str] = None) -> Bundle:
    """A bundle (a folder with ``bundle.json``) or a run folder (``.hydra/config.yaml`` and
    ``best.pt``: the data and model rebuilt as training built them), as a :class:`Bundle`."""
    path = Path(path)
    if is_bundle(path):
        if data_path is not None:
            raise UsageError(f"--data: {path} is a bundle, which needs no training data "
                             "(--data is for a run folder)")
        return Bundle.load(path, device)
    if not path.is_dir():
        raise UsageError(f"{path}: no such folder (pass a run folder or a bundle)")
    from .run_folder import bundle_from_run

    return bundle_from_run(path, device, data_path)


__all__ = ["Bundle", "FORMAT_VERSION", "is_bundle", "open_source"]
