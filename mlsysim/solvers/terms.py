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

This module reads the model and accelerator records, the generic efficiencies and the cited
assumptions every reader shares. The other readers build on it: `kernel_efficiency` (which
cited figure prices each kernel class), `pass_overheads` (launches, operator floors, host
dispatch, input casts, activation traffic), `link_terms` (collective efficiencies and
all-reduce latency), `gemm_waves` (tile and wave quantization) and `layer_terms` (a CNN's
passes one kernel at a time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import Catalog
from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError, NotFoundError
from mlsysim.lineage import Lineage
from mlsysim.solvers.convolution import ResNetShape, resnet_graph
from mlsysim.solvers.roofline import activation_bytes, check_precision
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


NO_OVERHEAD = FixedOverhead(0.0, Lineage())


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


def comma_separated(text: Any) -> list[str]:
    return [part.strip() for part in str(text or "").split(",") if part.strip()]


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
    listed = comma_separated(wanted.get("hardware"))
    if listed and hw._data["id"] not in listed:
        return False
    link = wanted.get("link")
    return not link or str(link).lower() in str(hw.get("interconnect.name", "")).lower()


def applicable_assumption(hw: Record, kernel: str, **wanted: str) -> Value | None:
    """The first assumption (by record id) with qualifier `kernel: <kernel>`, and each other
    qualifier of `wanted` as given, that applies to accelerator `hw` (`applies_to`), else
    None: a fixed time measured for that accelerator (its kernel launch, its per-kernel time
    in a CUDA graph, its host's dispatch time per operator)."""
    return next((v for v in qualified_assumptions(hw._catalog, "kernel")
                 if v.qualifiers["kernel"] == kernel and all(v.qualifiers.get(k) == x for k, x in wanted.items())
                 and applies_to(v, hw)), None)


def measured_for(value: Value) -> str:
    """The accelerators a cited overhead was measured for, in words (its qualifiers)."""
    wanted = value.qualifiers
    listed = comma_separated(wanted.get("hardware"))
    if listed:
        return ", ".join(sorted(listed))
    return f"{wanted.get('vendor', 'other')} GPUs" + (f" on {wanted['link']}" if wanted.get("link") else "")


def qualified_assumptions(catalog: Catalog, qualifier: str) -> list[Value]:
    """The quantities of `catalog`'s assumption records that carry `qualifier`, in record-id
    order (the first that applies wins), read once per catalog."""
    memo = catalog.derived("qualified_assumptions")
    found = memo.get(qualifier)
    if found is None:
        found = memo[qualifier] = [r.quantity for r in sorted(catalog.records("assumptions"), key=lambda r: r._data["id"])
                                   if r.has("quantity") and r.quantity.qualifiers.get(qualifier)]
    return found


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
