"""Figures the site derives from cited values (never stored in the catalog):
the roofline ridge point of an accelerator and the bytes a model's parameters
take at each precision. Each names its formula and its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlsysim.catalog.display import format_number, format_quantity
from mlsysim.catalog.records import Record

# Storage width of one parameter per number format, by the formats' own
# definitions (IEEE 754 binary32/binary16, bfloat16, OCP FP8, INT8, INT4);
# these are what the names mean, not measurements.
PARAMETER_BITS: dict[str, int] = {"fp32": 32, "bf16 / fp16": 16, "fp8 / int8": 8, "int4": 4}


@dataclass(frozen=True)
class DerivedFigure:
    """One derived number: name, SI value and unit, formula, the claim paths it uses."""

    name: str
    si: float
    si_unit: str
    display: str
    formula: str
    inputs: tuple[str, ...]  # field paths within the same record


def ridge_points(hw: Record) -> list[DerivedFigure]:
    """Arithmetic intensity where a roofline turns from memory- to compute-bound.

    ridge [FLOP/byte] = peak compute [FLOP/s] / memory bandwidth [byte/s], one per
    dense precision (Williams, Waterman & Patterson 2009, "Roofline", CACM 52(4)).
    """
    if not hw.has("memory.bandwidth") or not hw.has("compute"):
        return []
    bandwidth = hw.si("memory.bandwidth")
    out = []
    for precision in hw.keys("compute"):
        path = f"compute.{precision}"
        ridge = hw.si(path) / bandwidth
        unit = "op/byte" if precision.startswith("int") else "FLOP/byte"
        out.append(DerivedFigure(
            name=f"Ridge point, {precision.upper()}",
            si=ridge, si_unit=unit, display=f"{format_number(ridge)} {unit}",
            formula=f"{path} / memory.bandwidth", inputs=(path, "memory.bandwidth"),
        ))
    return out


def parameter_bytes(model: Record) -> list[DerivedFigure]:
    """Memory the weights take: parameters x bits per parameter / 8, per precision."""
    if not model.has("parameters"):
        return []
    params = model.si("parameters")
    out = []
    for fmt, bits in PARAMETER_BITS.items():
        size = params * bits / 8
        out.append(DerivedFigure(
            name=f"Parameter bytes, {fmt.upper()}",
            si=size, si_unit="byte", display=format_quantity(size, "information"),
            formula=f"parameters × {bits} bit / 8", inputs=("parameters",),
        ))
    return out


def derived_figures(record: Record) -> list[DerivedFigure]:
    if record.kind == "hardware":
        return ridge_points(record)
    if record.kind == "models":
        return parameter_bytes(record)
    return []

