"""The roofline: the time of a piece of work bounded by compute and by memory traffic.

Pure float arithmetic (it also works element-wise on numpy arrays, except `max`,
which callers pick: the builtin for scalars, `numpy.maximum` for sweeps).

References
----------
Williams, Waterman & Patterson 2009, "Roofline: An Insightful Visual Performance
Model for Multicore Architectures", Communications of the ACM 52(4), doi:10.1145/1498765.1498785.
Open Compute Project 2023, "OCP Microscaling Formats (MX) Specification" v1.0 (MXFP4: 32
E2M1 elements share one E8M0 scale). NVIDIA Transformer Engine documentation, "MXFP8" and
NVFP4 recipes, and Modular MAX `linalg.fp4_utils` (NVFP4_SF_VECTOR_SIZE = 16, scale dtype
float8_e4m3fn; MXFP4_SF_VECTOR_SIZE = 32, float8_e8m0fnu).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from mlsysim.errors import MlsysimError
from mlsysim.solvers.transformer import clipped, windowed_context_sum

# Storage size of one element in each numeric format [bytes]. These are definitions
# of the formats (IEEE 754 binary16 is 16 bits, OCP FP8 is 8 bits, ...), not
# literature measurements, so they live here rather than in the catalog.
BYTES_PER_ELEMENT: dict[str, float] = {
    "fp64": 8.0,
    "fp64_tensor": 8.0,  # FP64 on tensor cores: same storage as fp64
    "fp32": 4.0,
    "tf32": 4.0,  # computed with a 10-bit mantissa, stored as fp32
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "fp6": 0.75,
    "fp4": 0.5,
    "int4": 0.5,
}

PRECISIONS = tuple(BYTES_PER_ELEMENT)

# Block-scaled storage formats: each block of 4-bit E2M1 elements shares one 8-bit scale,
# so a stored element costs its 4 bits plus the scale's share. They hold weights (or a KV
# cache); the arithmetic runs in the element format, so they are no compute precision.
# NVFP4: 16 elements per FP8 E4M3 scale (4.5 bits; its one FP32 scale per tensor is
# negligible); MXFP4: 32 elements per E8M0 scale (4.25 bits).
BLOCK_SCALED: dict[str, tuple[str, int]] = {"nvfp4": ("fp4", 16), "mxfp4": ("fp4", 32)}

# Bytes per stored element of every format a weight or KV cache can be held in [bytes].
STORAGE_BYTES_PER_ELEMENT: dict[str, float] = {
    **BYTES_PER_ELEMENT,
    **{name: BYTES_PER_ELEMENT[element] + 1.0 / block for name, (element, block) in BLOCK_SCALED.items()},
}

STORAGE_FORMATS = tuple(STORAGE_BYTES_PER_ELEMENT)


def check_precision(precision: str, what: str = "precision") -> str:
    """The canonical name of a numeric format, or a clear error listing the known ones."""
    name = precision.strip().lower() if isinstance(precision, str) else precision
    if name in BLOCK_SCALED:
        element = BLOCK_SCALED[name][0]
        raise MlsysimError(f"{what}: {name} is a storage format for weights or a KV cache, not a compute precision; "
                           f"compute in {element} and store the weights as {name} (weight precision)")
    if name not in BYTES_PER_ELEMENT:
        raise MlsysimError(f"{what}: unknown numeric format {precision!r}; use one of {', '.join(PRECISIONS)}")
    return name


def check_storage_format(name: str, what: str) -> str:
    """The canonical name of a weight or KV-cache storage format (a numeric format or a
    block-scaled one such as nvfp4), or a clear error listing the known ones."""
    fmt = name.strip().lower() if isinstance(name, str) else name
    if fmt not in STORAGE_BYTES_PER_ELEMENT:
        raise MlsysimError(f"{what}: unknown storage format {name!r}; use one of {', '.join(STORAGE_FORMATS)}")
    return fmt


def compute_time(flops: float, peak: float, efficiency: float) -> float:
    """Time to execute `flops` [FLOP] at `peak` [FLOP/s] x `efficiency` [1]: flops / (peak x
    efficiency) [s], the compute roof (Williams et al. 2009)."""
    return flops / (peak * efficiency)


def memory_time(bytes_moved: float, bandwidth: float, efficiency: float) -> float:
    """Time to move `bytes_moved` [B] at `bandwidth` [B/s] x `efficiency` [1]: bytes /
    (bandwidth x efficiency) [s], the memory roof (Williams et al. 2009)."""
    return bytes_moved / (bandwidth * efficiency)


def ridge_point(peak: float, bandwidth: float) -> float:
    """Arithmetic intensity [FLOP/B] at which compute and memory take equal time:
    peak [FLOP/s] / bandwidth [B/s]. Work below it is memory-bound, above it compute-bound
    (Williams et al. 2009, Fig. 1)."""
    return peak / bandwidth


def ring_allreduce_time(message_bytes: Any, devices: Any, link_bandwidth: Any, step_latency: Any = 0.0) -> Any:
    """Time of a ring all-reduce [s] (alpha-beta model).

    Parameters
    ----------
    message_bytes : [B] the data every device holds and reduces.
    devices : [1] ranks in the ring (1: no communication).
    link_bandwidth : [B/s] each device's send rate, per direction.
    step_latency : [s] fixed latency of each of the ring's 2 (p - 1) steps.

    Returns
    -------
    2 (p - 1) / p x message_bytes / link_bandwidth + 2 (p - 1) x step_latency [s]:
    each device sends and receives 2 (p - 1) / p of the message. 0 for one device.

    References
    ----------
    Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of
    workstations", J. Parallel Distrib. Comput. 69(2), doi:10.1016/j.jpdc.2008.09.002.
    Thakur, Rabenseifner & Gropp 2005, "Optimization of Collective Communication Operations
    in MPICH" (the alpha-beta cost model).
    """
    return 2.0 * (devices - 1.0) / devices * message_bytes / link_bandwidth + 2.0 * (devices - 1.0) * step_latency


def hierarchical_allreduce_time(message_bytes: Any, local: Any, groups: Any, intra_bandwidth: Any,
                                inter_bandwidth: Any, inter_latency: Any = 0.0) -> Any:
    """Two-level all-reduce [s] of `message_bytes` [B] over `local` ranks per node x `groups` nodes.

    Reduce-scatter inside the node at `intra_bandwidth` [B/s], a ring all-reduce of each
    1/local shard across the nodes (all local ranks at once, each at `inter_bandwidth`
    [B/s], steps of `inter_latency` [s]), all-gather inside the node:
    2 (l-1)/l x S / B_intra + 2 (g-1)/g x (S / l) / B_inter + 2 (g-1) x latency.

    References
    ----------
    Thakur, Rabenseifner & Gropp 2005 (reduce-scatter + all-gather decomposition of all-reduce).
    """
    intra = 2.0 * (local - 1.0) / local * message_bytes / intra_bandwidth
    return intra + ring_allreduce_time(message_bytes / local, groups, inter_bandwidth, inter_latency)


# ---------------------------------------------------------------------------- one forward pass


def weight_bytes_read(m: Any, tokens: Any, bytes_per_weight: float) -> Any:
    """Weight bytes one forward pass streams from memory [B] when it carries `tokens` tokens.

    Every dense weight once (m.read_params_dense [1]), plus, for a mixture of experts, the
    routed experts at least one token picks: with uniform routing of k of E experts a layer
    touches E (1 - (1 - k/E)^tokens) distinct experts in expectation.
    `m` is a `terms.ModelTerms`; `bytes_per_weight` [B] the storage size of one weight.
    """
    params = m.read_params_dense
    if m.moe_layers:
        e, k = m.experts_total, m.experts_active
        params = params + m.moe_layers * m.expert_params * e * (1.0 - (1.0 - k / e) ** tokens)
    return params * bytes_per_weight


def cached_kv_elements(m: Any, tokens: Any) -> Any:
    """K/V elements [1] one sequence holding `tokens` tokens keeps in its cache, all layers:
    kv_elements x tokens, except that a sliding-window layer keeps only its last `window`
    tokens (a rolling buffer), so its share counts min(tokens, window).
    Works on floats and element-wise on numpy arrays."""
    if not m.windowed_share:
        return tokens * m.kv_elements
    return m.kv_elements * ((1.0 - m.windowed_share) * tokens + m.windowed_share * clipped(tokens, m.window))


def causal_context(m: Any, new: Any, past: Any) -> Any:
    """Context tokens [tokens] summed over `new` tokens after `past` cached ones, the i-th
    attending to past + i positions (new x past + new (new + 1) / 2); a sliding-window
    layer's share attends to at most `window` of them (`windowed_context_sum`)."""
    full = new * past + new * (new + 1.0) / 2.0
    if not m.windowed_share:
        return full
    local = windowed_context_sum(past + new, m.window) - windowed_context_sum(past, m.window)
    return (1.0 - m.windowed_share) * full + m.windowed_share * local


def pass_cost(m: Any, batch: Any, new: Any, past: Any, bytes_per_weight: float, bytes_per_kv: float) -> tuple[Any, Any, Any]:
    """FLOPs [FLOP], bytes moved [B] and resident bytes [B] of one forward pass that processes
    `new` tokens for each of `batch` sequences already holding `past` tokens in the KV cache.

    FLOPs = batch x (new x 2 x active non-embedding weights
                     + attention per token per context token x (new x past + new (new + 1) / 2)),
    the causal attention of the i-th new token spanning past + i positions (2 FLOP per
    multiply-accumulate; at most `window` of them in a sliding-window layer, `causal_context`).
    Bytes = weights read once per pass (`weight_bytes_read`) + the KV cache read (batch x past
    tokens) and written (batch x new tokens), a sliding-window layer's capped at its window
    (`cached_kv_elements`). The activations the
    kernels pass each other are not in these bytes: `pass_overheads.activation_traffic` adds them per
    kernel class, where they leave the on-chip cache. Resident = all weights + the KV
    cache after the pass. A model with a cited per-inference FLOP count (m.kind ==
    "per_inference", e.g. a CNN) costs batch x that count, reads its weights once and moves
    batch x its activation elements (m.activation_elements, read and written by the operators
    of its unfused graph; 0 when the catalog states none) at `bytes_per_kv` [B] per element
    (the activation precision); it keeps resident its weights and the most activations alive
    at once (m.peak_activation_elements), or, where the catalog states no peak, every
    activation it moves (an upper bound).
    Works on floats and element-wise on numpy arrays.

    References
    ----------
    Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv 2001.08361, Table 1.
    Pope et al. 2022, "Efficiently Scaling Transformer Inference", arXiv 2211.05102 (KV cache traffic).
    """
    weights = m.params_total * bytes_per_weight
    if m.kind == "per_inference":
        activations = batch * m.activation_elements * bytes_per_kv
        live = batch * (m.peak_activation_elements or m.activation_elements) * bytes_per_kv
        return batch * m.matmul_flops, weights + activations, weights + live
    flops = batch * (new * m.matmul_flops + m.attention_flops * causal_context(m, new, past))
    kv = batch * cached_kv_elements(m, past + new) * bytes_per_kv
    read = weight_bytes_read(m, batch * new, bytes_per_weight)
    return flops, read + kv, weights + kv


def gemm_flops(m: Any, batch: Any, new: Any) -> Any:
    """The weight-matmul part of `pass_cost`'s FLOPs [FLOP] (what wave quantization scales):
    batch x new x 2 x active weights; 0 for a model with a per-inference FLOP count."""
    return 0.0 if m.kind == "per_inference" else batch * new * m.matmul_flops


def gemm_bytes(m: Any, batch: Any, new: Any, bytes_per_weight: float) -> Any:
    """The weight-GEMM part of `pass_cost`'s bytes moved [B]: the weights the pass streams
    (`weight_bytes_read`); 0 for a model with a per-inference FLOP count, whose traffic is
    not split by kernel class."""
    return 0.0 if m.kind == "per_inference" else weight_bytes_read(m, batch * new, bytes_per_weight)


def spill_table(kernels: Any, bytes_per_element: float, bytes_per_weight: float, cache: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The tokens above which each kernel's activations leave the on-chip cache, and what the
    kernels that do move, for `activation_bytes`.

    `kernels` is an iterable of (count [1], e [1] activation elements per token, w [1] weight
    elements) per kernel shape, `bytes_per_element` b and `bytes_per_weight` [B], `cache` C
    [B] (0: none). A kernel's working set for t tokens, t x e x b + w x b_w, fits in the cache
    up to T = (C - w x b_w) / (e x b) tokens: the activations it reads were just written by
    the kernel before it and what it writes is read from the cache by the next (the rule of
    `convolution.layer_roofline_time`, which favours the cache: its whole capacity is taken
    as available and its own bandwidth is not a roof). Returns (T, S): the kernels' T in
    ascending order and the running sums of count x e over them (S_0 = 0, S_i over the i
    smallest T), so that t tokens move t x S_j elements, j the number of T below t."""
    rows = sorted((max((cache - w * bytes_per_weight) / (e * bytes_per_element), 0.0), count * e)
                  for count, e, w in kernels if count * e > 0)
    thresholds, running, total = [], [0.0], 0.0
    for threshold, elements in rows:
        thresholds.append(threshold)
        total += elements
        running.append(total)
    return tuple(thresholds), tuple(running)


def activation_bytes(tokens: Any, thresholds: tuple[float, ...], running: tuple[float, ...],
                     bytes_per_element: float) -> Any:
    """Activation bytes [B] a pass of `tokens` tokens moves in device memory through kernels
    of one class:

        bytes = b x t x sum over kernels k with t > T_k of c_k x e_k,

    t [tokens], b [B] per element, T_k the tokens up to which kernel k's working set stays in
    the on-chip cache, c_k its count per pass and e_k its activation elements per token
    (`spill_table` gives the T_k in ascending order and the running sums). Floats, or numpy
    arrays of tokens.

    References
    ----------
    Williams, Waterman and Patterson 2009, "Roofline", CACM 52(4) (a kernel's traffic bounds it).
    NVIDIA, "CUDA C++ Programming Guide", Device Memory L2 Access Management (data a kernel
    reuses can be served from the L2 instead of device memory).
    """
    if not thresholds:
        return 0.0 * tokens
    if isinstance(tokens, (int, float)):
        return bytes_per_element * tokens * running[bisect_left(thresholds, tokens)]
    import numpy as np

    return bytes_per_element * tokens * np.asarray(running)[np.searchsorted(thresholds, tokens, side="left")]


def kernel_roofline_time(gemm: Any, other: Any, slowdown: Any, peak: Any, gemm_efficiency: Any,
                         other_efficiency: Any, gemm_bytes: Any, other_bytes: Any, bandwidth: Any,
                         memory_efficiency: Any, maximum: Any = max) -> Any:
    """Roofline time of a pass whose work splits into weight GEMMs and other (attention)
    kernels [s], each class bounded by its own compute and its own memory traffic:

    t = max(gemm x slowdown / (peak x e_gemm), gemm_bytes / (bandwidth x e_memory))
      + max(other / (peak x e_other), other_bytes / (bandwidth x e_memory)),

    `gemm`, `other` [FLOP], `gemm_bytes` (the weights read), `other_bytes` (the KV cache read
    and written; a CNN's activations and weights, its one class) [B], `slowdown` [1] the
    GEMMs' tile/wave quantization, `peak` [FLOP/s], `bandwidth` [B/s], efficiencies [1].
    The kernels run one after another, so a compute-bound GEMM cannot hide a memory-bound
    attention kernel behind it: the classes' times add, each the larger of its two roofs.
    The result is never below max(total compute, total memory), the whole-pass roofline,
    and equals it when both classes are bound by the same roof. `maximum` is the builtin
    for floats, `numpy.maximum` for arrays.

    References
    ----------
    Williams, Waterman and Patterson 2009, "Roofline: an insightful visual performance model
    for multicore architectures", CACM 52(4) (a roofline bounds one kernel).
    Yuan et al. 2024, "LLM Inference Unveiled: Survey and Roofline Model Insights", arXiv
    2402.16363 (LLM-Viewer: a roofline per layer, the network's time aggregated over them).
    """
    t_gemm = maximum(gemm * slowdown / (peak * gemm_efficiency), gemm_bytes / (bandwidth * memory_efficiency))
    t_other = maximum(other / (peak * other_efficiency), other_bytes / (bandwidth * memory_efficiency))
    return t_gemm + t_other


def effective_compute_flops(flops: Any, gemm: Any, slowdown: Any) -> Any:
    """FLOPs charged at peak x efficiency [FLOP]: `flops` with the weight GEMMs' share `gemm`
    stretched by their tile/wave-quantization `slowdown` [1] (`gemm_waves.WaveQuantization`):
    flops + gemm x (slowdown - 1)."""
    return flops + gemm * (slowdown - 1.0)


def weight_gemm_stretch(slowdown: Any, routed_share: float, gemm_efficiency: float, expert_efficiency: float) -> Any:
    """Time factor [1] on a pass's weight-GEMM FLOPs at peak x e_gemm when a mixture of
    experts' routed-expert grouped GEMMs run at their own efficiency e_expert:

    f = (1 - s) x q + s x e_gemm / e_expert,

    s [1] the routed experts' share of the weight-GEMM FLOPs (`kernel_efficiency.routed_gemm_share`), q
    [1] the other GEMMs' tile/wave `slowdown` (`gemm_waves.WaveQuantization`; the experts' figure
    is measured over whole grouped calls, tiles and waves included). With no expert figure
    (e_expert = 0) f = q: the experts run like the other weight GEMMs. Floats or numpy arrays
    of q."""
    if not expert_efficiency or not routed_share:
        return slowdown
    return (1.0 - routed_share) * slowdown + routed_share * gemm_efficiency / expert_efficiency


def kernel_compute_time(gemm: Any, other: Any, slowdown: Any, peak: Any, gemm_efficiency: Any,
                        other_efficiency: Any) -> Any:
    """Compute time of a pass whose FLOPs split into weight GEMMs and other (attention)
    kernels, each at its own achieved fraction of peak [s]:
    t = gemm x slowdown / (peak x e_gemm) + other / (peak x e_other),
    `gemm` and `other` [FLOP], `slowdown` [1] the GEMMs' tile/wave quantization
    (`gemm_waves.WaveQuantization`), `peak` [FLOP/s], efficiencies [1]. The kernels run one after
    another, so their times add.

    References
    ----------
    Williams, Waterman and Patterson 2009, "Roofline: an insightful visual performance model
    for multicore architectures", CACM 52(4) (one roofline per kernel class).
    """
    return gemm * slowdown / (peak * gemm_efficiency) + other / (peak * other_efficiency)


def pipeline_bubble_fraction(stages: Any, microbatches: Any, interleave: Any = 1) -> Any:
    """Idle fraction of a pipelined step [1]: (p - 1) / (v m + p - 1) for p stages, m
    microbatches and v model chunks per stage.

    References
    ----------
    Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters
    Using Megatron-LM", arXiv 2104.04473, Sec. 2.2: bubble time (p-1)/m of the ideal time,
    divided by v with the interleaved schedule.
    """
    return (stages - 1) / (interleave * microbatches + stages - 1)
