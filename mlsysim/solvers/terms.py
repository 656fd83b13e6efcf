"""Readers: catalog records lowered into the float terms the performance solvers need.

Reading a record (and counting a transformer's parameters) costs tens of
microseconds; a solve must cost a few. So each model, each accelerator at a precision
and the cited efficiencies are reduced to plain floats once, together with the Lineage
of the cited values they came from, and every later solve is arithmetic. The cited fixed
overheads (kernel launches per pass, all-reduce latency) and the GEMM wave-quantization
term are folded in the same way.

The memo lives on the Catalog the records came from (`Catalog.derived`), keyed by record
ids and plain values: dropping the catalog frees every term read from it, and a record
from another catalog can never hit an entry it did not make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog import Catalog
from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError, NotFoundError
from mlsysim.lineage import Lineage
from mlsysim.solvers.convolution import (
    ELEMENTWISE_OPERATORS,
    KernelGraph,
    LayerPass,
    OperatorLine,
    ResNetShape,
    layer_roofline_time,
    resnet_graph,
)
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT, activation_bytes, check_precision, spill_table
from mlsysim.solvers.transformer import (
    ActivationKernel,
    TransformerShape,
    activation_kernels,
    attention_flops_per_token,
    kernels_per_forward_pass,
    kv_cache_elements_per_token,
    matmul_weights_per_token,
    parameter_count,
    routed_expert_parameters,
    weight_gemms,
)

# Assumption records the solvers read (ids in catalog/assumptions/).
COMPUTE_EFFICIENCY = "prefill_compute_efficiency"
MEMORY_EFFICIENCY = "decode_memory_bandwidth_efficiency"
KERNEL_LAUNCH = "kernel_launch_overhead"
ALLREDUCE_BASE_LATENCY = "nccl_allreduce_base_latency"
ALLREDUCE_STEP_LATENCY = "nccl_nvlink_step_latency"
GEMM_TILE_ROWS = "gemm_tile_rows"
GEMM_TILE_COLUMNS = "gemm_tile_columns"
GEMM_TILES_PER_SM = "gemm_tiles_per_sm_wave"
CONV_TILE_ROWS = "conv_tile_rows"
CONV_TILE_COLUMNS = "conv_tile_columns"
STAGES = ("1", "2", "3", "4")  # the four stages of a ResNet record's `resnet:` block (stage1_blocks, ...)
PUBLIC_TOKEN_RECORD = "public_record_token_rate_per_device"
# The size of the activations a transformer's kernels pass on and its tensor-parallel
# all-reduces exchange: 16 bits even when the matrix multiplies run narrower (only the
# linear layers' inputs are cast).
ACTIVATION_BYTES = "allreduce_activation_bytes"


@dataclass(frozen=True)
class ModelTerms:
    """A workload reduced to floats.

    kind: "transformer" (architecture known), "per_inference" (a cited FLOP count per
    inference, e.g. a CNN), or "per_token" (2 FLOP per parameter per token).
    Per-token quantities are per sequence position; `matmul_flops` [FLOP] is the
    weight-matmul work of one token (or one inference for "per_inference");
    `attention_flops` [FLOP] is the score + value work of one token per token of context.
    `kernels` [1] is the GPU kernels one forward pass launches (transformers only, from the
    architecture; 0 when the catalog does not describe the operator graph).
    """

    name: str
    kind: str
    params_total: float            # resident parameters [1]
    matmul_flops: float            # [FLOP per token] (or per inference)
    attention_flops: float         # [FLOP per token per context token]
    kv_elements: float             # cached K/V elements per token, all layers [1]
    read_params_dense: float       # parameters every pass reads (all but routed experts and the input embedding)
    expert_params: float           # parameters of one routed expert in one MoE layer
    moe_layers: float
    experts_total: float
    experts_active: float
    layers: float
    hidden: float
    kv_heads: float
    mla: bool
    context: float                 # longest sequence the model was built for [tokens]; 0 if not a token model
    kernels: float                 # kernels launched per forward pass [1]; 0 if unknown
    lineage: Lineage
    # Weight GEMMs of a pass (transformers only): (output width [1], share of `matmul_flops`
    # [1], tensor-parallel split), one per distinct shape (transformer.weight_gemms).
    gemms: tuple[tuple[float, float, str], ...] = ()
    ref: str = ""                  # "models/<id>": the record these terms were read from
    # Per-inference models (CNNs): activation elements one inference reads and writes in
    # device memory [1] (0 when the catalog does not state them).
    activation_elements: float = 0.0
    peak_activation_elements: float = 0.0  # most activation elements alive at once in one inference [1]; 0 if not stated
    encoder: bool = False          # a bidirectional encoder (BERT): one pass, no decode, no KV cache
    convolutional: bool = False    # a CNN (architecture: cnn): its FLOPs run in convolution kernels
    # Passes one inference runs [1]: a diffusion model's denoising steps (`matmul_flops` is then
    # one step's), 1 for everything else.
    steps: float = 1.0
    # A residual CNN whose layers the catalog describes (its `resnet:` block): each of its
    # kernels is then priced on its own (`layer_terms`); None for every other model.
    resnet: ResNetShape | None = None
    # A transformer's kernels by shape with the activation elements each moves per token
    # (transformer.activation_kernels); () for every other model.
    activations: tuple[ActivationKernel, ...] = ()
    # Sliding-window attention: the share of the layers (of `attention_flops` and `kv_elements`)
    # that attend only to the last `window` tokens; 0 and 0 without local attention.
    window: float = 0.0
    windowed_share: float = 0.0


@dataclass(frozen=True)
class HardwareTerms:
    """An accelerator at one compute precision, reduced to floats.

    Read with `require_memory=False`, a device whose record states no memory bandwidth
    (a microcontroller running from on-chip SRAM) has bandwidth = inf (no memory roofline),
    and one that states no capacity has capacity = inf (fit not checked); the flags say so.
    """

    name: str
    precision: str
    peak: float          # [FLOP/s] dense peak at `precision`
    bandwidth: float     # [B/s]
    capacity: float      # [B]
    lineage: Lineage
    record: Record = field(repr=False, compare=False)  # the accelerator record, for the overheads that apply to it
    has_bandwidth: bool = True
    has_capacity: bool = True
    # Which figure `capacity` is (see `memory_capacity`): "usable" (what the device reports
    # software can allocate, memory.capacity_usable), "marketed" (memory.capacity, the
    # vendor's figure) or "none" (no capacity stated: fit not checked).
    capacity_basis: str = "marketed"

    @property
    def catalog(self) -> Catalog:
        """The catalog the accelerator record (and so these terms) came from."""
        return self.record._catalog

    @property
    def capacity_note(self) -> str:
        """One sentence for a result: which memory capacity the fit was checked against."""
        return capacity_note(self.name, self.capacity, self.capacity_basis)


@dataclass(frozen=True)
class Efficiencies:
    compute: float
    memory: float
    lineage: Lineage
    compute_from_user: bool


@dataclass(frozen=True)
class FixedOverhead:
    """Cited fixed time a pass costs beyond its roofline [s], with the values it rests on;
    `unpriced` says why it is zero when the pass has the cost but no cited figure applies."""

    seconds: float
    lineage: Lineage
    unpriced: str = ""


_NO_OVERHEAD = FixedOverhead(0.0, Lineage())


@dataclass(frozen=True)
class PerTokenCost:
    """Cited time a pass costs per token it processes beyond its roofline [s per token], with
    the values it rests on; `unpriced` says why it is zero when the pass has the cost but no
    cited figure applies."""

    seconds: float
    lineage: Lineage
    unpriced: str = ""


@dataclass(frozen=True)
class ActivationTraffic:
    """The activation traffic of a transformer's passes on one GPU, by kernel class: for each
    of the weight GEMMs, the attention kernels and the element-wise kernels, the tokens above
    which each kernel's working set leaves the on-chip cache and the running sums of what
    the kernels then move (`roofline.spill_table`), with the cited values it rests on (the
    activations' element size, the accelerator's L2)."""

    gemm: tuple[tuple[float, ...], tuple[float, ...]]
    attention: tuple[tuple[float, ...], tuple[float, ...]]
    elementwise: tuple[tuple[float, ...], tuple[float, ...]]
    bytes_per_element: float
    lineage: Lineage

    def bytes(self, tokens: Any) -> tuple[Any, Any, Any]:
        """Activation bytes [B] a pass of `tokens` tokens moves in device memory through its
        weight GEMMs, its attention kernels and its element-wise kernels
        (`roofline.activation_bytes`); floats, or numpy arrays of tokens."""
        b = self.bytes_per_element
        return (activation_bytes(tokens, *self.gemm, b), activation_bytes(tokens, *self.attention, b),
                activation_bytes(tokens, *self.elementwise, b))

    def joined(self, tokens: Any, weights: Any, moved: Any) -> tuple[Any, Any, Any, Any]:
        """A pass of `tokens` tokens whose weight GEMMs read `weights` [B] and which moves
        `moved` [B] in all (weights and KV cache) once its activations join: (the weight GEMMs'
        bytes, the attention kernels' bytes, the element-wise kernels' bytes, all bytes) [B],
        the first two for `roofline.kernel_roofline_time`, the third memory-bound on its own."""
        gemm, attention, elementwise = self.bytes(tokens)
        return weights + gemm, moved - weights + attention, elementwise, moved + gemm + attention + elementwise


_NO_TABLE: tuple[tuple[float, ...], tuple[float, ...]] = ((), (0.0,))
# No activation traffic: a model without a described transformer.
NO_ACTIVATION_TRAFFIC = ActivationTraffic(_NO_TABLE, _NO_TABLE, _NO_TABLE, 0.0, Lineage())


@dataclass(eq=False)
class WaveQuantization:
    """Tile and wave quantization of a pass's weight GEMMs on one GPU, reduced to floats.

    A GEMM's (tokens x N) output is cut into tiles of `tile_rows` x `tile_columns`; each
    streaming multiprocessor runs a fixed number of tiles at once, so `wave` = SMs x tiles
    per SM tiles run together and a GEMM of T tiles takes ceil(T / wave) waves, each as long
    as one full tile (NVIDIA, Matrix Multiplication Background User's Guide: Section 3.2, wave
    quantization; Section 3.1, tile quantization: a partial tile does a full tile's math).
    `column_tiles[i]` = ceil(N_i / tile columns) for weight GEMM i, N_i its output width on
    this GPU; `coefficients[i]` = its share of the pass's weight-matmul FLOPs x tile columns /
    N_i; `rest` = the share not modelled (routed experts, biases), charged as if the GPU were
    full. `wave` is 0 when the term does not apply, and `reason` says why.
    """

    wave: float
    tile_rows: float
    column_tiles: tuple[float, ...]
    coefficients: tuple[float, ...]
    rest: float
    lineage: Lineage
    reason: str = ""
    # Slowdown by token count, so repeated solves of the same shape pay one dict lookup.
    # Plain floats only; this object itself lives in its catalog's derived-terms memo.
    _memo: dict[float, float] = field(default_factory=dict, repr=False)

    def slowdown(self, tokens: float) -> float:
        """Weight-GEMM time with tile and wave quantization over the time without [1], >= 1,
        for a pass whose GEMMs have `tokens` rows (batch x new tokens). GEMM i runs
        W_i = ceil(ceil(tokens / tile rows) x column_tiles_i / wave) waves of tiles of
        R = min(tokens, tile rows) rows (a GEMM shorter than one tile is charged only its own
        rows: which smaller tile cuBLAS then picks is not cited) and tile columns, so it takes
        W_i x wave x R x tile columns / (tokens x N_i) times its ideal time:
        slowdown = rest + sum_i share_i x that."""
        wave = self.wave
        if not wave:
            return 1.0
        memo = self._memo
        hit = memo.get(tokens)
        if hit is not None:
            return hit
        tile_rows = self.tile_rows
        bands = math.ceil(tokens / tile_rows)
        waves = 0.0
        for coefficient, columns in zip(self.coefficients, self.column_tiles):
            waves += coefficient * math.ceil(bands * columns / wave)
        # Every GEMM's factor is >= 1 (a wave cannot hold more tiles than exist), so the
        # weighted sum is >= 1; the max restores that bound where the shares' rounding
        # lands one ulp below it.
        result = max(1.0, self.rest + waves * wave * min(tokens, tile_rows) / tokens)
        if len(memo) < inputs.MEMO_LIMIT:
            memo[tokens] = result
        return result

    def slowdown_array(self, tokens: Any) -> Any:
        """`slowdown` element-wise over a numpy array of token counts (same arithmetic)."""
        import numpy as np

        wave = self.wave
        if not wave:
            return np.ones(np.shape(tokens))
        tile_rows = self.tile_rows
        bands = np.ceil(tokens / tile_rows)
        waves = np.zeros(np.shape(tokens))
        for coefficient, columns in zip(self.coefficients, self.column_tiles):
            waves = waves + coefficient * np.ceil(bands * columns / wave)
        return np.maximum(1.0, self.rest + waves * wave * np.minimum(tokens, tile_rows) / tokens)


def _no_waves(reason: str) -> WaveQuantization:
    return WaveQuantization(0.0, 1.0, (), (), 1.0, Lineage(), reason)


class PrecisionUnavailable(MlsysimError):
    """The hardware record has no peak for the requested precision."""


def _catalog_record(value: Any, kind: str) -> Record:
    """A Record (kept as it is) or a name looked up in the catalog `inputs.catalog_of` picks."""
    if isinstance(value, Record):
        return value
    if isinstance(value, str):
        return inputs.catalog_of().get(kind, value)
    raise MlsysimError(f"expected a {kind} record or its name, got {type(value).__name__}")


def _resnet_shape(model: Record, lineage: Lineage) -> ResNetShape | None:
    """The layer structure of a model with a `resnet:` block (and its input_shape, "HxWxC"),
    or None."""
    if not model.has("resnet"):
        return None
    try:
        height, width, channels = (int(part) for part in str(model.input_shape).lower().split("x"))
    except ValueError:
        raise MlsysimError(f"{model.label}: input_shape {model.input_shape!r} is not 'HxWxC' (e.g. '224x224x3'); "
                           "the resnet block's layer sizes are derived from it") from None
    if height != width:
        raise MlsysimError(f"{model.label}: the resnet layer sizes assume a square input, not {model.input_shape!r}")
    stages = tuple(int(lineage.use(model.field(f"resnet.stage{i}_blocks"))) for i in STAGES)
    return ResNetShape(str(model.field("resnet.block")), stages, int(lineage.use(model.field("resnet.width"))),
                       int(lineage.use(model.field("resnet.classes"))), height, channels)


def model_terms(model: Record | str) -> ModelTerms:
    """A model record's float terms, read once per catalog."""
    model = _catalog_record(model, "models")
    memo = model._catalog.derived("model_terms")
    ident = model._data["id"]
    terms = memo.get(ident)
    if terms is None:
        terms = memo[ident] = _read_model(model)
    return terms


def _read_model(model: Record) -> ModelTerms:
    if model.kind != "models":
        raise MlsysimError(f"{model.label} is a {model.kind} record, not a model")
    lineage = Lineage()
    none = dict(attention_flops=0.0, kv_elements=0.0, expert_params=0.0, moe_layers=0.0, experts_total=0.0,
                experts_active=0.0, layers=0.0, hidden=0.0, kv_heads=0.0, mla=False, context=0.0, kernels=0.0)
    if model.has("transformer"):
        shape = TransformerShape.from_record(model, lineage)
        params = parameter_count(shape)
        per_expert, moe_layers = routed_expert_parameters(shape)
        routed = moe_layers * shape.experts_total * per_expert
        # Every pass reads all weights except the input embedding table (a lookup of a
        # few rows) and the routed experts no token picked; a tied output projection
        # reads the embedding matrix.
        tied_output = shape.vocab * shape.hidden if shape.tied else 0.0
        read_dense = params.total - params.embedding - routed + tied_output
        matmul_weights = matmul_weights_per_token(shape)
        gemms = tuple((g.outputs, g.weights / matmul_weights, g.split) for g in weight_gemms(shape))
        return ModelTerms(
            name=model.label, kind="transformer", params_total=params.total,
            matmul_flops=2.0 * matmul_weights,
            attention_flops=attention_flops_per_token(shape, 1.0),
            kv_elements=kv_cache_elements_per_token(shape),
            read_params_dense=read_dense, expert_params=per_expert, moe_layers=moe_layers,
            experts_total=shape.experts_total, experts_active=shape.experts_active,
            layers=shape.layers, hidden=shape.hidden, kv_heads=shape.kv_heads, mla=shape.is_mla,
            context=shape.context, kernels=kernels_per_forward_pass(shape),
            lineage=lineage, gemms=gemms, ref=model.ref, encoder=shape.encoder,
            activations=activation_kernels(shape),
            window=shape.window, windowed_share=shape.windowed_share,
        )
    params = lineage.use(model.parameters)
    if model.has("flops_per_inference"):
        graph = dict(none)
        resnet = _resnet_shape(model, lineage)
        if resnet is not None:
            # Described layers: FLOPs, operators and their traffic are counted from them (the
            # unfused graph); the record's own cited counts are cross-checks, not inputs.
            kernels = resnet_graph(resnet)
            flops, activations = kernels.flops_per_sample, kernels.activation_elements
            graph["kernels"] = float(kernels.kernels)
        else:
            flops = lineage.use(model.flops_per_inference)
            if model.has("kernels_per_inference"):
                graph["kernels"] = lineage.use(model.kernels_per_inference)
            activations = (lineage.use(model.activation_elements_per_inference)
                           if model.has("activation_elements_per_inference") else 0.0)
        peak = (lineage.use(model.peak_activation_elements_per_inference)
                if model.has("peak_activation_elements_per_inference") else 0.0)
        return ModelTerms(name=model.label, kind="per_inference", params_total=params,
                          matmul_flops=flops, read_params_dense=params,
                          lineage=lineage, ref=model.ref, activation_elements=activations, peak_activation_elements=peak,
                          convolutional=model.get("architecture") == "cnn", resnet=resnet, **graph)
    if model.has("flops_per_step"):
        # A diffusion model: one denoiser pass per sampling step, the weights read at every step.
        return ModelTerms(name=model.label, kind="per_inference", params_total=params,
                          matmul_flops=lineage.use(model.flops_per_step), read_params_dense=params,
                          lineage=lineage, ref=model.ref, steps=lineage.use(model.denoising_steps), **none)
    if model.has("ssm"):
        # A state-space model's work per token is its weight matmuls (the scan is
        # O(d_state) per channel): 2 FLOP per parameter per token (Kaplan et al. 2020).
        return ModelTerms(name=model.label, kind="per_token", params_total=params, matmul_flops=2.0 * params,
                          read_params_dense=params, lineage=lineage, ref=model.ref, **none)
    raise MlsysimError(
        f"{model.label} has neither a transformer or ssm architecture block nor a cited flops_per_inference "
        f"(or, for a diffusion model, flops_per_step with denoising_steps) "
        f"in the catalog ({model.file}); the roofline needs one of them and will not guess"
    )


def hardware_terms(hardware: Record | str, precision: str, require_memory: bool = True,
                   dla: bool = False) -> HardwareTerms:
    """An accelerator record (or a node record: its accelerator) at `precision` as float
    terms, read once per catalog. The peak is the GPU's (`compute`); with `dla`, the peak of
    the module's deep-learning accelerators (`compute_dla`) is added, for CNN work spread over
    the GPU and the DLAs."""
    hardware = _catalog_record(hardware, "hardware")
    memo = hardware._catalog.derived("hardware_terms")
    key = (hardware._data["kind"], hardware._data["id"], precision, require_memory, dla)
    terms = memo.get(key)
    if terms is None:
        if hardware.kind == "nodes":
            terms = hardware_terms(hardware.accelerator, precision, require_memory, dla)
        else:
            terms = _read_hardware(hardware, precision, require_memory, dla)
        memo[key] = terms
    return terms


def _read_hardware(hw: Record, precision: str, require_memory: bool = True, dla: bool = False) -> HardwareTerms:
    if hw.kind != "hardware":
        raise MlsysimError(f"{hw.label} is a {hw.kind} record, not an accelerator (hardware)")
    precision = check_precision(precision)
    lineage = Lineage()
    claims = hw.claims
    path = f"compute.{precision}"
    if path not in claims:
        have = sorted(p.split(".", 1)[1] for p in claims if p.startswith("compute."))
        raise PrecisionUnavailable(
            f"{hw.label} has no dense {precision} peak in the catalog ({hw.file}: {path}); "
            f"it lists: {', '.join(have) or 'none'}. Pick one of those with --precision, "
            f"or add {path} to the record with its source (another precision's peak is never substituted)"
        )
    if require_memory:
        for needed in ("memory.bandwidth", "memory.capacity"):
            if needed not in claims:
                raise MlsysimError(f"{hw.label} has no {needed} in the catalog ({hw.file}); the roofline needs it")
    has_bandwidth, has_capacity = "memory.bandwidth" in claims, "memory.capacity" in claims
    capacity, basis = memory_capacity(hw)
    peak = lineage.use(hw.field(path))
    if dla:
        dla_path = f"compute_dla.{precision}"
        if dla_path not in claims:
            raise MlsysimError(
                f"{hw.label} has no {precision} peak of deep-learning accelerators beside its GPU in the catalog "
                f"({hw.file}: {dla_path}); drop the DLA offload, or add {dla_path} to the record with its source"
            )
        peak += lineage.use(hw.field(dla_path))
    return HardwareTerms(
        name=hw.label, precision=precision,
        peak=peak,
        bandwidth=lineage.use(hw.field("memory.bandwidth")) if has_bandwidth else math.inf,
        capacity=lineage.use(capacity) if capacity is not None else math.inf,
        lineage=lineage, record=hw, has_bandwidth=has_bandwidth, has_capacity=has_capacity,
        capacity_basis=basis,
    )


def memory_capacity(hw: Record) -> tuple[Value | None, str]:
    """The memory capacity a fit is checked against, and which figure it is.

    The usable capacity (`memory.capacity_usable`: what the device reports software can
    allocate, e.g. 81559 MiB = 85.5 GB for an H100 80GB HBM3 under nvidia-smi) when the
    record states one, else the marketed figure (`memory.capacity`, e.g. NVIDIA's "80GB").
    Returns (cited value, "usable" | "marketed"), or (None, "none") when neither is stated.
    """
    claims = hw.claims
    if "memory.capacity_usable" in claims:
        return hw.field("memory.capacity_usable"), "usable"
    if "memory.capacity" in claims:
        return hw.field("memory.capacity"), "marketed"
    return None, "none"


def capacity_note(name: str, capacity: float, basis: str) -> str:
    """The sentence a result carries about the capacity [B] its fit was checked against."""
    if basis == "usable":
        return (f"memory fit checked against {name}'s usable capacity, {capacity / 1e9:.4g} GB as the device "
                "reports it (memory.capacity_usable), not the marketed figure")
    if basis == "marketed":
        return f"memory fit checked against {name}'s marketed capacity, {capacity / 1e9:.4g} GB (memory.capacity)"
    return f"memory fit not checked: {name} states no memory capacity"


def efficiencies(catalog: Catalog, compute: Any = None) -> Efficiencies:
    """The cited compute and memory-bandwidth efficiencies of `catalog`; `compute`, when
    given (a fraction in (0, 1], or a cited one), replaces the cited compute efficiency."""
    memo = catalog.derived("efficiencies")
    cited = memo.get(None)
    if cited is None:
        lineage = Lineage()
        c = compute_efficiency(catalog, None, lineage)
        m = lineage.use(cited_assumption(catalog, MEMORY_EFFICIENCY))
        cited = memo[None] = Efficiencies(c, m, lineage, False)
    if compute is None:
        return cited
    key = inputs.memo_key(compute)
    given = memo.get(key) if key is not None else None
    if given is None:
        lineage = Lineage()
        lineage.use(cited_assumption(catalog, MEMORY_EFFICIENCY))
        given = Efficiencies(compute_efficiency(catalog, compute, lineage), cited.memory, lineage, True)
        if key is not None:
            inputs.remember(memo, key, given)
    return given


def compute_efficiency(catalog: Catalog, given: Any, lineage: Lineage) -> float:
    """One compute efficiency for every FLOP [1]: `given` (a fraction in (0, 1], or a cited
    one) when the caller passes it, else the generic cited prefill_compute_efficiency; the
    value used is noted in `lineage`."""
    if given is None:
        return lineage.use(cited_assumption(catalog, COMPUTE_EFFICIENCY))
    return inputs.fraction(given, "efficiency", lineage)


@dataclass(frozen=True)
class KernelEfficiencies:
    """Achieved fractions of peak of each kernel class of a pass on one accelerator at one
    precision [1]: the weight GEMMs (`gemm`), fused attention (`attention`) and the bytes a
    pass moves (`memory`), with the lineage of the cited values used. `*_specific` says
    whether a record scoped to this hardware and precision was found (else the generic
    figure applies). `expert` is a mixture-of-experts model's routed-expert grouped GEMMs'
    (`pass_efficiencies`; 0: they run at `gemm` like the other weight GEMMs)."""

    gemm: float
    attention: float
    memory: float
    lineage: Lineage
    compute_from_user: bool
    gemm_specific: bool = False
    attention_specific: bool = False
    memory_specific: bool = False
    expert: float = 0.0
    # A CNN's convolution figure scoped to this accelerator: the batch it was measured at
    # (qualifier `batch`; 0 where not stated), whose tile and wave losses it already holds.
    measured_batch: float = 0.0

    @property
    def compute(self) -> float:
        """The weight-GEMM efficiency [1], under the name `Efficiencies` uses for compute."""
        return self.gemm


# The kernel classes of a transformer pass, and every class an efficiency record may be
# scoped to (a CNN's convolutions too).
TRANSFORMER_KERNELS = ("gemm", "attention", "memory")
KERNELS = TRANSFORMER_KERNELS + ("convolution",)
# Kernel classes only training prices apart: the fused-attention backward pass (else at the
# forward's figure) and a mixture-of-experts layer's routed-expert grouped GEMMs (else at the
# dense GEMM figure), each at its own cited figure where one is scoped to the accelerator.
TRAINING_KERNELS = ("attention_backward", "expert_gemm")
# The tensor layouts a convolution efficiency record may be scoped to (qualifier `layout`).
# A CNN priced with no layout given takes the channels-last figure (cuDNN's tensor-core
# convolutions run natively in NHWC), else one scoped to no layout.
CONV_LAYOUTS = ("channels_last", "nchw")  # the catalog's qualifier enum (schemas.common.LAYOUTS) matches
# The fused-attention kernels an attention figure may be scoped to (qualifier `implementation`;
# the catalog's enum, schemas.common.ATTENTION_KERNELS, matches). A figure scoped to one of the
# CUDA FlashAttention kernels, which frameworks run by default, is also the default attention
# figure; FlashAttention written in Triton is one a run opts into, so its figures serve only
# where a caller names it.
ATTENTION_KERNELS = ("flashattention2", "flashattention3", "flashattention_triton")
DEFAULT_ATTENTION_KERNELS = ("flashattention2", "flashattention3")  # oldest first
ATTENTION_SLOTS = ("attention", "attention_backward")


def _scoped_efficiencies(catalog: Catalog) -> dict[tuple[str, str, str], Value]:
    """Every assumption whose quantity is scoped to a kernel class, precisions and hardware
    ids (qualifiers `kernel`, `precisions`, `hardware`, comma-separated), indexed by
    (kernel, hardware id, precision); read once per catalog.

    The solvers apply one efficiency to every shape of a kernel class, so a figure
    representative of many shapes (a median over a shape table, the lower end of a stated
    range) is preferred to the best shape of a sweep (qualifier `statistic: best shape of a
    sweep`, an upper bound), which fills only a slot no other record fills. Among records
    of the same standing the first by id wins, so the choice never depends on file order.
    A convolution figure scoped to a tensor layout, and an attention figure scoped to a
    fused-attention kernel (qualifier `implementation`), are also indexed under that layout
    or kernel; only the channels-last and the CUDA FlashAttention ones fill the default slot,
    and of two FlashAttention versions cited for one accelerator the later one (`_newer_kernel`)."""
    memo = catalog.derived("scoped_efficiencies")
    index = memo.get(None)
    if index is None:
        index = {}
        ranked = sorted(catalog.records("assumptions"),
                        key=lambda r: (_best_shape(r), r._data["id"]))
        for record in ranked:
            if not record.has("quantity"):
                continue
            value = record.quantity
            wanted = value.qualifiers
            kernel = wanted.get("kernel")
            if kernel not in KERNELS and kernel not in TRAINING_KERNELS:
                continue
            keys = [kernel]
            layout = wanted.get("layout")
            if kernel == "convolution" and layout is not None:
                # Indexed under its layout; the channels-last figure is also the default one.
                keys = [_layout_kernel(str(layout))] + (["convolution"] if layout == "channels_last" else [])
            implementation = wanted.get("implementation")
            if kernel in ATTENTION_SLOTS and implementation is not None:
                # Indexed under its kernel; a CUDA FlashAttention figure is also the default one.
                keys = [_implementation_kernel(kernel, str(implementation))]
                keys += [kernel] if implementation in DEFAULT_ATTENTION_KERNELS else []
            for hw_id in _listed(wanted.get("hardware")):
                for precision in _listed(wanted.get("precisions")):
                    for key in keys:
                        held = index.get((key, hw_id, precision))
                        if held is None or (key in ATTENTION_SLOTS and _newer_kernel(value, held)):
                            index[(key, hw_id, precision)] = value
        memo[None] = index
    return index


def _newer_kernel(value: Value, held: Value) -> bool:
    """Whether attention figures `value` and `held` are both of CUDA FlashAttention kernels and
    `value`'s the later (DEFAULT_ATTENTION_KERNELS, oldest first): where both are cited for an
    accelerator, its default is the later one, the kernel a current stack runs. Any other pair
    keeps the first-ranked figure, as every other slot does."""
    def rank(v: Value) -> int:
        implementation = v.qualifiers.get("implementation")
        return DEFAULT_ATTENTION_KERNELS.index(implementation) if implementation in DEFAULT_ATTENTION_KERNELS else -1
    return rank(held) >= 0 and rank(value) > rank(held)


def _implementation_kernel(kernel: str, implementation: str) -> str:
    """The index key of attention slot `kernel` ("attention", "attention_backward") scoped to
    the fused-attention kernel `implementation`."""
    return f"{kernel}@{implementation}"


def attention_kernel_values(h: HardwareTerms, implementation: str) -> tuple[Value, Value | None]:
    """The cited forward and backward efficiencies of fused-attention kernel `implementation`
    (one of ATTENTION_KERNELS) on accelerator terms `h` (hardware id and precision): the
    forward's, and the backward's where one is cited (else None: priced like the forward).
    An error naming what is missing where no forward figure is cited, since another kernel's
    figure is not this one's."""
    if implementation not in ATTENTION_KERNELS:
        raise MlsysimError(f"attention_kernel: {implementation!r} is not one of {', '.join(ATTENTION_KERNELS)}")
    forward = scoped_efficiency(h, _implementation_kernel("attention", implementation))
    if forward is None:
        raise MlsysimError(f"attention_kernel: no efficiency of {implementation} attention is cited for "
                           f"{h.record.label} at {h.precision} (an assumption record with qualifiers kernel: attention, "
                           f"implementation: {implementation}); leave attention_kernel out to use the default figure")
    return forward, scoped_efficiency(h, _implementation_kernel("attention_backward", implementation))


def _layout_kernel(layout: str) -> str:
    """The index key of the convolution efficiency scoped to tensor layout `layout`."""
    return f"convolution@{layout}"


def conv_layout_value(h: HardwareTerms, layout: str) -> Value:
    """The cited convolution efficiency scoped to accelerator terms `h` (hardware id and
    precision) and tensor layout `layout` (one of CONV_LAYOUTS); an error naming what is
    missing where the catalog has none, since another layout's figure is not this one's."""
    if layout not in CONV_LAYOUTS:
        raise MlsysimError(f"layout: {layout!r} is not one of {', '.join(CONV_LAYOUTS)}")
    value = scoped_efficiency(h, _layout_kernel(layout))
    if value is None:
        raise MlsysimError(f"layout: no convolution efficiency in {layout} layout is cited for {h.record.label} at "
                           f"{h.precision} (an assumption record with qualifiers kernel: convolution, layout: "
                           f"{layout}); leave layout out to use the default convolution figure")
    return value


def conv_layout_cited(h: HardwareTerms, layout: str) -> bool:
    """Whether the catalog cites a convolution efficiency scoped to accelerator terms `h` and
    tensor layout `layout` (what `conv_layout_value` would find)."""
    return scoped_efficiency(h, _layout_kernel(layout)) is not None


def _best_shape(record: Record) -> bool:
    """Whether an efficiency record is the best shape of a sweep (an upper bound)."""
    if not record.has("quantity"):
        return False
    return str(record.quantity.qualifiers.get("statistic", "")).startswith("best shape")


def _listed(text: Any) -> list[str]:
    return [part.strip() for part in str(text or "").split(",") if part.strip()]


def scoped_efficiency(h: HardwareTerms, kernel: str) -> Value | None:
    """The cited efficiency of kernel class `kernel` ("gemm", "attention_backward", ...)
    scoped to accelerator terms `h`'s hardware id and precision (qualifier kernel), or None
    where the catalog has none."""
    return _scoped_efficiencies(h.catalog).get((kernel, h.record._data["id"], h.precision))


def expert_gemm_value(h: HardwareTerms) -> Value | None:
    """The cited efficiency of a mixture-of-experts layer's routed-expert grouped GEMMs scoped
    to `h` (`scoped_efficiency`), or None where the catalog has none (they are then priced like
    the dense weight GEMMs)."""
    return scoped_efficiency(h, "expert_gemm")


def attention_backward_value(h: HardwareTerms) -> Value | None:
    """The cited fused-attention backward efficiency scoped to `h` (`scoped_efficiency`), or
    None where the catalog has none (the backward is then priced like the forward)."""
    return scoped_efficiency(h, "attention_backward")


def kernel_efficiency_values(h: HardwareTerms) -> dict[str, Value]:
    """The cited value each kernel class ("gemm", "attention", "memory") of a pass uses on
    accelerator terms `h`: the assumption record scoped to this hardware id and precision
    (catalog/assumptions/, qualifiers kernel, precisions, hardware), else the generic cited
    figure (`prefill_compute_efficiency` for both compute classes,
    `decode_memory_bandwidth_efficiency` for memory). The one place that choice is made:
    the solvers and the exported lab data both read it."""
    catalog = h.catalog
    scoped = _scoped_efficiencies(catalog)
    hw_id = h.record._data["id"]
    out: dict[str, Value] = {}
    for kernel in KERNELS:
        value = scoped.get((kernel, hw_id, h.precision))
        if value is None:
            value = cited_assumption(catalog, MEMORY_EFFICIENCY if kernel == "memory" else COMPUTE_EFFICIENCY)
        out[kernel] = value
    return out


def kernel_efficiencies(h: HardwareTerms, compute: Any = None) -> KernelEfficiencies:
    """Per-hardware, per-precision kernel efficiencies of accelerator terms `h`: for each
    kernel class (weight GEMM, attention, memory-bound traffic) the cited value
    `kernel_efficiency_values` picks. `compute`, when given (a fraction in (0, 1], or a cited
    one), replaces both compute efficiencies, as in `efficiencies`. The cited case is
    memoised per (accelerator, precision) in the catalog."""
    catalog = h.catalog
    key = (h.record._data["id"], h.precision)
    memo = catalog.derived("kernel_efficiencies")
    if compute is None:
        hit = memo.get(key)
        if hit is not None:
            return hit
    scoped = _scoped_efficiencies(catalog)
    lineage = Lineage()
    values: dict[str, float] = {}
    specific: dict[str, bool] = {}
    user = None
    if compute is not None:
        user = inputs.fraction(compute, "efficiency", lineage)
    cited = kernel_efficiency_values(h)
    for kernel in TRANSFORMER_KERNELS:
        if user is not None and kernel != "memory":
            values[kernel], specific[kernel] = user, False
            continue
        value = cited[kernel]
        specific[kernel] = scoped.get((kernel, key[0], key[1])) is value
        values[kernel] = lineage.use(value)
    result = KernelEfficiencies(values["gemm"], values["attention"], values["memory"], lineage, user is not None,
                                specific["gemm"], specific["attention"], specific["memory"])
    if compute is None:
        inputs.remember(memo, key, result)
    return result


def pass_efficiencies(m: ModelTerms, h: HardwareTerms, compute: Any = None,
                      layout: str | None = None) -> KernelEfficiencies:
    """The efficiencies a single forward pass of `m` on `h` is priced at: for a transformer
    (described weight GEMMs and attention) the per-kernel ones (`kernel_efficiencies`, as
    ServingModel prices its passes), and for a mixture of experts the routed experts'
    grouped-GEMM figure scoped to `h` where the catalog has one (`expert`, in the lineage
    only then); for a model with a per-inference or per-parameter FLOP
    count (no operator graph to split into kernel classes) the generic cited compute
    efficiency (`compute_efficiency`), the same figure for both compute classes, except that a
    CNN's FLOPs take the convolution efficiency cited for this accelerator and precision
    where the catalog has one (qualifier kernel: convolution). The bytes take the memory
    efficiency cited for this accelerator and precision where there is one (qualifier
    kernel: memory), as a transformer's do, else the generic one.
    `compute`, when given, replaces the compute efficiencies in either case. `layout`, for a
    CNN, picks the convolution figure scoped to that tensor layout (`conv_layout_value`; an
    error where none is cited); None takes the default one (channels-last, see CONV_LAYOUTS)."""
    if layout is not None and not m.convolutional:
        raise MlsysimError(f"layout: {m.name} is not a CNN; the tensor layout applies to convolutions only")
    if m.kind == "transformer":
        return _with_expert_gemms(m, h, kernel_efficiencies(h, compute))
    cited = kernel_efficiency_values(h)
    conv, memory = cited["convolution"], cited["memory"]
    if layout is not None:
        scoped = conv_layout_value(h, layout)  # checked even where a caller's efficiency replaces it
        conv = scoped if compute is None else conv
    # "Specific": cited for this accelerator and precision, not the generic figure.
    conv_specific = m.convolutional and compute is None and conv.qualifiers.get("kernel") == "convolution"
    lineage = Lineage()
    c = lineage.use(conv) if conv_specific else compute_efficiency(h.catalog, compute, lineage)
    return KernelEfficiencies(c, c, lineage.use(memory), lineage, compute is not None, conv_specific, conv_specific,
                              memory.qualifiers.get("kernel") == "memory",
                              measured_batch=_stated_batch(conv) if conv_specific else 0.0)


def _stated_batch(value: Value) -> float:
    """The batch an efficiency was measured at (qualifier `batch`, a whole number), else 0."""
    text = str(value.qualifiers.get("batch", "")).strip()
    return float(text) if text.isdigit() and int(text) > 0 else 0.0


def _with_expert_gemms(m: ModelTerms, h: HardwareTerms, eff: KernelEfficiencies) -> KernelEfficiencies:
    """`eff` with the cited efficiency of the routed experts' grouped GEMMs
    (`expert_gemm_value`) when `m` is a mixture of experts, the efficiencies are the cited
    ones (not a number the caller chose) and a figure is scoped to `h`; else `eff` itself."""
    if not m.moe_layers or eff.compute_from_user:
        return eff
    memo = h.catalog.derived("expert_efficiencies")
    key = (m.ref, m.name, h.record._data["id"], h.precision)
    hit = memo.get(key)
    if hit is not None:
        return hit
    value = expert_gemm_value(h)
    result = eff
    if value is not None:
        lineage = Lineage()
        lineage.merge(eff.lineage)
        result = replace(eff, expert=lineage.use(value), lineage=lineage)
    inputs.remember(memo, key, result)
    return result


def routed_gemm_share(m: ModelTerms) -> float:
    """The routed experts' share of a token's weight-matmul FLOPs [1]: 2 x k x P_e x L_moe /
    `matmul_flops`, k experts of P_e parameters in each of the L_moe mixture-of-experts
    layers; 0 for a dense model."""
    if not m.moe_layers or not m.matmul_flops:
        return 0.0
    return 2.0 * m.experts_active * m.expert_params * m.moe_layers / m.matmul_flops


@dataclass(frozen=True)
class TokenRateRecord:
    """The fastest published per-device output-token rate [1/s], the parameters per token of
    the model it was set with [1], a label naming it, and the cited values it rests on."""

    rate: float
    params: float
    label: str
    lineage: Lineage


def public_token_record(catalog: Catalog) -> TokenRateRecord | None:
    """The cited per-device token-rate record (catalog/assumptions/
    public_record_token_rate_per_device.yaml) with the parameters per token of the model its
    qualifier `model` names (read from that model record), or None when the catalog lacks
    either (a small test catalog): the plausibility check it feeds is then not made."""
    memo = catalog.derived("public_token_record")
    if "value" in memo:
        return memo["value"]
    result = None
    try:
        value = catalog.get("assumptions", PUBLIC_TOKEN_RECORD).quantity
        model = catalog.get("models", str(value.qualifiers.get("model", "")))
    except NotFoundError:
        value = model = None
    if value is not None and model is not None and model.has("transformer"):
        terms = model_terms(model)
        lineage = Lineage()
        rate = lineage.use(value)
        lineage.merge(terms.lineage)
        label = f"{terms.name} on {value.qualifiers.get('hardware', 'one device')}, {value.qualifiers.get('scenario', '')}".rstrip(", ")
        result = TokenRateRecord(rate, active_params_per_token(terms), label, lineage)
    memo["value"] = result
    return result


def active_params_per_token(m: ModelTerms) -> float:
    """Parameters one token reads [1]: every weight a pass reads except the routed experts,
    plus the experts each token is routed to."""
    return m.read_params_dense + m.moe_layers * m.experts_active * m.expert_params


def applies_to(value: Any, hw: Record) -> bool:
    """Whether a cited overhead applies to accelerator `hw`: its qualifiers' `vendor` must be
    the record's vendor, its `hardware` list (comma-separated record ids), if any, must name
    the record, and its `link`, if any, must be named in the record's interconnect
    (a figure measured on one vendor's GPUs and software says nothing about another's)."""
    wanted = value.qualifiers
    vendor = wanted.get("vendor")
    if vendor and str(hw.get("vendor", "")).lower() != str(vendor).lower():
        return False
    listed = _listed(wanted.get("hardware"))
    if listed and hw._data["id"] not in listed:
        return False
    link = wanted.get("link")
    return not link or str(link).lower() in str(hw.get("interconnect.name", "")).lower()


@dataclass(frozen=True)
class LinkEfficiencies:
    """Achieved fractions [1] of the line rate that collectives reach inside a node
    (`intra`) and across the fabric (`inter`), 1.0 where no cited figure applies, with the
    lineage of the cited values used."""

    intra: float
    inter: float
    lineage: Lineage


def collective_efficiencies(hw: Record, fabric: Record | None = None) -> LinkEfficiencies:
    """The cited bus-bandwidth efficiency of collectives (assumption records with a
    `collective` qualifier, e.g. nccl_allreduce_bus_efficiency_*) on accelerator `hw`'s
    node link and, when given, across `fabric`: inside the node the record that
    `applies_to` the accelerator (vendor, hardware ids, link named in its interconnect);
    across nodes the record of the accelerator's vendor whose `link` is named in the
    fabric's technology (e.g. InfiniBand). 1.0 (line rate, an optimistic bound) where the
    catalog cites none. The first matching record by id wins. Memoised per (accelerator,
    fabric) in their catalog.

    References
    ----------
    NCCL tests documentation, "Performance" (bus bandwidth: the per-link rate a collective
    reaches, comparable to the hardware's peak).
    """
    memo = hw._catalog.derived("collective_efficiencies")
    key = (hw._data["id"], fabric._data["id"] if fabric is not None else None)
    hit = memo.get(key)
    if hit is not None:
        return hit
    records = _qualified_assumptions(hw._catalog, "collective")
    lineage = Lineage()
    intra = next((v for v in records if applies_to(v, hw)), None)
    technology = str(fabric.get("technology", "")).lower() if fabric is not None else ""
    vendor = str(hw.get("vendor", "")).lower()
    inter = next((v for v in records if technology and str(v.qualifiers.get("link", "")).lower() in technology
                  and str(v.qualifiers.get("vendor", "")).lower() == vendor), None)
    result = LinkEfficiencies(lineage.use(intra) if intra is not None else 1.0,
                              lineage.use(inter) if inter is not None else 1.0, lineage)
    memo[key] = result
    return result


def activation_traffic(m: ModelTerms, h: HardwareTerms, tp: float = 1.0, bytes_per_weight: float | None = None) -> ActivationTraffic:
    """The activation traffic of transformer `m`'s passes on one of `tp` GPUs `h`
    (`activation_tables`), whose kernels' working sets may stay in the accelerator's L2
    (`memory.l2_cache`; none stated: every kernel's traffic goes to device memory). Memoised
    per (model, accelerator at a precision, tp, weight size) in their catalog."""
    if m.kind != "transformer" or not m.activations:
        return NO_ACTIVATION_TRAFFIC
    weight_bytes = BYTES_PER_ELEMENT[h.precision] if bytes_per_weight is None else bytes_per_weight
    memo = h.catalog.derived("activation_traffic")
    key = (m.ref, h.record._data["id"], h.precision, tp, weight_bytes)
    hit = memo.get(key)
    if hit is None:
        cache = h.record.field(L2_CACHE) if h.record.has(L2_CACHE) else None
        hit = activation_tables(m, h.precision, h.catalog, cache, tp, weight_bytes)
        inputs.remember(memo, key, hit)
    return hit


def activation_tables(m: ModelTerms, precision: str, catalog: Catalog, cache: Value | float | None = None,
                      tp: float = 1.0, bytes_per_weight: float | None = None) -> ActivationTraffic:
    """The activation traffic of transformer `m`'s passes at compute `precision` on one of `tp`
    GPUs with an on-chip `cache` (a cited value or bytes; None or 0: none): each kernel of the
    pass (`transformer.activation_kernels`) reads its input activations and writes its output
    in device memory unless its working set (those activations and its weights at
    `bytes_per_weight`, default the precision's size) fits in the cache
    (`roofline.spill_table`). Activations are 16-bit at narrower compute precisions (the cited
    `allreduce_activation_bytes`: only the linear layers' inputs are cast), else the
    precision's own size. A tensor-parallel rank moves the hidden state whole and its share of
    the heads and of the MLP width, and holds 1 / tp of each split GEMM's weights. Empty tables
    for a model without a described transformer."""
    if m.kind != "transformer" or not m.activations:
        return NO_ACTIVATION_TRAFFIC
    lineage = Lineage()
    weight_bytes = BYTES_PER_ELEMENT[precision] if bytes_per_weight is None else bytes_per_weight
    element = BYTES_PER_ELEMENT[precision]
    floor = cited_assumption(catalog, ACTIVATION_BYTES, "the activations a transformer's kernels pass on")
    if element < floor.si:
        element = lineage.use(floor)
    on_chip = lineage.use(cache) if isinstance(cache, Value) else float(cache or 0.0)

    def table(kind: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
        rows = [(k.count, k.elements(tp), k.weights / tp if k.split else k.weights) for k in m.activations if k.kind == kind]
        return spill_table(rows, element, weight_bytes, on_chip)

    return ActivationTraffic(table("gemm"), table("attention"), table("elementwise"), element, lineage)


# Compute precisions narrower than the 16-bit activations the norms write: a pass at one of
# them casts its linear layers' 16-bit inputs first (`input_cast`).
CAST_PRECISIONS = ("fp8", "fp4", "int8")
FP8_CAST = "fp8_cast"


def input_cast(m: ModelTerms, h: HardwareTerms) -> PerTokenCost:
    """Time [s] per token of one pass of transformer `m` on `h` to cast the 16-bit inputs of
    its linear layers to the compute precision where the kernel before them writes 16 bits:
    every layer's Q/K/V projection (after its norm) and every dense layer's MLP up/gate
    projection (after the second norm), `hidden` elements each, memory-bound:

        t = hidden x (L + L_dense) x B / bandwidth,

    L the layers, L_dense those without routed experts, B [B] the cited bytes per element of
    the cast at the accelerator's peak bandwidth (an assumption with qualifier `kernel:
    fp8_cast` that applies to the hardware, `applies_to`). The attention output and MLP
    down projections take what the attention and activation kernels write in 8 bits already,
    and routed experts cast inside their cited grouped-GEMM figure. A cast's fixed cost per
    kernel (a microsecond or two) is not charged. Zero at 16 bits or wider and for a model
    without a described transformer; zero with `unpriced` saying so at fp4 and int8, and at
    fp8 where no cited cast applies. Each GPU of a tensor-parallel group casts the whole
    hidden vector of every token, so the time does not split. Memoised per (model,
    accelerator at a precision) in their catalog.

    References
    ----------
    NVIDIA AIConfigurator (ai-dynamo/aiconfigurator at 095f58a),
    aic-core/src/aiconfigurator_core/sdk/models/gpt.py: a static-FP8 model's QKV and FFN1
    GEMMs are priced with their input's cast, its projection and FFN2 GEMMs without it
    (low_precision_input).
    """
    if h.precision not in CAST_PRECISIONS or m.kind != "transformer":
        return _NO_CAST
    memo = h.catalog.derived("input_cast")
    key = (m.ref, h.record._data["id"], h.precision)
    hit = memo.get(key)
    if hit is not None:
        return hit
    value = applicable_assumption(h.record, FP8_CAST) if h.precision == "fp8" else None
    if value is None:
        result = PerTokenCost(0.0, Lineage(), f"the cast of each layer's 16-bit GEMM inputs (attention and MLP) to "
                                              f"{h.precision}: no cited cast time applies to {h.name}")
    else:
        lineage = Lineage()
        elements = m.hidden * (2.0 * m.layers - m.moe_layers)
        result = PerTokenCost(elements * lineage.use(value) / h.bandwidth, lineage)
    inputs.remember(memo, key, result)
    return result


_NO_CAST = PerTokenCost(0.0, Lineage())


def launch_overhead(m: ModelTerms, h: HardwareTerms, cuda_graph: bool = False, decode: bool = False) -> FixedOverhead:
    """Kernel-launch time of one forward pass of `m` on `h` [s]: kernels per pass x the cited
    per-kernel launch overhead (catalog/assumptions/kernel_launch_overhead.yaml), when that
    figure applies to the hardware (`applies_to`); else zero, and nothing in the lineage.
    With `cuda_graph`, the pass is replayed as a CUDA graph and each kernel costs the cited
    time per kernel of a graph replay instead (`kernel_launches`).
    A transformer's pass replayed as a CUDA graph also costs its small operators' measured
    fixed run times (`operator_floors`; with `decode`, a decode step's attention's too): in a
    graph the kernels run back to back, each after the one before. Launched from the host, a
    small operator runs while the host launches the next kernel, inside the launch time
    already charged, so it adds nothing there.
    Memoised per (model, accelerator at a precision, graph, decode) in their catalog, so a solve
    pays one dictionary lookup."""
    memo = h.catalog.derived("launch_overhead")
    key = (m.ref, h.record._data["id"], h.precision, cuda_graph, decode)
    result = memo.get(key)
    if result is None:
        result = kernel_launches(m.kernels, h, cuda_graph)
        if cuda_graph and m.kind == "transformer":
            result = _plus(result, operator_floors(m, h))
            if decode:
                result = _plus(result, operator_floors(m, h, decode=True))
        memo[key] = result
    return result


def _plus(a: FixedOverhead, b: FixedOverhead) -> FixedOverhead:
    """Two fixed overheads added, their lineages merged and their `unpriced` notes kept."""
    if not b.seconds and not b.unpriced:
        return a
    lineage = Lineage()
    lineage.merge(a.lineage)
    lineage.merge(b.lineage)
    return FixedOverhead(a.seconds + b.seconds, lineage, "; ".join(x for x in (a.unpriced, b.unpriced) if x))


# A transformer layer's small operators a measured fixed run time may price (`operator_floors`):
# per layer two norms and two residual adds, and in a dense (not mixture-of-experts) layer the
# MLP's activation; per pass the final norm; in a decode step, each layer's attention.
NORM, RESIDUAL_ADD, GATED_ACTIVATION, DECODE_ATTENTION = "rms_norm", "residual_add", "silu_mul", "decode_attention"
TRANSFORMER_OPERATORS = (NORM, RESIDUAL_ADD, GATED_ACTIVATION, DECODE_ATTENTION)


def operator_value(h: HardwareTerms, kernel: str, operator: str, layout: str | None = None) -> Value | None:
    """The first assumption (by record id) with qualifiers `kernel: <kernel>` and `operator:
    <operator>`, `h`'s precision among its `precisions`, scoped to no layout or to `layout`,
    and applying to accelerator terms `h` (`applies_to`); else None. `kernel` is
    OPERATOR_FIXED_TIME (a fixed run time) or OPERATOR_MEMORY (a bandwidth fraction)."""
    return next((v for v in _qualified_assumptions(h.catalog, "operator")
                 if v.qualifiers.get("kernel") == kernel and v.qualifiers["operator"] == operator
                 and v.qualifiers.get("layout") in (None, layout)
                 and h.precision in _listed(v.qualifiers.get("precisions")) and applies_to(v, h.record)), None)


def operator_floors(m: ModelTerms, h: HardwareTerms, decode: bool = False) -> FixedOverhead:
    """Fixed run time of transformer `m`'s small operators in one pass on `h` [s], beyond each
    kernel's launch or gap in a CUDA graph: (2 L + 1) x f_norm + 2 L x f_add + L_dense x f_act,
    or with `decode`, the extra a decode step's attention costs, L x f_attention; L the
    layers, L_dense those without routed experts, each f the operator's cited fixed time
    (`operator_value`, no layout; an operator with none adds nothing). A small kernel runs this
    long however little data it moves (a reduction, the ramp of its thread blocks); the
    bytes it moves are priced by `activation_traffic` beside it. The figures are
    measured on RMSNorm, the in-place residual add, SwiGLU's SiLU-and-multiply and PyTorch's
    decode attention (one query over the cache), and applied to those slots of every
    transformer; a decode step's attention is priced by its bytes as well, so its floor is
    charged once, in decode steps only (a prefill's attention kernel runs far longer).
    Memoised per (model, accelerator at a precision, decode) in their catalog.

    References
    ----------
    Williams, Waterman and Patterson 2009, "Roofline", CACM 52(4) (the roof bounds a kernel from
    below; a small kernel's fixed costs add to it).
    """
    memo = h.catalog.derived("operator_floors")
    key = (m.ref, h.record._data["id"], h.precision, decode)
    hit = memo.get(key)
    if hit is not None:
        return hit
    counts = {NORM: 2.0 * m.layers + 1.0, RESIDUAL_ADD: 2.0 * m.layers, GATED_ACTIVATION: m.layers - m.moe_layers}
    if decode:
        counts = {DECODE_ATTENTION: m.layers}
    lineage, seconds = Lineage(), 0.0
    for operator, count in counts.items():
        value = operator_value(h, OPERATOR_FIXED_TIME, operator) if count else None
        if value is not None:
            seconds += count * lineage.use(value)
    result = FixedOverhead(seconds, lineage) if seconds else _NO_OVERHEAD
    inputs.remember(memo, key, result)
    return result


def applicable_assumption(hw: Record, kernel: str, **wanted: str) -> Value | None:
    """The first assumption (by record id) with qualifier `kernel: <kernel>`, and each other
    qualifier of `wanted` as given, that applies to accelerator `hw` (`applies_to`), else
    None: a fixed time measured for that accelerator (its kernel launch, its per-kernel time
    in a CUDA graph, its host's dispatch time per operator)."""
    return next((v for v in _qualified_assumptions(hw._catalog, "kernel")
                 if v.qualifiers["kernel"] == kernel and all(v.qualifiers.get(k) == x for k, x in wanted.items())
                 and applies_to(v, hw)), None)


def graph_launch_value(hw: Record) -> Value | None:
    """The cited time per kernel of a CUDA-graph replay that applies to accelerator `hw`
    (qualifier `kernel: graph_launch`), else None."""
    return applicable_assumption(hw, "graph_launch")


def kernel_launch_value(hw: Record) -> Value | None:
    """The cited fixed time per kernel that applies to accelerator `hw`: the null-kernel launch
    overhead (catalog/assumptions/kernel_launch_overhead.yaml) where its qualifiers admit the
    hardware (`applies_to`), else the first assumption record with qualifier `kernel: launch`
    that applies to it (a per-kernel time measured on that accelerator), else None.
    Memoised per accelerator in its catalog."""
    catalog = hw._catalog
    memo = catalog.derived("kernel_launch_value")
    key = hw._data["id"]
    if key in memo:
        return memo[key]
    generic = cited_assumption(catalog, KERNEL_LAUNCH, "the fixed per-kernel overhead")
    if applies_to(generic, hw):
        found: Value | None = generic
    else:
        found = applicable_assumption(hw, "launch")
    memo[key] = found
    return found


def kernel_launches(kernels: float, h: HardwareTerms, cuda_graph: bool = False) -> FixedOverhead:
    """Launch time of `kernels` kernels on `h` [s]: their count x the cited per-kernel time that
    applies to the hardware (`kernel_launch_value`), else zero. With `cuda_graph` (the kernels
    replayed as one CUDA graph, no launch from the host each) the count x the cited time per
    kernel of a graph replay (`graph_launch_value`), else zero and said so."""
    if not kernels:
        return _NO_OVERHEAD
    if cuda_graph:
        graphed = graph_launch_value(h.record)
        if graphed is None:
            return FixedOverhead(0.0, Lineage(), "kernel gaps in a CUDA graph: no time per kernel of a CUDA-graph "
                                                 f"replay is cited for {h.record.label} (qualifier kernel: graph_launch)")
        lineage = Lineage()
        return FixedOverhead(kernels * lineage.use(graphed), lineage)
    value = kernel_launch_value(h.record)
    if value is None:
        generic = cited_assumption(h.catalog, KERNEL_LAUNCH, "the fixed per-kernel overhead")
        return FixedOverhead(0.0, Lineage(), f"kernel launches: the cited per-kernel launch time ({KERNEL_LAUNCH}) "
                                             f"is for {_scope(generic)}, and no per-kernel time is cited for "
                                             f"{h.record.label}")
    lineage = Lineage()
    return FixedOverhead(kernels * lineage.use(value), lineage)


def _scope(value: Value) -> str:
    """The accelerators a cited overhead was measured for, in words (its qualifiers)."""
    wanted = value.qualifiers
    listed = _listed(wanted.get("hardware"))
    if listed:
        return ", ".join(sorted(listed))
    return f"{wanted.get('vendor', 'other')} GPUs" + (f" on {wanted['link']}" if wanted.get("link") else "")


def host_dispatch_overhead(m: ModelTerms, h: HardwareTerms, given: Any) -> FixedOverhead:
    """Host time to dispatch one pass of `m` [s]: operators (its counted kernels) x the per-operator
    time `given` (seconds, a cited assumption record or its id; see Engine.solve)."""
    lineage = Lineage()
    if isinstance(given, str):
        given = inputs.record(given, "assumptions", h.catalog, "host_dispatch")
    per_operator = inputs.finite_at_least(inputs.as_si(given, "time", "host_dispatch", lineage, positive=False),
                                          "host_dispatch [s]")
    if not m.kernels:
        raise MlsysimError(f"host_dispatch: {m.name} has no operator count (kernels_per_inference or a described "
                           "transformer), so its host dispatch time cannot be priced; leave host_dispatch out")
    return FixedOverhead(m.kernels * per_operator, lineage)


# The cited tile is measured for one compute precision; bf16 runs the same 16-bit
# tensor-core GEMM kernels as fp16, so it shares the tile. Other formats use their own tile
# records (`<tile record>_<precision>`, e.g. gemm_tile_rows_fp8) where the catalog has
# them; a format with none (int8, ...) gets no wave term.
_SAME_TILES = {"fp16": ("fp16", "bf16")}
# Suffixes of the tile records a precision may read, most specific first: its own
# (`_fp8`), then its family's (`_16bit`, e.g. a tile scoped to Hopper's 16-bit GEMMs); the
# unsuffixed default comes last.
_TILE_SUFFIXES = {"fp16": ("fp16", "16bit"), "bf16": ("bf16", "16bit")}


def wave_quantization(m: ModelTerms, h: HardwareTerms, tp: int = 1) -> WaveQuantization:
    """The GEMM tile- and wave-quantization term of model `m` on accelerator `h` with its weight GEMMs
    split over `tp` GPUs (tensor parallelism) (column-split GEMMs keep N / tp output columns per
    GPU, row-split ones the full N), from the accelerator's cited SM count (`compute_units`)
    and the cited tile that applies to it (`gemm_tile_values`). Not applied (slowdown 1,
    nothing in the lineage, `reason` says why) when the model has no described GEMMs, the
    record has no compute_units, the cited tile is for another vendor or precision. Memoised
    per (model, hardware at a precision, tensor parallelism) in their catalog, so a solve
    pays one dictionary lookup."""
    memo = h.catalog.derived("wave_quantization")
    key = (m.ref, h.record._data["id"], h.precision, tp)
    result = memo.get(key)
    if result is None:
        result = memo[key] = _read_waves(m, h, tp)
    return result


def _read_waves(m: ModelTerms, h: HardwareTerms, tp: int) -> WaveQuantization:
    if not m.gemms:
        return _no_waves(f"{m.name} has no described weight GEMMs (no transformer architecture)")
    widths = [n / tp if split == "columns" else n for n, _, split in m.gemms]  # output columns on this GPU
    return _tiled_waves(h, widths, [share for _, share, _ in m.gemms])


def single_gemm_waves(h: HardwareTerms, columns: float) -> WaveQuantization:
    """The tile- and wave-quantization term of one GEMM with `columns` output columns [1] on
    accelerator `h`, from the same cited SM count and tile as `wave_quantization` (not
    applied, with `reason`, where those do not apply to `h`). For checking the solver's GEMM
    pricing against measured kernels one shape at a time."""
    return _tiled_waves(h, [columns], [1.0])


def _tiled_waves(h: HardwareTerms, widths: list[float], shares: list[float]) -> WaveQuantization:
    """The wave term of GEMMs with output `widths` [columns] carrying `shares` of the pass's
    weight-matmul FLOPs, on `h`'s cited tile (`gemm_tile`); the rest of the FLOPs unmodelled."""
    tile = gemm_tile(h.record, h.precision)
    if isinstance(tile, str):
        return _no_waves(tile)
    wave, tile_rows, tile_columns, lineage = tile
    columns = tuple(float(math.ceil(width / tile_columns)) for width in widths)
    coefficients = tuple(share * tile_columns / width for share, width in zip(shares, widths))
    rest = max(1.0 - sum(shares), 0.0)
    return WaveQuantization(wave, tile_rows, columns, coefficients, rest, lineage)


def gemm_tile(hw: Record, precision: str) -> tuple[float, float, float, Lineage] | str:
    """(wave [tiles], tile rows, tile columns, the cited values used) of accelerator `hw`'s
    GEMMs at `precision`, or why the wave term does not apply."""
    if not hw.has("compute_units"):
        return f"{hw.label} has no compute_units (SM count) in the catalog"
    tile = gemm_tile_values(hw, precision)
    rows_value, columns_value, per_sm_value = tile["rows"], tile["columns"], tile["tiles_per_sm"]
    for value in (rows_value, columns_value, per_sm_value):
        if not applies_to(value, hw):
            return f"the cited GEMM tile is for {_scope(value)}, not {hw.label}"
        if not _tile_serves(value, precision):
            return f"the cited GEMM tile is for {value.qualifiers.get('precision')}, not {precision}"
    lineage = Lineage()
    sms = lineage.use(hw.compute_units)
    tile_rows = lineage.use(rows_value)
    tile_columns = lineage.use(columns_value)
    return sms * lineage.use(per_sm_value), tile_rows, tile_columns, lineage


def _tile_serves(value: Value, precision: str) -> bool:
    """Whether a tile record measured at its `precision` qualifier serves GEMMs at `precision`."""
    tile_precision = value.qualifiers.get("precision")
    return not tile_precision or precision in _SAME_TILES.get(tile_precision, (tile_precision,))


def gemm_tile_values(hw: Record, precision: str) -> dict[str, Value]:
    """The cited GEMM tile `wave_quantization` reads on accelerator `hw` at `precision`:
    "rows", "columns" and "tiles_per_sm", each the most specific record that applies to `hw`
    and serves `precision` (`<record>_<precision>`, then `<record>_<family>`, e.g.
    gemm_tile_rows_16bit for fp16 and bf16), else the default record."""
    needed = "the GEMM wave-quantization term (the hardware record has compute_units)"
    return {part: _tile_assumption(hw, ident, precision, needed)
            for part, ident in (("rows", GEMM_TILE_ROWS), ("columns", GEMM_TILE_COLUMNS),
                                ("tiles_per_sm", GEMM_TILES_PER_SM))}


def _tile_assumption(hw: Record, ident: str, precision: str, needed: str) -> Value:
    """The first tile record `<ident>_<suffix>` (suffixes of `precision`, most specific
    first) in the catalog that applies to `hw` and serves `precision`, else the default
    record `ident` where it serves `precision`; else the first scoped record, whose scope
    then says why no tile applies (e.g. an FP8 tile cited for Hopper only)."""
    catalog = hw._catalog
    scoped = [cited_assumption(catalog, f"{ident}_{suffix}", needed)
              for suffix in _TILE_SUFFIXES.get(precision, (precision,))
              if catalog.lookup("assumptions", f"{ident}_{suffix}") is not None]
    for value in scoped:
        if applies_to(value, hw) and _tile_serves(value, precision):
            return value
    default = cited_assumption(catalog, ident, needed)
    return scoped[0] if scoped and not _tile_serves(default, precision) else default


def allreduce_latency(hw: Record, devices: int) -> FixedOverhead:
    """Fixed latency of one all-reduce over `devices` GPUs [s]. In NCCL's own latency model,
    base latency + 2 (devices - 1) ring steps x the per-step latency of the link
    (catalog/assumptions/nccl_allreduce_base_latency.yaml, nccl_nvlink_step_latency.yaml),
    when those figures apply to the accelerator `hw` (`applies_to`: NVIDIA, NVLink); else
    the measured small-message all-reduce time of a record that applies to `hw` at this
    many ranks (qualifiers `collective_latency: all_reduce` and `ranks`, e.g.
    rccl_allreduce_latency_mi300x_8gpu); else zero. Zero for one device. Memoised per
    (accelerator, devices) in their catalog."""
    if devices <= 1:
        return _NO_OVERHEAD
    catalog = hw._catalog
    memo = catalog.derived("allreduce_latency")
    key = (hw._data["id"], devices)
    result = memo.get(key)
    if result is None:
        result = memo[key] = _read_allreduce_latency(hw, devices)
    return result


def _qualified_assumptions(catalog: Catalog, qualifier: str) -> list[Value]:
    """The quantities of `catalog`'s assumption records that carry `qualifier`, in record-id
    order (the first that applies wins), read once per catalog."""
    memo = catalog.derived("qualified_assumptions")
    found = memo.get(qualifier)
    if found is None:
        found = memo[qualifier] = [r.quantity for r in sorted(catalog.records("assumptions"), key=lambda r: r._data["id"])
                                   if r.has("quantity") and r.quantity.qualifiers.get(qualifier)]
    return found


def _read_allreduce_latency(hw: Record, devices: int) -> FixedOverhead:
    catalog = hw._catalog
    base = cited_assumption(catalog, ALLREDUCE_BASE_LATENCY, "the fixed latency of tensor-parallel all-reduces")
    step = cited_assumption(catalog, ALLREDUCE_STEP_LATENCY, "the fixed latency of tensor-parallel all-reduces")
    lineage = Lineage()
    if applies_to(base, hw) and applies_to(step, hw):
        return FixedOverhead(lineage.use(base) + 2.0 * (devices - 1) * lineage.use(step), lineage)
    measured = next((v for v in _qualified_assumptions(catalog, "collective_latency")
                     if v.qualifiers["collective_latency"] == "all_reduce" and str(v.qualifiers.get("ranks")) == str(devices)
                     and applies_to(v, hw)), None)
    if measured is None:
        return FixedOverhead(0.0, lineage, f"all-reduce latency: NCCL's latency model ({ALLREDUCE_BASE_LATENCY}) is "
                                           f"for {_scope(base)}, and no measured all-reduce time is cited for "
                                           f"{hw.label} at {devices} ranks")
    return FixedOverhead(lineage.use(measured), lineage)


def cited_assumption(catalog: Catalog, ident: str, needed_for: str = "", solver: str = "roofline") -> Value:
    """The cited quantity of assumption `ident` in `catalog` (looked up once per catalog);
    a clear error naming the record to add (and the `solver` that needs it) when the catalog lacks it."""
    memo = catalog.derived("assumptions")
    value = memo.get(ident)
    if value is None:
        try:
            value = memo[ident] = catalog.get("assumptions", ident).quantity
        except NotFoundError:
            why = f" for {needed_for}" if needed_for else ""
            raise MlsysimError(f"the catalog at {catalog.root} has no assumption {ident!r}; the {solver} needs this cited "
                               f"constant{why} (catalog/assumptions/{ident}.yaml in the bundled catalog)") from None
    return value


# How a runtime runs a CNN's operators: "none" launches one kernel per operator (PyTorch
# eager), "tensorrt" fuses batch norm, ReLU and the residual add into the convolution before
# them (TensorRT's documented layer fusions).
FUSIONS = ("none", "tensorrt")
# The hardware field a CNN kernel's working set can stay on chip in (memory.l2_cache).
L2_CACHE = "memory.l2_cache"
# Precisions of the implicit-GEMM convolution kernels whose cited tile is shared (the 16-bit
# formats run the same tensor-core kernels).
_CONV_TILE_PRECISIONS = {"bf16": "fp16"}


@dataclass(frozen=True)
class LayerTerms:
    """A CNN pass priced one kernel at a time (`convolution.layer_roofline_time`): its kernel
    graph under `fusion`, the launch time of those kernels, the convolution tile and wave
    (`wave` 0: no tile or wave quantization, `reason` says why) and the on-chip cache a
    kernel's working set can stay in [B] (`cache` 0: none stated), with the cited values used."""

    graph: KernelGraph
    fusion: str
    launches: FixedOverhead
    tile_rows: float
    tile_columns: float
    wave: float
    # The tile's, the wave's and the cache's cited values (the lines' are in `line_values`).
    tile_lineage: Lineage
    reason: str = ""
    cache: float = 0.0
    # Factor on the compute efficiency [1]: a convolution figure measured over the network at
    # one batch holds that batch's tile and wave losses, which the per-kernel quantization
    # prices again, so the figure is divided by them (the slowdown at that batch); 1 otherwise.
    efficiency_scale: float = 1.0
    # Measured lines of the element-wise operators (`operator_line_values`), by operator, as
    # floats and as the two cited values each rests on.
    lines: dict[str, OperatorLine] = field(default_factory=dict, compare=False)
    line_values: dict[str, tuple[Value, Value]] = field(default_factory=dict, compare=False)
    # Passes already priced, by (batch, peak, bandwidth, efficiencies, bytes per element), so
    # repeated solves of the same setting pay one dictionary lookup.
    _memo: dict[tuple[float, ...], LayerPass] = field(default_factory=dict, repr=False, compare=False)

    def lineage_for(self, operators: Any) -> Lineage:
        """The cited values a pass that runs `operators` rests on: the tile's, the wave's and
        the cache's, and the measured lines of those operators only (a training step runs some
        of the inference operators, `cnn_training`)."""
        out = Lineage()
        out.merge(self.tile_lineage)
        for operator, values in self.line_values.items():
            if operator in operators:
                for value in values:
                    out.use(value)
        return out

    @cached_property
    def lineage(self) -> Lineage:
        """The cited values this graph's pass rests on (`lineage_for` every operator with a line)."""
        return self.lineage_for(self.line_values)

    def pass_at(self, batch: Any, peak: float, bandwidth: float, compute_efficiency: float,
                memory_efficiency: float, bytes_per_element: float) -> LayerPass:
        """`convolution.layer_roofline_time` of this graph for `batch` samples (a number, or a
        numpy array of them for sweeps; only numbers are memoised)."""
        scalar = isinstance(batch, (int, float))
        key = (batch, peak, bandwidth, compute_efficiency, memory_efficiency, bytes_per_element) if scalar else None
        hit = self._memo.get(key) if scalar else None
        if hit is None:
            hit = layer_roofline_time(self.graph, batch, peak, bandwidth, compute_efficiency * self.efficiency_scale,
                                      memory_efficiency, bytes_per_element, self.tile_rows, self.tile_columns,
                                      self.wave, self.cache, self.lines)
            if scalar and len(self._memo) < inputs.MEMO_LIMIT:
                self._memo[key] = hit
        return hit


def layer_terms(m: ModelTerms, h: HardwareTerms, efficiencies: KernelEfficiencies,
                fusion: str | None = None, cuda_graph: bool = False, layout: str | None = None) -> LayerTerms | None:
    """The per-kernel terms of CNN `m` on `h` (None for a model without a described layer
    structure; `fusion` other than "none" on such a model is an error). The convolutions' tile
    and wave quantization uses the cited implicit-GEMM convolution tile
    (catalog/assumptions/conv_tile_rows.yaml, conv_tile_columns.yaml), one tile per SM per wave
    (gemm_tiles_per_sm_wave.yaml) and the accelerator's SM count (`compute_units`); it is not
    applied where the record has no SM count, the tile is cited for another vendor or
    precision, or the compute efficiency is a convolution figure scoped to this accelerator
    measured over a whole network's convolutions at a batch it does not state (their tile and
    wave losses are in it). A figure that states its batch B0 holds the losses at B0, so it is
    divided by that batch's slowdown S(B0) (`LayerTerms.efficiency_scale`; capped so the
    efficiency stays at most 1) and the quantization is priced at every batch: the figure is
    reproduced at B0 and the tile and wave losses follow the batch elsewhere. The kernels'
    activations stay on chip where their working set fits in the accelerator's L2
    (`memory.l2_cache`; all traffic goes to device memory where the record states none). The
    kernels' launches are priced by `kernel_launches` (`cuda_graph`: as one replayed graph).
    In the unfused graph, a batch norm, ReLU or residual add whose time on this accelerator,
    precision and `layout` is cited as a measured line (`operator_line_values`) is priced on it.
    Memoised per (model, hardware at a precision, fusion, efficiencies, graph, layout) in the catalog."""
    fusion = "none" if fusion is None else str(fusion).lower()
    if fusion not in FUSIONS:
        raise MlsysimError(f"fusion: {fusion!r} is not one of {', '.join(FUSIONS)}")
    if m.resnet is None:
        if fusion != "none":
            raise MlsysimError(f"fusion: {m.name} has no described layer structure (a 'resnet:' block), "
                               "so there is no operator graph to fuse; leave fusion out")
        return None
    memo = h.catalog.derived("layer_terms")
    # The scale depends on the figure itself (its cap), so a second layout's figure is its own entry.
    key = (m.ref, h.record._data["id"], h.precision, fusion, efficiencies.gemm_specific, efficiencies.measured_batch,
           efficiencies.gemm if efficiencies.gemm_specific else None, cuda_graph, layout)
    hit = memo.get(key)
    if hit is not None:
        return hit
    graph = resnet_graph(m.resnet, fused=fusion == "tensorrt")
    launches = kernel_launches(graph.kernels, h, cuda_graph)
    rows, columns, wave, lineage, reason = _conv_tile(h, efficiencies)
    cache = lineage.use(h.record.field(L2_CACHE)) if h.record.has(L2_CACHE) else 0.0
    scale = 1.0
    if wave and efficiencies.gemm_specific:
        at_measured = layer_roofline_time(graph, efficiencies.measured_batch, 1.0, 1.0, 1.0, 1.0, 1.0, rows, columns,
                                          wave, cache)
        scale = min(at_measured.slowdown, 1.0 / efficiencies.gemm)
    lines, line_values = {}, {}
    if fusion == "none":
        for operator in ELEMENTWISE_OPERATORS:
            found = operator_line_values(h, operator, layout)
            if found is not None:
                lines[operator] = OperatorLine(found[0].si, found[1].si)
                line_values[operator] = found
    result = LayerTerms(graph, fusion, launches, rows, columns, wave, lineage, reason, cache, scale, lines, line_values)
    inputs.remember(memo, key, result)
    return result


# The `kernel` qualifiers of an element-wise operator's measured line: its fixed run time and the
# fraction of the memory bandwidth its bytes move at.
OPERATOR_FIXED_TIME, OPERATOR_MEMORY = "operator_fixed_time", "operator_memory"


def operator_line_values(h: HardwareTerms, operator: str, layout: str | None = None) -> tuple[Value, Value] | None:
    """The measured line of element-wise `operator` (one of ELEMENTWISE_OPERATORS) on
    accelerator terms `h`: its fixed run time and bandwidth fraction (`operator_value`) in
    `layout` (None: the default, CONV_LAYOUTS[0]); None unless both are cited."""
    layout = layout or CONV_LAYOUTS[0]
    fixed, memory = (operator_value(h, kernel, operator, layout) for kernel in (OPERATOR_FIXED_TIME, OPERATOR_MEMORY))
    return None if fixed is None or memory is None else (fixed, memory)


def _conv_tile(h: HardwareTerms, efficiencies: KernelEfficiencies) -> tuple[float, float, float, Lineage, str]:
    """The convolution tile (rows, columns), its wave (0: no tile or wave quantization), the
    cited values used and, when the term does not apply, why."""
    def untiled(reason: str) -> tuple[float, float, float, Lineage, str]:
        return 1.0, 1.0, 0.0, Lineage(), reason

    hw = h.record
    if efficiencies.gemm_specific and not efficiencies.measured_batch:
        return untiled("the cited convolution efficiency for this accelerator is measured over a whole network's "
                       "convolutions at an unstated batch, so their tile and wave losses are already in it")
    if not hw.has("compute_units"):
        return untiled(f"{hw.label} has no compute_units (SM count) in the catalog")
    catalog = hw._catalog
    needed = "the convolution wave-quantization term (the hardware record has compute_units)"
    rows = cited_assumption(catalog, CONV_TILE_ROWS, needed)
    columns = cited_assumption(catalog, CONV_TILE_COLUMNS, needed)
    per_sm = cited_assumption(catalog, GEMM_TILES_PER_SM, needed)
    precision = _CONV_TILE_PRECISIONS.get(h.precision, h.precision)
    for value in (rows, columns):
        if not applies_to(value, hw):
            return untiled(f"the cited convolution tile is for {_scope(value)}, not {hw.label}")
        if precision not in _listed(value.qualifiers.get("precisions")):
            return untiled(f"the cited convolution tile is for {value.qualifiers.get('precisions')}, not {h.precision}")
    if not applies_to(per_sm, hw):
        return untiled(f"the cited tiles per SM are for {_scope(per_sm)}, not {hw.label}")
    lineage = Lineage()
    wave = lineage.use(hw.compute_units) * lineage.use(per_sm)
    return lineage.use(rows), lineage.use(columns), wave, lineage, ""
