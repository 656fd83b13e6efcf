"""Engine.solve: the roofline of one forward pass of a model on one accelerator.

    >>> from mlsysim import Engine, Models, Hardware
    >>> p = Engine.solve(model=Models.Language.Llama3_8B, hardware=Hardware.Cloud.H100, batch_size=1, precision="fp16")
    >>> p.bottleneck
    'Memory'

Every number comes from the catalog: the model's architecture, the accelerator's
dense peak at the requested precision and its memory bandwidth, the cited efficiencies
and, where they apply, the cited per-kernel launch overhead (kernel_launch_overhead.yaml)
and the wave quantization of the weight GEMMs (the accelerator's cited SM count and the
cited cuBLAS tile, gemm_tile_*.yaml). A transformer pass is priced exactly as
ServingModel prices its prefill: weight GEMMs, attention and memory traffic each at the
efficiency cited for this accelerator and precision (catalog/assumptions/gemm_efficiency_*,
attention_efficiency_*, memory_efficiency_*; `kernel_efficiency.kernel_efficiencies`), else the generic
prefill_compute_efficiency.yaml and decode_memory_bandwidth_efficiency.yaml; a model with a
per-inference FLOP count (a CNN) uses the generic two. The result lists them in `lineage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.convolution import cache_resident_kernels
from mlsysim.solvers.gemm_waves import WaveQuantization, wave_quantization
from mlsysim.solvers.kernel_efficiency import KernelEfficiencies, pass_efficiencies, routed_gemm_share
from mlsysim.solvers.layer_terms import LayerTerms, layer_terms
from mlsysim.solvers.pass_overheads import activation_traffic, host_dispatch_overhead, input_cast, launch_overhead
from mlsysim.solvers.plausibility import bound_warnings, on_chip_memory
from mlsysim.solvers.results import QuantityView
from mlsysim.solvers.roofline import (
    BYTES_PER_ELEMENT,
    effective_compute_flops,
    gemm_bytes,
    gemm_flops,
    kernel_compute_time,
    kernel_roofline_time,
    pass_cost,
    weight_bytes_read,
    weight_gemm_stretch,
)
from mlsysim.solvers.sweep import SweepTable, sweep
from mlsysim.solvers.terms import (
    ActivationTraffic,
    FixedOverhead,
    HardwareTerms,
    ModelTerms,
    NO_ACTIVATION_TRAFFIC,
    PerTokenCost,
    hardware_terms,
    model_terms,
)

__all__ = ["Engine", "PerformanceProfile", "RooflineTerms", "roofline_terms", "solve_terms",
           "pass_cost", "weight_bytes_read", "gemm_flops", "effective_compute_flops"]


# SI unit of each number of a profile, and the unit its quick-start attribute shows.
_UNITS = {
    "latency": ("s", "ms"),
    "latency_compute": ("s", "ms"),
    "latency_memory": ("s", "ms"),
    "latency_overhead": ("s", "ms"),
    "latency_host": ("s", "ms"),
    "latency_quantization": ("s", "ms"),
    "latency_elementwise": ("s", "ms"),
    "throughput": ("1/s", "1/s"),
    "arithmetic_intensity": ("FLOP/B", "FLOP/B"),
    "memory_usage": ("B", "GB"),
    "memory_capacity": ("B", "GB"),
    "flops": ("FLOP", "TFLOP"),
    "bytes_moved": ("B", "GB"),
    "gemm_utilization": ("", ""),
}


@dataclass(frozen=True)
class RooflineTerms:
    """Everything a roofline solve needs but the batch and sequence length, as floats:
    the model, the accelerator at a precision, the efficiencies, the cited fixed overhead
    of a pass and the GEMM wave term (see `roofline_terms`)."""

    model: ModelTerms
    hardware: HardwareTerms
    efficiencies: KernelEfficiencies
    overhead: FixedOverhead
    waves: WaveQuantization
    # A transformer below 16 bits: casting its linear layers' 16-bit inputs, per token (`input_cast`).
    cast: PerTokenCost
    # A CNN with a described layer structure: priced one kernel at a time (`layer_terms`).
    layers: LayerTerms | None = None
    # How the pass runs: replayed as a CUDA graph, and a CNN's tensor layout if one was given.
    cuda_graph: bool = False
    layout: str | None = None
    # A transformer: the activations its kernels read and write in device memory (`activation_traffic`).
    activations: ActivationTraffic = NO_ACTIVATION_TRAFFIC


class PerformanceProfile(QuantityView):
    """The roofline of one forward pass.

    Numbers are SI floats in `si` (and `quantity(name)` wraps one in its SI unit, as every
    solver result does); the attributes the quick start names (`latency`, `throughput`,
    `memory_usage`, ...) are that view shown in a readable unit (ms, GB, ...).
    """

    __slots__ = ("model", "hardware", "precision", "batch_size", "seq_len", "bottleneck", "feasible",
                 "mfu", "mbu", "si", "warnings", "_terms", "_host")

    @property
    def MFU(self) -> float:  # noqa: N802 (the reference simulator's documented name)
        """`mfu` under the name the reference simulator's documentation uses."""
        return self.mfu
    UNITS = {name: units[0] for name, units in _UNITS.items()}

    def __init__(self, terms: RooflineTerms, batch_size: int, seq_len: int, si: dict[str, float],
                 host: FixedOverhead | None = None):
        m, h = terms.model, terms.hardware
        self.model = m.name
        self.hardware = h.name
        self.precision = h.precision
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.si = si
        self._terms = terms
        self._host = host
        # The pass is host-bound when the host's dispatch time is what sets its latency.
        host_bound = si["latency_host"] >= si["latency"]
        self.bottleneck = "Overhead" if host_bound else bottleneck_of(si["latency_compute"], si["latency_memory"],
                                                                      si["latency_overhead"])
        self.feasible = si["memory_usage"] <= h.capacity
        self.mfu = si["flops"] / (si["latency"] * h.peak)
        self.mbu = si["bytes_moved"] / (si["latency"] * h.bandwidth)
        # Physical bounds (plausibility.bound_warnings): a violated one is carried, never dropped.
        self.warnings: tuple[str, ...] = tuple(bound_warnings(si["flops"], si["bytes_moved"], si["latency"], h.peak,
                                                              h.bandwidth, what="the pass"))
        if on_chip_memory(h.record):
            self.warnings += (f"{h.name}'s memory figures are on-chip SRAM: the memory roof assumes every byte is "
                              "served from it; data beyond on-chip capacity streams from external memory, which the "
                              "catalog does not describe",)

    def si_value(self, name: str) -> float:
        return self.si[name]

    @property
    def unpriced(self) -> tuple[str, ...]:
        """The fixed costs the pass has but no cited figure prices on this hardware (e.g.
        kernel launches on a GPU the cited launch time was not measured for), each with why."""
        return tuple(reason for reason in (self._terms.overhead.unpriced, self._terms.cast.unpriced) if reason)

    memory_capacity_basis = property(
        lambda self: self._terms.hardware.capacity_basis,
        doc='which capacity the fit used: "usable" (memory.capacity_usable), "marketed" (memory.capacity) or "none"')
    compute_efficiency = property(lambda self: self._terms.efficiencies.compute,
                                  doc="achieved fraction of peak of the weight GEMMs [1]")
    attention_efficiency = property(lambda self: self._terms.efficiencies.attention,
                                    doc="achieved fraction of peak of the other (attention) FLOPs [1]")
    memory_efficiency = property(lambda self: self._terms.efficiencies.memory)
    efficiency_from_user = property(lambda self: self._terms.efficiencies.compute_from_user)

    def _shown(self, name: str) -> Any:
        return self.quantity(name, _UNITS[name][1] or None)

    latency = property(lambda self: self._shown("latency"),
                       doc="the weight GEMMs' and the attention's rooflines added + element-wise traffic + fixed overheads")
    latency_compute = property(lambda self: self._shown("latency_compute"))
    latency_memory = property(lambda self: self._shown("latency_memory"))
    latency_overhead = property(lambda self: self._shown("latency_overhead"), doc="cited fixed overheads (kernel launches)")
    latency_quantization = property(lambda self: self._shown("latency_quantization"),
                                    doc="casting a transformer's 16-bit GEMM inputs to the compute precision "
                                        "(pass_overheads.input_cast)")
    latency_elementwise = property(lambda self: self._shown("latency_elementwise"),
                                   doc="a transformer's element-wise kernels (norms, residual adds, rotary, the MLP's "
                                       "activation): their activation traffic (pass_overheads.activation_traffic), "
                                       "part of latency_memory")
    latency_host = property(lambda self: self._shown("latency_host"),
                            doc="host time to dispatch the pass's operators (0 unless Engine.solve was given host_dispatch)")
    throughput = property(lambda self: self._shown("throughput"), doc="sequences (samples) per second")
    arithmetic_intensity = property(lambda self: self._shown("arithmetic_intensity"))
    memory_usage = property(lambda self: self._shown("memory_usage"),
                            doc="weights + KV cache (a CNN: + the activations alive at once) resident")

    @property
    def cache_resident_kernels(self) -> int | None:
        """A CNN priced one kernel at a time on an accelerator whose L2 is cited: how many of
        its kernels keep their activations on chip at this batch (`convolution.cache_resident_kernels`);
        None otherwise."""
        layers = self._terms.layers
        if layers is None or not layers.cache:
            return None
        return cache_resident_kernels(layers.graph, self.batch_size, BYTES_PER_ELEMENT[self.precision], layers.cache)

    @property
    def lineage_parts(self) -> tuple[Lineage, ...]:
        """The lineages this profile rests on: the model's, the hardware's, the efficiencies',
        the fixed overhead's, the GEMM wave term's and the host dispatch's when one was given
        (`lineage` merges them)."""
        t = self._terms
        parts = (t.model.lineage, t.hardware.lineage, t.efficiencies.lineage, t.overhead.lineage, t.waves.lineage,
                 t.cast.lineage, t.activations.lineage)
        if t.layers is not None:
            parts += (t.layers.lineage,)
        return parts + (self._host.lineage,) if self._host is not None else parts

    @property
    def lineage(self) -> Lineage:
        merged = Lineage()
        for part in self.lineage_parts:
            merged.merge(part)
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "hardware": self.hardware,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "seq_len": self.seq_len,
            "denoising_steps": self._terms.model.steps,  # passes per inference (1 unless a diffusion model)
            # A CNN priced one kernel at a time: how its operators were fused, and its kernel count.
            "operator_fusion": None if self._terms.layers is None else self._terms.layers.fusion,
            "cuda_graph": self._terms.cuda_graph,
            "layout": self._terms.layout,
            "kernels": None if self._terms.layers is None else self._terms.layers.graph.kernels,
            # Of those, how many keep their activations in the accelerator's L2 (None: no L2 cited).
            "kernels_cache_resident": self.cache_resident_kernels,
            "bottleneck": self.bottleneck,
            "feasible": self.feasible,
            "mfu": self.mfu,
            "mbu": self.mbu,
            "compute_efficiency": self.compute_efficiency,
            "compute_efficiency_source": "user" if self.efficiency_from_user else "catalog",
            "attention_efficiency": self.attention_efficiency,
            "memory_efficiency": self.memory_efficiency,
            "warnings": list(self.warnings),
            "unpriced": list(self.unpriced),
            "memory_capacity_basis": self.memory_capacity_basis,
            "memory_capacity_note": self._terms.hardware.capacity_note,
            "values": {k: {"value": v, "unit": _UNITS[k][0]} for k, v in self.si.items()},
            "catalog": self.lineage.catalog,
            "lineage": [e.to_dict() for e in self.lineage.entries()],
        }

    def __repr__(self) -> str:
        return (f"<PerformanceProfile {self.model} on {self.hardware} {self.precision} batch {self.batch_size}: "
                f"{self.bottleneck}-bound, {self.si['latency'] * 1e3:.4g} ms>")


def bottleneck_of(t_compute: float, t_memory: float, t_overhead: float) -> str:
    """What bounds a pass: "Overhead" when the fixed per-kernel cost t_overhead [s] exceeds
    both roofs (a launch-bound pass: more batch is nearly free), else "Compute" when
    t_compute [s] > t_memory [s], else "Memory" (Williams et al. 2009)."""
    if t_overhead > max(t_compute, t_memory):
        return "Overhead"
    return "Compute" if t_compute > t_memory else "Memory"


def roofline_terms(model: Record | str, hardware: Record | str, precision: str = "fp16", efficiency: Any = None,
                   require_memory: bool = True, fusion: str | None = None, dla: bool = False,
                   cuda_graph: bool = False, layout: str | None = None) -> RooflineTerms:
    """The float terms of `model` on `hardware` at `precision` (see RooflineTerms), read once
    per catalog. The model and hardware must come from one catalog (names are looked up in
    the catalog the records name, else the default one); a node stands for its accelerator.
    `fusion` is how the runtime runs a CNN's operators (`layer_terms.layer_terms`); `dla` pools the
    module's deep-learning accelerators with its GPU (a CNN only: `terms.hardware_terms`);
    `cuda_graph` prices the kernels' launches as one replayed CUDA graph (`pass_overheads.kernel_launches`);
    `layout` picks a CNN's convolution efficiency for that tensor layout (`kernel_efficiency.pass_efficiencies`)."""
    if type(model) is Record and type(hardware) is Record and model._catalog is hardware._catalog:
        catalog = model._catalog
    else:
        catalog = inputs.catalog_of(model, hardware)
        model = inputs.record(model, "models", catalog, "model")
        hardware = _accelerator_or_node(hardware, catalog)
    memo = catalog.derived("roofline_terms")
    mdata, hdata = model._data, hardware._data
    plain = efficiency is None or type(efficiency) is float
    key = ((mdata["id"], hdata["kind"], hdata["id"], precision, require_memory, efficiency, fusion, dla, cuda_graph,
            layout) if plain else None)
    terms = memo.get(key) if plain else None
    if terms is None:
        if dla and model.get("architecture") != "cnn":
            raise MlsysimError(
                f"dla: {model.label} is a {model.get('architecture')} model; deep-learning accelerators such as "
                "NVIDIA's DLA run CNN layers (convolution, pooling, activation, batch norm, fully connected), "
                "so only a CNN can be spread over them. Drop dla to price the GPU alone")
        m = model_terms(model)
        h = hardware_terms(hardware, precision, require_memory, dla)
        eff = pass_efficiencies(m, h, efficiency, layout)
        layers = layer_terms(m, h, eff, fusion, cuda_graph, layout)
        overhead = launch_overhead(m, h, cuda_graph) if layers is None else layers.launches
        terms = RooflineTerms(m, h, eff, overhead, wave_quantization(m, h), input_cast(m, h), layers, cuda_graph, layout,
                              activation_traffic(m, h))
        if plain:
            inputs.remember(memo, key, terms)
    return terms


def _accelerator_or_node(value: Any, catalog: Any) -> Record:
    if isinstance(value, Record):
        if value.kind not in ("hardware", "nodes"):
            raise MlsysimError(f"hardware: {value.ref} is a {value.kind} record, not an accelerator or a node")
        return inputs.record(value, value.kind, catalog, "hardware")
    return inputs.record(value, "hardware", catalog, "hardware")


class Engine:
    """Single-accelerator roofline solves (and vectorised sweeps of them)."""

    @staticmethod
    def solve(model: Record | str, hardware: Record | str, batch_size: int = 1, precision: str = "fp16",
              efficiency: float | None = None, seq_len: int | None = None,
              host_dispatch: Any = None, fusion: str | None = None, dla: bool = False,
              cuda_graph: bool = False, layout: str | None = None) -> PerformanceProfile:
        """Roofline of one forward pass: `batch_size` sequences of `seq_len` tokens each
        (default 1 token: one decode-like step with an empty cache), or `batch_size`
        inferences of a model with a per-inference FLOP count.

        Parameters
        ----------
        model, hardware : catalog records (or their names), from one catalog; a node record
            stands for one of its accelerators.
        batch_size : sequences or samples per pass [1].
        precision : numeric format of compute, weights and KV cache ("fp16", "bf16",
            "fp8", "int8", "int4", "fp4", ...). The peak is the hardware's dense
            `compute.<precision>`; if the catalog has none, this raises (another
            precision's peak is never used in its place).
        efficiency : achieved fraction of peak compute [1] of GEMMs that fill the GPU and of
            attention (both compute classes); default: the cited per-kernel efficiencies for
            this accelerator and precision (`kernel_efficiency.pass_efficiencies`: for a transformer
            `kernel_efficiency.kernel_efficiencies`, as ServingModel uses, a mixture of experts' routed
            experts at their own cited grouped-GEMM figure where one is scoped here; otherwise
            the cited assumption `prefill_compute_efficiency`). Wave quantization (below)
            applies on top of it, to the GEMMs other than the routed experts.
        seq_len : tokens per sequence in this pass [tokens].
        host_dispatch : the framework's host (CPU) time per operator [s] when it issues the
            pass from an eager front end: a number of seconds, a cited assumption record or its
            id (e.g. "host_dispatch_pytorch_eager_cnn", eager PyTorch on a CNN), or None
            (default: the host keeps ahead of the GPU, as compiled engines, TensorRT and CUDA
            graphs do). The host issues kernels asynchronously, so the pass takes
            t_host = operators x host_dispatch at least: latency = max(device latency, t_host),
            "Overhead"-bound when t_host is the larger. Operators are the kernels counted for
            the launch term; a model without that count cannot take it.
        fusion : how the runtime runs a CNN's operators, for a model whose layers the catalog
            describes (a `resnet:` block): "none" (default; one kernel per operator, as PyTorch
            eager runs them) or "tensorrt" (batch norm, ReLU and the residual add fused into the
            convolution before them, per TensorRT's documented layer fusions). Such a model is
            priced one kernel at a time (`convolution.layer_roofline_time`: each convolution the
            larger of its compute, with its own tile and wave quantization, and its traffic; each
            element-wise kernel its traffic), the kernels added, plus their launches.
        dla : spread a CNN over the module's GPU and its fixed-function deep-learning
            accelerators (a Jetson Orin's two DLAs, `compute_dla` in the hardware record), as
            NVIDIA's MLPerf Offline runs of ResNet-50 on Orin do: the peak is then the GPU's plus
            the DLAs', pooled as one device at the GPU's efficiencies. Default False: the GPU
            alone, the only part that runs any other kind of model.
        cuda_graph : the pass is captured once as a CUDA graph and replayed (PyTorch's
            torch.cuda.graphs, TensorRT and serving engines do this): the host launches no
            kernel, and each kernel costs the cited time per kernel of a graph replay on this
            accelerator (an assumption with qualifier kernel: graph_launch) in place of the
            launch overhead; where none is cited, zero and `unpriced` says so. Default False.
        layout : tensor layout of a CNN's convolutions, "channels_last" (NHWC) or "nchw"
            (PyTorch's default format, which cuDNN's tensor-core kernels do not run natively):
            the convolution efficiency cited for this accelerator, precision and layout (an
            error where none is). Default None: the default convolution figure (a
            channels-last one where cited, see `kernel_efficiency.CONV_LAYOUTS`).

        The equation: t_compute = weight-GEMM FLOPs x slowdown / (peak x e_gemm)
        (a mixture of experts: slowdown on the other GEMMs' share, e_gemm / e_expert on the
        routed experts', `roofline.weight_gemm_stretch`) + other (attention) FLOPs /
        (peak x e_attention) (`roofline.kernel_compute_time`, the function ServingModel's passes use, so a prefill of the same batch and prompt gives the
        same time), t_memory = bytes / (bandwidth x e_memory), t_overhead = kernels per pass x
        launch overhead per kernel, latency = the weight GEMMs' roofline (the larger of their
        compute and their weight read plus activations) + the attention kernels' roofline (the
        larger of their compute and their KV traffic plus queries and outputs) + the element-wise
        kernels' activation traffic / (bandwidth x e_memory) + t_overhead
        (`roofline.kernel_roofline_time`: kernels run one after another, so one class cannot
        hide behind the other; a CNN is one class) + t_quantization, a transformer's cast of its
        16-bit GEMM inputs at fp8 (`pass_overheads.input_cast`; `si["latency_quantization"]`),
        bottleneck = the larger of t_compute and t_memory, or "Overhead" when t_overhead exceeds
        both. FLOPs and bytes: see `roofline.pass_cost`; a transformer's activations, what each
        kernel reads and writes where its working set leaves the cited L2, are
        `pass_overheads.activation_traffic`'s (t_memory and `bytes_moved` include them).
        The kernels run one after another, each depending on the last, so each kernel's
        fixed launch cost adds to the pass instead of overlapping with the roofline time.
        Kernels are counted from the architecture
        (`transformer.kernels_per_forward_pass`); models without a described operator graph
        (a cited per-inference FLOP count) and hardware the cited overhead does not apply to
        get no overhead (`pass_overheads.launch_overhead`).
        The slowdown is the tile and wave quantization of the weight GEMMs
        (`gemm_waves.WaveQuantization`): a GEMM with tokens = batch x seq_len rows and N output
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
        He 2022, "Making Deep Learning Go Brrrr From First Principles", section "Overhead"
        (asynchronous dispatch: the GPU waits when its kernels are shorter than the host's work).
        """
        terms = roofline_terms(model, hardware, precision, efficiency, fusion=fusion, dla=dla, cuda_graph=cuda_graph,
                               layout=layout)
        host = None if host_dispatch is None else host_dispatch_overhead(terms.model, terms.hardware, host_dispatch)
        return solve_terms(terms, batch_size, seq_len, host)

    @staticmethod
    def sweep(model: Record | str, hardware: Any, batch_sizes: Any = (1,), precisions: Any = ("fp16",),
              seq_lens: Any = (None,), efficiency: float | None = None, host_dispatch: Any = None,
              fusion: str | None = None, cuda_graph: bool = False, layout: str | None = None) -> SweepTable:
        """Every combination of hardware x batch size x precision x sequence length,
        computed with numpy; see mlsysim.solvers.sweep.sweep."""
        return sweep(model, hardware, batch_sizes=batch_sizes, precisions=precisions, seq_lens=seq_lens,
                     efficiency=efficiency, host_dispatch=host_dispatch, fusion=fusion, cuda_graph=cuda_graph,
                     layout=layout)


def solve_terms(terms: RooflineTerms, batch_size: int, seq_len: int | None,
                host: FixedOverhead | None = None) -> PerformanceProfile:
    """Engine.solve on a model, hardware and efficiencies already reduced to terms: the same
    roofline for every caller that holds terms (Williams et al. 2009); `host`, when given, is
    the host dispatch time of the pass (`host_dispatch_overhead`)."""
    m, h, eff = terms.model, terms.hardware, terms.efficiencies
    batch = inputs.positive_int(batch_size, "batch_size")
    if m.kind == "per_inference":
        if seq_len is not None:
            raise MlsysimError(f"seq_len applies to token models; {m.name} has a per-inference FLOP count")
        tokens = 1
    else:
        tokens = 1 if seq_len is None else inputs.positive_int(seq_len, "seq_len")
        if m.context and tokens > m.context:
            raise MlsysimError(f"seq_len {tokens} exceeds {m.name}'s context length of {m.context:g} tokens")
    nbytes = BYTES_PER_ELEMENT[h.precision]
    flops, moved, resident = pass_cost(m, batch, tokens, 0.0, nbytes, nbytes)
    overhead = terms.overhead.seconds
    layers = terms.layers
    if layers is None:
        slowdown = terms.waves.slowdown(batch * tokens)
        stretch = weight_gemm_stretch(slowdown, routed_gemm_share(m), eff.gemm, eff.expert)
        gemm = gemm_flops(m, batch, tokens)
        t_compute = kernel_compute_time(gemm, flops - gemm, stretch, h.peak, eff.gemm, eff.attention)
        weights, other, elementwise, moved = terms.activations.joined(batch * tokens, gemm_bytes(m, batch, tokens, nbytes),
                                                                      moved)
        t_memory = moved / (h.bandwidth * eff.memory)
        t_cast = terms.cast.seconds * batch * tokens
        t_elementwise = elementwise / (h.bandwidth * eff.memory)
        latency = (kernel_roofline_time(gemm, flops - gemm, stretch, h.peak, eff.gemm, eff.attention, weights, other,
                                        h.bandwidth, eff.memory) + t_elementwise + overhead + t_cast)
    else:
        p = layers.pass_at(batch, h.peak, h.bandwidth, eff.gemm, eff.memory, nbytes)
        flops, moved, t_compute, t_memory, slowdown = p.flops, p.bytes, p.compute, p.memory, p.slowdown
        latency = p.time + overhead
        t_cast = t_elementwise = 0.0
    t_host = 0.0 if host is None else host.seconds
    if t_host > latency:
        latency = t_host
    if m.steps != 1.0:  # a diffusion model: one such pass per denoising step
        steps = m.steps
        t_compute, t_memory, overhead, t_host, latency, t_cast, t_elementwise = (
            t * steps for t in (t_compute, t_memory, overhead, t_host, latency, t_cast, t_elementwise))
        flops, moved = flops * steps, moved * steps
    si = {
        "latency": latency,
        "latency_compute": t_compute,
        "latency_memory": t_memory,
        "latency_overhead": overhead,
        "latency_host": t_host,
        "latency_quantization": t_cast,
        "latency_elementwise": t_elementwise,
        "throughput": batch / latency,
        "arithmetic_intensity": flops / moved,
        "memory_usage": resident,
        "memory_capacity": h.capacity,
        "flops": flops,
        "bytes_moved": moved,
        "gemm_utilization": 1.0 / slowdown,
    }
    return PerformanceProfile(terms, batch, tokens, si, host)
