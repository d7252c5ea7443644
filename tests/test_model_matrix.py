"""Issue 13.6: every model trains with both loaders and every CPU precision, with the
warm/cold evaluation, on the tiny synthetic data (a few steps each)."""
from __future__ import annotations

import math

import pytest

from graphrec.config import MODEL_SCHEMAS
from graphrec.training import train
from conftest import make_cfg


@pytest.mark.parametrize("precision", ["fp32", "amp"])
@pytest.mark.parametrize("loader", ["fast", "baseline"])
@pytest.mark.parametrize("model", sorted(MODEL_SCHEMAS))
def test_every_model_trains_with_every_loader_and_precision(tmp_path, model, loader, precision):
    cfg = make_cfg([f"model={model}", f"loader={loader}", f"precision={precision}",
                    "loader.num_workers=0", "trainer.max_steps=4", "trainer.epochs=1",
                    "trainer.device=cpu"])
    metrics = train(cfg, out_dir=str(tmp_path))
    assert metrics["status"] == "completed", metrics.get("error")
    assert metrics["run"]["impl"] == ("lean" if loader == "fast" else "reference")
    assert all(math.isfinite(v) for v in metrics["test"].values())
    assert "test_cold" in metrics and "test_warm" in metrics


@pytest.mark.parametrize("native,warned", [(False, True), (True, False), (None, False)])
def test_amp_on_a_cpu_without_bf16_says_so(monkeypatch, caplog, native, warned):
    """Issue 11.10: one line when bf16 autocast would be emulated, none where it is native
    (on this project's AMD EPYC with AVX512-BF16, amp ran CLCRec's step 1.87x faster)."""
    import torch

    from graphrec.training import precision

    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: native)
    with caplog.at_level("WARNING", logger="graphrec"):
        precision.Precision("amp", torch.device("cpu"))
    assert ("bf16 is emulated" in caplog.text) is warned
