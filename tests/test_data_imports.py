"""The data package's imports: no movielens <-> splits cycle, and no graphrec.config (reading
a file must not register Hydra schemas). Each check runs in a fresh interpreter."""
import subprocess
import sys

import pytest

DATA_MODULES = ("cache", "clcrec", "download", "export_split", "features",
                "interactions", "movielens", "movielens_items", "ratings", "safe_npy",
                "split_rules", "splits", "synthetic")


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_data_package_does_not_import_config():
    imports = "; ".join(f"import graphrec.data.{m}" for m in DATA_MODULES)
    code = ("import sys, graphrec.data; a = 'graphrec.config' in sys.modules; "
            f"{imports}; print(a, 'graphrec.config' in sys.modules)")
    assert _run(code) == "False False"


@pytest.mark.parametrize("first,second", [("movielens", "splits"), ("splits", "movielens")])
def test_movielens_and_splits_import_in_either_order(first, second):
    code = (f"import graphrec.data.{first}, graphrec.data.{second}; "
            "from graphrec.data.movielens import load; "
            "from graphrec.data.splits import read_split_files; print('ok')")
    assert _run(code) == "ok"
