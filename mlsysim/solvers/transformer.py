"""Transformer architecture arithmetic: parameter counts, KV-cache size, FLOPs.

Shared by the catalog checks, the serving solver and the training solver, so
every consumer counts a transformer the same way.

References
----------
Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv 2001.08361,
Table 1 (forward FLOPs per token = 2 N + 2 n_layer n_ctx d_attn).
Shazeer 2020, "GLU Variants Improve Transformer", arXiv 2002.05202 (gated MLP: 3 matrices).
Ainslie et al. 2023, "GQA", arXiv 2305.13245 (K/V projections sized by KV heads).
DeepSeek-AI 2024, "DeepSeek-V3 Technical Report", arXiv 2412.19437 (multi-head latent attention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.catalog.records import Record


@dataclass(frozen=True)
class TransformerShape:
    """A transformer's dimensions as plain numbers (read once from a record)."""

    layers: float
    hidden: float
    heads: float
    kv_heads: float
    head_dim: float
    ffn: float
    vocab: float
    context: float
    gated: bool
    tied: bool
    bias: bool
    layernorm: bool
    learned_positions: bool
    encoder: bool
    experts_total: float = 0.0
    experts_active: float = 0.0
    shared_experts: float = 0.0
    moe_ffn: float = 0.0
    dense_layers: float = 0.0
    q_lora_rank: float = 0.0
    kv_lora_rank: float = 0.0
    qk_rope_head_dim: float = 0.0
    qk_nope_head_dim: float = 0.0
    v_head_dim: float = 0.0
    rotary: bool = False
    window: float = 0.0           # tokens a windowed layer attends to (0: no local attention)
    windowed_layers: float = 0.0  # layers that attend only to the last `window` tokens

    @property
    def is_moe(self) -> bool:
        return self.experts_total > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @classmethod
    def from_record(cls, model: Record, lineage: Lineage | None = None) -> TransformerShape:
        """Read a model record's `transformer:` block, noting each value used in `lineage`."""
        if not model.has("transformer"):
            raise MlsysimError(
                f"{model.label} has no transformer architecture in the catalog ({model.file}); "
                "this solver needs layers, hidden size, heads, ... to count FLOPs and bytes"
            )
        lineage = lineage if lineage is not None else Lineage()
        t = model.transformer

        def num(name: str, default: float = 0.0) -> float:
            return lineage.use(t[name]) if name in t else default

        heads = num("heads")
        hidden = num("hidden_size")
        return cls(
            layers=num("layers"),
            hidden=hidden,
            heads=heads,
            kv_heads=num("kv_heads", heads),
            head_dim=num("head_dim", hidden / heads),
            ffn=num("ffn_size"),
            vocab=num("vocab_size"),
            context=num("context_length"),
            gated=t.mlp == "gated",
            tied=bool(t.tied_embeddings),
            bias=bool(model.get("transformer.bias", False)),
            layernorm=t.norm == "layernorm",
            learned_positions=t.position_embedding == "learned",
            encoder=model.get("transformer.encoder_decoder", "decoder") == "encoder",
            experts_total=num("experts_total"),
            experts_active=num("experts_active"),
            shared_experts=num("shared_experts"),
            moe_ffn=num("moe_ffn_size"),
            dense_layers=num("dense_layers"),
            q_lora_rank=num("q_lora_rank"),
            kv_lora_rank=num("kv_lora_rank"),
            qk_rope_head_dim=num("qk_rope_head_dim"),
            qk_nope_head_dim=num("qk_nope_head_dim"),
            v_head_dim=num("v_head_dim"),
            rotary=t.position_embedding == "rope",
            window=num("attention_window"),
            windowed_layers=num("windowed_layers"),
        )

    @property
    def windowed_share(self) -> float:
        """The share of the layers whose attention is local (0 without sliding windows)."""
        return self.windowed_layers / self.layers if self.window and self.layers else 0.0


# The weight matrices of an MLP: a plain one projects up and down; a gated one (GLU
# variants, Shazeer 2020) adds the gate projection.
_MLP_MATRICES = ("up", "down")
_MLP_MATRICES_GATED = ("up", "gate", "down")


@dataclass(frozen=True)
class ParameterCount:
    """Parameters by part; `active` counts only the routed experts a token uses."""

    embedding: float
    attention: float
    mlp: float
    mlp_active: float
    norm: float
    output: float
    other: float

    @property
    def total(self) -> float:
        return self.embedding + self.attention + self.mlp + self.norm + self.output + self.other

    @property
    def active(self) -> float:
        return self.embedding + self.attention + self.mlp_active + self.norm + self.output + self.other



def _attention_params(s: TransformerShape) -> float:
    """Q, K, V and output projections of one layer (with biases if the model has them)."""
    if s.is_mla:
        qk_head = s.qk_nope_head_dim + s.qk_rope_head_dim
        q = (s.hidden * s.q_lora_rank + s.q_lora_rank + s.q_lora_rank * s.heads * qk_head) if s.q_lora_rank else s.hidden * s.heads * qk_head
        kv_down = s.hidden * (s.kv_lora_rank + s.qk_rope_head_dim) + s.kv_lora_rank  # + latent RMSNorm
        kv_up = s.kv_lora_rank * s.heads * (s.qk_nope_head_dim + s.v_head_dim)
        out = s.heads * s.v_head_dim * s.hidden
        return q + kv_down + kv_up + out
    q_width = s.heads * s.head_dim
    kv_width = s.kv_heads * s.head_dim
    weights = s.hidden * q_width + 2 * s.hidden * kv_width + q_width * s.hidden
    biases = (q_width + 2 * kv_width + s.hidden) if s.bias else 0.0
    return weights + biases


def _mlp_params(s: TransformerShape, width: float) -> float:
    matrices = len(_MLP_MATRICES_GATED if s.gated else _MLP_MATRICES)
    biases = (width * (2 if s.gated else 1) + s.hidden) if s.bias else 0.0
    return matrices * s.hidden * width + biases


def parameter_count(s: TransformerShape) -> ParameterCount:
    """Parameters from the architecture: embeddings, attention (grouped KV heads or
    latent attention), gated or plain MLP (dense or mixture of experts), norms, and
    an output layer unless it is tied to the input embedding."""
    embedding = s.vocab * s.hidden + (s.context * s.hidden if s.learned_positions else 0.0)
    attention = s.layers * _attention_params(s)
    if s.is_moe:
        expert_width = s.moe_ffn or s.ffn
        moe_layers = s.layers - s.dense_layers
        per_expert = _mlp_params(s, expert_width)
        router = s.hidden * s.experts_total
        dense = s.dense_layers * _mlp_params(s, s.ffn)
        mlp = dense + moe_layers * ((s.experts_total + s.shared_experts) * per_expert + router)
        mlp_active = dense + moe_layers * ((s.experts_active + s.shared_experts) * per_expert + router)
    else:
        mlp = mlp_active = s.layers * _mlp_params(s, s.ffn)
    norm_size = 2 * s.hidden if s.layernorm else s.hidden
    norms = (2 * s.layers + 1) * norm_size
    if s.is_mla and s.q_lora_rank:
        norms += s.layers * s.q_lora_rank  # the query latent's RMSNorm
    output = 0.0 if s.tied else s.vocab * s.hidden
    other = 0.0
    if s.encoder:
        # BERT: token-type embeddings, embedding LayerNorm (counted in norms as the
        # "final" norm), and the pooler's dense layer.
        other = 2 * s.hidden + s.hidden * s.hidden + s.hidden
    return ParameterCount(embedding, attention, mlp, mlp_active, norms, output, other)


def kv_cache_elements_per_token(s: TransformerShape) -> float:
    """Cached K and V elements per token over all layers: 2 x layers x KV heads x head dim
    (grouped-query attention respected); for latent attention, the compressed latent
    plus the shared RoPE key per layer."""
    if s.is_mla:
        return s.layers * (s.kv_lora_rank + s.qk_rope_head_dim)
    return 2 * s.layers * s.kv_heads * s.head_dim


def clipped(tokens: Any, window: float) -> Any:
    """min(tokens, window) on floats or element-wise on numpy arrays (no numpy needed)."""
    return (tokens + window - abs(tokens - window)) / 2.0


def windowed_context_sum(tokens: Any, window: float) -> Any:
    """Sum over positions 1..`tokens` of the context a sliding-window layer attends to,
    min(position, window) [tokens]:

        S(x) = c (c + 1) / 2 + (x - c) w,   c = min(x, w)

    so the causal context of `new` tokens after `past` cached ones is S(past + new) - S(past).
    Works on floats and element-wise on numpy arrays."""
    c = clipped(tokens, window)
    return c * (c + 1.0) / 2.0 + (tokens - c) * window


def attention_flops_per_sequence(s: TransformerShape, seq: float) -> float:
    """Forward score and value FLOPs of one sequence of `seq` tokens with every query seeing
    the whole sequence (the count a causal mask then halves), the windowed layers' share
    counted so that halving leaves their band: 2 seq c - c^2 per unit of per-token work, with
    c = min(seq, window), since their causal work is sum_i min(i, window) = seq c - c^2 / 2
    (to leading order).

    References
    ----------
    Beltagy et al. 2020, "Longformer", arXiv 2004.05150 (sliding-window attention, O(n w)).
    """
    per_token = attention_flops_per_token(s, 1.0)
    share = s.windowed_share
    if not share:
        return per_token * seq * seq
    c = min(seq, s.window)
    return per_token * ((1.0 - share) * seq * seq + share * (2.0 * seq * c - c * c))


def attention_flops_per_token(s: TransformerShape, context: float) -> float:
    """Score (QK^T) and value (AV) FLOPs for one query token attending over `context`
    tokens: 2 matmuls x 2 FLOP per multiply-accumulate x layers x context x width."""
    if s.is_mla:
        qk = s.heads * (s.qk_nope_head_dim + s.qk_rope_head_dim)
        v = s.heads * s.v_head_dim
        return 2 * s.layers * context * (qk + v)
    # Two matmuls (scores QK^T and values AV), 2 FLOP per multiply-accumulate each.
    return 2 * 2 * s.layers * context * s.heads * s.head_dim


def matmul_weights_per_token(s: TransformerShape) -> float:
    """Weights one token multiplies through: attention and the active MLP of every
    layer, plus the output projection to the vocabulary, which is computed even
    when its matrix is tied to the input embedding. The embedding lookup and the
    norms are not matrix multiplies."""
    counts = parameter_count(s)
    return counts.attention + counts.mlp_active + s.vocab * s.hidden


def forward_flops_per_token(s: TransformerShape, context: float) -> float:
    """Forward FLOPs for one token: 2 per multiplied weight (Kaplan et al. 2020,
    Table 1; logits included) plus attention over `context` previous tokens."""
    return 2 * matmul_weights_per_token(s) + attention_flops_per_token(s, context)


def routed_expert_parameters(s: TransformerShape) -> tuple[float, float]:
    """(parameters of one routed expert in one layer, number of mixture-of-experts layers);
    (0, 0) for a dense model. Serving reads only the experts its tokens are routed to."""
    if not s.is_moe:
        return 0.0, 0.0
    return _mlp_params(s, s.moe_ffn or s.ffn), s.layers - s.dense_layers


def kernels_per_forward_pass(s: TransformerShape) -> float:
    """GPU kernels one forward pass launches, one per operator of the layer graph, with
    attention as one fused kernel (scores, softmax and values in one pass, as FlashAttention
    and the fused multi-head attention kernels of FasterTransformer and TensorRT-LLM do;
    Dao et al. 2022, arXiv 2205.14135) and biases applied in their matmul's epilogue.

    Per layer, attention block: norm, Q/K/V projection (one fused matmul; latent attention:
    query down-projection, norm and up-projection when queries are compressed, else one
    matmul, plus the key/value down-projection, latent norm and up-projection), rotary
    embedding (rotary models only), attention, output projection, residual add.
    MLP block: norm, up projection, gate projection (gated MLPs only), activation, down
    projection, residual add; a mixture-of-experts layer adds the router matmul, the top-k
    selection and the combine of expert outputs (experts run as grouped matmuls, one kernel
    per projection) and, with shared experts, one more up/gate/activation/down chain.
    Per pass: embedding lookup (position embeddings added in the same kernel), final
    norm, output projection to the vocabulary.

    Stacks that fuse more (a residual add into the next norm, the activation into a
    matmul epilogue) launch fewer kernels, so this is an upper bound for them; the
    tensor-parallel all-reduces are not counted here (their fixed cost is the
    collective's own latency, see ServingModel).
    """
    if s.is_mla:
        query = ("q_down", "q_norm", "q_up") if s.q_lora_rank else ("q",)
        qkv: tuple[str, ...] = (*query, "kv_down", "kv_norm", "kv_up")
    else:
        qkv = ("qkv",)
    rotary = ("rotary",) if s.rotary else ()
    attention_block = ("norm", *qkv, *rotary, "attention", "output_projection", "residual_add")
    mlp_chain = ("up", "gate", "activation", "down") if s.gated else ("up", "activation", "down")
    dense_block = ("norm", *mlp_chain, "residual_add")
    shared = mlp_chain if s.shared_experts else ()
    moe_block = (*dense_block, "router", "top_k", "combine", *shared)
    per_pass = ("embedding", "final_norm", "output_projection")
    if s.is_moe:
        moe_layers = s.layers - s.dense_layers
        per_layers = s.layers * len(attention_block) + s.dense_layers * len(dense_block) + moe_layers * len(moe_block)
    else:
        per_layers = s.layers * (len(attention_block) + len(dense_block))
    return float(per_layers + len(per_pass))


@dataclass(frozen=True)
class WeightGemm:
    """One weight matrix multiply of a forward pass: the output is (tokens x `outputs`), the
    contraction `inputs` long, run `count` times per pass (once per layer that has it).
    `split` says how tensor parallelism divides it (Megatron-LM, Shoeybi et al. 2019):
    "columns" (each GPU computes outputs / tp of the output columns: Q/K/V, MLP up and gate,
    the vocabulary-parallel output projection), "rows" (each GPU contracts inputs / tp and
    keeps the full output width: attention output, MLP down) or "none" (replicated)."""

    name: str
    outputs: float
    inputs: float
    count: float
    split: str

    @property
    def weights(self) -> float:
        """Weights this GEMM multiplies per token over the whole pass [1]."""
        return self.count * self.outputs * self.inputs


def weight_gemms(s: TransformerShape) -> tuple[WeightGemm, ...]:
    """The weight GEMMs of one forward pass, one entry per distinct shape, as the kernels of
    `kernels_per_forward_pass` run them: a fused Q/K/V projection (or latent attention's
    down- and up-projections), the attention output projection, the MLP up, gate (gated MLPs)
    and down projections of dense layers and shared experts, the router of mixture-of-experts
    layers, and the output projection to the vocabulary. The routed experts are left out:
    they run as grouped GEMMs whose rows per expert depend on the routing, and no cited model
    of their tiling is in the catalog. Biases are not GEMMs."""
    L = s.layers
    gemms: list[WeightGemm] = []
    if s.is_mla:
        qk_head = s.qk_nope_head_dim + s.qk_rope_head_dim
        if s.q_lora_rank:
            gemms.append(WeightGemm("q_down", s.q_lora_rank, s.hidden, L, "none"))
            gemms.append(WeightGemm("q_up", s.heads * qk_head, s.q_lora_rank, L, "columns"))
        else:
            gemms.append(WeightGemm("q", s.heads * qk_head, s.hidden, L, "columns"))
        gemms.append(WeightGemm("kv_down", s.kv_lora_rank + s.qk_rope_head_dim, s.hidden, L, "none"))
        gemms.append(WeightGemm("kv_up", s.heads * (s.qk_nope_head_dim + s.v_head_dim), s.kv_lora_rank, L, "columns"))
        gemms.append(WeightGemm("attention_out", s.hidden, s.heads * s.v_head_dim, L, "rows"))
    else:
        gemms.append(WeightGemm("qkv", (s.heads + 2 * s.kv_heads) * s.head_dim, s.hidden, L, "columns"))
        gemms.append(WeightGemm("attention_out", s.hidden, s.heads * s.head_dim, L, "rows"))

    def mlp(prefix: str, width: float, layers: float) -> None:
        gemms.append(WeightGemm(f"{prefix}up", width, s.hidden, layers, "columns"))
        if s.gated:
            gemms.append(WeightGemm(f"{prefix}gate", width, s.hidden, layers, "columns"))
        gemms.append(WeightGemm(f"{prefix}down", s.hidden, width, layers, "rows"))

    if s.is_moe:
        moe_layers = s.layers - s.dense_layers
        if s.dense_layers:
            mlp("", s.ffn, s.dense_layers)
        gemms.append(WeightGemm("router", s.experts_total, s.hidden, moe_layers, "none"))
        if s.shared_experts:
            mlp("shared_", s.shared_experts * (s.moe_ffn or s.ffn), moe_layers)
    else:
        mlp("", s.ffn, L)
    gemms.append(WeightGemm("output", s.vocab, s.hidden, 1.0, "columns"))
    return tuple(g for g in gemms if g.count > 0 and g.outputs > 0)


# The tensors an element-wise operator reads and writes, each as wide as the hidden state
# (the residual add) or the MLP (its activation).
_RESIDUAL_ADD_TENSORS = ("branch", "residual", "sum")
_ACTIVATION_TENSORS = ("up", "output")
_GATED_ACTIVATION_TENSORS = ("gate", "up", "output")


@dataclass(frozen=True)
class ActivationKernel:
    """Kernels of a forward pass of one shape (`kernels_per_forward_pass` counts them) and the
    activation elements each reads and writes per token [1]. `whole` are those every rank of a
    tensor-parallel group holds in full (the hidden state: norms, residual adds, the input of a
    column-split GEMM, the output of a row-split one), `split` those the ranks divide (attention
    heads, MLP width); `count` such kernels run per pass. `kind` is the roofline class the
    traffic joins: "gemm" (a weight GEMM; `weights` its weight elements, the rest of its
    working set), "attention" (its queries read and output written; its K/V are the KV cache's
    traffic) or "elementwise" (norms, rotary embedding, residual adds, the MLP's activation, a
    mixture of experts' top-k and combine: no FLOPs counted, bound by their traffic)."""

    name: str
    kind: str
    count: float
    whole: float
    split: float
    weights: float = 0.0

    def elements(self, tp: float = 1.0) -> float:
        """Activation elements per token one of these kernels moves on one rank of `tp` [1]."""
        return self.whole + self.split / tp


def activation_kernels(s: TransformerShape) -> tuple[ActivationKernel, ...]:
    """The kernels of `kernels_per_forward_pass`, grouped by shape, with the activation
    elements each reads and writes per token (`ActivationKernel`): every operator reads its
    input tensors and writes its output, d the hidden size, q and kv the query and key widths
    (heads x head dim), f the MLP width (of the k routed experts a token reaches, k x f):

        norm: 2 d                     residual add: 3 d (two inputs, one output)
        rotary: 2 (q + kv)            MLP activation: 3 f gated (gate, up in; out), else 2 f
        attention: q in + q out       weight GEMM: inputs + outputs (its K x N shape)
        top-k: E + 2 k (scores in; weights, indices out)   combine: (k + 1) d
        embedding lookup: 2 d (its table row in, the hidden state out)

    References
    ----------
    Williams, Waterman and Patterson 2009, "Roofline", CACM 52(4) (a kernel's traffic: the
    bytes it moves to and from memory). The operator graph is `kernels_per_forward_pass`'s.
    """
    L, d = s.layers, s.hidden
    moe_layers = s.layers - s.dense_layers if s.is_moe else 0.0
    dense_layers = s.dense_layers if s.is_moe else s.layers
    width = s.moe_ffn or s.ffn
    act = float(len(_GATED_ACTIVATION_TENSORS if s.gated else _ACTIVATION_TENSORS))
    kernels: list[ActivationKernel] = []

    def add(name: str, kind: str, count: float, whole: float = 0.0, split: float = 0.0, weights: float = 0.0) -> None:
        if count > 0 and whole + split > 0:
            kernels.append(ActivationKernel(name, kind, count, whole, split, weights))

    for g in weight_gemms(s):
        whole, split = {"columns": (g.inputs, g.outputs), "rows": (g.outputs, g.inputs)}.get(g.split, (g.inputs + g.outputs, 0.0))
        add(g.name, "gemm", g.count, whole, split, g.outputs * g.inputs)
    if s.is_moe:  # the routed experts' grouped GEMMs, over the k experts each token reaches
        k, experts = s.experts_active, s.experts_total * width * d
        for name in ("expert_up", "expert_gate") if s.gated else ("expert_up",):
            add(name, "gemm", moe_layers, k * d, k * width, experts)
        add("expert_down", "gemm", moe_layers, k * d, k * width, experts)
    if s.is_mla:
        queries, outputs = s.heads * (s.qk_nope_head_dim + s.qk_rope_head_dim), s.heads * s.v_head_dim
    else:
        queries = outputs = s.heads * s.head_dim
    add("attention", "attention", L, split=queries + outputs)
    add("norm", "elementwise", 2.0 * L + 1.0, 2.0 * d)  # two per layer and the final norm
    if s.is_mla:
        add("q_norm", "elementwise", L if s.q_lora_rank else 0.0, 2.0 * s.q_lora_rank)
        add("kv_norm", "elementwise", L, 2.0 * s.kv_lora_rank)
        if s.rotary:  # the rotary part of each query head and the one shared rotary key
            add("rotary", "elementwise", L, 2.0 * s.qk_rope_head_dim, 2.0 * s.heads * s.qk_rope_head_dim)
    elif s.rotary:
        add("rotary", "elementwise", L, split=2.0 * (s.heads + s.kv_heads) * s.head_dim)
    add("residual_add", "elementwise", 2.0 * L, len(_RESIDUAL_ADD_TENSORS) * d)
    add("activation", "elementwise", dense_layers, split=act * s.ffn)
    if s.is_moe:
        add("expert_activation", "elementwise", moe_layers, split=act * s.experts_active * width)
        add("top_k", "elementwise", moe_layers, s.experts_total + 2.0 * s.experts_active)
        add("combine", "elementwise", moe_layers, (s.experts_active + 1.0) * d)
        add("shared_activation", "elementwise", moe_layers if s.shared_experts else 0.0,
            split=act * s.shared_experts * width)
    add("embedding", "elementwise", 1.0, 2.0 * d)
    return tuple(kernels)


# The weight GEMMs of `weight_gemms` that are an MLP's input projections (dense layers and
# shared experts): what a recomputation of "the MLP's inputs" runs again.
_MLP_INPUT_GEMMS = ("up", "gate", "shared_up", "shared_gate")


def mlp_input_projections(s: TransformerShape) -> tuple[float, float, float]:
    """The MLP input projections a token passes through, summed over the layers: (weights of
    the dense layers' and shared experts' up and gate projections, weights of the up and gate
    projections of the routed experts it reaches, elements entering those modules) [1].
    Gate and up read the same input, one module's input per MLP (and per routed expert).

        dense  = sum over dense MLPs and shared experts of (1 + gated) x h x f
        routed = L_moe x k x (1 + gated) x h x f_expert
        inputs = (dense MLPs and shared experts) x h + L_moe x k x h

    What a remat policy that keeps every matrix product's output except the MLP's first one
    (MaxText's save_dot_except_mlpwi) computes again in the backward pass.
    """
    dense = inputs = 0.0
    for gemm in weight_gemms(s):
        if gemm.name in _MLP_INPUT_GEMMS:
            dense += gemm.count * gemm.outputs * gemm.inputs
            if not gemm.name.endswith("gate"):
                inputs += gemm.count * gemm.inputs
    routed = 0.0
    if s.is_moe:
        per_token = (s.layers - s.dense_layers) * s.experts_active
        routed = per_token * (2 if s.gated else 1) * s.hidden * (s.moe_ffn or s.ffn)
        inputs += per_token * s.hidden
    return dense, routed, inputs


def linear_io_per_token(s: TransformerShape) -> tuple[float, float]:
    """(input, output) elements per token of the transformer layers' linear modules, summed over
    the layers [1]: what an FP8 recipe quantizes, each module's input before its forward GEMM
    and the gradient of its output before its backward GEMMs. Modules as Megatron-Core runs
    them with Transformer Engine: one fused Q/K/V projection (latent attention: its down- and
    up-projections), the attention output projection, one fused up/gate projection and the down
    projection of each MLP; a mixture-of-experts layer counts the experts a token is routed to
    and its shared experts, not the router (which stays in 16 or 32 bits). The output layer to
    the vocabulary is not a transformer layer and is left out.

    Per token, with K_i and N_i a module's input and output widths [elements]:

        inputs = sum_i K_i,  outputs = sum_i N_i   (over the modules of every layer)

    References
    ----------
    NVIDIA/Megatron-LM at d98e8a6: megatron/core/models/gpt/gpt_layer_specs.py (linear_qkv and
    linear_fc1 as Transformer Engine layer-norm column-parallel linears, linear_proj and
    linear_fc2 as row-parallel linears); megatron/core/transformer/moe/router.py (the router's
    logits from router_gating_linear in the input's dtype, or fp32 with moe_router_dtype).
    """
    inputs = outputs = 0.0
    for gemm in weight_gemms(s):
        if gemm.name in ("router", "output"):
            continue
        outputs += gemm.count * gemm.outputs
        if not gemm.name.endswith("gate"):  # the gate shares the up projection's input (one fused module)
            inputs += gemm.count * gemm.inputs
    if s.is_moe:  # the routed experts a token reaches (weight_gemms leaves them out)
        width = s.moe_ffn or s.ffn
        per_token = (s.layers - s.dense_layers) * s.experts_active
        inputs += per_token * (s.hidden + width)
        outputs += per_token * ((2 if s.gated else 1) * width + s.hidden)
    return inputs, outputs
