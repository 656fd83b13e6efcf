"""The kernels of a residual CNN's forward pass, and their roofline one kernel at a time.

A convolution runs as an implicit GEMM (Chetlur et al. 2014): its output pixels are the
GEMM's rows (batch x output height x width), its output channels the columns and input
channels x filter height x width the reduction. `resnet_graph` lists every kernel of one
inference of a torchvision ResNet, either as PyTorch eager runs it (one kernel per operator:
convolution, batch norm, ReLU, residual add, pooling, fc) or as TensorRT runs it (batch norm,
ReLU and the residual add fused into the convolution that precedes them, per TensorRT's
documented layer fusions). `layer_roofline_time` prices each kernel at the larger of its
compute (stretched by its tile and wave quantization) and its device-memory traffic (none
for its activations when its working set fits in the GPU's L2), and adds them: the kernels
run one after another. An element-wise operator (batch norm, ReLU, the residual add) whose
time on this GPU is cited as a measured line (a fixed run time plus its bytes at an achieved
bandwidth, `OperatorLine`) is priced on that line instead of the generic memory roof.

Pure functions over floats (and, for `layer_roofline_time`, numpy arrays of batch sizes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Mapping, NamedTuple

__all__ = ["ResNetShape", "KernelGraph", "LayerPass", "OperatorLine", "Convolution", "Pool", "Linear", "BlockInput",
           "GraphBuilder", "resnet_layers", "resnet_graph", "unfused_convolution", "linear_kernel", "layer_roofline_time", "cache_resident_kernels",
           "ELEMENTWISE_OPERATORS"]

# The fixed parts of every torchvision ResNet (He et al. 2016, Table 1; torchvision resnet.py):
# a 7x7 stride-2 stem convolution, a 3x3 stride-2 max pool, 3x3 convolutions in the blocks,
# stride 2 at the first block of stages 2-4, and the bottleneck's 4x channel expansion.
STEM_KERNEL = 7
STRIDE = 2
BLOCK_KERNEL = 3
BOTTLENECK_EXPANSION = 4
RGB_CHANNELS = 3
# Element accesses of the residual add: two operands read, one result written.
ADD_ACCESSES = 3.0
# The kernels of the graph that are not element-wise, by what they run.
CONVOLUTION, MAX_POOL, AVERAGE_POOL, LINEAR = "convolution", "max_pool", "average_pool", "linear"
# The memory-bound operators of an unfused ResNet pass (element-wise ones and the pools) a
# measured line may price (`OperatorLine`); the catalog's `operator` qualifier enum
# (schemas.common.OPERATORS) matches.
ELEMENTWISE_OPERATORS = ("batch_norm", "relu", "residual_add", MAX_POOL, AVERAGE_POOL)


class OperatorLine(NamedTuple):
    """How long one element-wise operator takes on a GPU, measured: `fixed` [s], its run time
    beyond one kernel's launch (or gap in a CUDA graph) however little data it moves, and
    `efficiency` [1], the fraction of the memory bandwidth its bytes move at."""

    fixed: float
    efficiency: float


@dataclass(frozen=True)
class ResNetShape:
    """A torchvision ResNet: `block` "bottleneck" (1x1, 3x3, 1x1 convolutions, expansion 4;
    the stride on the 3x3, V1.5) or "basic" (two 3x3 convolutions, expansion 1), residual
    blocks per stage (four stages, widths `width` x 1, 2, 4, 8), the stem's output channels
    `width`, the classifier's `classes`, and the input's side [pixels] and channels."""

    block: str
    stage_blocks: tuple[int, ...]
    width: int
    classes: int
    resolution: int
    channels: int = RGB_CHANNELS


@dataclass(frozen=True)
class KernelGraph:
    """The kernels of one pass (an inference, or a training step: `convolution_training`), in
    launch order, as per-kernel tuples: `rows` (output pixels per sample: the implicit GEMM's
    rows per sample; 0 for a kernel with no matrix math, or whose GEMM rows do not grow with
    the batch: a weight gradient), `columns` (output channels: the GEMM's columns), `flops`
    per sample [FLOP], `activations` (activation elements read and written per sample),
    `weights` (weight elements, read or written once per pass) and `operators` (what each
    kernel runs: "convolution", one of ELEMENTWISE_OPERATORS (the pools among them), "linear",
    or a training step's (`convolution_training.TRAINING_OPERATORS`); empty: not stated)."""

    rows: tuple[float, ...]
    columns: tuple[float, ...]
    flops: tuple[float, ...]
    activations: tuple[float, ...]
    weights: tuple[float, ...]
    operators: tuple[str, ...] = ()

    @property
    def kernels(self) -> int:
        """Kernels launched per pass [1]."""
        return len(self.rows)

    @property
    def flops_per_sample(self) -> float:
        """FLOPs of one inference [FLOP]."""
        return sum(self.flops)

    @property
    def activation_elements(self) -> float:
        """Activation elements one inference reads and writes in device memory [1]."""
        return sum(self.activations)

    def bytes_moved(self, batch: Any, bytes_per_element: float) -> Any:
        """Bytes one pass of `batch` samples moves [B]: every kernel's activations (per sample)
        and weights (once), at `bytes_per_element` [B]."""
        return (batch * self.activation_elements + sum(self.weights)) * bytes_per_element

    @cached_property
    def matmul_groups(self) -> tuple[tuple[float, float, float, float, float, float], ...]:
        """The kernels with matrix math, identical ones merged: (count, rows, columns, flops,
        activations, weights), in first-launch order. A ResNet repeats its blocks, so pricing a
        shape once and multiplying is the same sum with fewer terms."""
        return _merge_identical(k for k in zip(self.rows, self.columns, self.flops, self.activations, self.weights)
                                if k[2])

    @cached_property
    def elementwise_groups(self) -> tuple[tuple[Any, ...], ...]:
        """The kernels without matrix math (memory-bound whatever the batch), identical ones
        merged: (count, operator, activations per sample, weights), in first-launch order."""
        operators = self.operators or ("",) * len(self.rows)
        return _merge_identical((o, a, w) for o, a, w, f in zip(operators, self.activations, self.weights, self.flops)
                                if not f)


def _merge_identical(kernels: Any) -> tuple[tuple[Any, ...], ...]:
    """(count, *kernel) for each distinct kernel tuple, in first-occurrence order."""
    counts: dict[tuple[Any, ...], int] = {}
    for kernel in kernels:
        counts[kernel] = counts.get(kernel, 0) + 1
    return tuple((float(n), *kernel) for kernel, n in counts.items())


class Convolution(NamedTuple):
    """One convolution of a ResNet with the batch norm after it, and the residual add and the
    ReLU that follow where the architecture has them: input side [pixels], channels in and
    out, filter side, stride."""

    side_in: int
    channels_in: int
    channels_out: int
    kernel: int
    stride: int
    relu: bool
    residual: bool = False

    @property
    def side_out(self) -> int:
        return self.side_in // self.stride

    @property
    def pixels_out(self) -> float:
        """Output pixels per sample: the implicit GEMM's rows per sample [1]."""
        return float(self.side_out * self.side_out)

    @property
    def depth(self) -> float:
        """Input channels x filter area: the implicit GEMM's reduction [1]."""
        return float(self.channels_in * self.kernel * self.kernel)

    @property
    def elements_in(self) -> float:
        return float(self.side_in * self.side_in * self.channels_in)

    @property
    def elements_out(self) -> float:
        return self.pixels_out * self.channels_out

    @property
    def flops(self) -> float:
        """FLOPs per sample [FLOP]: 2 x output pixels x output channels x depth."""
        return 2.0 * self.pixels_out * self.channels_out * self.depth

    @property
    def weights(self) -> float:
        return self.depth * self.channels_out


class Pool(NamedTuple):
    """A max pool or a global average pool (`operator`), input and output side [pixels]."""

    operator: str
    side_in: int
    side_out: int
    channels: int

    @property
    def elements_in(self) -> float:
        return float(self.side_in * self.side_in * self.channels)

    @property
    def elements_out(self) -> float:
        return float(self.side_out * self.side_out * self.channels)


class Linear(NamedTuple):
    """The classifier: `features` in, `classes` out."""

    features: int
    classes: int


class BlockInput(NamedTuple):
    """Where a residual block begins: its input (`elements` per sample) feeds both the block's
    first convolution and its shortcut. No kernel in a forward pass; in a backward pass the
    two gradients that reach it are added."""

    elements: float


Layer = Convolution | Pool | Linear | BlockInput


@lru_cache(maxsize=None)
def resnet_layers(shape: ResNetShape) -> tuple[Layer, ...]:
    """The layers of ResNet `shape` in forward order [1]: the stem convolution (with its batch
    norm and ReLU) and max pool; per block its input, its convolutions each with a batch norm
    and (but the last) a ReLU, the downsample convolution and batch norm where the block
    changes stride or width, and the last convolution followed by the residual add and a ReLU;
    global average pool and the fc layer.

    References
    ----------
    He et al. 2016, "Deep Residual Learning for Image Recognition", CVPR (Table 1).
    torchvision, torchvision/models/resnet.py (BasicBlock, Bottleneck, ResNet: the stride on
    the bottleneck's 3x3 convolution, V1.5).
    """
    layers: list[Layer] = [Convolution(shape.resolution, shape.channels, shape.width, STEM_KERNEL, STRIDE, relu=True)]
    side = shape.resolution // STRIDE
    pooled = side // STRIDE
    layers.append(Pool(MAX_POOL, side, pooled, shape.width))  # 3x3, stride 2
    side, channels = pooled, shape.width
    expansion = BOTTLENECK_EXPANSION if shape.block == "bottleneck" else 1
    for stage, blocks in enumerate(shape.stage_blocks):
        planes = shape.width * 2 ** stage
        for index in range(blocks):
            stride = STRIDE if stage > 0 and index == 0 else 1
            out_channels = planes * expansion
            layers.append(BlockInput(float(side * side * channels)))
            if shape.block == "bottleneck":
                layers.append(Convolution(side, channels, planes, 1, 1, relu=True))
                layers.append(Convolution(side, planes, planes, BLOCK_KERNEL, stride, relu=True))
                last_in, last_kernel = planes, 1
            else:
                layers.append(Convolution(side, channels, planes, BLOCK_KERNEL, stride, relu=True))
                last_in, last_kernel = planes, BLOCK_KERNEL
            inner = side // stride
            if stride != 1 or channels != out_channels:
                layers.append(Convolution(side, channels, out_channels, 1, stride, relu=False))  # downsample branch
            layers.append(Convolution(inner, last_in, out_channels, last_kernel, 1, relu=True, residual=True))
            side, channels = inner, out_channels
    layers.append(Pool(AVERAGE_POOL, side, 1, channels))  # global
    layers.append(Linear(channels, shape.classes))
    return tuple(layers)


class GraphBuilder:
    """Kernels appended in launch order, then frozen into a KernelGraph."""

    def __init__(self) -> None:
        self.kernels: list[tuple[str, float, float, float, float, float]] = []

    def add(self, operator: str, rows: float, columns: float, flops: float, activations: float,
            weights: float) -> None:
        self.kernels.append((operator, rows, columns, flops, activations, weights))

    def elementwise(self, operator: str, activations: float) -> None:
        self.add(operator, 0.0, 0.0, 0.0, activations, 0.0)

    def graph(self) -> KernelGraph:
        operators, rows, columns, flops, activations, weights = (tuple(x) for x in zip(*self.kernels))
        return KernelGraph(rows, columns, flops, activations, weights, operators)


# Inference batch norm: one kernel reading and writing each element (a per-channel scale), as
# (operator, element accesses per output element) of each of its kernels.
INFERENCE_BATCH_NORM = (("batch_norm", 2.0),)


def unfused_convolution(b: GraphBuilder, layer: Convolution,
                        batch_norm: tuple[tuple[str, float], ...] = INFERENCE_BATCH_NORM) -> None:
    """`layer` one kernel per operator, as eager PyTorch runs it: the convolution, its batch
    norm's kernels (`batch_norm`: operator and accesses per output element of each), the
    residual add and the ReLU (in place)."""
    out = layer.elements_out
    b.add(CONVOLUTION, layer.pixels_out, layer.channels_out, layer.flops, layer.elements_in + out, layer.weights)
    for operator, accesses in batch_norm:
        b.elementwise(operator, accesses * out)
    if layer.residual:
        b.elementwise("residual_add", ADD_ACCESSES * out)
    if layer.relu:
        b.elementwise("relu", 2.0 * out)  # in place: read, write


def linear_kernel(b: GraphBuilder, layer: Linear) -> None:
    """The classifier's GEMM: one row per sample."""
    b.add(LINEAR, 1.0, float(layer.classes), 2.0 * layer.features * layer.classes,
          float(layer.features + layer.classes), float(layer.features * layer.classes))


def _inference_kernels(b: GraphBuilder, layer: Layer, fused: bool) -> None:
    """The kernels of `layer` in an inference pass, fused as TensorRT runs it or one per operator."""
    if isinstance(layer, Convolution):
        if not fused:
            unfused_convolution(b, layer)
            return
        out = layer.elements_out  # the add's second operand is read by the convolution's epilogue
        b.add(CONVOLUTION, layer.pixels_out, layer.channels_out, layer.flops,
              layer.elements_in + out + (out if layer.residual else 0.0), layer.weights)
    elif isinstance(layer, Pool):
        b.elementwise(layer.operator, layer.elements_in + layer.elements_out)
    elif isinstance(layer, Linear):
        linear_kernel(b, layer)


@lru_cache(maxsize=None)
def resnet_graph(shape: ResNetShape, fused: bool = False) -> KernelGraph:
    """Every kernel of one inference of ResNet `shape` [1] (its layers: `resnet_layers`).

    Unfused (`fused` False, PyTorch eager): one kernel per operator: each convolution, batch
    norm, residual add and ReLU, the pools and the fc layer. Each reads its input and writes
    its output in device memory (ReLU in place). Fused (TensorRT): batch norm (a per-channel
    scale), ReLU and the residual add run inside the preceding convolution (TensorRT's
    "Convolution and Scale", "Convolution and ReLU Activation" and "Convolution and
    ElementWise Operation" fusions), which then also reads the add's second operand; the
    pools and the fc layer stay separate kernels.

    References
    ----------
    Chetlur et al. 2014, "cuDNN: Efficient Primitives for Deep Learning", arXiv 1410.0759
    (convolution as an implicit matrix multiplication).
    NVIDIA, TensorRT Developer Guide, "Types of Fusions".
    """
    b = GraphBuilder()
    for layer in resnet_layers(shape):
        _inference_kernels(b, layer, fused)
    return b.graph()


class LayerPass(NamedTuple):
    """A pass priced one kernel at a time: its roofline `time` [s], the `compute` and `memory`
    roofs summed over its kernels [s], its `flops` [FLOP] and `bytes` moved [B], and the
    FLOP-weighted tile/wave `slowdown` of its convolutions [1] (charged over useful FLOPs).
    Each a float, or a numpy array over the batch sizes given."""

    time: Any
    compute: Any
    memory: Any
    flops: Any
    bytes: Any
    slowdown: Any


def layer_roofline_time(graph: KernelGraph, batch: Any, peak: float, bandwidth: float, compute_efficiency: float,
                        memory_efficiency: float, bytes_per_element: float, tile_rows: float = 1.0,
                        tile_columns: float = 1.0, wave: float = 0.0, cache: float = 0.0,
                        lines: Mapping[str, OperatorLine] | None = None) -> LayerPass:
    """Roofline of a pass priced one kernel at a time [s], for `batch` samples (a float, or a
    numpy array of them):

    t = sum_k max(batch x F_k x q_k / (peak x e_c), (s_k x batch x A_k + W_k) x b / (bandwidth x e_m)),

    F_k [FLOP], A_k and W_k [1] the kernel's FLOPs per sample, activation elements per sample
    and weight elements (`KernelGraph`), b [B] bytes per element, `peak` [FLOP/s],
    `bandwidth` [B/s], efficiencies [1]. s_k [1] is 0 when the kernel's working set,
    (batch x A_k + W_k) x b, fits in the on-chip `cache` [B] (the GPU's L2; 0: none), and 1
    otherwise: the activations it reads were just written by the kernels before it and are
    still cached, and what it writes is read from the cache by the next, so only its weights
    come from device memory. This is how NVIDIA's MLPerf L4 ResNet-50 offline result (13,158
    images/s, 28 MB of int8 activations per image under TensorRT's fusions) exceeds the
    card's 300 GB/s of GDDR6. Two simplifications, both favouring the cache: its own
    bandwidth is not a roof (no figure is cited per GPU), and its whole capacity is taken as
    available to the kernel. q_k [1] is the kernel's tile and wave quantization
    (NVIDIA's Matrix Multiplication Background guide, Sections 3.1-3.2): its M = batch x rows
    by N = columns output splits into ceil(M / tile rows) x ceil(N / tile columns) tiles, run
    `wave` at a time, each as long as a full tile, so
    q_k = ceil(tiles / wave) x wave x min(M, tile rows) x tile columns / (M x N)
    (a kernel shorter than one tile is charged only its own rows); q_k = 1 when `wave` is 0,
    and for a kernel with no rows per sample (a weight gradient, `convolution_training`: its
    output is the filter and its long reduction runs over the batch, which libraries split
    across the SMs, CUTLASS's split_k_slices).
    An element-wise kernel whose operator has a measured line in `lines` (operator ->
    `OperatorLine`) takes t_k = f_o + s_k x batch x A_k x b / (bandwidth x e_o) instead: f_o [s]
    its fixed run time, e_o [1] the fraction of the bandwidth it reaches (its memory roof counts
    the second term, its fixed time only the total).
    Returns a `LayerPass`: t, the two roofs summed over the kernels, the FLOPs (batch x sum F_k),
    the bytes moved in device memory (sum_k (s_k x batch x A_k + W_k) x b) and the slowdown
    sum_k F_k x q_k / sum_k F_k.

    References
    ----------
    Williams, Waterman and Patterson 2009, "Roofline", CACM 52(4) (a roofline bounds one kernel).
    Yuan et al. 2024, "LLM Inference Unveiled: Survey and Roofline Model Insights", arXiv
    2402.16363 (a roofline per layer, aggregated over the network).
    NVIDIA, "Matrix Multiplication Background User's Guide", DU-09799-001 (tile and wave quantization).
    NVIDIA, "CUDA C++ Programming Guide", Device Memory L2 Access Management (global-memory
    data a kernel reuses can be served from the L2 instead of device memory).
    """
    if isinstance(batch, (int, float)):
        maximum, minimum, ceil = max, min, math.ceil
    else:
        import numpy as np

        maximum, minimum, ceil = np.maximum, np.minimum, np.ceil

    def device_elements(activations: float, weights: float) -> Any:  # s_k x batch x A_k + W_k
        working_set = batch * activations + weights
        return maximum(working_set * _spills(working_set, bytes_per_element, cache), weights)

    compute_rate = peak * compute_efficiency
    memory_rate = bandwidth * memory_efficiency / bytes_per_element
    moved = memory = fixed = 0.0
    lines = lines or {}
    for count, operator, activations, weights in graph.elementwise_groups:
        elements = device_elements(activations, weights)
        moved = moved + count * elements
        line = lines.get(operator)
        if line is None:
            memory = memory + count * elements / memory_rate
        else:
            memory = memory + count * elements * bytes_per_element / (bandwidth * line.efficiency)
            fixed = fixed + count * line.fixed
    total = memory + fixed
    compute = charged = 0.0
    for count, rows, columns, flops, activations, weights in graph.matmul_groups:
        elements = device_elements(activations, weights)
        moved = moved + count * elements
        t_memory = elements / memory_rate
        work = batch * flops
        if wave and rows:
            m = batch * rows
            tiles = ceil(m / tile_rows) * ceil(columns / tile_columns)
            work = work * ceil(tiles / wave) * wave * minimum(m, tile_rows) * tile_columns / (m * columns)
        t_compute = work / compute_rate
        charged = charged + count * work
        compute = compute + count * t_compute
        memory = memory + count * t_memory
        total = total + count * maximum(t_compute, t_memory)
    flops = batch * graph.flops_per_sample
    slowdown = charged / flops if graph.flops_per_sample else 1.0
    return LayerPass(total, compute, memory, flops, moved * bytes_per_element, slowdown)


def cache_resident_kernels(graph: KernelGraph, batch: float, bytes_per_element: float, cache: float) -> int:
    """How many of `graph`'s kernels keep their activations on chip for `batch` samples [1]:
    those whose working set, (batch x A_k + W_k) x b [B], fits in the `cache` [B]
    (`layer_roofline_time`'s s_k = 0)."""
    return sum(1 for a, w in zip(graph.activations, graph.weights) if not _spills(batch * a + w, bytes_per_element, cache))


def _spills(elements: Any, bytes_per_element: float, cache: float) -> Any:
    """Whether a kernel's working set of `elements` [1] outgrows the on-chip `cache` [B]
    (`layer_roofline_time`'s s_k = 1): a bool, or a bool array for an array of them."""
    return elements * bytes_per_element > cache
