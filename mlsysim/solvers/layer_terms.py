"""A CNN's passes lowered into float terms one kernel at a time: the kernel graph under a
runtime's fusion, each convolution's tile and wave, the measured line of each element-wise
operator, the on-chip cache activations can stay in, and the launches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Value
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.convolution import (
    ELEMENTWISE_OPERATORS,
    KernelGraph,
    LayerPass,
    OperatorLine,
    layer_roofline_time,
    resnet_graph,
)
from mlsysim.solvers.gemm_waves import CONV_TILE_COLUMNS, CONV_TILE_ROWS, GEMM_TILES_PER_SM
from mlsysim.solvers.kernel_efficiency import CONV_LAYOUTS, KernelEfficiencies
from mlsysim.solvers.pass_overheads import (
    L2_CACHE,
    OPERATOR_FIXED_TIME,
    OPERATOR_MEMORY,
    kernel_launches,
    operator_value,
)
from mlsysim.solvers.terms import (
    FixedOverhead,
    HardwareTerms,
    ModelTerms,
    applies_to,
    cited_assumption,
    comma_separated,
    measured_for,
)


# How a runtime runs a CNN's operators: "none" launches one kernel per operator (PyTorch
# eager), "tensorrt" fuses batch norm, ReLU and the residual add into the convolution before
# them (TensorRT's documented layer fusions).
FUSIONS = ("none", "tensorrt")
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
    kernels' launches are priced by `pass_overheads.kernel_launches` (`cuda_graph`: as one replayed graph).
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


def operator_line_values(h: HardwareTerms, operator: str, layout: str | None = None) -> tuple[Value, Value] | None:
    """The measured line of element-wise `operator` (one of ELEMENTWISE_OPERATORS) on
    accelerator terms `h`: its fixed run time and bandwidth fraction (`pass_overheads.operator_value`) in
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
            return untiled(f"the cited convolution tile is for {measured_for(value)}, not {hw.label}")
        if precision not in comma_separated(value.qualifiers.get("precisions")):
            return untiled(f"the cited convolution tile is for {value.qualifiers.get('precisions')}, not {h.precision}")
    if not applies_to(per_sm, hw):
        return untiled(f"the cited tiles per SM are for {measured_for(per_sm)}, not {hw.label}")
    lineage = Lineage()
    wave = lineage.use(hw.compute_units) * lineage.use(per_sm)
    return lineage.use(rows), lineage.use(columns), wave, lineage, ""
