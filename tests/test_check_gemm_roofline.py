"""scripts/check_gemm_roofline.py: the solver's price of one weight GEMM (cited peak and
efficiencies, cited tile and wave) against a table of measured kernel times."""

from __future__ import annotations

import json
import math
import sys
from functools import lru_cache

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.solvers.kernel_efficiency import kernel_efficiencies
from mlsysim.solvers.terms import hardware_terms
from tests.conftest import REAL_CATALOG, load_script


@pytest.fixture(scope="module")
def check():
    return load_script("check_gemm_roofline")


@lru_cache(maxsize=None)
def h100_bf16():
    """The H100's BF16 terms and cited kernel efficiencies, read from the catalog once."""
    h = hardware_terms(load_catalog(REAL_CATALOG).get("hardware", "h100_sxm"), "bf16", True)
    return h, kernel_efficiencies(h)


def expected_seconds(m: int, n: int, k: int) -> float:
    """The H100's BF16 price of an M x N x K GEMM worked out here by hand: the 64 x 128 tile
    assumed for Hopper's 16-bit GEMMs (CUTLASS's Hopper FP8 example tile, gemm_tile_rows_16bit),
    one per SM, 132 SMs (NVIDIA's Matrix Multiplication Background guide, Section 3.2:
    ceil(tiles / wave) waves of full tiles), then the larger of compute and weight read."""
    h, eff = h100_bf16()
    tiles = math.ceil(m / 64) * math.ceil(n / 128)
    charged = math.ceil(tiles / 132) * 132 * min(m, 64) * 128 * k * 2.0
    return max(charged / (h.peak * eff.gemm), n * k * 2.0 / (h.bandwidth * eff.memory))


def write_table(path, rows):
    lines = ["framework,gemm_dtype,m,n,k,latency"] + [",".join(["TRTLLM", *map(str, row)]) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_measured_over_predicted_is_grouped_by_ridge_closeness_and_rows(check, tmp_path, capsys):
    # A compute-bound GEMM measured at 1.25x its price, a memory-bound one at 0.8x; a small
    # GEMM (N x K under the cut) and another dtype are left out.
    big = (8192, 8192, 8192)
    thin = (4, 8192, 8192)
    table = write_table(tmp_path / "gemm.csv", [
        ("bfloat16", *big, 1.25 * expected_seconds(*big) * 1e3),
        ("bfloat16", *thin, 0.8 * expected_seconds(*thin) * 1e3),
        ("bfloat16", 4, 1024, 1024, 1.0),
        ("fp8", *big, 1.0),
    ])
    rc = check.main([str(table), "--hardware", "h100_sxm", "--precision", "bf16", "--catalog", str(REAL_CATALOG),
                     "--json"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["all"]["kernels"] == 2
    ridge = result["by_ridge_closeness"]
    assert ridge["0.0-0.1"]["kernels"] == 2
    assert ridge["0.0-0.1"]["median"] == pytest.approx((1.25 + 0.8) / 2)
    rows = result["by_rows"]
    assert rows["1-16"]["median"] == pytest.approx(0.8)
    assert rows[">=1025"]["median"] == pytest.approx(1.25)
    assert "tile 64 x 128, 132 tiles per wave" in result["terms"]
    assert any(path.startswith("hardware/") for path in result["cited"])


def test_the_text_report_names_the_terms_it_priced_with(check, tmp_path, capsys):
    big = (8192, 8192, 8192)
    table = write_table(tmp_path / "gemm.csv", [("bfloat16", *big, expected_seconds(*big) * 1e3)])
    assert check.main([str(table), "--hardware", "h100_sxm", "--precision", "bf16", "--catalog", str(REAL_CATALOG)]) == 0
    out = capsys.readouterr().out
    assert "against 1 measured GEMMs" in out and "GEMM efficiency" in out and "memory efficiency" in out
    assert "  all                 1     1.00    1.00    1.00" in out


@pytest.mark.parametrize("text, message", [
    ("framework,gemm_dtype,m,n\nTRTLLM,bfloat16,1,2\n", "no column k, latency"),
    ("gemm_dtype,m,n,k,latency\nbfloat16,1,8192,8192,fast\n", "row 2: m, n, k and latency must be numbers"),
    ("gemm_dtype,m,n,k,latency\nbfloat16,0,8192,8192,1\n", "row 2: m, n, k and latency must be positive"),
    ("gemm_dtype,m,n,k,latency\nfp8,1,8192,8192,1\n", "no GEMM with gemm_dtype 'bfloat16'"),
])
def test_a_bad_table_is_a_located_error_not_a_traceback(check, tmp_path, capsys, text, message):
    table = tmp_path / "gemm.csv"
    table.write_text(text)
    assert check.main([str(table), "--hardware", "h100_sxm", "--precision", "bf16", "--catalog", str(REAL_CATALOG)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {table}") and message in err


def test_parquet_without_pyarrow_says_how_to_read_it(check, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import fails as when pyarrow is absent
    table = tmp_path / "gemm_perf.parquet"
    table.write_bytes(b"PAR1")
    assert check.main([str(table), "--hardware", "h100_sxm", "--precision", "fp8"]) == 1
    assert "reading Parquet needs pyarrow (pip install pyarrow); or give the table as CSV" in capsys.readouterr().err


def test_an_unknown_accelerator_is_the_catalogs_error(check, tmp_path, capsys):
    table = write_table(tmp_path / "gemm.csv", [("bfloat16", 8192, 8192, 8192, 1.0)])
    assert check.main([str(table), "--hardware", "no_such_gpu", "--precision", "bf16", "--catalog", str(REAL_CATALOG)]) == 1
    assert capsys.readouterr().err.startswith("Error: ")
