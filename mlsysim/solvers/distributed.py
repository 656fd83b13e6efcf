"""3D-parallel training: step time, FLOP/s, MFU and memory per device.

A training step of a transformer on `devices` accelerators split into tensor (TP),
pipeline (PP), context (CP) and data (DP) parallel groups, DP = devices / (TP x PP x CP).
Compute comes from the shared transformer arithmetic (mlsysim/solvers/transformer.py)
and the accelerator's dense peak times a cited efficiency; communication uses the
alpha-beta model over the node's interconnect and the cluster's fabric.

This module holds the step model (`step_model`: each slot's compute and communication, the
bubble, the step) and the solver and search on top of it. The parallel layout and what each
recomputation mode runs again are in `training_layout`; the job lowered into floats once in
`training_terms`; data-parallel synchronisation, ZeRO sharding and the optimizer update in
`training_sync`; memory per device in `training_memory`.

Per pipeline stage and microbatch ("slot"):
  compute  = b x hardware FLOPs per sequence / (PP x TP x CP) / (peak x efficiency), each
             kernel class at its own cited efficiency (weight GEMMs, a mixture of experts'
             routed-expert grouped GEMMs where a figure is scoped to the accelerator, fused
             attention, memory-bound element-wise work). Below 16 bits (FP8) only the transformer
             layers' weight GEMMs run at the training precision; attention, the output layer
             and every tensor held or communicated stay in 16 bits (`training_terms.tensor_precision`), and
             each linear module's input (every forward pass) and output gradient (backward)
             is quantized first: memory-bound, at the cited bytes per element of Transformer
             Engine's current scaling (NVIDIA, TransformerEngine GEMM profiling tutorial);
             a mixture of experts also moves each token's k copies into expert order and
             back around its experts (Megatron-Core's token dispatcher), memory-bound
  TP comm  = two ring all-reduces per layer in each forward and backward pass (and in
             the recomputed forward under full recomputation) of the b x s/CP x h
             activations over the TP group (Megatron-LM, not overlapped)
  CP comm  = all-gather of K and V forward, reduce-scatter of their gradients backward
  PP comm  = one activation send forward and one gradient send backward per slot,
             b x s/CP x h / TP bytes each (scatter/gather optimisation)
  EP comm  = mixture of experts with expert parallelism: two all-to-alls per MoE layer and
             pass of the rank's b x s/(CP x TP) tokens, k copies each, (EP-1)/EP of them
             leaving the GPU (not overlapped); the routed experts' weights, gradients and
             optimizer state split over the EP ranks, their gradients summed over the
             (DP x CP)/EP ranks holding the same experts
Step time = (m + bubble) slots + exposed DP gradient all-reduce + update, with m
microbatches per pipeline and p stages. The update is memory-bound work once per step on
each device's parameters: adding every microbatch's gradients after the first into the
accumulated ones (unless the weight-gradient GEMM accumulates in place) and the optimizer
step, which reads the gradients and the optimizer state and writes the state and weights.
The bubble depends on the pipeline schedule: (p-1)/v slots for 1F1B (v = 1) and
interleaved 1F1B with v model chunks per stage, the default, v chosen as the divisor of
the layers per stage that gives the shortest step when not given; (p-1) forward passes for
the zero-bubble ZB-H1 schedule; none for ZB-V.
Causal attention with fused (Flash) kernels skips the masked half of the score and value
work, under context parallelism too (load-balanced sequence chunks).

References
----------
Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters
Using Megatron-LM", arXiv 2104.04473: training FLOPs 72 B s l h^2 (1 + s/6h + V/12lh),
96 B s l h^2 (1 + s/6h + V/16lh) with full recomputation (Sec. 5.1 / Appendix); pipeline
bubble (p-1)/m and the interleaved schedule's (p-1)/(v m) (Sec. 2.2); scatter/gather of
inter-stage activations (Sec. 4.1).
Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
Models", arXiv 2205.05198: activation bytes per layer s b h (34 + 5 a s / h), with tensor
and sequence parallelism and selective or full recomputation (Sec. 4, Table 2); 1F1B
first stage holds p microbatches, interleaving adds (1 + (p-1)/(p v)).
Qi et al. 2024, "Zero Bubble Pipeline Parallelism", ICLR 2024, arXiv 2401.10241: ZB-H1's
bubble (p-1)(T_F + T_B - T_W), a third of 1F1B's when T_F = T_B = T_W, at 1F1B's activation
memory; ZB-V's bubble 0 with two chunks per stage, 1F1B's memory and twice its pipeline
communication (authors' comparison table, sail/zero-bubble-pipeline-parallellism).
Dao 2023, "FlashAttention-2", arXiv 2307.08691, Sec. 3.1.1: with a causal mask the blocks
above the diagonal are skipped, about half the attention work for long sequences.
Llama Team 2024, "The Llama 3 Herd of Models", arXiv 2407.21783, Sec. 3.3.2: context
parallelism splits the sequence into 2 x CP chunks so every rank gets an equal share of the
causal work.
Shoeybi et al. 2019, "Megatron-LM", arXiv 1909.08053: two all-reduces forward and two
backward per transformer layer under tensor parallelism.
Rajbhandari et al. 2020, "ZeRO", SC'20, arXiv 1910.02054: 2 + 2 + K bytes per parameter for
mixed-precision Adam (K = 12, assumption adam_optimizer_state_bytes_mixed_precision);
stages 1-3 partition optimizer state, gradients and parameters across data-parallel
ranks; stage 3 all-gathers each layer's parameters before its forward and its backward and
reduce-scatters its gradients, every microbatch (Sec. 7.2.3; 1.5x the all-reduce volume per step
of one microbatch, as the paper says).
The backward pass costs twice the forward FLOPs (Narayanan et al. 2021, Appendix;
assumption backward_forward_flops_ratio).
NVIDIA, Transformer Engine "GEMM Profiling Tutorial" (docs/examples/gemm_profiling/gemm_profiling.rst
at d0067d0): a layer's linear GEMMs timed with the FP8 quantization of their inputs (autocast)
and without it (pre-quantized), the difference being the quantization work.
Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of
workstations" (ring all-reduce: 2 (n-1)/n of the data per rank).
Thakur, Rabenseifner & Gropp 2005, "Optimization of Collective Communication Operations
in MPICH" (alpha-beta cost model).
Lepikhin et al. 2020, "GShard: Scaling Giant Models with Conditional Computation and
Automatic Sharding", arXiv 2006.16668 (experts sharded across devices, tokens
dispatched and combined by all-to-all); Fedus et al. 2021, "Switch Transformers", arXiv
2101.03961 (expert parallelism).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError, OOMError
from mlsysim.lineage import Lineage
from mlsysim.solvers.fleet import Fleet
from mlsysim.solvers.gemm_waves import WaveQuantization
from mlsysim.solvers.results import QuantityView
from mlsysim.solvers.roofline import (
    hierarchical_allreduce_time,
    pipeline_bubble_fraction,
    ring_allreduce_time,
    weight_gemm_stretch,
)
from mlsysim.solvers.training_layout import (
    ATTENTION_RECOMPUTED,
    ELEMENTWISE_RECOMPUTED,
    Job,
    Layout,
    LayoutColumns,
    LayoutSpace,
    Parallelism,
    SHARD_PARAMETERS,
    TP_RECOMPUTED,
    ZB_V_CHUNKS,
    by_recompute_mode,
    experts_folded,
    layout_of,
    recomputed_share,
)
from mlsysim.solvers.training_memory import activation_bytes_per_layer, elementwise_bytes_per_layer, memory_per_device
from mlsysim.solvers.training_sync import (
    FP32_GRADIENT_BYTES,
    ZERO3_GATHERS_PER_MICROBATCH,
    data_parallel_time,
    expert_parallel,
    parameter_split,
    update_time,
    zero3_collective,
    zero_group,
)
from mlsysim.solvers.training_terms import TrainingTerms, training_terms


__all__ = ["DistributedModel", "Job", "Layout", "Parallelism", "LayoutSpace", "TrainingResult", "SearchResult",
           "TrainingTerms", "training_terms", "train", "step_model", "LayoutColumns", "activation_bytes_per_layer", "pipeline_bubble_fraction",
           "ring_allreduce_time", "hierarchical_allreduce_time"]

# A causal mask keeps the lower triangle of the score matrix: half of the score and value
# work, which fused kernels skip (Dao 2023, Sec. 3.1.1).
CAUSAL_SKIPPED = 0.5
# FlashAttention's backward pass runs five matrix products (it recomputes the scores S = QK^T,
# then dV, dP, dQ and dK) for the forward's two, so its work is 2.5 times the forward's;
# FlashAttention's benchmarks count backward FLOPs so (Dao 2023, Algorithm 2; flash-attention
# benchmarks/benchmark_flash_attention.py, flops(): "2.5 * f if mode == 'bwd'"). A cited
# backward efficiency is a fraction of peak measured over that count.
FLASH_BACKWARD_WORK = 2.5
# Megatron-LM's tensor parallelism all-reduces the activations twice per layer in each pass:
# after attention and after the MLP in the forward pass, their mirror in the backward pass
# (Shoeybi et al. 2019, Sec. 3).
TP_ALLREDUCES_PER_PASS = 2
# Expert parallelism moves each MoE layer's tokens twice per pass: an all-to-all dispatches
# them to the ranks holding their experts and another returns the results (Lepikhin et al.
# 2020, GShard; Fedus et al. 2021, Switch Transformers).
ALL_TO_ALLS_PER_PASS = 2


def gemm_slowdown(ops: Any, s: TrainingTerms, tp: Any, tokens: Any) -> Any:
    """Tile/wave-quantization slowdown [1] (>= 1) of the weight GEMMs of a microbatch of
    `tokens` rows split over `tp` GPUs (`gemm_waves.WaveQuantization.slowdown`); 1 where the term
    does not apply. Scalars for a solve, numpy columns for a search."""
    if s.waves is None:
        return 1.0 if ops is _Scalar else 0.0 * tp + 1.0
    if ops is _Scalar:
        return s.waves(int(tp)).slowdown(float(tokens))
    import numpy as np  # numpy only for searches: a plain solve never imports it

    out = np.ones(np.shape(tp))
    tokens = np.broadcast_to(np.asarray(tokens, dtype=float), np.shape(tp))
    for t in np.unique(tp):
        pick = tp == t
        quantization: WaveQuantization = s.waves(int(t))
        out[pick] = quantization.slowdown_array(tokens[pick])
    return out


@dataclass(slots=True)
class TrainingResult(QuantityView):
    """One training configuration, in SI units (seconds, FLOP, bytes); `quantity(name)`
    gives any of them as a pint Quantity.

    Times are per optimizer step; `exposed_*` communication is what is not hidden
    behind compute. `achieved_flops_per_device` counts hardware FLOPs (including
    recomputation, as Megatron-LM reports); `mfu` counts model FLOPs only.
    """

    devices: int
    tp: int
    pp: int
    cp: int
    dp: int
    microbatch: int
    microbatches: int  # per pipeline, per step
    interleave: int
    zero: int
    recompute: str
    global_batch: int
    seq_len: int
    step_time: float
    compute_time: float
    tp_comm_time: float
    cp_comm_time: float
    pp_comm_time: float
    dp_comm_time: float  # exposed
    bubble_time: float
    bubble_fraction: float
    update_time: float  # gradient accumulation and optimizer step (memory-bound)
    model_flops_per_step: float
    hardware_flops_per_step: float
    achieved_flops_per_device: float
    mfu: float
    tokens_per_second: float
    memory_weights: float
    memory_gradients: float
    memory_optimizer: float
    memory_activations: float
    memory_total: float
    memory_capacity: float
    feasible: bool
    lineage: Lineage
    efficiency_mode: str = "first_principles"
    schedule: str = "interleaved"
    memory_capacity_basis: str = "marketed"  # which capacity the fit used: "usable", "marketed" or "none"
    ep: int = 1
    ep_comm_time: float = 0.0  # expert-parallel all-to-alls, exposed
    quantization_time: float = 0.0  # FP8 quantization before the GEMMs, part of compute_time
    moe_dispatch_time: float = 0.0  # MoE tokens moved into expert order and back, part of compute_time
    # Costs the step has that no cited figure prices, each with why (said, not guessed).
    unpriced: tuple[str, ...] = ()
    recompute_layers: int | None = None  # with recompute "full": layers recomputed per model chunk (None: all)
    # How a mixture of experts' tokens travel and where its EP ranks come from (Layout's fields).
    ep_dispatch: str = "all_to_all"
    expert_tp: int | None = None
    ep_overlap: bool = False
    grad_reduce_fp32: bool = False  # gradients held, accumulated and reduced in fp32 (Layout's field)
    full_grad_allreduce: bool = False  # ZeRO 1-2's gradients all-reduced in full, not reduce-scattered (Layout's field)

    UNITS = {
        "step_time": "s", "compute_time": "s", "tp_comm_time": "s", "cp_comm_time": "s", "pp_comm_time": "s",
        "dp_comm_time": "s", "bubble_time": "s", "bubble_fraction": "", "update_time": "s", "model_flops_per_step": "FLOP",
        "hardware_flops_per_step": "FLOP", "achieved_flops_per_device": "FLOP/s", "mfu": "",
        "tokens_per_second": "1/s", "memory_weights": "B", "memory_gradients": "B", "memory_optimizer": "B",
        "memory_activations": "B", "memory_total": "B", "memory_capacity": "B", "tokens_per_step": "",
        "exposed_communication_time": "s", "ep_comm_time": "s", "quantization_time": "s",
        "moe_dispatch_time": "s",
    }

    @property
    def tokens_per_step(self) -> float:
        return float(self.global_batch * self.seq_len)

    @property
    def exposed_communication_time(self) -> float:
        return self.tp_comm_time + self.cp_comm_time + self.pp_comm_time + self.dp_comm_time + self.ep_comm_time

    def time_to_train(self, tokens: float) -> float:
        """Seconds to process `tokens` training tokens at this step rate (no failures)."""
        return tokens / self.tokens_per_second

    def raise_if_infeasible(self) -> TrainingResult:
        if not self.feasible:
            gb = 1e9
            raise OOMError(
                f"{self.memory_total / gb:.1f} GB per device needed "
                f"(weights {self.memory_weights / gb:.1f}, gradients {self.memory_gradients / gb:.1f}, "
                f"optimizer {self.memory_optimizer / gb:.1f}, activations {self.memory_activations / gb:.1f}) "
                f"but the device has {self.memory_capacity / gb:.1f} GB"
                f"{' usable' if self.memory_capacity_basis == 'usable' else ''}; raise TP/PP, use ZeRO, "
                "recompute activations or shrink the microbatch"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lineage"}
        out["tokens_per_step"] = self.tokens_per_step
        out["exposed_communication_time"] = self.exposed_communication_time
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


class _Scalar:
    """Elementwise helpers for Python floats (numpy's would cost a microsecond each)."""

    where = staticmethod(lambda cond, a, b: a if cond else b)
    maximum = staticmethod(max)
    minimum = staticmethod(min)


def _numpy_ops() -> Any:
    import numpy as np  # numpy only for searches: a plain solve never imports it

    class Vector:
        where = staticmethod(np.where)
        maximum = staticmethod(np.maximum)
        minimum = staticmethod(np.minimum)

    return Vector


def _slot_times(ops: Any, s: TrainingTerms, x: Any, dp: Any, layers_stage: Any, t_quant: Any, t_dispatch: Any,
                share: float | None, params: tuple[Any, Any]) -> tuple[Any, Any, Any, Any, Any, Any]:
    """Compute (GEMM, memory-bound, the FP8 quantization `t_quant` of `quantization_time` and the
    MoE token movement `t_dispatch` of `moe_dispatch_time`), TP, CP, pipeline-send, exposed ZeRO-3 and
    expert-parallel all-to-all time of one microbatch through the slowest stage [s]. Each group talks over the node's link when it
    fits in one node, else over each device's share of the fabric (bandwidth [B/s] and
    latency [s] picked with ops.where)."""
    where, per_node, intra, inter, inter_lat = ops.where, s.per_node, s.intra_bw, s.inter_bw, s.inter_latency
    seq_local = s.seq / x.cp
    # Forward and backward pass, plus the forward again of what is recomputed.
    stage_flops = layers_stage / s.layers * by_recompute_mode(s.flops_hw_layers_seq, x, share) + s.flops_logits3
    attention_stage = t_attention = 0.0
    if x.fused_attention:
        # Score and value work of every pass that runs attention (forward, backward, and the
        # recomputed forward), run by the fused attention kernels at their own efficiency;
        # they skip the blocks a causal mask hides, half of it.
        forward_passes = 1.0 + by_recompute_mode(ATTENTION_RECOMPUTED, x, share)
        attention_passes = forward_passes + s.backward
        attention_stage = layers_stage / s.layers * s.flops_fwd_attn_seq * attention_passes
        if s.causal:
            stage_flops = stage_flops - CAUSAL_SKIPPED * attention_stage
            attention_stage = attention_stage * (1.0 - CAUSAL_SKIPPED)
        attention_rate = s.attention_rate or s.rate
        per_pass = attention_stage / attention_passes
        # The backward at its own cited rate over FlashAttention's count of its work where the
        # catalog has one, else like the forward.
        backward = (per_pass * FLASH_BACKWARD_WORK / s.attention_backward_rate if s.attention_backward_rate
                    else per_pass * s.backward / attention_rate)
        t_attention = per_pass * forward_passes / attention_rate + backward
    layer_gemms = by_recompute_mode(s.flops_gemm_seq, x, share) - s.flops_logits3
    slowdown = gemm_slowdown(ops, s, x.tp, x.microbatch * seq_local)
    # The layers' weight GEMMs stretched by their tile/wave term, the routed experts' share at
    # their own cited figure where one is scoped here (as every pass prices them).
    stretch = weight_gemm_stretch(slowdown, by_recompute_mode(s.flops_expert_seq, x, share) / layer_gemms if layer_gemms else 0.0,
                                  s.efficiency, s.expert_rate / s.peak)
    stage_flops = (stage_flops + layers_stage / s.layers * layer_gemms * (stretch - 1.0)
                   + s.flops_logits3 * (slowdown - 1.0))
    # The output layer's GEMMs (forward and backward, stretched like the others) at their own
    # rate where it differs (16-bit beside 8-bit layers).
    logits = s.flops_logits3 * slowdown
    t_logits = logits / (s.logits_rate or s.rate)
    t_layer_gemms = x.microbatch * (stage_flops - attention_stage - logits) / s.rate / (x.tp * x.cp)
    t_gemm = t_layer_gemms + x.microbatch * (t_logits + t_attention) / (x.tp * x.cp)
    # Memory-bound element-wise work: forward, backward (backward/forward as many bytes as
    # FLOPs), and the forward again of what is recomputed.
    passes_mem = 1.0 + s.backward + by_recompute_mode(ELEMENTWISE_RECOMPUTED, x, share)
    traffic = elementwise_bytes_per_layer(seq_local, x.microbatch, s.hidden, s.heads, x.tp, x.sequence_parallel,
                                          x.fused_attention)
    t_mem = layers_stage * passes_mem * traffic / s.mem_bw
    t_compute = t_gemm + t_mem + t_quant + t_dispatch

    # Tensor-parallel all-reduces of activations: inside a node if the TP group fits in one.
    act = x.microbatch * seq_local * s.hidden * s.elem
    # Forward, backward (, recomputed forward).
    passes = 2.0 + by_recompute_mode(TP_RECOMPUTED, x, share)
    inside = x.tp <= per_node
    # Folded experts are whole on each rank: a MoE layer's MLP has no TP collective, only attention.
    per_layer = TP_ALLREDUCES_PER_PASS - (s.moe_layers / s.layers if experts_folded(x) else 0.0)
    t_tp = layers_stage * per_layer * passes * ring_allreduce_time(
        act, x.tp, where(inside, intra, inter), where(inside, 0.0, inter_lat))
    if x.tp_comm_overlap:
        # Each all-gather feeds, and each reduce-scatter follows, a linear layer's GEMM that runs
        # in TP pipelined chunks (backward: in bulk beside the other gradient GEMM), so TP time
        # hides behind the layers' weight GEMMs, no more. The forward reduce-scatters' last
        # chunk waits for the last GEMM chunk: one TP-th of them (half the forward's TP time)
        # stays exposed however long the GEMMs.
        t_tp = ops.maximum(t_tp - t_layer_gemms, t_tp / (2.0 * passes * x.tp))

    # Context parallelism: all-gather K,V forward, reduce-scatter dK,dV backward (per TP shard).
    kv = x.microbatch * s.seq * 2 * s.kv_width / x.tp * s.elem
    inside = x.tp * x.cp <= per_node
    t_cp = layers_stage * 2 * ((x.cp - 1) / x.cp * kv / where(inside, intra, inter)
                               + (x.cp - 1) * where(inside, 0.0, inter_lat))

    # Pipeline sends: activations forward, gradients backward, scattered across the TP group.
    inside = x.tp * x.cp * dp * x.pp <= per_node
    t_p2p = where(x.pp > 1, 2 * x.interleave * (act / x.tp / where(inside, intra, inter)
                                                + where(inside, 0.0, inter_lat)), 0.0)

    # ZeRO-3: per layer, all-gather its parameters before the forward and again before the
    # backward, reduce-scatter its gradients after it, every microbatch, over the DP x CP
    # ranks holding shards of the same weights (ring; the fabric once the group leaves a node).
    if type(x.zero) is int and x.zero != SHARD_PARAMETERS:  # one solve below ZeRO-3: nothing to price
        t_z3 = 0.0
    else:
        group = zero_group(ops, s, x, dp)
        inside = group * x.tp <= per_node
        bw, lat = where(inside, intra, inter), where(inside, 0.0, inter_lat)
        gather = zero3_collective(s, x, params, group, bw, lat, layers_stage, s.elem, where)
        scatter = zero3_collective(s, x, params, group, bw, lat, layers_stage, FP32_GRADIENT_BYTES, where) \
            if x.grad_reduce_fp32 else gather
        forward_share = 1.0 / (1.0 + s.backward)
        if x.overlap_param_gather:  # each pass's collectives hide behind that pass's compute, no more
            c_fwd = t_compute * forward_share
            t_z3 = ops.maximum(0.0, gather - c_fwd) + ops.maximum(0.0, gather + scatter - (t_compute - c_fwd))
        else:
            t_z3 = ZERO3_GATHERS_PER_MICROBATCH * gather + scatter
        t_z3 = where(x.zero == SHARD_PARAMETERS, t_z3, 0.0)  # a group of one moves nothing: (n-1) = 0

    # Expert parallelism: per MoE layer and pass, the tokens this rank routes (its 1/TP share,
    # sequence-parallel dispatch) go out k times, (ep - 1)/ep of them to other ranks, and come
    # back: two all-to-alls, each (ep - 1) messages. The group spans TP x CP x EP ranks.
    t_ep = 0.0 * t_compute
    if expert_parallel(s, x):
        moe_stage = layers_stage / s.layers * s.moe_layers
        tokens = x.microbatch * seq_local / x.tp
        routed_tokens = tokens * s.experts_active
        # The EP group's ranks: strided by TP x CP when drawn from DP x CP, consecutive when folded.
        span = x.ep if experts_folded(x) else x.tp * x.cp * x.ep
        inside = span <= per_node
        sent = (x.ep - 1) / x.ep * routed_tokens * s.hidden * s.elem  # every copy but the rank's own [B]
        one_a2a = sent / where(inside, intra, inter) + (x.ep - 1) * where(inside, 0.0, inter_lat)
        if x.ep_dispatch == "hierarchical":
            # Over NVLink every copy but the rank's own; over the fabric each token once per
            # remote node holding any of its experts. The two overlap (DeepSeek-V3 Sec. 3.2.2).
            nodes = ops.maximum(1.0, -(-span // per_node))
            t_nvlink = sent / intra
            crossing = hierarchical_dispatch_copies(s.experts_total, s.experts_active, nodes)
            t_fabric = crossing * tokens * s.hidden * s.elem / inter + (nodes - 1) * inter_lat
            one_a2a = where(inside, t_nvlink, ops.maximum(t_nvlink, t_fabric))
        # A recomputed forward that runs the experts again dispatches their tokens again.
        a2a_passes = 2.0 + by_recompute_mode(ELEMENTWISE_RECOMPUTED, x, share)
        t_ep = where(x.ep > 1, moe_stage * ALL_TO_ALLS_PER_PASS * a2a_passes * one_a2a, 0.0)
        if x.ep_overlap:
            # The combined 1F1B schedule runs one microbatch's dispatch and combine beside another
            # microbatch's attention and MLP compute (NVIDIA 2026, "Scalable Training of MoE Models
            # with Megatron Core", arXiv 2603.07685, Table 14, "EP all-to-all hiding"): hidden
            # behind that compute, no more.
            t_ep = ops.maximum(t_ep - t_compute, 0.0)
    return t_compute, t_tp, t_cp, t_p2p, t_z3, t_ep


def hierarchical_dispatch_copies(experts_total: Any, experts_active: Any, nodes: Any) -> Any:
    """Expected copies [1] of one token a hierarchical dispatcher sends over the fabric: one per
    remote node holding any of the token's k experts, when E experts are spread evenly over n
    nodes and the k are distinct and evenly chosen (force-balanced routing):

        c = (n - 1) (1 - P0),   P0 = C(E - E/n, k) / C(E, k) = prod_{i<k} (E - E/n - i) / (E - i)

    P0 is the chance that a given node holds none of them. A flat all-to-all sends
    k (n - 1) / n copies across instead: for E = 128, k = 8 over two nodes, 4 against 0.997.

    Parameters
    ----------
    experts_total : float
        Routed experts per MoE layer, E [1].
    experts_active : float
        Experts each token is routed to, k [1].
    nodes : float or ndarray
        Nodes the expert-parallel group spans, n [1].

    References
    ----------
    DeepSeek-AI 2024, DeepSeek-V3 Technical Report, arXiv 2412.19437, Sec. 3.2.2 ("it will first
    be transmitted via IB to the GPUs with the same in-node index on its target nodes ...
    forwarded via NVLink to specific GPUs that host their target experts"); NVIDIA, DeepEP
    Hybrid-EP design note (inter-node RDMA, intra-node NVLink).
    """
    per_node = experts_total / nodes
    none_here = 1.0
    for i in range(int(experts_active)):
        off_node = (experts_total - per_node - i) / (experts_total - i)
        none_here = none_here * off_node * (off_node > 0)  # 0 once fewer than k experts lie elsewhere
    return (nodes - 1.0) * (1.0 - none_here)


def quantization_time(s: TrainingTerms, x: Any, layers_stage: Any, share: float | None = None) -> Any:
    """Time [s] one microbatch spends on the slowest stage quantizing tensors to FP8 before
    the linear modules' GEMMs (0 at 16 bits or wider): each module's input in every forward
    pass (again in a recomputed one) and its output gradient in the backward pass, memory-bound
    at the cited bytes per element at peak bandwidth. Sequence parallelism leaves each TP rank
    its 1/TP share of the tokens; without it the replicated inputs of column-parallel modules
    are quantized on every rank, which this undercounts. `share`: the share of each chunk's
    layers a partial full recomputation covers (`training_layout.recomputed_share`; None: the
    mode's own).

        t = b (s / CP) / TP x (f I + O) x L_stage / L / rate

    with f forward passes (2 under full recomputation; under "mlp_input" the MLP input
    projections' inputs are quantized twice, the rest once), I and O the input and output
    elements per token of all L layers (`transformer.linear_io_per_token`) and rate = peak memory
    bandwidth / bytes per element (assumption fp8_quantization_bytes_per_element).

    References
    ----------
    NVIDIA, Transformer Engine "GEMM Profiling Tutorial" (docs/examples/gemm_profiling/
    gemm_profiling.rst at d0067d0): FP8 current scaling, per-layer GEMM time with quantization
    (autocast) and without (pre-quantized).
    """
    if not s.quantization_rate:
        return 0.0
    again = by_recompute_mode({"none": 0.0, "selective": 0.0, "full": s.quantized_inputs, "mlp_input": s.quantized_mlp_inputs},
                     x, share)
    elements = (s.quantized_inputs + again + s.quantized_output_grads) * layers_stage / s.layers
    return x.microbatch * s.seq / x.cp / x.tp * elements / s.quantization_rate


def moe_dispatch_elements_per_token(hidden: Any, experts_active: Any, sorted_by_local_expert: Any) -> Any:
    """Elements [1] the token dispatcher reads and writes in device memory for one token of one
    mixture-of-experts layer in one pass, outside the experts' GEMMs, with h = `hidden` and
    k = `experts_active`:

        E = 2 k h         permute: gather the token's k copies into expert order (read, write)
          + (k + 1) h     unpermute: the probability-weighted sum of its k expert outputs
          + 4 k h x S     sort the received tokens by local expert and restore them afterwards

    S [0 or 1] is `sorted_by_local_expert`: the all-to-all dispatcher's second permutation,
    run when expert parallelism leaves a rank more than one expert. The backward pass runs
    each operation's inverse over the same tensors, so it moves as much again.

    References
    ----------
    NVIDIA/Megatron-LM at d98e8a6, megatron/core/transformer/moe/token_dispatcher.py,
    MoEAlltoAllTokenDispatcher: dispatch_preprocess (permute), dispatch_postprocess
    ("Permutation 2: Sort tokens by local expert", when num_local_experts > 1),
    combine_preprocess ("Unpermutation 2"), combine_postprocess (unpermute); and
    megatron/core/transformer/moe/moe_utils.py (permute, unpermute, sort_chunks_by_idxs).
    """
    return 2.0 * experts_active * hidden + (experts_active + 1.0) * hidden + 4.0 * experts_active * hidden * sorted_by_local_expert


def moe_dispatch_time(s: TrainingTerms, x: Any, layers_stage: Any, share: float | None = None) -> Any:
    """Time [s] one microbatch spends on the slowest stage moving tokens into expert order and
    back (`moe_dispatch_elements_per_token`), memory-bound at the achieved device memory
    bandwidth; 0 for a dense model. Each rank routes its own b (s / CP) / TP tokens (sequence
    parallelism splits them over the TP group) in 16-bit hidden states, in the forward pass,
    the backward pass and a recomputed forward:

        t = b (s / CP) / TP x f x E x L_moe x L_stage / L x bytes / achieved bandwidth

    with f = 2 passes (3 under full and "mlp_input" recomputation, which keep no permuted
    token; `share` of the way there under a partial one), L layers of which L_moe are
    mixture-of-experts layers. With TP > 1 the dispatcher all-gathers the received tokens
    over the TP group before sorting them (experts split over TP too), so the sort moves TP
    times more than this counts, and that all-gather and its reduce-scatter are not priced.
    """
    if not s.moe_layers:
        return 0.0
    sorted_locally = (x.ep > 1) * (s.experts_total > x.ep)
    elements = moe_dispatch_elements_per_token(s.hidden, s.experts_active, sorted_locally)
    passes = 2.0 + by_recompute_mode(ELEMENTWISE_RECOMPUTED, x, share)
    moe_stage = layers_stage / s.layers * s.moe_layers
    return x.microbatch * s.seq / x.cp / x.tp * passes * elements * moe_stage * s.elem / s.mem_bw


def step_model(ops: Any, s: TrainingTerms, x: Any, dp: Any, batch: float) -> dict[str, Any]:
    """The step-time and memory model on floats or numpy arrays (same arithmetic for both):
    `x` is a Layout (one solve) or LayoutColumns (a search), `dp` its data-parallel size(s).

    Step time = m slots + (p - 1)/v slots of pipeline bubble + the exposed DP all-reduce, a
    slot being one microbatch's compute + TP + CP + pipeline-send time on the slowest stage
    (ceil(layers / (p v)) layers per chunk, plus the output layer on the last stage, where
    Megatron-LM places it); m = batch / (DP x b) microbatches per pipeline.

    References
    ----------
    Narayanan et al. 2021, arXiv 2104.04473 (schedule, bubble); Korthikanti et al. 2022,
    arXiv 2205.05198 (activation memory); Rajbhandari et al. 2020, arXiv 1910.02054 (ZeRO).
    """
    m = batch / (dp * x.microbatch)
    layers_stage = -(-s.layers // (x.pp * x.interleave)) * x.interleave
    model_flops = batch * s.flops_model_seq
    # The share of each chunk's layers a partial recomputation covers: over the whole model's
    # FLOPs, of an average chunk; for the slowest stage's terms (read once for all of them),
    # of its chunks.
    hw_flops = batch * by_recompute_mode(s.flops_hw_seq, x, recomputed_share(x, s.layers / (x.pp * x.interleave)))
    n = s.devices
    share = recomputed_share(x, layers_stage / x.interleave)
    params = parameter_split(s, x)  # (dense, routed-expert) parameters per device, before ZeRO
    weights, gradients, optimizer, activations = memory_per_device(ops, s, x, dp, m, layers_stage, share, params)
    total = weights + gradients + optimizer + activations
    if s.efficiency_mode == "measured_end_to_end":
        # A measured MFU already includes bubble, communication and every other overhead:
        # the step is the model FLOPs at that utilisation, with nothing added again.
        step = model_flops / (n * s.peak * s.efficiency)
        zero = 0.0 * m
        t_compute = t_tp = t_cp = t_p2p = t_z3 = t_dp = bubble = bubble_fraction = t_update = t_ep = t_quant = zero
        t_dispatch = zero
        compute_total = step
    else:
        t_quant = quantization_time(s, x, layers_stage, share) + 0.0 * m
        t_dispatch = moe_dispatch_time(s, x, layers_stage, share) + 0.0 * m
        t_compute, t_tp, t_cp, t_p2p, t_z3, t_ep = _slot_times(ops, s, x, dp, layers_stage, t_quant, t_dispatch, share,
                                                               params)
        slot = t_compute + t_tp + t_cp + t_p2p + t_z3 + t_ep
        bubble_slots = pipeline_bubble_slots(x.schedule, x.pp, x.interleave, s.backward)
        bubble = bubble_slots * slot
        t_dp = data_parallel_time(ops, s, x, dp, t_compute, params)
        t_update = update_time(ops, s, x, dp, m, params)
        step = m * slot + bubble + t_dp + t_update
        bubble_fraction = bubble_slots / (m + bubble_slots)
        compute_total = m * t_compute
    return {
        "step_time": step,
        "compute_time": compute_total,
        "tp_comm_time": m * t_tp,
        "cp_comm_time": m * t_cp,
        "pp_comm_time": m * t_p2p,
        "dp_comm_time": t_dp + m * t_z3,
        "bubble_time": bubble,
        "bubble_fraction": bubble_fraction,
        "update_time": t_update,
        "model_flops_per_step": model_flops,
        "hardware_flops_per_step": hw_flops,
        "achieved_flops_per_device": hw_flops / step / n,
        "mfu": model_flops / step / n / s.peak,
        "tokens_per_second": batch * s.seq / step,
        "memory_weights": weights,
        "memory_gradients": gradients,
        "memory_optimizer": optimizer,
        "memory_activations": activations,
        "memory_total": total,
        "memory_capacity": s.capacity,
        "feasible": total <= s.capacity,
        "ep_comm_time": m * t_ep,
        "quantization_time": m * t_quant,
        "moe_dispatch_time": m * t_dispatch,
    }


def pipeline_bubble_slots(schedule: str, pp: Any, interleave: Any, backward: float) -> Any:
    """Idle time of a pipelined step, in slots (one microbatch's forward and backward on a
    stage) [1].

    1F1B and interleaved 1F1B   (p - 1) / v
    ZB-H1                       (p - 1) (T_F + T_B - T_W) / (T_F + T_B + T_W) with the backward
                                pass split evenly into input (T_B) and weight (T_W) gradients:
                                (p - 1) / (1 + backward/forward), a third of 1F1B's
    ZB-V                        0

    References
    ----------
    Narayanan et al. 2021, arXiv 2104.04473, Sec. 2.2 (1F1B and interleaved); Qi et al. 2024,
    "Zero Bubble Pipeline Parallelism", arXiv 2401.10241 (ZB-H1, ZB-V).
    """
    if schedule == "zb-v":
        return 0.0 * pp
    if schedule == "zb-h1":
        return (pp - 1) / (1.0 + backward)
    return (pp - 1) / interleave


def resolve_interleave(s: TrainingTerms, layout: Layout, batch: int) -> Layout:
    """The layout with its model chunks per stage made concrete: 1 for 1F1B and ZB-H1, two
    for ZB-V, the given v for "interleaved", and when none is given the divisor of the
    layers per stage (ceil(layers / pp)) whose step is shortest, as a tuned run would pick;
    ties go to fewer chunks. Layouts whose pipeline has one stage get v = 1."""
    if layout.interleave is not None:
        return layout
    key = (layout, batch)
    known = s.chosen_interleave.get(key)
    if known is not None:
        return known
    if layout.schedule == "zb-v":
        chosen = replace(layout, interleave=ZB_V_CHUNKS)
    elif layout.schedule != "interleaved" or layout.pp == 1:
        chosen = replace(layout, interleave=1)
    else:
        chosen = replace(layout, interleave=_fastest_interleave(s, layout, batch))
    # The resolved layout itself, so a repeated solve pays one lookup.
    return inputs.remember(s.chosen_interleave, key, chosen)


def _fastest_interleave(s: TrainingTerms, layout: Layout, batch: int) -> int:
    """The divisor v of the layers per stage whose interleaved step is shortest among the
    layouts that fit (fewer chunks on a tie)."""
    per_stage = -(-int(s.layers) // layout.pp)
    best, best_key = 1, (True, float("inf"))
    for v in _divisors(per_stage):
        if layout.pp * v > s.layers:  # every chunk needs a layer
            continue
        candidate = replace(layout, interleave=v)
        dp, _ = _validate(s, candidate, batch)
        out = step_model(_Scalar, s, candidate, dp, float(batch))
        rank = (not out["feasible"], out["step_time"])
        if rank < best_key:
            best, best_key = v, rank
    return best


def _divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def _validate(s: TrainingTerms, layout: Layout, batch: Any) -> tuple[int, int]:
    """DP size and microbatches per pipeline, or a clear error naming the fix."""
    batch = inputs.positive_int(batch, "batch_size (global batch, in sequences)")
    n = s.fleet.devices
    split = layout.tp * layout.pp * layout.cp
    if n % split:
        fits = [d for d in _divisors(n) if d % (layout.tp * layout.cp) == 0
                and d // (layout.tp * layout.cp) <= s.layers][:8]
        raise MlsysimError(
            f"{n} devices are not divisible by TP x PP x CP = {layout.tp} x {layout.pp} x {layout.cp} = {split}, "
            f"so DP = devices / (TP x PP x CP) is not whole; pick sizes whose product divides {n} "
            f"(TP x PP x CP in {fits}) or change the device count"
        )
    if s.heads % layout.tp:
        raise MlsysimError(f"TP = {layout.tp} does not divide the {s.heads:g} attention heads; use a divisor of {s.heads:g}")
    if layout.pp * layout.interleave > s.layers:
        raise MlsysimError(
            f"PP x interleave = {layout.pp} x {layout.interleave} exceeds the {s.layers:g} layers; "
            "each pipeline chunk needs at least one layer"
        )
    if s.seq % layout.cp:
        raise MlsysimError(f"CP = {layout.cp} does not divide the sequence length {s.seq:g}")
    if s.attention_kernel is not None and not layout.fused_attention:
        raise MlsysimError(f"attention_kernel {s.attention_kernel!r} names a fused-attention kernel, but fused_attention="
                           "False writes the scores to memory; drop one of the two")
    dp = n // split
    if layout.ep > 1:
        if not s.experts_total:
            raise MlsysimError(f"EP = {layout.ep}: expert parallelism needs a mixture-of-experts model; this one is dense, use ep: 1")
        if s.experts_total % layout.ep:
            raise MlsysimError(f"EP = {layout.ep} does not divide the {s.experts_total:g} experts of each MoE layer; "
                               f"use a divisor of {s.experts_total:g}")
        if layout.expert_tp == 1 and layout.tp > 1:
            if (dp * layout.cp * layout.tp) % layout.ep:
                raise MlsysimError(f"EP = {layout.ep} does not divide TP x DP x CP = {layout.tp} x {dp} x {layout.cp}: "
                                   "with expert_tp 1 the expert-parallel ranks come from all of them; use a divisor")
        elif (dp * layout.cp) % layout.ep:
            raise MlsysimError(f"EP = {layout.ep} does not divide DP x CP = {dp} x {layout.cp}: the expert-parallel "
                               "ranks come from the data-parallel group; use a divisor of DP x CP, or expert_tp: 1 "
                               "(whole experts per rank) to draw them from TP x DP x CP")
    per_step = dp * layout.microbatch
    if batch % per_step:
        raise MlsysimError(
            f"global batch {batch} is not a multiple of DP x microbatch = {dp} x {layout.microbatch} = {per_step}; "
            f"use a batch of {per_step * max(1, round(batch / per_step))} or change the layout"
        )
    return dp, batch // per_step


# What a step on a torus prices generously: a group along fewer axes than the slice.
TORUS_GROUP_UNPRICED = (
    "the narrower ICI bandwidth of a tensor-, context-, expert- or pipeline-parallel group on a TPU torus: such a "
    "group runs along fewer axes of the torus than the slice, each axis carrying a share of the chip's ICI "
    "bandwidth (the scaling book: bytes / (bidirectional bandwidth per axis x axes)), but is priced at the whole "
    "chip's, so its communication can take longer than this"
)
# What a mixture of experts' step has that no cited figure prices.
MOE_HOST_TIME_UNPRICED = (
    "the host (CPU) time to launch each MoE layer's routing, permutation and grouped-GEMM kernels, which "
    "Megatron-Core's MoE guide names a bottleneck of fine-grained MoE run without CUDA graphs ('CPU Overhead "
    "Bottleneck'); no cited per-layer figure prices it, so such a step can take much longer than this"
)


def train(s: TrainingTerms, layout: Layout, batch: int) -> TrainingResult:
    """One training step of the job `s` split by `layout`, with a global batch of `batch` sequences."""
    layout = resolve_interleave(s, layout, batch)
    dp, m = _validate(s, layout, batch)
    out = step_model(_Scalar, s, layout, dp, float(batch))
    ep_time = out.pop("ep_comm_time")
    quantization = out.pop("quantization_time")
    dispatch = out.pop("moe_dispatch_time")
    # Positional: the first fields of TrainingResult, then step_model's outputs in field order
    # (tests/test_distributed.py checks the order), then the lineage.
    return TrainingResult(s.fleet.devices, layout.tp, layout.pp, layout.cp, dp, layout.microbatch, m,
                          layout.interleave, layout.zero, layout.recompute, batch, int(s.seq), *out.values(),
                          s.lineage, s.efficiency_mode, layout.schedule, s.capacity_basis, layout.ep, ep_time,
                          quantization, dispatch, _unpriced(s, layout), layout.recompute_layers,
                          layout.ep_dispatch, layout.expert_tp, layout.ep_overlap, layout.grad_reduce_fp32,
                          layout.full_grad_allreduce)


def _unpriced(s: TrainingTerms, layout: Layout) -> tuple[str, ...]:
    """What the step of `s` split by `layout` leaves unpriced or prices generously, in words."""
    found = []
    if s.fleet.torus and max(layout.tp, layout.cp, layout.ep, layout.pp) > 1:
        found.append(TORUS_GROUP_UNPRICED)
    if s.experts_total:
        found.append(MOE_HOST_TIME_UNPRICED)
    return tuple(found)


solve_setup = train  # the name the scorecard used first


class DistributedModel:
    """Training step time, throughput and memory of a transformer on a cluster.

    >>> from mlsysim import Models, Systems, Assumptions
    >>> r = DistributedModel().solve(Models.Language.GPT3, Systems.Clusters.Frontier_8K,
    ...     batch_size=1536, tp=8, pp=8, efficiency=Assumptions.MFU_Megatron_1T)
    >>> r.step_time, r.mfu, r.memory_total   # seconds, fraction, bytes  # doctest: +SKIP

    The job is read from its catalog once per (model, cluster, devices, precision,
    efficiency, sequence length) (`training_terms`); later calls only do arithmetic.
    """

    setup = staticmethod(training_terms)

    def solve(self, model: Record, fleet: Record | Fleet, batch_size: int, precision: str = "bf16",
              efficiency: Any = None, tp: int = 1, pp: int = 1, *, devices: int | None = None,
              seq_len: int | None = None, layout: Layout | None = None, raise_errors: bool = False,
              efficiency_mode: str | None = None, attention_kernel: str | None = None,
              **layout_fields: Any) -> TrainingResult:
        """Solve one configuration (a thin wrapper over `train(training_terms(...), layout, batch)`).

        `batch_size` is the global batch in sequences; `devices` defaults to every
        accelerator of the cluster. The layout is `layout=` (a Layout), or tp, pp and any
        other Layout field as keywords (cp, microbatch, interleave, zero, recompute,
        sequence_parallel, allreduce, overlap_grad_reduce, overlap_param_gather, fused_attention,
        fused_grad_accumulation, ep, tp_comm_overlap, grad_reduce_fp32, full_grad_allreduce).
        `efficiency` None means first principles with the cited GEMM kernel efficiency; an
        `mfu_*` assumption is applied as measured end to end (`training_terms.efficiency_mode_of`).
        `attention_kernel` ("flashattention2", "flashattention3", "flashattention_triton")
        prices fused attention at the figures cited for that kernel on the accelerator (default:
        the catalog's default attention figures). With raise_errors=True a configuration that
        does not fit in memory raises OOMError.
        """
        terms = training_terms(model, fleet, devices=devices, precision=precision, efficiency=efficiency,
                               seq_len=seq_len, efficiency_mode=efficiency_mode, attention_kernel=attention_kernel)
        if layout is None:
            layout = layout_fields.pop("parallelism", None)
        if layout is None:
            layout = _layout_from(tp, pp, layout_fields)
        elif layout_fields:
            raise MlsysimError(f"pass either layout= or its fields ({', '.join(layout_fields)}), not both")
        result = train(terms, layout, batch_size)
        return result.raise_if_infeasible() if raise_errors else result

    def solve_job(self, job: Job, layout: Layout) -> TrainingResult:
        """One configuration from value objects: what runs (`job`) and how it is split (`layout`)."""
        terms = training_terms(job.model, job.fleet, devices=job.devices, precision=job.precision,
                               efficiency=job.efficiency, seq_len=job.seq_len, attention_kernel=job.attention_kernel)
        return train(terms, layout, job.batch_size)

    def search(self, model: Record, fleet: Record | Fleet, batch_size: int, precision: str = "bf16",
               efficiency: Any = None, *, devices: int | None = None, seq_len: int | None = None,
               space: LayoutSpace | None = None, efficiency_mode: str | None = None,
               attention_kernel: str | None = None, **space_fields: Any) -> SearchResult:
        """Every valid (TP, PP, CP, DP, microbatch, interleave, ZeRO stage, EP, recomputation)
        for the job, evaluated at once with numpy; returns them all and the fastest that fits
        (EP only over `space.ep`, (1,) by default).
        The candidates are `space=` (a LayoutSpace) or its fields as keywords (tp=(1, 2), ...)."""
        if space is None:
            known = [f.name for f in fields(LayoutSpace)]
            unknown = [k for k in space_fields if k not in known]
            if unknown:
                raise MlsysimError(f"search: unknown field {unknown[0]!r}; use {', '.join(known)}")
            space = LayoutSpace(**space_fields)
        terms = training_terms(model, fleet, devices=devices, precision=precision, efficiency=efficiency,
                               seq_len=seq_len, efficiency_mode=efficiency_mode, attention_kernel=attention_kernel)
        return search_layouts(terms, inputs.positive_int(batch_size, "batch_size (global batch, in sequences)"), space)


def _layout_from(tp: Any, pp: Any, given: dict[str, Any]) -> Layout:
    if not given:
        return layout_of(tp, pp)
    try:
        return layout_of(tp, pp, **given)
    except TypeError:  # an unknown keyword, or an unhashable value: let Layout say what is wrong
        return Layout.from_mapping({"tp": tp, "pp": pp, **given})


def _candidates(s: TrainingTerms, batch: int, space: LayoutSpace) -> list[tuple[int, ...]]:
    """Every (tp, pp, cp, dp, microbatch, interleave, zero, ep, recompute index) that divides the job."""
    f = s.fleet
    n = f.devices
    tps = space.tp or tuple(d for d in _divisors(f.per_node) if s.heads % d == 0)
    pps = space.pp or tuple(d for d in _divisors(n) if d <= s.layers)
    rows: list[tuple[int, ...]] = []
    for t in tps:
        for p in pps:
            for c in space.cp:
                if n % (t * p * c) or s.heads % t or p > s.layers or s.seq % c:
                    continue
                d = n // (t * p * c)
                if batch % d:
                    continue
                per_replica = batch // d
                mbs = space.microbatch or tuple(b for b in _divisors(per_replica) if b <= space.max_microbatch)
                for b in mbs:
                    if per_replica % b:
                        continue
                    for iv in space.interleave:
                        if (iv > 1 and p == 1) or p * iv > s.layers:
                            continue
                        for z in space.zero:
                            for e in space.ep:
                                if e > 1 and (not s.experts_total or s.experts_total % e or (d * c) % e):
                                    continue
                                for r in range(len(space.recompute)):
                                    rows.append((t, p, c, d, b, iv, z, e, r))
    return rows


def search_layouts(s: TrainingTerms, batch: int, space: LayoutSpace) -> SearchResult:
    """`step_model` over every candidate layout of `space` at once (numpy columns)."""
    import numpy as np  # numpy only for searches: a plain solve never imports it

    rows = _candidates(s, batch, space)
    if not rows:
        raise MlsysimError(
            f"no valid parallel layout for {s.fleet.devices} devices, global batch {batch}: "
            "TP x PP x CP must divide the device count and DP x microbatch the batch"
        )
    grid = np.array(rows, dtype=np.int64)
    names = ("tp", "pp", "cp", "dp", "microbatch", "interleave", "zero", "ep")
    cols = {name: grid[:, i].astype(float) for i, name in enumerate(names)}
    which = grid[:, len(names)]
    ops = _numpy_ops()
    merged: dict[str, Any] | None = None
    for r, mode in enumerate(space.recompute):
        x = LayoutColumns(cols, mode, space.sequence_parallel, space.allreduce)
        out = step_model(ops, s, x, cols["dp"], float(batch))
        if merged is None:
            merged = {k: np.broadcast_to(np.asarray(val, dtype=float), cols["tp"].shape).copy() for k, val in out.items()}
        else:
            pick = which == r
            for k, val in out.items():
                merged[k] = np.where(pick, val, merged[k])
    assert merged is not None
    merged["feasible"] = merged["feasible"].astype(bool)
    table = {**{k: grid[:, i] for i, k in enumerate(names)},
             "recompute": np.array(space.recompute, dtype=object)[which], **merged}
    return SearchResult(table, s, batch, space.sequence_parallel, space.allreduce)


@dataclass
class SearchResult:
    """All evaluated layouts (numpy columns) and the fastest one that fits in memory."""

    table: dict[str, Any]
    setup: TrainingTerms
    global_batch: int
    sequence_parallel: bool
    allreduce: str

    def __len__(self) -> int:
        return len(self.table["tp"])

    @property
    def feasible_count(self) -> int:
        return int(self.table["feasible"].sum())

    def best(self, raise_errors: bool = True) -> TrainingResult | None:
        """The fitting layout with the highest tokens/s, solved in full (with its breakdown)."""
        import numpy as np  # numpy only for searches: a plain solve never imports it

        mask = self.table["feasible"]
        if not mask.any():
            if raise_errors:
                least = float(self.table["memory_total"].min())
                raise OOMError(
                    f"no layout fits: the smallest needs {least / 1e9:.1f} GB per device, "
                    f"the device has {self.setup.capacity / 1e9:.1f} GB; use more devices or a smaller batch"
                )
            return None
        speed = np.where(mask, self.table["tokens_per_second"], -1.0)
        i = int(speed.argmax())
        t = self.table
        layout = Layout(
            tp=int(t["tp"][i]), pp=int(t["pp"][i]), cp=int(t["cp"][i]), microbatch=int(t["microbatch"][i]),
            interleave=int(t["interleave"][i]), zero=int(t["zero"][i]), recompute=str(t["recompute"][i]),
            sequence_parallel=self.sequence_parallel, allreduce=self.allreduce, ep=int(t["ep"][i]),
        )
        return train(self.setup, layout, self.global_batch)
