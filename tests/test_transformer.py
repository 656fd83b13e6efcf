"""mlsysim/solvers/transformer.py: architecture arithmetic shared by every solver."""

from __future__ import annotations

import pytest

import mlsysim
from mlsysim.lineage import Lineage
from mlsysim.solvers.transformer import (
    TransformerShape,
    attention_flops_per_token,
    forward_flops_per_token,
    kernels_per_forward_pass,
    kv_cache_elements_per_token,
    matmul_weights_per_token,
    parameter_count,
    routed_expert_parameters,
    weight_gemms,
)


def shape(label: str) -> TransformerShape:
    return TransformerShape.from_record(mlsysim.Models.get(label))


def test_llama3_8b_count_includes_its_untied_output_layer():
    """Meta Llama 3 8B: 8,030,261,248 parameters as loaded by transformers; the
    untied 128,256 x 4,096 output layer is what makes it 8.03B rather than 7.5B."""
    counts = parameter_count(shape("Llama3_8B"))
    assert counts.total == 8_030_261_248
    assert counts.output == 128_256 * 4_096


def test_grouped_query_attention_sizes_the_kv_cache():
    """Llama 3 8B (32 layers, 8 KV heads of dim 128): 2 x 32 x 8 x 128 = 65,536
    cached elements per token, i.e. 128 KiB per token at 2 bytes (config.json)."""
    assert kv_cache_elements_per_token(shape("Llama3_8B")) == 65_536


def test_latent_attention_caches_the_latent_not_the_heads():
    """DeepSeek-V3 (arXiv 2412.19437, Section 2.1.1): MLA caches the compressed
    KV latent (kv_lora_rank 512) plus the decoupled RoPE key (64) per layer, 61 layers."""
    assert kv_cache_elements_per_token(shape("DeepSeek_V3")) == 61 * (512 + 64)


def test_mixture_of_experts_active_count():
    """Mixtral 8x7B (arXiv 2401.04088): 2 of 8 experts per token; 46.7B total, 12.9B active."""
    counts = parameter_count(shape("Mixtral_8x7B"))
    assert counts.total == pytest.approx(46.7e9, rel=0.005)
    assert counts.active == pytest.approx(12.9e9, rel=0.005)


def test_tied_models_still_pay_for_the_logits():
    gpt2 = shape("GPT2")
    assert gpt2.tied and parameter_count(gpt2).output == 0
    assert matmul_weights_per_token(gpt2) == pytest.approx(
        parameter_count(gpt2).attention + parameter_count(gpt2).mlp_active + gpt2.vocab * gpt2.hidden
    )


def test_forward_flops_follow_kaplan():
    """Kaplan et al. 2020 (arXiv 2001.08361, Table 1): C_forward ~ 2N + 2 n_layer n_ctx d_attn
    per token, where each of QK^T and AV costs n_layer n_ctx d_attn multiply-accumulates."""
    s = shape("Llama3_8B")
    assert attention_flops_per_token(s, 1000) == 4 * 32 * 1000 * 4096
    assert forward_flops_per_token(s, 0) == pytest.approx(2 * matmul_weights_per_token(s))
    assert forward_flops_per_token(s, 0) == pytest.approx(2 * (8.03e9 - 128_256 * 4096), rel=0.01)


def test_shape_reading_records_lineage():
    lineage = Lineage()
    TransformerShape.from_record(mlsysim.Models.Language.Llama3_8B, lineage)
    assert "models/llama3_8b#transformer.kv_heads" in lineage
    assert len(lineage) >= 7


def test_models_without_architecture_are_refused():
    with pytest.raises(mlsysim.MlsysimError, match="GPT4 has no transformer architecture"):
        shape("GPT4")


def test_kernels_per_pass_are_counted_from_the_layer_graph():
    """One kernel per operator, attention fused into one (Dao et al. 2022, arXiv 2205.14135).
    Llama (RMSNorm, RoPE, gated MLP): norm, QKV, rotary, attention, output, add | norm, gate,
    up, activation, down, add = 12 per layer. GPT-3 (learned positions, plain MLP): 10.
    Every pass adds the embedding lookup, the final norm and the output projection."""
    assert kernels_per_forward_pass(shape("Llama3_8B")) == 32 * 12 + 3
    assert kernels_per_forward_pass(shape("GPT3")) == 96 * 10 + 3


def test_kernels_of_mixture_of_experts_and_latent_attention():
    """Mixtral: each MoE layer adds the router, top-k and combine kernels (15 per layer).
    DeepSeek-V3: latent attention has compressed queries (down, norm, up) and the key/value
    down-projection, latent norm and up-projection (11 kernels in the attention block);
    3 dense layers and 58 MoE layers with a shared expert (6 + 3 + 4 = 13)."""
    assert kernels_per_forward_pass(shape("Mixtral_8x7B")) == 32 * (6 + 6 + 3) + 3
    v3 = shape("DeepSeek_V3")
    assert (v3.layers, v3.dense_layers, v3.shared_experts) == (61, 3, 1)
    assert kernels_per_forward_pass(v3) == 61 * 11 + 3 * 6 + 58 * 13 + 3


def test_weight_gemms_are_every_matmul_weight_of_a_dense_model():
    """Llama 2 7B (no biases): fused Q/K/V (4096 + 2 x 4096 wide), attention output, MLP up,
    gate and down (11008), per layer, and the 32000-wide output projection; together they
    are every weight a token multiplies through, so their FLOP shares sum to 1."""
    s = shape("llama2_7b")
    gemms = {g.name: (g.outputs, g.inputs, g.count, g.split) for g in weight_gemms(s)}
    assert gemms == {
        "qkv": (3 * 4096, 4096, 32, "columns"), "attention_out": (4096, 4096, 32, "rows"),
        "up": (11008, 4096, 32, "columns"), "gate": (11008, 4096, 32, "columns"),
        "down": (4096, 11008, 32, "rows"), "output": (32000, 4096, 1, "columns"),
    }
    assert sum(g.weights for g in weight_gemms(s)) == matmul_weights_per_token(s)


def test_weight_gemms_group_query_heads_and_leave_out_routed_experts():
    """Llama 2 70B: 64 query and 8 KV heads of 128 make a 10240-wide Q/K/V GEMM. Mixtral:
    the router GEMM is listed, the routed experts (grouped GEMMs) are not; what is missing
    from the matmul weights is exactly the 2 active experts of every layer."""
    qkv = next(g for g in weight_gemms(shape("llama2_70b")) if g.name == "qkv")
    assert qkv.outputs == (64 + 2 * 8) * 128
    mixtral = shape("Mixtral_8x7B")
    per_expert, moe_layers = routed_expert_parameters(mixtral)
    names = [g.name for g in weight_gemms(mixtral)]
    assert "router" in names and "up" not in names
    listed = sum(g.weights for g in weight_gemms(mixtral))
    assert matmul_weights_per_token(mixtral) - listed == pytest.approx(moe_layers * 2 * per_expert, rel=1e-12)


def test_weight_gemms_of_latent_attention():
    """DeepSeek-V3: query down/up and key-value down/up projections; the down-projections are
    replicated under tensor parallelism (their outputs are small latents)."""
    gemms = {g.name: g for g in weight_gemms(shape("DeepSeek_V3"))}
    assert gemms["q_down"].split == gemms["kv_down"].split == "none"
    assert gemms["kv_down"].outputs == 512 + 64
    assert {"q_up", "kv_up", "attention_out", "router", "shared_up", "up", "output"} <= set(gemms)
