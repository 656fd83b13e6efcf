"""The third first-party report (catalog/reports/measure_gpu_h200_2026-12-04_d95ee2a.json,
scripts/measure_gpu.py at commit d95ee2a, one H200): its element-wise operator lines, the
records that cite it, and how a CNN solve prices them.

Figures in that report (medians, CUDA events; `graph` = time per call of 20 calls replayed in
one CUDA graph over operand copies beyond the L2): a tiny kernel costs 1.127 us in a graph
replay; ResNet-50's distinct batch norms, ReLUs and residual adds at batches 1, 32 and 256 lie
on lines t = a + bytes / R (least squares, residuals relative to t) with a = 5.557 us and
R = 1.550 TB/s (batch norm, NCHW), 6.063 us and 2.505 TB/s (batch norm, channels-last),
1.476 us and 3.934 TB/s (ReLU, both layouts), 1.406 us and 4.222 TB/s (residual add); so the
fixed run times beyond one kernel's gap are 4.430, 4.936, 0.349 and 0.279 us, and the bandwidth
fractions of the H200's 4.8 TB/s are 32.30%, 52.19%, 81.96% and 87.96%. Summed over the
network at batch 32 the element-wise operators take 2.060 ms in NCHW and 1.585 ms in
channels-last; the profiler counts 342 GPU kernels in a batch-1 NCHW pass and 283 in
channels-last, and 516 in a batch-1 decode step of the Llama-3-8B-shaped decoder. That
decoder's small operators at decode batches 1, 8, 32 and 64, on the same kind of line, have
intercepts of 4.518 us (RMSNorm), 1.413 us (residual add), 3.225 us (SiLU-and-multiply) and
7.840 us (decode attention over 513 cached tokens), so fixed run times of 3.391, 0.286, 2.098
and 6.713 us beyond one kernel's gap.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlsysim.catalog import load_catalog
from mlsysim.catalog.schemas.common import OPERATORS
from mlsysim.solvers.convolution import ELEMENTWISE_OPERATORS, KernelGraph, OperatorLine, layer_roofline_time
from mlsysim.solvers.engine import Engine
from mlsysim.solvers.kernel_efficiency import pass_efficiencies
from mlsysim.solvers.layer_terms import layer_terms, operator_line_values
from mlsysim.solvers.pass_overheads import TRANSFORMER_OPERATORS, launch_overhead, operator_floors
from mlsysim.solvers.serving import ServingModel
from mlsysim.solvers.terms import hardware_terms, model_terms
from tests.conftest import assert_quoted_and_recomputed, values_citing

REPO = Path(__file__).resolve().parent.parent
SOURCE = "mlsysim-measure-gpu-h200-2026-12-04-d95ee2a"
REPORT = REPO / "catalog" / "reports" / "measure_gpu_h200_2026-12-04_d95ee2a.json"
H200_BW = 4.80e12
# (operator, layout or None for both) -> the record-id suffix of its two records.
LINES = {("batch_norm", "nchw"): "batch_norm_nchw", ("batch_norm", "channels_last"): "batch_norm_channels_last",
         ("relu", None): "relu", ("residual_add", None): "residual_add"}
# A Llama decode step's operators in the report -> their records' operator qualifier.
DECODE_OPERATORS = {"rms_norm": "rms_norm", "residual_add": "residual_add", "silu_mul": "silu_mul",
                    "attention": "decode_attention"}


@pytest.fixture(scope="module")
def catalog_and_report() -> tuple:
    return load_catalog(REPO / "catalog"), json.loads(REPORT.read_text())


def operator_line(report: dict, operator: str, layout: str | None, section: str = "elementwise") -> tuple[float, float]:
    """(intercept a [s], rate R [B/s]) of the least-squares line t = a + bytes / R through the
    report's graph times of `operator` (in `layout`, or both) in `section`, residuals relative to t."""
    if section == "elementwise":
        rows = [r for r in report[section] if r["kind"] == operator and layout in (None, r["layout"])]
    else:
        rows = [r for r in report[section] if r["operator"] == operator]
    x = np.array([r["bytes"] for r in rows])
    t = np.array([r["graph"]["median_s"] for r in rows])
    slope, intercept = np.polyfit(x, t, 1, w=1.0 / t)
    return float(intercept), float(1.0 / slope)


def test_every_value_citing_the_third_report_is_quoted_and_recomputed(catalog_and_report):
    """Each operator line's fixed time (intercept less the run's graph time per kernel) and
    bandwidth fraction (R / 4.8 TB/s), recomputed from the report."""
    catalog, report = catalog_and_report
    gap = report["launch"]["graph"]["per_kernel_s"]
    assert gap == pytest.approx(1.127e-6, rel=1e-3)
    expected = {}
    for (operator, layout), suffix in LINES.items():
        a, rate = operator_line(report, operator, layout)
        expected[f"assumptions/operator_fixed_time_hopper_fp16_{suffix}"] = a - gap
        expected[f"assumptions/operator_memory_efficiency_hopper_fp16_{suffix}"] = rate / H200_BW
    for operator, qualifier in DECODE_OPERATORS.items():
        a, _ = operator_line(report, operator, None, "decode_kernels")
        expected[f"assumptions/operator_fixed_time_hopper_bf16_{qualifier}"] = a - gap
    assert_quoted_and_recomputed(values_citing(catalog, SOURCE), expected, REPORT.read_text())
    # The figures the module docstring quotes.
    a, rate = operator_line(report, "batch_norm", "nchw")
    assert (a, rate) == (pytest.approx(5.557e-6, rel=1e-3), pytest.approx(1.550e12, rel=1e-3))
    assert operator_line(report, "attention", None, "decode_kernels")[0] == pytest.approx(7.840e-6, rel=1e-3)


def test_relu_and_the_residual_add_take_the_same_time_in_both_layouts(catalog_and_report):
    """Why their lines carry no layout: the same element-wise kernel runs on contiguous memory
    (the two layouts' times agree within 3%, as the records say)."""
    _, report = catalog_and_report
    for operator in ("relu", "residual_add"):
        times = {}
        for r in report["elementwise"]:
            if r["kind"] == operator:
                times.setdefault((r["batch"], r["channels"], r["height"]), {})[r["layout"]] = r["graph"]["median_s"]
        assert all(t["nchw"] == pytest.approx(t["channels_last"], rel=0.03) for t in times.values())


def test_network_totals_and_kernel_counts_in_the_report(catalog_and_report):
    _, report = catalog_and_report
    totals = {}
    for r in report["elementwise"]:
        if r["batch"] == 32:
            totals[r["layout"]] = totals.get(r["layout"], 0.0) + r["count"] * r["graph"]["median_s"]
    assert totals == {"nchw": pytest.approx(2.060e-3, rel=1e-3), "channels_last": pytest.approx(1.585e-3, rel=1e-3)}
    counts = report["kernel_counts"]
    assert counts["resnet50_batch1"] == {"nchw": 342, "channels_last": 283}
    assert counts["llama_decode_step"]["1"] == 516


def test_the_operator_qualifier_lists_the_solvers_operators():
    assert set(OPERATORS) == set(ELEMENTWISE_OPERATORS) | set(TRANSFORMER_OPERATORS)


def test_a_measured_line_prices_an_elementwise_kernel_by_hand():
    """Two kernels: a batch norm moving 1e6 elements per sample and an unnamed element-wise
    kernel moving as many. At batch 4, 2 B per element, 1 TB/s: the line (5 us, 50%) gives
    5 us + 8e6 B / 0.5e12 B/s = 21 us; the other kernel, at the generic 80%, 10 us."""
    graph = KernelGraph((0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (1e6, 1e6), (0.0, 0.0), ("batch_norm", "pooling"))
    lines = {"batch_norm": OperatorLine(5e-6, 0.5)}
    p = layer_roofline_time(graph, 4.0, 1e14, 1e12, 1.0, 0.8, 2.0, lines=lines)
    assert p.time == pytest.approx(21e-6 + 10e-6)
    assert p.memory == pytest.approx(16e-6 + 10e-6)  # the fixed time is no memory traffic
    assert p.bytes == pytest.approx(16e6)
    without = layer_roofline_time(graph, 4.0, 1e14, 1e12, 1.0, 0.8, 2.0)
    assert without.time == pytest.approx(20e-6)
    # Vectorised over batches, equal to the scalar calls.
    many = layer_roofline_time(graph, np.array([1.0, 4.0]), 1e14, 1e12, 1.0, 0.8, 2.0, lines=lines)
    assert many.time[1] == pytest.approx(p.time)


def test_lines_apply_by_layout_precision_hardware_and_fusion(catalog_and_report):
    catalog, _ = catalog_and_report
    h200, a100 = hardware_terms(catalog.get("hardware", "h200"), "fp16"), hardware_terms(catalog.get("hardware", "a100_sxm_80gb"), "fp16")
    nchw, default = operator_line_values(h200, "batch_norm", "nchw"), operator_line_values(h200, "batch_norm")
    assert [v.path for v in nchw] == ["assumptions/operator_fixed_time_hopper_fp16_batch_norm_nchw#quantity",
                                      "assumptions/operator_memory_efficiency_hopper_fp16_batch_norm_nchw#quantity"]
    assert default[0].path == "assumptions/operator_fixed_time_hopper_fp16_batch_norm_channels_last#quantity"  # default
    # The ReLU's line states no layout, so it serves both.
    assert operator_line_values(h200, "relu", "nchw") == operator_line_values(h200, "relu", "channels_last")
    # Another family, or a precision it was not measured at: no line.
    assert operator_line_values(a100, "relu") is None
    assert operator_line_values(hardware_terms(catalog.get("hardware", "h200"), "bf16"), "relu") is None
    assert operator_line_values(hardware_terms(catalog.get("hardware", "h100_sxm"), "fp16"), "relu") is not None
    resnet = model_terms(catalog.get("models", "resnet50"))
    eff = pass_efficiencies(resnet, h200)
    unfused, fused = layer_terms(resnet, h200, eff), layer_terms(resnet, h200, eff, "tensorrt")
    assert unfused.lines.keys() == set(ELEMENTWISE_OPERATORS) and fused.lines == {}


def test_a_resnet50_solve_on_an_h200_rests_on_the_lines_of_its_layout(catalog_and_report):
    """The NCHW pass takes the NCHW batch norm's line (slower) and names it among its inputs."""
    catalog, _ = catalog_and_report
    model, hw = catalog.get("models", "resnet50"), catalog.get("hardware", "h200")
    nchw = Engine.solve(model, hw, batch_size=32, precision="fp16", cuda_graph=True, layout="nchw")
    last = Engine.solve(model, hw, batch_size=32, precision="fp16", cuda_graph=True, layout="channels_last")
    used = {e.path for e in nchw.lineage.entries()}
    assert "assumptions/operator_fixed_time_hopper_fp16_batch_norm_nchw#quantity" in used
    assert "assumptions/operator_memory_efficiency_hopper_fp16_relu#quantity" in used
    assert not any("channels_last" in ref and "operator" in ref for ref in used)
    assert nchw.latency > last.latency


def test_a_transformer_pass_in_a_cuda_graph_costs_its_small_operators_fixed_times(catalog_and_report):
    """Llama-3-8B (32 layers, dense) on an H200 in BF16: (2 x 32 + 1) norms x 3.391 us + 64 residual
    adds x 0.2862 us + 32 activations x 2.098 us = 306.0 us per pass, and a decode step's 32
    attention kernels 32 x 6.713 us = 214.8 us more; none launched from the host, none in FP8."""
    catalog, _ = catalog_and_report
    model = model_terms(catalog.get("models", "llama3_8b"))
    h200 = hardware_terms(catalog.get("hardware", "h200"), "bf16")
    floors = operator_floors(model, h200)
    assert floors.seconds == pytest.approx(65 * 3.391e-6 + 64 * 0.2862e-6 + 32 * 2.098e-6)
    assert operator_floors(model, h200, decode=True).seconds == pytest.approx(32 * 6.713e-6)
    assert {e.path for e in floors.lineage.entries()} == {
        f"assumptions/operator_fixed_time_hopper_bf16_{op}#quantity" for op in ("rms_norm", "residual_add", "silu_mul")}
    graphed, eager = launch_overhead(model, h200, cuda_graph=True), launch_overhead(model, h200)
    assert graphed.seconds == pytest.approx(model.kernels * 1.136e-6 + floors.seconds)
    assert eager.seconds == pytest.approx(model.kernels * 3e-6)  # launched: the operators run behind the launches
    assert operator_floors(model, hardware_terms(catalog.get("hardware", "h200"), "fp8")).seconds == 0.0
    llama, hw = catalog.get("models", "llama3_8b"), catalog.get("hardware", "h200")
    serving = ServingModel(llama, hw, precision="bf16", cuda_graph=True)
    step, prefill = serving.decode_step(512), serving.prefill(512)
    assert step.launch == pytest.approx(graphed.seconds + 32 * 6.713e-6)
    assert prefill.launch == pytest.approx(graphed.seconds)
    used = {e.path for e in serving.lineage.entries()}
    assert "assumptions/operator_fixed_time_hopper_bf16_decode_attention#quantity" in used
    plain = ServingModel(llama, hw, precision="bf16")
    assert not any("operator_fixed_time" in e.path for e in plain.lineage.entries())
