"""The allow-list unpickler: CLCRec files load, a code-running pickle does not run."""
import os
import pickle

import numpy as np
import pytest
from numpy.lib import format as npy_format

from data_fixtures import object_rows
from graphrec.data import DataError
from graphrec.data.safe_npy import load_npy


class RunsCode:
    """Unpickling this calls os.system: what a crafted .npy can do under np.load."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _write_object_npy(path, payload, shape=(), protocol=3):
    with open(path, "wb") as fh:
        npy_format.write_array_header_1_0(
            fh, {"descr": "|O", "fortran_order": False, "shape": shape})
        pickle.dump(payload, fh, protocol=protocol)


def test_malicious_pickle_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "user_item_train_dict.npy"
    _write_object_npy(bad, RunsCode(f"touch {marker}"))
    with pytest.raises(DataError) as err:
        load_npy(bad)
    assert not marker.exists()
    assert str(bad) in str(err.value)
    assert f"{os.system.__module__}.system" in str(err.value)  # posix.system on Linux
    # The file is really dangerous: numpy's own loader, told to trust it, runs the command.
    np.load(bad, allow_pickle=True)
    assert marker.exists()


def test_refused_class_inside_an_array(tmp_path):
    path = tmp_path / "val_full.npy"
    rows = object_rows([[0, 1], [1, 2], [2]])
    rows[2] = RunsCode("true")
    _write_object_npy(path, rows, (3,))
    with pytest.raises(DataError, match="refused to unpickle"):
        load_npy(path)


def test_codecs_encode_only_for_latin1(tmp_path):
    path = tmp_path / "x.npy"
    _write_object_npy(path, _Encode("rot13"), protocol=2)
    with pytest.raises(DataError, match="cannot unpickle"):
        load_npy(path)


class _Encode:
    def __init__(self, encoding):
        self.encoding = encoding

    def __reduce__(self):
        import _codecs

        return _codecs.encode, ("abc", self.encoding)


@pytest.mark.parametrize("protocol", [2, 3, 5])
def test_clcrec_shapes_round_trip(tmp_path, protocol):
    d = {0: {10, 11}, 1: [12], np.int64(2): (13,), 3: np.arange(3)}  # protocol 2: bytes
    path = tmp_path / "dict.npy"
    _write_object_npy(path, np.array(d, dtype=object), protocol=protocol)
    back = load_npy(path).item()
    assert {k: back[k] for k in (0, 1, 2)} == {0: {10, 11}, 1: [12], 2: (13,)}
    np.testing.assert_array_equal(back[3], np.arange(3))
    np.save(tmp_path / "rows.npy", object_rows([[0, 5, 6], [1], [2, 7]]))
    assert load_npy(tmp_path / "rows.npy").tolist() == [[0, 5, 6], [1], [2, 7]]
    ints = np.arange(6, dtype=np.int32).reshape(3, 2)
    np.save(tmp_path / "ints.npy", ints)
    np.testing.assert_array_equal(load_npy(tmp_path / "ints.npy"), ints)


def test_not_an_npy(tmp_path):
    path = tmp_path / "train.npy"
    path.write_bytes(b"user,item\n1,2\n")
    with pytest.raises(DataError, match="train.npy: not a readable .npy"):
        load_npy(path)
