"""Accuracy of the roofline serving model against published batch-1 measurements.

Nothing here is fitted: the efficiencies are the cited catalog assumptions, per kernel
class and scoped to the A100 at 16 bits (gemm_efficiency_nvidia_16bit: optimised GEMM
"up to 80-90%", lower end 80%, and attention_efficiency_a100_fp16: FlashAttention-2 "50-73%",
lower end 50%, both from Dao 2023, arXiv 2307.08691; decode_memory_bandwidth_efficiency:
88% of peak HBM bandwidth measured on an A100),
the fixed overheads are cited too (kernel_launch_overhead: about 3 us per CUDA kernel,
NVIDIA developer forum; nccl_allreduce_base_latency and nccl_nvlink_step_latency:
NCCL's own ring/LL latency model, 6.6 us + 2 (p - 1) x 0.6 us per all-reduce), the
weight GEMMs' wave quantization uses the A100's cited SM count (108, compute_units) and
the cited cuBLAS tile (256 x 128, one tile per SM per wave: NVIDIA's Matrix
Multiplication Background guide, gemm_tile_*.yaml), the kernel count comes from the
architecture (transformer.kernels_per_forward_pass), and the hardware and models are
catalog records. Each case states the published number, where it was read, and the
error the model makes; a case outside the 25% target would be marked
xfail(strict=True) in KNOWN_MISSES, so a change that brings it inside the target makes
the suite say so (none is outside now).
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

import pytest

REAL_CATALOG = Path(__file__).resolve().parent.parent / "catalog"

TARGET = 0.25          # each case within 25%
MEDIAN_TARGET = 0.15   # median absolute error within 15%

# GPT 13B as benchmarked by NVIDIA FasterTransformer and quoted by kipply. Layers and
# hidden size are the figures the blog is said to state (see the FasterTransformer
# cases below for what was and was not read); the rest follows GPT-3's design and is
# marked estimated. Heads do not change FLOPs or KV bytes (heads x head dim = hidden).
GPT_13B = """\
id: gpt_13b_fastertransformer
name: GPT 13B (FasterTransformer benchmark model)
aliases: [GPT_13B_FT]
family: language
architecture: transformer
parameters: {value: 13, unit: billion, source: kipply-inference-arithmetic, method: estimated, note: "the benchmark's name"}
transformer:
  layers: {value: 40, source: kipply-inference-arithmetic, method: estimated, note: "40 layers as quoted in the task brief; not read in the stored copy of the blog"}
  hidden_size: {value: 5120, source: kipply-inference-arithmetic, method: estimated, note: "hidden 5120 as quoted in the task brief; not read in the stored copy of the blog"}
  heads: {value: 40, source: kipply-inference-arithmetic, method: estimated, note: "head dim 128; heads x head dim = hidden"}
  ffn_size: {value: 20480, source: kipply-inference-arithmetic, method: estimated, note: "4 x hidden, the GPT convention"}
  vocab_size: {value: 50257, source: hf-gpt2-xl-config, method: estimated, note: "GPT-2 BPE vocabulary"}
  context_length: {value: 2048, source: kipply-inference-arithmetic, method: estimated, note: "GPT-3 context"}
  mlp: plain
  tied_embeddings: true
  norm: layernorm
  position_embedding: learned
  bias: true
"""

@pytest.fixture(scope="module")
def ft_catalog(tmp_path_factory: pytest.TempPathFactory):
    """The real catalog (the A100 40GB record, the cited assumptions and every record and
    source they lean on) plus the test-local GPT 13B model (not a catalog record: its
    architecture rests on a secondary source that could not be read)."""
    from mlsysim.catalog import load_catalog

    root = tmp_path_factory.mktemp("ft") / "catalog"
    shutil.copytree(REAL_CATALOG, root, ignore=shutil.ignore_patterns("verification.json"))
    (root / "models/language/gpt_13b_fastertransformer.yaml").write_text(GPT_13B, encoding="utf-8")
    return load_catalog(root)


def _error(predicted_s: float, measured_ms: float) -> float:
    return (predicted_s * 1e3 - measured_ms) / measured_ms


def _trt_ttft(model: str, tp: int, prompt: int) -> float:
    from mlsysim import Hardware, ServingModel, Systems

    hardware = Systems.Nodes.DGX_A100 if tp > 1 else Hardware.Cloud.A100
    return ServingModel(model, hardware, precision="fp16", tp=tp).prefill(prompt, batch_size=1).time


def _ft(catalog, tp: int, phase: str) -> float:
    from mlsysim import ServingModel

    s = ServingModel(catalog.get("models", "GPT_13B_FT"), catalog.get("hardware", "A100_40GB"), precision="fp16", tp=tp)
    return s.prefill(512, 1).time if phase == "prefill" else s.decode_step(512, 1).time


# (case id, model, tensor parallelism, prompt tokens, published ms)
TRT_CASES = [
    ("trt-llama7b-in128", "llama2_7b", 1, 128, 16.0),
    ("trt-llama7b-in2048", "llama2_7b", 1, 2048, 133.0),
    ("trt-llama70b-tp4-in128", "llama2_70b", 4, 128, 47.0),
    ("trt-llama70b-tp4-in2048", "llama2_70b", 4, 2048, 377.0),
]
# (case id, tensor parallelism, phase, published ms)
FT_CASES = [
    ("ft-13b-prefill-512", 1, "prefill", 63.17),
    ("ft-13b-decode", 1, "decode", 22.0),
    ("ft-13b-tp2-prefill-512", 2, "prefill", 45.45),
    ("ft-13b-tp2-decode", 2, "decode", 13.5),
]
# The signed error each case makes today, recorded on purpose: a change to the model
# that moves any of them by more than one percentage point, better or worse, fails
# test_errors_are_as_recorded until the new figure is written here deliberately.
RECORDED_ERRORS = {
    "trt-llama7b-in128": -0.138,
    "trt-llama7b-in2048": +0.043,
    "trt-llama70b-tp4-in128": -0.039,
    "trt-llama70b-tp4-in2048": +0.050,
    "ft-13b-prefill-512": +0.060,
    "ft-13b-decode": -0.078,
    "ft-13b-tp2-prefill-512": -0.078,
    "ft-13b-tp2-decode": -0.157,
}
RECORD_TOLERANCE = 0.01  # one percentage point
# Cases this roofline misses by more than 25% (none, as last measured).
# Errors as last measured (roofline with per-kernel-class efficiencies: weight GEMMs at 80%,
# attention at 50% of the A100's 16-bit peak; cited fixed overheads; GEMM wave quantization;
# tensor-parallel all-reduces at NCCL's cited NVLink bus bandwidth, 76.67% of line rate on A100;
# every kernel's activation traffic where it leaves the A100's 40 MB L2):
# trt-llama7b-in128 -13.8%, trt-llama7b-in2048 +4.3%, trt-llama70b-tp4-in128 -3.9%,
# trt-llama70b-tp4-in2048 +5.0%, ft-13b-prefill-512 +6.0%, ft-13b-decode -7.8%,
# ft-13b-tp2-prefill-512 -7.8%, ft-13b-tp2-decode -15.7%; median |error| 6.9%.
# Before the activation traffic the two 2,048-token prompts were +0.2% and +0.0% (median also 6.9%).
# At the NVLink line rate: the two TP4 cases were -4.9% and -2.2%.
# With one 76% prefill efficiency for every kernel (Pope et al. 2022, before the per-kernel
# records): -9.7%, +3.4%, -0.7%, +1.6%, +11.0%, -7.8%, -3.6%, -15.7%; median 5.7%.
# Before the wave term: -46.5%, -9.8%, -46.1%, -11.4%, -9.6%, -7.8%, -31.4%, -15.7%; median 13.6%.
KNOWN_MISSES: set[str] = set()


def _mark(case_id: str):
    if case_id in KNOWN_MISSES:
        return pytest.param(case_id, marks=pytest.mark.xfail(strict=True, reason="roofline misses this case by >25%; see docstring"))
    return case_id


@pytest.mark.parametrize("case_id", [_mark(c[0]) for c in TRT_CASES])
def test_tensorrt_llm_first_token_latency(case_id: str) -> None:
    """TensorRT-LLM v0.5, A100 GPUs (FP16), batch 1, 1st Token Latency (ms):
    LLaMA 7B TP1: 16 (input 128), 133 (input 2048); LLaMA 70B TP4: 47 (128), 377 (2048).
    Source: tensorrt-llm-v0.5-perf, docs/source/performance.md at commit 138f96d4,
    'Low Latency' section ('The following data is from TensorRT-LLM v0.5'), 'A100 GPUs (FP16)' table.
    The doc's methodology names the models Llama2-7b and Llama2-70b (catalog llama2_7b,
    llama2_70b). It does not say 40 or 80 GB; the 80 GB part (catalog A100, DGX_A100 for TP4)
    is assumed because the same page's A100 throughput runs (batch 384 for LLaMA 7B at
    128+128 tokens) need more than 40 GB for weights plus KV cache.
    Short prompts (128 tokens) sit near the A100 ridge point (about 128 FLOP per weight byte).
    What decides them is how few thread-block tiles their GEMMs have: with 128 rows, a GEMM of
    N output columns has ceil(N / 128) tiles of 256 x 128 for the 108 SMs (LLaMA 7B: 96 for
    Q/K/V, 32 for the attention output and MLP down, 86 for MLP up and gate), so the SMs are
    busy 54% of the weight-GEMM time (gemm_utilization 0.538); with the GEMMs at 80% and the
    attention at 50% of the 16-bit peak, compute takes 12.6 ms; with 1.2 ms of kernel launches
    (387 kernels x 3 us) the model predicts 13.8 ms against 16 ms (-13.8%). LLaMA 70B on TP4:
    per GPU 20 tiles for Q/K/V, 64 for the row-split attention output and MLP down, 56 for up
    and gate, utilization 0.458, compute 38.5 ms, plus 2.9 ms of launches and 3.3 ms of
    all-reduces: 44.7 ms against 47 ms (-4.9%). The 2048-token prompts fill 8 bands of 256 rows
    (utilization 0.87): +0.2% and -2.2%. Without the wave term the 128-token cases were -46.5%
    and -46.1% and the 2048-token ones -9.8% and -11.4% (with one 76% efficiency for all kernels)."""
    _, model, tp, prompt, measured = next(c for c in TRT_CASES if c[0] == case_id)
    assert abs(_error(_trt_ttft(model, tp, prompt), measured)) <= TARGET


@pytest.mark.parametrize("case_id", [_mark(c[0]) for c in FT_CASES])
def test_fastertransformer_gpt13b(case_id: str, ft_catalog) -> None:
    """FasterTransformer GPT 13B (40 layers, hidden 5120), A100 40GB, fp16, batch 1, context 512:
    prefill 63.17 ms and 22.0 ms per generated token on 1 GPU; 45.45 ms and 13.5 ms/token with
    tensor parallelism 2 -- as quoted from kipply, "Transformer Inference Arithmetic" (2022),
    https://kipp.ly/transformer-inference-arithmetic/ (source kipply-inference-arithmetic).
    NOT READ: these four numbers and the 40-layer / 5120-hidden shape come from the task
    brief; two searches (for "63.17" and for the post by title) did not return the part of
    the blog that states them, so they are unconfirmed. The A100 40GB figures (1555 GB/s,
    312 TFLOP/s FP16, NVLink 600 GB/s both directions) are read from catalog records.
    Each pass adds 1.21 ms of kernel launches (403 kernels x 3 us); with TP2, 80 all-reduces
    each pay NCCL's modelled fixed latency (7.8 us) on top of their bandwidth term.
    A 512-token prefill makes 2 bands of 256 rows; on 1 GPU the Q/K/V GEMM (N 15360) has 240
    tiles (3 waves of 108), the attention output and MLP down (N 5120) 80 tiles (1 wave, 74%
    busy), MLP up (N 20480) 320 tiles: prefill 67.0 ms against 63.17 ms (+6.0%; -9.6% without
    the wave term and with one 76% efficiency). With TP2 the column-split GEMMs halve their
    tiles (Q/K/V 120: 2 waves, 56% busy) while the row-split ones keep theirs, so the per-GPU
    compute is not half of the 1-GPU compute: 41.9 ms against 45.45 ms (-7.8%). Decode
    (one row per GEMM) is memory-bound and unchanged: -7.8% (1 GPU) and -15.7% (TP2)."""
    _, tp, phase, measured = next(c for c in FT_CASES if c[0] == case_id)
    assert abs(_error(_ft(ft_catalog, tp, phase), measured)) <= TARGET


def test_errors_are_as_recorded(ft_catalog, record_property) -> None:
    """Every case's signed error, recorded in the test report (`-rA` shows them), equals the
    error written in RECORDED_ERRORS to within one percentage point, and the median absolute
    error across the eight cases meets the 15% target (6.9% as last measured; 13.6% without
    the GEMM wave-quantization term)."""
    errors = {}
    for case_id, model, tp, prompt, measured in TRT_CASES:
        errors[case_id] = _error(_trt_ttft(model, tp, prompt), measured)
    for case_id, tp, phase, measured in FT_CASES:
        errors[case_id] = _error(_ft(ft_catalog, tp, phase), measured)
    for case_id, err in errors.items():
        record_property(case_id, f"{err:+.1%}")
        assert (abs(err) > TARGET) == (case_id in KNOWN_MISSES), (case_id, err)
    median = statistics.median(abs(e) for e in errors.values())
    record_property("median_abs_error", f"{median:.1%}")
    assert median <= MEDIAN_TARGET, errors
    moved = {c: f"recorded {RECORDED_ERRORS[c]:+.1%}, now {e:+.1%}" for c, e in errors.items()
             if abs(e - RECORDED_ERRORS[c]) > RECORD_TOLERANCE}
    assert not moved, f"accuracy moved; re-record RECORDED_ERRORS on purpose: {moved}"
