"""The second first-party report (catalog/reports/measure_gpu_h200_2026-12-04_07f00a8.json,
scripts/measure_gpu.py at commit 07f00a8, one H200), whose kernels are also timed as CUDA-graph
bursts, the records that cite it, and the solver terms they feed.

Figures in that report (medians, CUDA events; `graph` = time per call of 20 calls replayed in
one CUDA graph): ResNet-50's 53 convolutions at batch 32 take 1.6517 ms in NCHW (cuDNN
defaults) and 0.8821 ms in channels-last (autotuned) for 261.577 GFLOP, i.e. 16.01% and 29.98%
of the H200's 989 TFLOP/s FP16 peak; a tiny kernel costs 1.136 us in a graph replay; one
torchvision Bottleneck block takes 301.2 us eagerly on a tiny input (30.12 us per operator);
BF16 GEMMs of a Llama-3-8B layer's weights at 2 to 64 rows stream them at a median 3,665.8 GB/s
(76.37% of 4.8 TB/s), a 1 x 8192 x 8192 GEMV at 3,855.9 GB/s (80.33%); ResNet-50 channels-last
as a CUDA graph: 0.9277 ms at batch 1, 13,472.8 and 17,177.3 images/s at batch 32 and 256; the
Llama-3-8B-shaped decoder's 512-token prefill as a CUDA graph 13.565 ms.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from tests.conftest import assert_quoted_and_recomputed, load_script, values_citing

REPO = Path(__file__).resolve().parent.parent
SOURCE = "mlsysim-measure-gpu-h200-2026-12-04-07f00a8"
REPORT = REPO / "catalog" / "reports" / "measure_gpu_h200_2026-12-04_07f00a8.json"
H200_FP16, H200_BW = 989e12, 4.80e12
# The first-party assumptions the solvers use, all from this report.
USED = {"conv_efficiency_hopper_fp16_channels_last", "conv_efficiency_hopper_fp16_nchw",
        "kernel_time_in_cuda_graph_hopper", "host_dispatch_pytorch_eager_cnn_h200_host",
        "memory_efficiency_h200_bf16_gemm"}


@pytest.fixture(scope="module")
def catalog_and_report() -> tuple:
    """The repository's catalog and the second report, read once for the module."""
    return load_catalog(REPO / "catalog"), json.loads(REPORT.read_text())


@pytest.fixture(scope="module")
def catalog(catalog_and_report):
    return catalog_and_report[0]


def conv_efficiency(report: dict, layout: str) -> float:
    """FLOPs of ResNet-50's convolutions at the report's batch over their summed graph times."""
    flops = seconds = 0.0
    for c in report["conv"]:
        if c["layout"] != layout:
            continue
        out_h = (c["height"] + 2 * c["padding"] - c["kernel"]) // c["stride"] + 1
        out_w = (c["width"] + 2 * c["padding"] - c["kernel"]) // c["stride"] + 1
        flops += c["count"] * 2 * c["batch"] * out_h * out_w * c["out_channels"] * c["in_channels"] * c["kernel"] ** 2
        seconds += c["count"] * c["graph"]["median_s"]
    return flops / seconds / H200_FP16


def expected_si(report: dict) -> dict[str, float]:
    """Each citing value in SI, recomputed from the report (percents as fractions)."""
    streaming = [g["graph"]["weight_bytes_per_s"] for g in report["gemm"]
                 if g["precision"] == "bf16" and g["m"] in (2, 4, 8, 32, 64)]
    assert len(streaming) == 15
    gemv = next(g for g in report["gemm"] if g["precision"] == "bf16" and g["m"] == 1)
    cl = {r["batch"]: r for r in report["resnet"] if r.get("layout") == "channels_last"}
    return {
        "assumptions/conv_efficiency_hopper_fp16_channels_last": conv_efficiency(report, "channels_last"),
        "assumptions/conv_efficiency_hopper_fp16_nchw": conv_efficiency(report, "nchw"),
        "assumptions/kernel_time_in_cuda_graph_hopper": report["launch"]["graph"]["per_kernel_s"],
        "assumptions/host_dispatch_pytorch_eager_cnn_h200_host": report["dispatch"]["bottleneck_block"]["per_operator_s"],
        "assumptions/memory_efficiency_h200_bf16_gemm": statistics.median(streaming) / H200_BW,
        "assumptions/gemv_memory_efficiency_h200_16bit": gemv["graph"]["weight_bytes_per_s"] / H200_BW,
        "measurements/mlsysim_h200_resnet50_fp16_channels_last_b1_graph_latency": cl[1]["graph"]["median_s"],
        "measurements/mlsysim_h200_resnet50_fp16_channels_last_b32_graph_samples_per_s": cl[32]["graph"]["images_per_s"],
        "measurements/mlsysim_h200_resnet50_fp16_channels_last_b256_graph_samples_per_s": cl[256]["graph"]["images_per_s"],
        "measurements/mlsysim_h200_llama3_8b_bf16_prefill512_graph_ttft": report["llama"]["prefill_graph"]["median_s"],
        "measurements/mlsysim_h200_resnet50_fp16_b1_eager_latency_07f00a8": next(
            r for r in report["resnet"] if r["batch"] == 1 and "layout" not in r)["median_s"],
    }


def citing(catalog) -> dict[str, tuple[float, dict]]:
    """Record path -> (SI value, claim) of every value that cites the report."""
    return values_citing(catalog, SOURCE)


def test_the_report_is_whole_and_says_where_it_ran(catalog_and_report) -> None:
    report = catalog_and_report[1]
    assert load_script("measure_gpu").check_report(report) == []
    assert report["commit"] == "07f00a8a0c528cffbffa393731acfc422d56cbfa" and not report["quick"]
    assert report["device"]["name"] == "NVIDIA H200" and report["skipped"] == {}
    # Every kernel row of a GPU run carries its CUDA-graph timing.
    assert all(r["graph"]["median_s"] > 0 for name in ("gemm", "attention", "conv") for r in report[name]
               if "error" not in r)
    smi = REPORT.with_name("measure_gpu_h200_2026-12-04_07f00a8.nvidia_smi.csv").read_text()
    assert "NVIDIA H200, 580.159.04, 700.00 W, 1980 MHz" in smi


def test_every_value_citing_the_report_is_in_it(catalog_and_report) -> None:
    """Each citing value is the report's figure (recomputed here, module docstring), quoted verbatim."""
    catalog, report = catalog_and_report
    found = citing(catalog)
    assert_quoted_and_recomputed(found, expected_si(report), REPORT.read_text())


def test_the_solvers_use_the_kernel_figures_and_the_rows_say_so(catalog) -> None:
    """The convolution, graph, host and bf16 streaming figures feed the solvers; every
    first-party row priced with one of them names this report in its note (a constant from the
    same machine and script as the row it is judged on)."""
    from mlsysim.evaluate.validation import validate

    used = {path.split("/")[1] for path in citing(catalog) if path.startswith("assumptions/")} - {
        "gemv_memory_efficiency_h200_16bit"}
    assert used == USED
    for result in validate(catalog).results:
        if not result.id.startswith("mlsysim_h200_") or result.predicted is None:
            continue
        note = re.sub(r"\s+", " ", catalog.get("measurements", result.id).get("note"))
        assert SOURCE in note or "(commit 07f00a8)" in note, result.id


def test_a_cnn_on_hopper_takes_the_convolution_figure_of_its_layout(catalog) -> None:
    from mlsysim import Engine

    default = Engine.solve("resnet50", "h200", batch_size=32, precision="fp16")
    nchw = Engine.solve("resnet50", "h200", batch_size=32, precision="fp16", layout="nchw")
    assert default.compute_efficiency == pytest.approx(0.2998)
    assert "assumptions/conv_efficiency_hopper_fp16_channels_last#quantity" in default.lineage
    assert nchw.compute_efficiency == pytest.approx(0.1601)
    assert "assumptions/conv_efficiency_hopper_fp16_nchw#quantity" in nchw.lineage
    assert nchw.si["latency"] > default.si["latency"]
    # Measured on an H200, applied to the Hopper family.
    assert Engine.solve("resnet50", "h100_sxm", batch_size=32, layout="nchw").compute_efficiency == pytest.approx(0.1601)
    with pytest.raises(MlsysimError, match="no convolution efficiency in nchw layout is cited for"):
        Engine.solve("resnet50", "a100_sxm_80gb", layout="nchw")
    with pytest.raises(MlsysimError, match="not one of channels_last, nchw"):
        Engine.solve("resnet50", "h200", layout="nhwc8")
    with pytest.raises(MlsysimError, match="not one of channels_last, nchw"):
        Engine.solve("resnet50", "h200", layout="nhwc8", efficiency=0.5)
    # A caller's efficiency replaces the cited figure of either layout.
    assert Engine.solve("resnet50", "h200", layout="nchw", efficiency=0.5).compute_efficiency == 0.5
    with pytest.raises(MlsysimError, match="not a CNN"):
        Engine.solve("llama3_8b", "h200", layout="nchw")


def test_a_cuda_graph_pays_the_graph_time_per_kernel(catalog) -> None:
    """1.136 us per kernel in a graph replay on Hopper, in place of the 3 us launch; where no
    graph figure is cited (an A100) the pass says it is unpriced."""
    from mlsysim import Engine, ServingModel
    from mlsysim.solvers.terms import model_terms

    kernels = model_terms(catalog.get("models", "resnet50")).kernels
    graphed = Engine.solve("resnet50", "h200", cuda_graph=True)
    assert graphed.si["latency_overhead"] == pytest.approx(kernels * 1.136e-6)
    assert Engine.solve("resnet50", "h200").si["latency_overhead"] == pytest.approx(kernels * 3e-6)
    a100 = Engine.solve("resnet50", "a100_sxm_80gb", cuda_graph=True)
    assert a100.si["latency_overhead"] == 0 and "CUDA graph" in a100.unpriced[0]
    # In FP16 the small operators' fixed times add only the residual add's (0.2793 us, 64 per
    # pass): the others are cited for BF16 (tests/test_operator_lines.py).
    serving = ServingModel("llama3_8b", "h200", precision="fp16", cuda_graph=True)
    assert serving.launch.seconds == pytest.approx(serving.m.kernels * 1.136e-6 + 64 * 0.2793e-6)
    assert ServingModel("llama3_8b", "a100_sxm_80gb", cuda_graph=True).unpriced


def test_16bit_passes_on_the_h200_stream_weights_at_the_gemm_figure(catalog) -> None:
    """76.37% for bf16 and fp16 alike (the decode-shaped BF16 GEMMs: the same 2-byte weights
    and kernels); the copy benchmark's 83.54% for the precisions without a GEMM figure (int8)."""
    from mlsysim import ServingModel

    assert ServingModel("llama3_8b", "h200", precision="bf16").eff.memory == pytest.approx(0.7637)
    assert ServingModel("llama3_8b", "h200", precision="fp16").eff.memory == pytest.approx(0.7637)
    assert ServingModel("llama3_8b", "h200", precision="int8").eff.memory == pytest.approx(0.8354)


def test_a_sweep_takes_the_graph_and_the_layout_as_a_solve_does(catalog) -> None:
    """Engine.sweep over ResNet-50's batches on an H200, NCHW and replayed as a CUDA graph, gives
    Engine.solve's latency at every batch."""
    from mlsysim import Engine

    batches = [1, 8, 32, 256]
    table = Engine.sweep("resnet50", ["h200"], batch_sizes=batches, precisions=["fp16"], cuda_graph=True, layout="nchw")
    for batch, latency in zip(batches, table["latency"]):
        solved = Engine.solve("resnet50", "h200", batch_size=batch, precision="fp16", cuda_graph=True, layout="nchw")
        assert latency == pytest.approx(solved.si["latency"], rel=1e-12)


def test_a_misspelt_layout_qualifier_is_a_located_load_error(catalog_copy) -> None:
    """A convolution efficiency scoped to a layout the solvers do not know would never be read;
    the loader says where, and which layouts there are (the solvers' own list: the solver
    module keeps a copy so that a solve does not import the schemas)."""
    from mlsysim.catalog import check
    from mlsysim.catalog.schemas.common import LAYOUTS
    from mlsysim.solvers.kernel_efficiency import CONV_LAYOUTS

    assert CONV_LAYOUTS == LAYOUTS

    record = """id: fixture_conv_efficiency
name: Fixture convolution efficiency
dimension: dimensionless
quantity: {value: 30, unit: percent, source: fixture-datasheet, qualifiers: {kernel: convolution, layout: nhwc}}
description: A convolution efficiency in a layout with a wrong name.
"""
    _, problems = check(catalog_copy({"assumptions/fixture_conv_efficiency.yaml": record}))
    assert len(problems) == 1
    assert str(problems[0]).startswith("assumptions/fixture_conv_efficiency.yaml:4:")
    assert "qualifiers.layout: unknown value 'nhwc'; use one of channels_last, nchw" in str(problems[0])
