"""A residual CNN priced one kernel at a time: the kernel graph derived from a ResNet's layer
structure, its per-kernel roofline with tile and wave quantization, TensorRT's fused graph,
and how Engine.solve, sweeps, eval and the validation runner use them."""

import json
import math

import numpy as np
import pytest

from mlsysim import Engine
from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.convolution import KernelGraph, ResNetShape, layer_roofline_time, resnet_graph
from mlsysim.solvers.kernel_efficiency import pass_efficiencies
from mlsysim.solvers.layer_terms import layer_terms
from mlsysim.solvers.terms import hardware_terms, model_terms

RESNET50 = ResNetShape("bottleneck", (3, 4, 6, 3), 64, 1000, 224)
RESNET18 = ResNetShape("basic", (2, 2, 2, 2), 64, 1000, 224)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_unfused_resnet50_graph_is_the_counted_operator_graph(catalog):
    """The graph derived from the `resnet:` block reproduces, operator for operator, the counts
    the ResNet-50 record cites from torchvision's resnet.py: 174 kernels, 80,888,808 activation
    elements read and written, and torchvision's 4.09 GMAC per image."""
    record = catalog.get("models", "resnet50")
    graph = resnet_graph(RESNET50)
    assert model_terms(record).resnet == RESNET50
    assert graph.kernels == record.kernels_per_inference.si == 174
    assert graph.activation_elements == record.activation_elements_per_inference.si == 80_888_808
    assert graph.flops_per_sample / 2 == pytest.approx(record.flops_per_inference.si / 2, rel=0.001)
    # The weights the convolutions and fc read: every parameter but batch norm's and the fc bias.
    assert sum(graph.weights) == pytest.approx(record.parameters.si, rel=0.003)
    assert sum(graph.weights) < record.parameters.si


def test_resnet18_basic_blocks(catalog):
    """torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]): 1.81 GMAC and 11,689,512 parameters
    (torchvision's ResNet18_Weights documentation)."""
    record = catalog.get("models", "resnet18")
    graph = resnet_graph(RESNET18)
    assert model_terms(record).resnet == RESNET18
    assert graph.flops_per_sample / 2 == pytest.approx(1.81e9, rel=0.003)
    assert sum(graph.weights) == pytest.approx(record.parameters.si, rel=0.003)


def test_tensorrt_graph_fuses_norm_relu_and_add_into_the_convolutions():
    """53 convolutions + max pool + average pool + fc = 56 kernels; the same FLOPs; the
    element-wise kernels' traffic gone, the residual's second operand read by the convolution."""
    unfused, fused = resnet_graph(RESNET50), resnet_graph(RESNET50, fused=True)
    assert fused.kernels == 56
    assert sum(1 for f in fused.flops if f) == sum(1 for f in unfused.flops if f) == 54
    assert fused.flops_per_sample == unfused.flops_per_sample
    assert sum(fused.weights) == sum(unfused.weights)
    assert fused.activation_elements < 0.4 * unfused.activation_elements


def _one_kernel(rows, columns, depth, activations=0.0, weights=0.0):
    return KernelGraph((rows,), (columns,), (2.0 * rows * columns * depth,), (activations,), (weights,))


def test_wave_quantization_of_one_convolution_by_hand():
    """A 7x7-pixel, 512-channel 3x3 convolution at batch 1 (ResNet-50's last stage): M = 49 rows,
    N = 512 columns, 4 tiles of 128 x 128 (charged 49 rows each) on a 108-tile wave: one wave,
    108 x 49 x 128 / (49 x 512) = 27 times the ideal compute time."""
    graph = _one_kernel(49.0, 512.0, 4608.0)
    plain = layer_roofline_time(graph, 1.0, 1e14, 1e12, 1.0, 1.0, 2.0)
    tiled = layer_roofline_time(graph, 1.0, 1e14, 1e12, 1.0, 1.0, 2.0, 128.0, 128.0, 108.0)
    assert plain.slowdown == 1.0
    assert tiled.slowdown == pytest.approx(27.0)
    assert tiled.compute == pytest.approx(27.0 * plain.compute)
    # A batch that fills whole waves exactly: 128 x 108 rows, 1 column tile -> no loss.
    full = _one_kernel(128.0, 128.0, 64.0)
    assert layer_roofline_time(full, 108.0, 1e14, 1e12, 1.0, 1.0, 2.0, 128.0, 128.0, 108.0).slowdown == pytest.approx(1.0)


def test_each_kernel_is_bounded_by_its_own_roofs():
    """Per-kernel pricing: t = sum of max(compute, memory) over the kernels, never below the
    whole-pass roofline max(sum compute, sum memory) nor above their sum."""
    graph = resnet_graph(RESNET50)
    for batch in (1.0, 8.0, 256.0):
        p = layer_roofline_time(graph, batch, 312e12, 2.039e12, 0.76, 0.88, 2.0, 128.0, 128.0, 108.0)
        assert max(p.compute, p.memory) <= p.time <= p.compute + p.memory
        assert p.flops == batch * graph.flops_per_sample
        assert p.bytes == pytest.approx((batch * graph.activation_elements + sum(graph.weights)) * 2.0)


@pytest.mark.parametrize("cache", [0.0, 41943040.0])
def test_numpy_batches_equal_the_float_path(cache):
    graph = resnet_graph(RESNET50, fused=True)
    batches = np.array([1.0, 3.0, 64.0, 2048.0])
    vector = layer_roofline_time(graph, batches, 624e12, 2.039e12, 0.76, 0.88, 1.0, 128.0, 128.0, 108.0, cache)
    for i, batch in enumerate(batches):
        scalar = layer_roofline_time(graph, float(batch), 624e12, 2.039e12, 0.76, 0.88, 1.0, 128.0, 128.0, 108.0,
                                     cache)
        for a, b in zip(scalar, vector):
            assert a == pytest.approx(float(np.asarray(b)[i] if np.ndim(b) else b), rel=1e-12)


def test_a_kernel_whose_working_set_fits_in_l2_reads_only_its_weights():
    """One kernel of 1e6 activation elements per sample and 1e5 weights, 1 byte each, on a
    20 MB L2: at batch 10 its 10.1 MB working set stays on chip and only the weights cross
    device memory; at batch 30 (30.1 MB) all of it does. An elementwise kernel likewise."""
    for graph in (_one_kernel(1.0, 1.0, 1.0, activations=1e6, weights=1e5),
                  KernelGraph((0.0,), (0.0,), (0.0,), (1e6,), (1e5,))):
        fits = layer_roofline_time(graph, 10.0, 1e14, 1e11, 1.0, 1.0, 1.0, cache=20e6)
        spills = layer_roofline_time(graph, 30.0, 1e14, 1e11, 1.0, 1.0, 1.0, cache=20e6)
        assert fits.bytes == pytest.approx(1e5)
        assert fits.memory == pytest.approx(1e5 / 1e11)
        assert spills.bytes == pytest.approx(30e6 + 1e5)
        assert layer_roofline_time(graph, 10.0, 1e14, 1e11, 1.0, 1.0, 1.0).bytes == pytest.approx(10e6 + 1e5)


def test_l2_residency_keeps_l4_offline_under_its_memory_bandwidth(catalog):
    """MLPerf Inference v3.0, NVIDIA, ResNet-50 Offline on one L4 (TensorRT, int8, GPU batch 32):
    13,157.8 samples/s (mlcommons-inference-v30-nvidia-l4x1-trt-resnet50-offline). TensorRT's
    fused graph reads and writes 28.4 M activation elements per image, so with every activation
    in device memory that rate would need 374 GB/s of the L4's 300 GB/s. With the L4's cited
    48 MiB L2 (deviceQuery), the kernels whose batch-32 working set fits stay on chip, the
    device-memory traffic the pass is priced with is under the bandwidth it is given, and the
    L2 value is in the result's lineage."""
    l4 = catalog.get("hardware", "l4")
    assert l4.field("memory.l2_cache").si == 50331648
    p = Engine.solve("ResNet50", l4, batch_size=32, precision="int8", fusion="tensorrt")
    everything = resnet_graph(RESNET50, fused=True).bytes_moved(32, 1.0)
    assert 28.4e6 * 32 < everything
    assert p.si["bytes_moved"] < 0.5 * everything
    assert p.si["bytes_moved"] / p.si["latency"] < l4.field("memory.bandwidth").si
    assert "hardware/l4#memory.l2_cache" in {e.path for e in p.lineage.entries()}
    # A GPU whose record states no L2 (the L40S) moves every activation through device memory.
    assert not catalog.get("hardware", "l40s").has("memory.l2_cache")
    l40s = Engine.solve("ResNet50", "L40S", batch_size=1, precision="fp16", fusion="tensorrt")
    assert l40s.si["bytes_moved"] == pytest.approx(resnet_graph(RESNET50, fused=True).bytes_moved(1, 2.0))


def test_engine_prices_resnet50_one_kernel_at_a_time(catalog):
    """Engine.solve of ResNet-50 (a `resnet:` block) is the per-kernel roofline plus the launches
    of its graph; sweeps give the same numbers; TensorRT's graph launches 56 kernels."""
    model, a100 = catalog.get("models", "resnet50"), catalog.get("hardware", "a100_sxm_80gb")
    for fusion, kernels in (("none", 174), ("tensorrt", 56)):
        table = Engine.sweep(model, a100, batch_sizes=[1, 8, 256], precisions=["fp16", "int8"], fusion=fusion)
        for row in table.rows():
            p = Engine.solve(model, a100, batch_size=int(row["batch_size"]), precision=row["precision"], fusion=fusion)
            assert p.si["latency_overhead"] == pytest.approx(kernels * 3e-6)
            for name in ("latency", "latency_compute", "latency_memory", "flops", "bytes_moved", "gemm_utilization"):
                assert row[name] == pytest.approx(p.si[name], rel=1e-12), (fusion, name)
    lineage = {e.path for e in Engine.solve(model, a100, batch_size=1, precision="int8").lineage.entries()}
    assert {"assumptions/conv_tile_rows#quantity", "assumptions/conv_tile_columns#quantity",
            "models/resnet50#resnet.stage3_blocks"} <= lineage


def test_small_batches_leave_most_of_the_gpu_idle(catalog):
    """At batch 1 ResNet-50's convolutions have few 128 x 128 tiles for the A100's 108 SMs, so the
    charged work is many times the useful work; at batch 256 the tiles fill most waves."""
    one = Engine.solve("ResNet50", "A100", batch_size=1, precision="fp16")
    many = Engine.solve("ResNet50", "A100", batch_size=256, precision="fp16")
    assert one.si["gemm_utilization"] < 0.1 < 0.7 < many.si["gemm_utilization"]
    assert one.bottleneck != many.bottleneck


def test_where_the_convolution_tile_does_not_apply(catalog):
    """No tile term where the compute efficiency is a whole-network convolution figure that
    does not state its batch (its tile and wave losses are in it at a batch unknown), nor for
    a precision the tile is not cited for."""
    from dataclasses import replace

    model = model_terms(catalog.get("models", "resnet50"))
    v100 = hardware_terms(catalog.get("hardware", "v100"), "fp16")
    unstated = replace(pass_efficiencies(model, v100), measured_batch=0.0)
    layers = layer_terms(model, v100, unstated)
    assert layers.wave == 0 and "whole network" in layers.reason and layers.efficiency_scale == 1.0
    t4 = hardware_terms(catalog.get("hardware", "a100_sxm_80gb"), "fp32")
    layers = layer_terms(model, t4, pass_efficiencies(model, t4))
    assert layers.wave == 0 and "fp32" in layers.reason
    a100 = hardware_terms(catalog.get("hardware", "a100_sxm_80gb"), "bf16")
    assert layer_terms(model, a100, pass_efficiencies(model, a100)).wave == 108


def test_a_whole_network_figure_measured_at_one_batch_is_reproduced_there(catalog):
    """The V100's cuDNN convolution figure (conv_efficiency_cudnn_fp16: 27.4% of the FP16 peak,
    ResNet-50 at batch 64) holds the tile and wave losses of batch 64: divided by that batch's
    slowdown and priced with the tile, it gives back 27.4% at batch 64 and follows the batch
    elsewhere (a batch-1 pass fills far fewer of the 80 SMs)."""
    model = model_terms(catalog.get("models", "resnet50"))
    v100 = hardware_terms(catalog.get("hardware", "v100"), "fp16")
    eff = pass_efficiencies(model, v100)
    assert eff.gemm_specific and eff.measured_batch == 64 and eff.gemm == pytest.approx(0.274)
    layers = layer_terms(model, v100, eff)
    assert layers.wave == 80 and layers.reason == ""
    at_64 = layers.pass_at(64, v100.peak, v100.bandwidth, eff.gemm, eff.memory, 2.0)
    assert layers.efficiency_scale == pytest.approx(at_64.slowdown)
    assert at_64.compute == pytest.approx(at_64.flops / (v100.peak * 0.274))
    at_1 = layers.pass_at(1, v100.peak, v100.bandwidth, eff.gemm, eff.memory, 2.0)
    assert at_1.slowdown > at_64.slowdown and at_1.compute / at_1.flops > at_64.compute / at_64.flops


def test_fusion_applies_only_to_described_cnns(catalog):
    with pytest.raises(MlsysimError, match="no described layer structure"):
        Engine.solve("MobileNetV2", "A100", fusion="tensorrt")
    with pytest.raises(MlsysimError, match="not one of none, tensorrt"):
        Engine.solve("ResNet50", "A100", fusion="xla")
    assert Engine.solve("MobileNetV2", "A100").si["latency"] > 0  # no layers: the whole-pass roofline


def test_tensorrt_rows_are_priced_with_the_fused_graph(catalog):
    """The TensorRT ResNet-50 rows state operator_fusion: tensorrt, and the runner says so.
    MLPerf Inference v3.0, NVIDIA, ResNet-50 Offline on one A100-SXM-80GB: 42,379.3 samples/s
    (mlcommons-inference-v30-nvidia-a100-sxm-80gbx1-trt-resnet50-offline)."""
    from mlsysim.evaluate.validation import run_one

    row = catalog.get("measurements", "mlperf30_resnet50_a100_sxm_80gb_int8_offline")
    assert row.plain_fields["config"]["operator_fusion"] == "tensorrt"
    result = run_one(row, catalog)
    assert any("fused into the preceding convolution" in a for a in result.assumed)
    fused = Engine.solve("ResNet50", "A100", batch_size=2048, precision="int8", fusion="tensorrt")
    assert result.predicted == pytest.approx(fused.si["throughput"])


def test_eval_takes_fusion(cli):
    out = cli("eval", "ResNet50", "A100", "-p", "int8", "--batch", "64", "--fusion", "tensorrt", "-o", "json")
    assert out.code == 0, out.err
    data = json.loads(out.out)
    fused = Engine.solve("ResNet50", "A100", batch_size=64, precision="int8", fusion="tensorrt")
    assert data["values"]["latency"]["value"] == pytest.approx(fused.si["latency"])
    assert math.isfinite(data["values"]["throughput"]["value"])
    assert (data["operator_fusion"], data["kernels"]) == ("tensorrt", 56)
    text = cli("eval", "ResNet50", "A100", "--batch", "8", "--fusion", "tensorrt")
    assert "tensorrt graph of 56 kernels" in text.out
    bad = cli("eval", "Llama3_8B", "H100", "--fusion", "tensorrt")
    assert bad.code == 1 and "--fusion applies to CNNs" in bad.err and "Traceback" not in bad.err


def test_eval_says_how_many_kernels_keep_their_activations_in_l2(cli):
    """The L4 (48 MiB L2) at int8, batch 32, TensorRT's 56 kernels: eval names how many keep
    their activations on chip, as does the JSON (`kernels_cache_resident`); a GPU whose record
    cites no L2 (the L40S) gets no such clause and None."""
    from mlsysim.solvers.convolution import cache_resident_kernels

    p = Engine.solve("ResNet50", "L4", batch_size=32, precision="int8", fusion="tensorrt")
    expected = cache_resident_kernels(resnet_graph(RESNET50, fused=True), 32, 1.0, 50331648)
    assert 0 < p.cache_resident_kernels == expected < 56
    text = cli("eval", "ResNet50", "L4", "-p", "int8", "--batch", "32", "--fusion", "tensorrt")
    assert f"{expected} of 56 kernels' activations held in the 50.33 MB L2" in text.out
    data = json.loads(cli("eval", "ResNet50", "L4", "-p", "int8", "--batch", "32", "--fusion", "tensorrt", "-o", "json").out)
    assert data["kernels_cache_resident"] == expected
    l40s = cli("eval", "ResNet50", "L40S", "--batch", "1", "-o", "json")
    assert json.loads(l40s.out)["kernels_cache_resident"] is None
