"""LLM serving: prefill (time to first token), decode (inter-token latency), KV cache,
memory, the largest batch that fits, continuous batching and tensor parallelism.
Memory fits use the usable capacity the device reports (`memory.capacity_usable`,
e.g. 81559 MiB for an H100 80GB) when the record states it, else the marketed figure;
`MemoryBreakdown.capacity_basis` says which (`terms.memory_capacity`).

    >>> from mlsysim import ServingModel, Models, Hardware
    >>> s = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H100)
    >>> r = s.solve(prompt_tokens=512, output_tokens=128, batch_size=8)
    >>> f"TTFT {r.ttft * 1e3:.3g} ms, ITL {r.itl * 1e3:.3g} ms, up to {r.max_batch_size} sequences"
    'TTFT 92.7 ms, ITL 6.56 ms, up to 828 sequences'

Prefill and every decode step are roofline passes (`engine.pass_cost`): a decode
step reads all weights (or, for a mixture of experts, the experts its batch is
routed to) plus the KV cache of every sequence in the batch, so a large enough
batch or context does become compute-bound. The weight GEMMs and the attention
kernels each have their own roofline and their times add
(`roofline.kernel_roofline_time`): at a large decode batch the GEMMs are
compute-bound while the attention still streams the KV cache. Every kernel also reads its
input activations and writes its output (`pass_overheads.activation_traffic`): a GEMM's join its
weights, the attention's join the KV cache, and the element-wise kernels (norms, residual
adds, rotary embedding, the MLP's activation) are bound by that traffic alone, unless a
kernel's working set fits in the GPU's cited L2. A long prompt on a device whose compute
far outruns its memory (an edge SoC at fp4) is bound by it. Weights and KV cache may be stored in
narrower formats than the compute precision (e.g. int4 weights, fp8 KV cache).
To the roofline each pass adds its cited fixed overheads: the launch of every
kernel (`pass_overheads.launch_overhead`) and, with tensor parallelism, the latency of every
all-reduce (`link_terms.allreduce_latency`: NCCL's own latency model on NVIDIA GPUs, a measured
small-message all-reduce time where the catalog cites one, e.g. RCCL on 8 MI300X). The compute time of
the weight GEMMs is stretched by their tile and wave quantization on the GPU's SMs
(`gemm_waves.wave_quantization`): a pass of batch x new tokens makes GEMMs with that many rows
and, per GPU, N / tp columns (Q/K/V, MLP up/gate, output projection) or N columns
(attention output, MLP down), whose tiles may fill the last wave of SMs only in part.
At fp8 each pass also casts the 16-bit inputs of the Q/K/V and MLP up/gate projections to
FP8 at the cited cast rate (`pass_overheads.input_cast`): the cited FP8 GEMM figures leave it out.

References
----------
Pope et al. 2022, "Efficiently Scaling Transformer Inference", arXiv 2211.05102 (prefill/decode costs, KV cache).
Shoeybi et al. 2019, "Megatron-LM", arXiv 1909.08053 (tensor parallelism: two all-reduces per layer).
Yu et al. 2022, "Orca", OSDI '22 (iteration-level scheduling = continuous batching).
Kwon et al. 2023, "Efficient Memory Management for LLM Serving with PagedAttention", arXiv 2309.06180.
Hockney 1994, "The communication challenge for MPP: Intel Paragon and Meiko CS-2", Parallel
Computing 20(3) (a message costs a fixed latency plus its size over the bandwidth).
NVIDIA NCCL, src/graph/tuning.cc (the all-reduce latency model: base + 2 (p - 1) ring steps).
NVIDIA, "Matrix Multiplication Background User's Guide", DU-09799-001, 2023 (tile and wave quantization).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import warnings

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError, NotFoundError
from mlsysim.lineage import Lineage
from mlsysim.solvers.gemm_waves import wave_quantization
from mlsysim.solvers.kernel_efficiency import pass_efficiencies, routed_gemm_share
from mlsysim.solvers.link_terms import allreduce_latency, collective_efficiencies
from mlsysim.solvers.pass_overheads import activation_traffic, input_cast, launch_overhead
from mlsysim.solvers.plausibility import bound_warnings, on_chip_memory, token_rate_warnings
from mlsysim.solvers.results import QuantityView
from mlsysim.solvers.roofline import (
    BYTES_PER_ELEMENT,
    STORAGE_BYTES_PER_ELEMENT,
    cached_kv_elements,
    check_storage_format,
    gemm_bytes,
    gemm_flops,
    kernel_compute_time,
    kernel_roofline_time,
    pass_cost,
    ring_allreduce_time,
    weight_gemm_stretch,
)
from mlsysim.solvers.terms import (
    ACTIVATION_BYTES,
    active_params_per_token,
    cited_assumption,
    hardware_terms,
    model_terms,
    public_token_record,
)
from mlsysim.solvers.transformer import TransformerShape

# How a decode attention kernel reads grouped-query K/V heads (ServingModel decode_kv_reads).
DECODE_KV_READS = ("per_kv_head", "per_query_head")


@dataclass(frozen=True)
class PassTime(QuantityView):
    """One forward pass on one GPU of the tensor-parallel group [s, FLOP, B].
    time = max(weight-GEMM compute, weight read + their activations) + max(attention compute,
    KV traffic + queries and outputs) + element-wise traffic + launch + communication + runtime
    + quantization (`roofline.kernel_roofline_time`, `pass_overheads.activation_traffic`,
    `pass_overheads.input_cast`); `compute` and `memory` are the totals of the kernel classes,
    `attention_compute` and `attention_memory` the attention kernels' share, `elementwise`
    the element-wise kernels' (norms, residual adds, rotary embedding, the MLP's activation:
    memory-bound, part of `memory`); `communication` includes
    `communication_latency`, the fixed (size-independent) part of the all-reduces;
    `compute` includes the tile/wave quantization of the weight GEMMs (`gemm_utilization`)."""

    time: float
    compute: float
    memory: float
    communication: float
    flops: float
    bytes_moved: float
    launch: float = 0.0
    communication_latency: float = 0.0
    gemm_utilization: float = 1.0  # weight-GEMM time without tile/wave quantization / with it
    runtime: float = 0.0  # the serving engine's runtime cost of the iteration (ServingModel iteration_overhead, request_overhead)
    attention_compute: float = 0.0  # the attention kernels' FLOP time, part of `compute`
    attention_memory: float = 0.0  # their KV-cache traffic time, part of `memory`
    # casting the linear layers' 16-bit inputs to the compute precision (pass_overheads.input_cast)
    quantization: float = 0.0
    elementwise: float = 0.0  # the element-wise kernels' activation traffic time, part of `memory`

    UNITS = {"time": "s", "compute": "s", "memory": "s", "communication": "s", "flops": "FLOP", "bytes_moved": "B",
             "launch": "s", "communication_latency": "s", "gemm_utilization": "", "runtime": "s",
             "attention_compute": "s", "attention_memory": "s", "quantization": "s", "elementwise": "s"}

    @property
    def weight_gemm(self) -> float:
        """The weight GEMMs' roofline time [s]: the larger of their compute and their traffic
        (weights and activations)."""
        gemm_compute = self.compute - self.attention_compute
        gemm_memory = self.memory - self.attention_memory - self.elementwise
        return gemm_compute if gemm_compute > gemm_memory else gemm_memory

    @property
    def attention_time(self) -> float:
        """The attention kernels' roofline time [s]: the larger of their compute and their KV traffic."""
        return self.attention_compute if self.attention_compute > self.attention_memory else self.attention_memory

    @property
    def bottleneck(self) -> str:
        return "Compute" if self.compute > self.memory else "Memory"


def combine_passes(passes: Any) -> PassTime:
    """Passes run one after another (the chunks of a chunked prefill) as one PassTime: times,
    FLOPs and bytes add [s, FLOP, B]; `gemm_utilization` is the FLOP-weighted mean of the
    passes' [1]."""
    total = [sum(getattr(p, name) for p in passes) for name in _ADDITIVE]
    flops = sum(p.flops for p in passes)
    utilization = sum(p.flops * p.gemm_utilization for p in passes) / flops if flops else 1.0
    fields = dict(zip(_ADDITIVE, total))
    return PassTime(gemm_utilization=utilization, **fields)


_ADDITIVE = ("time", "compute", "memory", "communication", "flops", "bytes_moved", "launch", "communication_latency",
             "runtime", "attention_compute", "attention_memory", "quantization", "elementwise")


@dataclass(frozen=True)
class MemoryBreakdown(QuantityView):
    """Bytes resident per GPU [B]."""

    weights: float
    kv_cache: float
    capacity: float
    # Which figure `capacity` is: "usable" (memory.capacity_usable, what the device reports),
    # "marketed" (memory.capacity) or "none" (terms.memory_capacity).
    capacity_basis: str = "marketed"

    UNITS = {"weights": "B", "kv_cache": "B", "capacity": "B", "total": "B"}

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache

    @property
    def fits(self) -> bool:
        return self.total <= self.capacity

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "kv_cache": self.kv_cache, "total": self.total, "capacity": self.capacity,
                "capacity_basis": self.capacity_basis}


@dataclass(frozen=True)
class ServingProfile(QuantityView):
    """A static batch: `batch_size` requests of `prompt_tokens` in, `output_tokens` out.
    Times [s], rates [1/s], bytes [B], all SI floats; `quantity(name)` for a pint view."""

    model: str
    hardware: str
    precision: str
    weight_precision: str
    kv_precision: str
    tp: int
    batch_size: int
    prompt_tokens: int
    output_tokens: int
    ttft: float                  # prefill of the whole batch; it emits the first token
    itl: float                   # mean decode step (inter-token latency)
    itl_first: float
    itl_last: float
    latency: float               # ttft + (output_tokens - 1) decode steps
    tokens_per_second: float     # output tokens of the batch / latency
    decode_tokens_per_second: float  # batch / itl
    prefill: PassTime
    kv_cache_per_token: float    # bytes per token per sequence, per GPU
    memory: MemoryBreakdown
    max_batch_size: int
    lineage: Lineage = field(repr=False)
    warnings: tuple[str, ...] = ()   # violated physical bounds (plausibility.bound_warnings)
    unpriced: tuple[str, ...] = ()   # fixed costs no cited figure prices on this hardware (ServingModel.unpriced)
    cuda_graph: bool = False         # every pass replayed as a CUDA graph (ServingModel cuda_graph)

    UNITS = {"ttft": "s", "itl": "s", "itl_first": "s", "itl_last": "s", "latency": "s", "tokens_per_second": "1/s",
             "decode_tokens_per_second": "1/s", "kv_cache_per_token": "B"}

    @property
    def tensor_parallel(self) -> int:
        """The tensor-parallel size (the same as `tp`, the name every solver uses)."""
        return self.tp

    @property
    def feasible(self) -> bool:
        return self.memory.fits

    @property
    def bottleneck_prefill(self) -> str:
        return self.prefill.bottleneck

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "hardware": self.hardware, "precision": self.precision,
            "weight_precision": self.weight_precision, "kv_precision": self.kv_precision,
            "tensor_parallel": self.tp, "batch_size": self.batch_size,
            "prompt_tokens": self.prompt_tokens, "output_tokens": self.output_tokens,
            "cuda_graph": self.cuda_graph, "feasible": self.feasible,
            "ttft_s": self.ttft, "itl_s": self.itl, "itl_first_s": self.itl_first, "itl_last_s": self.itl_last,
            "latency_s": self.latency, "tokens_per_second": self.tokens_per_second,
            "decode_tokens_per_second": self.decode_tokens_per_second,
            "prefill": {"bottleneck": self.prefill.bottleneck, "compute_s": self.prefill.compute,
                        "memory_s": self.prefill.memory, "kernel_launch_s": self.prefill.launch,
                        "communication_s": self.prefill.communication,
                        "communication_latency_s": self.prefill.communication_latency,
                        "quantization_s": self.prefill.quantization,
                        "gemm_utilization": self.prefill.gemm_utilization,
                        "flops": self.prefill.flops, "bytes": self.prefill.bytes_moved},
            "kv_cache_bytes_per_token": self.kv_cache_per_token,
            "memory_bytes_per_gpu": self.memory.to_dict(),
            "max_batch_size": self.max_batch_size,
            "warnings": list(self.warnings),
            "unpriced": list(self.unpriced),
            "catalog": self.lineage.catalog,
            "lineage": [e.to_dict() for e in self.lineage.entries()],
        }


@dataclass(frozen=True)
class ContinuousBatchingProfile(QuantityView):
    """Steady state of iteration-level scheduling with `concurrent_requests` in flight."""

    concurrent_requests: int
    prompt_tokens: int
    output_tokens: int
    iteration: float          # one decode step for all requests + the amortised prefills [s]
    ttft: float               # prefill of one request, not counting queueing [s]
    request_latency: float    # ttft + (output_tokens - 1) iterations [s]
    tokens_per_second: float  # output tokens per second, all requests
    requests_per_second: float
    memory: MemoryBreakdown   # weights + the mean KV occupancy (paged allocation)
    lineage: Lineage = field(repr=False)
    warnings: tuple[str, ...] = ()   # violated physical bounds (plausibility.bound_warnings)
    token_budget: int | None = None  # chunked prefill: tokens one iteration carries (None: whole prefills)

    UNITS = {"iteration": "s", "ttft": "s", "request_latency": "s", "tokens_per_second": "1/s",
             "requests_per_second": "1/s"}

    @property
    def feasible(self) -> bool:
        return self.memory.fits


@dataclass(frozen=True)
class LoadProfile(QuantityView):
    """A continuous-batching server under Poisson arrivals of `arrival_rate` requests/s
    (see ServingModel.under_load). Times [s], rates [1/s]."""

    arrival_rate: float
    prompt_tokens: int
    output_tokens: int
    stable: bool              # False: arrivals exceed the most the server can finish
    concurrency: float        # mean requests in flight (Little's law)
    utilization: float        # prefill queue utilisation rho [1]
    ttft_p50: float
    ttft_p99: float
    ttft_mean: float
    itl: float                # one decode iteration with `concurrency` requests in flight
    request_latency: float    # mean TTFT + (output - 1) iterations
    tokens_per_second: float  # output tokens/s delivered (= arrival rate x output when stable)
    capacity_requests_per_second: float  # the most requests/s at the largest batch that fits
    warnings: tuple[str, ...] = ()
    prefill: float = 0.0      # the prefill queue's service time [s] (one prefill, or a prompt's chunked iterations)
    token_budget: int | None = None  # chunked prefill: tokens one iteration carries (None: whole prefills)

    UNITS = {"arrival_rate": "1/s", "ttft_p50": "s", "ttft_p99": "s", "ttft_mean": "s", "itl": "s",
             "request_latency": "s", "tokens_per_second": "1/s", "capacity_requests_per_second": "1/s",
             "prefill": "s"}


def mm1_wait_quantile(rho: float, service: float, q: float) -> float:
    """Quantile `q` of the queueing delay [s] of an M/M/1 queue with utilisation `rho` [1] and
    mean service time `service` [s]: P(W > t) = rho exp(-(1 - rho) t / service), so
    t_q = service / (1 - rho) x ln(rho / (1 - q)) when rho > 1 - q, else 0.

    References
    ----------
    Kleinrock 1975, "Queueing Systems, Volume 1: Theory", Sec. 3.2 (M/M/1 waiting time).
    """
    if rho <= 0 or rho <= 1.0 - q:
        return 0.0
    return service / (1.0 - rho) * math.log(rho / (1.0 - q))


def _sum_max_linear(a1: float, b1: float, a2: float, b2: float, c0: float, n: int) -> float:
    """Exact sum over i in [0, n) of max(a1 + b1 c, a2 + b2 c), c = c0 + i, in O(1):
    the two lines cross at most once, so the range splits into two linear sums."""
    def lin(a: float, b: float, i0: int, count: int) -> float:
        return count * (a + b * c0) + b * (count * i0 + count * (count - 1) / 2.0) if count > 0 else 0.0

    if n <= 0:
        return 0.0
    d0 = (a1 + b1 * c0) - (a2 + b2 * c0)  # first minus second at i = 0
    slope = b1 - b2
    if slope == 0:
        return lin(a1, b1, 0, n) if d0 >= 0 else lin(a2, b2, 0, n)
    # The lines meet at i = root; clamped to just outside [0, n] so that a tiny slope
    # (root overflowing to infinity) still splits the range correctly.
    root = min(max(-d0 / slope, -1.0), n + 1.0)
    if slope > 0:  # the second line leads before the crossing, the first after it
        k = min(max(math.ceil(root), 0), n)
        return lin(a2, b2, 0, k) + lin(a1, b1, k, n - k)
    k = min(max(math.floor(root) + 1, 0), n)
    return lin(a1, b1, 0, k) + lin(a2, b2, k, n - k)


class ServingModel:
    """A transformer served on one accelerator, or on `tp` accelerators of one node.

    Parameters
    ----------
    model : a transformer model record (or name).
    hardware : an accelerator record, or a node record (its accelerator, with the
        node's intra-node bandwidth for the all-reduces and its accelerator count as the
        largest tensor-parallel group); from the model's catalog.
    precision : compute precision; its dense peak must be in the hardware record.
    weight_precision, kv_precision : storage formats (default: `precision`): a numeric
        format or a block-scaled one (nvfp4, mxfp4), whose bytes include its block scales.
    tp : GPUs the weights, KV heads and FLOPs are split over (tensor parallelism) [1].
        (`tensor_parallel=` is the deprecated name of the same argument.)
    efficiency : achieved fraction of peak compute (weight GEMMs and attention); default the
        cited per-hardware, per-precision kernel efficiencies (`kernel_efficiency.pass_efficiencies`),
        a mixture of experts' routed-expert GEMMs at their own cited figure where one is
        scoped to the accelerator (`roofline.weight_gemm_stretch`).
    decode_kv_reads : "per_kv_head" (default: a decode attention kernel reads each cached K/V
        head once for the query heads that share it) or "per_query_head" (it reads the head
        once per query head, as the generation-phase kernel of TensorRT-LLM before its XQA
        kernels was reported to do: NVIDIA/TensorRT-LLM issue 407). Only grouped-query models
        differ; the decode KV traffic is then multiplied by query heads / KV heads, an upper
        bound since some re-reads may hit the L2 cache.
    iteration_overhead : the serving engine's fixed runtime cost per iteration [s] (CPU
        scheduling, sampling, input preparation the engine does not overlap with the GPU): a
        number of seconds, a cited assumption record or its id (e.g.
        "serving_iteration_overhead_vllm", vLLM 0.5's ~4 ms GPU bubble per decode step), or
        None (default: none, the engine hides it). Added once per engine iteration: every
        decode step and every prefill pass; in continuous batching one iteration pays it once
        for its decode step and the prefills it admits.
    request_overhead : the engine's runtime cost per running request per iteration [s] (the
        per-sequence Python work of scheduling, input preparation, sampling and output
        processing, which grows with the batch): seconds, a cited assumption record or its id
        (e.g. "serving_request_overhead_vllm", vLLM 0.5's ~0.08 ms per request per step), or
        None (default: none). Beside iteration_overhead, a pass of B sequences pays
        runtime = iteration_overhead + B x request_overhead.
    cuda_graph : each prefill pass and decode step is replayed as a captured CUDA graph (as
        TensorRT-LLM, vLLM and SGLang do for decode, and torch.cuda.graphs for any step): the
        host launches no kernel and each kernel costs the cited time per kernel of a graph
        replay on this accelerator (qualifier kernel: graph_launch) in place of the launch
        overhead; where none is cited, zero and `unpriced` says so. Default False.
    """

    def __init__(self, model: Record | str, hardware: Record | str, precision: str = "fp16",
                 weight_precision: str | None = None, kv_precision: str | None = None,
                 tp: int = 1, efficiency: float | None = None, *, tensor_parallel: int | None = None,
                 decode_kv_reads: str = "per_kv_head", iteration_overhead: Any = None,
                 request_overhead: Any = None, cuda_graph: bool = False):
        if tensor_parallel is not None:
            warnings.warn("ServingModel(tensor_parallel=) is deprecated; write tp=", DeprecationWarning, stacklevel=2)
            tp = tensor_parallel
        self._lineage = Lineage()
        catalog = inputs.catalog_of(model, hardware)
        hw = hardware if isinstance(hardware, Record) else _find_hardware_or_node(hardware, catalog)
        node = None
        if hw.kind == "nodes":
            node, hw = hw, hw.accelerator
        model_record = inputs.record(model, "models", catalog, "model")
        self.m = model_terms(model_record)
        if self.m.kind != "transformer":
            raise MlsysimError(f"{self.m.name} has no transformer architecture in the catalog; serving (prefill, decode, KV cache) needs one; use Engine.solve")
        if self.m.encoder:
            raise MlsysimError(f"{self.m.name} is an encoder: one forward pass, no token-by-token decode and no KV "
                               "cache; serving (TTFT, ITL) does not apply; use Engine.solve with seq_len")
        if on_chip_memory(hw):
            raise MlsysimError(
                f"not expressible: {hw.label}'s memory in the catalog is on-chip SRAM only; token generation there is "
                "bounded by the dataflow pipeline across the chip (or wafer) and, for weights beyond on-chip capacity, "
                "by streaming them from external memory (e.g. Cerebras MemoryX), neither of which the catalog "
                "describes; a roofline over on-chip SRAM bandwidth would be far too fast")
        heads = TransformerShape.from_record(model_record, Lineage()).heads
        if decode_kv_reads not in DECODE_KV_READS:
            raise MlsysimError(f"decode_kv_reads must be one of {', '.join(DECODE_KV_READS)}, got {decode_kv_reads!r}")
        # Cached K/V heads a decode step reads per K/V head it holds [1] (1: shared by its query-head group).
        self.kv_rereads = (heads / self.m.kv_heads if decode_kv_reads == "per_query_head" and not self.m.mla
                           and self.m.kv_heads else 1.0)
        self.decode_kv_reads = decode_kv_reads
        tp = inputs.parallel_degree(tp, "tensor parallelism", {"attention heads": heads, "KV heads": self.m.kv_heads},
                                    replicable=("KV heads",))
        self.h = hardware_terms(hw, precision)
        self.eff = pass_efficiencies(self.m, self.h, efficiency)
        self.routed_share = routed_gemm_share(self.m)
        self.precision = self.h.precision
        self.weight_precision = check_storage_format(weight_precision or self.precision, "weight precision")
        self.kv_precision = check_storage_format(kv_precision or self.precision, "KV-cache precision")
        self.bytes_w = STORAGE_BYTES_PER_ELEMENT[self.weight_precision]
        self.bytes_kv = STORAGE_BYTES_PER_ELEMENT[self.kv_precision]
        self.tp = inputs.positive_int(tp, "tensor parallelism")
        self.bytes_act = BYTES_PER_ELEMENT[self.precision]
        self.link = 0.0
        if self.tp > 1:
            # The all-reduces reach the cited NCCL bus bandwidth, a fraction of the line rate.
            links = collective_efficiencies(hw)
            self.link = self._link_bandwidth(node, hw) * links.intra
            self._lineage.merge(links.lineage)
            floor = self._lineage.use(cited_assumption(catalog, ACTIVATION_BYTES, "tensor-parallel all-reduces", "serving solver"))
            self.bytes_act = max(self.bytes_act, floor)
        # Cited fixed costs, per pass and per all-reduce [s] (zero where no cited figure applies).
        self.iteration_overhead = self._runtime_cost(iteration_overhead, catalog, "iteration_overhead")
        self.request_overhead = self._runtime_cost(request_overhead, catalog, "request_overhead")
        self.cuda_graph = bool(cuda_graph)
        self.launch = launch_overhead(self.m, self.h, self.cuda_graph)
        # A decode step's (in a graph, its attention kernel also costs its fixed run time).
        self.decode_launch = launch_overhead(self.m, self.h, self.cuda_graph, decode=True)
        self.allreduce_latency = allreduce_latency(hw, self.tp)
        self.cast = input_cast(self.m, self.h)
        self.activations = activation_traffic(self.m, self.h, self.tp, self.bytes_w)
        # The costs a pass has but no cited figure prices here, said rather than left silent.
        self.unpriced = tuple(part.unpriced for part in (self.launch, self.allreduce_latency, self.cast) if part.unpriced)
        self.waves = wave_quantization(self.m, self.h, self.tp)
        # Each GPU holds 1/tp of the weights; of the KV cache, its share of KV heads
        # (at least one head: a GQA model with fewer KV heads than GPUs replicates
        # them); latent attention caches one latent per token, which every GPU keeps.
        self.kv_share = 1.0 if self.m.mla else max(1.0 / self.tp, 1.0 / self.m.kv_heads)
        # The fastest published per-device token rate (a cited, empirical plausibility bound).
        self.token_record = public_token_record(catalog)
        self.hardware_name = node.label if node is not None else self.h.name
        for part in (self.m.lineage, self.h.lineage, self.eff.lineage, self.decode_launch.lineage,
                     self.allreduce_latency.lineage, self.waves.lineage, self.cast.lineage, self.activations.lineage):
            self._lineage.merge(part)

    @property
    def tensor_parallel(self) -> int:
        """The tensor-parallel size (the same as `tp`, the name every solver uses)."""
        return self.tp

    def _runtime_cost(self, given: Any, catalog: Any, name: str) -> float:
        """One of the engine's runtime costs [s] (`name`: per iteration, or per request per
        iteration): 0 for None; a cited assumption (a record or its id, noted in the lineage)
        or a number of seconds."""
        if given is None:
            return 0.0
        if isinstance(given, str):
            given = inputs.record(given, "assumptions", catalog, name)
        seconds = inputs.as_si(given, "time", name, self._lineage, positive=False)
        return inputs.finite_at_least(seconds, f"{name} [s]")

    def _link_bandwidth(self, node: Record | None, hw: Record) -> float:
        if node is not None:
            count = self._lineage.use(node.accelerator_count)
            if self.tp > count:
                raise MlsysimError(f"tensor parallelism {self.tp} exceeds {node.label}'s {count:g} accelerators")
            return inputs.per_direction(node.intra_node_bandwidth, self._lineage)
        if not hw.has("interconnect.bandwidth"):
            raise MlsysimError(f"{hw.label} has no interconnect.bandwidth in the catalog; tensor parallelism needs it "
                               f"(pass a node record instead: {node_hint(hw)})")
        return inputs.per_direction(hw.interconnect.bandwidth, self._lineage)

    @property
    def lineage(self) -> Lineage:
        return self._lineage

    def kv_cache_bytes_per_token(self) -> float:
        """KV-cache bytes per token of one sequence on one GPU: 2 x layers x KV heads x
        head dim (or the latent, for MLA) x bytes per element x this GPU's share; a
        sliding-window layer stops growing once its window is full (`kv_cache_bytes`)."""
        return self.m.kv_elements * self.bytes_kv * self.kv_share

    def kv_cache_bytes(self, tokens: float) -> float:
        """KV-cache bytes of one sequence holding `tokens` tokens on one GPU: tokens x
        `kv_cache_bytes_per_token`, except that sliding-window layers keep only their window
        (`cached_kv_elements`)."""
        return cached_kv_elements(self.m, tokens) * self.bytes_kv * self.kv_share

    def _pass(self, batch: float, new: float, past: float) -> PassTime:
        flops, moved, _ = pass_cost(self.m, batch, new, past, self.bytes_w, self.bytes_kv)
        # Split over the group: FLOPs and weights by tp, KV traffic by this GPU's share.
        kv_moved = batch * cached_kv_elements(self.m, past + new) * self.bytes_kv
        moved = (moved - kv_moved) / self.tp + kv_moved * self.kv_share
        if new == 1.0 and self.kv_rereads != 1.0:  # decode attention re-reading shared K/V heads
            moved += batch * cached_kv_elements(self.m, past) * self.bytes_kv * self.kv_share * (self.kv_rereads - 1.0)
        flops = flops / self.tp
        slowdown = self.waves.slowdown(batch * new)
        stretch = weight_gemm_stretch(slowdown, self.routed_share, self.eff.gemm, self.eff.expert)
        gemm = gemm_flops(self.m, batch, new) / self.tp
        # The activations the kernels read and write in device memory (already per GPU) join.
        weights, other, elementwise, moved = self.activations.joined(
            batch * new, gemm_bytes(self.m, batch, new, self.bytes_w) / self.tp, moved)
        bandwidth = self.h.bandwidth * self.eff.memory
        t_c = kernel_compute_time(gemm, flops - gemm, stretch, self.h.peak, self.eff.gemm, self.eff.attention)
        t_m = moved / bandwidth
        t_elementwise = elementwise / bandwidth
        t_roof = kernel_roofline_time(gemm, flops - gemm, stretch, self.h.peak, self.eff.gemm, self.eff.attention,
                                      weights, other, self.h.bandwidth, self.eff.memory) + t_elementwise
        t_launch = (self.decode_launch if new == 1.0 else self.launch).seconds
        t_comm = self._allreduce(batch * new)
        t_comm_fixed = self._allreduces() * self.allreduce_latency.seconds
        t_runtime = self.iteration_overhead + self.request_overhead * batch
        t_cast = self.cast.seconds * batch * new
        return PassTime(t_roof + t_launch + t_comm + t_runtime + t_cast, t_c, t_m, t_comm, flops, moved,
                        t_launch, t_comm_fixed, 1.0 / slowdown, t_runtime,
                        (flops - gemm) / (self.h.peak * self.eff.attention), other / bandwidth, t_cast, t_elementwise)

    def _allreduces(self) -> float:
        """All-reduces per pass: two per layer (after attention and after the MLP; Shoeybi et al. 2019)."""
        return 2.0 * self.m.layers if self.tp > 1 else 0.0

    def _allreduce(self, tokens: float) -> float:
        """The all-reduces of the hidden activations of one pass, on the critical path
        between layers [s]: each takes its fixed latency (NCCL's latency model, when it
        applies) + the ring's bandwidth term (Hockney's alpha-beta model). The latency is
        that of NCCL's lowest-latency protocol and the bandwidth the link's, the best case
        of each, so this is a lower bound on what NCCL itself would model."""
        if self.tp == 1:
            return 0.0
        message = tokens * self.m.hidden * self.bytes_act
        return self._allreduces() * (self.allreduce_latency.seconds + ring_allreduce_time(message, self.tp, self.link))

    def prefill(self, prompt_tokens: int, batch_size: int = 1, cached_tokens: int = 0,
                chunk_tokens: int | None = None) -> PassTime:
        """Time to first token: the passes over the prompt of every sequence.

        cached_tokens : leading prompt tokens whose K/V are already in the cache (a prefix-cache
            hit: a shared system prompt or an earlier turn of the conversation). Only the other
            prompt - cached tokens are computed, attending to the cached ones as past context;
            at least one token must be computed to emit the first output token.
        chunk_tokens : chunked prefill: the computed tokens go through in passes of at most this
            many tokens per sequence, each attending to the prompt before it (chunk i has
            cached + i x chunk tokens of past). Every chunk reads the weights again and pays the
            pass's fixed costs; a chunk's smaller activations may stay in the L2 where the whole
            prompt's would not (`pass_overheads.activation_traffic`), which is all a prefill alone can
            gain from chunking. What chunking buys is a bound on how long one pass holds the
            GPU, so that decode steps of other requests can run between (or beside) the chunks.
            None: one pass.

        The result sums the passes (`combine_passes`).

        References
        ----------
        Zheng et al. 2024, "SGLang: Efficient Execution of Structured Language Model Programs",
        arXiv 2312.07104 (RadixAttention: KV-cache reuse of shared prefixes); Kwon et al. 2023,
        "Efficient Memory Management for Large Language Model Serving with PagedAttention",
        SOSP '23 (shared prefix blocks).
        Agrawal et al. 2023, "SARATHI: Efficient LLM Inference by Piggybacking Decodes with
        Chunked Prefills", arXiv 2308.16369 (chunked prefill: each chunk attends to the earlier
        ones, and re-reads the weights).
        """
        inputs.positive_int(prompt_tokens, "prompt_tokens")
        inputs.positive_int(batch_size, "batch_size")
        inputs.whole_at_least(cached_tokens, "cached_tokens")
        if cached_tokens >= prompt_tokens:
            raise MlsysimError(f"cached_tokens ({cached_tokens}) must be below prompt_tokens ({prompt_tokens}): "
                               "the last prompt token is computed to emit the first output token")
        fresh = prompt_tokens - cached_tokens
        chunk = fresh if chunk_tokens is None else inputs.positive_int(chunk_tokens, "chunk_tokens")
        passes = [self._pass(float(batch_size), float(min(chunk, fresh - start)), float(cached_tokens + start))
                  for start in range(0, fresh, chunk)]
        return passes[0] if len(passes) == 1 else combine_passes(passes)

    def decode_step(self, context: int, batch_size: int = 1) -> PassTime:
        """One new token for each of `batch_size` sequences with `context` tokens cached."""
        inputs.whole_at_least(context, "context")
        inputs.positive_int(batch_size, "batch_size")
        return self._pass(float(batch_size), 1.0, float(context))

    def memory(self, batch_size: int, tokens: float) -> MemoryBreakdown:
        """Resident bytes per GPU with `batch_size` sequences of `tokens` cached tokens."""
        inputs.whole_at_least(batch_size, "batch_size")
        inputs.finite_at_least(tokens, "tokens")
        weights = self.m.params_total * self.bytes_w / self.tp
        return MemoryBreakdown(weights, batch_size * self.kv_cache_bytes(tokens), self.h.capacity,
                               self.h.capacity_basis)

    def max_batch_size(self, tokens: float) -> int:
        """The most sequences of `tokens` cached tokens that fit next to the weights (0 if the weights alone do not)."""
        inputs.finite_positive(tokens, "tokens")
        free = self.h.capacity - self.memory(0, tokens).weights
        per_sequence = self.kv_cache_bytes(tokens)
        return max(int(free // per_sequence), 0) if free > 0 else 0

    def _decode_total(self, batch: int, first_past: int, steps: int) -> float:
        """Sum of `steps` decode steps with past = first_past, first_past + 1, ..."""
        if steps <= 0:
            return 0.0
        s0, s1 = self.decode_step(0, batch), self.decode_step(1, batch)
        # The weight GEMMs and the element-wise kernels cost the same every step; the attention's
        # compute and KV traffic grow linearly with the context, each step bounded by the larger.
        attention = _sum_max_linear(s0.attention_compute, s1.attention_compute - s0.attention_compute,
                                    s0.attention_memory, s1.attention_memory - s0.attention_memory, first_past, steps)
        return attention + steps * (s0.weight_gemm + s0.elementwise + s0.communication + s0.launch + s0.runtime
                                    + s0.quantization)

    def solve(self, prompt_tokens: int = 512, output_tokens: int = 128, batch_size: int = 1, cached_tokens: int = 0,
              chunk_tokens: int | None = None, past_context: bool = False) -> ServingProfile:
        """A static batch from prompt to last token.

        TTFT = prefill(batch x prompt) (it emits the first token; `cached_tokens` of each prompt
        already in the prefix cache, `chunk_tokens` for chunked prefill: see `prefill`); then output_tokens - 1
        decode steps with past = prompt, ..., prompt + output_tokens - 2; ITL = their mean.
        Each step time = max(weight-GEMM FLOPs / (peak x eff_gemm), their weight and activation
        bytes / (bandwidth x eff_m)) + max(attention FLOPs / (peak x eff_attention), its KV and
        activation bytes / (bandwidth x eff_m)) + element-wise activation bytes / (bandwidth x
        eff_m) + kernels x launch overhead + all-reduces (fixed latency + bytes / link bandwidth).

        A prompt plus output longer than the model's stated context length is an error unless
        `past_context` is True: then the sequence is priced as run, every position like any
        other (an engine built for longer sequences runs them; what the model makes of positions
        it was not trained on is not the solver's question).
        """
        for name, value in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens), ("batch_size", batch_size)):
            inputs.positive_int(value, name)
        if self.m.context and prompt_tokens + output_tokens > self.m.context and not past_context:
            raise MlsysimError(f"prompt + output = {prompt_tokens + output_tokens} tokens exceeds {self.m.name}'s "
                               f"context length of {self.m.context:g} tokens; shorten the prompt or the output "
                               "(in Python, solve(..., past_context=True) prices a run that went past it)")
        pre = self.prefill(prompt_tokens, batch_size, cached_tokens, chunk_tokens)
        steps = output_tokens - 1
        decode = self._decode_total(batch_size, prompt_tokens, steps)
        first = self.decode_step(prompt_tokens, batch_size).time
        last = self.decode_step(prompt_tokens + max(steps - 1, 0), batch_size).time
        itl = decode / steps if steps else first
        latency = pre.time + decode
        total_tokens = prompt_tokens + output_tokens
        return ServingProfile(
            model=self.m.name, hardware=self.hardware_name, precision=self.precision,
            weight_precision=self.weight_precision, kv_precision=self.kv_precision,
            tp=self.tp, batch_size=batch_size, prompt_tokens=prompt_tokens,
            output_tokens=output_tokens, ttft=pre.time, itl=itl, itl_first=first, itl_last=last,
            latency=latency, tokens_per_second=batch_size * output_tokens / latency,
            decode_tokens_per_second=batch_size / itl, prefill=pre,
            kv_cache_per_token=self.kv_cache_bytes_per_token(),
            memory=self.memory(batch_size, total_tokens), max_batch_size=self.max_batch_size(total_tokens),
            lineage=self._lineage,
            warnings=(self.check(pre, "prefill") + self.check(self.decode_step(prompt_tokens, batch_size), "a decode step", first, decode=True)
                      + self.check_rate(batch_size * output_tokens / latency, "the batch")),
            unpriced=self.unpriced, cuda_graph=self.cuda_graph,
        )

    def steady_state_dict(self, cb: ContinuousBatchingProfile, prompt_tokens: int, output_tokens: int) -> dict[str, Any]:
        """`cb` (from `continuous_batching`) as JSON-ready SI values with this server's setup,
        its catalog and the lineage of the cited values it rests on."""
        return {"model": self.m.name, "hardware": self.hardware_name, "precision": self.precision,
                "weight_precision": self.weight_precision, "kv_precision": self.kv_precision,
                "tensor_parallel": self.tp, "cuda_graph": self.cuda_graph, "concurrent_requests": cb.concurrent_requests,
                "token_budget": cb.token_budget,
                "prompt_tokens": prompt_tokens, "output_tokens": output_tokens, "feasible": cb.feasible,
                "iteration_s": cb.iteration, "ttft_s": cb.ttft, "request_latency_s": cb.request_latency,
                "tokens_per_second": cb.tokens_per_second, "requests_per_second": cb.requests_per_second,
                "memory_bytes_per_gpu": cb.memory.to_dict(), "warnings": list(cb.warnings),
                "unpriced": list(self.unpriced), "catalog": self.lineage.catalog,
                "lineage": [e.to_dict() for e in self.lineage.entries()]}

    def continuous_batching(self, concurrent_requests: int, prompt_tokens: int, output_tokens: int,
                            token_budget: int | None = None) -> ContinuousBatchingProfile:
        """Steady state of continuous (iteration-level) batching.

        With N requests in flight, each emitting one token per iteration and leaving
        after `output_tokens` iterations, their positions are spread evenly, so one
        iteration decodes N sequences with a mean of prompt + (output - 1) / 2 cached
        tokens (FLOPs and bytes are linear in the context, so the mean is exact; a
        sliding-window layer's costs stop growing at its window, so there the mean is an upper bound), and
        N / output new requests enter per iteration, each needing a prefill of its
        prompt (charged as separate passes: no weight sharing between the two).
        Iteration = decode step + (N / output) x prefill; throughput = N / iteration.
        KV memory is the mean occupancy N x (prompt + output / 2) tokens (paged
        allocation, Kwon et al. 2023); queueing delay is not modelled.

        With a `token_budget` (chunked prefill, stall-free batching), an iteration is one pass
        carrying the N decode tokens and, in a fraction P / chunk of the iterations, a prefill
        chunk of chunk = budget - N tokens (P = N / output x prompt: the prefill tokens the
        steady state needs an iteration), so prefills no longer stall the decodes in passes of
        their own and share their weight read (`_mixed_iteration`); the mean iteration weighs
        the two kinds, and a prompt takes ceil(prompt / chunk) chunk-carrying iterations to its
        first token. A budget too small for P says so in `warnings`.

        References
        ----------
        Agrawal et al. 2024, "Taming Throughput-Latency Tradeoff in LLM Inference with
        Sarathi-Serve", OSDI '24, arXiv 2403.02310 (chunked prefills under a token budget,
        decodes and a prefill chunk in one batch).
        """
        n = concurrent_requests
        for name, value in (("concurrent_requests", n), ("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
            inputs.positive_int(value, name)
        if token_budget is not None:
            return self._chunked_steady_state(n, prompt_tokens, output_tokens, inputs.positive_int(token_budget, "token_budget"))
        mean_past = prompt_tokens + (output_tokens - 1) / 2.0
        step = self._pass(float(n), 1.0, mean_past)
        prefill = self.prefill(prompt_tokens, 1)
        # The prefills an iteration admits run in that iteration: its runtime cost is paid once.
        iteration = step.time + n / output_tokens * (prefill.time - prefill.runtime)
        rate = n / iteration
        return ContinuousBatchingProfile(
            concurrent_requests=n, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
            iteration=iteration, ttft=prefill.time, request_latency=prefill.time + (output_tokens - 1) * iteration,
            tokens_per_second=rate, requests_per_second=rate / output_tokens,
            memory=self.memory(n, prompt_tokens + output_tokens / 2.0), lineage=self._lineage,
            warnings=(self.check(prefill, "prefill") + self.check(step, "a decode iteration", iteration, decode=True)
                      + self.check_rate(rate, "the steady state")),
        )

    def _mixed_iteration(self, n: int, mean_past: float, prefill_tokens: float, prompt_tokens: int,
                         chunk: int) -> PassTime:
        """One stall-free iteration [s]: N decode tokens at `mean_past` cached tokens and
        `prefill_tokens` of prefill chunks (of `chunk` tokens, from prompts of `prompt_tokens`)
        in one pass. The weight GEMMs run once over all N + P tokens (one weight read); the
        decode attention and the chunks' attention are kernels of their own, each bounded by
        its roofline; the chunks' attention spans, on average, the prompt before them
        (a fractional batch of P / chunk chunks whose past is the mean chunk start,
        (prompt - chunk) / 2, gives the exact mean FLOPs and KV traffic)."""
        gemms = self._pass(1.0, float(n) + prefill_tokens, 0.0)
        decode = self._pass(float(n), 1.0, mean_past)
        parts = [decode]
        if prefill_tokens > 0:
            parts.append(self._pass(prefill_tokens / chunk, float(chunk), max(prompt_tokens - chunk, 0) / 2.0))
        # The engine's runtime cost is paid once for the iteration, per request for every
        # decoding sequence and every prefill chunk in it.
        runtime = self.iteration_overhead + self.request_overhead * (n + prefill_tokens / chunk)
        # The pass's kernels once, and the decode tokens' attention kernel its fixed run time too.
        launch = self.decode_launch.seconds
        time = (gemms.weight_gemm + sum(p.attention_time for p in parts) + gemms.elementwise + launch
                + gemms.communication + runtime + gemms.quantization)
        attention_compute = sum(p.attention_compute for p in parts)
        attention_memory = sum(p.attention_memory for p in parts)
        compute = gemms.compute - gemms.attention_compute + attention_compute
        memory = gemms.memory - gemms.attention_memory + attention_memory
        # Attention FLOPs are the attention compute time at the attention kernels' rate.
        attention_rate = self.h.peak * self.eff.attention
        flops = gemms.flops - gemms.attention_compute * attention_rate + attention_compute * attention_rate
        return PassTime(time, compute, memory, gemms.communication, flops, memory * self.h.bandwidth * self.eff.memory,
                        launch, gemms.communication_latency, gemms.gemm_utilization, runtime,
                        attention_compute, attention_memory, gemms.quantization, gemms.elementwise)

    def _chunked_steady_state(self, n: int, prompt_tokens: int, output_tokens: int, budget: int) -> ContinuousBatchingProfile:
        """`continuous_batching` under a token budget (see there)."""
        chunk = budget - n
        if chunk < 1:
            raise MlsysimError(f"token_budget {budget} leaves no room for a prefill chunk beside {n} decode tokens; "
                               f"give a budget above the requests in flight (e.g. {n + 512})")
        # Steady state: N / output requests finish per iteration and as many start, each
        # needing its prompt prefilled: P = N / output x prompt prefill tokens an iteration on
        # average, carried as whole chunks by a fraction P / chunk of the iterations (the rest
        # decode only). A prompt's own chunks ride ceil(prompt / chunk) iterations.
        chunk = min(chunk, prompt_tokens)
        prefill_tokens = n / output_tokens * prompt_tokens
        warned: list[str] = []
        share = prefill_tokens / chunk
        if share > 1.0:
            warned.append(f"the prefills need {prefill_tokens:.4g} tokens an iteration but the budget leaves {chunk}: "
                          f"{n} requests cannot stay in flight; fewer will")
            share = 1.0
        mean_past = prompt_tokens + (output_tokens - 1) / 2.0
        step = self._mixed_iteration(n, mean_past, float(chunk), prompt_tokens, chunk)
        alone = self._mixed_iteration(n, mean_past, 0.0, prompt_tokens, chunk)
        iteration = share * step.time + (1.0 - share) * alone.time
        ttft = math.ceil(prompt_tokens / chunk) * step.time
        rate = n / iteration
        return ContinuousBatchingProfile(
            concurrent_requests=n, prompt_tokens=prompt_tokens, output_tokens=output_tokens, iteration=iteration,
            ttft=ttft, request_latency=ttft + (output_tokens - 1) * iteration, tokens_per_second=rate,
            requests_per_second=rate / output_tokens, memory=self.memory(n, prompt_tokens + output_tokens / 2.0),
            lineage=self._lineage,
            warnings=tuple(warned) + self.check(step, "a mixed iteration", iteration, decode=True)
            + self.check_rate(rate, "the steady state"),
            token_budget=budget,
        )

    def under_load(self, arrival_rate: float, prompt_tokens: int, output_tokens: int,
                   token_budget: int | None = None) -> LoadProfile:
        """A continuous-batching server fed by Poisson arrivals of `arrival_rate` [requests/s].

        In flight: N requests with N = arrival_rate x request latency(N) (Little's law), solved by
        bisection over N between 1 and the largest batch that fits (`max_batch_size`); each
        iteration decodes N sequences and admits arrival_rate x iteration prefills
        (`continuous_batching`). New requests wait for their prefill in a single queue, modelled
        as M/M/1 with service time = one prefill and utilisation rho = arrival_rate x prefill
        (exponential service: conservative for prefills of equal prompts, which are deterministic);
        TTFT = prefill + that wait, its P50/P99 from `mm1_wait_quantile`. When arrivals exceed
        what N = max batch finishes (requests/s), the server is unstable: `stable` is False, the
        rates are the capacity, and a warning says so.

        With a `token_budget` (chunked prefill, stall-free batching; `continuous_batching`), the
        iterations carry the decodes and one prefill chunk, so at most budget - 1 requests decode
        at once, and the prefill queue's service time is a prompt's ceil(prompt / chunk)
        chunk-carrying iterations (the steady state's `ttft` at that N): prompts are prefilled one
        at a time, first come first served, beside the decodes.

        References
        ----------
        Little 1961, "A Proof for the Queuing Formula: L = lambda W", Operations Research 9(3).
        Kleinrock 1975, "Queueing Systems, Volume 1", Sec. 3.2.
        Yu et al. 2022, "Orca: A Distributed Serving System for Transformer-Based Generative
        Models", OSDI 2022 (iteration-level scheduling).
        """
        if not arrival_rate > 0:
            raise MlsysimError(f"arrival_rate must be > 0 requests/s, got {arrival_rate!r}")
        largest = self._largest_in_flight(prompt_tokens, output_tokens, token_budget)

        def steady(n: int) -> ContinuousBatchingProfile:
            return self.continuous_batching(n, prompt_tokens, output_tokens, token_budget)

        capacity = steady(largest)
        warned: list[str] = []
        if arrival_rate >= capacity.requests_per_second:
            warned.append(f"{arrival_rate:.4g} requests/s exceeds the {capacity.requests_per_second:.4g} requests/s "
                          f"the server finishes at its largest batch ({largest}): the queue grows without bound")
            cb, n, stable = capacity, float(largest), False
        else:
            lo, hi = 1, largest
            if steady(1).requests_per_second < arrival_rate:
                while hi - lo > 1:  # smallest N whose N / latency(N) reaches the arrival rate
                    mid = (lo + hi) // 2
                    if steady(mid).requests_per_second >= arrival_rate:
                        hi = mid
                    else:
                        lo = mid
                n_int = hi
            else:
                n_int = 1
            cb, n, stable = steady(n_int), float(n_int), True
        # The prefill queue's service time: one prefill, or a prompt's chunk-carrying iterations.
        prefill = self.prefill(prompt_tokens, 1).time if token_budget is None else cb.ttft
        rho = arrival_rate * prefill
        if rho >= 1.0:
            warned.append("prefills alone keep the device busy: the TTFT queue grows without bound")
        if stable and rho < 1.0:
            wait_mean = rho / (1.0 - rho) * prefill
            p50, p99 = (prefill + mm1_wait_quantile(rho, prefill, q) for q in (0.5, 0.99))
        else:  # an unstable queue has no steady-state delay
            wait_mean = p50 = p99 = math.inf
            stable = False
        rate = min(arrival_rate, capacity.requests_per_second)
        return LoadProfile(
            arrival_rate=arrival_rate, prompt_tokens=prompt_tokens, output_tokens=output_tokens, stable=stable,
            concurrency=n, utilization=rho, ttft_p50=p50, ttft_p99=p99, ttft_mean=prefill + wait_mean,
            itl=cb.iteration, request_latency=prefill + wait_mean + (output_tokens - 1) * cb.iteration,
            tokens_per_second=rate * output_tokens, capacity_requests_per_second=capacity.requests_per_second,
            warnings=tuple(warned) + cb.warnings, prefill=prefill, token_budget=token_budget,
        )

    def _largest_in_flight(self, prompt_tokens: int, output_tokens: int, token_budget: int | None) -> int:
        """The most requests that can decode at once: the largest batch whose KV cache fits,
        and, under a token budget, one fewer than the budget (each iteration keeps room for a
        prefill chunk)."""
        largest = self.max_batch_size(prompt_tokens + output_tokens)
        if largest < 1:
            raise MlsysimError(f"{self.m.name} does not fit on {self.hardware_name}: no request fits next to the weights")
        if token_budget is not None:
            budget = inputs.positive_int(token_budget, "token_budget")
            if budget < 2:
                raise MlsysimError(f"token_budget {budget} leaves no room for a prefill chunk beside a decode token; "
                                   f"give a budget of at least 2 tokens (e.g. {prompt_tokens}, a whole prompt per chunk)")
            largest = min(largest, budget - 1)
        return largest

    def at_concurrency(self, concurrency: int, prompt_tokens: int, output_tokens: int,
                       token_budget: int | None = None) -> LoadProfile:
        """A closed-loop benchmark: `concurrency` clients, each sending its next request when the
        last one ends. Its request rate is what continuous batching of that many requests
        finishes (`continuous_batching(concurrency).requests_per_second`); the server is then
        `under_load` at that rate, which prices the wait of each new request for its prefill
        (M/M/1 queue) and the decode iteration of the requests in flight (Little's law).

        References
        ----------
        Little 1961, "A Proof for the Queuing Formula: L = lambda W", Operations Research 9(3).
        """
        inputs.positive_int(concurrency, "concurrency")
        rate = self.continuous_batching(concurrency, prompt_tokens, output_tokens, token_budget).requests_per_second
        return self.under_load(rate, prompt_tokens, output_tokens, token_budget)

    def max_rate_under_slo(self, prompt_tokens: int, output_tokens: int, ttft_limit: float, itl_limit: float,
                           quantile: float = 0.99, token_budget: int | None = None) -> LoadProfile:
        """The server at the highest Poisson arrival rate whose TTFT quantile and inter-token
        latency stay within the limits (an MLPerf Server-style result).

        TTFT at `quantile` (P99 by default) is prefill + the M/M/1 waiting-time quantile
        (`under_load`, `mm1_wait_quantile`) and must be <= `ttft_limit` [s]; the decode
        iteration with the requests then in flight (`under_load`: Little's law over continuous
        batching) must be <= `itl_limit` [s] (every iteration of the steady state has the
        same length in this model, so its mean is also its quantile). Both grow with the
        arrival rate, so the largest rate meeting both is found by bisection between 0 and the
        server's capacity (requests/s at the largest batch that fits), to 1e-6 of the capacity.
        Raises MlsysimError when even an idle server misses a limit (one prefill longer than
        the TTFT limit, or one decode step of a lone request longer than the ITL limit).
        `token_budget`: chunked prefill, as in `under_load`.

        References
        ----------
        MLCommons, loadgen/mlperf.conf (Server scenario: TTFT and TPOT limits at the 99th
        percentile for the LLM benchmarks).
        Kleinrock 1975, "Queueing Systems, Volume 1", Sec. 3.2 (M/M/1 waiting time).
        """
        for name, value in (("ttft_limit", ttft_limit), ("itl_limit", itl_limit)):
            if not value > 0:
                raise MlsysimError(f"{name} must be > 0 s, got {value!r}")
        if not 0.0 < quantile < 1.0:
            raise MlsysimError(f"quantile must be in (0, 1), got {quantile!r}")
        largest = self._largest_in_flight(prompt_tokens, output_tokens, token_budget)
        capacity = self.continuous_batching(largest, prompt_tokens, output_tokens, token_budget).requests_per_second
        lone = self.continuous_batching(1, prompt_tokens, output_tokens, token_budget)
        if lone.ttft > ttft_limit or lone.iteration > itl_limit:
            raise MlsysimError(
                f"no arrival rate meets the limits on {self.hardware_name}: an idle server already takes "
                f"{lone.ttft * 1e3:.4g} ms to the first token (limit {ttft_limit * 1e3:.4g} ms) and "
                f"{lone.iteration * 1e3:.4g} ms per token (limit {itl_limit * 1e3:.4g} ms)")

        def meets(rate: float) -> LoadProfile | None:
            load = self.under_load(rate, prompt_tokens, output_tokens, token_budget)
            if not load.stable:
                return None
            ttft = load.prefill + mm1_wait_quantile(load.utilization, load.prefill, quantile)
            return load if ttft <= ttft_limit and load.itl <= itl_limit else None

        lo, hi = 0.0, capacity
        best = meets(hi * (1.0 - 1e-9))
        if best is None:
            best = self.under_load(capacity * 1e-6, prompt_tokens, output_tokens, token_budget)
            while hi - lo > capacity * 1e-6:
                mid = 0.5 * (lo + hi)
                found = meets(mid)
                if found is None:
                    hi = mid
                else:
                    lo, best = mid, found
        return best

    def check_rate(self, tokens_per_second: float, what: str) -> tuple[str, ...]:
        """The per-device token rate of a result (`tokens_per_second` [1/s] over the `tp`
        devices of one replica) against the fastest published one, scaled by parameters
        per token (`plausibility.token_rate_warnings`); nothing when the catalog has no record."""
        r = self.token_record
        if r is None:
            return ()
        return tuple(token_rate_warnings(tokens_per_second / self.tp, active_params_per_token(self.m), r.rate,
                                         r.params, r.label, what))

    def check(self, p: PassTime, what: str, seconds: float | None = None, decode: bool = False) -> tuple[str, ...]:
        """Physical bounds of one pass on one device (`plausibility.bound_warnings`): its FLOPs
        and bytes over `seconds` (default the pass's own time) against the peak and bandwidth,
        and, for a decode step, the time of one read of this device's weights."""
        weights = self.m.read_params_dense * self.bytes_w / self.tp if decode else 0.0
        return tuple(bound_warnings(p.flops, p.bytes_moved, p.time if seconds is None else seconds, self.h.peak,
                                    self.h.bandwidth, weights, what))


def node_hint(hw: Record) -> str:
    """How to give accelerator `hw` a tensor-parallel interconnect: the catalog's nodes built
    from it, or, when there are none, where to add one."""
    catalog = hw._catalog
    nodes = [n.label for n in catalog.referencing("nodes", "accelerator", hw.id)] if catalog is not None else []
    if nodes:
        return f"--tp N with a node that holds {hw.label}: {', '.join(nodes)}"
    return f"--tp N needs a node, and no node in the catalog holds {hw.label}; add one under catalog/systems/nodes/"


def _find_hardware_or_node(name: str, catalog: Any) -> Record:
    """An accelerator by name in `catalog`, else a node (for tensor parallelism over its interconnect)."""
    try:
        return catalog.get("hardware", name)
    except NotFoundError as missing:
        try:
            return catalog.get("nodes", name)
        except NotFoundError:
            raise missing from None
