"""One number formatter for people: the CLI, the scorecard and the site all print
through it, so a value reads the same everywhere.

Rules: engineering (SI) prefixes chosen so the number sits between 1 and 1000;
four significant figures, trailing zeros dropped; thousands separators; never
scientific notation. Machines get SI floats in JSON, never these strings.

    >>> format_quantity(83_886_080, "information")
    '83.89 MB'
    >>> format_quantity(3.35e12, "bandwidth")
    '3.35 TB/s'
    >>> format_quantity(0.006278, "time")
    '6.278 ms'
    >>> format_quantity(79230 * 3600, "time")
    '9.038 years'
    >>> format_quantity(245_800_000, "currency")
    '245.8 million USD'
    >>> format_number(10240)
    '10,240'
    >>> format_count(8.03e9)
    '8.03 billion'
    >>> format_quantity(1.979e15, "compute_rate", unit="OPS")
    '1.979 POPS'
"""

from __future__ import annotations

import math

_PREFIXES = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")]
# Per dimension: the unit people read, its factor from SI, and whether SI prefixes apply.
_UNITS: dict[str, tuple[str, float, bool]] = {
    "information": ("B", 1.0, True),
    "bandwidth": ("B/s", 1.0, True),
    "compute": ("FLOP", 1.0, True),
    "compute_rate": ("FLOP/s", 1.0, True),
    "power": ("W", 1.0, True),
    "energy": ("Wh", 1 / 3600, True),
    "frequency": ("Hz", 1.0, True),
    "token_rate": ("tokens/s", 1.0, False),
    "mass": ("g", 1e3, True),  # grams with prefixes: kg, and tonnes below
    "volume": ("L", 1e3, True),
    "carbon_intensity": ("g/kWh", 1e3 * 3.6e6, False),
    "water_intensity": ("L/kWh", 1e3 * 3.6e6, False),
    "price_per_hour": ("USD/h", 3600.0, False),
    "price_per_energy": ("USD/kWh", 3.6e6, False),
    "dimensionless": ("", 1.0, False),
}
_TIME = [(365.25 * 86400, "years"), (86400, "days"), (3600, "h"), (60, "min"), (1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]
_LARGE = [(1e12, "trillion"), (1e9, "billion"), (1e6, "million")]


def format_number(value: float, digits: int = 4) -> str:
    """`value` with `digits` significant figures, thousands separators, no exponent."""
    if value is None or isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return "∞" if value > 0 else ("-∞" if value < 0 else "NaN")
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    text = f"{round(value, decimals):,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _scaled(value: float, steps: list[tuple[float, str]], digits: int) -> tuple[str, str]:
    """The number (as shown) and label for the largest step that shows `value` as 1 or more."""
    for factor, label in steps:
        shown = format_number(value / factor, digits)
        if abs(float(shown.replace(",", ""))) >= 1:
            return shown, label
    factor, label = steps[-1]
    return format_number(value / factor, digits), label


def _with_prefix(value: float, unit: str, digits: int) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{format_number(value, digits)} {unit}"
    shown, prefix = _scaled(value, _PREFIXES, digits)
    return f"{shown} {prefix}{unit}"


def format_duration(seconds: float, digits: int = 4) -> str:
    """A time in the largest unit (ns ... years) that keeps the number at 1 or more."""
    if seconds == 0 or not math.isfinite(seconds):
        return f"{format_number(seconds, digits)} s"
    shown, unit = _scaled(seconds, _TIME, digits)
    return f"{shown} {unit}"


def format_count(value: float, digits: int = 4) -> str:
    """A count (parameters, tokens): words from a million up, grouped digits below.

    >>> format_count(70_553_706_496)
    '70.55 billion'
    >>> format_count(131_072)
    '131,072'
    """
    if value is None:
        return "—"
    for factor, word in _LARGE:
        if abs(value) >= factor:
            return f"{format_number(value / factor, digits)} {word}"
    return format_number(value, max(digits, len(str(int(abs(value))))) if math.isfinite(value) else digits)


def format_quantity(si_value: float, dimension: str, digits: int = 4, unit: str | None = None) -> str:
    """An SI float of `dimension` (a key of `mlsysim.catalog.units.DIMENSIONS`) for people.

    `unit` renames the base unit of a prefixed dimension (e.g. "OPS" for integer
    operations, a compute rate that is not floating point); the scaling is unchanged.
    """
    if si_value is None:
        return "—"
    if dimension == "time":
        return format_duration(si_value, digits)
    if dimension == "currency":
        for factor, word in _LARGE:
            if abs(si_value) >= factor:
                return f"{format_number(si_value / factor, digits)} {word} USD"
        return f"{format_number(si_value, digits)} USD"
    if dimension == "mass" and abs(si_value) >= 1000:
        return _with_prefix(si_value / 1000, "t", digits)
    base, factor, prefixed = _UNITS.get(dimension, ("", 1.0, False))
    value = si_value * factor
    if prefixed:
        return _with_prefix(value, unit or base, digits)
    return f"{format_number(value, digits)} {base}".rstrip()
