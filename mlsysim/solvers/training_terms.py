"""A training job lowered into floats once (`training_terms`): the model's FLOPs per sequence
by recomputation mode, the accelerator's peak and the cited efficiency of each kernel class,
the fleet's links as collectives reach them, and the optimizer state: everything a step-time
solve needs that does not depend on the parallel layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.fleet import (
    BACKWARD_FORWARD,
    Fleet,
    bytes_per_element,
    fleet_of,
    optimizer_state_bytes,
    peak_compute,
)
from mlsysim.solvers.gemm_waves import wave_quantization
from mlsysim.solvers.kernel_efficiency import (
    attention_backward_value,
    attention_kernel_values,
    expert_gemm_value,
    kernel_efficiency_values,
    scoped_efficiency,
)
from mlsysim.solvers.link_terms import collective_efficiencies
from mlsysim.solvers.terms import cited_assumption, hardware_terms, memory_capacity, model_terms
from mlsysim.solvers.training_layout import Layout
from mlsysim.solvers.transformer import (
    TransformerShape,
    attention_flops_per_sequence,
    linear_io_per_token,
    mlp_input_projections,
    parameter_count,
    routed_expert_parameters,
)


# How the efficiency a job is given is used (TrainingResult.efficiency_mode):
# "first_principles": a kernel efficiency of dense GEMMs, every system overhead modelled on top;
# "measured_end_to_end": an MFU measured end to end, applied as is with no overhead added again.
EFFICIENCY_MODES = ("first_principles", "measured_end_to_end")
GEMM_EFFICIENCY = "gemm_compute_efficiency"
# Memory traffic of quantizing one element to FP8 before a GEMM (Transformer Engine, current
# scaling), in bytes at the device's peak memory bandwidth (a cited assumption).
FP8_QUANTIZATION = "fp8_quantization_bytes_per_element"


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
    # Layouts `distributed.resolve_interleave` made concrete, by (layout, batch): a repeated solve of the same
    # job does the search once. Owned by these terms, so it lives and dies with them.
    chosen_interleave: dict[Any, Layout] = field(default_factory=dict, compare=False, repr=False)


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
    """`training_layout.Job` inputs lowered into TrainingTerms, once per catalog and distinct inputs.

    `efficiency` None: first principles with the cited dense-GEMM kernel efficiency
    (assumption gemm_compute_efficiency); see `efficiency_mode_of` for the two modes.
    `attention_kernel` (one of kernel_efficiency.ATTENTION_KERNELS) prices fused attention at the figures
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
    the catalog has one (`kernel_efficiency.scoped_efficiency`, the choice serving makes); any
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
    figure scoped to this accelerator and precision (`kernel_efficiency.expert_gemm_value`) where the
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
    serving uses (`kernel_efficiency.kernel_efficiency_values`). Attention takes the cited attention
    figure scoped to this accelerator and precision when the GEMM efficiency is a cited
    kernel figure, else the GEMM fraction `gemm` (a number the caller chose applies to every
    compute kernel, as in ServingModel); its backward takes the cited backward figure
    (`kernel_efficiency.attention_backward_value`) where the forward's is cited and one is scoped here,
    else 0 (priced like the forward). A named `attention_kernel` takes that kernel's cited
    figures instead (`kernel_efficiency.attention_kernel_values`; an error where none is cited, or where
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
