"""How a training job is split: the parallel layout (tensor, pipeline, context, data and
expert parallelism, ZeRO stage, activation recomputation, pipeline schedule and what overlaps
what), checked once when it is built; the layouts a search tries; the same layouts as numpy
columns; and what each recomputation mode runs again.

References
----------
Narayanan et al. 2021, arXiv 2104.04473 (tensor, pipeline and data parallelism; interleaved
1F1B). Korthikanti et al. 2022, arXiv 2205.05198 (sequence parallelism, selective
recomputation). Qi et al. 2024, arXiv 2401.10241 (zero-bubble schedules). Rajbhandari et al.
2020, arXiv 1910.02054 (ZeRO stages).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from difflib import get_close_matches
from functools import lru_cache
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.solvers.fleet import Fleet


# Activation recomputation: none; "selective", the core attention (Korthikanti et al. 2022);
# "mlp_input", the core attention, every element-wise operation and the MLP's input
# projections, keeping the other matrix products' outputs (MaxText's save_dot_except_mlpwi);
# "full", every transformer layer from its input.
RECOMPUTE = ("none", "selective", "mlp_input", "full")
# What DistributedModel.search tries unless told otherwise: Megatron-LM's three modes.
SEARCHED_RECOMPUTE = ("none", "selective", "full")
# Forward passes of the element-wise work (norms, activations, residual adds) a mode recomputes.
ELEMENTWISE_RECOMPUTED = {"none": 0.0, "selective": 0.0, "mlp_input": 1.0, "full": 1.0}
# Pipeline schedules: plain 1F1B, interleaved 1F1B (Narayanan et al. 2021), and the
# zero-bubble schedules ZB-H1 and ZB-V (Qi et al. 2024).
SCHEDULES = ("1f1b", "interleaved", "zb-h1", "zb-v")
# ZB-V places exactly two model chunks on every stage, in a V shape (Qi et al. 2024, Sec. 6).
ZB_V_CHUNKS = 2
ALLREDUCE = ("ring", "hierarchical")
# ZeRO stages (Rajbhandari et al. 2020): 1 partitions the optimizer state, 2 also the
# gradients, 3 also the parameters (FSDP-style full sharding).
ZERO_STAGES = (0, 1, 2, 3)
SHARD_OPTIMIZER, SHARD_GRADIENTS, SHARD_PARAMETERS = ZERO_STAGES[1:]
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
                        holding any of a token's experts, then over NVLink;
                        `distributed.hierarchical_dispatch_copies`)
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


class LayoutColumns:
    """Layouts as numpy columns (one row per candidate), with the attribute names of Layout:
    what `distributed.step_model` computes on in a search (a Layout itself in a single solve)."""

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


def experts_folded(x: Any) -> bool:
    """Whether the routed experts are whole on each rank with the EP ranks drawn from TP x DP x
    CP (expert_tp 1 under TP > 1: Megatron-Core's MoE parallel folding, Liu et al. 2025, arXiv
    2504.14960); a search never folds."""
    return x.expert_tp == 1 and not (type(x.tp) is int and x.tp == 1)


def expert_tp_size(x: Any) -> Any:
    """The routed experts' tensor-parallel size: 1 when folded, else the layout's tp."""
    return 1.0 if experts_folded(x) else x.tp


def recomputed_share(x: Any, layers_chunk: Any) -> float | None:
    """The share of a model chunk's `layers_chunk` layers that `x` recomputes in full when it
    recomputes only some (`recompute_layers`), else None: every layer follows the mode."""
    if x.recompute_layers is None:
        return None
    return min(1.0, x.recompute_layers / layers_chunk)


def by_recompute_mode(table: dict[str, Any], x: Any, share: float | None) -> Any:
    """`table`'s entry for `x`'s recomputation mode, or, when only a `share` of the layers is
    recomputed in full, that share of the "full" entry and the rest of the "none" one (every
    per-mode quantity here is a per-layer cost summed over layers)."""
    if share is None:
        return table[x.recompute]
    return share * table["full"] + (1.0 - share) * table["none"]


# Whether a mode runs each layer's attention forward again [0 or 1].
ATTENTION_RECOMPUTED = {"none": 0.0, "selective": 1.0, "mlp_input": 1.0, "full": 1.0}
# Whether a mode runs the forward's tensor-parallel all-reduces again [0 or 1] ("mlp_input"
# keeps the outputs they follow).
TP_RECOMPUTED = {"none": 0.0, "selective": 0.0, "mlp_input": 0.0, "full": 1.0}
