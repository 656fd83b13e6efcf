"""Cited constants for the physics terms of issue 11 (serving iteration overhead, framework
per-op overhead, NCCL bus efficiency, GEMM and convolution kernel efficiency, T4 clocks,
the Edge TPU parameter cache): each record holds the number its source states, in SI, and
its as_stated text carries that number, so a typo in the YAML or a changed value fails here.

Each test's docstring names the published figure it pins.
"""

from __future__ import annotations

import re

import pytest

from mlsysim.catalog import load_catalog
from tests.conftest import REAL_CATALOG

_catalog = load_catalog(REAL_CATALOG)


def _quantity(ident):
    return _catalog.get("assumptions", ident).quantity


def _numbers(text):
    return {float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\.?\d*", text)}


def test_vllm_iteration_overhead_is_the_4ms_decode_bubble():
    """vLLM RFC #6854 (Multi-Step Scheduling): "Each highlighted redbox is about 4ms of GPU
    bubble", paid on every decode step of the single-step engine."""
    q = _quantity("serving_iteration_overhead_vllm")
    assert q.si == pytest.approx(4e-3, rel=1e-12)
    assert "4ms" in q.as_stated
    assert q.source_id == "vllm-rfc-multi-step-scheduling"
    assert _catalog.sources[q.source_id]["url"] == "https://github.com/vllm-project/vllm/issues/6854"
    assert q.qualifiers["engine"] == "vLLM"


def test_vllm_request_overhead_is_20ms_at_batch_200_less_the_fixed_bubble():
    """vLLM RFC #6801 (Performance Roadmap), comment by mpjlu of 2024-08-08: "When BS is 200,
    all this together can be 20ms" (sampling, input preparation, output processing and
    scheduling between two steps); less RFC #6854's ~4 ms fixed bubble, over 200 requests."""
    q = _quantity("serving_request_overhead_vllm")
    fixed = _quantity("serving_iteration_overhead_vllm").si
    assert q.si == pytest.approx((20e-3 - fixed) / 200, rel=1e-12)
    assert "When BS is 200, all this together can be 20ms" in q.as_stated
    assert q.source_id == "vllm-rfc-performance-roadmap"
    assert _catalog.sources[q.source_id]["url"] == "https://github.com/vllm-project/vllm/issues/6801"


def test_pytorch_eager_op_overhead_is_the_inverse_of_280k_ops_per_second():
    """Horace He, "Making Deep Learning Go Brrrr From First Principles", section Overhead:
    "we can only get 280 thousand operations per second" with PyTorch, i.e. 3.57 us per op."""
    q = _quantity("framework_op_overhead_pytorch_eager")
    assert q.si == pytest.approx(1 / 280e3, rel=1e-3)
    assert "280 thousand operations per second" in q.as_stated
    # Per op it is the whole host cost, of the order of one CUDA launch, not a millisecond.
    launch = _quantity("kernel_launch_overhead").si
    assert launch <= q.si < 10 * launch


def test_eager_cnn_host_dispatch_is_torchbench_resnet50_time_per_operator():
    """pytorch/benchmark#668, ResNet-50 eval in eager mode on a V100: "CPU Dispatch Time:
    13.305 milliseconds", over the 174 operators of torchvision's ResNet-50 graph."""
    q = _quantity("host_dispatch_pytorch_eager_cnn")
    operators = _catalog.get("models", "resnet50").kernels_per_inference.si
    assert operators == 174
    assert q.si == pytest.approx(13.305e-3 / operators, rel=1e-3)
    assert 13.305 in _numbers(q.as_stated)
    assert _catalog.sources[q.source_id]["url"] == "https://github.com/pytorch/benchmark/pull/668"
    # A module call with cuDNN work costs the host far more than a bare tiny-tensor op.
    assert q.si > 10 * _quantity("framework_op_overhead_pytorch_eager").si


@pytest.mark.parametrize(("ident", "busbw", "line_rate", "fraction"), [
    # NVIDIA/nccl-tests#149 (sjeaugey): 12 NVLinks x 25 GB/s, "~230GB/s" on A100.
    ("nccl_allreduce_bus_efficiency_nvlink", 230, 12 * 25, 0.7667),
    # NVIDIA/nccl-tests#212 (sjeaugey): "450GB/s is the line rate", ring busBw 370 GB/s on H100.
    ("nccl_allreduce_bus_efficiency_nvlink_h100", 370, 450, 0.8222),
    # NVIDIA/nccl#1576 quoting #812 (AddyLaddy): DGX A100, 8x 200 Gbit/s IB, "192GB/s AllReduce BusBW".
    ("nccl_allreduce_bus_efficiency_infiniband", 192, 8 * 200 / 8, 0.96),
])
def test_nccl_bus_efficiency_is_measured_busbw_over_line_rate(ident, busbw, line_rate, fraction):
    """NCCL developers' all-reduce busbw figures over the per-direction line rate they quote."""
    q = _quantity(ident)
    assert q.si == pytest.approx(fraction, abs=1e-4)
    assert q.si == pytest.approx(busbw / line_rate, abs=1e-4)
    assert busbw in _numbers(q.as_stated)
    assert q.qualifiers["library"] == "NCCL" and q.qualifiers["collective"] == "all_reduce"


def test_nvlink_fractions_rise_from_ampere_to_hopper_and_stay_below_infiniband():
    """NVLink loses ~20% to 128-byte payloads (nccl-tests#149, #212); InfiniBand ring
    all-reduce reaches ~96% of the NIC rate (nccl#1576, nccl-tests#267 "48-49GB/s per NIC")."""
    a100 = _quantity("nccl_allreduce_bus_efficiency_nvlink").si
    h100 = _quantity("nccl_allreduce_bus_efficiency_nvlink_h100").si
    ib = _quantity("nccl_allreduce_bus_efficiency_infiniband").si
    assert a100 < h100 < ib < 1


@pytest.mark.parametrize(("ident", "mamf_tflops", "peak_tflops", "efficiency", "shape"), [
    ("gemm_efficiency_a100_16bit_by_shape", 271.2, 312, 86.9, "1024x10240x5120"),
    ("gemm_efficiency_h100_16bit", 794.5, 989, 80.3, "2048x2048x13312"),
    ("gemm_efficiency_mi300x_16bit", 668.4, 1300, 51.4, "10240x15360x8192"),
    ("gemm_efficiency_h100_fp8", 1402.6, 1979, 70.9, "1024x9216x14336"),
    ("gemm_efficiency_h200_fp8", 1453.4, 1979, 73.4, "1280x4096x12032"),
])
def test_gemm_efficiency_is_the_mamf_row(ident, mamf_tflops, peak_tflops, efficiency, shape):
    """Stas Bekman, ml-engineering 'Maximum Achievable Matmul FLOPS comparison table'
    (commit 744d01e): MAMF / theoretical dense peak, with the best shape MxNxK."""
    q = _quantity(ident)
    assert q.si == pytest.approx(efficiency / 100, rel=1e-12)
    assert q.si == pytest.approx(mamf_tflops / peak_tflops, abs=6e-4)
    assert {mamf_tflops, peak_tflops} <= _numbers(q.as_stated)
    assert f"{efficiency}%" in q.as_stated and shape in q.as_stated
    assert q.qualifiers["shape_mnk"] == shape
    # The kernel-level best shape may exceed a measured end-to-end MFU, never the peak.
    assert q.si < 1


def test_conv_efficiency_is_resnet50_conv_flops_over_conv_time_at_batch_64():
    """Paddle float16 benchmark (V100, cuDNN 7.1.1): ResNet-50 convolutions take 15.3 ms per
    batch of 64 in float16; at 4.09 GMAC per image that is 34.2 TFLOP/s, 27.4% of 125 TFLOP/s."""
    q = _quantity("conv_efficiency_cudnn_fp16")
    flops = _catalog.get("models", "resnet50").field("flops_per_inference").si  # 2 FLOP per MAC
    peak = _catalog.get("hardware", "v100").field("compute.fp16").si
    assert 15.3 in _numbers(q.as_stated)
    assert q.si == pytest.approx(64 * flops / 15.3e-3 / peak, rel=2e-3)


def test_t4_clocks_bracket_the_observed_sustained_clock():
    """T4 base 585 MHz and boost 1590 MHz (GPU database, secondary); one T4 under MLPerf
    BERT load "dropping down to ~900 MHz" (mlcommons/inference_results_v0.5#20)."""
    base = _quantity("t4_base_clock").si
    boost = _quantity("t4_boost_clock").si
    observed = _quantity("t4_sustained_clock_observed").si
    assert (base, observed, boost) == pytest.approx((585e6, 900e6, 1590e6), rel=1e-12)
    assert base < observed < boost
    # The T4's 65 TFLOP/s FP16 peak is the boost clock's: 320 Tensor Cores x 64 FMA x 2 FLOP.
    tensor_cores, fma_per_clock, flops_per_fma = 320, 64, 2
    peak = _catalog.get("hardware", "t4").field("compute.fp16").si
    assert tensor_cores * fma_per_clock * flops_per_fma * boost == pytest.approx(peak, rel=0.01)


def test_edgetpu_cache_is_about_8_megabytes():
    """Coral, 'Pipeline a model with multiple Edge TPUs': "fits in the Edge TPU cache (~8 MB)"."""
    q = _quantity("edgetpu_parameter_cache_capacity")
    assert q.si == pytest.approx(8e6, rel=1e-12)  # bytes
    assert "~8 MB" in q.as_stated


def test_trtllm_iteration_overhead_is_the_exposed_580us():
    """NVIDIA/TensorRT-LLM#13957: the overlap-scheduler PyExecutor "exposes ~580 µs/iter of
    host overhead as GPU idle" (Llama-3.1-8B FP8, B200, concurrency 64)."""
    q = _quantity("serving_iteration_overhead_trtllm")
    assert q.si == pytest.approx(580e-6, rel=1e-12)
    assert "580 µs/iter" in q.as_stated
    assert q.qualifiers["engine"] == "TensorRT-LLM"
    # An overlapped engine leaves far less exposed than vLLM's synchronous 0.5.x loop did.
    assert q.si < _quantity("serving_iteration_overhead_vllm").si / 5
