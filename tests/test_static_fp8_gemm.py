"""scripts/static_fp8_gemm.py: FP8 GEMM figures of a GEMM table whose fp8 rows include the
quantization of their input, with that quantization (timed alone in two more tables) taken
out row by row, as AIConfigurator prices a GEMM whose input arrives in FP8."""

from __future__ import annotations

import json

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.solvers.terms import hardware_terms
from tests.conftest import REAL_CATALOG, load_script


@pytest.fixture(scope="module")
def script():
    return load_script("static_fp8_gemm")


@pytest.fixture(scope="module")
def h100():
    """The H100's dense FP8 peak and bandwidth, the roofs the figures are fractions of."""
    h = hardware_terms(load_catalog(REAL_CATALOG).get("hardware", "h100_sxm"), "fp8", True)
    return h.peak, h.bandwidth


def write(path, header, rows):
    path.write_text("\n".join([header] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def tables(tmp_path, gemm_rows, step_rows):
    """A GEMM table of `gemm_rows` (dtype, m, n, k, ms) and scale and quantize tables with the
    same (m, k, ms) rows (`step_rows`)."""
    gemm = write(tmp_path / "gemm.csv", "gemm_dtype,m,n,k,latency", gemm_rows)
    scale = write(tmp_path / "scale.csv", "m,k,latency", step_rows)
    quantize = write(tmp_path / "quantize.csv", "m,k,latency", step_rows)
    return [str(gemm), str(scale), str(quantize)]


def run(script, capsys, args):
    rc = script.main(args + ["--hardware", "h100_sxm", "--catalog", str(REAL_CATALOG), "--json"])
    out = capsys.readouterr()
    return rc, (json.loads(out.out) if rc == 0 else out.err)


def test_each_row_loses_its_quantization_before_the_medians_are_taken(script, tmp_path, capsys, h100):
    peak, bandwidth = h100
    # Three compute rows at m = 4096 (the middle one by rate is the median), three memory rows
    # (m = 8, weights of 512 M), a row below each cut and a bf16 row, all left out.
    # Each (m, k) loses 0.02 ms of scale computation and 0.02 ms of cast.
    compute = [("fp8", 4096, 8192, 8192, t) for t in (1.0, 0.8, 0.6)]
    memory = [("fp8", 8, 16384, 32768, t) for t in (0.3, 0.25, 0.2)]
    others = [("fp8", 4096, 1024, 1024, 0.01), ("fp8", 8, 4096, 4096, 0.01), ("bfloat16", 4096, 8192, 8192, 0.5)]
    steps = [(4096, 8192, 0.02), (8, 32768, 0.02), (4096, 1024, 0.0), (8, 4096, 0.0)]
    rc, result = run(script, capsys, tables(tmp_path, compute + memory + others, steps))
    assert rc == 0
    flops = 2 * 4096 * 8192 * 8192
    assert result["compute"]["as_timed"]["fraction"] == pytest.approx(flops / 0.8e-3 / peak)
    assert result["compute"]["without_quantization"]["fraction"] == pytest.approx(flops / 0.76e-3 / peak)
    assert result["compute"]["without_quantization"]["rows"] == 3
    assert result["compute"]["without_quantization"]["median_rows"] == [
        {"m": 4096, "n": 8192, "k": 8192, "latency_ms": pytest.approx(0.76)}]
    moved = 16384 * 32768 + 8 * 32768 + 2 * 8 * 16384  # FP8 weights and input, 16-bit output
    assert result["memory"]["without_quantization"]["fraction"] == pytest.approx(moved / 0.21e-3 / bandwidth)
    assert result["memory"]["as_timed"]["fraction"] == pytest.approx(moved / 0.25e-3 / bandwidth)


def test_an_even_count_quotes_both_middle_rows_and_averages_their_rates(script, tmp_path, capsys, h100):
    peak, _ = h100
    compute = [("fp8", 4096, 8192, 8192, t) for t in (1.0, 0.9, 0.8, 0.7)]
    memory = [("fp8", 8, 16384, 32768, 0.25)]
    rc, result = run(script, capsys, tables(tmp_path, compute + memory, [(4096, 8192, 0.0), (8, 32768, 0.0)]))
    assert rc == 0
    timed = result["compute"]["as_timed"]
    assert [r["latency_ms"] for r in timed["median_rows"]] == pytest.approx([0.9, 0.8])
    flops = 2 * 4096 * 8192 * 8192
    assert timed["median_rate"] == pytest.approx((flops / 0.9e-3 + flops / 0.8e-3) / 2)


def test_a_subtraction_past_the_roofline_stops_at_it(script, tmp_path, capsys, h100):
    """A quantization timed longer than the call that includes it (independent tables can
    cross) leaves the GEMM its roofline, AIConfigurator's floor, not a negative time."""
    peak, bandwidth = h100
    m, n, k = 4096, 8192, 8192
    roofline = max(2 * m * n * k / peak, (n * k + m * k + 2 * m * n) / bandwidth)
    rows = [("fp8", m, n, k, 0.5), ("fp8", 8, 16384, 32768, 0.25)]
    rc, result = run(script, capsys, tables(tmp_path, rows, [(m, k, 0.4), (8, 32768, 0.0)]))
    assert rc == 0
    assert result["compute"]["without_quantization"]["median_rows"][0]["latency_ms"] == pytest.approx(roofline * 1e3)
    assert result["compute"]["without_quantization"]["fraction"] <= 1.0


@pytest.mark.parametrize(("gemm_rows", "step_rows", "message"), [
    ([("fp8", 4096, 8192, 8192, 1.0), ("fp8", 8, 16384, 32768, 0.25)], [(4096, 8192, 0.0)],
     "m 8, k 32768: the quantization tables have no row for this shape"),
    ([("bfloat16", 4096, 8192, 8192, 1.0)], [(4096, 8192, 0.0)], "no row with gemm_dtype 'fp8'"),
    ([("fp8", 4096, 8192, 8192, 1.0)], [(4096, 8192, 0.0)], "no fp8 rows of the shapes the figures use"),
    ([("fp8", 4096, 8192, 8192, "fast")], [(4096, 8192, 0.0)], "row 2: m, n, k and latency must be numbers"),
    ([("fp8", 4096, 8192, 8192, 1.0)], [(4096, 8192, -0.1)], "row 2: latency must not be negative"),
])
def test_bad_tables_are_located_errors_not_tracebacks(script, tmp_path, capsys, gemm_rows, step_rows, message):
    rc, err = run(script, capsys, tables(tmp_path, gemm_rows, step_rows))
    assert rc == 1
    assert err.startswith("Error: ") and message in err and "Traceback" not in err


def test_a_table_without_the_needed_columns_says_which(script, tmp_path, capsys):
    args = tables(tmp_path, [("fp8", 4096, 8192, 8192, 1.0)], [(4096, 8192, 0.0)])
    write(tmp_path / "scale.csv", "m,k,time", [(4096, 8192, 0.0)])
    rc, err = run(script, capsys, args)
    assert rc == 1 and "no column latency; the table needs m, k, latency" in err


def test_the_text_report_gives_both_figures_and_their_median_rows(script, tmp_path, capsys):
    args = tables(tmp_path, [("fp8", 4096, 8192, 8192, 1.0), ("fp8", 8, 16384, 32768, 0.25)],
                  [(4096, 8192, 0.1), (8, 32768, 0.01)])
    assert script.main(args + ["--hardware", "h100_sxm", "--catalog", str(REAL_CATALOG)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("H100 FP8 GEMMs of gemm.csv: dense peak 1,978.0 TFLOP/s, bandwidth 3,350 GB/s")
    assert "compute without quantization" in out and "memory  as timed" in out
    assert "median row(s): m 4096 n 8192 k 8192 0.800000 ms" in out
