"""Plausibility guards: every inference result is checked against physical bounds, and a
violated bound is a warning on the result, never silence."""

from __future__ import annotations

import json

import pytest

from mlsysim import Engine, Hardware, Models, ServingModel
from mlsysim.catalog import default_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.plausibility import bound_warnings, on_chip_memory
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT


def test_bound_warnings_names_each_violated_bound() -> None:
    """1 TFLOP in 1 ms is 1 PFLOP/s: above a 0.5 PFLOP/s peak. 3 GB in 1 ms is 3 TB/s: above
    2 TB/s. A 16 GB weight read at 2 TB/s takes 8 ms: a 1 ms decode step is too fast."""
    assert bound_warnings(1e12, 1e9, 1e-3, 2e15, 2e12) == []
    out = bound_warnings(1e12, 3e9, 1e-3, 0.5e15, 2e12, weight_bytes=16e9, what="step")
    assert len(out) == 3
    assert "above the device's peak" in out[0] and "above the memory bandwidth" in out[1]
    assert "less than one read of the 16 GB of weights" in out[2]
    assert bound_warnings(1.0, 1.0, 0.0, 1.0, 1.0) != []


def test_on_chip_memory_reads_the_qualifier() -> None:
    assert on_chip_memory(Hardware.Cloud.Cerebras_CS3)
    assert not on_chip_memory(Hardware.Cloud.H100)


def test_wafer_scale_serving_is_refused_not_absurd() -> None:
    """Llama-3-8B on a CS-3 used to print an ITL of 0.0008 ms (44 GB SRAM at 21 PB/s treated
    like HBM); it is now refused as not expressible."""
    with pytest.raises(MlsysimError, match="not expressible.*on-chip SRAM"):
        ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.Cerebras_CS3)


def test_encoder_has_no_serving_and_is_one_forward_pass(cli) -> None:
    with pytest.raises(MlsysimError, match="encoder: one forward pass"):
        ServingModel(Models.Language.BERT_Base, Hardware.Cloud.T4)
    r = cli("eval", "BERT_Base", "T4", "-o", "json", "--catalog", str(default_catalog().root))
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["seq_len"] == 512 and "ttft_s" not in data and "itl_s" not in data and "warnings" in data


def _physical_violations(flops: float, moved: float, seconds: float, peak: float, bandwidth: float,
                         weights: float = 0.0) -> bool:
    """The bounds, recomputed here independently of the solver."""
    return (flops / seconds > peak * 1.000001 or moved / seconds > bandwidth * 1.000001
            or (weights > 0 and seconds < weights / bandwidth * 0.999999))


def test_every_model_on_every_accelerator_is_plausible_or_warned() -> None:
    """Every model x accelerator of the bundled catalog, as `mlsysim eval` runs it (serving
    for decoder transformers, one pass otherwise): results that break a physical bound
    without a warning must number 0; refusals (no peak at the precision, no memory figure,
    not expressible) are fine."""
    cat = default_catalog()
    unwarned, checked = [], 0
    for model in cat.records("models"):
        serving = model.has("transformer") and model.get("transformer.encoder_decoder", "decoder") != "encoder"
        for hw in cat.records("hardware"):
            try:
                if serving:
                    s = ServingModel(model, hw, precision="fp16")
                    r = s.solve(256, 16, 1)
                    decode = s.decode_step(256, 1)
                    weights = s.m.read_params_dense * BYTES_PER_ELEMENT["fp16"]
                    bad = (_physical_violations(r.prefill.flops, r.prefill.bytes_moved, r.ttft, s.h.peak, s.h.bandwidth)
                           or _physical_violations(decode.flops, decode.bytes_moved, r.itl_first, s.h.peak, s.h.bandwidth, weights))
                    warned = r.warnings
                else:
                    seq = min(512, int(model.transformer.context_length.si)) if model.has("transformer") else None
                    p = Engine.solve(model, hw, precision="fp16", seq_len=seq)
                    si = p.si
                    h = p._terms.hardware
                    bad = _physical_violations(si["flops"], si["bytes_moved"], si["latency"], h.peak, h.bandwidth)
                    warned = p.warnings
            except MlsysimError:
                continue
            checked += 1
            if bad and not warned:
                unwarned.append(f"{model.id} on {hw.id}")
    assert checked > 100
    assert unwarned == []

