"""Engine.solve: the roofline of one forward pass of a model on one accelerator.

    >>> from mlsysim import Engine, Models, Hardware
    >>> p = Engine.solve(model=Models.Language.Llama3_8B, hardware=Hardware.Cloud.H100, batch_size=1, precision="fp16")
    >>> p.bottleneck
    'Memory'

Every number comes from the catalog: the model's architecture, the accelerator's
dense peak at the requested precision and its memory bandwidth, two cited
efficiencies (catalog/assumptions/prefill_compute_efficiency.yaml and
decode_memory_bandwidth_efficiency.yaml) and, where they apply, the cited per-kernel
launch overhead (kernel_launch_overhead.yaml) and the wave quantization of the weight
GEMMs (the accelerator's cited SM count and the cited cuBLAS tile, gemm_tile_*.yaml).
The result lists them in `lineage`.
"""

from __future__ import annotations

from typing import Any

from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.catalog.records import Record
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT
from mlsysim.solvers.terms import (
    Efficiencies,
    FixedOverhead,
    HardwareTerms,
    ModelTerms,
    WaveQuantization,
    efficiencies,
    hardware_terms,
    launch_overhead,
    model_terms,
    wave_quantization,
)


def weight_bytes_read(m: ModelTerms, tokens: Any, bytes_per_weight: float) -> Any:
    """Weight bytes one forward pass streams from memory [B] when it carries `tokens`
    tokens in total: every dense weight once, plus, for a mixture of experts, the
    routed experts at least one token picks. With uniform routing of k of E experts,
    a layer touches E (1 - (1 - k/E)^tokens) distinct experts in expectation."""
    params = m.read_params_dense
    if m.moe_layers:
        e, k = m.experts_total, m.experts_active
        params = params + m.moe_layers * m.expert_params * e * (1.0 - (1.0 - k / e) ** tokens)
    return params * bytes_per_weight


def pass_cost(m: ModelTerms, batch: Any, new: Any, past: Any, bytes_per_weight: float, bytes_per_kv: float) -> tuple[Any, Any, Any]:
    """FLOPs, bytes moved and resident bytes of one forward pass that processes `new`
    tokens for each of `batch` sequences that already hold `past` tokens in the KV cache.

    FLOPs [FLOP] = batch x (new x 2 x active non-embedding weights
                            + attention per token per context token x (new x past + new (new + 1) / 2)),
    the causal attention of the i-th new token spanning past + i positions
    (2 FLOP per multiply-accumulate; Kaplan et al. 2020, arXiv 2001.08361, Table 1).
    Bytes [B] = weights read once per pass + the KV cache read (batch x past tokens)
    and written (batch x new tokens). Activations are assumed to stay in on-chip
    memory between fused kernels and are not counted (they matter only far past
    the ridge point, where the pass is compute-bound anyway).
    Resident [B] = all weights + the KV cache after the pass.
    A model with a cited per-inference FLOP count (`per_inference`, e.g. a CNN) costs
    batch x that count and reads its weights once; `new` and `past` do not apply.
    """
    weights = m.params_total * bytes_per_weight
    if m.kind == "per_inference":
        return batch * m.matmul_flops, weights, weights
    flops = batch * (new * m.matmul_flops + m.attention_flops * (new * past + new * (new + 1.0) * 0.5))
    kv = batch * (past + new) * m.kv_elements * bytes_per_kv
    read = weight_bytes_read(m, batch * new, bytes_per_weight)
    return flops, read + kv, weights + kv


def gemm_flops(m: ModelTerms, batch: Any, new: Any) -> Any:
    """The weight-matmul part of `pass_cost`'s FLOPs [FLOP] (what wave quantization scales):
    batch x new x 2 x active weights; 0 for a model with a per-inference FLOP count."""
    return 0.0 if m.kind == "per_inference" else batch * new * m.matmul_flops


def effective_compute_flops(flops: Any, gemm: Any, slowdown: Any) -> Any:
    """FLOPs charged at peak x efficiency [FLOP]: the pass's FLOPs with its weight GEMMs'
    share stretched by their tile/wave-quantization slowdown (`terms.WaveQuantization`)."""
    return flops + gemm * (slowdown - 1.0)


_UNITS = {
    "latency": ("s", "ms"),
    "latency_compute": ("s", "ms"),
    "latency_memory": ("s", "ms"),
    "latency_overhead": ("s", "ms"),
    "throughput": ("1/s", "1/s"),
    "arithmetic_intensity": ("FLOP/B", "FLOP/B"),
    "memory_usage": ("B", "GB"),
    "memory_capacity": ("B", "GB"),
    "flops": ("FLOP", "TFLOP"),
    "bytes_moved": ("B", "GB"),
    "gemm_utilization": ("", ""),
}


class PerformanceProfile:
    """The roofline of one forward pass. Numbers are SI floats in `si`; the attributes
    named in the quick start (`latency`, `throughput`, ...) are pint Quantities for people."""

    __slots__ = ("model", "hardware", "precision", "batch_size", "seq_len", "bottleneck", "feasible",
                 "mfu", "mbu", "si", "_lineages", "compute_efficiency", "memory_efficiency", "efficiency_from_user")

    def __init__(self, model: str, hardware: str, precision: str, batch_size: int, seq_len: int, bottleneck: str,
                 feasible: bool, mfu: float, mbu: float, si: dict[str, float], lineages: tuple[Lineage, ...],
                 compute_efficiency: float, memory_efficiency: float, efficiency_from_user: bool):
        self.model = model
        self.hardware = hardware
        self.precision = precision
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.bottleneck = bottleneck
        self.feasible = feasible
        self.mfu = mfu
        self.mbu = mbu
        self.si = si
        self._lineages = lineages
        self.compute_efficiency = compute_efficiency
        self.memory_efficiency = memory_efficiency
        self.efficiency_from_user = efficiency_from_user

    def quantity(self, name: str) -> Any:
        from mlsysim.catalog.units import Q_

        si_unit, shown = _UNITS[name]
        return Q_(self.si[name], si_unit).to(shown)

    latency = property(lambda self: self.quantity("latency"), doc="max(compute, memory) time of the pass + fixed overheads")
    latency_compute = property(lambda self: self.quantity("latency_compute"))
    latency_memory = property(lambda self: self.quantity("latency_memory"))
    latency_overhead = property(lambda self: self.quantity("latency_overhead"), doc="cited fixed overheads (kernel launches)")
    throughput = property(lambda self: self.quantity("throughput"), doc="sequences (samples) per second")
    arithmetic_intensity = property(lambda self: self.quantity("arithmetic_intensity"))
    memory_usage = property(lambda self: self.quantity("memory_usage"), doc="weights + KV cache resident")

    @property
    def lineage_parts(self) -> tuple[Lineage, ...]:
        """The lineages this profile rests on: the model's, the hardware's, the efficiencies',
        the fixed overhead's and the GEMM wave term's (`lineage` merges them)."""
        return self._lineages

    @property
    def lineage(self) -> Lineage:
        merged = Lineage()
        for part in self._lineages:
            merged.merge(part)
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "hardware": self.hardware,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "bottleneck": self.bottleneck,
            "feasible": self.feasible,
            "mfu": self.mfu,
            "mbu": self.mbu,
            "compute_efficiency": self.compute_efficiency,
            "compute_efficiency_source": "user" if self.efficiency_from_user else "catalog",
            "memory_efficiency": self.memory_efficiency,
            "values": {k: {"value": v, "unit": _UNITS[k][0]} for k, v in self.si.items()},
            "lineage": [e.to_dict() for e in self.lineage.entries()],
        }

    def __repr__(self) -> str:
        return (f"<PerformanceProfile {self.model} on {self.hardware} {self.precision} batch {self.batch_size}: "
                f"{self.bottleneck}-bound, {self.si['latency'] * 1e3:.4g} ms>")


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MlsysimError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


class Engine:
    """Single-accelerator roofline solves (and vectorised sweeps of them)."""

    @staticmethod
    def solve(model: Record | str, hardware: Record | str, batch_size: int = 1, precision: str = "fp16",
              efficiency: float | None = None, seq_len: int | None = None) -> PerformanceProfile:
        """Roofline of one forward pass: `batch_size` sequences of `seq_len` tokens each
        (default 1 token: one decode-like step with an empty cache), or `batch_size`
        inferences of a model with a per-inference FLOP count.

        Parameters
        ----------
        model, hardware : catalog records (or their names); a node record stands for
            one of its accelerators.
        batch_size : sequences or samples per pass [1].
        precision : numeric format of compute, weights and KV cache ("fp16", "bf16",
            "fp8", "int8", "int4", "fp4", ...). The peak is the hardware's dense
            `compute.<precision>`; if the catalog has none, this raises (another
            precision's peak is never used in its place).
        efficiency : achieved fraction of peak compute of GEMMs that fill the GPU [1];
            default: the cited assumption `prefill_compute_efficiency`. Wave quantization
            (below) applies on top of it.
        seq_len : tokens per sequence in this pass [tokens].

        The equation: t_compute = (FLOPs + weight-GEMM FLOPs x (slowdown - 1)) / (peak x compute efficiency),
        t_memory = bytes / (bandwidth x memory efficiency), t_overhead = kernels per pass x
        launch overhead per kernel, latency = max(t_compute, t_memory) + t_overhead,
        bottleneck = the larger of t_compute and t_memory. FLOPs and bytes: see `pass_cost`.
        The kernels run one after another, each depending on the last, so each kernel's
        fixed launch cost adds to the pass instead of overlapping with the roofline time.
        Kernels are counted from the architecture
        (`transformer.kernels_per_forward_pass`); models without a described operator graph
        (a cited per-inference FLOP count) and hardware the cited overhead does not apply to
        get no overhead (`terms.launch_overhead`).
        The slowdown is the tile and wave quantization of the weight GEMMs
        (`terms.WaveQuantization`): a GEMM with tokens = batch x seq_len rows and N output
        columns is cut into ceil(tokens / tile rows) x ceil(N / tile columns) thread-block tiles
        (the cited cuBLAS tile, gemm_tile_rows x gemm_tile_columns); gemm_tiles_per_sm_wave
        tiles per SM run at once, so a wave is that many x SMs tiles and the GEMM runs
        ceil(tiles / wave) waves, each as long as a full tile (a partial tile does a full
        tile's math). Its compute time is divided by the useful fraction of that work
        (`si["gemm_utilization"]` is the FLOP-weighted result). A GEMM shorter than one tile is
        charged only its own rows: cuBLAS then picks a smaller tile, and which one is not cited.
        The term applies when the accelerator record has a cited `compute_units` (SM count)
        and the cited tile fits its vendor and precision (NVIDIA, fp16/bf16); otherwise the
        slowdown is 1 and the lineage does not list it. Attention and element-wise kernels
        are not scaled.

        References
        ----------
        Williams et al. 2009, "Roofline", doi:10.1145/1498765.1498785.
        Kaplan et al. 2020, arXiv 2001.08361 (forward FLOPs per token).
        NVIDIA, "Matrix Multiplication Background User's Guide", DU-09799-001, 2023
        (Section 3.1, tile quantization; Section 3.2, wave quantization).
        """
        m = model_terms(model)
        h = hardware_terms(hardware, precision)
        eff = efficiencies(efficiency, model._catalog if isinstance(model, Record) else None)
        return solve_terms(m, h, eff, batch_size, seq_len)

    @staticmethod
    def sweep(model: Record | str, hardware: Any, batch_sizes: Any = (1,), precisions: Any = ("fp16",),
              seq_lens: Any = (None,), efficiency: float | None = None) -> Any:
        """Every combination of hardware x batch size x precision x sequence length,
        computed with numpy; see mlsysim.solvers.sweep.sweep."""
        from mlsysim.solvers.sweep import sweep

        return sweep(model, hardware, batch_sizes=batch_sizes, precisions=precisions, seq_lens=seq_lens, efficiency=efficiency)


def solve_terms(m: ModelTerms, h: HardwareTerms, eff: Efficiencies, batch_size: int, seq_len: int | None) -> PerformanceProfile:
    """Engine.solve on a model, hardware and efficiencies already reduced to terms
    (mlsysim/solvers/terms.py): the same roofline for every caller that holds terms."""
    batch = _check_count("batch_size", batch_size)
    if m.kind == "per_inference":
        if seq_len is not None:
            raise MlsysimError(f"seq_len applies to token models; {m.name} has a per-inference FLOP count")
        tokens = 1
    else:
        tokens = 1 if seq_len is None else _check_count("seq_len", seq_len)
        if m.context and tokens > m.context:
            raise MlsysimError(f"seq_len {tokens} exceeds {m.name}'s context length of {m.context:g} tokens")
    nbytes = BYTES_PER_ELEMENT[h.precision]
    flops, moved, resident = pass_cost(m, batch, tokens, 0.0, nbytes, nbytes)
    return _profile(m, h, eff, launch_overhead(m, h), wave_quantization(m, h), batch, tokens, flops, moved, resident)


def _profile(m: ModelTerms, h: Any, eff: Any, overhead: FixedOverhead, waves: WaveQuantization, batch: int,
             tokens: int, flops: float, moved: float, resident: float) -> PerformanceProfile:
    slowdown = waves.slowdown(batch * tokens)
    charged = flops if slowdown == 1.0 else effective_compute_flops(flops, gemm_flops(m, batch, tokens), slowdown)
    t_compute = charged / (h.peak * eff.compute)
    t_memory = moved / (h.bandwidth * eff.memory)
    latency = (t_compute if t_compute > t_memory else t_memory) + overhead.seconds
    si = {
        "latency": latency,
        "latency_compute": t_compute,
        "latency_memory": t_memory,
        "latency_overhead": overhead.seconds,
        "throughput": batch / latency,
        "arithmetic_intensity": flops / moved,
        "memory_usage": resident,
        "memory_capacity": h.capacity,
        "flops": flops,
        "bytes_moved": moved,
        "gemm_utilization": 1.0 / slowdown,
    }
    return PerformanceProfile(
        m.name, h.name, h.precision, batch, tokens, "Compute" if t_compute > t_memory else "Memory",
        resident <= h.capacity, flops / (latency * h.peak), moved / (latency * h.bandwidth), si,
        (m.lineage, h.lineage, eff.lineage, overhead.lineage, waves.lineage), eff.compute, eff.memory, eff.compute_from_user,
    )
