"""Kernel-class efficiencies: the fractions of peak (and the fixed costs) the solvers use,
read from the cited assumption records in catalog/assumptions/, each with its citation.

The solvers turn a peak into an achieved rate with one cited figure per kind of kernel:

==================  ===========================================  ==========================================
kernel class        assumption record(s)                         used by
==================  ===========================================  ==========================================
dense_gemm          gemm_compute_efficiency (x GEMM shape,       DistributedModel (first-principles mode;
                    gemm_tile_rows/_columns/_tiles_per_sm_wave;  per-accelerator gemm_efficiency_* first);
                    per-accelerator gemm_efficiency_* first)     the tile term in Engine and ServingModel
prefill             prefill_compute_efficiency                   Engine.solve, ServingModel prefill, sweeps
                    (per-accelerator gemm_efficiency_* first)    (kernel_efficiency.kernel_efficiencies)
attention_prefill   prefill_compute_efficiency                   the same solvers
                    (attention_efficiency_* first)
decode              decode_memory_bandwidth_efficiency           Engine.solve, ServingModel decode, sweeps
                    (per-accelerator memory_efficiency_* first)
attention_decode    decode_memory_bandwidth_efficiency           (KV-cache reads stream like weights)
memory_bound        decode_memory_bandwidth_efficiency           (element-wise work: bytes / bandwidth)
collective          nccl_allreduce_base_latency,                 ServingModel tensor-parallel all-reduces
                    nccl_nvlink_step_latency
kernel_launch       kernel_launch_overhead (NVIDIA GPUs;         Engine.solve, ServingModel, sweeps
                    elsewhere a `kernel: launch` record naming
                    the accelerator: pass_overheads.kernel_launch_value)
==================  ===========================================  ==========================================

`EfficiencyModel` (the reference simulator's name, PyPI mlsysim 0.3.0) returns these values
with their citations; it computes nothing the solvers do not. Where the catalog cites no figure
(a collective's achieved share of link bandwidth), it says so instead of inventing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import Catalog, inputs
from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.gemm_waves import gemm_tile
from mlsysim.solvers.link_terms import ALLREDUCE_BASE_LATENCY, ALLREDUCE_STEP_LATENCY
from mlsysim.solvers.pass_overheads import kernel_launch_value
from mlsysim.solvers.terms import COMPUTE_EFFICIENCY, KERNEL_LAUNCH, MEMORY_EFFICIENCY, applies_to, cited_assumption

# The training solver's dense-GEMM kernel efficiency (mlsysim/solvers/training_terms.py reads the same id).
GEMM_EFFICIENCY = "gemm_compute_efficiency"

# kernel class -> (assumption ids, what the value is a fraction or time of, solvers that use it)
KERNEL_CLASSES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "dense_gemm": ((GEMM_EFFICIENCY,), "fraction of the dense peak at the precision",
                   "DistributedModel (first-principles mode); EfficiencyModel.gemm adds the tile term Engine and ServingModel apply"),
    "prefill": ((COMPUTE_EFFICIENCY,), "fraction of the dense peak at the precision",
                "Engine.solve, Engine.sweep and ServingModel where no record is scoped to the accelerator and "
                "precision (kernel_efficiency.kernel_efficiencies; always for a model with a per-inference FLOP "
                "count); "
                "SynthesisSolver, CompressionModel"),
    "attention_prefill": ((COMPUTE_EFFICIENCY,), "fraction of the dense peak at the precision",
                          "Engine.solve and ServingModel prefill where no attention_efficiency_* record is scoped to "
                          "the accelerator and precision (kernel_efficiency.kernel_efficiencies)"),
    "decode": ((MEMORY_EFFICIENCY,), "fraction of the peak memory bandwidth",
               "Engine.solve, ServingModel (decode), Engine.sweep, SynthesisSolver, CompressionModel"),
    "attention_decode": ((MEMORY_EFFICIENCY,), "fraction of the peak memory bandwidth",
                         "ServingModel decode: KV-cache reads stream at the same share of bandwidth as weights"),
    "memory_bound": ((MEMORY_EFFICIENCY,), "fraction of the peak memory bandwidth",
                     "Engine.solve and ServingModel: every byte moved (weights, KV cache, activations)"),
    "collective": ((ALLREDUCE_BASE_LATENCY, ALLREDUCE_STEP_LATENCY), "fixed time of one ring all-reduce [s]",
                   "ServingModel: tensor-parallel all-reduces (NVIDIA GPUs over NVLink)"),
    "kernel_launch": ((KERNEL_LAUNCH,), "fixed time per kernel [s]",
                      "Engine.solve, ServingModel, Engine.sweep (NVIDIA GPUs, and accelerators with a per-kernel time "
                      "of their own: pass_overheads.kernel_launch_value)"),
}
_FRACTIONS = ("dense_gemm", "prefill", "attention_prefill", "decode", "attention_decode", "memory_bound")


def gemm_shape_utilization(rows: Any, columns: Any, compute_units: float, tile_rows: float,
                           tile_columns: float, tiles_per_unit: float) -> Any:
    """Useful fraction of the tile work of one GEMM with a rows x columns output [1], in (0, 1].

    The output is cut into T = ceil(rows / tile_rows) x ceil(columns / tile_columns)
    thread-block tiles; wave = compute_units x tiles_per_unit tiles run at once, so the GEMM
    runs W = ceil(T / wave) waves, each as long as one full tile (a partial tile does a full
    tile's math). A GEMM with fewer rows than a tile is charged only its own rows,
    R = min(rows, tile_rows). Utilization = rows x columns / (W x wave x R x tile_columns);
    the GEMM's time is its ideal time divided by it. Works element-wise on numpy arrays.

    Parameters
    ----------
    rows, columns : output rows M (tokens of the pass) and columns N [1].
    compute_units : streaming multiprocessors (or compute units) of the GPU [1].
    tile_rows, tile_columns : thread-block tile [1].
    tiles_per_unit : tiles one SM runs at once [1].

    References
    ----------
    NVIDIA, "Matrix Multiplication Background User's Guide", DU-09799-001 (Section 3.1, tile
    quantization; Section 3.2, wave quantization: 1792 x 1792 with 256 x 128 tiles on the
    A100's 108 SMs is 98 tiles, one wave).
    """
    import numpy as np

    rows = np.asarray(rows, dtype=float)
    columns = np.asarray(columns, dtype=float)
    tiles = np.ceil(rows / tile_rows) * np.ceil(columns / tile_columns)
    wave = compute_units * tiles_per_unit
    waves = np.ceil(tiles / wave)
    utilization = rows * columns / (waves * wave * np.minimum(rows, tile_rows) * tile_columns)
    return float(utilization) if utilization.ndim == 0 else utilization


def collective_latency(base: float, step: float, devices: int) -> float:
    """Fixed time of one ring all-reduce over `devices` ranks [s] in NCCL's latency model:
    base + 2 (devices - 1) x step (2 (p - 1) ring steps); zero for one device.

    References
    ----------
    NVIDIA NCCL, src/graph/tuning.cc (baseLat, hwLat; nsteps = 2 * (nRanks - 1)).
    """
    if devices <= 1:
        return 0.0
    return base + 2.0 * (devices - 1) * step


def _citation(value: Value) -> dict[str, Any]:
    source = value.source
    return {"path": value.path, "value": value.value, "unit": value.unit, "si_value": value.si,
            "method": value.method, "source_id": value.source_id, "source_title": source.get("title", value.source_id),
            "url": source.get("url", ""), "locator": value.locator or "", "as_stated": value.as_stated or "",
            "qualifiers": value.qualifiers}


@dataclass
class KernelEfficiency:
    """One kernel class's figure as the solvers use it.

    value : the fraction of peak [1] (efficiency classes) or the fixed time [s] (collective,
        kernel_launch); None when the catalog cites no figure for it (`note` says so).
    of : what `value` is a fraction or a time of.
    applies : False when the cited figure's qualifiers (vendor, link, precision) exclude
        the hardware asked about, so the solvers leave that term out for it.
    citations : every cited value `value` rests on (path, value, unit, source, url,
        locator, as_stated, qualifiers), in the order used.
    """

    kernel_class: str
    value: float | None
    of: str
    used_by: str
    applies: bool = True
    note: str = ""
    factors: dict[str, float] = field(default_factory=dict)
    lineage: Lineage = field(default_factory=Lineage, repr=False)

    @property
    def citations(self) -> list[dict[str, Any]]:
        return [_citation(v) for v in self.lineage._used.values()]

    def to_dict(self) -> dict[str, Any]:
        return {"kernel_class": self.kernel_class, "value": self.value, "of": self.of, "used_by": self.used_by,
                "applies": self.applies, "note": self.note, "factors": dict(self.factors),
                "citations": self.citations, "catalog": self.lineage.catalog}


@dataclass
class EfficiencyTable:
    """Every kernel class's KernelEfficiency for one accelerator (or none) and precision."""

    hardware: str | None
    precision: str
    classes: dict[str, KernelEfficiency]

    def __getitem__(self, kernel_class: str) -> KernelEfficiency:
        return self.classes[kernel_class]

    def to_dict(self) -> dict[str, Any]:
        return {"hardware": self.hardware, "precision": self.precision,
                "classes": {name: k.to_dict() for name, k in self.classes.items()}}


class EfficiencyModel:
    """The kernel-class efficiencies the solvers use, each with its citation.

    `solve(hardware, precision=, devices=)` returns all classes (see KERNEL_CLASSES);
    `get(kernel_class, ...)` one of them; `gemm(hardware, rows, columns, precision=)` the
    efficiency of one dense GEMM of that shape: the cited kernel efficiency x the GEMM's tile
    and wave utilization on that GPU (`gemm_shape_utilization`), the same two factors the
    solvers apply.
    """

    def solve(self, hardware: Record | str | None = None, *, precision: str = "fp16", devices: int = 2,
              catalog: Catalog | None = None) -> EfficiencyTable:
        """Every kernel class for `hardware` (optional: without it, `applies` is not judged)
        at `precision`; `devices` ranks for the collective's fixed latency."""
        catalog = inputs.catalog_of(hardware, catalog=catalog)
        hw = inputs.record(hardware, "hardware", catalog, "hardware")
        classes = {name: self.get(name, hw, precision=precision, devices=devices, catalog=catalog) for name in KERNEL_CLASSES}
        return EfficiencyTable(hw.label if hw is not None else None, precision, classes)

    def get(self, kernel_class: str, hardware: Record | str | None = None, *, precision: str = "fp16",
            devices: int = 2, catalog: Catalog | None = None) -> KernelEfficiency:
        """One kernel class's cited figure (see the module's table)."""
        if kernel_class not in KERNEL_CLASSES:
            raise MlsysimError(f"unknown kernel class {kernel_class!r}; choose one of {', '.join(KERNEL_CLASSES)}")
        catalog = inputs.catalog_of(hardware, catalog=catalog)
        hw = inputs.record(hardware, "hardware", catalog, "hardware")
        ids, of, used_by = KERNEL_CLASSES[kernel_class]
        values = [cited_assumption(catalog, ident, f"the {kernel_class} kernel class", "efficiency model") for ident in ids]
        if kernel_class == "kernel_launch" and hw is not None:
            # The per-kernel time measured on this accelerator where NVIDIA's null-kernel figure does not apply.
            values = [kernel_launch_value(hw) or values[0]]
        lineage = Lineage()
        applies = hw is None or all(applies_to(v, hw) for v in values)
        if kernel_class == "collective":
            ranks = inputs.positive_int(devices, "devices")
            base, step = (lineage.use(v) for v in values)
            note = ("NCCL's latency model for an LL-protocol ring; the achieved share of link bandwidth for collectives "
                    "has no cited figure in the catalog, so the solvers divide bytes by the link's stated bandwidth")
            return KernelEfficiency(kernel_class, collective_latency(base, step, ranks), of, used_by, applies, note,
                                    {"devices": float(ranks)}, lineage)
        value = lineage.use(values[0])
        note = "" if applies else f"the cited figure's qualifiers {values[0].qualifiers} exclude {hw.label}; the solvers leave it out"
        return KernelEfficiency(kernel_class, value, of, used_by, applies, note, {}, lineage)

    def gemm(self, hardware: Record | str, rows: float, columns: float, *, precision: str = "fp16",
             catalog: Catalog | None = None) -> KernelEfficiency:
        """Efficiency of one dense GEMM with a rows x columns output on `hardware` at `precision`:
        gemm_compute_efficiency x gemm_shape_utilization. The shape factor applies where the
        solvers apply it, with the tile they read (`gemm_waves.gemm_tile`: the most specific cited
        tile for this accelerator and precision; fp16 tiles also serve bf16); otherwise it is 1
        and `note` says why.
        The cited kernel efficiency itself states no precision; it is used at every precision."""
        catalog = inputs.catalog_of(hardware, catalog=catalog)
        hw = inputs.record(hardware, "hardware", catalog, "hardware")
        if hw is None:
            raise MlsysimError("gemm() needs a hardware record (its SM count sets the wave size)")
        m = inputs.finite_positive(rows, "rows")
        n = inputs.finite_positive(columns, "columns")
        kernel = self.get("dense_gemm", hw, precision=precision, catalog=catalog)
        lineage = kernel.lineage
        tile = gemm_tile(hw, precision)  # the tile the solvers' wave term reads, or why none applies
        reason = tile if isinstance(tile, str) else ""
        if reason:
            shape = 1.0
        else:
            wave, tile_rows, tile_columns, cited = tile
            lineage.merge(cited)
            shape = gemm_shape_utilization(m, n, wave, tile_rows, tile_columns, 1.0)  # wave = SMs x tiles per SM
        factors = {"kernel": kernel.value, "shape": shape, "rows": m, "columns": n}
        return KernelEfficiency("dense_gemm", kernel.value * shape, kernel.of, kernel.used_by, True,
                                reason and f"no shape term: {reason}", factors, lineage)


__all__ = ["EfficiencyModel", "EfficiencyTable", "KernelEfficiency", "KERNEL_CLASSES", "gemm_shape_utilization",
           "collective_latency"]
