"""The solver's price of one weight GEMM against measured kernel times, shape by shape.

A serving pass prices its weight GEMMs at max(compute, weight read): 2 M N K FLOPs stretched
by the cited tile and wave quantization, at the accelerator's dense peak times its cited GEMM
efficiency, against N K weights at the precision's bytes over its bandwidth times the cited
memory efficiency (`roofline.kernel_roofline_time`, `gemm_waves.single_gemm_waves`). This script
prices every GEMM of a measured sweep that way and prints measured / predicted, grouped by
how close the shape sits to the ridge point (the smaller roof over the larger: 0 is purely
compute- or memory-bound, 1 is both at once) and by its rows M. Nothing is fitted: the
figures say where the solver's kernel pricing is optimistic (above 1) or pessimistic.

The input is a table of measured GEMMs with columns gemm_dtype, m, n, k and latency
(milliseconds per call), as NVIDIA's AIConfigurator publishes them per GPU and framework
version (aic-core/src/aiconfigurator_core/systems/data/<gpu>/gemm/<framework>/<version>/
gemm_perf.parquet): CSV, or Parquet when pyarrow is installed.

    python scripts/check_gemm_roofline.py TABLE --hardware h100_sxm --precision fp8
        [--dtype fp8] [--min-weights 16e6] [--catalog DIR] [--json]

Exit 0 with the report, 1 with `Error: ...` for unreadable input.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Any

# How a sweep's gemm_dtype names each solver precision (AIConfigurator's spelling).
DTYPES = {"fp8": "fp8", "bf16": "bfloat16", "fp16": "float16", "int8": "int8", "fp4": "nvfp4"}
COLUMNS = ("gemm_dtype", "m", "n", "k", "latency")
RIDGE_BANDS = ((0.0, 0.1), (0.1, 0.3), (0.3, 0.6), (0.6, 1.0))
ROW_BANDS = ((1, 16), (17, 64), (65, 256), (257, 1024), (1025, None))


class InputError(Exception):
    """A table this script cannot read; the message says where and how to fix it."""


def read_table(path: Path, columns: tuple[str, ...] = COLUMNS,
               what: str = "measured GEMMs") -> list[dict[str, Any]]:
    """The rows of a CSV or Parquet table of `what`, as dicts of the needed `columns`."""
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a CSV or Parquet table of {what}")
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as parquet
        except ImportError:
            raise InputError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow); "
                             "or give the table as CSV") from None
        table = parquet.read_table(path)
        missing = [c for c in columns if c not in table.column_names]
        rows = [] if missing else table.select(list(columns)).to_pylist()
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in columns if c not in (reader.fieldnames or ())]
            rows = [] if missing else list(reader)
    if missing:
        raise InputError(f"{path}: no column {', '.join(missing)}; the table needs {', '.join(columns)} "
                         "(latency in milliseconds per call)")
    return rows


def measured_gemms(rows: list[dict[str, Any]], dtype: str, min_weights: float, path: Path) -> list[tuple[float, ...]]:
    """(M, N, K, seconds) of each row of `dtype` with at least `min_weights` weight elements."""
    out = []
    for line, row in enumerate(rows, start=2):
        if str(row["gemm_dtype"]) != dtype:
            continue
        try:
            m, n, k, ms = (float(row[c]) for c in ("m", "n", "k", "latency"))
        except (TypeError, ValueError):
            raise InputError(f"{path}: row {line}: m, n, k and latency must be numbers") from None
        if min(m, n, k, ms) <= 0:
            raise InputError(f"{path}: row {line}: m, n, k and latency must be positive")
        if n * k >= min_weights:
            out.append((m, n, k, ms * 1e-3))
    return out


def solver_terms(catalog_dir: str | None, hardware: str, precision: str) -> Any:
    """The accelerator at `precision`, its cited kernel efficiencies and the bytes per weight."""
    from mlsysim.catalog import default_catalog, load_catalog
    from mlsysim.solvers.roofline import BYTES_PER_ELEMENT
    from mlsysim.solvers.kernel_efficiency import kernel_efficiencies
    from mlsysim.solvers.terms import hardware_terms

    catalog = load_catalog(catalog_dir) if catalog_dir else default_catalog()
    h = hardware_terms(catalog.get("hardware", hardware), precision, True)
    return h, kernel_efficiencies(h), BYTES_PER_ELEMENT[precision]


def compare(gemms: list[tuple[float, ...]], h: Any, eff: Any, bytes_per_weight: float) -> list[tuple[float, float, float]]:
    """(M, ridge closeness, measured / predicted) of each GEMM, priced as a pass prices its weight GEMMs."""
    from mlsysim.solvers.roofline import kernel_roofline_time
    from mlsysim.solvers.gemm_waves import single_gemm_waves

    waves: dict[float, Any] = {}
    out = []
    for m, n, k, seconds in gemms:
        term = waves.get(n) or waves.setdefault(n, single_gemm_waves(h, n))
        flops, weights = 2.0 * m * n * k, n * k * bytes_per_weight
        slowdown = term.slowdown(m)
        predicted = kernel_roofline_time(flops, 0.0, slowdown, h.peak, eff.gemm, eff.attention, weights, 0.0,
                                         h.bandwidth, eff.memory)
        compute = flops * slowdown / (h.peak * eff.gemm)
        memory = weights / (h.bandwidth * eff.memory)
        out.append((m, min(compute, memory) / max(compute, memory), seconds / predicted))
    return out


def summary(ratios: list[float]) -> dict[str, Any]:
    """Count, median and the 10th/90th percentiles of measured / predicted."""
    if not ratios:
        return {"kernels": 0}
    cuts = statistics.quantiles(ratios, n=10) if len(ratios) > 1 else [ratios[0]] * 9
    return {"kernels": len(ratios), "median": statistics.median(ratios), "p10": cuts[0], "p90": cuts[-1]}


def report(points: list[tuple[float, float, float]]) -> dict[str, Any]:
    by_ridge = {f"{lo:.1f}-{hi:.1f}": summary([r for _, c, r in points if lo <= c < hi or (hi == 1.0 and c == 1.0)])
                for lo, hi in RIDGE_BANDS}
    by_rows = {(f"{lo}-{hi}" if hi else f">={lo}"): summary([r for m, _, r in points if m >= lo and (hi is None or m <= hi)])
               for lo, hi in ROW_BANDS}
    return {"all": summary([r for _, _, r in points]), "by_ridge_closeness": by_ridge, "by_rows": by_rows}


def render(result: dict[str, Any]) -> str:
    def line(label: str, s: dict[str, Any]) -> str:
        if not s["kernels"]:
            return f"  {label:<12}{0:>9,}"
        return f"  {label:<12}{s['kernels']:>9,}{s['median']:>9.2f}{s['p10']:>8.2f}{s['p90']:>8.2f}"

    head = f"  {'':<12}{'kernels':>9}{'median':>9}{'p10':>8}{'p90':>8}"
    lines = [result["title"], result["terms"], "",
             "measured / predicted, by ridge closeness (smaller roof / larger roof):", head]
    lines += [line(k, v) for k, v in result["by_ridge_closeness"].items()]
    lines += ["", "measured / predicted, by rows M:", head]
    lines += [line(f"M {k}", v) for k, v in result["by_rows"].items()]
    lines += ["", line("all", result["all"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", type=Path, help="CSV or Parquet table of measured GEMMs")
    parser.add_argument("--hardware", required=True, help="catalog hardware id, e.g. h100_sxm")
    parser.add_argument("--precision", required=True, help="solver precision: fp8, bf16, fp16, int8, fp4")
    parser.add_argument("--dtype", default=None, help="the table's gemm_dtype for it (default: AIConfigurator's name)")
    parser.add_argument("--min-weights", type=float, default=16e6,
                        help="leave out GEMMs with fewer weight elements N x K (default 16e6): their time is "
                             "mostly the fixed cost of a call, which a pass of large weight GEMMs does not pay")
    parser.add_argument("--catalog", default=None, help="catalog directory (default: the bundled one)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)

    from mlsysim.errors import MlsysimError

    dtype = args.dtype or DTYPES.get(args.precision, args.precision)
    try:
        gemms = measured_gemms(read_table(args.table), dtype, args.min_weights, args.table)
        if not gemms:
            raise InputError(f"{args.table}: no GEMM with gemm_dtype {dtype!r} and N x K >= {args.min_weights:g}; "
                             "check --dtype (or --precision) and --min-weights")
        h, eff, bytes_per_weight = solver_terms(args.catalog, args.hardware, args.precision)
        result = report(compare(gemms, h, eff, bytes_per_weight))
    except (InputError, MlsysimError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    result["title"] = (f"{h.name} at {args.precision}: the solver's weight-GEMM price against {len(gemms):,} measured "
                       f"GEMMs ({args.table.name}, gemm_dtype {dtype}, N x K >= {args.min_weights:g})")
    result["terms"] = (f"  peak {h.peak / 1e12:,.0f} TFLOP/s x GEMM efficiency {eff.gemm:.2%}, bandwidth "
                       f"{h.bandwidth / 1e12:.2f} TB/s x memory efficiency {eff.memory:.2%}; {tile_note(h)}")
    result["cited"] = sorted({e.path for e in h.lineage.entries() + eff.lineage.entries()})
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


def tile_note(h: Any) -> str:
    """The cited tile and wave the check used, or why none applied."""
    from mlsysim.solvers.gemm_waves import gemm_tile

    tile = gemm_tile(h.record, h.precision)
    if isinstance(tile, str):
        return f"no wave quantization ({tile})"
    wave, rows, columns, _ = tile
    return f"tile {rows:g} x {columns:g}, {wave:g} tiles per wave"


if __name__ == "__main__":
    sys.exit(main())
