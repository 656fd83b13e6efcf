"""Per-hardware, per-precision kernel efficiencies, FP8 wave quantization, the cited
token-rate plausibility bound and the MLPerf-style search for the highest arrival rate under
latency limits (mlsysim/solvers/serving.py, kernel_efficiency.py, roofline.py, plausibility.py).

Runs on the frozen catalog snapshot (tests/fixtures/frozen_catalog.json), as the other
solver test modules do through tests/conftest.py SOLVER_TESTS."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mlsysim import Engine, ServingModel
from mlsysim.errors import MlsysimError
from mlsysim.solvers.dse import roofline_space
from mlsysim.solvers.gemm_waves import wave_quantization
from mlsysim.solvers.kernel_efficiency import expert_gemm_value, kernel_efficiencies, routed_gemm_share
from mlsysim.solvers.plausibility import token_rate_warnings
from mlsysim.solvers.roofline import gemm_flops, kernel_compute_time
from mlsysim.solvers.serving import mm1_wait_quantile
from mlsysim.solvers.terms import hardware_terms, model_terms


FROZEN_CATALOG = Path(__file__).resolve().parent / "fixtures" / "frozen_catalog.json"


@pytest.fixture(autouse=True)
def _frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSYSIM_CATALOG", str(FROZEN_CATALOG))


def _catalog():
    from mlsysim.catalog import default_catalog

    return default_catalog()


def test_fp8_on_hopper_uses_the_measured_gemm_median_and_the_deepgemm_bandwidth() -> None:
    """AIConfigurator's TensorRT-LLM 1.3.0rc20 GEMM table for the H100 SXM (ai-dynamo/aiconfigurator
    at 095f58a, systems/data/h100_sxm/gemm/trtllm/1.3.0rc20/gemm_perf.parquet, the 183 fp8 rows
    with m 4096 and n x k >= 16e6), each row less the same version's compute_scale and
    scale_matrix times at its m and k (systems/data/h100_sxm/quantize/trtllm/1.3.0rc20): median
    row 4096 x 6144 x 8192 in 0.37296001116434735 - 0.05776213010152181 - 0.03452266852060954 ms
    = 1,469.02 TFLOP/s of 1978 = 74.27% (57.44% as timed, quantization included).
    DeepGEMM README (deepseek-ai/DeepGEMM at a6d97a1, 'Normal GEMMs for dense models', H800):
    the six M = 64 rows move 1688-2668 GB/s, median 2387.5 of 3.35 TB/s = 71.27%.
    FlashAttention-3 (arXiv 2407.08608, abstract): FP8 'close to 1.2 PFLOPs/s' = 60.67% of 1978."""
    h = hardware_terms(_catalog().get("hardware", "h100_sxm"), "fp8")
    e = kernel_efficiencies(h)
    gemm_alone = (0.37296001116434735 - 0.05776213010152181 - 0.03452266852060954) * 1e-3
    assert e.gemm == pytest.approx(2 * 4096 * 6144 * 8192 / gemm_alone / 1978e12, rel=1e-3)
    assert e.memory == pytest.approx(2387.5 / 3350, rel=1e-3)
    assert e.attention == pytest.approx(1200 / 1978, rel=1e-3)
    assert e.gemm_specific and e.attention_specific and e.memory_specific
    assert "assumptions/gemm_efficiency_h100_fp8_median#quantity" in e.lineage
    assert "assumptions/prefill_compute_efficiency#quantity" not in e.lineage


def test_16bit_on_a100_uses_the_flashattention2_figures_and_the_generic_memory_efficiency() -> None:
    """FlashAttention-2 (arXiv 2307.08691): optimised GEMM 'up to 80-90%' (lower end 80%);
    attention '50-73%' on A100 (lower end 50%). No memory record is scoped to the A100 at
    fp16, so the generic decode_memory_bandwidth_efficiency (88%) applies."""
    h = hardware_terms(_catalog().get("hardware", "a100_sxm_80gb"), "fp16")
    e = kernel_efficiencies(h)
    assert (e.gemm, e.attention, e.memory) == pytest.approx((0.80, 0.50, 0.88))
    assert not e.memory_specific


def test_unscoped_hardware_falls_back_to_the_generic_figures() -> None:
    """No kernel record names the T4: both compute classes use prefill_compute_efficiency
    (76%, Pope et al. 2022) and memory decode_memory_bandwidth_efficiency (88%)."""
    h = hardware_terms(_catalog().get("hardware", "t4"), "fp16")
    e = kernel_efficiencies(h)
    assert (e.gemm, e.attention, e.memory) == pytest.approx((0.76, 0.76, 0.88))
    assert not (e.gemm_specific or e.attention_specific or e.memory_specific)


def test_mi300x_bytes_stream_at_amds_measured_copy_bandwidth_in_every_pass() -> None:
    """AMD ROCm blog 'Deep dive into the MI300 compute and memory partition modes' (rocm-blogs
    at 20c9277, 'Stream microbenchmark'): a Triton copy kernel reaches 4017 GB/s in the default
    SPX/NPS1 mode, 4017 / 5300 = 75.79% of the MI300X's 5.3 TB/s. A transformer's bytes and a
    CNN's bytes both take it at every precision but fp8; the compute classes keep their own
    figures. At fp8 the bytes stream at the FP8 GEMMs' own measured bandwidth: Hugging Face,
    'Creating custom kernels for the AMD MI300' (Skinny GEMM results table, Torch column), the
    median of twelve decode-shaped FP8 GEMMs is 2,769.7 GB/s, 52.26% of 5.3 TB/s; and the FP8
    GEMMs' compute takes the MI300X's measured BF16 best shape, 51.4% (MAMF table), as an
    estimate."""
    from mlsysim.solvers.kernel_efficiency import pass_efficiencies

    catalog = _catalog()
    h = hardware_terms(catalog.get("hardware", "mi300x"), "fp16")
    e = kernel_efficiencies(h)
    assert e.memory == pytest.approx(4017 / 5300, rel=1e-3) and e.memory_specific
    assert "assumptions/memory_efficiency_mi300x#quantity" in e.lineage
    fp8 = kernel_efficiencies(hardware_terms(catalog.get("hardware", "mi300x"), "fp8"))
    assert fp8.memory == pytest.approx(0.5226) and fp8.memory_specific
    assert "assumptions/memory_efficiency_mi300x_fp8_gemm#quantity" in fp8.lineage
    assert "assumptions/memory_efficiency_mi300x#quantity" not in fp8.lineage
    assert fp8.gemm == pytest.approx(0.514) and fp8.gemm_specific
    h = hardware_terms(catalog.get("hardware", "mi300x"), "fp16")
    cnn = pass_efficiencies(model_terms(catalog.get("models", "resnet50")), h)
    assert cnn.memory == pytest.approx(4017 / 5300, rel=1e-3) and cnn.memory_specific
    assert cnn.compute == pytest.approx(0.76) and not cnn.gemm_specific
    given = pass_efficiencies(model_terms(catalog.get("models", "resnet50")), h, 0.5)
    assert (given.compute, given.compute_from_user) == (0.5, True)
    assert given.memory == pytest.approx(4017 / 5300, rel=1e-3)
    # Another GPU's CNN pass keeps the generic 88%.
    t4 = pass_efficiencies(model_terms(catalog.get("models", "resnet50")), hardware_terms(catalog.get("hardware", "t4"), "fp16"))
    assert t4.memory == pytest.approx(0.88) and not t4.memory_specific


def test_l40s_passes_take_nvidias_aiconfigurator_gemm_measurements() -> None:
    """NVIDIA AIConfigurator, systems/data/l40s/gemm/trtllm/1.3.0rc20/gemm_perf.parquet (at
    095f58a). Over the 183 shapes with 4,096 rows and at least 16 million weights, the median
    FP8 GEMM, each row less its input's quantization (systems/data/l40s/quantize/trtllm/
    1.3.0rc20, compute_scale and scale_matrix at its m and k), reaches 2 x 4096 x 6144 x 51200
    FLOP in 8.117078 - 0.607710 - 0.924638 ms, 391.36 of 733 TFLOP/s = 53.39% (47.92% as
    timed), and the median BF16 one 2 x 4096 x 65536 x 5120 FLOP in 12.808347 ms, 214.61 of
    366 TFLOP/s = 58.64%: the figures passes take. The best shapes of the sweep (FP8 433.36
    TFLOP/s = 59.12%, BF16 278.01 = 75.96%) are upper bounds the solvers use only where nothing
    representative is cited. FP8 GEMMs of 1 to 64 rows with weights of 256 MB or more, less the
    same quantization, stream a median 661.7 of 864 GB/s = 76.58% (76.17% as timed). At 16
    bits the bytes keep the generic 88%."""
    catalog = _catalog()
    fp8 = kernel_efficiencies(hardware_terms(catalog.get("hardware", "l40s"), "fp8"))
    assert (fp8.gemm, fp8.memory) == (pytest.approx(0.5339), pytest.approx(0.7658))
    assert fp8.gemm_specific and fp8.memory_specific
    assert {"assumptions/gemm_efficiency_l40s_fp8_median#quantity",
            "assumptions/memory_efficiency_l40s_fp8_gemm#quantity"} <= {e.path for e in fp8.lineage.entries()}
    assert "assumptions/gemm_efficiency_l40s_fp8#quantity" not in fp8.lineage
    bf16 = kernel_efficiencies(hardware_terms(catalog.get("hardware", "l40s"), "bf16"))
    assert bf16.gemm == pytest.approx(0.5864) and bf16.gemm_specific
    assert "assumptions/gemm_efficiency_l40s_16bit_median#quantity" in bf16.lineage
    assert bf16.memory == pytest.approx(0.88) and not bf16.memory_specific
    best = {v.path: v.si for v in (catalog.get("assumptions", "gemm_efficiency_l40s_fp8").quantity,
                                   catalog.get("assumptions", "gemm_efficiency_l40s_16bit").quantity)}
    assert best == {"assumptions/gemm_efficiency_l40s_fp8#quantity": pytest.approx(0.5912),
                    "assumptions/gemm_efficiency_l40s_16bit#quantity": pytest.approx(0.7596)}


def test_blackwell_fp4_gemms_and_fp8_bytes_take_nvidias_aiconfigurator_measurements() -> None:
    """NVIDIA AIConfigurator at 095f58a, systems/data/{b200_sxm,gb200}/gemm/trtllm/1.3.0rc20/
    gemm_perf.parquet, the same cuts as the L40S figures. NVFP4 linear layers with 4,096 rows
    and at least 16 million weights, median: B200 2 x 4096 x 4096 x 65536 FLOP in 0.683109 ms,
    3,219.1 of 9,000 TFLOP/s = 35.77%; GB200 2 x 4096 x 6144 x 12288 FLOP in 0.183057 ms,
    3,378.6 of 10,000 = 33.79%. GB200 BF16, median 2 x 4096 x 1536 x 51200 FLOP in 0.415653 ms,
    1,550.0 of 2,500 = 62.00% (the MAMF best shape, 72.9%, is only an upper bound). FP8 GEMMs
    of 1 to 64 rows with weights of 256 MB or more, each row less its input's quantization
    (systems/data/{b200_sxm,gb200}/quantize/trtllm/1.3.0rc20), stream a median 5,715.6 of
    7,700 GB/s on the B200 (74.23%; 65.39% as timed) and 5,987.6 of 8,000 on the GB200
    (74.85%; 65.29% as timed). Where a representative
    figure was already cited (B200 BF16 and FP8 GEMMs, GB200 FP8 GEMMs) it keeps its place;
    FP4 bytes and 16-bit bytes keep the generic 88%."""
    catalog = _catalog()
    b200 = catalog.get("hardware", "b200")
    gb200 = catalog.get("hardware", "gb200_nvl72")
    fp4 = kernel_efficiencies(hardware_terms(b200, "fp4"))
    assert (fp4.gemm, fp4.memory) == (pytest.approx(0.3577), pytest.approx(0.88)) and fp4.gemm_specific
    assert kernel_efficiencies(hardware_terms(gb200, "fp4")).gemm == pytest.approx(0.3379)
    bf16 = kernel_efficiencies(hardware_terms(gb200, "bf16"))
    assert bf16.gemm == pytest.approx(0.62) and "assumptions/gemm_efficiency_gb200_16bit_median#quantity" in bf16.lineage
    fp8 = kernel_efficiencies(hardware_terms(b200, "fp8"))
    assert (fp8.gemm, fp8.memory) == (pytest.approx(0.554), pytest.approx(0.7423)) and fp8.memory_specific
    assert "assumptions/gemm_efficiency_blackwell_fp8#quantity" in fp8.lineage
    gb_fp8 = kernel_efficiencies(hardware_terms(gb200, "fp8"))
    assert (gb_fp8.gemm, gb_fp8.memory) == (pytest.approx(0.571), pytest.approx(0.7485))
    assert kernel_efficiencies(hardware_terms(b200, "bf16")).gemm == pytest.approx(0.631)


def test_blackwell_ultra_gemms_and_fp8_bytes_take_nvidias_aiconfigurator_measurements() -> None:
    """NVIDIA AIConfigurator at 095f58a, systems/data/{b300_sxm,gb300}/gemm/trtllm/1.3.0rc20/
    gemm_perf.parquet, the same cuts as the B200's. Medians at 4,096 rows and at least 16
    million weights: B300 NVFP4 2 x 4096 x 12288 x 4096 FLOP in 0.119343 ms, 3,454.9 of
    15,000 TFLOP/s = 23.03%; GB300 NVFP4 2 x 4096 x 16384 x 3072 in 0.112415 ms, 3,667.8 of
    15,000 = 24.45%; GB300 FP8, each row less its input's quantization (systems/data/
    {b300_sxm,gb300}/quantize/trtllm/1.3.0rc20, compute_scale and scale_matrix at its m and k),
    2 x 4096 x 2560 x 51200 in 0.549653 - 0.133031 - 0.108913 ms, 3,489.5 of 5,000 = 69.79%
    (52.13% as timed); GB300 BF16 2 x 4096 x 1536 x 65536 in 0.443675 ms, 1,858.6 of 2,500 =
    74.35%. FP8 GEMMs of 1 to 64 rows with weights of 256 MB or more, less the same
    quantization, stream a median 5,833.0 of 8,000 GB/s on the B300 (72.91%; 63.76% as timed)
    and 5,927.0 on the GB300 (74.09%; 65.20% as timed). The B300's FP8 and BF16 GEMMs
    keep Transformer Engine's per-layer figures (62.6%, 66.8%), representative already."""
    catalog = _catalog()
    b300 = catalog.get("hardware", "b300")
    gb300 = catalog.get("hardware", "gb300_nvl72")
    assert kernel_efficiencies(hardware_terms(b300, "fp4")).gemm == pytest.approx(0.2303)
    b300_fp8 = kernel_efficiencies(hardware_terms(b300, "fp8"))
    assert (b300_fp8.gemm, b300_fp8.memory) == (pytest.approx(0.626), pytest.approx(0.7291))
    gb300 = {p: kernel_efficiencies(hardware_terms(gb300, p)) for p in ("fp4", "fp8", "bf16")}
    assert [gb300[p].gemm for p in ("fp4", "fp8", "bf16")] == pytest.approx([0.2445, 0.6979, 0.7435])
    assert gb300["fp8"].memory == pytest.approx(0.7409) and gb300["bf16"].memory == pytest.approx(0.88)


def test_hopper_bytes_stream_at_azures_measured_babelstream_copy() -> None:
    """Azure AI-benchmarking-guide, 'HBM Bandwidth' tables (BabelStream Copy): ND H200 v5
    4.01 TB/s of 4.8 = 83.54% (Azure_Results/ND_H200_v5_results.md at 7f20e5f); ND H100 v5
    2.90 TB/s of 3.35 = 86.57% (Azure Results/ND_H100_v5_results.md at f350e7e). An FP8 pass
    on the H100 keeps DeepGEMM's M = 64 FP8 GEMM bandwidth (71.27%); on the H200 it takes the
    first-party FP8 weight-streaming GEMMs' median, 3,238.3 of 4,800 GB/s = 67.47%
    (catalog/reports/measure_gpu_h200_2026-12-04_e76e32f.json, the 7 fp8 rows with m <= 64),
    and 16-bit passes the BF16 ones' (memory_efficiency_h200_bf16_gemm), so the copy figure
    serves int8 there."""
    catalog = _catalog()
    for hw, precision, expected in (("h200", "fp8", 3238.344681517084 / 4800), ("h200", "int8", 4.01 / 4.80),
                                    ("h100_sxm", "bf16", 2.90 / 3.35), ("h100_sxm", "fp8", 2387.5 / 3350)):
        e = kernel_efficiencies(hardware_terms(catalog.get("hardware", hw), precision))
        assert e.memory == pytest.approx(expected, rel=1e-3), (hw, precision)
        assert e.memory_specific


def test_dgx_spark_bytes_stream_at_a_measured_gb10_read_rate() -> None:
    """antirez/ds4 issue 773 ('The floor'): a saturating-read kernel reaches 231-234 GB/s of
    device DRAM read bandwidth on a DGX Spark (GB10, CUDA 13.0), against the 273 GB/s
    NVIDIA lists: (231 + 234) / 2 / 273 = 85.16%, for every precision, the FP4 of its
    TensorRT Edge-LLM passes included, in place of the A100's generic 88%."""
    catalog = _catalog()
    for precision in ("fp4", "fp32"):  # the precisions the record gives a peak for
        e = kernel_efficiencies(hardware_terms(catalog.get("hardware", "dgx_spark"), precision))
        assert e.memory == pytest.approx((231 + 234) / 2 / 273, rel=1e-3) and e.memory_specific, precision
    p = Engine.solve("qwen3_8b", "dgx_spark", precision="fp4")
    assert "assumptions/memory_efficiency_dgx_spark#quantity" in p.lineage
    assert "assumptions/decode_memory_bandwidth_efficiency#quantity" not in p.lineage


def test_a_user_efficiency_replaces_both_compute_classes_only() -> None:
    h = hardware_terms(_catalog().get("hardware", "h100_sxm"), "fp8")
    e = kernel_efficiencies(h, 0.5)
    assert (e.gemm, e.attention) == (0.5, 0.5) and e.memory == pytest.approx(2387.5 / 3350, rel=1e-3)
    assert e.compute_from_user and not e.gemm_specific


def test_kernel_compute_time_adds_each_class_at_its_own_efficiency() -> None:
    """1 TFLOP of GEMMs stretched 1.5x at 50% of 1 PFLOP/s = 3 ms; 0.2 TFLOP of attention at
    40% = 0.5 ms; total 3.5 ms."""
    assert kernel_compute_time(1e12, 0.2e12, 1.5, 1e15, 0.5, 0.4) == pytest.approx(3.5e-3)


def test_hopper_passes_use_the_cutlass_64_row_tile_and_the_a100_keeps_256() -> None:
    """CUTLASS example 54 (Hopper FP8 GEMM): TileShape 64 x 128 x 128, cited for Hopper FP8
    (gemm_tile_rows_fp8) and assumed for Hopper's 16-bit GEMMs (gemm_tile_rows_16bit); the
    A100 keeps NVIDIA's guide's 256 x 128 tile."""
    cat = _catalog()
    m = model_terms(cat.get("models", "llama2_7b"))
    fp8 = wave_quantization(m, hardware_terms(cat.get("hardware", "h100_sxm"), "fp8"))
    bf16 = wave_quantization(m, hardware_terms(cat.get("hardware", "h100_sxm"), "bf16"))
    fp16 = wave_quantization(m, hardware_terms(cat.get("hardware", "h200"), "fp16"))
    ampere = wave_quantization(m, hardware_terms(cat.get("hardware", "a100_sxm_80gb"), "bf16"))
    assert fp8.wave and (fp8.tile_rows, bf16.tile_rows, fp16.tile_rows, ampere.tile_rows) == (64, 64, 64, 256)
    assert "assumptions/gemm_tile_rows_16bit#quantity" in bf16.lineage
    assert "assumptions/gemm_tile_rows#quantity" in ampere.lineage
    assert fp8.slowdown(128) >= 1.0 and bf16.slowdown(128) >= 1.0
    int8 = wave_quantization(m, hardware_terms(cat.get("hardware", "h100_sxm"), "int8"))
    assert not int8.wave and "int8" in int8.reason


def test_fp8_prefill_is_slower_than_twice_the_bf16_rate_would_say() -> None:
    """FP8 reaches a smaller fraction of its (2x) peak than 16-bit GEMMs of theirs: a long
    prefill in fp8 is faster than in bf16, but by less than 2x (0.8 / 0.5265 x 1/2 = 0.76)."""
    bf16 = ServingModel("llama2_7b", "h100_sxm", precision="bf16").prefill(4096, 1)
    fp8 = ServingModel("llama2_7b", "h100_sxm", precision="fp8").prefill(4096, 1)
    assert 0.5 < fp8.compute / bf16.compute < 1.0


def test_token_rate_warning_scales_by_parameters() -> None:
    """MLPerf Inference v4.1, one B200, Llama 2 70B Offline: 11,264.4 tokens/s. A 7B model at
    10x that rate has the same parameter-token rate (no warning); at 11x it is above."""
    assert token_rate_warnings(112_644.0, 7e9, 11_264.4, 70e9) == []
    out = token_rate_warnings(124_000.0, 7e9, 11_264.4, 70e9, "MLPerf B200", "the batch")
    assert len(out) == 1 and "no public system has reached it" in out[0] and "MLPerf B200" in out[0]
    assert token_rate_warnings(1.0, 0.0, 11_264.4, 70e9) == []


def test_serving_results_carry_the_token_rate_warning() -> None:
    """A tiny model at a huge batch on the biggest GPU beats the public record once scaled;
    the catalog's Llama 2 70B at batch 1 does not."""
    ok = ServingModel("llama2_70b", "h200", precision="fp8").solve(128, 128, 1)
    assert not any("no public system" in w for w in ok.warnings)
    s = ServingModel("llama2_70b", "h200", precision="fp8")
    record = s.token_record
    assert record is not None and record.rate == pytest.approx(11264.4)
    warned = s.check_rate(record.rate * 2 * s.tp, "x")
    assert warned and "2x the fastest published rate" in warned[0]


def test_max_rate_under_slo_meets_both_limits_and_is_the_largest() -> None:
    """MLPerf Server limits for llama2-70b (loadgen/mlperf.conf): TTFT 2000 ms, TPOT 200 ms,
    at the 99th percentile. The found rate meets both; 1% more breaks one of them."""
    s = ServingModel("llama2_70b", "dgx_h100", precision="fp8", kv_precision="fp8", tp=2)
    best = s.max_rate_under_slo(512, 256, 2.0, 0.2)
    pre = s.prefill(512, 1).time
    assert best.stable and best.itl <= 0.2
    assert pre + mm1_wait_quantile(best.utilization, pre, 0.99) <= 2.0
    assert best.tokens_per_second == pytest.approx(best.arrival_rate * 256)
    more = s.under_load(best.arrival_rate * 1.01, 512, 256)
    ttft = pre + mm1_wait_quantile(more.utilization, pre, 0.99) if more.stable else math.inf
    assert (not more.stable) or more.itl > 0.2 or ttft > 2.0


def test_max_rate_under_slo_refuses_limits_an_idle_server_misses() -> None:
    s = ServingModel("llama2_70b", "dgx_h100", precision="fp8", tp=2)
    with pytest.raises(MlsysimError, match="no arrival rate meets the limits"):
        s.max_rate_under_slo(512, 256, 2.0, 1e-6)
    with pytest.raises(MlsysimError, match="ttft_limit must be > 0"):
        s.max_rate_under_slo(512, 256, 0.0, 0.2)


def test_the_hopper_fp8_tile_is_not_applied_to_other_architectures() -> None:
    """The FP8 tile is CUTLASS's SM90 (Hopper) example; the L40S (Ada) gets no wave term at
    fp8 rather than a tile nobody cited for it."""
    cat = _catalog()
    m = model_terms(cat.get("models", "llama2_7b"))
    ada = wave_quantization(m, hardware_terms(cat.get("hardware", "l40s"), "fp8"))
    assert not ada.wave and "h100_sxm" in ada.reason


def test_per_query_head_kv_reads_multiply_decode_kv_traffic_by_the_group_size() -> None:
    """Llama 2 70B has 64 query heads and 8 KV heads: a kernel that reads each KV head once per
    query head (NVIDIA/TensorRT-LLM issue 407) moves 8x the past KV bytes in a decode step;
    prefill (a different kernel) and a model without grouped-query attention are unchanged."""
    shared = ServingModel("llama2_70b", "dgx_h100", precision="fp8", kv_precision="fp8", tp=2)
    each = ServingModel("llama2_70b", "dgx_h100", precision="fp8", kv_precision="fp8", tp=2,
                        decode_kv_reads="per_query_head")
    a, b = shared.decode_step(1024, 16), each.decode_step(1024, 16)
    past_kv = 16 * 1024 * shared.kv_cache_bytes_per_token()
    assert b.bytes_moved - a.bytes_moved == pytest.approx(7 * past_kv)
    assert each.prefill(512, 4).bytes_moved == shared.prefill(512, 4).bytes_moved
    mha = ServingModel("llama2_7b", "h100_sxm", precision="fp8", decode_kv_reads="per_query_head")
    assert mha.decode_step(1024, 16).bytes_moved == ServingModel("llama2_7b", "h100_sxm", precision="fp8").decode_step(1024, 16).bytes_moved
    with pytest.raises(MlsysimError, match="decode_kv_reads must be one of"):
        ServingModel("llama2_7b", "h100_sxm", decode_kv_reads="sometimes")


def test_at_concurrency_is_under_load_at_the_closed_loop_rate() -> None:
    """N clients in a closed loop send what continuous batching of N requests finishes; the
    server under that load keeps N in flight (Little's law), so its ITL is the N-request
    iteration, its throughput N x output / request latency, and its mean TTFT one prefill
    plus the M/M/1 wait, above the idle prefill."""
    s = ServingModel("llama3_3_70b", "dgx_h100", precision="fp8", tp=2)
    for n in (1, 25):
        cb = s.continuous_batching(n, 5000, 500)
        load = s.at_concurrency(n, 5000, 500)
        assert load.concurrency == n and load.stable
        assert load.itl == pytest.approx(cb.iteration)
        assert load.tokens_per_second == pytest.approx(cb.tokens_per_second)
        assert load.ttft_mean > cb.ttft
    with pytest.raises(MlsysimError):
        s.at_concurrency(0, 5000, 500)


@pytest.mark.parametrize(("hardware", "precision", "record", "percent"), [
    ("h100_sxm", "fp16", "gemm_efficiency_h100_16bit_median", 77.20),
    ("h100_sxm", "fp8", "gemm_efficiency_h100_fp8_median", 74.27),
    ("h200", "bf16", "gemm_efficiency_h200_16bit_median", 78.71),
    ("h200", "fp8", "gemm_efficiency_h200_fp8_median", 74.0),
    ("gh200", "fp8", "gemm_efficiency_hopper_fp8", 52.65),
    ("a100_sxm_80gb", "bf16", "gemm_efficiency_nvidia_16bit", 80.0),
    ("mi300x", "fp16", "gemm_efficiency_mi300x_16bit", 51.4),
    ("b200", "fp8", "gemm_efficiency_blackwell_fp8", 55.4),
    ("b200", "bf16", "gemm_efficiency_blackwell_16bit", 63.1),
    ("gb200_nvl72", "fp8", "gemm_efficiency_gb200_fp8_cublaslt", 57.1),
    ("b300", "fp8", "gemm_efficiency_b300_fp8_training_layer", 62.6),
    ("b300", "bf16", "gemm_efficiency_b300_16bit_training_layer", 66.8),
    ("gaudi2", "bf16", "gemm_efficiency_gaudi2_16bit", 96.9),
])
def test_a_representative_gemm_figure_is_preferred_to_the_best_shape_of_a_sweep(hardware, precision, record, percent):
    """One GEMM efficiency prices every shape, so a figure representative of many shapes wins
    over a sweep's best shape (an upper bound): the H100's and H200's 16-bit and FP8 GEMMs take
    the median over the 183 shapes at m = 4096 with n x k >= 16e6 of AIConfigurator's
    TensorRT-LLM 1.3.0rc20 tables (ai-dynamo/aiconfigurator at 095f58a, systems/data/
    {h100_sxm,h200_sxm}/gemm/trtllm/1.3.0rc20/gemm_perf.parquet: H100 BF16 763.50 of 989 =
    77.20%, FP8 1469.02 of 1978 = 74.27%; H200 BF16 778.40 of 989 = 78.71%, FP8 1463.73 of
    1978 = 74.00%, FP8 rows less their input's quantization timed alone in systems/data/
    {h100_sxm,h200_sxm}/quantize/trtllm/1.3.0rc20) rather than the 80.3% and 70.9% best shapes of Bekman's MAMF table or the
    lower end of FlashAttention-2's "up to 80-90%" (arXiv 2307.08691, Sec. 1); the GH200, not
    covered by those tables, keeps DeepGEMM's median (52.65%) for FP8; the B200's FP8 GEMMs at the median of XLA's sm_100 table (55.4%: 1833.5,
    2485.0, 2499.4 and 2765.0 TFLOP/s at M = 4096; tensorflow third_party/xla/.../
    matmul_interpolator_data.h) rather than MAMF's 76.3%, its BF16 GEMMs at the median of
    torchao's B200 sweep (pct_peak 0.503, 0.627, 0.631, 0.646, 0.672; pytorch/ao pull request
    2427) rather than MAMF's 77.6%, the B300's at one training layer's twelve GEMMs in NVIDIA's
    Transformer Engine benchmark (19.174e12 FLOP in 6.812 ms FP8, 12.758 ms BF16;
    docs/examples/gemm_profiling/gemm_profiling.rst) rather than MAMF's 74.5% and 78.6%, the
    GB200's FP8 GEMMs at the median of Azure's cuBLASLt table (2243.6, 2825.6, 2834.6, 2876.6,
    2895.6, 2906.9 TFLOP/s for M >= 2048; Azure/AI-benchmarking-guide ND_GB200_v6_results.md)
    rather than MAMF's 72.3%; where the sweep is the only kernel-level figure it applies: MI300X
    BF16 "| AMD MI300X | 668.4 | 1300 | 51.4% |", Gaudi 2 BF16 "| Intel Gaudi 2 | 418.7 | 432 |
    96.9% |" (stas00/ml-engineering, compute/accelerator/README.md, "Maximum Achievable Matmul
    FLOPS comparison table")."""
    from mlsysim.solvers.kernel_efficiency import kernel_efficiency_values
    from mlsysim.solvers.terms import hardware_terms

    catalog = _catalog()
    chosen = kernel_efficiency_values(hardware_terms(catalog.get("hardware", hardware), precision))["gemm"]
    assert chosen.path == f"assumptions/{record}#quantity"
    assert chosen.value == pytest.approx(percent)


def test_the_mi355x_fp8_gemms_run_at_hipblaslts_measured_best_square_shape():
    """HipKittens' measured FP8 GEMM data on an MI355X (HazyResearch/HipKittens at f09e968,
    analysis/fp8_gemm/mi350x/mi355x_fp8_gemm.json, key "16384": "tflops_hipblaslt":
    3293.23) against the catalog's 5 PFLOP/s dense FP8 peak: 65.86%, the best of the five
    square sizes, replaces the estimate that borrowed the BF16 MAMF fraction (68.0%)."""
    from mlsysim.solvers.kernel_efficiency import kernel_efficiency_values
    from mlsysim.solvers.terms import hardware_terms

    catalog = _catalog()
    chosen = kernel_efficiency_values(hardware_terms(catalog.get("hardware", "mi355x"), "fp8"))["gemm"]
    assert chosen.path == "assumptions/gemm_efficiency_mi355x_fp8#quantity"
    assert chosen.value == pytest.approx(65.86)
    record = catalog.get("assumptions", "gemm_efficiency_mi355x_fp8")
    assert record.claims["quantity"]["method"] == "measured"
    assert 3293.23 / catalog.get("hardware", "mi355x").si("compute.fp8") * 1e12 == pytest.approx(0.6586, abs=5e-5)


def test_h100_expert_gemms_take_nvidias_aiconfigurator_moe_measurements() -> None:
    """NVIDIA AIConfigurator at 095f58a, systems/data/h100_sxm/moe/trtllm/1.3.0rc20/
    moe_perf.parquet: TensorRT-LLM's fused MoE module on an H100, gated shapes, balanced
    routing, at least 1,024 tokens per expert. FP8 (348 rows): the two middle rows run
    16384 tokens of a 4096 x 14336, 8-expert top-2 layer over EP 8 in 0.318139 ms and of a
    2816 x 704, 128-expert top-8 layer in 2.727707 ms, 567.01 and 571.57 TFLOP/s on the GPU,
    a median of 28.78% of the 1,978 TFLOP/s dense FP8 peak; BF16 (364 rows): 429.43 and
    434.34 TFLOP/s, 43.67% of 989 TFLOP/s. The figures are scoped to the H100's expert
    GEMMs, not its dense GEMMs."""
    catalog = _catalog()

    def rate(tokens, hidden, inter, topk, ep, tp, latency_ms):  # gated: three matrices per expert
        return 2 * 3 * tokens * topk * hidden * inter / (ep * tp) / (latency_ms * 1e-3)

    fp8 = (rate(16384, 4096, 14336, 2, 8, 8, 0.31813865900039673) + rate(16384, 2816, 704, 8, 1, 1, 2.7277065912882485)) / 2
    bf16 = (rate(16384, 2816, 704, 8, 1, 2, 1.8152906099955242) + rate(16384, 2048, 768, 8, 1, 2, 1.4239306449890137)) / 2
    h100 = catalog.get("hardware", "h100_sxm")
    for ident, achieved, precision in (("expert_gemm_efficiency_h100_fp8_median", fp8, "fp8"),
                                       ("expert_gemm_efficiency_h100_16bit_median", bf16, "bf16")):
        quantity = catalog.get("assumptions", ident).quantity
        assert quantity.si == pytest.approx(achieved / h100.get(f"compute.{precision}").si, abs=5e-5)
        assert quantity.qualifiers["kernel"] == "expert_gemm"
        assert quantity.source_id == "aiconfigurator-moe-perf-h100-trtllm-1-3-0rc20"
    assert expert_gemm_value(hardware_terms(h100, "fp8")).si == pytest.approx(0.2878)
    assert kernel_efficiencies(hardware_terms(h100, "fp8")).gemm != pytest.approx(0.2878)


def test_moe_passes_run_their_routed_experts_at_the_expert_gemm_figure() -> None:
    """A mixture of experts' routed-expert GEMMs run at their own cited grouped-GEMM figure
    on the H100 (28.78% of the FP8 peak, AIConfigurator's TensorRT-LLM fused-MoE sweep), the
    other weight GEMMs at the dense figure with their tile/wave term:
    t_gemm = G x ((1 - s) q + s e_gemm / e_expert) / (peak e_gemm), s the experts' share of
    the weight-GEMM FLOPs (Qwen3-30B-A3B: 8 experts of 3 x 2048 x 768 weights in 48 layers).
    ServingModel, Engine.solve, sweep and the DSE roofline price it alike; a dense model,
    or a number the caller passes, has no expert term, and only a MoE pass cites the record."""
    catalog = _catalog()
    model, h100 = catalog.get("models", "qwen3_30b_a3b"), catalog.get("hardware", "h100_sxm")
    m = model_terms(model)
    share = routed_gemm_share(m)
    assert share == pytest.approx(2 * 8 * 3 * 2048 * 768 * 48 / m.matmul_flops)
    serving = ServingModel(model, h100, precision="fp8")
    assert serving.eff.expert == pytest.approx(0.2878)
    assert "assumptions/expert_gemm_efficiency_h100_fp8_median#quantity" in serving.lineage
    p = serving.prefill(2048)
    q = 1.0 / p.gemm_utilization
    stretch = (1 - share) * q + share * serving.eff.gemm / 0.2878
    expected = gemm_flops(m, 1, 2048) * stretch / (serving.h.peak * serving.eff.gemm)
    assert p.compute - p.attention_compute == pytest.approx(expected, rel=1e-12)
    assert Engine.solve(model, h100, batch_size=1, precision="fp8", seq_len=2048).si["latency_compute"] == \
        pytest.approx(p.compute, rel=1e-12)
    row = Engine.sweep(model, [h100], batch_sizes=[8], precisions=["fp8"], seq_lens=[512]).rows()[0]
    space, roof = roofline_space(model, [h100], precisions=["fp8"], batch_sizes=[8], seq_lens=[512])
    cols = {"system": [0], "batch_size": [8], "seq_len": [512]}
    assert roof({k: np.asarray(v) for k, v in cols.items()})["latency"][0] == pytest.approx(row["latency"], rel=1e-12)
    assert row["latency"] == pytest.approx(Engine.solve(model, h100, batch_size=8, precision="fp8", seq_len=512).si["latency"])
    assert ServingModel(model, h100, precision="fp8", efficiency=0.5).eff.expert == 0.0
    dense = ServingModel(catalog.get("models", "llama3_8b"), h100, precision="fp8")
    assert dense.eff.expert == 0.0 and "assumptions/expert_gemm_efficiency_h100_fp8_median#quantity" not in dense.lineage


def test_every_expert_gemm_figure_is_the_median_row_of_its_aiconfigurator_table() -> None:
    """Each routed-expert GEMM figure quotes the middle row (or the two middle rows) of its
    GPU's AIConfigurator fused-MoE table (TensorRT-LLM 1.3.0rc20 at 095f58a) by FLOP rate, as
    `framework | version | device | op | kernel source | dtype | num_tokens | hidden | inter |
    topk | num_experts | moe_tp | moe_ep | distribution | latency ms`; its value is that
    rate, 2 x 3 x tokens x topk x hidden x inter / (ep x tp) FLOP per latency, over the dense
    peak it derives from. H100 FP8 28.78%, H200 FP8 32.52%, B200 NVFP4 12.21%, L40S BF16 30.52%."""
    catalog = _catalog()
    figures = {}
    for record in catalog.records("assumptions"):
        if not record.id.startswith("expert_gemm_efficiency_"):
            continue
        q = record.quantity
        rates = []
        for row in q.as_stated.split("; "):
            cells = [c.strip() for c in row.split(" | ")]
            assert cells[:2] == ["TRTLLM", "1.3.0rc20"] and cells[4] == "moe_torch_flow_cutlass" and cells[13] == "balanced"
            tokens, hidden, inter, topk, experts, tp, ep = (float(c) for c in cells[6:13])
            assert tokens * topk / experts >= 1024
            rates.append(2 * 3 * tokens * topk * hidden * inter / (ep * tp) / (float(cells[14]) * 1e-3))
        hardware_id, path = q.claim["derived_from"][0].split("/", 1)[1].split("#")
        peak = catalog.get("hardware", hardware_id).field(path).si
        assert q.si == pytest.approx(sum(rates) / len(rates) / peak, abs=5e-5), record.id
        assert q.qualifiers["kernel"] == "expert_gemm" and q.qualifiers["hardware"] == hardware_id
        figures[record.id] = q.si
    assert len(figures) == 18
    assert {k: figures[k] for k in ("expert_gemm_efficiency_h100_fp8_median", "expert_gemm_efficiency_h200_fp8_median",
                                    "expert_gemm_efficiency_b200_fp4_median", "expert_gemm_efficiency_l40s_16bit_median")} == \
        {"expert_gemm_efficiency_h100_fp8_median": pytest.approx(0.2878), "expert_gemm_efficiency_h200_fp8_median": pytest.approx(0.3252),
         "expert_gemm_efficiency_b200_fp4_median": pytest.approx(0.1221), "expert_gemm_efficiency_l40s_16bit_median": pytest.approx(0.3052)}
