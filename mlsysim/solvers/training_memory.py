"""Memory one device needs in a training step: weights, gradients and optimizer state as ZeRO
shards them, and the activations the microbatches in flight keep for the backward pass; the
memory traffic of a layer's element-wise work follows from the same byte counts.

References
----------
Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
arXiv 2205.05198 (activation bytes per layer); Narayanan et al. 2021, arXiv 2104.04473
(microbatches in flight under 1F1B and interleaving).
"""

from __future__ import annotations

from typing import Any

from mlsysim.errors import MlsysimError
from mlsysim.solvers.training_layout import SHARD_GRADIENTS, SHARD_OPTIMIZER, SHARD_PARAMETERS
from mlsysim.solvers.training_sync import gradient_bytes, held_parameters
from mlsysim.solvers.training_terms import TrainingTerms


# The outputs "mlp_input" recomputation keeps that are as wide as the hidden state and whole on
# every tensor-parallel rank (Q, K and V are split over the ranks).
_MLP_INPUT_KEPT_FULL_WIDTH = ("layer input", "attention output projection", "MLP output")


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


def memory_per_device(ops: Any, s: TrainingTerms, x: Any, dp: Any, m: Any, layers_stage: Any,
                      share: float | None, params: tuple[Any, Any]) -> tuple[Any, Any, Any, Any]:
    """Weights, gradients, optimizer state and activations per device [B]: weights and
    gradients at the training precision, optimizer state (s.opt_bytes per parameter), of the
    (dense, routed-expert) parameters `params` the device holds (`parameter_split`), sharded
    over the DP x CP group by the ZeRO stage; activations of the microbatches in flight on
    the first stage."""
    dense, routed = params
    weights = held_parameters(ops, s, x, dp, SHARD_PARAMETERS, dense, routed) * s.elem
    gradients = held_parameters(ops, s, x, dp, SHARD_GRADIENTS, dense, routed) * gradient_bytes(s, x)
    optimizer = held_parameters(ops, s, x, dp, SHARD_OPTIMIZER, dense, routed) * s.opt_bytes
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
