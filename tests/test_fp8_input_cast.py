"""The cast of a transformer's 16-bit GEMM inputs to FP8 (`pass_overheads.input_cast`): the cited FP8
GEMM figures leave it out, so every pass at fp8 pays it, memory-bound, for the inputs the
kernels before them write in 16 bits (Q/K/V after the norm, a dense MLP's up/gate after the
second norm), as NVIDIA's AIConfigurator prices a static-FP8 model (sdk/models/gpt.py:
low_precision_input only on the attention-output and MLP-down GEMMs)."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from mlsysim import Engine, ServingModel
from mlsysim.catalog import default_catalog
from mlsysim.solvers.dse import roofline_space
from mlsysim.solvers.pass_overheads import input_cast
from mlsysim.solvers.terms import hardware_terms, model_terms

# AIConfigurator at 095f58a, systems/data/h100_sxm/quantize/trtllm/1.3.0rc20/scale_matrix_perf.parquet:
# the two middle rows, by time x 3.35 TB/s / (m x k), of the 88 casts of 64e6 elements or more.
H100_MIDDLE_ROWS = ((3328, 65536, 0.21453866958618165), (4353, 65536, 0.2806698799133301))


@pytest.fixture(scope="module")
def catalog():
    return default_catalog()


def test_the_h100_cast_figure_is_the_median_of_nvidias_large_casts(catalog):
    """scale_matrix_perf.parquet for the H100 (TensorRT-LLM 1.3.0rc20): rows
    '3328 | 65536 | fp8 | 0.21453866958618165' and '4353 | 65536 | fp8 | 0.2806698799133301'
    are the middle two of 88, at 3.2952 and 3.2959 bytes per element of the 3,350 GB/s peak;
    the median 3.296 B per element (2 read and 1 written is 3: the cast runs at 91% of peak)."""
    value = catalog.get("assumptions", "fp8_cast_bytes_per_element_h100").quantity
    per_element = [ms * 1e-3 * 3.35e12 / (m * k) for m, k, ms in H100_MIDDLE_ROWS]
    assert value.si == pytest.approx(statistics.mean(per_element), abs=5e-4)
    assert value.qualifiers["kernel"] == "fp8_cast" and value.qualifiers["hardware"] == "h100_sxm"
    for m, k, ms in H100_MIDDLE_ROWS:
        assert f"{m} | {k} | fp8 | {ms}" in value.as_stated


def test_an_fp8_pass_casts_the_qkv_and_mlp_inputs_of_every_layer(catalog):
    """Llama 3 8B (hidden 4,096, 32 dense layers) on the H100 at fp8: 4,096 x 64 elements per
    token at 3.296 B each over 3.35 TB/s, once per token of the pass; a decode step of 16
    sequences pays it for 16 tokens."""
    model, h100 = catalog.get("models", "llama3_8b"), catalog.get("hardware", "h100_sxm")
    cast = input_cast(model_terms(model), hardware_terms(h100, "fp8"))
    per_token = 4096 * 64 * catalog.get("assumptions", "fp8_cast_bytes_per_element_h100").quantity.si / 3.35e12
    assert cast.seconds == pytest.approx(per_token)
    assert "assumptions/fp8_cast_bytes_per_element_h100#quantity" in cast.lineage
    serving = ServingModel(model, h100, precision="fp8")
    assert serving.prefill(2048).quantization == pytest.approx(2048 * per_token)
    assert serving.decode_step(1024, 16).quantization == pytest.approx(16 * per_token)
    assert "assumptions/fp8_cast_bytes_per_element_h100#quantity" in serving.lineage
    # The cast is a kernel of its own: it adds to the GEMMs', the attention's and the
    # element-wise kernels' times.
    p = serving.prefill(2048)
    assert p.time == pytest.approx(p.weight_gemm + p.attention_time + p.elementwise + p.launch + p.communication
                                   + p.runtime + p.quantization)


def test_sixteen_bits_cast_nothing_and_uncited_casts_are_said(catalog):
    """At bf16 the GEMMs read what the norms wrote; at fp4 (NVFP4 on the B200) the inputs are
    cast too, but no cited cast time applies, so the result says it is not priced."""
    model = catalog.get("models", "llama3_8b")
    bf16 = ServingModel(model, catalog.get("hardware", "h100_sxm"), precision="bf16")
    assert bf16.prefill(512).quantization == 0.0 and not bf16.unpriced
    fp4 = ServingModel(model, catalog.get("hardware", "b200"), precision="fp4")
    assert fp4.prefill(512).quantization == 0.0
    assert any("16-bit GEMM inputs" in reason and "fp4" in reason for reason in fp4.unpriced)
    profile = Engine.solve(model, catalog.get("hardware", "b200"), batch_size=1, precision="fp4", seq_len=512)
    assert profile.si["latency_quantization"] == 0.0 and any("fp4" in r for r in profile.unpriced)


def test_moe_layers_cast_only_the_attention_input(catalog):
    """Qwen3-30B-A3B (48 layers, all mixture-of-experts, hidden 2,048): the routed experts cast
    their own input inside the cited grouped-GEMM figure, so each layer casts one hidden
    vector per token, for Q/K/V."""
    m = model_terms(catalog.get("models", "qwen3_30b_a3b"))
    assert m.moe_layers == m.layers == 48
    cast = input_cast(m, hardware_terms(catalog.get("hardware", "h100_sxm"), "fp8"))
    per_element = catalog.get("assumptions", "fp8_cast_bytes_per_element_h100").quantity.si
    assert cast.seconds == pytest.approx(2048 * 48 * per_element / 3.35e12)


def test_every_gpu_of_a_tensor_parallel_group_casts_the_whole_hidden_vector(catalog):
    """Tensor parallelism splits the weights, not the activations a column-parallel layer reads:
    the cast of a 4-way group's prefill takes as long as one GPU's."""
    model, node = catalog.get("models", "llama3_70b"), catalog.get("nodes", "dgx_h100")
    one = ServingModel(model, catalog.get("hardware", "h100_sxm"), precision="fp8")
    four = ServingModel(model, node, precision="fp8", tp=4)
    assert four.prefill(1024).quantization == pytest.approx(one.prefill(1024).quantization)


def test_engine_sweep_dse_and_serving_price_the_cast_alike(catalog):
    model, h100 = catalog.get("models", "llama3_8b"), catalog.get("hardware", "h100_sxm")
    profile = Engine.solve(model, h100, batch_size=4, precision="fp8", seq_len=512)
    row = Engine.sweep(model, [h100], batch_sizes=[4], precisions=["fp8"], seq_lens=[512]).rows()[0]
    _, roof = roofline_space(model, [h100], precisions=["fp8"], batch_sizes=[4], seq_lens=[512])
    dse = roof({"system": np.asarray([0]), "batch_size": np.asarray([4]), "seq_len": np.asarray([512])})
    serving = ServingModel(model, h100, precision="fp8").prefill(512, batch_size=4)
    assert profile.si["latency_quantization"] == pytest.approx(serving.quantization)
    assert row["latency_quantization"] == pytest.approx(serving.quantization)
    assert profile.si["latency"] == pytest.approx(row["latency"]) == pytest.approx(float(dse["latency"][0]))
    assert "assumptions/fp8_cast_bytes_per_element_h100#quantity" in profile.lineage


def test_eval_shows_the_casts_so_the_parts_add_up(cli):
    """`mlsysim eval` names the casts beside the kernel launches at fp8 (the JSON prefill carries
    them as quantization_s) and prints no such part at fp16."""
    import json

    r = cli("eval", "Llama3_8B", "H100", "-p", "fp8")
    assert r.code == 0, r.err
    ttft = next(line for line in r.out.splitlines() if "time to first token" in line)
    assert "casts of GEMM inputs" in ttft
    data = json.loads(cli("eval", "Llama3_8B", "H100", "-p", "fp8", "-o", "json").out)
    prefill = data["prefill"]
    assert prefill["quantization_s"] > 0
    parts = prefill["kernel_launch_s"] + prefill["quantization_s"] + max(prefill["compute_s"], prefill["memory_s"])
    assert data["ttft_s"] >= parts * (1 - 1e-12)
    assert "casts of GEMM inputs" not in cli("eval", "Llama3_8B", "H100").out
