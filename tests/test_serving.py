"""ServingModel: prefill, decode with KV cache, memory, tensor parallelism (mlsysim/solvers/serving.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim import Hardware, Models, ServingModel, Systems
from mlsysim.errors import MlsysimError
from mlsysim.solvers.serving import _sum_max_linear


def test_kv_cache_per_token_respects_grouped_query_attention() -> None:
    """Llama 3 8B: 2 (K and V) x 32 layers x 8 KV heads x 128 head dim x 2 bytes = 131,072 B per token."""
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    assert s.kv_cache_bytes_per_token() == 2 * 32 * 8 * 128 * 2
    assert ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, kv_precision="fp8").kv_cache_bytes_per_token() == 2 * 32 * 8 * 128


def test_kv_cache_of_latent_attention() -> None:
    """DeepSeek-V3 caches the 512-wide latent plus the 64-wide RoPE key per layer (61 layers)
    (DeepSeek-AI 2024, arXiv 2412.19437, Section 2.1.1)."""
    s = ServingModel(Models.Language.DeepSeek_V3, Hardware.Cloud.H200, precision="fp8")
    assert s.kv_cache_bytes_per_token() == 61 * (512 + 64) * 1


def test_weight_and_kv_precision_split_memory() -> None:
    fp16 = ServingModel(Models.Language.Llama3_70B, Hardware.Cloud.H100).memory(8, 4096)
    mixed = ServingModel(Models.Language.Llama3_70B, Hardware.Cloud.H100, weight_precision="int4", kv_precision="fp8").memory(8, 4096)
    assert mixed.weights == pytest.approx(fp16.weights / 4)
    assert mixed.kv_cache == pytest.approx(fp16.kv_cache / 2)
    assert not fp16.fits and mixed.fits


def test_decode_reads_weights_plus_the_kv_cache_of_every_sequence() -> None:
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    short, long = s.decode_step(context=128, batch_size=32), s.decode_step(context=4096, batch_size=32)
    assert long.bytes_moved - short.bytes_moved == pytest.approx(32 * (4096 - 128) * s.kv_cache_bytes_per_token())
    assert long.time > short.time


def test_large_batch_decode_becomes_compute_bound() -> None:
    """Unlike a per-sample weight heuristic, decode turns compute-bound once batch x 2 FLOP
    per weight outgrows the bytes it reads."""
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    assert s.decode_step(128, 1).bottleneck == "Memory"
    assert s.decode_step(128, 1024).bottleneck == "Compute"


def test_max_batch_size_is_the_largest_that_fits() -> None:
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    n = s.max_batch_size(4096)
    assert n > 0 and s.memory(n, 4096).fits and not s.memory(n + 1, 4096).fits
    assert ServingModel(Models.Language.Llama3_1_405B, Hardware.Cloud.H100).max_batch_size(4096) == 0


def test_solve_matches_a_step_by_step_decode() -> None:
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    r = s.solve(prompt_tokens=300, output_tokens=40, batch_size=700)
    steps = [s.decode_step(300 + k, 700).time for k in range(39)]
    assert r.itl == pytest.approx(sum(steps) / 39, rel=1e-12)
    assert r.latency == pytest.approx(r.ttft + sum(steps), rel=1e-12)
    assert r.ttft == s.prefill(300, 700).time
    assert r.tokens_per_second == pytest.approx(700 * 40 / r.latency)
    assert r.to_dict()["memory_bytes_per_gpu"]["total"] == r.memory.total


def test_kernel_classes_each_take_their_own_roofline() -> None:
    """A large decode batch: Llama 3 8B at batch 1024 on an H100, 2048 tokens cached. The
    weight GEMMs (1024 rows) are compute-bound while the attention streams 1024 x 2048 tokens
    of KV cache (memory-bound); the kernels run one after another, so the step takes both
    roofs' times added, more than the whole-pass max(compute, memory) that would hide one
    class behind the other (Williams et al. 2009: a roofline bounds one kernel)."""
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    step = s.decode_step(2048, 1024)
    gemm_compute = step.compute - step.attention_compute
    gemm_memory = step.memory - step.attention_memory - step.elementwise
    assert gemm_compute > gemm_memory and step.attention_memory > step.attention_compute
    fixed = step.launch + step.communication + step.runtime
    assert step.time - fixed == pytest.approx(gemm_compute + step.attention_memory + step.elementwise, rel=1e-12)
    assert step.time - fixed > 1.1 * max(step.compute, step.memory)
    # One small sequence: both classes memory-bound, the step is the whole-pass memory time.
    small = s.decode_step(100, 1)
    assert small.time - small.launch == pytest.approx(small.memory, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(a1=st.floats(0, 10), b1=st.floats(-1, 1), a2=st.floats(0, 10), b2=st.floats(-1, 1),
       c0=st.integers(0, 100), n=st.integers(0, 60))
def test_sum_of_max_of_lines_is_exact(a1, b1, a2, b2, c0, n) -> None:
    brute = sum(max(a1 + b1 * (c0 + i), a2 + b2 * (c0 + i)) for i in range(n))
    assert _sum_max_linear(a1, b1, a2, b2, c0, n) == pytest.approx(brute, rel=1e-9, abs=1e-9)


def test_tensor_parallel_splits_weights_flops_and_adds_allreduce() -> None:
    """Megatron-style TP: each GPU holds 1/tp of the weights and does 1/tp of the FLOPs; two
    ring all-reduces per layer of tokens x hidden x 2 bytes over the node's NVLink, at the
    bus bandwidth NCCL reaches there (370 of 450 GB/s per direction on H100: NVIDIA/nccl-tests
    issue 212, S. Jeaugey, "NCCL can get an effective NVLink bandwidth of 370GB/s")."""
    one = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100)
    four = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, tp=4)
    assert four.memory(1, 1).weights == pytest.approx(one.memory(1, 1).weights / 4)
    p1, p4 = one.prefill(1000), four.prefill(1000)
    assert p4.flops == pytest.approx(p1.flops / 4)
    per_direction = Systems.Nodes.DGX_H100.intra_node_bandwidth.si / 2 * 0.8222
    bandwidth_term = 2 * 3 / 4 * 1000 * 8192 * 2 / per_direction
    latency = four.allreduce_latency.seconds
    assert p4.communication == pytest.approx(2 * 80 * (latency + bandwidth_term))
    assert p4.communication_latency == pytest.approx(2 * 80 * latency)
    assert p1.communication == p1.communication_latency == 0
    assert "nodes/dgx_h100#intra_node_bandwidth" in four.lineage


def test_tensor_parallel_gemms_keep_their_tiles_per_gpu() -> None:
    """Llama 2 70B on 4 A100s (108 SMs): column-split GEMMs have N / 4 output columns per GPU
    (Q/K/V 10240 / 4 = 2560: 20 tiles of 128; up and gate 28672 / 4: 56; the output projection
    32000 / 4 = 8000: 63), row-split ones keep N = 8192 (64 tiles). A 128-token prefill then
    busies only 20 of 108 SMs in its Q/K/V GEMM, so the per-GPU compute is more than a quarter
    of the one-GPU compute."""
    four = ServingModel(Models.get("llama2_70b"), Systems.Nodes.DGX_A100, tp=4)
    one = ServingModel(Models.get("llama2_70b"), Systems.Nodes.DGX_A100)
    assert four.waves.column_tiles == (20, 64, 56, 56, 64, 63)
    assert one.waves.column_tiles == (80, 64, 224, 224, 64, 250)
    p4, p1 = four.prefill(128), one.prefill(128)
    assert p4.gemm_utilization < p1.gemm_utilization < 1
    assert p4.compute > p1.compute / 4
    assert "hardware/a100_sxm_80gb#compute_units" in four.lineage
    decode = four.decode_step(128, 1)
    assert decode.bottleneck == "Memory"  # one row per GEMM: the wave term does not decide decode


def test_allreduce_latency_follows_nccls_latency_model() -> None:
    """NCCL's ring/LL latency model (src/graph/tuning.cc): base latency + 2 (p - 1) NVLink
    steps per all-reduce; the pass pays it twice per layer, with the kernel launches on top."""
    from mlsysim.catalog import default_catalog

    catalog = default_catalog()
    base = catalog.get("assumptions", "nccl_allreduce_base_latency").quantity.si
    step = catalog.get("assumptions", "nccl_nvlink_step_latency").quantity.si
    for tp in (2, 4, 8):
        s = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, tp=tp)
        assert s.allreduce_latency.seconds == pytest.approx(base + 2 * (tp - 1) * step)
        d = s.decode_step(1000, 1)
        assert d.time == pytest.approx(max(d.compute, d.memory) + d.launch + d.communication)
        assert d.launch == pytest.approx((80 * 12 + 3) * catalog.get("assumptions", "kernel_launch_overhead").quantity.si)
        assert {"assumptions/nccl_allreduce_base_latency#quantity", "assumptions/nccl_nvlink_step_latency#quantity",
                "assumptions/kernel_launch_overhead#quantity"} <= set(e.path for e in s.lineage.entries())
    single = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100)
    assert single.allreduce_latency.seconds == 0 and "assumptions/nccl_allreduce_base_latency#quantity" not in single.lineage


def test_nccl_latency_does_not_apply_to_other_vendors() -> None:
    """The NCCL figures carry qualifiers vendor NVIDIA and link NVLink; an AMD GPU's
    tensor-parallel all-reduces get no NCCL latency, and at a TP size no AMD measurement
    covers (2) only the bandwidth term. Its kernels cost the per-kernel time measured on the
    MI300X (kernel_launch_mi300x), not NVIDIA's null-kernel figure."""
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.MI300X, tp=2)
    assert s.allreduce_latency.seconds == 0 and s.launch.seconds > 0
    assert s.prefill(512).communication_latency == 0 and s.prefill(512).communication > 0
    paths = {e.path for e in s.lineage.entries()}
    assert not any("nccl" in p or "kernel_launch_overhead" in p or "rccl_allreduce_latency" in p for p in paths)
    assert "assumptions/kernel_launch_mi300x#quantity" in paths
    # ...and says what is left out, rather than leaving the zero silent.
    assert [u.split(":")[0] for u in s.unpriced] == ["all-reduce latency"]
    assert ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100).unpriced == ()


def test_mi300x_tp8_all_reduces_pay_rccls_measured_latency() -> None:
    """AMD's rccl-tests run on 8 MI300X (ROCm blog 'Understanding RCCL Bandwidth and xGMI
    Performance on AMD Instinct MI300X', all_reduce_perf -G 1): a 1 KB all-reduce takes 7.47
    us in graph mode; large all-reduces reach 318.98 GB/s bus bandwidth, 71.2% of the 7 x 64
    GB/s xGMI line rate. Llama 3 70B at TP 8: two all-reduces per layer, 80 layers."""
    from mlsysim.catalog import default_catalog

    node = default_catalog().get("nodes", "server_8x_mi300x")
    s = ServingModel(Models.Language.Llama3_70B, node, tp=8)
    assert s.allreduce_latency.seconds == pytest.approx(7.47e-6)
    assert s.link == pytest.approx(448e9 * 0.712)
    assert s.decode_step(1000, 1).communication_latency == pytest.approx(2 * 80 * 7.47e-6)
    paths = {e.path for e in s.lineage.entries()}
    assert {"assumptions/rccl_allreduce_latency_mi300x_8gpu#quantity",
            "assumptions/rccl_allreduce_bus_efficiency_xgmi_mi300x#quantity"} <= paths
    assert s.unpriced == ()


def test_gqa_kv_heads_are_replicated_beyond_their_count() -> None:
    """Llama 3 8B has 8 KV heads: with 16-way TP each GPU still holds one whole head."""
    eight = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, tp=8)
    sixteen = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, tp=16)
    assert sixteen.kv_cache_bytes_per_token() == eight.kv_cache_bytes_per_token() == 2 * 32 * 128 * 2


def test_tensor_parallel_errors() -> None:
    with pytest.raises(MlsysimError, match="tensor parallelism 16 exceeds DGX_H100's 8 accelerators"):
        ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, tp=16)
    with pytest.raises(MlsysimError, match="L4 has no interconnect.bandwidth in the catalog"):
        ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.L4, tp=2)
    with pytest.raises(MlsysimError, match="tensor parallelism must be a whole number >= 1"):
        ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, tp=0)


def test_continuous_batching_trades_latency_for_throughput() -> None:
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    few, many = s.continuous_batching(4, 512, 256), s.continuous_batching(128, 512, 256)
    assert many.tokens_per_second > few.tokens_per_second
    assert many.request_latency > few.request_latency
    step = s._pass(128.0, 1.0, 512 + 255 / 2)
    assert many.iteration == pytest.approx(step.time + 128 / 256 * s.prefill(512).time)
    assert many.memory.kv_cache == pytest.approx(128 * (512 + 128) * s.kv_cache_bytes_per_token())


def test_serving_needs_a_transformer_and_sane_inputs() -> None:
    with pytest.raises(MlsysimError, match="ResNet50 has no transformer architecture"):
        ServingModel(Models.Vision.ResNet50, Hardware.Cloud.T4, precision="int8")
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    with pytest.raises(MlsysimError, match="prompt \\+ output = 9000 tokens exceeds Llama3_8B's context length of 8192"):
        s.solve(8000, 1000)
    with pytest.raises(MlsysimError, match="output_tokens must be a whole number >= 1"):
        s.solve(100, 0)


def test_a_run_past_the_context_is_priced_only_when_asked_and_like_any_other_positions() -> None:
    """past_context=True prices 9,000 tokens of an 8,192-token model as run: the same per-token
    costs as inside the context, so the first 1,000 decode steps match the in-context run's."""
    s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    with pytest.raises(MlsysimError, match="shorten the prompt or the output"):
        s.solve(8000, 1000)
    past = s.solve(8000, 1000, past_context=True)
    inside = s.solve(7000, 1000)
    assert past.ttft == pytest.approx(s.prefill(8000).time)
    assert past.itl_first == pytest.approx(s.decode_step(8000).time)
    assert past.latency > inside.latency


def test_under_load_obeys_littles_law_and_queues_prefills() -> None:
    """Continuous batching under Poisson arrivals: requests in flight N = arrival rate x request
    latency (Little 1961); TTFT P99 >= P50 >= one prefill, growing with the load (M/M/1 prefill
    queue, Kleinrock 1975 Sec. 3.2); past capacity the queue is unbounded and a warning says so."""
    import math

    from mlsysim.solvers.serving import mm1_wait_quantile

    s = ServingModel(Models.Language.Llama2_7B, Hardware.Cloud.A100, precision="fp16")
    light, heavy = s.under_load(0.5, 512, 128), s.under_load(10.0, 512, 128)
    prefill = s.prefill(512).time
    assert light.stable and heavy.stable and not light.warnings
    assert light.ttft_p50 >= prefill and heavy.ttft_p99 > heavy.ttft_p50 >= light.ttft_p50
    assert heavy.itl > light.itl and heavy.concurrency > light.concurrency
    # Little's law at the integer N the bisection picked: N / latency(N) >= rate > (N-1) / latency(N-1).
    n = int(heavy.concurrency)
    assert s.continuous_batching(n, 512, 128).requests_per_second >= 10.0
    assert s.continuous_batching(n - 1, 512, 128).requests_per_second < 10.0
    assert heavy.tokens_per_second == pytest.approx(10.0 * 128)
    over = s.under_load(100.0, 512, 128)
    assert not over.stable and math.isinf(over.ttft_p99) and "grows without bound" in over.warnings[0]
    assert over.tokens_per_second == pytest.approx(over.capacity_requests_per_second * 128)
    # M/M/1: P(W > t) = rho exp(-(1 - rho) t / S); at rho = 0.5 the median wait is 0.
    assert mm1_wait_quantile(0.5, 1.0, 0.5) == 0.0
    assert mm1_wait_quantile(0.9, 1.0, 0.99) == pytest.approx(10.0 * math.log(0.9 / 0.01))


def test_iteration_overhead_is_paid_once_per_engine_iteration() -> None:
    """An engine that does not overlap its CPU work with the GPU leaves a fixed bubble per
    iteration: vLLM 0.5's single-step scheduler, "about 4ms of GPU bubble" per decode step
    (vllm-project/vllm RFC on multi-step scheduling, issue 6854, Motivation). Every decode
    step and prefill pays it once; a continuous-batching iteration pays it once for its
    decode step and the prefills it admits; it is cited in the lineage; the default is none."""
    plain = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    vllm = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, iteration_overhead="serving_iteration_overhead_vllm")
    assert vllm.iteration_overhead == pytest.approx(4e-3)
    assert vllm.decode_step(600, 8).time == pytest.approx(plain.decode_step(600, 8).time + 4e-3)
    assert vllm.prefill(512).time == pytest.approx(plain.prefill(512).time + 4e-3)
    a, b = plain.solve(512, 128, 8), vllm.solve(512, 128, 8)
    assert b.latency == pytest.approx(a.latency + 128 * 4e-3)
    ca, cb = plain.continuous_batching(32, 512, 128), vllm.continuous_batching(32, 512, 128)
    assert cb.iteration == pytest.approx(ca.iteration + 4e-3)
    assert "assumptions/serving_iteration_overhead_vllm#quantity" in vllm.lineage
    assert ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, iteration_overhead=0.002).iteration_overhead == 0.002
    with pytest.raises(MlsysimError, match="iteration_overhead"):
        ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, iteration_overhead=-1.0)


def test_request_overhead_is_paid_per_sequence_of_each_engine_iteration() -> None:
    """The part of an engine's CPU time between steps that grows with the batch: vLLM 0.5's
    "sampling time, prepare input time, process_model_output time, and scheduler time",
    "When BS is 200, all this together can be 20ms" (vllm-project/vllm issue 6801, comment
    of 2024-08-08), 0.08 ms per request once the RFC's ~4 ms fixed bubble is taken off. A
    pass of B sequences pays B x that beside the fixed bubble; a stall-free chunked iteration
    pays it for its decoding sequences and its prefill chunks; it is cited in the lineage."""
    plain = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    vllm = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, iteration_overhead="serving_iteration_overhead_vllm",
                        request_overhead="serving_request_overhead_vllm")
    assert vllm.request_overhead == pytest.approx(0.08e-3)
    assert vllm.decode_step(600, 200).time == pytest.approx(plain.decode_step(600, 200).time + 20e-3)
    assert vllm.decode_step(600, 200).runtime == pytest.approx(20e-3)
    assert vllm.prefill(512, 4).time == pytest.approx(plain.prefill(512, 4).time + 4e-3 + 4 * 0.08e-3)
    a, b = plain.solve(512, 128, 8), vllm.solve(512, 128, 8)
    assert b.latency == pytest.approx(a.latency + 128 * (4e-3 + 8 * 0.08e-3))
    # 32 decoding sequences and 2048 / 512 = 4 prefill chunks in each stall-free iteration.
    ca = plain.continuous_batching(32, 2048, 128, token_budget=544)
    cb = vllm.continuous_batching(32, 2048, 128, token_budget=544)
    assert cb.iteration == pytest.approx(ca.iteration + 4e-3 + (32 + 512 / 512) * 0.08e-3, rel=1e-6)
    assert "assumptions/serving_request_overhead_vllm#quantity" in vllm.lineage
    assert ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, request_overhead=1e-4).request_overhead == 1e-4
    with pytest.raises(MlsysimError, match="request_overhead"):
        ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100, request_overhead=-1.0)


def test_block_scaled_weights_carry_their_scales() -> None:
    """NVFP4 stores 16 E2M1 elements (4 bits) per FP8 E4M3 scale, 4.5 bits a weight; MXFP4
    32 per E8M0 scale, 4.25 bits (OCP MX specification v1.0; Modular MAX fp4_utils:
    NVFP4_SF_VECTOR_SIZE = 16, MXFP4_SF_VECTOR_SIZE = 32)."""
    fp16 = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.B200).memory(1, 128)
    nv = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.B200, precision="fp4", weight_precision="nvfp4",
                      kv_precision="fp16").memory(1, 128)
    mx = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.B200, precision="fp4", weight_precision="MXFP4",
                      kv_precision="fp16").memory(1, 128)
    assert nv.weights == pytest.approx(fp16.weights * 4.5 / 16)
    assert mx.weights == pytest.approx(fp16.weights * 4.25 / 16)
    assert nv.kv_cache == pytest.approx(fp16.kv_cache)


def test_a_block_scaled_format_is_no_compute_precision() -> None:
    with pytest.raises(MlsysimError, match="nvfp4 is a storage format .* compute in fp4"):
        ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.B200, precision="nvfp4")
    with pytest.raises(MlsysimError, match="unknown storage format 'fp5'"):
        ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.B200, precision="fp4", weight_precision="fp5")


def test_the_schema_accepts_exactly_the_formats_the_solvers_price() -> None:
    """The catalog schema lists the numeric and storage formats without importing the
    solvers; both lists must name the same formats."""
    from mlsysim.catalog.schemas import common
    from mlsysim.solvers import roofline

    assert set(common.PRECISIONS) == set(roofline.PRECISIONS)
    assert set(common.STORAGE_FORMATS) == set(roofline.STORAGE_FORMATS)
