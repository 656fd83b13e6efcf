"""Vectorised sweeps of Engine.solve over hardware x precision x batch size x sequence length.

Each (hardware, precision) pair is one numpy evaluation of the same `pass_cost` and
roofline arithmetic Engine.solve uses, over the whole batch x sequence-length grid,
so every row equals the scalar solve for the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.gemm_waves import wave_quantization
from mlsysim.solvers.kernel_efficiency import pass_efficiencies, routed_gemm_share
from mlsysim.solvers.layer_terms import layer_terms
from mlsysim.solvers.pass_overheads import activation_traffic, host_dispatch_overhead, input_cast, launch_overhead
from mlsysim.solvers.roofline import (
    BYTES_PER_ELEMENT,
    gemm_bytes,
    gemm_flops,
    kernel_compute_time,
    kernel_roofline_time,
    pass_cost,
    weight_gemm_stretch,
)
from mlsysim.solvers.terms import PrecisionUnavailable, hardware_terms, model_terms

NUMERIC_COLUMNS = ("batch_size", "seq_len", "latency", "latency_compute", "latency_memory", "latency_overhead",
                   "latency_host", "latency_quantization", "latency_elementwise", "throughput",
                   "arithmetic_intensity", "mfu", "mbu", "memory_usage", "memory_capacity", "flops", "bytes_moved",
                   "gemm_utilization")


@dataclass
class SweepTable:
    """Columns of equal-length numpy arrays (SI units: s, 1/s, FLOP/B, B, FLOP);
    `hardware`, `precision` and `bottleneck` are arrays of str, `feasible` of bool.
    `skipped` lists (hardware, precision, reason) pairs the catalog has no peak for."""

    columns: dict[str, Any]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    lineage: Lineage = field(default_factory=Lineage, repr=False)

    def __len__(self) -> int:
        return len(self.columns["latency"])

    def __getitem__(self, name: str) -> Any:
        return self.columns[name]

    def rows(self) -> list[dict[str, Any]]:
        """The table as plain dicts of Python scalars (no pandas needed)."""
        names = list(self.columns)
        lists = [self.columns[n].tolist() for n in names]
        return [dict(zip(names, values)) for values in zip(*lists)]


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (str, Record)) or value is None or not isinstance(value, Iterable):
        return [value]
    return list(value)


def sweep(model: Record | str, hardware: Any, batch_sizes: Any = (1,), precisions: Any = ("fp16",),
          seq_lens: Any = (None,), efficiency: float | None = None, host_dispatch: Any = None,
          fusion: str | None = None, cuda_graph: bool = False, layout: str | None = None) -> SweepTable:
    """Engine.solve for every combination, vectorised.

    Parameters: as Engine.solve, each given as a list (a single value is a list of one);
    `efficiency`, `host_dispatch`, `fusion`, `cuda_graph` and `layout` are one value for the
    whole sweep.
    A (hardware, precision) pair whose peak the catalog lacks is not computed with
    another precision's peak: it is left out and listed in `SweepTable.skipped`
    (an empty table with every pair skipped is an error).
    """
    import numpy as np  # numpy only for sweeps: a plain solve never imports it

    hardware_list = _as_list(hardware)
    catalog = inputs.catalog_of(model, *hardware_list)
    m = model_terms(inputs.record(model, "models", catalog, "model"))
    batches = np.asarray(_as_list(batch_sizes))
    if batches.size == 0 or batches.dtype.kind not in "iu" or (batches < 1).any():
        raise MlsysimError(f"batch_sizes must be whole numbers >= 1, got {_as_list(batch_sizes)!r}")
    seqs = _as_list(seq_lens)
    if m.kind == "per_inference":
        if seqs != [None]:
            raise MlsysimError(f"seq_lens apply to token models; {m.name} has a per-inference FLOP count")
        seq_values = np.ones(1)
    else:
        seq_values = np.asarray([1 if s is None else s for s in seqs])
        if seq_values.size == 0 or seq_values.dtype.kind not in "iu" or (seq_values < 1).any():
            raise MlsysimError(f"seq_lens must be whole numbers >= 1, got {seqs!r}")
        if m.context and (seq_values > m.context).any():
            raise MlsysimError(f"seq_len {int(seq_values.max())} exceeds {m.name}'s context length of {m.context:g} tokens")
    grid_b, grid_t = (a.ravel() for a in np.meshgrid(batches.astype(float), seq_values.astype(float), indexing="ij"))
    n = grid_b.size
    parts: dict[str, list[Any]] = {name: [] for name in ("hardware", "precision", "bottleneck", "feasible", *NUMERIC_COLUMNS)}
    lineage = Lineage()
    lineage.merge(m.lineage)
    skipped = []
    for hw in hardware_list:
        if not (isinstance(hw, Record) and hw.kind == "nodes"):
            hw = inputs.record(hw, "hardware", catalog, "hardware")
        for precision in _as_list(precisions):
            try:
                h = hardware_terms(hw, precision)
            except PrecisionUnavailable as exc:
                skipped.append((getattr(hw, "label", str(hw)), str(precision), str(exc)))
                continue
            lineage.merge(h.lineage)
            eff = pass_efficiencies(m, h, efficiency, layout)
            lineage.merge(eff.lineage)
            layers = layer_terms(m, h, eff, fusion, cuda_graph, layout)
            overhead = launch_overhead(m, h, cuda_graph) if layers is None else layers.launches
            lineage.merge(overhead.lineage)
            host = 0.0
            if host_dispatch is not None:
                dispatch = host_dispatch_overhead(m, h, host_dispatch)
                lineage.merge(dispatch.lineage)
                host = dispatch.seconds
            waves = wave_quantization(m, h)
            lineage.merge(waves.lineage)
            cast = input_cast(m, h)
            lineage.merge(cast.lineage)
            t_cast = np.broadcast_to(cast.seconds * grid_b * grid_t, (n,))
            nbytes = BYTES_PER_ELEMENT[h.precision]
            flops, moved, resident = pass_cost(m, grid_b, grid_t, 0.0, nbytes, nbytes)
            resident = np.broadcast_to(resident, (n,))
            if layers is None:
                flops = np.broadcast_to(flops, (n,))
                moved = np.broadcast_to(moved, (n,))
                slowdown = waves.slowdown_array(grid_b * grid_t)
                stretch = weight_gemm_stretch(slowdown, routed_gemm_share(m), eff.gemm, eff.expert)
                gemm = gemm_flops(m, grid_b, grid_t)
                t_compute = kernel_compute_time(gemm, flops - gemm, stretch, h.peak, eff.gemm, eff.attention)
                traffic = activation_traffic(m, h)
                lineage.merge(traffic.lineage)
                weights, other, elementwise, moved = traffic.joined(grid_b * grid_t, gemm_bytes(m, grid_b, grid_t, nbytes),
                                                                    moved)
                t_memory = moved / (h.bandwidth * eff.memory)
                t_elementwise = np.broadcast_to(elementwise / (h.bandwidth * eff.memory), (n,))
                roof = kernel_roofline_time(gemm, flops - gemm, stretch, h.peak, eff.gemm, eff.attention, weights,
                                            other, h.bandwidth, eff.memory, np.maximum) + t_elementwise
            else:  # a CNN priced one kernel at a time, as Engine.solve does
                lineage.merge(layers.lineage)
                p = layers.pass_at(grid_b, h.peak, h.bandwidth, eff.gemm, eff.memory, nbytes)
                flops, moved, roof, t_compute, t_memory, slowdown = p.flops, p.bytes, p.time, p.compute, p.memory, p.slowdown
                t_elementwise = np.zeros(n)
            device = roof + overhead.seconds + t_cast
            latency = np.maximum(device, host)
            compute_bound = t_compute > t_memory
            # A diffusion model runs one such pass per denoising step (Engine.solve does the same).
            steps = m.steps
            t_compute, t_memory, latency, flops, moved, t_cast, t_elementwise = (
                v * steps for v in (t_compute, t_memory, latency, flops, moved, t_cast, t_elementwise))
            overhead_s, host_s = overhead.seconds * steps, host * steps
            parts["hardware"].append(np.full(n, h.name))
            parts["precision"].append(np.full(n, h.precision))
            bound = np.where(compute_bound, "Compute", "Memory")
            overhead_bound = (overhead_s > np.maximum(t_compute, t_memory)) | (host_s >= latency)
            parts["bottleneck"].append(np.where(overhead_bound, "Overhead", bound))
            parts["feasible"].append(resident <= h.capacity)
            parts["batch_size"].append(grid_b.astype(np.int64))
            parts["seq_len"].append(grid_t.astype(np.int64))
            parts["latency"].append(latency)
            parts["latency_compute"].append(t_compute)
            parts["latency_memory"].append(t_memory)
            parts["latency_overhead"].append(np.full(n, overhead_s))
            parts["latency_host"].append(np.full(n, host_s))
            parts["latency_quantization"].append(t_cast)
            parts["latency_elementwise"].append(t_elementwise)
            parts["throughput"].append(grid_b / latency)
            parts["arithmetic_intensity"].append(flops / moved)
            parts["mfu"].append(flops / (latency * h.peak))
            parts["mbu"].append(moved / (latency * h.bandwidth))
            parts["memory_usage"].append(resident)
            parts["memory_capacity"].append(np.full(n, h.capacity))
            parts["flops"].append(flops)
            parts["bytes_moved"].append(moved)
            parts["gemm_utilization"].append(1.0 / slowdown)
    if not parts["latency"]:
        reasons = "; ".join(reason for _, _, reason in skipped)
        raise MlsysimError(f"nothing to sweep: no hardware in the list has a peak for the requested precisions ({reasons})")
    columns = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    return SweepTable(columns, skipped, lineage)
