"""8-bit training in the training model (mlsysim/solvers/distributed.py): only the
transformer layers' weight GEMMs run in FP8; attention, the output layer and every tensor
stored or communicated stay in 16 bits, and the FP8 GEMMs take the FP8 figure cited for the
accelerator, not the 16-bit one.

Megatron-Core at d98e8a6 (megatron/core/transformer/transformer_config.py): fp8_param,
fp8_dot_product_attention and fp8_output_proj all default to False; Transformer Engine's
recipes at d0067d0 default fp8_dpa to False. Llama 3 8B (32 layers, hidden 4096) on the
1K-GPU DGX H100 cluster."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.solvers.distributed import DistributedModel, Layout, train, training_terms
from mlsysim.solvers.training_terms import tensor_precision
from tests.conftest import FROZEN_CATALOG

LAYOUT = dict(tp=2, pp=1, microbatch=1, recompute="selective", seq_len=8192, devices=64)


@pytest.fixture(scope="module")
def job():
    """Llama 3 8B and the cluster it trains on, from one catalog."""
    catalog = load_catalog(FROZEN_CATALOG)
    return catalog.get("models", "Llama3_8B"), catalog.get("clusters", "training_1k")


def terms(job, precision, efficiency=None):
    model, cluster = job
    return training_terms(model, cluster, devices=64, precision=precision, seq_len=8192, efficiency=efficiency)


def test_tensors_stay_in_16_bits_below_16_bits():
    h100 = load_catalog(FROZEN_CATALOG).get("hardware", "H100")
    assert tensor_precision(h100, "fp8") == "bf16"
    assert tensor_precision(h100, "bf16") == "bf16"
    assert tensor_precision(h100, "fp32") == "fp32"


def test_fp8_gemms_take_the_fp8_figure_and_the_rest_runs_at_16_bit_rates(job):
    """FP8 GEMMs on the H100: the median of AIConfigurator's TensorRT-LLM FP8 GEMMs at M = 4096
    (systems/data/h100_sxm/gemm/trtllm/1.3.0rc20, each row less its input's quantization timed
    alone in quantize/trtllm/1.3.0rc20, which the step prices apart), 1469.02 of the 1,978
    TFLOP/s dense FP8 peak = 74.27% (assumption gemm_efficiency_h100_fp8_median), not a 16-bit
    figure; the output layer at the same
    table's BF16 median, 763.50 of 989 TFLOP/s = 77.20% (gemm_efficiency_h100_16bit_median); attention at FlashAttention-3's BF16 75% (740 of 989 TFLOP/s, assumption
    attention_efficiency_hopper_fp16), as in a BF16 job."""
    fp8, bf16 = terms(job, "fp8"), terms(job, "bf16")
    assert fp8.peak == pytest.approx(1978e12)
    assert fp8.efficiency == pytest.approx(0.7427)
    assert fp8.rate == pytest.approx(1978e12 * 0.7427)
    assert fp8.logits_rate == pytest.approx(bf16.rate) == pytest.approx(989e12 * 0.7720)
    assert fp8.attention_rate == pytest.approx(bf16.attention_rate) == pytest.approx(989e12 * 0.75)
    assert fp8.attention_backward_rate == bf16.attention_backward_rate
    assert fp8.elem == bf16.elem == 2.0
    assert fp8.tensor_precision == "bf16"
    assert "assumptions/gemm_efficiency_h100_fp8_median#quantity" in fp8.lineage
    assert "assumptions/gemm_efficiency_h100_16bit_median#quantity" in fp8.lineage  # the output layer


def test_fp8_moves_and_holds_what_bf16_does(job):
    """Weights, gradients and activations are held, and TP and DP collectives move them, in
    16 bits either way: only the compute differs, and it is faster in FP8."""
    model, cluster = job
    fp8 = DistributedModel().solve(model, cluster, 256, "fp8", **LAYOUT)
    bf16 = DistributedModel().solve(model, cluster, 256, "bf16", **LAYOUT)
    assert fp8.memory_weights == bf16.memory_weights
    assert fp8.memory_gradients == bf16.memory_gradients
    assert fp8.memory_activations == bf16.memory_activations
    assert fp8.tp_comm_time == bf16.tp_comm_time
    assert fp8.dp_comm_time == bf16.dp_comm_time
    assert fp8.compute_time < bf16.compute_time


def test_a_given_efficiency_applies_as_given(job):
    """A number the caller chose is every compute kernel's fraction, FP8 GEMMs included."""
    fp8 = terms(job, "fp8", efficiency=0.5)
    assert fp8.efficiency == 0.5
    assert fp8.logits_rate == pytest.approx(989e12 * 0.5)


def test_fp8_training_quantizes_every_linear_input_and_output_gradient(job):
    """Transformer Engine quantizes each FP8 linear module's input before its forward GEMM and
    the gradient of its output before the backward GEMMs. NVIDIA's GEMM profiling tutorial
    (TransformerEngine docs/examples/gemm_profiling/gemm_profiling.rst, B300 SXM6 AC, FP8
    CurrentScaling): per-layer total 9.147 ms in autocast, 6.812 ms pre-quantized, over 2.4829e9
    quantized elements at 8 TB/s: 7.52 B per element (assumption
    fp8_quantization_bytes_per_element). Llama 3 8B per layer: inputs 4096 (Q/K/V) + 4096
    (output projection) + 4096 (fused up/gate) + 14336 (down), output gradients 6144 + 4096 +
    28672 + 4096, over 32 layers."""
    fp8, bf16 = terms(job, "fp8"), terms(job, "bf16")
    assert fp8.quantized_inputs == 32 * (3 * 4096 + 14336)
    assert fp8.quantized_output_grads == 32 * (6144 + 4096 + 28672 + 4096)
    assert fp8.quantization_rate == pytest.approx(3.35e12 / 7.52)
    assert "assumptions/fp8_quantization_bytes_per_element#quantity" in fp8.lineage
    assert bf16.quantization_rate == 0.0
    assert "assumptions/fp8_quantization_bytes_per_element#quantity" not in bf16.lineage

    model, cluster = job
    solved = {}
    for recompute in ("selective", "full"):
        layout = {**LAYOUT, "recompute": recompute}
        with_term = DistributedModel().solve(model, cluster, 256, "fp8", **layout)
        quiet = replace(training_terms(model, cluster, devices=64, precision="fp8", seq_len=8192), quantization_rate=0.0)
        without = train(quiet, Layout(**{k: v for k, v in layout.items() if k not in ("seq_len", "devices")}), 256)
        # One microbatch of 8192 tokens split over TP 2; per step, microbatches per pipeline.
        forwards = 2.0 if recompute == "full" else 1.0
        elements = (forwards * fp8.quantized_inputs + fp8.quantized_output_grads) * 8192 / 2
        per_microbatch = elements / fp8.quantization_rate
        assert with_term.compute_time - without.compute_time == pytest.approx(per_microbatch * with_term.microbatches)
        assert with_term.quantization_time == pytest.approx(per_microbatch * with_term.microbatches)
        assert without.quantization_time == 0.0
        solved[recompute] = per_microbatch
    assert solved["full"] > solved["selective"]


def test_the_linear_modules_of_a_mixture_of_experts_count_the_routed_experts():
    """Qwen3-30B-A3B (hidden 2048, 32 query heads and 4 KV heads of 128, 8 of 128 experts of
    width 768 per token, 48 layers): per layer the inputs are 2048 (Q/K/V) + 4096 (output
    projection) + 8 x (2048 + 768), the output gradients 5120 + 2048 + 8 x (1536 + 2048); the
    router is not an FP8 module."""
    from mlsysim.solvers.transformer import TransformerShape, linear_io_per_token

    shape = TransformerShape.from_record(load_catalog(FROZEN_CATALOG).get("models", "qwen3_30b_a3b"))
    assert linear_io_per_token(shape) == (48 * (2048 + 4096 + 8 * (2048 + 768)), 48 * (5120 + 2048 + 8 * (1536 + 2048)))
