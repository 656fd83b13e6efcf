"""3D-parallel training: step time, FLOP/s, MFU and memory per device.

A training step of a transformer on `devices` accelerators split into tensor (TP),
pipeline (PP), context (CP) and data (DP) parallel groups, DP = devices / (TP x PP x CP).
Compute comes from the shared transformer arithmetic (mlsysim/solvers/transformer.py)
and the accelerator's dense peak times a cited efficiency; communication uses the
alpha-beta model over the node's interconnect and the cluster's fabric.

Per pipeline stage and microbatch ("slot"):
  compute  = b x hardware FLOPs per sequence / (PP x TP x CP) / (peak x efficiency), each
             kernel class at its own cited efficiency (weight GEMMs, a mixture of experts'
             routed-expert grouped GEMMs where a figure is scoped to the accelerator, fused
             attention, memory-bound element-wise work). Below 16 bits (FP8) only the transformer
             layers' weight GEMMs run at the training precision; attention, the output layer
             and every tensor held or communicated stay in 16 bits (`tensor_precision`), and
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
ranks; stage 3 moves 1.5x the all-reduce volume (assumption zero3_communication_volume_ratio).
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

from dataclasses import dataclass, field, fields, replace
from difflib import get_close_matches
from functools import lru_cache
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError, OOMError
from mlsysim.lineage import Lineage
from mlsysim.solvers.fleet import (
    BACKWARD_FORWARD,
    ZERO3_TRAFFIC,
    Fleet,
    bytes_per_element,
    fleet_of,
    optimizer_state_bytes,
    peak_compute,
)
from mlsysim.solvers.results import QuantityView
from mlsysim.solvers.roofline import (
    BYTES_PER_ELEMENT,
    hierarchical_allreduce_time,
    pipeline_bubble_fraction,
    ring_allreduce_time,
    weight_gemm_stretch,
)
from mlsysim.solvers.terms import (
    WaveQuantization,
    attention_backward_value,
    attention_kernel_values,
    cited_assumption,
    collective_efficiencies,
    expert_gemm_value,
    hardware_terms,
    kernel_efficiency_values,
    memory_capacity,
    model_terms,
    scoped_efficiency,
    wave_quantization,
)
from mlsysim.solvers.transformer import (
    TransformerShape,
    attention_flops_per_sequence,
    linear_io_per_token,
    mlp_input_projections,
    parameter_count,
    routed_expert_parameters,
)

__all__ = ["DistributedModel", "Job", "Layout", "Parallelism", "LayoutSpace", "TrainingResult", "SearchResult",
           "TrainingTerms", "training_terms", "train", "step_model", "LayoutColumns", "activation_bytes_per_layer", "pipeline_bubble_fraction",
           "ring_allreduce_time", "hierarchical_allreduce_time"]

# Activation recomputation: none; "selective", the core attention (Korthikanti et al. 2022);
# "mlp_input", the core attention, every element-wise operation and the MLP's input
# projections, keeping the other matrix products' outputs (MaxText's save_dot_except_mlpwi);
# "full", every transformer layer from its input.
RECOMPUTE = ("none", "selective", "mlp_input", "full")
# What DistributedModel.search tries unless told otherwise: Megatron-LM's three modes.
SEARCHED_RECOMPUTE = ("none", "selective", "full")
# The outputs "mlp_input" recomputation keeps that are as wide as the hidden state and whole on
# every tensor-parallel rank (Q, K and V are split over the ranks).
_MLP_INPUT_KEPT_FULL_WIDTH = ("layer input", "attention output projection", "MLP output")
# Forward passes of the element-wise work (norms, activations, residual adds) a mode recomputes.
_ELEMENTWISE_RECOMPUTED = {"none": 0.0, "selective": 0.0, "mlp_input": 1.0, "full": 1.0}
# Pipeline schedules: plain 1F1B, interleaved 1F1B (Narayanan et al. 2021), and the
# zero-bubble schedules ZB-H1 and ZB-V (Qi et al. 2024).
SCHEDULES = ("1f1b", "interleaved", "zb-h1", "zb-v")
# ZB-V places exactly two model chunks on every stage, in a V shape (Qi et al. 2024, Sec. 6).
ZB_V_CHUNKS = 2
# A causal mask keeps the lower triangle of the score matrix: half of the score and value
# work, which fused kernels skip (Dao 2023, Sec. 3.1.1).
CAUSAL_SKIPPED = 0.5
# FlashAttention's backward pass runs five matrix products (it recomputes the scores S = QK^T,
# then dV, dP, dQ and dK) for the forward's two, so its work is 2.5 times the forward's;
# FlashAttention's benchmarks count backward FLOPs so (Dao 2023, Algorithm 2; flash-attention
# benchmarks/benchmark_flash_attention.py, flops(): "2.5 * f if mode == 'bwd'"). A cited
# backward efficiency is a fraction of peak measured over that count.
FLASH_BACKWARD_WORK = 2.5
ALLREDUCE = ("ring", "hierarchical")
# Megatron-LM's tensor parallelism all-reduces the activations twice per layer in each pass:
# after attention and after the MLP in the forward pass, their mirror in the backward pass
# (Shoeybi et al. 2019, Sec. 3).
TP_ALLREDUCES_PER_PASS = 2
# ZeRO stages (Rajbhandari et al. 2020): 1 partitions the optimizer state, 2 also the
# gradients, 3 also the parameters (FSDP-style full sharding).
ZERO_STAGES = (0, 1, 2, 3)
SHARD_OPTIMIZER, SHARD_GRADIENTS, SHARD_PARAMETERS = ZERO_STAGES[1:]
# An in-place add of a microbatch's gradients into the accumulated ones (g_acc += g) reads
# both tensors and writes one: three accesses per gradient element.
GRADIENT_ACCUMULATION_ACCESSES = 3
# How the efficiency a job is given is used (TrainingResult.efficiency_mode):
# "first_principles": a kernel efficiency of dense GEMMs, every system overhead modelled on top;
# "measured_end_to_end": an MFU measured end to end, applied as is with no overhead added again.
EFFICIENCY_MODES = ("first_principles", "measured_end_to_end")
GEMM_EFFICIENCY = "gemm_compute_efficiency"
# Memory traffic of quantizing one element to FP8 before a GEMM (Transformer Engine, current
# scaling), in bytes at the device's peak memory bandwidth (a cited assumption).
FP8_QUANTIZATION = "fp8_quantization_bytes_per_element"
# ZeRO-3 moves each layer's parameters twice per microbatch (all-gather before its forward
# and again before its backward) and its gradients once (reduce-scatter), Rajbhandari et al. 2020 Sec. 7.2.3.
ZERO3_GATHERS_PER_MICROBATCH = 2
# Gradients reduced (and accumulated) in fp32 rather than the training precision
# (Layout.grad_reduce_fp32): 4 bytes per element.
FP32_GRADIENT_BYTES = BYTES_PER_ELEMENT["fp32"]
# Expert parallelism moves each MoE layer's tokens twice per pass: an all-to-all dispatches
# them to the ranks holding their experts and another returns the results (Lepikhin et al.
# 2020, GShard; Fedus et al. 2021, Switch Transformers).
ALL_TO_ALLS_PER_PASS = 2
# How a mixture of experts' tokens reach the ranks holding their experts: "all_to_all" (one
# flat all-to-all, each of a token's k copies sent to its rank; Megatron-Core's alltoall
# dispatcher) or "hierarchical" (each token crosses the fabric once per remote node holding
# any of its experts and is forwarded over NVLink there: DeepEP, HybridEP).
EP_DISPATCH = ("all_to_all", "hierarchical")


@dataclass(frozen=True)
class Layout:
    """How a training job is split.

    tp, pp, cp          tensor, pipeline and context parallel sizes (DP = devices / (tp pp cp))
    microbatch          sequences per microbatch (b)
    schedule            pipeline schedule: "interleaved" (default; interleaved 1F1B, plain
                        1F1B when v = 1), "1f1b", "zb-h1" or "zb-v" (zero bubble, Qi et al. 2024)
    interleave          model chunks per pipeline stage (v) for "interleaved"; None (default):
                        the divisor of the layers per stage that gives the shortest step
    zero                ZeRO stage 0-3 (3 = FSDP-style full sharding) over the DP x CP group
    shard_within_node   ZeRO-3 over the DP x CP ranks inside one node (or TPU slice) only, one
                        copy per node, the copies' gradients all-reduced across nodes once per
                        step (hybrid sharding: PyTorch FSDP's HYBRID_SHARD, MaxText's
                        ici_fsdp_parallelism with dcn_data_parallelism); False = over all of them
    recompute           activation recomputation: "none", "selective" (core attention only),
                        "mlp_input" (core attention, element-wise work and the MLP's input
                        projections; MaxText's save_dot_except_mlpwi) or "full"
    recompute_layers    with recompute "full": how many layers of each model chunk are
                        recomputed (Megatron-LM's --recompute-method block
                        --recompute-num-layers N: the first N of each chunk keep only their
                        input, the rest keep every activation); None = every layer
    sequence_parallel   shard LayerNorm/dropout activations across the TP group (Korthikanti 2022)
    allreduce           "ring" (flat, over the fabric) or "hierarchical" (intra-node, then inter-node)
    overlap_grad_reduce hide the DP all-reduce behind the last microbatch's backward pass
    overlap_param_gather ZeRO-3: prefetch each layer's parameter all-gather (and issue the
                        gradient reduce-scatter) behind the compute of the same pass, hiding
                        communication only up to that compute; False = not overlapped
    tp_comm_overlap     run each sequence-parallel all-gather and reduce-scatter concurrently
                        with the linear layer's GEMM it feeds or follows (Megatron-Core's
                        tp_comm_overlap, Transformer Engine's userbuffers; needs
                        sequence_parallel): TP communication hides behind the layers' weight
                        GEMMs, only up to their time; False = exposed
    ep                  expert parallel size: each mixture-of-experts layer's routed experts
                        split over ep ranks of the DP x CP group, tokens crossing them by
                        all-to-all (Lepikhin et al. 2020); 1 = every rank holds every expert
    expert_tp           tensor parallelism of the routed experts: None (default) = tp, the experts
                        split like the dense layers and the EP ranks drawn from DP x CP; 1 = each
                        rank holds whole experts and the EP ranks are drawn from TP x DP x CP
                        (Megatron-Core's expert_tensor_parallel_size 1, "MoE parallel folding")
    ep_overlap          run each microbatch's expert all-to-alls concurrently with another
                        microbatch's compute (Megatron-Core's --overlap-moe-expert-parallel-comm,
                        the combined 1F1B schedule): they hide behind that compute, no more;
                        False = exposed
    ep_dispatch         how tokens reach their experts' ranks: "all_to_all" (default; one flat
                        all-to-all, over the fabric once the group leaves a node) or
                        "hierarchical" (DeepEP, HybridEP: once over the fabric per remote node
                        holding any of a token's experts, then over NVLink; `hierarchical_dispatch_copies`)
    fused_attention     attention scores never reach memory (FlashAttention); False = the
                        scores are materialised (as in Megatron-LM 2021), adding their traffic
    fused_grad_accumulation the weight-gradient GEMM adds into the accumulated gradients in
                        place (Megatron-LM's --gradient-accumulation-fusion); False = each
                        microbatch after the first pays a separate element-wise add
    grad_reduce_fp32    gradients are held, accumulated and reduced across the data-parallel
                        ranks in fp32 (4 bytes) rather than the training precision:
                        Megatron-Core's grad_reduce_in_fp32, PyTorch FSDP's
                        MixedPrecision(reduce_dtype=float32) (Composer's DEFAULT), DeepSpeed's
                        bf16 optimizer; the updated parameters are still gathered at the
                        training precision
    full_grad_allreduce ZeRO 1-2 sum the gradients with a full all-reduce (every rank gets every
                        summed gradient) instead of a reduce-scatter, before each rank updates
                        its shard and all-gathers the parameters: DeepSpeed's pipeline engine
                        with its bf16 optimizer (`_bf16_reduce_grads`), Megatron-Core's
                        LayerWiseDistributedOptimizer; False = reduce-scatter (Megatron-Core's
                        distributed optimizer)
    """

    tp: int = 1
    pp: int = 1
    cp: int = 1
    microbatch: int = 1
    interleave: int | None = None
    zero: int = 0
    recompute: str = "none"
    recompute_layers: int | None = None
    sequence_parallel: bool = False
    allreduce: str = "hierarchical"
    overlap_grad_reduce: bool = False
    overlap_param_gather: bool = False
    fused_attention: bool = True
    schedule: str = "interleaved"
    fused_grad_accumulation: bool = False
    ep: int = 1
    tp_comm_overlap: bool = False
    shard_within_node: bool = False
    ep_dispatch: str = "all_to_all"
    expert_tp: int | None = None
    ep_overlap: bool = False
    grad_reduce_fp32: bool = False
    full_grad_allreduce: bool = False

    @classmethod
    def from_mapping(cls, given: Any) -> Layout:
        """A layout from a dict of its fields; an unknown key is a clear error naming the closest field."""
        known = [f.name for f in fields(cls)]
        for key in given:
            if key not in known:
                close = get_close_matches(str(key).removesuffix("_size"), known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"use {', '.join(known)}"
                raise MlsysimError(f"parallelism: unknown field {key!r}; {hint}")
        return cls(**given)

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "cp", "microbatch", "ep"):
            inputs.positive_int(getattr(self, name), f"parallelism {name}")
        if self.interleave is not None:
            inputs.positive_int(self.interleave, "parallelism interleave")
        if self.schedule not in SCHEDULES:
            close = get_close_matches(str(self.schedule).lower(), SCHEDULES, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(SCHEDULES)}"
            raise MlsysimError(f"parallelism schedule: unknown schedule {self.schedule!r}; {hint}")
        if self.schedule in ("1f1b", "zb-h1") and self.interleave not in (None, 1):
            raise MlsysimError(f"schedule {self.schedule!r} runs one model chunk per stage; "
                               f"drop interleave={self.interleave} or use schedule 'interleaved'")
        if self.schedule == "zb-v" and self.interleave not in (None, ZB_V_CHUNKS):
            raise MlsysimError(f"schedule 'zb-v' runs exactly {ZB_V_CHUNKS} model chunks per stage; drop interleave={self.interleave}")
        if type(self.zero) is not int or self.zero not in ZERO_STAGES:
            raise MlsysimError(f"parallelism zero must be 0, 1, 2 or 3 (3 = FSDP), got {self.zero!r}")
        if self.full_grad_allreduce and self.zero not in (SHARD_OPTIMIZER, SHARD_GRADIENTS):
            raise MlsysimError(f"full_grad_allreduce is how ZeRO 1-2 sum the gradients before each rank updates its "
                               f"shard; set zero: 1 or 2 (got zero {self.zero}) or drop full_grad_allreduce")
        if self.shard_within_node and self.zero != SHARD_PARAMETERS:
            raise MlsysimError(f"shard_within_node shards ZeRO-3's parameters inside each node; set zero: 3 "
                               f"(got zero {self.zero}) or drop shard_within_node")
        if self.recompute not in RECOMPUTE:
            raise MlsysimError(f"parallelism recompute must be one of {', '.join(RECOMPUTE)}, got {self.recompute!r}")
        if self.recompute_layers is not None:
            inputs.positive_int(self.recompute_layers, "parallelism recompute_layers")
            if self.recompute != "full":
                raise MlsysimError(f"recompute_layers recomputes whole layers; set recompute: full (got "
                                   f"{self.recompute!r}) or drop recompute_layers")
        if self.expert_tp is not None and self.expert_tp not in (1, self.tp):
            raise MlsysimError(f"parallelism expert_tp must be 1 (whole experts, EP folded over TP x DP x CP) or the "
                               f"layout's tp ({self.tp}), got {self.expert_tp!r}")
        if self.ep_dispatch not in EP_DISPATCH:
            raise MlsysimError(f"parallelism ep_dispatch must be one of {', '.join(EP_DISPATCH)}, got {self.ep_dispatch!r}")
        if self.allreduce not in ALLREDUCE:
            raise MlsysimError(f"parallelism allreduce must be 'ring' or 'hierarchical', got {self.allreduce!r}")
        if self.interleave is not None and self.interleave > 1 and self.pp == 1:
            raise MlsysimError("interleave > 1 needs pipeline parallelism (pp > 1); set interleave: 1 or raise pp")
        if self.tp_comm_overlap and not self.sequence_parallel:
            # Megatron-LM refuses it too (arguments.py: "Tensor parallel communication/GEMM
            # overlap can happen only when sequence parallelism is enabled").
            raise MlsysimError("tp_comm_overlap overlaps the sequence-parallel all-gathers and reduce-scatters with the "
                               "GEMMs; set sequence_parallel: true as well (Megatron-LM requires it)")


Parallelism = Layout  # the name the plans and the scorecard used first


@lru_cache(maxsize=inputs.MEMO_LIMIT, typed=True)
def layout_of(tp: int = 1, pp: int = 1, **fields_: Any) -> Layout:
    """Layout(tp, pp, **fields) validated once per distinct layout (a frozen dataclass with
    checks costs more to build than a solve's arithmetic). `typed`: 8, 8.0 and True are told
    apart, so a float or a bool is refused even after the int was accepted. Holds no records."""
    return Layout(tp, pp, **fields_)


@dataclass(frozen=True)
class LayoutSpace:
    """The layouts `DistributedModel.search` tries; None means "every valid value":
    TP over the divisors of the per-node accelerator count that divide the head count, PP
    over the divisors of the device count up to the layer count, microbatch over the
    divisors of the per-replica batch up to `max_microbatch`."""

    tp: tuple[int, ...] | None = None
    pp: tuple[int, ...] | None = None
    cp: tuple[int, ...] = (1,)
    microbatch: tuple[int, ...] | None = None
    interleave: tuple[int, ...] = (1, 2, 4)
    zero: tuple[int, ...] = ZERO_STAGES
    recompute: tuple[str, ...] = SEARCHED_RECOMPUTE
    sequence_parallel: bool = True
    allreduce: str = "hierarchical"
    max_microbatch: int = 16
    ep: tuple[int, ...] = (1,)  # expert-parallel sizes to try (mixture-of-experts models)


@dataclass(frozen=True)
class Job:
    """What runs: `model` trained on `fleet` (a cluster record or a Fleet; `devices` of its
    accelerators, default all) with a global batch of `batch_size` sequences of `seq_len`
    tokens (default: the model's context) at `precision`, reaching `efficiency` of peak
    compute (a fraction, or a cited assumption such as Assumptions.MFU_Megatron_1T), with
    fused attention priced at the figures of `attention_kernel` where one is named."""

    model: Record
    fleet: Record | Fleet
    batch_size: int
    precision: str = "bf16"
    efficiency: Any = None
    seq_len: int | None = None
    devices: int | None = None
    attention_kernel: str | None = None


@dataclass(frozen=True)
class TrainingTerms:
    """A job (model, fleet, precision, efficiency, sequence) lowered into floats: everything
    a step-time solve needs that does not depend on the parallel layout. Read once per
    catalog (`training_terms`)."""

    fleet: Fleet
    layers: float
    hidden: float
    heads: float
    kv_width: float  # KV heads x head dim
    params: float  # total parameters
    params_active: float  # parameters a token touches (MoE: routed experts only)
    seq: float
    flops_model_seq: float  # forward + backward FLOPs of one sequence
    flops_fwd_layers_seq: float  # forward FLOPs of the transformer layers (recomputed under "full")
    flops_fwd_attn_seq: float  # forward score+value FLOPs (recomputed under "selective" and "mlp_input")
    flops_fwd_logits_seq: float  # forward FLOPs of the output layer (on the last stage, never recomputed)
    peak: float  # [FLOP/s] per device
    efficiency: float
    capacity: float  # [B] per device
    elem: float  # bytes per element at the training precision
    lineage: Lineage
    # Derived once from the above, so a solve does only the layout-dependent arithmetic.
    rate: float  # [FLOP/s] peak x efficiency
    flops_logits3: float  # forward + backward FLOPs of the output layer per sequence
    flops_hw_seq: dict[str, float]  # hardware FLOPs per sequence (forward + backward + recomputation), by recompute mode
    flops_hw_layers_seq: dict[str, float]  # the same without the output layer
    devices: float
    per_node: int
    intra_bw: float  # [B/s] per device inside a node, as collectives reach it (bus bandwidth)
    inter_bw: float  # [B/s] per device across the fabric, as collectives reach it
    inter_latency: float  # [s]
    opt_bytes: float  # optimizer state bytes per parameter
    zero3_traffic: float  # ZeRO-3 data-parallel volume / plain all-reduce volume [1] (kept for callers; the step model prices the collectives)
    backward_share: float  # backward FLOPs / (forward + backward) [1]
    efficiency_mode: str = "first_principles"
    mem_bw: float = float("inf")  # [B/s] achieved device memory bandwidth (memory-bound element-wise work)
    backward: float = 2.0  # backward FLOPs / forward FLOPs [1]
    causal: bool = True  # decoder (causal mask); an encoder attends over the whole sequence
    # Weight-GEMM FLOPs per sequence (forward + backward + recomputed forward; output layer
    # included), by recompute mode: the part tile and wave quantization stretch.
    flops_gemm_seq: dict[str, float] = field(default_factory=dict)
    # The weight GEMMs' tile/wave quantization at a tensor-parallel size (None: not modelled).
    waves: Any = None
    capacity_basis: str = "marketed"  # "usable", "marketed" or "none" (terms.memory_capacity)
    attention_rate: float = 0.0  # [FLOP/s] peak x fused-attention efficiency (0: priced at `rate`)
    # [FLOP/s] peak x the cited fused-attention backward efficiency (over FLASH_BACKWARD_WORK x
    # the forward's FLOPs); 0: the backward runs like the forward, at `attention_rate`
    attention_backward_rate: float = 0.0
    # [FLOP/s] peak x GEMM efficiency of the output layer, which stays in 16 bits when the
    # transformer layers' GEMMs run in 8 (0: priced at `rate`)
    logits_rate: float = 0.0
    # The precision of every tensor stored or communicated (weights, gradients, activations):
    # the training precision, or 16 bits when that is narrower (`tensor_precision`)
    tensor_precision: str = "bf16"
    # Mixture of experts: parameters of every routed expert of every MoE layer, experts per
    # layer, experts a token is routed to, MoE layers (all 0 for a dense model).
    routed_params: float = 0.0
    experts_total: float = 0.0
    experts_active: float = 0.0
    moe_layers: float = 0.0
    # [FLOP/s] peak x the cited efficiency of the routed experts' grouped GEMMs, and their
    # FLOPs per sequence by recompute mode (forward, backward, recomputed forward); rate 0:
    # they run at `rate` like the other weight GEMMs, tile/wave quantization included
    # (`roofline.weight_gemm_stretch`).
    expert_rate: float = 0.0
    flops_expert_seq: dict[str, float] = field(default_factory=dict)
    # Training below 16 bits: elements per token, summed over the layers, that the FP8 recipe
    # quantizes before the linear modules' GEMMs (their inputs, in every forward pass, and the
    # gradients of their outputs, in the backward pass), and the rate [elements/s] at which the
    # device quantizes them (0: nothing is quantized, 16-bit or wider training).
    quantized_inputs: float = 0.0
    quantized_output_grads: float = 0.0
    quantization_rate: float = 0.0
    # The part of `quantized_inputs` entering the MLPs' input projections, quantized again when
    # "mlp_input" recomputation runs them again.
    quantized_mlp_inputs: float = 0.0
    attention_kernel: str | None = None  # the fused-attention kernel whose figures price attention, where named
    # Vocabulary x hidden where the output layer shares the input embedding's matrix (its
    # gradient is summed between the first and last pipeline stages every step), else 0.
    tied_embedding_params: float = 0.0
    # Layouts `resolve_interleave` made concrete, by (layout, batch): a repeated solve of the same
    # job does the search once. Owned by these terms, so it lives and dies with them.
    chosen_interleave: dict[Any, Layout] = field(default_factory=dict, compare=False, repr=False)


_Setup = TrainingTerms  # the name tests and scripts used first
_PLAIN = (int, type(None))


def efficiency_mode_of(efficiency: Any, mode: str | None = None) -> str:
    """How `efficiency` is used: `mode` when given; else "measured_end_to_end" for a cited
    assumption measured end to end (an `mfu_*` record: a whole run's model FLOPs
    utilisation, already net of bubble and communication), "first_principles" otherwise
    (a number or a kernel-efficiency record: the fraction of peak the GEMM kernels reach)."""
    if mode is not None:
        if mode not in EFFICIENCY_MODES:
            raise MlsysimError(f"efficiency_mode must be one of {', '.join(EFFICIENCY_MODES)}, got {mode!r}")
        return mode
    if isinstance(efficiency, Record) and efficiency.id.startswith("mfu_"):
        return "measured_end_to_end"
    return "first_principles"


def training_terms(model: Record, fleet: Record | Fleet, *, devices: int | None = None, precision: str = "bf16",
                   efficiency: Any = None, seq_len: int | None = None,
                   efficiency_mode: str | None = None, attention_kernel: str | None = None) -> TrainingTerms:
    """`Job` inputs lowered into TrainingTerms, once per catalog and distinct inputs.

    `efficiency` None: first principles with the cited dense-GEMM kernel efficiency
    (assumption gemm_compute_efficiency); see `efficiency_mode_of` for the two modes.
    `attention_kernel` (one of terms.ATTENTION_KERNELS) prices fused attention at the figures
    cited for that kernel on the accelerator (an error where none is); None takes the default
    attention figures."""
    mode = efficiency_mode_of(efficiency, efficiency_mode)
    if efficiency is None:
        if mode != "first_principles":
            raise MlsysimError("efficiency_mode 'measured_end_to_end' needs the measured MFU as efficiency=")
        if not isinstance(fleet, (Fleet, Record)):
            raise MlsysimError(f"fleet must be a cluster record (e.g. Systems.Clusters.Research_256), got {fleet!r}")
        efficiency = fleet.catalog.get("assumptions", GEMM_EFFICIENCY) if isinstance(fleet, Fleet) else \
            fleet._catalog.get("assumptions", GEMM_EFFICIENCY)
    if not isinstance(fleet, (Fleet, Record)):
        raise MlsysimError(f"fleet must be a cluster record (e.g. Systems.Clusters.Research_256), got {fleet!r}")
    if (type(model) is Record and type(fleet) is Record and model._catalog is fleet._catalog
            and type(efficiency) is float and type(devices) in _PLAIN and type(seq_len) in _PLAIN):
        # The common call (records of one catalog, a plain efficiency): keyed without the general walk.
        catalog = model._catalog
        key: tuple[Any, ...] | None = (model._data["id"], fleet._data["id"], devices, precision, efficiency, seq_len, mode,
                                       attention_kernel)
    else:
        catalog = inputs.catalog_of(model, fleet, efficiency)
        key = inputs.memo_key(model, fleet, devices, precision, efficiency, seq_len, mode, attention_kernel)
    memo = catalog.derived("training_terms")
    terms = memo.get(key) if key is not None else None
    if terms is None:
        terms = _read_training(inputs.record(model, "models", catalog, "model"), fleet_of(fleet, devices),
                               precision, efficiency, seq_len, mode, attention_kernel)
        if key is not None:
            inputs.remember(memo, key, terms)
    return terms


def _read_training(model: Record, fleet: Fleet, precision: str, efficiency: Any, seq_len: int | None,
                   mode: str = "first_principles", attention_kernel: str | None = None) -> TrainingTerms:
    catalog = fleet.catalog
    lineage = Lineage()
    lineage.merge(fleet.lineage)
    shape = TransformerShape.from_record(model, lineage)
    counts = parameter_count(shape)
    seq = float(shape.context if seq_len is None else inputs.positive_int(seq_len, "sequence length"))
    if seq < 1:
        raise MlsysimError(f"{model.label} states no context length; pass seq_len=")
    # Matrix-multiply weights a token passes through: attention, the (active) MLP, and
    # the output logits (computed even when tied to the input embedding).
    matmul_params = counts.attention + counts.mlp_active + shape.vocab * shape.hidden
    layer_params = counts.attention + counts.mlp_active
    attn_seq = attention_flops_per_sequence(shape, seq)  # every query over the whole sequence
    forward_seq = seq * 2 * matmul_params + attn_seq
    hardware = fleet.hardware
    # The capacity the device reports as usable where the catalog has it, else the marketed one.
    cap, capacity_basis = memory_capacity(hardware)
    capacity = lineage.use(cap) if cap is not None else float("inf")
    backward = lineage.use(cited_assumption(catalog, BACKWARD_FORWARD, "training FLOPs", "training solver"))
    passes = 1.0 + backward  # forward + backward, in forward passes
    flops_model_seq = passes * forward_seq
    flops_fwd_layers_seq = seq * 2 * layer_params + attn_seq
    flops_fwd_attn_seq = attn_seq
    flops_fwd_logits_seq = seq * 2 * shape.vocab * shape.hidden
    flops_logits = passes * flops_fwd_logits_seq
    # Recomputation adds one more forward pass of what it recomputes: nothing, the core
    # attention ("selective"), the core attention and the MLP's input projections
    # ("mlp_input"), or every transformer layer ("full").
    mlp_in_dense, mlp_in_routed, mlp_in_elements = mlp_input_projections(shape)
    mlp_in_fwd_seq = seq * 2 * (mlp_in_dense + mlp_in_routed)
    flops_hw_seq = {mode: flops_model_seq + extra for mode, extra in
                    (("none", 0.0), ("selective", flops_fwd_attn_seq),
                     ("mlp_input", flops_fwd_attn_seq + mlp_in_fwd_seq), ("full", flops_fwd_layers_seq))}
    # Weight-GEMM FLOPs (the share tile/wave quantization acts on): forward, backward and the
    # recomputed forward of the GEMMs run again ("mlp_input", "full"), plus the output layer's forward
    # and backward. The backward's two GEMMs per weight are charged the forward's quantization.
    gemm_fwd_layers = seq * 2 * layer_params
    flops_gemm_seq = {mode: passes * seq * 2 * matmul_params + extra for mode, extra in
                      (("none", 0.0), ("selective", 0.0), ("mlp_input", mlp_in_fwd_seq), ("full", gemm_fwd_layers))}
    waves = _training_waves(model, hardware, precision, lineage)
    peak = peak_compute(hardware, precision, lineage)
    fraction = _gemm_fraction(hardware, precision, efficiency, mode, lineage)
    mem_bw = lineage.use(hardware.memory.bandwidth) if hardware.has("memory.bandwidth") else float("inf")
    # Below 16 bits only the transformer layers' weight GEMMs run at `precision`: attention,
    # the output layer and every stored or communicated tensor stay in 16 bits.
    tensors = tensor_precision(hardware, precision)
    peak16, fraction16 = peak, fraction
    if tensors != precision:
        peak16 = peak_compute(hardware, tensors, lineage)
        fraction16 = _gemm_fraction(hardware, tensors, efficiency, mode, lineage)
    attention_fraction, backward_fraction, memory_fraction = _kernel_fractions(hardware, tensors, efficiency,
                                                                              fraction16, lineage, attention_kernel)
    # Collectives reach a cited fraction of each link's line rate (NCCL bus bandwidth).
    links = collective_efficiencies(hardware, fleet.cluster.fabric if fleet.cluster is not None else None)
    lineage.merge(links.lineage)
    per_expert, moe_layers = routed_expert_parameters(shape)
    expert_fwd_seq = seq * 2 * shape.experts_active * per_expert * moe_layers
    flops_expert_seq = {mode: passes * expert_fwd_seq + extra for mode, extra in
                        (("none", 0.0), ("selective", 0.0), ("mlp_input", seq * 2 * mlp_in_routed),
                         ("full", expert_fwd_seq))}
    expert_fraction = _expert_fraction(hardware, precision, efficiency, mode, lineage) if moe_layers else 0.0
    quantized_inputs = quantized_output_grads = quantization_rate = quantized_mlp_inputs = 0.0
    if tensors != precision and hardware.has("memory.bandwidth"):
        quantized_inputs, quantized_output_grads = linear_io_per_token(shape)
        quantized_mlp_inputs = mlp_in_elements
        per_element = lineage.use(cited_assumption(catalog, FP8_QUANTIZATION, "FP8 quantization", "training solver"))
        quantization_rate = lineage.use(hardware.memory.bandwidth) / per_element
    return TrainingTerms(
        fleet=fleet, layers=shape.layers, hidden=shape.hidden, heads=shape.heads,
        kv_width=shape.kv_heads * shape.head_dim, params=counts.total, params_active=counts.active, seq=seq,
        flops_model_seq=flops_model_seq, flops_fwd_layers_seq=flops_fwd_layers_seq,
        flops_fwd_attn_seq=flops_fwd_attn_seq, flops_fwd_logits_seq=flops_fwd_logits_seq,
        peak=peak, efficiency=fraction, capacity=capacity, elem=bytes_per_element(tensors), lineage=lineage,
        rate=peak * fraction, flops_logits3=flops_logits, flops_hw_seq=flops_hw_seq,
        flops_hw_layers_seq={mode: flops - flops_logits for mode, flops in flops_hw_seq.items()},
        devices=float(fleet.devices), per_node=fleet.per_node, intra_bw=fleet.intra_bw * links.intra,
        inter_bw=fleet.inter_bw_per_device * links.inter, inter_latency=fleet.inter_latency,
        opt_bytes=optimizer_state_bytes(catalog, precision, lineage),
        zero3_traffic=lineage.use(cited_assumption(catalog, ZERO3_TRAFFIC, "ZeRO stage 3 communication", "training solver")),
        backward_share=backward / passes, efficiency_mode=mode, mem_bw=mem_bw * memory_fraction, backward=backward,
        attention_rate=peak16 * attention_fraction, attention_backward_rate=peak16 * backward_fraction,
        logits_rate=peak16 * fraction16, tensor_precision=tensors,
        causal=not shape.encoder, flops_gemm_seq=flops_gemm_seq, waves=waves, capacity_basis=capacity_basis,
        routed_params=per_expert * moe_layers * shape.experts_total, experts_total=shape.experts_total,
        tied_embedding_params=shape.vocab * shape.hidden if shape.tied else 0.0,
        experts_active=shape.experts_active, moe_layers=moe_layers, quantized_inputs=quantized_inputs,
        expert_rate=peak * expert_fraction, flops_expert_seq=flops_expert_seq,
        quantized_output_grads=quantized_output_grads, quantization_rate=quantization_rate,
        quantized_mlp_inputs=quantized_mlp_inputs, attention_kernel=attention_kernel,
    )


def tensor_precision(hardware: Record, precision: str) -> str:
    """The precision of the tensors a training step stores and communicates at compute
    `precision`: the same for 16 bits or wider; for narrower (8-bit) training, bf16 (fp16
    where the accelerator has no bf16 peak). Transformer Engine's FP8 recipes quantize only
    the inputs of the Linear layers' GEMMs; Megatron-Core keeps parameters in higher
    precision (fp8_param False), runs dot-product attention in 16 bits
    (fp8_dot_product_attention False) and the output layer as a plain 16-bit
    ColumnParallelLinear (an FP8 LM head only with fp8_output_proj and the MXFP8 recipe), and
    its all-to-all token dispatcher sends 16-bit hidden states.

    References
    ----------
    NVIDIA/Megatron-LM at d98e8a6, megatron/core/transformer/transformer_config.py (fp8_param,
    fp8_dot_product_attention, fp8_output_proj, all default False) and
    megatron/core/models/gpt/gpt_model.py (output_layer class); NVIDIA/TransformerEngine at
    d0067d0, transformer_engine/common/recipe/__init__.py (fp8_dpa, default False: "DPA casts
    the inputs from higher precision to FP8 ... and casts tensors back to higher precision").
    """
    if bytes_per_element(precision) >= bytes_per_element("bf16"):
        return precision
    for wider in ("bf16", "fp16"):
        if hardware.has(f"compute.{wider}"):
            return wider
    return precision


def _gemm_fraction(hardware: Record, precision: str, efficiency: Any, mode: str, lineage: Lineage) -> float:
    """Achieved fraction [1] of the dense peak of the weight GEMMs at `precision`. In first
    principles with the generic cited GEMM figure (gemm_compute_efficiency, a 16-bit A100
    figure), the GEMM figure scoped to this accelerator and precision takes its place where
    the catalog has one (`terms.scoped_efficiency`, the choice serving makes); any
    other efficiency (a number, another record, a measured MFU) applies as given."""
    generic = isinstance(efficiency, Record) and efficiency.id == GEMM_EFFICIENCY
    if generic and mode == "first_principles":
        try:
            terms = hardware_terms(hardware, precision, require_memory=False)
        except MlsysimError:
            terms = None
        value = None if terms is None else scoped_efficiency(terms, "gemm")
        if value is not None:
            return lineage.use(value)
    return inputs.fraction(efficiency, "efficiency", lineage)


def _expert_fraction(hardware: Record, precision: str, efficiency: Any, mode: str, lineage: Lineage) -> float:
    """Achieved fraction [1] of the dense peak of a mixture-of-experts layer's routed-expert
    grouped GEMMs at `precision`: in first principles with a cited GEMM figure, the expert
    figure scoped to this accelerator and precision (`terms.expert_gemm_value`) where the
    catalog has one; else 0, and they run like the other weight GEMMs (a number or a
    measured MFU the caller chose applies to every GEMM)."""
    if not (isinstance(efficiency, Record) and mode == "first_principles"):
        return 0.0
    try:
        terms = hardware_terms(hardware, precision, require_memory=False)
    except MlsysimError:
        return 0.0
    value = expert_gemm_value(terms)
    return 0.0 if value is None else lineage.use(value)


def _kernel_fractions(hardware: Record, precision: str, efficiency: Any, gemm: float,
                      lineage: Lineage, attention_kernel: str | None = None) -> tuple[float, float, float]:
    """Achieved fractions [1] of the fused-attention forward and backward kernels (of peak
    compute) and of the memory-bound element-wise work (of peak memory bandwidth) in a
    first-principles training step on `hardware` at `precision`, the per-kernel figures
    serving uses (`terms.kernel_efficiency_values`). Attention takes the cited attention
    figure scoped to this accelerator and precision when the GEMM efficiency is a cited
    kernel figure, else the GEMM fraction `gemm` (a number the caller chose applies to every
    compute kernel, as in ServingModel); its backward takes the cited backward figure
    (`terms.attention_backward_value`) where the forward's is cited and one is scoped here,
    else 0 (priced like the forward). A named `attention_kernel` takes that kernel's cited
    figures instead (`terms.attention_kernel_values`; an error where none is cited, or where
    the caller's number prices every compute kernel). Memory-bound work takes the cited
    memory efficiency."""
    if attention_kernel is not None and not isinstance(efficiency, Record):
        raise MlsysimError(f"attention_kernel {attention_kernel!r} picks a cited attention figure, but efficiency="
                           f"{efficiency!r} prices every compute kernel at that number; pass one or the other")
    try:
        terms = hardware_terms(hardware, precision, require_memory=False)
    except MlsysimError:
        if attention_kernel is not None:
            raise
        return gemm, 0.0, 1.0
    cited = kernel_efficiency_values(terms)
    attention, backward = gemm, 0.0
    scoped_attention = cited["attention"].qualifiers.get("kernel") == "attention"
    if attention_kernel is not None:
        forward, backward_value = attention_kernel_values(terms, attention_kernel)
        attention = lineage.use(forward)
        backward = lineage.use(backward_value) if backward_value is not None else 0.0
    elif isinstance(efficiency, Record) and scoped_attention:
        attention = lineage.use(cited["attention"])
        value = attention_backward_value(terms)
        if value is not None:
            backward = lineage.use(value)
    memory = lineage.use(cited["memory"]) if hardware.has("memory.bandwidth") else 1.0
    return attention, backward, memory


def _training_waves(model: Record, hardware: Record, precision: str, lineage: Lineage) -> Any:
    """`tp -> WaveQuantization` of the model's weight GEMMs on the accelerator at `precision`
    (the roofline's term: the accelerator's cited SM count and the cited cuBLAS tile), or None
    where it does not apply (no SM count, a tile cited for another vendor or precision). Its
    cited inputs join `lineage` once: they are the same at every tensor-parallel size."""
    try:
        m, h = model_terms(model), hardware_terms(hardware, precision, require_memory=False)
    except MlsysimError:
        return None
    first = wave_quantization(m, h, 1)
    if not first.wave:
        return None
    lineage.merge(first.lineage)
    return lambda tp: wave_quantization(m, h, tp)


def gemm_slowdown(ops: Any, s: TrainingTerms, tp: Any, tokens: Any) -> Any:
    """Tile/wave-quantization slowdown [1] (>= 1) of the weight GEMMs of a microbatch of
    `tokens` rows split over `tp` GPUs (`terms.WaveQuantization.slowdown`); 1 where the term
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


class LayoutColumns:
    """Layouts as numpy columns (one row per candidate), with the attribute names of Layout:
    what `step_model` computes on in a search (a Layout itself in a single solve)."""

    __slots__ = ("tp", "pp", "cp", "microbatch", "zero", "interleave", "recompute", "recompute_layers", "sequence_parallel",
                 "allreduce", "overlap_grad_reduce", "overlap_param_gather", "fused_attention", "schedule",
                 "fused_grad_accumulation", "ep", "tp_comm_overlap", "shard_within_node", "ep_dispatch",
                 "expert_tp", "ep_overlap", "grad_reduce_fp32", "full_grad_allreduce")

    def __init__(self, cols: dict[str, Any], recompute: str, sequence_parallel: bool, allreduce: str):
        self.tp, self.pp, self.cp = cols["tp"], cols["pp"], cols["cp"]
        self.microbatch, self.zero, self.interleave = cols["microbatch"], cols["zero"], cols["interleave"]
        self.ep = cols.get("ep", 1.0)
        self.recompute, self.sequence_parallel, self.allreduce = recompute, sequence_parallel, allreduce
        self.recompute_layers = None
        self.overlap_grad_reduce = False
        self.overlap_param_gather = False
        self.fused_attention = True
        self.schedule = "interleaved"
        self.fused_grad_accumulation = False
        self.tp_comm_overlap = False
        self.shard_within_node = False
        self.ep_dispatch = "all_to_all"
        self.expert_tp = None
        self.ep_overlap = False
        self.grad_reduce_fp32 = False
        self.full_grad_allreduce = False


def _folded(x: Any) -> bool:
    """Whether the routed experts are whole on each rank with the EP ranks drawn from TP x DP x
    CP (expert_tp 1 under TP > 1: Megatron-Core's MoE parallel folding, Liu et al. 2025, arXiv
    2504.14960); a search never folds."""
    return x.expert_tp == 1 and not (type(x.tp) is int and x.tp == 1)


def _expert_tp(x: Any) -> Any:
    """The routed experts' tensor-parallel size: 1 when folded, else the layout's tp."""
    return 1.0 if _folded(x) else x.tp


def _recomputed_share(x: Any, layers_chunk: Any) -> float | None:
    """The share of a model chunk's `layers_chunk` layers that `x` recomputes in full when it
    recomputes only some (`recompute_layers`), else None: every layer follows the mode."""
    if x.recompute_layers is None:
        return None
    return min(1.0, x.recompute_layers / layers_chunk)


def _by_mode(table: dict[str, Any], x: Any, share: float | None) -> Any:
    """`table`'s entry for `x`'s recomputation mode, or, when only a `share` of the layers is
    recomputed in full, that share of the "full" entry and the rest of the "none" one (every
    per-mode quantity here is a per-layer cost summed over layers)."""
    if share is None:
        return table[x.recompute]
    return share * table["full"] + (1.0 - share) * table["none"]


# Whether a mode runs each layer's attention forward again [0 or 1].
_ATTENTION_RECOMPUTED = {"none": 0.0, "selective": 1.0, "mlp_input": 1.0, "full": 1.0}
# Whether a mode runs the forward's tensor-parallel all-reduces again [0 or 1] ("mlp_input"
# keeps the outputs they follow).
_TP_RECOMPUTED = {"none": 0.0, "selective": 0.0, "mlp_input": 0.0, "full": 1.0}


def activation_bytes_per_layer(seq: Any, batch: Any, hidden: Any, heads: Any, tp: Any, recompute: str,
                               sequence_parallel: bool, kv_width: Any = None) -> Any:
    """Activation memory [B] one transformer layer keeps for the backward pass, for 16-bit
    activations.

    Parameters
    ----------
    seq [tokens], batch [sequences], hidden [1], heads [1], tp [1]: the layer's shape and
    tensor-parallel size; recompute: "none", "selective", "mlp_input" or "full";
    sequence_parallel; kv_width [1]: KV heads x head dimension ("mlp_input" only).

    Returns
    -------
    no parallelism            s b h (34 + 5 a s / h)
    tensor parallel t         s b h (10 + 24/t + 5 a s / (h t))
    + sequence parallel       s b h / t (34 + 5 a s / h)
    selective recomputation   drops the 5 a s / h term (the attention scores)
    "mlp_input"               the named outputs MaxText's save_dot_except_mlpwi keeps, 2 bytes
                              each: the layer input, Q, K and V (split over t), the attention
                              output projection and the MLP output:
                              2 s b (3 h + (h + 2 kv) / t), or 2 s b (4 h + 2 kv) / t with
                              sequence parallelism
    full recomputation        2 s b h (the layer input; / t with sequence parallelism)

    References
    ----------
    Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
    arXiv 2205.05198, Sec. 4.2 and Table 2 (the coefficients 34, 5, 10 and 24 are its
    byte counts per s b h of a layer's saved tensors). AI-Hypercomputer/maxtext,
    MaxText/layers/models.py, Decoder.get_remat_policy: save_dot_except_mlpwi is
    jax.checkpoint_policies.save_only_these_names("query_proj", "value_proj", "key_proj",
    "qkv_proj", "out_proj", "mlpwo"); the scanned layer's input is kept as its carry.
    """
    sbh = seq * batch * hidden
    if recompute == "mlp_input":
        if kv_width is None:
            raise MlsysimError("activation_bytes_per_layer: recompute 'mlp_input' needs kv_width (KV heads x head dim)")
        projections = 2 * seq * batch * (hidden + 2 * kv_width) / tp
        full_width = 2 * len(_MLP_INPUT_KEPT_FULL_WIDTH) * sbh
        return (full_width / tp if sequence_parallel else full_width) + projections
    scores = 5 * heads * seq / hidden
    if recompute == "full":
        return 2 * sbh / tp if sequence_parallel else 2 * sbh
    if recompute == "selective":
        scores = 0.0
    if sequence_parallel:
        return sbh / tp * (34 + scores)
    return sbh * (10 + 24 / tp + scores / tp)


def elementwise_bytes_per_layer(seq: Any, batch: Any, hidden: Any, heads: Any, tp: Any, sequence_parallel: bool,
                                fused_attention: bool) -> Any:
    """Memory traffic [B] of one transformer layer's memory-bound (non-GEMM) work in one
    forward pass: layer norms, bias, GeLU, dropout, residual adds and, when attention is not
    fused, the softmax over the materialised scores.

    Each tensor the layer saves for backward is written once by the operation producing it
    and read once by the one consuming it, so the traffic is twice the saved bytes of
    `activation_bytes_per_layer` without recomputation; fused (Flash) attention keeps the
    scores on chip, which drops their 5 a s / h term. Unfused attention also writes the raw
    scores Q K^T / sqrt(d) (16-bit, a/t heads of s x s per sequence) from the batched GEMM and
    reads them back in the softmax without keeping them for backward, one more round trip:

        traffic = 2 x activation_bytes_per_layer(s, b, h, a, t, "none" or "selective", sp)
                  + (unfused only) 2 x 2 a s^2 b / t

    References
    ----------
    Korthikanti et al. 2022, arXiv 2205.05198, Sec. 4.1 (the saved tensors of a layer and
    their sizes); Dao 2023, arXiv 2307.08691, Sec. 2.2-2.3 (standard attention writes S and
    P to HBM; FlashAttention does not); Megatron-LM at 6985e58 (the SC21 runs),
    megatron/model/transformer.py, ParallelAttention.forward: "Raw attention scores.
    [b * np, sq, sk]" from torch.baddbmm, then scale_mask_softmax.
    """
    mode = "selective" if fused_attention else "none"
    saved = 2.0 * activation_bytes_per_layer(seq, batch, hidden, heads, tp, mode, sequence_parallel)
    if fused_attention:
        return saved
    return saved + 2.0 * 2.0 * heads * seq * seq * batch / tp


def ring_collective_time(nbytes: Any, n: Any, bandwidth: Any, latency: Any) -> Any:
    """All-gather or reduce-scatter of `nbytes` [B] (the full, unsharded buffer) over a ring
    of `n` ranks [s]: (n - 1)/n x nbytes / bandwidth + (n - 1) x latency.

    References
    ----------
    NCCL documentation, "Performance" (bus bandwidth: all-gather and reduce-scatter move
    (n-1)/n of the data per rank, all-reduce 2 (n-1)/n); Thakur, Rabenseifner & Gropp 2005
    (alpha-beta model).
    """
    return (n - 1) / n * nbytes / bandwidth + (n - 1) * latency


def _slot_times(ops: Any, s: TrainingTerms, x: Any, dp: Any, layers_stage: Any,
                t_quant: Any, t_dispatch: Any, share: float | None) -> tuple[Any, Any, Any, Any, Any, Any]:
    """Compute (GEMM, memory-bound, the FP8 quantization `t_quant` of `quantization_time` and the
    MoE token movement `t_dispatch` of `moe_dispatch_time`), TP, CP, pipeline-send, exposed ZeRO-3 and
    expert-parallel all-to-all time of one microbatch through the slowest stage [s]. Each group talks over the node's link when it
    fits in one node, else over each device's share of the fabric (bandwidth [B/s] and
    latency [s] picked with ops.where)."""
    where, per_node, intra, inter, inter_lat = ops.where, s.per_node, s.intra_bw, s.inter_bw, s.inter_latency
    seq_local = s.seq / x.cp
    # Forward and backward pass, plus the forward again of what is recomputed.
    stage_flops = layers_stage / s.layers * _by_mode(s.flops_hw_layers_seq, x, share) + s.flops_logits3
    attention_stage = t_attention = 0.0
    if x.fused_attention:
        # Score and value work of every pass that runs attention (forward, backward, and the
        # recomputed forward), run by the fused attention kernels at their own efficiency;
        # they skip the blocks a causal mask hides, half of it.
        forward_passes = 1.0 + _by_mode(_ATTENTION_RECOMPUTED, x, share)
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
    layer_gemms = _by_mode(s.flops_gemm_seq, x, share) - s.flops_logits3
    slowdown = gemm_slowdown(ops, s, x.tp, x.microbatch * seq_local)
    # The layers' weight GEMMs stretched by their tile/wave term, the routed experts' share at
    # their own cited figure where one is scoped here (as every pass prices them).
    stretch = weight_gemm_stretch(slowdown, _by_mode(s.flops_expert_seq, x, share) / layer_gemms if layer_gemms else 0.0,
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
    passes_mem = 1.0 + s.backward + _by_mode(_ELEMENTWISE_RECOMPUTED, x, share)
    traffic = elementwise_bytes_per_layer(seq_local, x.microbatch, s.hidden, s.heads, x.tp, x.sequence_parallel,
                                          x.fused_attention)
    t_mem = layers_stage * passes_mem * traffic / s.mem_bw
    t_compute = t_gemm + t_mem + t_quant + t_dispatch

    # Tensor-parallel all-reduces of activations: inside a node if the TP group fits in one.
    act = x.microbatch * seq_local * s.hidden * s.elem
    # Forward, backward (, recomputed forward).
    passes = 2.0 + _by_mode(_TP_RECOMPUTED, x, share)
    inside = x.tp <= per_node
    # Folded experts are whole on each rank: a MoE layer's MLP has no TP collective, only attention.
    per_layer = TP_ALLREDUCES_PER_PASS - (s.moe_layers / s.layers if _folded(x) else 0.0)
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
        group = _zero_group(ops, s, x, dp)
        inside = group * x.tp <= per_node
        bw, lat = where(inside, intra, inter), where(inside, 0.0, inter_lat)
        gather = _zero3_collective(s, x, group, bw, lat, layers_stage, s.elem, where)
        scatter = _zero3_collective(s, x, group, bw, lat, layers_stage, FP32_GRADIENT_BYTES, where) \
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
    if _expert_parallel(s, x):
        moe_stage = layers_stage / s.layers * s.moe_layers
        tokens = x.microbatch * seq_local / x.tp
        routed_tokens = tokens * s.experts_active
        # The EP group's ranks: strided by TP x CP when drawn from DP x CP, consecutive when folded.
        span = x.ep if _folded(x) else x.tp * x.cp * x.ep
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
        a2a_passes = 2.0 + _by_mode(_ELEMENTWISE_RECOMPUTED, x, share)
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
    layers a partial full recomputation covers (`_recomputed_share`; None: the mode's own).

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
    again = _by_mode({"none": 0.0, "selective": 0.0, "full": s.quantized_inputs, "mlp_input": s.quantized_mlp_inputs},
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
    passes = 2.0 + _by_mode(_ELEMENTWISE_RECOMPUTED, x, share)
    moe_stage = layers_stage / s.layers * s.moe_layers
    return x.microbatch * s.seq / x.cp / x.tp * passes * elements * moe_stage * s.elem / s.mem_bw


def _expert_parallel(s: TrainingTerms, x: Any) -> bool:
    """Whether expert parallelism can change anything: a mixture-of-experts model, and a
    layout (or column of layouts) not fixed at EP 1. Dense models skip its arithmetic."""
    return bool(s.routed_params) and not (type(x.ep) is int and x.ep == 1)


def _param_split(s: TrainingTerms, x: Any) -> tuple[Any, Any]:
    """(dense, routed-expert) parameters one device holds before ZeRO sharding [1]: the
    dense ones split by TP x PP, the routed experts by their own TP (`_expert_tp`) x PP and
    over the EP ranks."""
    return (s.params - s.routed_params) / (x.tp * x.pp), s.routed_params / (_expert_tp(x) * x.pp * x.ep)


def _held(ops: Any, s: TrainingTerms, x: Any, dp: Any, stage: int, dense: Any, routed: Any) -> Any:
    """Parameters one device keeps once ZeRO `stage` shards them [1]: the dense ones over
    `_shards`, the routed experts over `_expert_shards` (skipped for a dense model, whose
    routed share is zero)."""
    kept = dense / _shards(ops, s, x, dp, stage)
    if s.routed_params:
        kept = kept + routed / _expert_shards(ops, s, x, dp, stage)
    return kept


def _expert_shards(ops: Any, s: TrainingTerms, x: Any, dp: Any, stage: int) -> Any:
    """`_shards` for the routed experts: ZeRO splits them over the ranks of its group that
    hold the same experts, (DP x CP) / EP of them (of the node's, under hybrid sharding), or
    (TP x DP x CP) / EP when the experts are whole on each rank (`_folded`)."""
    return ops.where(x.zero >= stage, ops.maximum(_zero_group(ops, s, x, dp) * x.tp / _expert_tp(x) / x.ep, 1.0), 1.0)


def _dp_time(ops: Any, s: TrainingTerms, x: Any, dp: Any, t_compute: Any) -> Any:
    """Exposed data-parallel gradient synchronisation [s] over the DP x CP ranks holding the
    same weights, once per step: an all-reduce of the gradients for ZeRO 0; ZeRO 1 and 2
    reduce-scatter the gradients and all-gather the updated parameters, the same volume when
    both are at the training precision (with `grad_reduce_fp32`, the gradients' half at 4
    bytes), or under `full_grad_allreduce` all-reduce the gradients and then all-gather the
    parameters, the volume of an all-reduce of g + e / 2 bytes per parameter (a ring
    all-gather moves half a ring all-reduce's); ZeRO 3 moves its data per microbatch instead
    (`_slot_times`), so nothing here, except under hybrid sharding: each device's gradient
    shard is all-reduced across the copies in other nodes ((DP x CP) / `_zero_group` of
    them, over the fabric). Under pipeline parallelism a tied embedding's gradient is then
    summed between the first and last stages (`_tied_embedding_time`), never hidden."""
    dense, routed = _param_split(s, x)
    group = dp * x.cp
    grad = _gradient_bytes(s, x)
    # Bytes per parameter as the volume of one ring all-reduce (a ring all-gather or
    # reduce-scatter moves half of one).
    if x.full_grad_allreduce:  # ZeRO 1-2 only (Layout): all-reduce g, then all-gather e
        per_param = grad + s.elem / 2.0
    elif x.grad_reduce_fp32:  # ZeRO 1-2 reduce-scatter g and all-gather e; ZeRO 0 all-reduces g
        per_param = ops.where(x.zero >= SHARD_OPTIMIZER, (grad + s.elem) / 2.0, grad)
    else:  # g = e: whatever the stage, the volume of an all-reduce of e
        per_param = grad
    t_dp = _gradient_allreduce(ops, s, x, (dense + routed) * per_param, group)
    if _expert_parallel(s, x):
        # The routed experts' gradients are summed only over the ranks that hold the same
        # experts, (DP x CP) / EP of them ((TP x DP x CP) / EP when folded).
        t_dp = ops.where(x.ep > 1, _gradient_allreduce(ops, s, x, dense * per_param, group)
                         + _gradient_allreduce(ops, s, x, routed * per_param, group * x.tp / _expert_tp(x) / x.ep), t_dp)
    across = 0.0
    if x.shard_within_node:
        shard = _held(ops, s, x, dp, SHARD_GRADIENTS, dense, routed) * grad
        across = ring_allreduce_time(shard, group / _zero_group(ops, s, x, dp), s.inter_bw, s.inter_latency)
    t_dp = ops.where(x.zero == SHARD_PARAMETERS, across, t_dp)
    if x.overlap_grad_reduce:  # hidden behind the last microbatch's backward pass
        t_dp = ops.maximum(0.0, t_dp - t_compute * s.backward_share)
    return t_dp + _tied_embedding_time(ops, s, x, dp, grad)


def _tied_embedding_time(ops: Any, s: TrainingTerms, x: Any, dp: Any, grad: float) -> Any:
    """The all-reduce [s] of a tied embedding's gradient between the first pipeline stage
    (input embedding) and the last (output layer), once per step after the backward pass,
    so the two copies stay equal: vocabulary x hidden / TP elements at `grad` bytes over
    two ranks, over the fabric unless the whole job fits in one node. None without
    pipeline parallelism or tying.

    References
    ----------
    Megatron-LM, megatron/core/distributed/finalize_model_grads.py,
    `_allreduce_word_embedding_grads` ("Reduce grads across first and last stages to ensure
    that word_embeddings parameters stay in sync"); DeepSpeed, deepspeed/runtime/pipe/engine.py,
    `_exec_reduce_tied_grads` (dist.all_reduce of each tied weight's gradient over its group).
    """
    if not s.tied_embedding_params:
        return 0.0
    inside = x.tp * x.cp * dp * x.pp <= s.per_node
    t = ring_allreduce_time(s.tied_embedding_params / x.tp * grad, 2.0, ops.where(inside, s.intra_bw, s.inter_bw),
                            ops.where(inside, 0.0, s.inter_latency))
    return ops.where(x.pp > 1, t, 0.0)


def _gradient_allreduce(ops: Any, s: TrainingTerms, x: Any, grads: Any, group: Any) -> Any:
    """All-reduce of `grads` [B] over `group` ranks [s]: hierarchical (inside each node, then
    across) or a flat ring, as the layout says."""
    local = ops.minimum(group, ops.maximum(1.0, s.per_node // x.tp))
    nodes = group / local
    if x.allreduce == "hierarchical":
        return hierarchical_allreduce_time(grads, local, nodes, s.intra_bw, s.inter_bw, s.inter_latency)
    inside = nodes <= 1
    return ring_allreduce_time(grads, group, ops.where(inside, s.intra_bw, s.inter_bw),
                               ops.where(inside, 0.0, s.inter_latency))


def update_time(ops: Any, s: TrainingTerms, x: Any, dp: Any, m: Any) -> Any:
    """Memory-bound parameter work of one step on one device [s]: gradient accumulation and
    the optimizer step, at the achieved memory bandwidth.

        accumulation = (m - 1) x (e + 2 g) x P_dev      (g_acc += g for microbatches 2..m:
                                                         read the new gradient, read and
                                                         write the sum; none when the
                                                         weight-gradient GEMM accumulates in
                                                         place, or under ZeRO 2/3, whose
                                                         gradients leave the device every
                                                         microbatch)
        optimizer    = P_opt x (2 K + g + e)            (read and write the optimizer state
                                                         of K bytes per parameter, read the
                                                         gradient, write the weights)

    with P_dev = params / (TP x PP) the parameters a device holds, e the bytes per element at
    the training precision, g the gradients' (4 under `grad_reduce_fp32`, else e), and
    P_opt = P_dev / (DP x CP) under ZeRO 1-3 (the optimizer state is sharded) else P_dev.

    References
    ----------
    Rajbhandari et al. 2020, arXiv 1910.02054, Sec. 3.1 (mixed-precision Adam keeps K = 12
    bytes of optimizer state per parameter; assumption adam_optimizer_state_bytes_mixed_precision).
    Narayanan et al. 2021, arXiv 2104.04473, Sec. 5.1 (a measured step includes the optimizer).
    """
    dense, routed = _param_split(s, x)
    grad = _gradient_bytes(s, x)
    separate = ops.where(x.zero >= SHARD_GRADIENTS, 0.0, 0.0 if x.fused_grad_accumulation else 1.0)
    # Read the microbatch's gradient (training precision), read and write the accumulated one.
    added = s.elem + (GRADIENT_ACCUMULATION_ACCESSES - 1) * grad
    accumulation = separate * ops.maximum(m - 1.0, 0.0) * added * (dense + routed)
    held = _held(ops, s, x, dp, SHARD_OPTIMIZER, dense, routed)
    optimizer = held * (2.0 * s.opt_bytes + grad + s.elem)
    return (accumulation + optimizer) / s.mem_bw


def _zero3_collective(s: TrainingTerms, x: Any, group: Any, bw: Any, lat: Any, layers_stage: Any, nbytes: float,
                      where: Any) -> Any:
    """One ZeRO-3 collective over the shards of every layer of a stage [s]: an all-gather of
    the parameters or a reduce-scatter of the gradients, `nbytes` per element, over the
    `group` ranks (ring at `bw`, `lat` per step)."""
    dense, routed = _param_split(s, x)
    once = ring_collective_time((dense + routed) * nbytes, group, bw, 0.0) + layers_stage * (group - 1) * lat
    if _expert_parallel(s, x):
        # The routed experts' shards live on the group / ep ranks that hold the same experts:
        # their collectives run over that smaller group.
        once = where(x.ep > 1, ring_collective_time(dense * nbytes, group, bw, 0.0)
                     + ring_collective_time(routed * nbytes, group * x.tp / _expert_tp(x) / x.ep, bw, 0.0)
                     + layers_stage * (group - 1) * lat, once)
    return once


def _gradient_bytes(s: TrainingTerms, x: Any) -> float:
    """Bytes per gradient element as the layout holds, accumulates and reduces them: fp32
    under `grad_reduce_fp32`, else the training precision's."""
    return FP32_GRADIENT_BYTES if x.grad_reduce_fp32 else s.elem


def _zero_group(ops: Any, s: TrainingTerms, x: Any, dp: Any) -> Any:
    """The ranks ZeRO shards one copy of the weights over [1]: the DP x CP group, or under
    hybrid sharding (`shard_within_node`) its ranks inside one node, TP innermost as
    `_gradient_allreduce` places them."""
    group = dp * x.cp
    if not x.shard_within_node:
        return group
    return ops.minimum(group, ops.maximum(1.0, s.per_node // x.tp))


def _shards(ops: Any, s: TrainingTerms, x: Any, dp: Any, stage: int) -> Any:
    """How many ways ZeRO splits what `stage` shards on one device: the ranks of its group
    (`_zero_group`) once the layout's ZeRO stage reaches `stage`, else 1."""
    return ops.where(x.zero >= stage, _zero_group(ops, s, x, dp), 1.0)


def _memory(ops: Any, s: TrainingTerms, x: Any, dp: Any, m: Any, layers_stage: Any,
            share: float | None) -> tuple[Any, Any, Any, Any]:
    """Weights, gradients, optimizer state and activations per device [B]: weights and
    gradients at the training precision, optimizer state (s.opt_bytes per parameter),
    sharded over the DP x CP group by the ZeRO stage; activations of the microbatches in
    flight on the first stage."""
    dense, routed = _param_split(s, x)
    weights = _held(ops, s, x, dp, SHARD_PARAMETERS, dense, routed) * s.elem
    gradients = _held(ops, s, x, dp, SHARD_GRADIENTS, dense, routed) * _gradient_bytes(s, x)
    optimizer = _held(ops, s, x, dp, SHARD_OPTIMIZER, dense, routed) * s.opt_bytes
    seq_local = s.seq / x.cp
    # Fused (Flash) attention keeps no attention scores for the backward pass, as selective
    # recomputation does not (Dao et al. 2022; Korthikanti et al. 2022 Sec. 4.2).
    unrecomputed = "selective" if x.fused_attention else "none"
    kept = unrecomputed if x.recompute == "none" else x.recompute
    per_layer = activation_bytes_per_layer(seq_local, x.microbatch, s.hidden, s.heads, x.tp, kept,
                                           x.sequence_parallel, s.kv_width)
    if share is not None:  # the other layers of each chunk keep everything
        per_layer = share * per_layer + (1.0 - share) * activation_bytes_per_layer(
            seq_local, x.microbatch, s.hidden, s.heads, x.tp, unrecomputed, x.sequence_parallel)
    in_flight = ops.minimum(m, x.pp)
    # 1F1B keeps p microbatches in flight on the first stage; the interleaved schedule's
    # longer warm-up adds (p-1)/(p v) (Narayanan et al. 2021, Megatron-LM's schedule).
    interleave_factor = 1 + (x.pp - 1) / (x.pp * x.interleave)
    if x.schedule == "zb-v":  # two chunks, but 1F1B's activation memory (Qi et al. 2024)
        interleave_factor = 1.0
    activations = layers_stage * per_layer * in_flight * ops.where(x.interleave > 1, interleave_factor, 1.0)
    if x.recompute in ("full", "mlp_input"):
        # The one layer being recomputed holds what it keeps without recomputation.
        activations = activations + activation_bytes_per_layer(seq_local, x.microbatch, s.hidden, s.heads, x.tp,
                                                               unrecomputed, x.sequence_parallel)
    return weights, gradients, optimizer, activations


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
    hw_flops = batch * _by_mode(s.flops_hw_seq, x, _recomputed_share(x, s.layers / (x.pp * x.interleave)))
    n = s.devices
    share = _recomputed_share(x, layers_stage / x.interleave)
    weights, gradients, optimizer, activations = _memory(ops, s, x, dp, m, layers_stage, share)
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
        t_compute, t_tp, t_cp, t_p2p, t_z3, t_ep = _slot_times(ops, s, x, dp, layers_stage, t_quant, t_dispatch, share)
        slot = t_compute + t_tp + t_cp + t_p2p + t_z3 + t_ep
        bubble_slots = pipeline_bubble_slots(x.schedule, x.pp, x.interleave, s.backward)
        bubble = bubble_slots * slot
        t_dp = _dp_time(ops, s, x, dp, t_compute)
        t_update = update_time(ops, s, x, dp, m)
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
        `mfu_*` assumption is applied as measured end to end (`efficiency_mode_of`).
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
