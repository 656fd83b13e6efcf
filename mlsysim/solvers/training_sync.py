"""Data-parallel synchronisation and ZeRO sharding of a training step: the parameters one
device holds, the gradient all-reduce (or reduce-scatter and parameter all-gather) once per
step, ZeRO-3's collectives per layer and microbatch, a tied embedding's gradient between the
first and last pipeline stages, and the memory-bound gradient accumulation and optimizer update.

References
----------
Rajbhandari et al. 2020, "ZeRO", arXiv 1910.02054 (stages 1-3, their communication volume);
Patarasuk & Yuan 2009 (ring all-reduce); Thakur, Rabenseifner & Gropp 2005 (alpha-beta model);
NCCL documentation, "Performance" (bus bandwidth of each collective).
"""

from __future__ import annotations

from typing import Any

from mlsysim.solvers.roofline import BYTES_PER_ELEMENT, hierarchical_allreduce_time, ring_allreduce_time
from mlsysim.solvers.training_layout import SHARD_GRADIENTS, SHARD_OPTIMIZER, SHARD_PARAMETERS, expert_tp_size
from mlsysim.solvers.training_terms import TrainingTerms


# An in-place add of a microbatch's gradients into the accumulated ones (g_acc += g) reads
# both tensors and writes one: three accesses per gradient element.
GRADIENT_ACCUMULATION_ACCESSES = 3
# ZeRO-3 moves each layer's parameters twice per microbatch (all-gather before its forward
# and again before its backward) and its gradients once (reduce-scatter), Rajbhandari et al. 2020 Sec. 7.2.3.
ZERO3_GATHERS_PER_MICROBATCH = 2
# Gradients reduced (and accumulated) in fp32 rather than the training precision
# (Layout.grad_reduce_fp32): 4 bytes per element.
FP32_GRADIENT_BYTES = BYTES_PER_ELEMENT["fp32"]


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


def expert_parallel(s: TrainingTerms, x: Any) -> bool:
    """Whether expert parallelism can change anything: a mixture-of-experts model, and a
    layout (or column of layouts) not fixed at EP 1. Dense models skip its arithmetic."""
    return bool(s.routed_params) and not (type(x.ep) is int and x.ep == 1)


def parameter_split(s: TrainingTerms, x: Any) -> tuple[Any, Any]:
    """(dense, routed-expert) parameters one device holds before ZeRO sharding [1]: the
    dense ones split by TP x PP, the routed experts by their own TP
    (`training_layout.expert_tp_size`) x PP and over the EP ranks."""
    return (s.params - s.routed_params) / (x.tp * x.pp), s.routed_params / (expert_tp_size(x) * x.pp * x.ep)


def held_parameters(ops: Any, s: TrainingTerms, x: Any, dp: Any, stage: int, dense: Any, routed: Any) -> Any:
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
    (TP x DP x CP) / EP when the experts are whole on each rank
    (`training_layout.experts_folded`)."""
    return ops.where(x.zero >= stage, ops.maximum(zero_group(ops, s, x, dp) * x.tp / expert_tp_size(x) / x.ep, 1.0), 1.0)


def data_parallel_time(ops: Any, s: TrainingTerms, x: Any, dp: Any, t_compute: Any, params: tuple[Any, Any]) -> Any:
    """Exposed data-parallel gradient synchronisation [s] over the DP x CP ranks holding the
    same weights, once per step: an all-reduce of the gradients for ZeRO 0; ZeRO 1 and 2
    reduce-scatter the gradients and all-gather the updated parameters, the same volume when
    both are at the training precision (with `grad_reduce_fp32`, the gradients' half at 4
    bytes), or under `full_grad_allreduce` all-reduce the gradients and then all-gather the
    parameters, the volume of an all-reduce of g + e / 2 bytes per parameter (a ring
    all-gather moves half a ring all-reduce's); ZeRO 3 moves its data per microbatch instead
    (`distributed._slot_times`), so nothing here, except under hybrid sharding: each device's gradient
    shard is all-reduced across the copies in other nodes ((DP x CP) / `zero_group` of
    them, over the fabric). Under pipeline parallelism a tied embedding's gradient is then
    summed between the first and last stages (`tied_embedding_time`), never hidden. `params`:
    the (dense, routed-expert) parameters the device holds before ZeRO (`parameter_split`)."""
    dense, routed = params
    group = dp * x.cp
    grad = gradient_bytes(s, x)
    # Bytes per parameter as the volume of one ring all-reduce (a ring all-gather or
    # reduce-scatter moves half of one).
    if x.full_grad_allreduce:  # ZeRO 1-2 only (Layout): all-reduce g, then all-gather e
        per_param = grad + s.elem / 2.0
    elif x.grad_reduce_fp32:  # ZeRO 1-2 reduce-scatter g and all-gather e; ZeRO 0 all-reduces g
        per_param = ops.where(x.zero >= SHARD_OPTIMIZER, (grad + s.elem) / 2.0, grad)
    else:  # g = e: whatever the stage, the volume of an all-reduce of e
        per_param = grad
    t_dp = _gradient_allreduce(ops, s, x, (dense + routed) * per_param, group)
    if expert_parallel(s, x):
        # The routed experts' gradients are summed only over the ranks that hold the same
        # experts, (DP x CP) / EP of them ((TP x DP x CP) / EP when folded).
        t_dp = ops.where(x.ep > 1, _gradient_allreduce(ops, s, x, dense * per_param, group)
                         + _gradient_allreduce(ops, s, x, routed * per_param, group * x.tp / expert_tp_size(x) / x.ep), t_dp)
    across = 0.0
    if x.shard_within_node:
        shard = held_parameters(ops, s, x, dp, SHARD_GRADIENTS, dense, routed) * grad
        across = ring_allreduce_time(shard, group / zero_group(ops, s, x, dp), s.inter_bw, s.inter_latency)
    t_dp = ops.where(x.zero == SHARD_PARAMETERS, across, t_dp)
    if x.overlap_grad_reduce:  # hidden behind the last microbatch's backward pass
        t_dp = ops.maximum(0.0, t_dp - t_compute * s.backward_share)
    return t_dp + tied_embedding_time(ops, s, x, dp, grad)


def tied_embedding_time(ops: Any, s: TrainingTerms, x: Any, dp: Any, grad: float) -> Any:
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


def update_time(ops: Any, s: TrainingTerms, x: Any, dp: Any, m: Any, params: tuple[Any, Any]) -> Any:
    """Memory-bound parameter work of one step on one device [s]: gradient accumulation and
    the optimizer step, at the achieved memory bandwidth, for the (dense, routed-expert)
    parameters `params` the device holds before ZeRO (`parameter_split`).

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
    dense, routed = params
    grad = gradient_bytes(s, x)
    separate = ops.where(x.zero >= SHARD_GRADIENTS, 0.0, 0.0 if x.fused_grad_accumulation else 1.0)
    # Read the microbatch's gradient (training precision), read and write the accumulated one.
    added = s.elem + (GRADIENT_ACCUMULATION_ACCESSES - 1) * grad
    accumulation = separate * ops.maximum(m - 1.0, 0.0) * added * (dense + routed)
    held = held_parameters(ops, s, x, dp, SHARD_OPTIMIZER, dense, routed)
    optimizer = held * (2.0 * s.opt_bytes + grad + s.elem)
    return (accumulation + optimizer) / s.mem_bw


def zero3_collective(s: TrainingTerms, x: Any, params: tuple[Any, Any], group: Any, bw: Any, lat: Any,
                     layers_stage: Any, nbytes: float, where: Any) -> Any:
    """One ZeRO-3 collective over the shards of every layer of a stage [s]: an all-gather of
    the (dense, routed-expert) parameters `params` (`parameter_split`) or a reduce-scatter of
    their gradients, `nbytes` per element, over the `group` ranks (ring at `bw`, `lat` per step)."""
    dense, routed = params
    once = ring_collective_time((dense + routed) * nbytes, group, bw, 0.0) + layers_stage * (group - 1) * lat
    if expert_parallel(s, x):
        # The routed experts' shards live on the group / ep ranks that hold the same experts:
        # their collectives run over that smaller group.
        once = where(x.ep > 1, ring_collective_time(dense * nbytes, group, bw, 0.0)
                     + ring_collective_time(routed * nbytes, group * x.tp / expert_tp_size(x) / x.ep, bw, 0.0)
                     + layers_stage * (group - 1) * lat, once)
    return once


def gradient_bytes(s: TrainingTerms, x: Any) -> float:
    """Bytes per gradient element as the layout holds, accumulates and reduces them: fp32
    under `grad_reduce_fp32`, else the training precision's."""
    return FP32_GRADIENT_BYTES if x.grad_reduce_fp32 else s.elem


def zero_group(ops: Any, s: TrainingTerms, x: Any, dp: Any) -> Any:
    """The ranks ZeRO shards one copy of the weights over [1]: the DP x CP group, or under
    hybrid sharding (`shard_within_node`) its ranks inside one node, TP innermost as
    `_gradient_allreduce` places them."""
    group = dp * x.cp
    if not x.shard_within_node:
        return group
    return ops.minimum(group, ops.maximum(1.0, s.per_node // x.tp))


def _shards(ops: Any, s: TrainingTerms, x: Any, dp: Any, stage: int) -> Any:
    """How many ways ZeRO splits what `stage` shards on one device: the ranks of its group
    (`zero_group`) once the layout's ZeRO stage reaches `stage`, else 1."""
    return ops.where(x.zero >= stage, zero_group(ops, s, x, dp), 1.0)
