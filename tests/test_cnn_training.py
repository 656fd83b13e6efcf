"""Training a residual CNN: the kernels of a training step (convolution_training), their
roofline one kernel at a time, and CNNTrainingModel's data-parallel step (gradient all-reduce
behind the backward pass, the optimizer's passes, memory), as the validation runner uses it."""

import json

import pytest

from mlsysim import CNNTrainingModel
from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.evaluate.validation import run_one
from mlsysim.solvers.cnn_training import sgd_update_bytes
from mlsysim.solvers.convolution import KernelGraph, ResNetShape, layer_roofline_time, resnet_graph, resnet_layers
from mlsysim.solvers.convolution_training import (
    CONVOLUTION_DGRAD,
    CONVOLUTION_WGRAD,
    resnet_parameters,
    resnet_training_graph,
    saved_activation_elements,
)
from mlsysim.solvers.roofline import ring_allreduce_time

RESNET50 = ResNetShape("bottleneck", (3, 4, 6, 3), 64, 1000, 224)
RESNET18 = ResNetShape("basic", (2, 2, 2, 2), 64, 1000, 224)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_parameters_are_torchvisions_counts(catalog):
    """Every filter, each batch norm's scale and shift and the fc's weights and biases:
    25,557,032 for ResNet-50 and 11,689,512 for ResNet-18 (torchvision's ResNet50_Weights and
    ResNet18_Weights documentation, num_params)."""
    assert resnet_parameters(RESNET50) == catalog.get("models", "resnet50").parameters.si == 25_557_032
    assert resnet_parameters(RESNET18) == 11_689_512


def test_a_training_step_runs_every_gemm_three_times_but_the_stems_data_gradient():
    """Forward, data gradient and weight gradient of each convolution and of the fc: 3x the
    forward FLOPs, less the stem's data gradient (the image needs none)."""
    inference = resnet_graph(RESNET50)
    forward, backward = resnet_training_graph(RESNET50)
    stem = resnet_layers(RESNET50)[0]
    assert forward.flops_per_sample == inference.flops_per_sample
    assert backward.flops_per_sample == pytest.approx(2 * inference.flops_per_sample - stem.flops)
    ops = backward.operators
    assert ops.count(CONVOLUTION_WGRAD) == 53 and ops.count(CONVOLUTION_DGRAD) == 52
    # Training-mode batch norm adds one statistics kernel per convolution, the loss one more.
    assert forward.kernels == inference.kernels + 53 + 1
    # Weight gradients have no rows per sample: their GEMM's rows are the filters'.
    assert all(r == 0 for r, o in zip(backward.rows, ops) if o == CONVOLUTION_WGRAD)


def test_backward_moves_about_twice_the_forward_activations():
    forward, backward = resnet_training_graph(RESNET50)
    assert 1.5 < backward.activation_elements / forward.activation_elements < 2.5
    # A wider max-pool index (8-byte integers at 16 bits: 4 elements) adds traffic both ways.
    wide_f, wide_b = resnet_training_graph(RESNET50, 4.0)
    assert wide_f.activation_elements > forward.activation_elements
    assert wide_b.activation_elements > backward.activation_elements
    saved = saved_activation_elements(RESNET50)
    assert resnet_layers(RESNET50)[0].elements_in < saved < forward.activation_elements


def test_a_weight_gradient_is_charged_no_tile_quantization():
    """Its GEMM's rows do not grow with the batch and its reduction (the batch) is split across
    the SMs, so it runs at the compute roof whatever the tile and wave."""
    wgrad = KernelGraph((0.0,), (576.0,), (2e9,), (1e6,), (36864.0,), (CONVOLUTION_WGRAD,))
    tiled = layer_roofline_time(wgrad, 8, 1e14, 1e12, 1.0, 1.0, 2.0, 128.0, 128.0, 108.0)
    plain = layer_roofline_time(wgrad, 8, 1e14, 1e12, 1.0, 1.0, 2.0)
    assert tiled.time == plain.time and tiled.slowdown == 1.0


def test_data_parallel_step_on_a_node(catalog):
    """Eight A100s of a DGX A100 at the same per-GPU batch: the same kernels, plus the part of
    the gradient ring all-reduce (fp32 gradients over NVLink) the backward pass cannot hide:
    at least the last bucket's."""
    one = CNNTrainingModel.solve("resnet50", "dgx_a100", batch_size=256, devices=1)
    eight = CNNTrainingModel.solve("resnet50", "dgx_a100", batch_size=2048)
    assert eight.devices == 8 and one.devices == 1 and eight.microbatch == one.microbatch == 256
    assert one.dp_comm_time == one.dp_comm_total == 0.0
    node = catalog.get("nodes", "dgx_a100")
    link = node.intra_node_bandwidth.si / 2  # per direction (the record states both directions)
    assert eight.dp_comm_total == pytest.approx(ring_allreduce_time(25_557_032 * 4, 8, link), rel=1e-6)
    last = ring_allreduce_time(1e6, 8, link)
    assert eight.dp_comm_time == pytest.approx(max(eight.dp_comm_total - eight.backward_time, last))
    assert eight.step_time == pytest.approx(one.step_time + eight.dp_comm_time)
    assert eight.samples_per_second == pytest.approx(2048 / eight.step_time)
    assert "assumptions/ddp_last_bucket_bytes#quantity" in eight.lineage
    assert "assumptions/ddp_last_bucket_bytes#quantity" not in one.lineage
    assert eight.feasible and eight.memory_total < eight.memory_capacity
    assert 0 < eight.mfu < 1 and eight.quantity("step_time", "ms").magnitude == pytest.approx(eight.step_time * 1e3)


def test_gradient_accumulation_repeats_the_passes_not_the_all_reduce():
    whole = CNNTrainingModel.solve("resnet50", "dgx_a100", batch_size=2048, devices=8)
    split = CNNTrainingModel.solve("resnet50", "dgx_a100", batch_size=2048, devices=8, microbatch=64)
    assert split.microbatches == 4 and split.microbatch == 64
    assert split.dp_comm_total == whole.dp_comm_total
    assert split.update_time > whole.update_time  # the accumulation's passes over the gradients
    assert split.memory_activations == pytest.approx(whole.memory_activations / 4)


def test_across_nodes_the_all_reduce_takes_two_levels(catalog):
    cluster = catalog.get("clusters", "lab_64_a100")
    inside = CNNTrainingModel.solve("resnet50", cluster, batch_size=2048, devices=8)
    across = CNNTrainingModel.solve("resnet50", cluster, batch_size=4096, devices=16)
    assert across.dp_comm_total > inside.dp_comm_total
    assert any(e.path.startswith("fabrics/") for e in across.lineage.entries())


def test_sgd_update_bytes():
    """torch.optim.SGD with weight decay and momentum: nine fp32 accesses per parameter;
    mixed precision adds the unscale (8 B) and, per pass, the weight's cast and the weight
    gradient's (6 B each); accumulating passes 2..m reads and writes 12 B more each."""
    assert sgd_update_bytes(1.0, 1, mixed=False) == 36.0
    assert sgd_update_bytes(1.0, 1, mixed=True) == 36.0 + 8.0 + 12.0
    assert sgd_update_bytes(10.0, 3, mixed=True) == 10.0 * (36.0 + 2 * 12.0 + 8.0 + 3 * 12.0)


@pytest.mark.parametrize("call, message", [
    (dict(model="llama3_8b", hardware="dgx_a100", batch_size=8), "DistributedModel"),
    (dict(model="resnet50", hardware="a100_sxm_80gb", batch_size=512, devices=2), "node or a cluster"),
    (dict(model="resnet50", hardware="dgx_a100", batch_size=100), "split evenly"),
    (dict(model="resnet50", hardware="dgx_a100", batch_size=2048, microbatch=100), "divide"),
    (dict(model="resnet50", hardware="dgx_a100", batch_size=256, devices=16), "cluster"),
    (dict(model="resnet50", hardware="a100_sxm_80gb", batch_size=256, precision="int8"), "quantized"),
])
def test_bad_inputs_say_what_to_do(call, message):
    with pytest.raises(MlsysimError, match=message):
        CNNTrainingModel.solve(**call)


def test_the_validation_rows_are_priced_by_it(catalog):
    """NVIDIA's DeepLearningExamples ResNet-50 v1.5 training on a DGX A100, mixed precision:
    2,470 images/s on one GPU and 16,621 on eight (README at 291f0d0, 'Training performance:
    NVIDIA DGX A100 (8x A100 80GB)'); on a DGX-1 with 16 GB V100s in FP32, 367 on one GPU and
    2,855 on eight ('Training performance: NVIDIA DGX-1 16GB (8x V100 16GB)'). The README's
    launcher reads configs.yml of the same commit: AMP 256 images per GPU in channels-last
    tensors toward an optimizer batch of 2,048, FP32 112 per GPU toward 896. The runner prices
    each with CNNTrainingModel on the node at that microbatch, accumulating gradients on one
    GPU, says which convolution figure stands in for the layout, and what the prediction
    leaves out."""
    for node, mode, batch, micro in (("dgx_a100", "amp", 2048, 256), ("dgx1_v100_16gb", "fp32", 896, 112)):
        for devices in (1, 8):
            rec = catalog.get("measurements", f"dle_resnet50_train_{node}_{devices}gpu_{mode}")
            result = run_one(rec, catalog)
            precision = "fp16" if mode == "amp" else "fp32"
            expected = CNNTrainingModel.solve("resnet50", node, batch_size=batch, precision=precision, devices=devices,
                                              microbatch=micro)
            assert expected.microbatches == batch // (micro * devices)
            assert result.predicted == pytest.approx(expected.samples_per_second)
            assert any("input pipeline" in r for r in result.remarks)
            assert any("default convolution figure: none is cited for the" in a for a in result.assumed)
            assert not any(a.startswith("microbatch") for a in result.assumed)


def test_a_cnn_plan_on_a_cluster_trains_data_parallel(cli, tmp_path):
    """A plan naming a ResNet and a cluster gets CNNTrainingModel's scorecard: data parallel
    over the devices asked for, samples (not tokens) per second, energy and cost for the
    duration, and what the step leaves unpriced."""
    plan = tmp_path / "resnet.yaml"
    plan.write_text("model: ResNet50\ncluster: Lab_64_A100\ndevices: 16\nprecision: fp16\nbatch_size: 4096\n"
                    "duration: 1 day\n", encoding="utf-8")
    r = cli("eval", str(plan))
    assert r.code == 0, r.err
    assert "data parallel over 16 devices" in r.out and "samples/s" in r.out and "samples_trained" in r.out
    assert "not priced: the input pipeline" in r.out
    j = cli("eval", str(plan), "-o", "json")
    assert j.code == 0, j.err
    perf = json.loads(j.out)["performance"]["metrics"]
    expected = CNNTrainingModel.solve("resnet50", "lab_64_a100", batch_size=4096, devices=16)
    assert perf["samples_per_second"] == pytest.approx(expected.samples_per_second)


def test_a_cnn_plan_that_does_not_fit_fails_feasibility(cli, tmp_path):
    plan = tmp_path / "big.yaml"
    plan.write_text("model: ResNet50\ncluster: Lab_64_A100\ndevices: 8\nprecision: fp16\nbatch_size: 32768\n",
                    encoding="utf-8")
    r = cli("eval", str(plan))
    assert r.code == 2, r.out + r.err
    assert "out of memory" in r.out


def test_a_stated_layout_prices_the_step_at_that_layouts_figures():
    """On an H200 the catalog cites NCHW and channels-last convolution and element-wise
    figures (first-party); the step rests only on the lines of the operators it runs."""
    nchw = CNNTrainingModel.solve("resnet50", "h200", batch_size=256, layout="nchw")
    last = CNNTrainingModel.solve("resnet50", "h200", batch_size=256, layout="channels_last")
    assert nchw.step_time != last.step_time
    used = {e.path for e in nchw.lineage.entries()}
    assert "assumptions/conv_efficiency_hopper_fp16_nchw#quantity" in used
    assert "assumptions/operator_fixed_time_hopper_fp16_relu#quantity" in used
    # Training-mode batch norm is not the inference kernel whose line is cited.
    assert not any("batch_norm" in path for path in used)
    with pytest.raises(MlsysimError, match="layout"):
        CNNTrainingModel.solve("resnet50", "dgx_a100", batch_size=256, devices=1, layout="channels_last")


def test_the_step_is_checked_against_physical_bounds():
    """No step beats the peak or the memory bandwidth: none is warned of on the bundled catalog's
    CNN-ready accelerators, at a latency-bound and a throughput-bound batch."""
    solved = 0
    for hardware in ("a100_sxm_80gb", "h100_sxm", "h200", "l4", "t4"):
        for batch in (1, 256):
            t = CNNTrainingModel.solve("resnet50", hardware, batch_size=batch)
            assert t.warnings == (), (hardware, batch, t.warnings)
            assert t.mfu < 1
            solved += 1
    assert solved == 10


def test_every_row_of_nvidias_resnet50_training_tables_is_priced(catalog):
    """All twelve rows of the README's DGX A100, DGX-1 16 GB and DGX-1 32 GB training tables (1
    and 8 GPUs; mixed precision, and TF32 on the A100 or FP32 on the V100) are expressed, each
    saying what it leaves unpriced; the 16 GB rows run on the 16 GB V100 record."""
    rows = [r for r in catalog.records("measurements") if r.id.startswith("dle_resnet50_train_")]
    assert len(rows) == 12
    assert {r.plain_fields["hardware"] for r in rows if "16gb" in r.id} == {"v100_16gb"}
    for rec in rows:
        result = run_one(rec, catalog)
        assert result.predicted is not None, (rec.id, result.reason)
        assert any("input pipeline" in r for r in result.remarks)
