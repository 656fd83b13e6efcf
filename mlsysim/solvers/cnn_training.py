"""CNNTrainingModel: one data-parallel training step of a residual CNN, one kernel at a time.

    >>> from mlsysim import CNNTrainingModel
    >>> r = CNNTrainingModel.solve("resnet50", "dgx_a100", batch_size=2048, precision="fp16")
    >>> f"{r.samples_per_second:,.0f} images/s on {r.devices} GPUs"
    '24,064 images/s on 8 GPUs'

Each device runs the forward and backward passes of its microbatches as eager PyTorch does
(`convolution_training.resnet_training_graph`), every kernel priced by the roofline the
inference solver uses (`convolution.layer_roofline_time`: the convolutions' GEMMs at the
accelerator's cited efficiency with their tile and wave quantization, the element-wise
kernels at its cited memory efficiency, activations held in the L2 where they fit), plus the
cited launch time of each kernel. Mixed precision (fp16, bf16) keeps fp32 parameters,
gradients and momentum, as PyTorch's automatic mixed precision does, and runs the kernels in
16 bits. Once per optimizer step the gradients are all-reduced over the devices (a ring inside
a node, two levels across nodes) behind the last microbatch's backward pass, as
DistributedDataParallel's buckets are, and SGD with momentum and weight decay updates the
parameters in memory-bound element-wise passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.convolution import layer_roofline_time
from mlsysim.solvers.convolution_training import (
    resnet_parameters,
    resnet_training_graph,
    saved_activation_elements,
)
from mlsysim.solvers.fleet import Fleet
from mlsysim.solvers.pass_overheads import kernel_launches
from mlsysim.solvers.plausibility import bound_warnings
from mlsysim.solvers.results import QuantityView, result_dict
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT, hierarchical_allreduce_time, ring_allreduce_time
from mlsysim.solvers.terms import cited_assumption
from mlsysim.solvers.training_sync import GRADIENT_ACCUMULATION_ACCESSES

__all__ = ["CNNTrainingModel", "CNNTrainingResult", "sgd_update_bytes"]

# The size of DistributedDataParallel's last gradient bucket (catalog/assumptions/).
LAST_BUCKET = "ddp_last_bucket_bytes"
# Bytes of a parameter, its gradient and its momentum as mixed precision keeps them (fp32),
# and of the 16-bit copies its kernels use.
FP32, HALF = BYTES_PER_ELEMENT["fp32"], BYTES_PER_ELEMENT["fp16"]
# Bytes of a max-pool index (PyTorch saves them as 64-bit integers).
INDEX_BYTES = BYTES_PER_ELEMENT["fp64"]
# Element-wise accesses per parameter of one step of torch.optim.SGD with weight decay and
# momentum: g += wd p (read g and p, write g), b = mu b + g (read b and g, write b),
# p -= lr b (read p and b, write p).
SGD_ACCESSES = 9
# Mixed precision's bytes per parameter: autocast casts each fp32 weight to 16 bits for every
# forward pass (read 4 B, write 2 B), the 16-bit weight gradient is cast into the fp32 .grad
# (read 2 B, write 4 B), and GradScaler unscales each fp32 gradient once per step (read and
# write it).
AUTOCAST_CAST_BYTES = GRADIENT_CAST_BYTES = FP32 + HALF
UNSCALE_BYTES = 2.0 * FP32
# An in-place add of a microbatch's gradients into the accumulated ones: read both, write one.
ACCUMULATE_BYTES = GRADIENT_ACCUMULATION_ACCESSES * FP32
MIXED_PRECISIONS = ("fp16", "bf16")
# What a network trains in: PyTorch's mixed precision, or 32 bits (TF32 on tensor cores, or plain FP32).
TRAINING_PRECISIONS = MIXED_PRECISIONS + ("tf32", "fp32")


def sgd_update_bytes(parameters: float, microbatches: int, mixed: bool) -> float:
    """Bytes one optimizer step moves outside the kernels of the passes [B], for `parameters`
    learned parameters over `microbatches` forward and backward passes:

        P x (9 x 4 B                                  SGD with weight decay and momentum (fp32)
             + [mixed] (2 x 4 B                       GradScaler's unscale of each gradient
                        + m x (6 B + 6 B))            per pass: autocast's weight cast and the
                                                      weight gradient's cast into fp32
             + (m - 1) x 3 x 4 B)                     accumulating passes 2..m into .grad

    References
    ----------
    PyTorch documentation, torch.optim.SGD (the algorithm: weight decay, momentum, update).
    PyTorch documentation, Automatic Mixed Precision package - torch.amp (autocast casts a
    float32 parameter's copy for each op run in lower precision; GradScaler.unscale_).
    """
    per = SGD_ACCESSES * FP32 + (microbatches - 1) * ACCUMULATE_BYTES
    if mixed:
        per += UNSCALE_BYTES + microbatches * (AUTOCAST_CAST_BYTES + GRADIENT_CAST_BYTES)
    return parameters * per


@dataclass(frozen=True)
class CNNTrainingResult(QuantityView):
    """One optimizer step of data-parallel CNN training (SI floats; `quantity(name)` for units).

    `compute_time` is the forward and backward kernels of every microbatch (their roofline,
    one kernel at a time), `launch_time` their launches, `update_time` the optimizer and
    mixed-precision passes over the parameters, `dp_comm_time` the gradient all-reduce left
    exposed after the last backward pass (of `dp_comm_total` in all)."""

    model: str
    hardware: str
    precision: str
    devices: int
    global_batch: int
    microbatch: int
    microbatches: int
    step_time: float
    compute_time: float
    forward_time: float
    backward_time: float
    launch_time: float
    update_time: float
    dp_comm_time: float
    dp_comm_total: float
    samples_per_second: float
    flops_per_step: float
    achieved_flops_per_device: float
    mfu: float
    kernels_per_microbatch: int
    parameters: float
    memory_weights: float
    memory_gradients: float
    memory_optimizer: float
    memory_activations: float
    memory_total: float
    memory_capacity: float
    feasible: bool
    lineage: Lineage = field(repr=False, compare=False)
    unpriced: tuple[str, ...] = ()
    # Physical bounds the step breaks (plausibility.bound_warnings): none by construction,
    # checked all the same.
    warnings: tuple[str, ...] = ()

    UNITS = {
        "step_time": "s", "compute_time": "s", "forward_time": "s", "backward_time": "s", "launch_time": "s",
        "update_time": "s", "dp_comm_time": "s", "dp_comm_total": "s", "samples_per_second": "1/s",
        "flops_per_step": "FLOP", "achieved_flops_per_device": "FLOP/s", "mfu": "", "parameters": "",
        "memory_weights": "B", "memory_gradients": "B", "memory_optimizer": "B", "memory_activations": "B",
        "memory_total": "B", "memory_capacity": "B",
    }

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


@dataclass(frozen=True)
class _Devices:
    """The accelerator a job runs on, how many, and how fast their gradients can be summed:
    per-direction bandwidth inside a node and across nodes [B/s], the fabric's latency [s]."""

    accelerator: Record
    devices: int
    per_node: int
    intra_bw: float
    inter_bw: float
    inter_latency: float
    lineage: Lineage


class CNNTrainingModel:
    """Data-parallel training of a CNN with a described layer structure (a `resnet:` block)."""

    @staticmethod
    def solve(model: Record | str, hardware: Record | str, batch_size: int, precision: str = "fp16",
              devices: int | None = None, microbatch: int | None = None,
              layout: str | None = None) -> CNNTrainingResult:
        """One optimizer step of `model` trained with `batch_size` samples (the global batch)
        over `devices` accelerators of `hardware`: an accelerator (one device), a node (default:
        all its accelerators) or a cluster (default: all of it). `microbatch` is the samples
        each device runs per forward and backward pass (default: batch_size / devices, no
        gradient accumulation); fp16 and bf16 are PyTorch's mixed precision, fp32 and tf32
        keep everything in 32 bits. `layout` ("nchw", "channels_last") prices the convolutions
        and the element-wise kernels at the figures cited for that tensor layout, as
        Engine.solve does (default: the default figures)."""
        from mlsysim.solvers.engine import roofline_terms

        if precision not in TRAINING_PRECISIONS:
            raise MlsysimError(f"precision {precision!r}: CNNTrainingModel trains in {', '.join(TRAINING_PRECISIONS)} "
                               "(fp16 and bf16 as PyTorch's mixed precision); a quantized format is for inference")
        catalog = inputs.catalog_of(model, hardware)
        model = inputs.record(model, "models", catalog, "model")
        target = _devices(hardware, devices, catalog)
        terms = roofline_terms(model, target.accelerator, precision, layout=layout)
        layers = terms.layers
        if layers is None:
            raise MlsysimError(f"{model.label} has no described layer structure (a 'resnet:' block) in the catalog; "
                               "CNNTrainingModel prices a ResNet's kernels one by one. For a transformer use "
                               "DistributedModel")
        batch = inputs.positive_int(batch_size, "batch_size (global batch, in samples)")
        n = target.devices
        if batch % n:
            raise MlsysimError(f"batch_size {batch} does not split evenly over {n} devices; use a multiple of {n}")
        per_device = batch // n
        micro = per_device if microbatch is None else inputs.positive_int(microbatch, "microbatch")
        if per_device % micro:
            raise MlsysimError(f"microbatch {micro} does not divide the {per_device} samples each device runs per "
                               f"step; use a divisor of {per_device}")
        steps = per_device // micro
        h, eff = terms.hardware, terms.efficiencies
        nbytes = BYTES_PER_ELEMENT[h.precision]
        mixed = h.precision in MIXED_PRECISIONS
        forward, backward = resnet_training_graph(terms.model.resnet, INDEX_BYTES / nbytes)

        # The measured lines of the inference operators a training step also runs (its ReLUs,
        # residual adds and pools); its batch norms and backward kernels are other kernels.
        ran = set(forward.operators) | set(backward.operators)
        lines = {op: line for op, line in layers.lines.items() if op in ran}

        def priced(graph: Any) -> Any:
            return layer_roofline_time(graph, micro, h.peak, h.bandwidth, eff.gemm * layers.efficiency_scale,
                                       eff.memory, nbytes, layers.tile_rows, layers.tile_columns, layers.wave,
                                       layers.cache, lines)

        fwd, bwd = priced(forward), priced(backward)
        kernels = forward.kernels + backward.kernels
        launches = kernel_launches(kernels, h)
        params = resnet_parameters(terms.model.resnet)
        lineage = Lineage()
        for part in (terms.model.lineage, h.lineage, eff.lineage, layers.lineage_for(ran), launches.lineage,
                     target.lineage):
            lineage.merge(part)
        update_bytes = sgd_update_bytes(params, steps, mixed)
        update = update_bytes / (h.bandwidth * eff.memory)
        total_comm, exposed = _gradient_sync(target, params * FP32, float(bwd.time), catalog, lineage)
        compute = steps * float(fwd.time + bwd.time)
        launch_time = steps * launches.seconds
        step = compute + launch_time + update + exposed
        flops = batch * (forward.flops_per_sample + backward.flops_per_sample)
        weights = gradients = optimizer = params * FP32  # fp32 parameters, gradients and momentum
        activations = micro * saved_activation_elements(terms.model.resnet, INDEX_BYTES / nbytes) * nbytes
        needed = weights + gradients + optimizer + activations
        unpriced = ("the host's dispatch of each operator of the step (eager PyTorch), hidden while the GPU's "
                    "kernels take longer than it, as they do at large microbatches",
                    "the input pipeline (reading, decoding and augmenting the images), taken to keep up")
        if launches.unpriced:
            unpriced += (launches.unpriced,)
        moved = steps * float(fwd.bytes + bwd.bytes) + update_bytes
        warnings = bound_warnings(flops / n, moved, step, h.peak, h.bandwidth, what="the training step")
        return CNNTrainingResult(
            model=model.label, hardware=target.accelerator.label, precision=h.precision, devices=n, global_batch=batch,
            microbatch=micro, microbatches=steps, step_time=step, compute_time=compute,
            forward_time=steps * float(fwd.time), backward_time=steps * float(bwd.time), launch_time=launch_time,
            update_time=update, dp_comm_time=exposed, dp_comm_total=total_comm, samples_per_second=batch / step,
            flops_per_step=flops, achieved_flops_per_device=flops / n / step, mfu=flops / n / step / h.peak,
            kernels_per_microbatch=kernels, parameters=params, memory_weights=weights, memory_gradients=gradients,
            memory_optimizer=optimizer, memory_activations=activations, memory_total=needed,
            memory_capacity=h.capacity, feasible=needed <= h.capacity, lineage=lineage, unpriced=unpriced,
            warnings=tuple(warnings))


def _gradient_sync(target: _Devices, gradient_bytes: float, backward: float, catalog: Any,
                   lineage: Lineage) -> tuple[float, float]:
    """(all-reduce time of every gradient, the part left exposed) [s]: a ring inside a node,
    two levels across nodes (`roofline.hierarchical_allreduce_time`). The buckets are summed
    while the last microbatch's backward pass (`backward` [s]) runs; the last bucket (the
    first layers' gradients, `ddp_last_bucket_bytes`) only after it, so
    exposed = max(T_all - T_backward, T_last)."""
    if target.devices == 1:
        return 0.0, 0.0
    last = min(gradient_bytes, lineage.use(cited_assumption(catalog, LAST_BUCKET, "the last gradient bucket",
                                                            "CNN training solver")))

    def allreduce(nbytes: float) -> float:
        if target.devices <= target.per_node:
            return ring_allreduce_time(nbytes, target.devices, target.intra_bw)
        return hierarchical_allreduce_time(nbytes, target.per_node, -(-target.devices // target.per_node),
                                           target.intra_bw, target.inter_bw, target.inter_latency)

    total = allreduce(gradient_bytes)
    return total, max(total - backward, allreduce(last))


def _devices(hardware: Any, devices: int | None, catalog: Any) -> _Devices:
    """The accelerator, device count and gradient links of `hardware` (see CNNTrainingModel.solve)."""
    if isinstance(hardware, str):
        found = next((r for r in (catalog.lookup(k, hardware) for k in ("clusters", "nodes")) if r is not None), None)
        found = found or inputs.record(hardware, "hardware", catalog, "hardware")
    elif isinstance(hardware, Record) and hardware.kind in ("clusters", "nodes", "hardware"):
        found = inputs.record(hardware, hardware.kind, catalog, "hardware")
    else:
        raise MlsysimError(f"hardware must be an accelerator, node or cluster record or its name, got {hardware!r}")
    if found.kind == "clusters":
        fleet = Fleet.from_cluster(found, devices)
        return _Devices(fleet.hardware, fleet.devices, fleet.per_node, fleet.intra_bw, fleet.inter_bw_per_device,
                        fleet.inter_latency, fleet.lineage)
    if found.kind == "hardware":
        count = 1 if devices is None else inputs.positive_int(devices, "devices")
        if count != 1:
            raise MlsysimError(f"devices={count} on {found.label} alone: the gradients' links are not known; pass a "
                               "node or a cluster record for data-parallel training")
        return _Devices(found, 1, 1, 0.0, 0.0, 0.0, Lineage())
    lineage = Lineage()
    per_node = int(round(lineage.use(found.accelerator_count)))
    count = per_node if devices is None else inputs.positive_int(devices, "devices")
    if count > per_node:
        raise MlsysimError(f"{found.label} has {per_node} accelerators; the job asks for {count}. Pass a cluster "
                           "for more than one node")
    intra = inputs.per_direction(found.intra_node_bandwidth, lineage) if count > 1 else 0.0
    return _Devices(found.accelerator, count, per_node, intra, 0.0, 0.0, lineage)
