"""Which cited efficiency prices each kernel class of a pass: the figures of weight GEMMs,
fused attention (by implementation), memory-bound element-wise work and convolutions (by tensor
layout), a mixture of experts' grouped GEMMs and attention's backward pass, each scoped to an
accelerator and precision by its record's qualifiers, with the generic cited figures where
none is scoped. Read once per catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mlsysim.catalog import Catalog
from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.terms import (
    COMPUTE_EFFICIENCY,
    HardwareTerms,
    MEMORY_EFFICIENCY,
    ModelTerms,
    cited_assumption,
    comma_separated,
    compute_efficiency,
)


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
        """The weight-GEMM efficiency [1], under the name `terms.Efficiencies` uses for compute."""
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
            for hw_id in comma_separated(wanted.get("hardware")):
                for precision in comma_separated(wanted.get("precisions")):
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
    one), replaces both compute efficiencies, as in `terms.efficiencies`. The cited case is
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
    efficiency (`terms.compute_efficiency`), the same figure for both compute classes, except that a
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
