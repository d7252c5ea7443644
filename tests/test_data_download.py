"""The download helper against a local file:// URL (no network)."""
import hashlib
import zipfile

import pytest

from graphrec.data import DataError, load_data
from graphrec.data.download import Source, download, main
from data_fixtures import movielens_cfg


def _zip(tmp_path):
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-100k/u.data", "1\t10\t4\t100\n1\t11\t3\t101\n2\t10\t5\t102\n")
        zf.writestr("ml-100k/README", "fixture")
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def test_download_verifies_and_unpacks(tmp_path):
    archive, sha = _zip(tmp_path)
    sources = {"ml-100k": Source(archive.as_uri(), sha)}
    path = download("ml-100k", str(tmp_path / "cache"), sources)
    assert path == tmp_path / "cache" / "ml-100k" and (path / "u.data").is_file()
    assert load_data(movielens_cfg(path, tmp_path / "c")).n_users == 2
    archive.unlink()  # a second call reuses the unpacked folder
    assert download("ml-100k", str(tmp_path / "cache"), sources) == path


def test_bad_checksum_keeps_nothing(tmp_path):
    archive, _ = _zip(tmp_path)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="does not match"):
        download("ml-100k", str(cache), {"ml-100k": Source(archive.as_uri(), "0" * 64)})
    assert list(cache.rglob("*")) == [cache / "downloads"]


def test_cli(tmp_path, capsys):
    archive, sha = _zip(tmp_path)
    cache = tmp_path / "cache"
    assert main(["ml-100k", "--cache-dir", str(cache), "--url", archive.as_uri(),
                 "--sha256", sha]) == 0
    assert "data=movielens data.path=" in capsys.readouterr().out
    assert main(["ml-1m", "--cache-dir", str(cache), "--url", archive.as_uri(),
                 "--sha256", "0" * 64]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "does not match" in err
