"""The costs a pass pays beside its FLOPs and weight bytes, read from cited records once:
kernel launches (or a CUDA graph's replay), the fixed time of each element-wise operator, an
eager front end's host dispatch per operator, the cast of 16-bit GEMM inputs to a narrower
format, and the activation traffic between kernels (kept in the L2 where it fits).
"""

from __future__ import annotations

from typing import Any

from mlsysim.catalog import Catalog
from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT, spill_table
from mlsysim.solvers.terms import (
    ACTIVATION_BYTES,
    ActivationTraffic,
    FixedOverhead,
    HardwareTerms,
    KERNEL_LAUNCH,
    ModelTerms,
    NO_ACTIVATION_TRAFFIC,
    NO_OVERHEAD,
    PerTokenCost,
    applicable_assumption,
    applies_to,
    cited_assumption,
    comma_separated,
    measured_for,
    qualified_assumptions,
)


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
    fp8_cast` that applies to the hardware, `terms.applies_to`). The attention output and MLP
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
    figure applies to the hardware (`terms.applies_to`); else zero, and nothing in the lineage.
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
    and applying to accelerator terms `h` (`terms.applies_to`); else None. `kernel` is
    OPERATOR_FIXED_TIME (a fixed run time) or OPERATOR_MEMORY (a bandwidth fraction)."""
    return next((v for v in qualified_assumptions(h.catalog, "operator")
                 if v.qualifiers.get("kernel") == kernel and v.qualifiers["operator"] == operator
                 and v.qualifiers.get("layout") in (None, layout)
                 and h.precision in comma_separated(v.qualifiers.get("precisions")) and applies_to(v, h.record)), None)


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
    result = FixedOverhead(seconds, lineage) if seconds else NO_OVERHEAD
    inputs.remember(memo, key, result)
    return result


def graph_launch_value(hw: Record) -> Value | None:
    """The cited time per kernel of a CUDA-graph replay that applies to accelerator `hw`
    (qualifier `kernel: graph_launch`), else None."""
    return applicable_assumption(hw, "graph_launch")


def kernel_launch_value(hw: Record) -> Value | None:
    """The cited fixed time per kernel that applies to accelerator `hw`: the null-kernel launch
    overhead (catalog/assumptions/kernel_launch_overhead.yaml) where its qualifiers admit the
    hardware (`terms.applies_to`), else the first assumption record with qualifier `kernel: launch`
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
        return NO_OVERHEAD
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
                                             f"is for {measured_for(generic)}, and no per-kernel time is cited for "
                                             f"{h.record.label}")
    lineage = Lineage()
    return FixedOverhead(kernels * lineage.use(value), lineage)


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


# The hardware field a CNN kernel's working set can stay on chip in (memory.l2_cache).
L2_CACHE = "memory.l2_cache"
# The `kernel` qualifiers of an element-wise operator's measured line: its fixed run time and the
# fraction of the memory bandwidth its bytes move at.
OPERATOR_FIXED_TIME, OPERATOR_MEMORY = "operator_fixed_time", "operator_memory"
