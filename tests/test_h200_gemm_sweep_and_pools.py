"""The fourth first-party report (catalog/reports/measure_gpu_h200_2026-12-04_e76e32f.json,
scripts/measure_gpu.py at commit e76e32f, one H200): its GEMM sweep, the two GEMM efficiencies
that cite it (first-party checks; the solvers read NVIDIA's TensorRT-LLM medians) and the
Hopper 16-bit tile whose choice rests in part on it; and the measured lines of ResNet-50's two
pools.

Figures in that report (medians, CUDA events; `graph` = time per call of 20 calls replayed in
one CUDA graph over operand copies beyond the L2): the twelve GEMMs of at least 512 rows reach
57.0% to 75.4% of the 989 TFLOP/s dense BF16 peak, median (663.38 + 674.88) / 2 TFLOP/s =
67.66%, and 49.3% to 66.5% of the 1,978 TFLOP/s dense FP8 peak, median (1198.87 + 1217.59) / 2
= 61.08%. A 256 x 4096 x 14336 BF16 product takes 48.56 us (62.6% of the peak), though a
256 x 128 tile grid would fill only 32 of the 132 SMs. A tiny kernel costs 1.145 us in a graph
replay. The max pool's times at batches 1, 32 and 256 lie on lines t = a + bytes / R with
a = 2.405 us, R = 0.625 TB/s (NCHW) and a = 18.521 us, R = 0.650 TB/s (channels-last); the
global average pool's with a = 2.198 us, R = 0.447 TB/s (NCHW) and a = 5.178 us, R = 4.106 TB/s
(channels-last): fixed run times beyond the gap of 1.260, 17.377, 1.054 and 4.033 us and
bandwidth fractions of 4.8 TB/s of 13.02%, 13.55%, 9.31% and 85.54%. FP8 GEMMs of 16 to 64
rows stream their weights at a median 3,238.3 GB/s (67.47% of 4.8 TB/s).
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest

from mlsysim.catalog import load_catalog
from mlsysim.solvers.engine import Engine
from mlsysim.solvers.gemm_waves import single_gemm_waves
from mlsysim.solvers.kernel_efficiency import kernel_efficiencies
from mlsysim.solvers.layer_terms import operator_line_values
from mlsysim.solvers.terms import hardware_terms
from tests.conftest import assert_quoted_and_recomputed, load_script, values_citing

REPO = Path(__file__).resolve().parent.parent
SOURCE = "mlsysim-measure-gpu-h200-2026-12-04-e76e32f"
REPORT = REPO / "catalog" / "reports" / "measure_gpu_h200_2026-12-04_e76e32f.json"
PEAKS = {"bf16": 989e12, "fp8": 1978e12}


@pytest.fixture(scope="module")
def catalog_and_report() -> tuple:
    """The repository's catalog and the fourth report, read once for the module."""
    return load_catalog(REPO / "catalog"), json.loads(REPORT.read_text())


def sweep(report: dict, precision: str, least_rows: int) -> list[tuple[int, int, int, float]]:
    """(M, N, K, seconds per call in a graph) of the report's GEMMs at `precision` with at least `least_rows` rows."""
    return [(g["m"], g["n"], g["k"], g["graph"]["median_s"]) for g in report["gemm"]
            if g["precision"] == precision and g["m"] >= least_rows and g.get("graph")]


def median_fraction(report: dict, precision: str) -> float:
    """Median over the compute-bound shapes (M >= 512) of 2 M N K / time over the dense peak."""
    return statistics.median(2.0 * m * n * k / s / PEAKS[precision] for m, n, k, s in sweep(report, precision, 512))


def test_the_report_is_whole_and_says_where_it_ran(catalog_and_report) -> None:
    report = catalog_and_report[1]
    assert load_script("measure_gpu").check_report(report) == []
    assert report["commit"] == "e76e32f7ff9fd2b457deb4f662c053397ff14d19" and not report["quick"]
    assert report["device"]["name"] == "NVIDIA H200" and report["skipped"] == {}
    assert len(sweep(report, "bf16", 512)) == len(sweep(report, "fp8", 512)) == 12
    smi = REPORT.with_name("measure_gpu_h200_2026-12-04_e76e32f.nvidia_smi.csv").read_text()
    assert "NVIDIA H200, 580.159.04, 700.00 W, 1980 MHz" in smi


def pool_lines(report: dict) -> dict[str, float]:
    """Record path -> SI value of each pool's line, recomputed from the report (module docstring)."""
    gap = report["launch"]["graph"]["per_kernel_s"]
    out = {}
    for kind in ("max_pool", "average_pool"):
        for layout in ("nchw", "channels_last"):
            rows = [e for e in report["elementwise"] if e["kind"] == kind and e["layout"] == layout]
            t = np.array([e["graph"]["median_s"] for e in rows])
            slope, intercept = np.polyfit(np.array([e["bytes"] for e in rows]), t, 1, w=1.0 / t)
            out[f"assumptions/operator_fixed_time_hopper_fp16_{kind}_{layout}"] = intercept - gap
            out[f"assumptions/operator_memory_efficiency_hopper_fp16_{kind}_{layout}"] = 1.0 / slope / 4.8e12
    return out


def test_every_value_citing_the_report_is_in_it(catalog_and_report) -> None:
    """Each citing value is the report's figure (recomputed here, module docstring), what it
    quotes found verbatim in the report (the GEMM medians quote their two middle rows)."""
    catalog, report = catalog_and_report
    streaming = statistics.median(g["graph"]["weight_bytes_per_s"] for g in report["gemm"]
                                  if g["precision"] == "fp8" and g["m"] <= 64 and g.get("graph"))
    expected = {"assumptions/gemm_efficiency_h200_16bit_first_party_median": median_fraction(report, "bf16"),
                "assumptions/gemm_efficiency_h200_fp8_first_party_median": median_fraction(report, "fp8"),
                "assumptions/memory_efficiency_h200_fp8_gemm": streaming / 4.8e12, **pool_lines(report)}
    found = values_citing(catalog, SOURCE)
    text = REPORT.read_text()
    for path, (_, claim) in found.items():
        for quoted in claim["as_stated"].split(" ... "):
            assert quoted in text, path
    assert_quoted_and_recomputed(found, expected, "".join(c["as_stated"] for _, c in found.values()))


def test_a_resnet50_pass_on_hopper_prices_its_pools_on_their_lines(catalog_and_report) -> None:
    """Each layout's pools take that layout's measured line, named among the pass's inputs; a
    TensorRT-fused pass (other kernels) takes none."""
    catalog = catalog_and_report[0]
    model, hw = catalog.get("models", "resnet50"), catalog.get("hardware", "h200")
    h = hardware_terms(hw, "fp16")
    for layout in ("nchw", "channels_last"):
        for kind in ("max_pool", "average_pool"):
            fixed, memory = operator_line_values(h, kind, layout)
            assert fixed.path == f"assumptions/operator_fixed_time_hopper_fp16_{kind}_{layout}#quantity"
            assert memory.path == f"assumptions/operator_memory_efficiency_hopper_fp16_{kind}_{layout}#quantity"
        used = {e.path for e in Engine.solve(model, hw, batch_size=32, precision="fp16", cuda_graph=True,
                                             layout=layout).lineage.entries()}
        assert f"assumptions/operator_memory_efficiency_hopper_fp16_max_pool_{layout}#quantity" in used
    fused = Engine.solve(model, hw, batch_size=32, precision="fp16", fusion="tensorrt")
    assert not any("operator_" in e.path for e in fused.lineage.entries())


def test_the_sweep_medians_check_the_figures_the_solvers_read(catalog_and_report) -> None:
    """The first-party medians are checks, not read by the solvers: the H100 and the H200 price
    their GEMMs at the medians of AIConfigurator's TensorRT-LLM 1.3.0rc20 tables for each GPU
    (H100 BF16 77.20%, FP8 74.27%; H200 BF16 78.71%, FP8 74.00%, the FP8 rows less their
    input's quantization, the docstrings of tests/test_serving_kernels.py). This machine's
    GEMMs ran slower than NVIDIA's at both widths: BF16 by about 14% (67.66% against 78.71%),
    FP8 by about 17% (61.08% against 74.00%; torch._scaled_mm with unit scales, no
    quantization, as the NVIDIA figure is)."""
    catalog = catalog_and_report[0]
    for hw in ("h100_sxm", "h200"):
        for precision, tag in (("bf16", "16bit"), ("fp8", "fp8")):
            e = kernel_efficiencies(hardware_terms(catalog.get("hardware", hw), precision))
            ident = f"gemm_efficiency_{hw.split('_')[0]}_{tag}_median"
            assert f"assumptions/{ident}#quantity" in e.lineage and e.gemm_specific, (hw, precision)
            assert not any("first_party" in entry.path for entry in e.lineage.entries()), (hw, precision)
    read = {p: catalog.get("assumptions", f"gemm_efficiency_h200_{p}_median").quantity.si for p in ("16bit", "fp8")}
    mine = {p: catalog.get("assumptions", f"gemm_efficiency_h200_{p}_first_party_median").quantity.si
            for p in ("16bit", "fp8")}
    assert mine["16bit"] / read["16bit"] == pytest.approx(0.86, abs=0.01)
    assert mine["fp8"] / read["fp8"] == pytest.approx(0.825, abs=0.01)


def gemm_errors(catalog, report: dict, tile: tuple[float, float] | None = None) -> list[float]:
    """measured / predicted of each BF16 sweep GEMM of 16 or more rows on the H200, priced as a
    pass prices its weight GEMMs (max of tile-stretched compute and weight read); `tile`
    replaces the cited tile's rows and columns."""
    check = load_script("check_gemm_roofline")
    h = hardware_terms(catalog.get("hardware", "h200"), "bf16", True)
    eff = kernel_efficiencies(h)
    gemms = sweep(report, "bf16", 16)
    if tile is None:
        return [ratio for _, _, ratio in check.compare(gemms, h, eff, 2.0)]
    out = []
    for m, n, k, seconds in gemms:
        waves = single_gemm_waves(h, n)
        rows, columns = tile
        bands, tiles = -(-m // rows), -(-n // columns)
        slowdown = max(1.0, -(-bands * tiles // waves.wave) * waves.wave * min(m, rows) * columns / (m * n))
        predicted = max(2.0 * m * n * k * slowdown / (h.peak * eff.gemm), n * k * 2.0 / (h.bandwidth * eff.memory))
        out.append(seconds / predicted)
    return out


def test_the_hopper_16bit_tile_keeps_every_sweep_kernel_near_its_price(catalog_and_report) -> None:
    """The 24 BF16 sweep GEMMs of 16 to 8,192 rows, priced with the tile the H200 now reads
    (64 x 128, gemm_tile_rows_16bit) at the GEMM efficiency the solvers read (78.71%), take
    0.88 to 1.51 times their predicted time; with the A100 guide's 256 x 128 tile a 256-row
    GEMM is priced at 3.3 times its measured time (0.30), with 128 x 128 at 2.2 times (0.46):
    the figures the tile record's note states."""
    catalog, report = catalog_and_report
    cited = gemm_errors(catalog, report)
    assert len(cited) == 24
    assert (min(cited), max(cited)) == (pytest.approx(0.88, abs=0.005), pytest.approx(1.51, abs=0.005))
    guide = gemm_errors(catalog, report, (256, 128))
    assert min(guide) == pytest.approx(0.30, abs=0.005) and max(guide) == pytest.approx(1.19, abs=0.005)
    square = gemm_errors(catalog, report, (128, 128))
    assert min(square) == pytest.approx(0.46, abs=0.005) and max(square) == pytest.approx(1.25, abs=0.005)


def test_the_rows_priced_with_these_figures_say_so(catalog_and_report) -> None:
    """Every first-party H200 Llama row (its weight GEMMs take the tile chosen in part on this
    sweep) names the report in its note: evidence from the same machine and script as the row
    it is judged on."""
    catalog = catalog_and_report[0]
    rows = [r for r in catalog.records("measurements") if r.id.startswith("mlsysim_h200_llama3_8b_")]
    assert len(rows) == 9
    for row in rows:
        note = re.sub(r"\s+", " ", row.get("note"))
        assert SOURCE in note and "gemm_tile_rows_16bit" in note, row.id


def test_the_resnet50_rows_priced_with_the_pool_lines_say_so(catalog_and_report) -> None:
    """Every first-party H200 ResNet-50 row (its unfused pass prices the pools on these lines)
    names the report in its note."""
    catalog = catalog_and_report[0]
    rows = [r for r in catalog.records("measurements") if r.id.startswith("mlsysim_h200_resnet50_")]
    assert len(rows) == 9
    for row in rows:
        assert SOURCE in re.sub(r"\s+", " ", row.get("note")), row.id
