"""Units: one pint registry built from the project's own definitions file.

pint is used at the boundary only (loading and display). Importing this module
does not import pint; the registry is built on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFINITIONS_FILE = Path(__file__).with_name("units.txt")


@dataclass(frozen=True)
class Dimension:
    """A physical dimension a schema field may declare."""

    name: str
    pint_dimensionality: str
    canonical_unit: str  # the SI-coherent unit solvers receive floats in
    example_unit: str  # shown to people in error messages


# Solvers compute in these canonical units; pint converts once at load time.
DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("dimensionless", "", "dimensionless", "billion"),
        Dimension("time", "[time]", "second", "hour"),
        Dimension("frequency", "1/[time]", "hertz", "GHz"),
        Dimension("power", "[mass]*[length]**2/[time]**3", "watt", "W"),
        Dimension("energy", "[mass]*[length]**2/[time]**2", "joule", "kWh"),
        Dimension("information", "[information]", "byte", "GB"),
        Dimension("bandwidth", "[information]/[time]", "byte/second", "TB/s"),
        Dimension("compute", "[compute]", "FLOP", "GFLOP"),
        Dimension("compute_rate", "[compute]/[time]", "FLOP/second", "TFLOP/s"),
        Dimension("currency", "[currency]", "USD", "USD"),
        Dimension("price_per_hour", "[currency]/[time]", "USD/second", "USD/hour"),
        Dimension("price_per_energy", "[currency]*[time]**2/([mass]*[length]**2)", "USD/joule", "USD/kWh"),
        Dimension("mass", "[mass]", "kilogram", "kgCO2e"),
        Dimension("carbon_intensity", "[time]**2/[length]**2", "kilogram/joule", "gCO2e/kWh"),
        Dimension("volume", "[length]**3", "meter**3", "L"),
        Dimension("water_intensity", "[length]*[time]**2/[mass]", "meter**3/joule", "L/kWh"),
        Dimension("token_rate", "[token]/[time]", "token/second", "token/s"),
    )
}

# Frequent slips, answered with the unit the author most likely meant.
UNIT_HINTS: dict[str, str] = {
    "KB": "write 'kB' (10^3 bytes) or 'KiB' (2^10 bytes)",
    "Gb": "write 'Gbit' for gigabits or 'GB' for gigabytes",
    "Gbps": "write 'Gbit/s'",
    "Mbps": "write 'Mbit/s'",
    "Tb": "write 'Tbit' for terabits or 'TB' for terabytes",
    "TOPs": "write 'TOPS' (tera-operations per second)",
    "EUR": "only USD is a defined currency; convert with a cited exchange rate (method: derived)",
}


class UnitError(ValueError):
    """A unit string that does not parse, or is of the wrong dimension."""


@lru_cache(maxsize=1)
def registry() -> Any:
    """The project's pint UnitRegistry (built once, on first use)."""
    import pint

    ureg = pint.UnitRegistry(str(DEFINITIONS_FILE), autoconvert_offset_to_baseunit=True)
    ureg.formatter.default_format = "~P"
    return ureg


def Q_(value: float, unit: str = "dimensionless") -> Any:
    """A pint Quantity in the project's registry."""
    return registry().Quantity(value, unit)


# A unit is names joined by * and /, each with an optional small integer power:
# "TFLOP/s", "gCO2e/kWh", "m**3/MWh". Nothing else reaches pint's expression parser,
# which would evaluate "gCO2e/kWh * 10**10**10" (minutes of CPU) or other arithmetic.
_NAME = r"[A-Za-zµμ°%_][A-Za-z0-9µμ°%_]*(?:\s*(?:\*\*|\^)\s*-?[1-9])?"
UNIT_GRAMMAR = re.compile(rf"^\s*(?:(?:1\s*/\s*)?{_NAME}(?:\s*[*/]\s*{_NAME})*)?\s*$")
MAX_UNIT_LENGTH = 64


def check_unit_syntax(unit: str) -> None:
    """Refuse anything but a plain unit expression (see UNIT_GRAMMAR), before pint sees it."""
    if len(unit) > MAX_UNIT_LENGTH or not UNIT_GRAMMAR.match(unit):
        shown = unit if len(unit) <= MAX_UNIT_LENGTH else unit[:MAX_UNIT_LENGTH] + "..."
        raise UnitError(f"{shown!r} is not a unit; write unit names joined by * and / with small integer powers, e.g. 'TFLOP/s' or 'm**3/MWh'")


@lru_cache(maxsize=4096)
def _unit_dimension_key(unit: str) -> str:
    """A comparable key for the dimensionality of a unit string."""
    check_unit_syntax(unit)
    ureg = registry()
    try:
        parsed = ureg.parse_units(unit) if unit.strip() else ureg.dimensionless
    except Exception as exc:  # pint raises several unrelated types for bad strings
        hint = UNIT_HINTS.get(unit.split("/")[0].strip())
        raise UnitError(f"unknown unit {unit!r}" + (f"; {hint}" if hint else "")) from exc
    return _dim_key(ureg.get_dimensionality(parsed))


def _dim_key(dimensionality: Any) -> str:
    return "*".join(f"{k}**{v:g}" for k, v in sorted(dict(dimensionality).items()))


@lru_cache(maxsize=64)
def _dimension_key(name: str) -> str:
    dim = DIMENSIONS[name]
    if not dim.pint_dimensionality:
        return ""
    return _dim_key(registry().get_dimensionality(dim.pint_dimensionality))


def dimension_of(unit: str) -> str | None:
    """The name of the DIMENSIONS entry a unit string belongs to, or None."""
    key = _unit_dimension_key(unit)
    for name in DIMENSIONS:
        if _dimension_key(name) == key:
            return name
    return None


@lru_cache(maxsize=4096)
def to_canonical(value: float, unit: str, dimension: str) -> float:
    """Convert value [unit] to the canonical unit of `dimension` as a float.

    Raises UnitError when the unit is unknown or not of that dimension.
    """
    if _unit_dimension_key(unit) != _dimension_key(dimension):
        raise UnitError(wrong_dimension_message(unit, dimension))
    canonical = DIMENSIONS[dimension].canonical_unit
    if not math.isfinite(value):
        raise UnitError(f"{value!r} is not a finite number; write the value as a plain number")
    si = float(Q_(value, unit or "dimensionless").to(canonical).magnitude)
    if not math.isfinite(si):
        raise UnitError(f"{value:g} {unit} is too large to compute with (infinite in {canonical}); check the value and its unit")
    return si


def wrong_dimension_message(unit: str, dimension: str) -> str:
    shown = repr(unit) if unit else "a value with no unit"
    if dimension == "dimensionless":
        return f"{shown} is not a plain count; omit the unit or write e.g. 'billion'"
    article = "an" if dimension[0] in "aeiou" else "a"
    return (
        f"{shown} is not {article} {dimension.replace('_', ' ')}; "
        f"write e.g. {DIMENSIONS[dimension].example_unit!r}"
    )
