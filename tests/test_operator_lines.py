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
channels-last, and 516 in a batch-1 decode step of the Llama-3-8B-shaped decoder.
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
from mlsysim.solvers.terms import hardware_terms, layer_terms, operator_line_values, pass_efficiencies, model_terms
from tests.conftest import assert_quoted_and_recomputed, values_citing

REPO = Path(__file__).resolve().parent.parent
SOURCE = "mlsysim-measure-gpu-h200-2026-12-04-d95ee2a"
REPORT = REPO / "catalog" / "reports" / "measure_gpu_h200_2026-12-04_d95ee2a.json"
H200_BW = 4.80e12
# (operator, layout or None for both) -> the record-id suffix of its two records.
LINES = {("batch_norm", "nchw"): "batch_norm_nchw", ("batch_norm", "channels_last"): "batch_norm_channels_last",
         ("relu", None): "relu", ("residual_add", None): "residual_add"}


@pytest.fixture(scope="module")
def catalog_and_report() -> tuple:
    return load_catalog(REPO / "catalog"), json.loads(REPORT.read_text())


def operator_line(report: dict, operator: str, layout: str | None) -> tuple[float, float]:
    """(intercept a [s], rate R [B/s]) of the least-squares line t = a + bytes / R through the
    report's graph times of `operator` (in `layout`, or both), residuals relative to t."""
    rows = [r for r in report["elementwise"] if r["kind"] == operator and layout in (None, r["layout"])]
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
    assert_quoted_and_recomputed(values_citing(catalog, SOURCE), expected, REPORT.read_text())
    # The figures the module docstring quotes.
    a, rate = operator_line(report, "batch_norm", "nchw")
    assert (a, rate) == (pytest.approx(5.557e-6, rel=1e-3), pytest.approx(1.550e12, rel=1e-3))


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
    assert OPERATORS == ELEMENTWISE_OPERATORS


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
    assert dict(unfused.lines).keys() == set(ELEMENTWISE_OPERATORS) and fused.lines == ()


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
