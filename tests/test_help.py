"""``python train.py --help``: a short app help that names every option there is, and no
schemas, run folders or stray config roots (issue 11.6)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import CONF, ROOT

pytestmark = pytest.mark.slow


def test_help_lists_every_option_and_nothing_else(tmp_path):
    (tmp_path / "outputs" / "2026-01-01" / "10-00-00" / ".hydra").mkdir(parents=True)
    (tmp_path / "outputs" / "2026-01-01" / "10-00-00" / ".hydra" / "config.yaml").write_text(
        "a: 1\n")
    res = subprocess.run([sys.executable, str(ROOT / "train.py"), "--help"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    text = res.stdout
    for group in CONF.iterdir():
        if group.is_dir() and group.name != "hydra":
            assert group.name in text, group.name
            for option in group.glob("*.yaml"):
                assert option.stem in text, f"{group.name}={option.stem} missing from --help"
    for sweep in (ROOT / "sweeps").glob("*.yaml"):
        assert sweep.stem in text
    assert "_schema" not in text and ".hydra" not in text and "conf/" not in text
    assert "python train.py -m" in text and "trainer.target.value" in text
