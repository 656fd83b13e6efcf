"""Models / workloads: transformer and state-space architectures, parameters, FLOPs."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from mlsysim.catalog.schemas.common import RecordBase, Schema, at, cited

Count = cited("dimensionless", integer=True)
CountOrZero = cited("dimensionless", positive=False, integer=True)


class Transformer(Schema):
    layers: Count
    hidden_size: Count
    heads: Count
    kv_heads: Count | None = None  # omitted: multi-head attention, as many KV heads as heads
    head_dim: Count | None = None
    ffn_size: Count
    vocab_size: Count
    context_length: Count
    mlp: Literal["gated", "plain"]
    tied_embeddings: bool
    norm: Literal["rmsnorm", "layernorm"]
    position_embedding: Literal["rope", "learned", "alibi", "none"]
    bias: bool = False
    encoder_decoder: Literal["decoder", "encoder"] = "decoder"
    # Mixture of experts
    experts_total: Count | None = None
    experts_active: Count | None = None
    shared_experts: CountOrZero | None = None
    moe_ffn_size: Count | None = None
    dense_layers: CountOrZero | None = None
    # Multi-head latent attention (DeepSeek-V2/V3): low-rank query and KV projections
    q_lora_rank: Count | None = None
    kv_lora_rank: Count | None = None
    qk_rope_head_dim: Count | None = None
    qk_nope_head_dim: Count | None = None
    v_head_dim: Count | None = None
    # Local (sliding-window) attention: `windowed_layers` of the layers attend only to the last
    # `attention_window` tokens (Mistral 7B v0.1, Gemma 2 and 3, gpt-oss); the others see the
    # whole context.
    attention_window: Count | None = None
    windowed_layers: Count | None = None

    @model_validator(mode="after")
    def _moe_complete(self) -> Transformer:
        if (self.experts_total is None) != (self.experts_active is None):
            raise ValueError("a mixture of experts needs both 'experts_total' and 'experts_active'")
        mla = [self.kv_lora_rank, self.qk_rope_head_dim, self.qk_nope_head_dim, self.v_head_dim]
        if any(v is not None for v in mla) and any(v is None for v in mla):
            raise ValueError("latent attention (MLA) needs kv_lora_rank, qk_rope_head_dim, qk_nope_head_dim and v_head_dim")
        if (self.attention_window is None) != (self.windowed_layers is None):
            raise ValueError("sliding-window attention needs both 'attention_window' (tokens) and 'windowed_layers' "
                             "(how many layers use it)")
        return self


class StateSpace(Schema):
    layers: Count
    d_model: Count
    d_state: Count
    d_conv: Count
    expand: Count
    vocab_size: Count


class ResNet(Schema):
    """A torchvision ResNet's layer structure, from which its kernels are derived
    (mlsysim/solvers/convolution.py): the residual block, blocks per stage, the stem's
    output channels (stage widths are it x 1, 2, 4, 8) and the classifier's classes."""

    block: Literal["bottleneck", "basic"]
    stage1_blocks: Count
    stage2_blocks: Count
    stage3_blocks: Count
    stage4_blocks: Count
    width: Count
    classes: Count


class Workload(RecordBase):
    """A model: architecture fields for transformers and SSMs, or parameters and
    FLOPs per inference (with the MAC-vs-FLOP convention stated) for the rest."""

    family: str
    architecture: Literal["transformer", "cnn", "ssm", "diffusion", "mlp", "other"]
    parameters: Count
    active_parameters: Count | None = None
    flops_per_inference: cited("compute") | None = None
    input_shape: str | None = None
    # Models with a per-inference FLOP count (CNNs): the operators one inference launches
    # (one GPU kernel each, unfused) and the activation elements they read and write.
    kernels_per_inference: Count | None = None
    activation_elements_per_inference: cited("dimensionless") | None = None
    # The most activation elements alive at once during one inference (an operator's input
    # and output plus any tensor held for a later residual add): what inference keeps resident.
    peak_activation_elements_per_inference: cited("dimensionless") | None = None
    transformer: Transformer | None = None
    ssm: StateSpace | None = None
    # A residual CNN: its layers, so each convolution is priced as its own kernel.
    resnet: ResNet | None = None
    # Diffusion models: the denoiser's FLOPs for one sampling step (one pass over the latent,
    # at the resolution its qualifiers state) and the steps its reference sampler runs; one
    # image costs denoising_steps passes.
    flops_per_step: cited("compute") | None = None
    denoising_steps: Count | None = None

    @model_validator(mode="after")
    def _architecture_block(self) -> Workload:
        if self.architecture == "transformer" and self.transformer is None:
            raise ValueError("architecture: transformer needs a 'transformer:' block (layers, hidden_size, ...)")
        if self.resnet is not None and (self.architecture != "cnn" or self.input_shape is None):
            raise ValueError(at("resnet", "a 'resnet:' block describes a CNN: it needs architecture: cnn and "
                                "input_shape (e.g. '224x224x3')"))
        if self.architecture == "ssm" and self.ssm is None:
            raise ValueError("architecture: ssm needs an 'ssm:' block (layers, d_model, d_state, ...)")
        if self.transformer is not None and self.transformer.experts_total is not None and self.active_parameters is None:
            raise ValueError("a mixture-of-experts model needs 'active_parameters'")
        for name in ("flops_per_inference", "flops_per_step"):
            flops = getattr(self, name)
            if flops is None:
                continue
            # "GFLOPs" in papers often count multiply-accumulates; the record must say which.
            convention = flops.qualifiers.get("convention")
            unit_says_mac = "MAC" in flops.unit
            if convention not in ("MAC", "FLOP"):
                raise ValueError(at(name, "needs qualifiers: {convention: MAC} or {convention: FLOP} (does the source count multiply-accumulates?)"))
            if unit_says_mac != (convention == "MAC"):
                raise ValueError(at(f"{name}.unit", f"unit {flops.unit!r} disagrees with convention {convention}; write e.g. 'GMAC' for multiply-accumulates, 'GFLOP' for operations"))
        if (self.flops_per_step is None) != (self.denoising_steps is None):
            raise ValueError(at("flops_per_step" if self.flops_per_step is None else "denoising_steps",
                                "a diffusion model's cost needs both flops_per_step and denoising_steps "
                                "(the FLOPs of one denoiser pass and the sampler's step count)"))
        if self.flops_per_step is not None and self.flops_per_inference is not None:
            raise ValueError(at("flops_per_step", "give flops_per_step (with denoising_steps) or flops_per_inference, not both"))
        return self
