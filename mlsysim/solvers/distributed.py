"""3D-parallel training: step time, FLOP/s, MFU and memory per device.

A training step of a transformer on `devices` accelerators split into tensor (TP),
pipeline (PP), context (CP) and data (DP) parallel groups, DP = devices / (TP x PP x CP).
Compute comes from the shared transformer arithmetic (mlsysim/solvers/transformer.py)
and the accelerator's dense peak times a cited efficiency; communication uses the
alpha-beta model over the node's interconnect and the cluster's fabric.

Per pipeline stage and microbatch ("slot"):
  compute  = b x hardware FLOPs per sequence / (PP x TP x CP) / (peak x efficiency)
  TP comm  = (4, or 6 with full recomputation) ring all-reduces per layer of the
             b x s/CP x h activations over the TP group (Megatron-LM, not overlapped)
  CP comm  = all-gather of K and V forward, reduce-scatter of their gradients backward
  PP comm  = one activation send forward and one gradient send backward per slot,
             b x s/CP x h / TP bytes each (scatter/gather optimisation)
Step time = (m + (p-1)/v) slots + exposed DP gradient all-reduce, with m microbatches per
pipeline, p stages and v interleaved chunks: the bubble is (p-1)/(v m + p - 1) of the
pipelined part.

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
Shoeybi et al. 2019, "Megatron-LM", arXiv 1909.08053: two all-reduces forward and two
backward per transformer layer under tensor parallelism.
Rajbhandari et al. 2019, "ZeRO", arXiv 1910.02054: 2 + 2 + 12 bytes per parameter for
mixed-precision Adam; stages 1-3 partition optimizer state, gradients and parameters
across data-parallel ranks; stage 3 moves 1.5x the all-reduce volume.
Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of
workstations" (ring all-reduce: 2 (n-1)/n of the data per rank).
Thakur, Rabenseifner & Gropp 2005, "Optimization of Collective Communication Operations
in MPICH" (alpha-beta cost model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from mlsysim.errors import MlsysimError, OOMError
from mlsysim.lineage import Lineage
from mlsysim.catalog.records import Record
from mlsysim.solvers.fleet import (
    Fleet,
    bytes_per_element,
    inputs_key,
    peak_compute,
    resolve_fraction,
)
from mlsysim.solvers.transformer import (
    TransformerShape,
    attention_flops_per_token,
    parameter_count,
)

RECOMPUTE = ("none", "selective", "full")
ALLREDUCE = ("ring", "hierarchical")


@dataclass(frozen=True)
class Parallelism:
    """How a training job is split.

    tp, pp, cp          tensor, pipeline and context parallel sizes
    microbatch          sequences per microbatch (b)
    interleave          model chunks per pipeline stage (v; 1 = plain 1F1B)
    zero                ZeRO stage 0-3 (3 = FSDP-style full sharding) over the DP x CP group
    recompute           "none", "selective" (core attention only) or "full" activation recomputation
    sequence_parallel   shard LayerNorm/dropout activations across the TP group (Korthikanti 2022)
    allreduce           "ring" (flat, over the fabric) or "hierarchical" (intra-node, then inter-node)
    overlap_grad_reduce hide the DP all-reduce behind the last microbatch's backward pass
    """

    tp: int = 1
    pp: int = 1
    cp: int = 1
    microbatch: int = 1
    interleave: int = 1
    zero: int = 0
    recompute: str = "none"
    sequence_parallel: bool = False
    allreduce: str = "hierarchical"
    overlap_grad_reduce: bool = False

    @classmethod
    def from_mapping(cls, fields: Any) -> Parallelism:
        """A layout from a dict of its fields; an unknown key is a clear error naming the closest field."""
        from dataclasses import fields as dataclass_fields
        from difflib import get_close_matches

        known = [f.name for f in dataclass_fields(cls)]
        for key in fields:
            if key not in known:
                close = get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"use {', '.join(known)}"
                raise MlsysimError(f"parallelism: unknown field {key!r}; {hint}")
        return cls(**fields)

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "cp", "microbatch", "interleave"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MlsysimError(f"parallelism {name} must be a whole number >= 1, got {value!r}")
        if self.zero not in (0, 1, 2, 3):
            raise MlsysimError(f"parallelism zero must be 0, 1, 2 or 3 (3 = FSDP), got {self.zero!r}")
        if self.recompute not in RECOMPUTE:
            raise MlsysimError(f"parallelism recompute must be one of {', '.join(RECOMPUTE)}, got {self.recompute!r}")
        if self.allreduce not in ALLREDUCE:
            raise MlsysimError(f"parallelism allreduce must be 'ring' or 'hierarchical', got {self.allreduce!r}")
        if self.interleave > 1 and self.pp == 1:
            raise MlsysimError("interleave > 1 needs pipeline parallelism (pp > 1); set interleave: 1 or raise pp")


@dataclass(frozen=True)
class _Setup:
    """Everything about (model, fleet, precision, efficiency, sequence) that does not
    depend on the parallel split: read from the catalog once."""

    fleet: Fleet
    layers: float
    hidden: float
    heads: float
    kv_width: float  # KV heads x head dim
    params: float  # total parameters
    params_active: float  # parameters a token touches (MoE: routed experts only)
    seq: float
    flops_model_seq: float  # 3 x forward FLOPs of one sequence
    flops_fwd_layers_seq: float  # forward FLOPs of the transformer layers (recomputed under "full")
    flops_fwd_attn_seq: float  # forward score+value FLOPs (recomputed under "selective")
    flops_fwd_logits_seq: float  # forward FLOPs of the output layer (on the last stage, never recomputed)
    peak: float  # [FLOP/s] per device
    efficiency: float
    capacity: float  # [B] per device
    elem: float  # bytes per element at the training precision
    lineage: Lineage
    # Derived once from the above, so a solve does only the layout-dependent arithmetic.
    rate: float  # [FLOP/s] peak x efficiency
    flops_logits3: float  # forward + backward FLOPs of the output layer per sequence
    flops_hw_seq: dict[str, float]  # hardware FLOPs per sequence (3 x forward + recomputation), by recompute mode
    flops_hw_layers_seq: dict[str, float]  # the same without the output layer
    devices: float
    per_node: int
    intra_bw: float  # [B/s] per device inside a node
    inter_bw: float  # [B/s] per device across the fabric
    inter_latency: float  # [s]
    opt_bytes: float  # optimizer state bytes per parameter


@dataclass(slots=True)
class TrainingResult:
    """One training configuration, in SI units (seconds, FLOP, bytes).

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

    @property
    def tokens_per_step(self) -> float:
        return float(self.global_batch * self.seq_len)

    @property
    def exposed_communication_time(self) -> float:
        return self.tp_comm_time + self.cp_comm_time + self.pp_comm_time + self.dp_comm_time

    def time_to_train(self, tokens: float) -> float:
        """Seconds to process `tokens` training tokens at this step rate (no failures)."""
        return tokens / self.tokens_per_second

    def raise_if_infeasible(self) -> TrainingResult:
        if not self.feasible:
            raise OOMError(
                f"{self.memory_total / 1e9:.1f} GB per device needed "
                f"(weights {self.memory_weights / 1e9:.1f}, gradients {self.memory_gradients / 1e9:.1f}, "
                f"optimizer {self.memory_optimizer / 1e9:.1f}, activations {self.memory_activations / 1e9:.1f}) "
                f"but the device has {self.memory_capacity / 1e9:.1f} GB; raise TP/PP, use ZeRO, "
                "recompute activations or shrink the microbatch"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lineage"}
        out["tokens_per_step"] = self.tokens_per_step
        out["exposed_communication_time"] = self.exposed_communication_time
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        return out


class _Scalar:
    """Elementwise helpers for Python floats (numpy's would cost a microsecond each)."""

    where = staticmethod(lambda cond, a, b: a if cond else b)
    maximum = staticmethod(max)
    minimum = staticmethod(min)


def _numpy_ops() -> Any:
    import numpy as np

    class Vector:
        where = staticmethod(np.where)
        maximum = staticmethod(np.maximum)
        minimum = staticmethod(np.minimum)

    return Vector


def ring_allreduce_time(size: Any, ranks: Any, bandwidth: Any, latency: Any = 0.0) -> Any:
    """Ring all-reduce of `size` [B] over `ranks` ranks [s]: each rank sends and receives
    2 (n-1)/n of the data at `bandwidth` [B/s] in 2 (n-1) steps of `latency` [s]
    (Patarasuk & Yuan 2009). Zero for one rank."""
    return 2 * (ranks - 1) / ranks * size / bandwidth + 2 * (ranks - 1) * latency


def hierarchical_allreduce_time(size: Any, local: Any, groups: Any, intra_bw: Any, inter_bw: Any, inter_latency: Any = 0.0) -> Any:
    """Two-level all-reduce [s] of `size` [B] over `local` ranks per node x `groups` nodes:
    reduce-scatter inside the node, all-reduce of each 1/local shard across nodes (all
    local ranks at once, each at `inter_bw`), all-gather inside the node."""
    intra = 2 * (local - 1) / local * size / intra_bw
    inter = 2 * (groups - 1) / groups * (size / local) / inter_bw + 2 * (groups - 1) * inter_latency
    return intra + inter


def pipeline_bubble_fraction(stages: Any, microbatches: Any, interleave: Any = 1) -> Any:
    """Idle fraction of a pipelined step: (p-1)/(v m + p - 1) for p stages, m microbatches
    and v model chunks per stage (Narayanan et al. 2021, Sec. 2.2: bubble time (p-1)/m of
    the ideal time, divided by v with interleaving)."""
    return (stages - 1) / (interleave * microbatches + stages - 1)


def activation_bytes_per_layer(seq: Any, batch: Any, hidden: Any, heads: Any, tp: Any, recompute: str, sequence_parallel: bool) -> Any:
    """Activation memory [B] one transformer layer keeps for the backward pass, for 16-bit
    activations (Korthikanti et al. 2022, Sec. 4.2 and Table 2):
      no parallelism            s b h (34 + 5 a s / h)
      tensor parallel t         s b h (10 + 24/t + 5 a s / (h t))
      + sequence parallel       s b h / t (34 + 5 a s / h)
      selective recomputation   drops the 5 a s / h term (the attention scores)
      full recomputation        2 s b h (the layer input; / t with sequence parallelism)
    """
    sbh = seq * batch * hidden
    scores = 5 * heads * seq / hidden
    if recompute == "full":
        return 2 * sbh / tp if sequence_parallel else 2 * sbh
    if recompute == "selective":
        scores = 0.0
    if sequence_parallel:
        return sbh / tp * (34 + scores)
    return sbh * (10 + 24 / tp + scores / tp)


class DistributedModel:
    """Training step time, throughput and memory of a transformer on a cluster.

    >>> from mlsysim import Models, Systems, Assumptions
    >>> r = DistributedModel().solve(Models.Language.GPT3, Systems.Clusters.Frontier_8K,
    ...     batch_size=1536, tp_size=8, pp_size=8, efficiency=Assumptions.MFU_Megatron_1T)
    >>> r.step_time, r.mfu, r.memory_total   # seconds, fraction, bytes  # doctest: +SKIP

    The model is read from the catalog once per (model, cluster, devices, precision,
    efficiency, sequence length); later calls only do arithmetic on floats.
    """

    _cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], _Setup]] = {}

    # ------------------------------------------------------------------ setup

    @classmethod
    def setup(cls, model: Record, fleet: Record | Fleet, *, devices: int | None = None, precision: str = "bf16",
              efficiency: Any = None, seq_len: int | None = None) -> _Setup:
        if efficiency is None:
            raise MlsysimError(
                "efficiency is required: the fraction of peak compute the kernels achieve, as a number "
                "or a cited assumption (e.g. Assumptions.MFU_Megatron_1T)"
            )
        key = inputs_key(model, fleet, devices, precision, efficiency, seq_len)
        hit = cls._cache.get(key) if key is not None else None
        if hit is not None:
            return hit[1]
        inputs = (model, fleet, efficiency)
        if not isinstance(fleet, Fleet):
            if not isinstance(fleet, Record):
                raise MlsysimError(f"fleet must be a cluster record (e.g. Systems.Clusters.Research_256), got {fleet!r}")
            fleet = Fleet.from_cluster(fleet, devices)
        lineage = Lineage()
        lineage.merge(fleet.lineage)
        shape = TransformerShape.from_record(model, lineage)
        counts = parameter_count(shape)
        seq = float(seq_len) if seq_len is not None else shape.context
        if seq < 1 or seq != int(seq):
            raise MlsysimError(f"sequence length must be a positive whole number, got {seq_len!r}")
        # Matrix-multiply weights a token passes through: attention, the (active) MLP, and
        # the output logits (computed even when tied to the input embedding).
        matmul_params = counts.attention + counts.mlp_active + shape.vocab * shape.hidden
        layer_params = counts.attention + counts.mlp_active
        attn = attention_flops_per_token(shape, seq)
        forward_seq = seq * (2 * matmul_params + attn)
        hardware = fleet.hardware
        capacity = lineage.use(hardware.memory.capacity) if hardware.has("memory.capacity") else math.inf
        flops_model_seq = 3 * forward_seq
        flops_fwd_layers_seq = seq * (2 * layer_params + attn)
        flops_fwd_attn_seq = seq * attn
        flops_fwd_logits_seq = seq * 2 * shape.vocab * shape.hidden
        # Recomputation adds one more forward pass of what it recomputes: nothing, the core
        # attention ("selective"), or every transformer layer ("full").
        flops_hw_seq = {mode: flops_model_seq + extra for mode, extra in
                        (("none", 0.0), ("selective", flops_fwd_attn_seq), ("full", flops_fwd_layers_seq))}
        peak = peak_compute(hardware, precision, lineage)
        fraction = resolve_fraction(efficiency, lineage, "efficiency")
        elem = bytes_per_element(precision)
        setup = _Setup(
            fleet=fleet,
            layers=shape.layers,
            hidden=shape.hidden,
            heads=shape.heads,
            kv_width=shape.kv_heads * shape.head_dim,
            params=counts.total,
            params_active=counts.active,
            seq=seq,
            flops_model_seq=flops_model_seq,
            flops_fwd_layers_seq=flops_fwd_layers_seq,
            flops_fwd_attn_seq=flops_fwd_attn_seq,
            flops_fwd_logits_seq=flops_fwd_logits_seq,
            peak=peak,
            efficiency=fraction,
            capacity=capacity,
            elem=elem,
            lineage=lineage,
            rate=peak * fraction,
            flops_logits3=3 * flops_fwd_logits_seq,
            flops_hw_seq=flops_hw_seq,
            flops_hw_layers_seq={mode: flops - 3 * flops_fwd_logits_seq for mode, flops in flops_hw_seq.items()},
            devices=float(fleet.devices),
            per_node=fleet.per_node,
            intra_bw=fleet.intra_bw,
            inter_bw=fleet.inter_bw_per_device,
            inter_latency=fleet.inter_latency,
            opt_bytes=12.0 if elem < 4 else 8.0,  # fp32 master copy + Adam moments; no master copy in fp32
        )
        if key is not None:
            if len(cls._cache) > 256:
                cls._cache.clear()
            cls._cache[key] = (inputs, setup)  # the inputs are kept so their ids are not reused
        return setup

    # ------------------------------------------------------------------ one configuration

    def solve(self, model: Record, fleet: Record | Fleet, batch_size: int, precision: str = "bf16",
              efficiency: Any = None, tp_size: int = 1, pp_size: int = 1, *, devices: int | None = None,
              seq_len: int | None = None, cp_size: int = 1, microbatch: int = 1, interleave: int = 1,
              zero: int = 0, recompute: str = "none", sequence_parallel: bool = False,
              allreduce: str = "hierarchical", overlap_grad_reduce: bool = False,
              parallelism: Parallelism | None = None, raise_errors: bool = False) -> TrainingResult:
        """Solve one configuration. `batch_size` is the global batch in sequences;
        `devices` defaults to every accelerator of the cluster. With raise_errors=True a
        configuration that does not fit in memory raises OOMError."""
        setup = self.setup(model, fleet, devices=devices, precision=precision, efficiency=efficiency, seq_len=seq_len)
        par = parallelism or _layout(tp_size, pp_size, cp_size, microbatch, interleave, zero, recompute,
                                     sequence_parallel, allreduce, overlap_grad_reduce)
        result = solve_setup(setup, par, batch_size)
        return result.raise_if_infeasible() if raise_errors else result

    # ------------------------------------------------------------------ search

    def search(self, model: Record, fleet: Record | Fleet, batch_size: int, precision: str = "bf16",
               efficiency: Any = None, *, devices: int | None = None, seq_len: int | None = None,
               tp: tuple[int, ...] | None = None, pp: tuple[int, ...] | None = None, cp: tuple[int, ...] = (1,),
               microbatch: tuple[int, ...] | None = None, interleave: tuple[int, ...] = (1, 2, 4),
               zero: tuple[int, ...] = (0, 1, 2, 3),
               recompute: tuple[str, ...] = RECOMPUTE, sequence_parallel: bool = True,
               allreduce: str = "hierarchical") -> SearchResult:
        """Every valid (TP, PP, CP, DP, microbatch, ZeRO stage, recomputation) for the job,
        evaluated at once with numpy; returns them all and the fastest that fits.

        Defaults: TP over the divisors of the per-node accelerator count that divide the
        head count, PP over the divisors of the device count up to the layer count
        (uneven stages allowed: the slowest sets the pace), microbatch over the divisors
        of the per-replica batch (up to 16)."""
        import numpy as np

        setup = self.setup(model, fleet, devices=devices, precision=precision, efficiency=efficiency, seq_len=seq_len)
        f = setup.fleet
        n = f.devices
        _check_batch(batch_size)
        tps = tp or tuple(d for d in _divisors(f.per_node) if setup.heads % d == 0)
        pps = pp or tuple(d for d in _divisors(n) if d <= setup.layers)
        rows: list[tuple[int, ...]] = []
        for t in tps:
            for p in pps:
                for c in cp:
                    if n % (t * p * c) or setup.heads % t or p > setup.layers or setup.seq % c:
                        continue
                    d = n // (t * p * c)
                    if batch_size % d:
                        continue
                    per_replica = batch_size // d
                    mbs = microbatch or tuple(b for b in _divisors(per_replica) if b <= 16)
                    for b in mbs:
                        if per_replica % b:
                            continue
                        for iv in interleave:
                            if (iv > 1 and p == 1) or p * iv > setup.layers:
                                continue
                            for z in zero:
                                for r in range(len(recompute)):
                                    rows.append((t, p, c, d, b, iv, z, r))
        if not rows:
            raise MlsysimError(
                f"no valid parallel layout for {n} devices, global batch {batch_size}: "
                "TP x PP x CP must divide the device count and DP x microbatch the batch"
            )
        grid = np.array(rows, dtype=np.int64)
        names = ("tp", "pp", "cp", "dp", "microbatch", "interleave", "zero")
        cols = {name: grid[:, i].astype(float) for i, name in enumerate(names)}
        cols["recompute"] = grid[:, len(names)]
        out = _evaluate_vector(setup, cols, float(batch_size), recompute, sequence_parallel, allreduce)
        table = {**{k: grid[:, i] for i, k in enumerate(names)},
                 "recompute": np.array(recompute, dtype=object)[grid[:, len(names)]], **out}
        return SearchResult(table, setup, batch_size, sequence_parallel, allreduce)


@dataclass
class SearchResult:
    """All evaluated layouts (numpy columns) and the fastest one that fits in memory."""

    table: dict[str, Any]
    setup: _Setup
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
        import numpy as np

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
        par = Parallelism(
            tp=int(self.table["tp"][i]), pp=int(self.table["pp"][i]), cp=int(self.table["cp"][i]),
            microbatch=int(self.table["microbatch"][i]), interleave=int(self.table["interleave"][i]),
            zero=int(self.table["zero"][i]),
            recompute=str(self.table["recompute"][i]), sequence_parallel=self.sequence_parallel,
            allreduce=self.allreduce,
        )
        return solve_setup(self.setup, par, self.global_batch)


def _layout(tp: Any, pp: Any, cp: Any, microbatch: Any, interleave: Any, zero: Any, recompute: Any,
            sequence_parallel: Any, allreduce: Any, overlap_grad_reduce: Any) -> Parallelism:
    """Parallelism(...), validated once per distinct layout (a frozen dataclass with checks
    costs more to build than a solve's arithmetic)."""
    key = (tp, pp, cp, microbatch, interleave, zero, recompute, sequence_parallel, allreduce, overlap_grad_reduce)
    hit = _LAYOUTS.get(key)
    # 1 == True == 1.0 as dict keys: only whole-number ints may reuse a validated layout.
    if hit is None or {type(tp), type(pp), type(cp), type(microbatch), type(interleave), type(zero)} != {int}:
        hit = Parallelism(tp, pp, cp, microbatch, interleave, zero, recompute, sequence_parallel, allreduce,
                          overlap_grad_reduce)
        if len(_LAYOUTS) > 1024:
            _LAYOUTS.clear()
        _LAYOUTS[key] = hit
    return hit


_LAYOUTS: dict[tuple[Any, ...], Parallelism] = {}


def _divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def _check_batch(batch: Any) -> None:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise MlsysimError(f"batch_size (global batch, in sequences) must be a whole number >= 1, got {batch!r}")


def _validate(setup: _Setup, par: Parallelism, batch: int) -> tuple[int, int]:
    """DP size and microbatches per pipeline, or a clear error naming the fix."""
    _check_batch(batch)
    n = setup.fleet.devices
    split = par.tp * par.pp * par.cp
    if n % split:
        fits = [d for d in _divisors(n) if d % (par.tp * par.cp) == 0 and d // (par.tp * par.cp) <= setup.layers][:8]
        raise MlsysimError(
            f"{n} devices are not divisible by TP x PP x CP = {par.tp} x {par.pp} x {par.cp} = {split}, "
            f"so DP = devices / (TP x PP x CP) is not whole; pick sizes whose product divides {n} "
            f"(TP x PP x CP in {fits}) or change the device count"
        )
    if setup.heads % par.tp:
        raise MlsysimError(f"TP = {par.tp} does not divide the {setup.heads:g} attention heads; use a divisor of {setup.heads:g}")
    if par.pp * par.interleave > setup.layers:
        raise MlsysimError(
            f"PP x interleave = {par.pp} x {par.interleave} exceeds the {setup.layers:g} layers; "
            "each pipeline chunk needs at least one layer"
        )
    if setup.seq % par.cp:
        raise MlsysimError(f"CP = {par.cp} does not divide the sequence length {setup.seq:g}")
    dp = n // split
    if batch % (dp * par.microbatch):
        raise MlsysimError(
            f"global batch {batch} is not a multiple of DP x microbatch = {dp} x {par.microbatch} = {dp * par.microbatch}; "
            f"use a batch of {dp * par.microbatch * max(1, round(batch / (dp * par.microbatch)))} or change the layout"
        )
    return dp, batch // (dp * par.microbatch)


def solve_setup(setup: _Setup, par: Parallelism, batch: int) -> TrainingResult:
    dp, m = _validate(setup, par, batch)
    out = _terms(_Scalar, setup, float(par.tp), float(par.pp), float(par.cp), float(dp), float(par.microbatch),
                 float(par.zero), float(par.interleave), float(batch), par.recompute, par.sequence_parallel,
                 par.allreduce, par.overlap_grad_reduce)
    # Positional: the first fields of TrainingResult, then _terms' outputs in field order
    # (tests/test_distributed.py checks the order), then the lineage.
    return TrainingResult(setup.fleet.devices, par.tp, par.pp, par.cp, dp, par.microbatch, m, par.interleave,
                          par.zero, par.recompute, batch, int(setup.seq), *out.values(), setup.lineage)


def _evaluate_vector(setup: _Setup, cols: dict[str, Any], batch: float, recompute: tuple[str, ...],
                     sequence_parallel: bool, allreduce: str) -> dict[str, Any]:
    import numpy as np

    ops = _numpy_ops()
    merged: dict[str, Any] | None = None
    for r, mode in enumerate(recompute):
        out = _terms(ops, setup, cols["tp"], cols["pp"], cols["cp"], cols["dp"], cols["microbatch"], cols["zero"],
                     cols["interleave"], batch, mode, sequence_parallel, allreduce, False)
        if merged is None:
            merged = {k: np.broadcast_to(np.asarray(val, dtype=float), cols["tp"].shape).copy() for k, val in out.items()}
        else:
            pick = cols["recompute"] == r
            for k, val in out.items():
                merged[k] = np.where(pick, val, merged[k])
    assert merged is not None
    merged["feasible"] = merged["feasible"].astype(bool)
    return merged


def _terms(ops: Any, s: _Setup, tp: Any, pp: Any, cp: Any, dp: Any, b: Any, zero: Any, interleave: Any,
           batch: float, recompute: str, sp: bool, allreduce: str, overlap: bool) -> dict[str, Any]:
    """The step-time and memory model on floats or numpy arrays (same arithmetic for both):
    tp, pp, cp, dp, microbatch b, ZeRO stage and interleave are floats or arrays."""
    m = batch / (dp * b)
    # The slowest stage sets the pace: ceil(layers / (p v)) layers per chunk, plus the output
    # layer on the last stage (Megatron-LM places it there).
    layers_stage = -(-s.layers // (pp * interleave)) * interleave
    seq_local = s.seq / cp

    # Compute per slot (one microbatch through the slowest stage on one device): the forward
    # and backward pass (3 x forward), plus the forward again of what is recomputed.
    hw_flops_seq = s.flops_hw_seq[recompute]
    stage_flops = layers_stage / s.layers * s.flops_hw_layers_seq[recompute] + s.flops_logits3
    t_compute = b * stage_flops / (tp * cp) / s.rate

    # Tensor-parallel all-reduces of activations: inside a node if the TP group fits in one.
    act = b * seq_local * s.hidden * s.elem
    tp_in_node = tp <= s.per_node
    tp_bw = ops.where(tp_in_node, s.intra_bw, s.inter_bw)
    tp_lat = ops.where(tp_in_node, 0.0, s.inter_latency)
    n_ar = 6.0 if recompute == "full" else 4.0
    t_tp = layers_stage * n_ar * ring_allreduce_time(act, tp, tp_bw, tp_lat)

    # Context parallelism: all-gather K,V forward, reduce-scatter dK,dV backward (per TP shard).
    kv = b * s.seq * 2 * s.kv_width / tp * s.elem
    cp_in_node = tp * cp <= s.per_node
    cp_bw = ops.where(cp_in_node, s.intra_bw, s.inter_bw)
    cp_lat = ops.where(cp_in_node, 0.0, s.inter_latency)
    t_cp = layers_stage * 2 * ((cp - 1) / cp * kv / cp_bw + (cp - 1) * cp_lat)

    # Pipeline sends: activations forward, gradients backward, scattered across the TP group.
    p2p_in_node = tp * cp * dp * pp <= s.per_node
    p2p_bw = ops.where(p2p_in_node, s.intra_bw, s.inter_bw)
    p2p_lat = ops.where(p2p_in_node, 0.0, s.inter_latency)
    t_p2p = ops.where(pp > 1, 2 * interleave * (act / tp / p2p_bw + p2p_lat), 0.0)

    slot = t_compute + t_tp + t_cp + t_p2p
    bubble = (pp - 1) / interleave * slot

    # Data-parallel gradient all-reduce over the DP x CP ranks holding the same weights.
    params_dev = s.params / (tp * pp)
    grads = params_dev * s.elem
    group = dp * cp
    local = ops.minimum(group, ops.maximum(1.0, s.per_node // tp))
    nodes = group / local
    if allreduce == "hierarchical":
        t_dp = hierarchical_allreduce_time(grads, local, nodes, s.intra_bw, s.inter_bw, s.inter_latency)
    else:
        flat_bw = ops.where(nodes > 1, s.inter_bw, s.intra_bw)
        flat_lat = ops.where(nodes > 1, s.inter_latency, 0.0)
        t_dp = ring_allreduce_time(grads, group, flat_bw, flat_lat)
    t_dp = t_dp * ops.where(zero == 3, 1.5, 1.0)
    if overlap:
        backward = t_compute * 2 / 3  # backward is two thirds of forward + backward
        t_dp = ops.maximum(0.0, t_dp - backward)

    step = m * slot + bubble + t_dp
    model_flops = batch * s.flops_model_seq
    hw_flops = batch * hw_flops_seq
    n = s.devices

    # Memory per device: weights and gradients at the training precision, optimizer state
    # (s.opt_bytes per parameter), sharded over the DP x CP group by the ZeRO stage.
    shard = group
    weights = params_dev * s.elem / ops.where(zero >= 3, shard, 1.0)
    gradients = params_dev * s.elem / ops.where(zero >= 2, shard, 1.0)
    optimizer = params_dev * s.opt_bytes / ops.where(zero >= 1, shard, 1.0)
    per_layer = activation_bytes_per_layer(seq_local, b, s.hidden, s.heads, tp, recompute, sp)
    in_flight = ops.minimum(m, pp)
    interleave_factor = 1 + (pp - 1) / (pp * interleave)
    # 1F1B keeps p microbatches in flight on the first stage; the interleaved schedule's
    # longer warm-up adds (p-1)/(p v) (Narayanan et al. 2021, Megatron-LM's schedule).
    activations = layers_stage * per_layer * in_flight * ops.where(interleave > 1, interleave_factor, 1.0)
    if recompute == "full":  # the one layer being recomputed holds its full activations
        activations = activations + activation_bytes_per_layer(seq_local, b, s.hidden, s.heads, tp, "none", sp)
    total = weights + gradients + optimizer + activations

    return {
        "step_time": step,
        "compute_time": m * t_compute,
        "tp_comm_time": m * t_tp,
        "cp_comm_time": m * t_cp,
        "pp_comm_time": m * t_p2p,
        "dp_comm_time": t_dp,
        "bubble_time": bubble,
        "bubble_fraction": pipeline_bubble_fraction(pp, m, interleave),
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
    }

