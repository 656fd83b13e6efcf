"""The activations a transformer's kernels read and write (pass_overheads.activation_traffic)."""

from __future__ import annotations

import numpy as np
import pytest

from mlsysim import Engine, Hardware, Models, ServingModel
from mlsysim.catalog import load_catalog
from mlsysim.solvers.pass_overheads import activation_traffic
from mlsysim.solvers.roofline import activation_bytes, spill_table
from mlsysim.solvers.terms import hardware_terms, model_terms
from mlsysim.solvers.transformer import TransformerShape, activation_kernels, kernels_per_forward_pass


def test_the_kernels_are_the_ones_the_launch_term_counts():
    """Every transformer of the catalog: the activation kernels are kernels_per_forward_pass's,
    one for one, so the traffic and the launches describe the same graph."""
    checked = 0
    for record in load_catalog().records("models"):
        if not record.has("transformer"):
            continue
        shape = TransformerShape.from_record(record)
        assert sum(k.count for k in activation_kernels(shape)) == kernels_per_forward_pass(shape), record.id
        checked += 1
    assert checked > 30


def test_llama3_8b_elements_per_token_by_hand():
    """Llama 3 8B (32 layers, hidden d = 4,096, 32 query and 8 KV heads of 128, gated MLP of
    f = 14,336, vocabulary V = 128,256): per token, the element-wise kernels move
    (2L + 1) 2d (norms) + 2L 3d (residual adds) + L 2 (q + kv) (rotary) + L 3f (SiLU-and-
    multiply) + 2d (embedding lookup); the GEMMs their inputs and outputs, L (d + q + 2kv)
    + L (q + d) + L 2 (d + f) + L (f + d) + (d + V); the attention L 2q. On two
    tensor-parallel ranks the head- and MLP-wide tensors halve, the hidden state does not."""
    L, d, q, kv, f, V = 32, 4096, 4096, 1024, 14336, 128256
    kernels = activation_kernels(TransformerShape.from_record(Models.Language.Llama3_8B))

    def total(kind, tp=1.0):
        return sum(k.count * k.elements(tp) for k in kernels if k.kind == kind)

    assert total("elementwise") == (2 * L + 1) * 2 * d + 2 * L * 3 * d + L * 2 * (q + kv) + L * 3 * f + 2 * d
    assert total("gemm") == L * (d + q + 2 * kv) + L * (q + d) + L * 2 * (d + f) + L * (f + d) + (d + V)
    assert total("attention") == L * 2 * q
    assert total("elementwise", 2) == (2 * L + 1) * 2 * d + 2 * L * 3 * d + L * (q + kv) + L * 3 * f / 2 + 2 * d


def test_a_working_set_that_fits_the_cache_moves_nothing():
    """Two kernel shapes, 100 and 10 activation elements per token, the second with 1,000
    weight elements, 2 B each, in an 8 kB cache: the first stays on chip up to 40 tokens, the
    second up to 300; beyond, each moves tokens x elements x 2 B. Arrays give the same."""
    thresholds, running = spill_table([(1.0, 100.0, 0.0), (3.0, 10.0, 1000.0)], 2.0, 2.0, 8000.0)
    assert thresholds == (40.0, 300.0)
    assert activation_bytes(40.0, thresholds, running, 2.0) == 0.0
    assert activation_bytes(41.0, thresholds, running, 2.0) == 41 * 100 * 2.0
    assert activation_bytes(301.0, thresholds, running, 2.0) == 301 * (100 + 30) * 2.0
    tokens = np.array([1.0, 40.0, 41.0, 300.0, 301.0])
    assert np.array_equal(activation_bytes(tokens, thresholds, running, 2.0),
                          [activation_bytes(float(t), thresholds, running, 2.0) for t in tokens])
    # No cache: everything moves.
    assert activation_bytes(1.0, *spill_table([(1.0, 100.0, 0.0)], 2.0, 2.0, 0.0), 2.0) == 200.0


def test_without_a_cited_l2_every_activation_goes_to_memory():
    """The H200 record cites no L2: a one-token decode step moves all its kernels'
    activations, 16 bits each."""
    m = model_terms(Models.Language.Llama3_8B)
    traffic = activation_traffic(m, hardware_terms(Hardware.Cloud.H200, "fp16"))
    per_token = sum(k.count * k.elements() for k in m.activations)
    assert sum(traffic.bytes(1.0)) == pytest.approx(2.0 * per_token)


def test_a_decode_step_keeps_its_small_tensors_in_the_h100_l2():
    """The H100's 50 MB L2 holds a one-token step's norms, residual adds and attention
    queries; only the GEMMs, whose weights overflow it, move their activations."""
    m = model_terms(Models.Language.Llama3_8B)
    gemm, attention, elementwise = activation_traffic(m, hardware_terms(Hardware.Cloud.H100, "fp16")).bytes(1.0)
    assert elementwise == 0.0 and attention == 0.0 and gemm > 0.0
    assert "hardware/h100_sxm#memory.l2_cache" in ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100).lineage


def test_an_edge_soc_prefill_is_bound_by_its_activations():
    """Qwen3-8B, 2,048-token prompt. On an H100 in fp16 the GEMMs are compute-bound and the
    element-wise kernels a few percent of the pass; on a Jetson AGX Thor in NVFP4 (1,035
    TFLOP/s dense over 273 GB/s) the pass is memory-bound and the element-wise kernels alone
    take about as long as the GEMMs' compute."""
    qwen = Models.Language.Qwen3_8B
    h100 = ServingModel(qwen, Hardware.Cloud.H100, precision="fp16").prefill(2048)
    thor = ServingModel(qwen, Hardware.Edge.JetsonAGXThor, precision="fp4", weight_precision="nvfp4",
                        kv_precision="fp16").prefill(2048)
    assert h100.bottleneck == "Compute" and h100.elementwise < 0.1 * h100.time
    assert thor.bottleneck == "Memory" and thor.elementwise > 0.8 * (thor.compute - thor.attention_compute)
    assert thor.weight_gemm > thor.compute - thor.attention_compute  # its GEMMs too are bound by their traffic


def test_engine_and_serving_price_a_prefill_alike():
    for hardware in (Hardware.Cloud.H100, Hardware.Cloud.H200, Hardware.Edge.JetsonAGXThor):
        precision = "fp4" if hardware is Hardware.Edge.JetsonAGXThor else "fp16"
        p = Engine.solve(Models.Language.Qwen3_8B, hardware, batch_size=2, seq_len=1024, precision=precision)
        s = ServingModel(Models.Language.Qwen3_8B, hardware, precision=precision).prefill(1024, 2)
        assert p.si["latency"] == pytest.approx(s.time, rel=1e-12)
        assert p.si["latency_elementwise"] == pytest.approx(s.elementwise, rel=1e-12)
