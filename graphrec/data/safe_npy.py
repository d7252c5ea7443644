"""Read ``.npy`` files without running code they carry.

``np.load(..., allow_pickle=True)`` unpickles object arrays with the full pickle machinery,
so a crafted file runs any function it names. Here the header is parsed with
``numpy.lib.format`` and the payload is unpickled with an allow-list of the few globals that
CLCRec/MMGCN files need (numpy array and dtype reconstruction, and plain containers); any other
global is refused with a :class:`DataError` naming the file and the class.
"""
from __future__ import annotations

import builtins
import pickle
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from ..errors import DataError

try:  # numpy >= 2 moved the array internals; old pickles still name numpy.core
    from numpy._core import multiarray as _multiarray, numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray, numeric as _numeric


def _latin1_encode(text: str, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """What protocol-2 pickles call to rebuild ``bytes``; only that use is allowed."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", errors)


_CONTAINERS = ("set", "frozenset", "list", "dict", "tuple", "int")
ALLOWED = {
    **{(mod, name): getattr(builtins, name)
       for mod in ("builtins", "__builtin__") for name in _CONTAINERS},
    **{(mod, name): getattr(_multiarray, name)
       for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name in ("_reconstruct", "scalar")},
    **{(mod, "_frombuffer"): _numeric._frombuffer  # pickle protocol 5 arrays
       for mod in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals in :data:`ALLOWED`."""

    def __init__(self, file, source: Path):
        super().__init__(file, encoding="latin1")  # latin1: Python 2 numpy pickles
        self.source = source

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise DataError(f"{self.source}: refused to unpickle {module}.{name}: only numpy "
                            "arrays, dtypes and plain containers are allowed (the file may "
                            "be malicious)") from None


def load_npy(path: Path) -> np.ndarray:
    """The array stored in ``path``; object arrays are unpickled with :class:`SafeUnpickler`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as fh:
        try:
            version = npy_format.read_magic(fh)
            read_header = {(1, 0): npy_format.read_array_header_1_0,
                           (2, 0): npy_format.read_array_header_2_0}[version]
            shape, _, dtype = read_header(fh)
        except (ValueError, KeyError) as exc:
            raise DataError(f"{path}: not a readable .npy file ({exc})") from None
        if not dtype.hasobject:
            fh.seek(0)
            try:
                return npy_format.read_array(fh, allow_pickle=False)
            except ValueError as exc:
                raise DataError(f"{path}: truncated or corrupt .npy ({exc})") from None
        try:
            array = SafeUnpickler(fh, path).load()
        except DataError:
            raise
        except Exception as exc:  # truncated or malformed pickle stream
            raise DataError(f"{path}: cannot unpickle the object array ({exc})") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise DataError(f"{path}: the pickle does not hold the {shape} array its header "
                        "announces")
    return array


def load_matrix(path: Path) -> np.ndarray:
    """A 2-D numeric float32 array from a ``.pt`` tensor (``weights_only``) or an ``.npy``
    file (as :func:`load_npy`): the item feature files that data=clcrec and recommend's
    ``--new-items`` read. The caller checks the row count it expects."""
    path = Path(path)
    if path.suffix == ".pt":
        import torch  # only .pt files need it
        try:
            x = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # not a tensor file, or a pickle weights_only refuses
            raise DataError(f"{path}: cannot read as a tensor ({exc})") from None
        if not isinstance(x, torch.Tensor):
            raise DataError(f"{path}: expected a tensor, got {type(x).__name__}")
        x = x.detach().float().cpu().numpy()
    else:
        x = load_npy(path)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{path}: expected a float array of shape (n, width), got {x.dtype} "
                        f"{x.shape}")
    return x.astype(np.float32, copy=False)
