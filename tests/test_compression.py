"""Tests for mlsysim/solvers/compression.py."""

from __future__ import annotations

import pytest

from mlsysim import Engine, Hardware, Models
from mlsysim.errors import MlsysimError
from mlsysim.solvers.compression import (
    CompressionModel,
    bitmask_sparse_bytes,
    nm_sparse_bytes,
    quantized_bytes,
    roofline_pass_time,
)



def test_storage_formulas():
    """Hand-derived storage: 8e9 weights at 4 bits = 4 GB; 2:4 at 16 bits keeps half the values
    plus a log2(4) = 2-bit position index each (Mishra et al. 2021, arXiv 2104.08378: two of
    every four values kept, with metadata naming their positions): 0.5 x 18 = 9 bits per weight,
    a 16/9 = 1.78x compression; a 50% bitmask-stored matrix costs 0.5 x 16 + 1 = 9 bits too."""
    assert quantized_bytes(8e9, 4) == pytest.approx(4e9)
    assert nm_sparse_bytes(8e9, 2, 4, 16) == pytest.approx(8e9 * 9 / 8)
    assert bitmask_sparse_bytes(8e9, 0.5, 16) == pytest.approx(8e9 * 9 / 8)
    assert roofline_pass_time(1e12, 1e15, 0.0, 1.0, 2e9, 1e12, 1.0, 1.0, 0.5) == pytest.approx(2e-3 + 0.5)  # max(1 ms, 2 ms) + overhead


def test_weight_only_int4_decode_speedup_is_the_memory_ratio():
    """Batch-1 decode of Llama 3.1 8B on an H100 is memory-bound; with 4-bit weights the pass
    reads a quarter of the weight bytes, so (hand-derived) speedup = (B16 / (W e) + t_ovh) /
    (B4 / (W e) + t_ovh), with B the bytes each pass moves; the launch overhead keeps it under 4."""
    base = Engine.solve(model=Models.Language.Llama3_1_8B, hardware=Hardware.Cloud.H100, batch_size=1)
    r = CompressionModel().solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, weight_bits=4)
    ovh = base.si["latency_overhead"]
    t16 = base.si["latency_memory"] + ovh
    assert r.latency_baseline == pytest.approx(t16, rel=1e-9)
    assert r.compression_ratio == pytest.approx(4.0)
    assert r.bottleneck == "Memory" and r.compute_precision == "fp16"
    assert 1.0 < r.speedup < 4.0
    assert r.accuracy.recovery == pytest.approx(0.989)


def test_cited_accuracy_results():
    """Published accuracy recovery on the OpenLLM v1 tasks (the quantizer's model cards):
    Llama 3.1 8B Instruct W8A8 100.3% and W4A16 98.9% (Neural Magic,
    Meta-Llama-3.1-8B-Instruct-quantized.w8a8 / .w4a16); Llama 3.1 8B 2:4 sparse 98.37%
    (Neural Magic, Sparse-Llama-3.1-8B-2of4: 62.16 vs 63.19)."""
    m = CompressionModel()
    w8a8 = m.solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, weight_bits=8, activation_bits=8)
    assert w8a8.accuracy.recovery == pytest.approx(1.003, rel=1e-9)
    assert w8a8.compute_precision == "int8"
    sparse = m.solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, pruning="2:4")
    assert sparse.accuracy.recovery == pytest.approx(0.9837, rel=1e-9)
    assert sparse.accuracy.delta == pytest.approx(62.16 / 63.19 - 1, abs=2e-4)
    assert sparse.accuracy.reference == "compression_accuracy_llama3_1_8b_2of4"
    assert "assumptions/compression_accuracy_llama3_1_8b_2of4#quantity" in sparse.lineage
    assert sparse.to_dict()["accuracy"]["recovery"] == pytest.approx(0.9837)


def test_uncited_accuracy_is_unknown():
    """3-bit weights of Llama 3.1 8B: no cited result, so no number, and a reason."""
    r = CompressionModel().solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, weight_bits=3)
    assert r.accuracy.recovery is None and r.accuracy.delta is None
    assert r.accuracy.reason.startswith("unknown")
    other = CompressionModel().solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, weight_bits=8, activation_bits=8)
    assert other.accuracy.recovery is None  # a cited result for Llama 3.1 does not stand for Llama 3


def test_two_four_uses_the_sparse_peak_when_compute_bound():
    """A 64 x 512-token prefill is compute-bound: the weight matmuls run at the H100's cited
    sparse FP16 peak (1979 TFLOP/s, twice the dense 989.4), so the speedup approaches but does
    not exceed 2: attention and the element-wise kernels' activation traffic (32,768 tokens'
    norms, residual adds and MLP activations, well past the L2) are not sparse. A T4 in the
    catalog has no sparse peak: speedup 1."""
    r = CompressionModel().solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, pruning="2:4", batch_size=64, seq_len=512)
    assert r.sparse_peak_used and r.bottleneck == "Compute"
    assert 1.75 < r.speedup <= 2.0 + 1e-9
    assert "hardware/h100_sxm#compute_sparse.fp16" in r.lineage


def test_unstructured_sparsity_gives_no_compute_speedup():
    """Unstructured zeros are still multiplied on dense hardware: stored dense, nothing changes;
    stored as values + bitmask, a memory-bound pass reads 9/16 of the weight bytes."""
    dense = CompressionModel().solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, pruning="unstructured", sparsity=0.5)
    assert dense.speedup == pytest.approx(1.0) and dense.compression_ratio == pytest.approx(1.0)
    stored = CompressionModel().solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, pruning="unstructured", sparsity=0.5, stored_sparse=True)
    assert stored.compression_ratio == pytest.approx(16 / 9)
    prefill = CompressionModel().solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, pruning="unstructured", sparsity=0.5,
                                       stored_sparse=True, batch_size=64, seq_len=512)
    assert prefill.speedup == pytest.approx(1.0, rel=1e-6)


def test_structured_pruning_shrinks_size_and_work():
    r = CompressionModel().solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, pruning="structured", sparsity=0.25)
    assert r.compression_ratio == pytest.approx(4 / 3)
    assert r.params_kept == pytest.approx(0.75 * r.size_baseline / 2)
    assert r.speedup > 1.0


@pytest.mark.parametrize("kwargs, match", [
    ({"weight_bits": 0}, r"weight_bits must be a whole number of bits in \[1, 32\]"),
    ({"activation_bits": 6}, "no integer matmul precision follows"),
    ({"pruning": "random"}, "pruning must be one of none, structured, 2:4, unstructured"),
    ({"pruning": "structured"}, r"sparsity must be a fraction of weights removed in \[0, 1\)"),
    ({"pruning": "structured", "sparsity": 1.0}, r"in \[0, 1\)"),
    ({"pruning": "2:4", "sparsity": 0.7}, "sparsity must be 0.5 or omitted"),
    ({"sparsity": 0.3}, "needs pruning="),
    ({"pruning": "2:4", "stored_sparse": True}, "stored_sparse applies to pruning='unstructured' only"),
    ({"weight_bits": 4, "activation_bits": 4}, "no dense int4 peak"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(MlsysimError, match=match):
        CompressionModel().solve(Models.Language.Llama3_1_8B, Hardware.Cloud.H100, **kwargs)
