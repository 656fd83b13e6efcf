"""Tile and wave quantization of GEMMs: the cited tile an accelerator's library GEMMs (and
implicit-GEMM convolutions) run in, and the waves of tiles its SMs take for a given shape, a
partly filled last wave costing a whole one.

References
----------
NVIDIA, "Matrix Multiplication Background User's Guide" (tile and wave quantization).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record, Value
from mlsysim.lineage import Lineage
from mlsysim.solvers.terms import HardwareTerms, ModelTerms, applies_to, cited_assumption, measured_for


GEMM_TILE_ROWS = "gemm_tile_rows"
GEMM_TILE_COLUMNS = "gemm_tile_columns"
GEMM_TILES_PER_SM = "gemm_tiles_per_sm_wave"
CONV_TILE_ROWS = "conv_tile_rows"
CONV_TILE_COLUMNS = "conv_tile_columns"


@dataclass(eq=False)
class WaveQuantization:
    """Tile and wave quantization of a pass's weight GEMMs on one GPU, reduced to floats.

    A GEMM's (tokens x N) output is cut into tiles of `tile_rows` x `tile_columns`; each
    streaming multiprocessor runs a fixed number of tiles at once, so `wave` = SMs x tiles
    per SM tiles run together and a GEMM of T tiles takes ceil(T / wave) waves, each as long
    as one full tile (NVIDIA, Matrix Multiplication Background User's Guide: Section 3.2, wave
    quantization; Section 3.1, tile quantization: a partial tile does a full tile's math).
    `column_tiles[i]` = ceil(N_i / tile columns) for weight GEMM i, N_i its output width on
    this GPU; `coefficients[i]` = its share of the pass's weight-matmul FLOPs x tile columns /
    N_i; `rest` = the share not modelled (routed experts, biases), charged as if the GPU were
    full. `wave` is 0 when the term does not apply, and `reason` says why.
    """

    wave: float
    tile_rows: float
    column_tiles: tuple[float, ...]
    coefficients: tuple[float, ...]
    rest: float
    lineage: Lineage
    reason: str = ""
    # Slowdown by token count, so repeated solves of the same shape pay one dict lookup.
    # Plain floats only; this object itself lives in its catalog's derived-terms memo.
    _memo: dict[float, float] = field(default_factory=dict, repr=False)

    def slowdown(self, tokens: float) -> float:
        """Weight-GEMM time with tile and wave quantization over the time without [1], >= 1,
        for a pass whose GEMMs have `tokens` rows (batch x new tokens). GEMM i runs
        W_i = ceil(ceil(tokens / tile rows) x column_tiles_i / wave) waves of tiles of
        R = min(tokens, tile rows) rows (a GEMM shorter than one tile is charged only its own
        rows: which smaller tile cuBLAS then picks is not cited) and tile columns, so it takes
        W_i x wave x R x tile columns / (tokens x N_i) times its ideal time:
        slowdown = rest + sum_i share_i x that."""
        wave = self.wave
        if not wave:
            return 1.0
        memo = self._memo
        hit = memo.get(tokens)
        if hit is not None:
            return hit
        tile_rows = self.tile_rows
        bands = math.ceil(tokens / tile_rows)
        waves = 0.0
        for coefficient, columns in zip(self.coefficients, self.column_tiles):
            waves += coefficient * math.ceil(bands * columns / wave)
        # Every GEMM's factor is >= 1 (a wave cannot hold more tiles than exist), so the
        # weighted sum is >= 1; the max restores that bound where the shares' rounding
        # lands one ulp below it.
        result = max(1.0, self.rest + waves * wave * min(tokens, tile_rows) / tokens)
        if len(memo) < inputs.MEMO_LIMIT:
            memo[tokens] = result
        return result

    def slowdown_array(self, tokens: Any) -> Any:
        """`slowdown` element-wise over a numpy array of token counts (same arithmetic)."""
        import numpy as np

        wave = self.wave
        if not wave:
            return np.ones(np.shape(tokens))
        tile_rows = self.tile_rows
        bands = np.ceil(tokens / tile_rows)
        waves = np.zeros(np.shape(tokens))
        for coefficient, columns in zip(self.coefficients, self.column_tiles):
            waves = waves + coefficient * np.ceil(bands * columns / wave)
        return np.maximum(1.0, self.rest + waves * wave * np.minimum(tokens, tile_rows) / tokens)


def _no_waves(reason: str) -> WaveQuantization:
    return WaveQuantization(0.0, 1.0, (), (), 1.0, Lineage(), reason)


# The cited tile is measured for one compute precision; bf16 runs the same 16-bit
# tensor-core GEMM kernels as fp16, so it shares the tile. Other formats use their own tile
# records (`<tile record>_<precision>`, e.g. gemm_tile_rows_fp8) where the catalog has
# them; a format with none (int8, ...) gets no wave term.
_SAME_TILES = {"fp16": ("fp16", "bf16")}
# Suffixes of the tile records a precision may read, most specific first: its own
# (`_fp8`), then its family's (`_16bit`, e.g. a tile scoped to Hopper's 16-bit GEMMs); the
# unsuffixed default comes last.
_TILE_SUFFIXES = {"fp16": ("fp16", "16bit"), "bf16": ("bf16", "16bit")}


def wave_quantization(m: ModelTerms, h: HardwareTerms, tp: int = 1) -> WaveQuantization:
    """The GEMM tile- and wave-quantization term of model `m` on accelerator `h` with its weight GEMMs
    split over `tp` GPUs (tensor parallelism) (column-split GEMMs keep N / tp output columns per
    GPU, row-split ones the full N), from the accelerator's cited SM count (`compute_units`)
    and the cited tile that applies to it (`gemm_tile_values`). Not applied (slowdown 1,
    nothing in the lineage, `reason` says why) when the model has no described GEMMs, the
    record has no compute_units, the cited tile is for another vendor or precision. Memoised
    per (model, hardware at a precision, tensor parallelism) in their catalog, so a solve
    pays one dictionary lookup."""
    memo = h.catalog.derived("wave_quantization")
    key = (m.ref, h.record._data["id"], h.precision, tp)
    result = memo.get(key)
    if result is None:
        result = memo[key] = _read_waves(m, h, tp)
    return result


def _read_waves(m: ModelTerms, h: HardwareTerms, tp: int) -> WaveQuantization:
    if not m.gemms:
        return _no_waves(f"{m.name} has no described weight GEMMs (no transformer architecture)")
    widths = [n / tp if split == "columns" else n for n, _, split in m.gemms]  # output columns on this GPU
    return _tiled_waves(h, widths, [share for _, share, _ in m.gemms])


def single_gemm_waves(h: HardwareTerms, columns: float) -> WaveQuantization:
    """The tile- and wave-quantization term of one GEMM with `columns` output columns [1] on
    accelerator `h`, from the same cited SM count and tile as `wave_quantization` (not
    applied, with `reason`, where those do not apply to `h`). For checking the solver's GEMM
    pricing against measured kernels one shape at a time."""
    return _tiled_waves(h, [columns], [1.0])


def _tiled_waves(h: HardwareTerms, widths: list[float], shares: list[float]) -> WaveQuantization:
    """The wave term of GEMMs with output `widths` [columns] carrying `shares` of the pass's
    weight-matmul FLOPs, on `h`'s cited tile (`gemm_tile`); the rest of the FLOPs unmodelled."""
    tile = gemm_tile(h.record, h.precision)
    if isinstance(tile, str):
        return _no_waves(tile)
    wave, tile_rows, tile_columns, lineage = tile
    columns = tuple(float(math.ceil(width / tile_columns)) for width in widths)
    coefficients = tuple(share * tile_columns / width for share, width in zip(shares, widths))
    rest = max(1.0 - sum(shares), 0.0)
    return WaveQuantization(wave, tile_rows, columns, coefficients, rest, lineage)


def gemm_tile(hw: Record, precision: str) -> tuple[float, float, float, Lineage] | str:
    """(wave [tiles], tile rows, tile columns, the cited values used) of accelerator `hw`'s
    GEMMs at `precision`, or why the wave term does not apply."""
    if not hw.has("compute_units"):
        return f"{hw.label} has no compute_units (SM count) in the catalog"
    tile = gemm_tile_values(hw, precision)
    rows_value, columns_value, per_sm_value = tile["rows"], tile["columns"], tile["tiles_per_sm"]
    for value in (rows_value, columns_value, per_sm_value):
        if not applies_to(value, hw):
            return f"the cited GEMM tile is for {measured_for(value)}, not {hw.label}"
        if not _tile_serves(value, precision):
            return f"the cited GEMM tile is for {value.qualifiers.get('precision')}, not {precision}"
    lineage = Lineage()
    sms = lineage.use(hw.compute_units)
    tile_rows = lineage.use(rows_value)
    tile_columns = lineage.use(columns_value)
    return sms * lineage.use(per_sm_value), tile_rows, tile_columns, lineage


def _tile_serves(value: Value, precision: str) -> bool:
    """Whether a tile record measured at its `precision` qualifier serves GEMMs at `precision`."""
    tile_precision = value.qualifiers.get("precision")
    return not tile_precision or precision in _SAME_TILES.get(tile_precision, (tile_precision,))


def gemm_tile_values(hw: Record, precision: str) -> dict[str, Value]:
    """The cited GEMM tile `wave_quantization` reads on accelerator `hw` at `precision`:
    "rows", "columns" and "tiles_per_sm", each the most specific record that applies to `hw`
    and serves `precision` (`<record>_<precision>`, then `<record>_<family>`, e.g.
    gemm_tile_rows_16bit for fp16 and bf16), else the default record."""
    needed = "the GEMM wave-quantization term (the hardware record has compute_units)"
    return {part: _tile_assumption(hw, ident, precision, needed)
            for part, ident in (("rows", GEMM_TILE_ROWS), ("columns", GEMM_TILE_COLUMNS),
                                ("tiles_per_sm", GEMM_TILES_PER_SM))}


def _tile_assumption(hw: Record, ident: str, precision: str, needed: str) -> Value:
    """The first tile record `<ident>_<suffix>` (suffixes of `precision`, most specific
    first) in the catalog that applies to `hw` and serves `precision`, else the default
    record `ident` where it serves `precision`; else the first scoped record, whose scope
    then says why no tile applies (e.g. an FP8 tile cited for Hopper only)."""
    catalog = hw._catalog
    scoped = [cited_assumption(catalog, f"{ident}_{suffix}", needed)
              for suffix in _TILE_SUFFIXES.get(precision, (precision,))
              if catalog.lookup("assumptions", f"{ident}_{suffix}") is not None]
    for value in scoped:
        if applies_to(value, hw) and _tile_serves(value, precision):
            return value
    default = cited_assumption(catalog, ident, needed)
    return scoped[0] if scoped and not _tile_serves(default, precision) else default
