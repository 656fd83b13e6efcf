"""The kernels of one training step of a residual CNN, as eager PyTorch runs them.

The forward pass is the inference graph's (`convolution.resnet_layers`, one kernel per
operator) with batch norm in training mode: PyTorch's CUDA batch norm first reduces each
channel's mean and variance over the batch (one read of the input), then normalises (a read
and a write), and max pooling also writes the index of each maximum for the backward pass.
The backward pass visits the layers in reverse. Each convolution becomes two implicit GEMMs
of its forward FLOPs (CUTLASS's `implicit_gemm_problem_size`): the data gradient (rows: the
input pixels, columns: the input channels, reduction: output channels x filter area), not
run for the stem, whose input is the image; and the weight gradient (rows: the output
channels, columns: input channels x filter area, reduction: batch x output pixels), whose
rows and columns do not grow with the batch. Batch norm's backward reduces over the batch
(reading the input and the output gradient) and then writes the input gradient (reading both
again); ReLU's reads the output gradient and its saved output; the residual add passes its
gradient to both branches unchanged, and where a block's two branches meet at its input the
two gradients are added.

Pure functions over the layer list; `convolution.layer_roofline_time` prices the result.
"""

from __future__ import annotations

from functools import lru_cache

from mlsysim.solvers.convolution import (
    ADD_ACCESSES,
    MAX_POOL,
    BlockInput,
    Convolution,
    GraphBuilder,
    KernelGraph,
    Layer,
    Linear,
    Pool,
    ResNetShape,
    linear_kernel,
    resnet_layers,
    unfused_convolution,
)

__all__ = ["resnet_training_graph", "resnet_parameters", "saved_activation_elements", "TRAINING_OPERATORS"]

# Operators of a training step beyond the inference graph's. None is an inference kernel, so
# no measured line of an inference operator prices them.
BATCH_NORM_STATISTICS = "batch_norm_statistics"
BATCH_NORM_NORMALIZE = "batch_norm_normalize"
BATCH_NORM_BACKWARD_REDUCE = "batch_norm_backward_reduce"
BATCH_NORM_BACKWARD = "batch_norm_backward"
RELU_BACKWARD = "relu_backward"
GRADIENT_ADD = "gradient_add"
MAX_POOL_BACKWARD = "max_pool_backward"
AVERAGE_POOL_BACKWARD = "average_pool_backward"
LOSS = "cross_entropy"
LOSS_BACKWARD = "cross_entropy_backward"
CONVOLUTION_DGRAD = "convolution_dgrad"
CONVOLUTION_WGRAD = "convolution_wgrad"
LINEAR_DGRAD = "linear_dgrad"
LINEAR_WGRAD = "linear_wgrad"
TRAINING_OPERATORS = (BATCH_NORM_STATISTICS, BATCH_NORM_NORMALIZE, BATCH_NORM_BACKWARD_REDUCE, BATCH_NORM_BACKWARD,
                      RELU_BACKWARD, GRADIENT_ADD, MAX_POOL_BACKWARD, AVERAGE_POOL_BACKWARD, LOSS, LOSS_BACKWARD,
                      CONVOLUTION_DGRAD, CONVOLUTION_WGRAD, LINEAR_DGRAD, LINEAR_WGRAD)
# Training-mode batch norm: reduce each channel's statistics (one read), then normalise (a
# read and a write), as (operator, element accesses per output element).
TRAINING_BATCH_NORM = ((BATCH_NORM_STATISTICS, 1.0), (BATCH_NORM_NORMALIZE, 2.0))
# Learned parameters of a batch norm per channel: its scale and shift.
BATCH_NORM_PARAMETERS = 2.0
# Element accesses of a kernel that reads two tensors and writes one (as the residual add).
TWO_READS_ONE_WRITE = ADD_ACCESSES


@lru_cache(maxsize=None)
def resnet_training_graph(shape: ResNetShape, index_elements: float = 1.0) -> tuple[KernelGraph, KernelGraph]:
    """Every kernel of one training step of ResNet `shape`, per sample as
    `convolution.KernelGraph` counts it [1]: (the forward pass, the backward pass).

    `index_elements` is how many activation elements one saved max-pool index occupies (an
    8-byte integer: 4 elements at 16 bits). A kernel with matrix math and no rows per sample
    (0) is a weight gradient: its output is the filter, and the batch is its reduction.

    Per convolution unit (E_in, E_out its input and output elements per sample, F its FLOPs),
    accesses per sample: forward convolution F, E_in + E_out; batch-norm statistics E_out,
    normalisation 2 E_out; residual add 3 E_out; ReLU 2 E_out (in place). Backward: ReLU
    3 E_out; batch-norm reduction 2 E_out and input gradient 3 E_out; data gradient F,
    E_out + E_in (none for the stem); weight gradient F, E_in + E_out and its weights
    written. Max pool: forward E_in + E_out + index_elements x E_out, backward
    E_out + index_elements x E_out + E_in. Global average pool: E_in + C both ways. Where a
    block begins, 3 x its input elements (the two branch gradients added). The classifier:
    its two gradient GEMMs of the forward FLOPs, and the loss 2 x classes each way.

    References
    ----------
    NVIDIA CUTLASS, include/cutlass/conv/conv2d_problem_size.h, `implicit_gemm_problem_size`
    (Fprop: N P Q x K x C R S; Dgrad: N H W x C x K R S; Wgrad: K x C R S x N P Q).
    PyTorch, aten/src/ATen/native/cuda/Normalization.cuh (batch_norm_collect_statistics_kernel,
    batch_norm_transform_input_kernel, batch_norm_backward_reduce_kernel,
    batch_norm_backward_elemt_kernel).
    Rumelhart, Hinton & Williams 1986, "Learning representations by back-propagating errors",
    Nature 323 (the backward pass visits the layers in reverse).
    """
    layers = resnet_layers(shape)
    forward, backward = GraphBuilder(), GraphBuilder()
    for layer in layers:
        _forward(forward, layer, index_elements)
    stem = layers[0]
    for layer in reversed(layers):
        _backward(backward, layer, index_elements, input_gradient=layer is not stem)
    return forward.graph(), backward.graph()


def _forward(b: GraphBuilder, layer: Layer, index_elements: float) -> None:
    if isinstance(layer, Convolution):
        unfused_convolution(b, layer, TRAINING_BATCH_NORM)
    elif isinstance(layer, Pool):
        indices = index_elements * layer.elements_out if layer.operator == MAX_POOL else 0.0
        b.elementwise(layer.operator, layer.elements_in + layer.elements_out + indices)
    elif isinstance(layer, Linear):
        linear_kernel(b, layer)
        b.elementwise(LOSS, 2.0 * layer.classes)  # read the logits, write the log-probabilities


def _backward(b: GraphBuilder, layer: Layer, index_elements: float, input_gradient: bool) -> None:
    if isinstance(layer, Convolution):
        out, into = layer.elements_out, layer.elements_in
        if layer.relu:
            b.elementwise(RELU_BACKWARD, TWO_READS_ONE_WRITE * out)  # read the gradient and the saved output
        b.elementwise(BATCH_NORM_BACKWARD_REDUCE, 2.0 * out)  # read the input and the gradient
        b.elementwise(BATCH_NORM_BACKWARD, TWO_READS_ONE_WRITE * out)  # read both again, write the input's
        if input_gradient:
            b.add(CONVOLUTION_DGRAD, float(layer.side_in * layer.side_in), float(layer.channels_in), layer.flops,
                  out + into, layer.weights)
        b.add(CONVOLUTION_WGRAD, 0.0, layer.depth, layer.flops, into + out, layer.weights)
    elif isinstance(layer, Pool):
        if layer.operator == MAX_POOL:
            b.elementwise(MAX_POOL_BACKWARD, layer.elements_out * (1.0 + index_elements) + layer.elements_in)
        else:
            b.elementwise(AVERAGE_POOL_BACKWARD, layer.elements_out + layer.elements_in)
    elif isinstance(layer, Linear):
        flops = 2.0 * layer.features * layer.classes
        b.elementwise(LOSS_BACKWARD, 2.0 * layer.classes)
        b.add(LINEAR_DGRAD, 1.0, float(layer.features), flops, float(layer.classes + layer.features),
              float(layer.features * layer.classes))
        b.add(LINEAR_WGRAD, 0.0, float(layer.features), flops, float(layer.features + layer.classes),
              float(layer.features * layer.classes))
    elif isinstance(layer, BlockInput):
        b.elementwise(GRADIENT_ADD, TWO_READS_ONE_WRITE * layer.elements)


@lru_cache(maxsize=None)
def resnet_parameters(shape: ResNetShape) -> float:
    """Learned parameters of ResNet `shape` [1]: every convolution's filter, each batch norm's
    scale and shift per channel, and the classifier's weights and biases (torchvision's
    ResNet: its convolutions have no bias)."""
    total = 0.0
    for layer in resnet_layers(shape):
        if isinstance(layer, Convolution):
            total += layer.weights + BATCH_NORM_PARAMETERS * layer.channels_out
        elif isinstance(layer, Linear):
            total += layer.features * layer.classes + layer.classes
    return total


@lru_cache(maxsize=None)
def saved_activation_elements(shape: ResNetShape, index_elements: float = 1.0) -> float:
    """Activation elements per sample the forward pass keeps for the backward pass [1]: the
    input image; per convolution its output (the batch norm's input) and the tensor after
    its batch norm (the ReLU's output, in place, or what the residual add reads); per pool
    its output (the next layer's input) and, for a max pool, its indices (`index_elements`
    each). Every other layer's input is one of these, so each tensor is counted once."""
    layers = resnet_layers(shape)
    total = layers[0].elements_in
    for layer in layers:
        if isinstance(layer, Convolution):
            total += 2.0 * layer.elements_out
        elif isinstance(layer, Pool):
            total += layer.elements_out * (1.0 + (index_elements if layer.operator == MAX_POOL else 0.0))
    return total
