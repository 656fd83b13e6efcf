"""FP8 GEMM figures of NVIDIA's GEMM tables without the activation quantization they include.

AIConfigurator's TensorRT-LLM collector times FP8 linear layers whose weights carry no input
scale, so every timed call also computes its activations' scale (an amax reduction) and
quantizes them to FP8 before the GEMM ("the collected fp8 GEMM includes the compute-scale
overhead", collector/trtllm/collect_gemm.py). The same database times those two steps alone
per (m, k) (quantize/<framework>/<version>/computescale_perf.parquet and
scale_matrix_perf.parquet), and AIConfigurator prices a GEMM whose input arrives already in
FP8 as the table's time less both, floored at the GEMM's roofline
(aic-core/rust/aiconfigurator-core/src/operators/gemm.rs, fp8_static). This script does the
same row by row and prints, with and without the quantization, the two figures the catalog
takes from such a table:

- compute: the median over rows with m = 4096 and n x k >= 16e6 of 2 m n k / t, over the
  accelerator's dense FP8 peak (gemm_efficiency_<gpu>_fp8_median);
- memory: the median over rows with 1 <= m <= 64 and n x k >= 256e6 of
  (n k + m k + 2 m n) bytes / t, over its memory bandwidth (memory_efficiency_<gpu>_fp8_gemm).

Each figure comes with the row (or the two rows) its median falls on, to quote.

    python scripts/static_fp8_gemm.py GEMM_TABLE COMPUTE_SCALE_TABLE SCALE_MATRIX_TABLE
        --hardware h100_sxm [--catalog DIR] [--json]

Tables are CSV, or Parquet when pyarrow is installed. Exit 0 with the report, 1 with
`Error: ...` for unreadable input or a row whose quantization steps were not timed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_gemm_roofline import InputError, measured_gemms, read_table  # noqa: E402

STEP_COLUMNS = ("m", "k", "latency")
COMPUTE_ROWS, COMPUTE_MIN_WEIGHTS = 4096, 16e6
MEMORY_ROWS, MEMORY_MIN_WEIGHTS = (1, 64), 256e6


def step_times(path: Path, what: str) -> dict[tuple[int, int], float]:
    """Seconds of one quantization step per (m, k), from a table with columns m, k, latency [ms]."""
    out = {}
    for line, row in enumerate(read_table(path, STEP_COLUMNS, what), start=2):
        try:
            m, k, ms = int(row["m"]), int(row["k"]), float(row["latency"])
        except (TypeError, ValueError):
            raise InputError(f"{path}: row {line}: m, k and latency must be numbers") from None
        if ms < 0:
            raise InputError(f"{path}: row {line}: latency must not be negative")
        out[(m, k)] = ms * 1e-3
    return out


def fp8_rows(path: Path) -> list[tuple[int, int, int, float]]:
    """(m, n, k, seconds) of the table's fp8 rows."""
    out = [(int(m), int(n), int(k), s) for m, n, k, s in measured_gemms(read_table(path), "fp8", 0.0, path)]
    if not out:
        raise InputError(f"{path}: no row with gemm_dtype 'fp8'")
    return out


def gemm_bytes(m: int, n: int, k: int) -> float:
    """Bytes a decode-shaped FP8 GEMM moves: FP8 weights and input, 16-bit output."""
    return float(n * k + m * k + 2 * m * n)


def without_quantization(m: int, n: int, k: int, seconds: float, scale: dict, quantize: dict,
                         peak: float, bandwidth: float) -> float:
    """The row's time less its scale computation and quantization [s], never below the
    GEMM's roofline at the dense peak and full bandwidth (AIConfigurator's floor)."""
    if (m, k) not in scale or (m, k) not in quantize:
        raise InputError(f"m {m}, k {k}: the quantization tables have no row for this shape; "
                         "give tables of the same framework version as the GEMM table")
    roofline = max(2.0 * m * n * k / peak, gemm_bytes(m, n, k) / bandwidth)
    return max(seconds - scale[(m, k)] - quantize[(m, k)], roofline)


def median_figure(rows: list[tuple[int, int, int, float]], rate: Callable[[int, int, int, float], float],
                  roof: float) -> dict[str, Any]:
    """The median of rate(row) over `rows` as a fraction of `roof`, with the middle row(s)."""
    ranked = sorted(rows, key=lambda r: rate(*r))
    middle = len(ranked) // 2
    quoted = ranked[middle - 1:middle + 1] if len(ranked) % 2 == 0 else ranked[middle:middle + 1]
    median = statistics.median(rate(*r) for r in ranked)
    return {"rows": len(ranked), "median_rate": median, "fraction": median / roof,
            "lowest_rate": rate(*ranked[0]), "highest_rate": rate(*ranked[-1]),
            "median_rows": [{"m": m, "n": n, "k": k, "latency_ms": s * 1e3} for m, n, k, s in quoted]}


def figures(gemms: list[tuple[int, int, int, float]], scale: dict, quantize: dict, peak: float,
            bandwidth: float) -> dict[str, Any]:
    """The compute and memory figures of the table, as timed and without the quantization."""
    compute = [g for g in gemms if g[0] == COMPUTE_ROWS and g[1] * g[2] >= COMPUTE_MIN_WEIGHTS]
    memory = [g for g in gemms if MEMORY_ROWS[0] <= g[0] <= MEMORY_ROWS[1] and g[1] * g[2] >= MEMORY_MIN_WEIGHTS]
    if not compute or not memory:
        raise InputError("the GEMM table has no fp8 rows of the shapes the figures use "
                         f"(m = {COMPUTE_ROWS} with n x k >= {COMPUTE_MIN_WEIGHTS:g}; "
                         f"m {MEMORY_ROWS[0]}-{MEMORY_ROWS[1]} with n x k >= {MEMORY_MIN_WEIGHTS:g})")

    def static(rows):
        return [(m, n, k, without_quantization(m, n, k, s, scale, quantize, peak, bandwidth)) for m, n, k, s in rows]

    flops = lambda m, n, k, s: 2.0 * m * n * k / s  # noqa: E731
    moved = lambda m, n, k, s: gemm_bytes(m, n, k) / s  # noqa: E731
    return {
        "compute": {"as_timed": median_figure(compute, flops, peak), "without_quantization": median_figure(static(compute), flops, peak)},
        "memory": {"as_timed": median_figure(memory, moved, bandwidth), "without_quantization": median_figure(static(memory), moved, bandwidth)},
    }


def render(result: dict[str, Any]) -> str:
    lines = [result["title"]]
    for kind, unit, scale in (("compute", "TFLOP/s", 1e12), ("memory", "GB/s", 1e9)):
        for mode in ("as_timed", "without_quantization"):
            f = result[kind][mode]
            rows = ", ".join(f"m {r['m']} n {r['n']} k {r['k']} {r['latency_ms']:.6f} ms" for r in f["median_rows"])
            lines.append(f"  {kind:<8}{mode.replace('_', ' '):<22}{f['fraction']:8.2%}  median {f['median_rate'] / scale:,.2f} "
                         f"{unit} over {f['rows']} rows ({f['lowest_rate'] / scale:,.1f}-{f['highest_rate'] / scale:,.1f}); "
                         f"median row(s): {rows}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gemm_table", type=Path, help="GEMM table (gemm_dtype, m, n, k, latency in ms)")
    parser.add_argument("scale_table", type=Path, help="compute-scale table (m, k, latency in ms)")
    parser.add_argument("quantize_table", type=Path, help="scale-matrix (quantize) table (m, k, latency in ms)")
    parser.add_argument("--hardware", required=True, help="catalog hardware id, e.g. h100_sxm")
    parser.add_argument("--catalog", default=None, help="catalog directory (default: the bundled one)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)

    from mlsysim.catalog import default_catalog, load_catalog
    from mlsysim.errors import MlsysimError
    from mlsysim.solvers.terms import hardware_terms

    try:
        gemms = fp8_rows(args.gemm_table)
        scale = step_times(args.scale_table, "compute-scale times")
        quantize = step_times(args.quantize_table, "quantization times")
        catalog = load_catalog(args.catalog) if args.catalog else default_catalog()
        h = hardware_terms(catalog.get("hardware", args.hardware), "fp8", True)
        result = figures(gemms, scale, quantize, h.peak, h.bandwidth)
    except (InputError, MlsysimError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    result["title"] = (f"{h.name} FP8 GEMMs of {args.gemm_table.name}: dense peak {h.peak / 1e12:,.1f} TFLOP/s, "
                       f"bandwidth {h.bandwidth / 1e9:,.0f} GB/s")
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
