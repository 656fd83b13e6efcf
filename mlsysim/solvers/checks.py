"""Argument checks shared by the physics functions: each names the parameter, what it
got and the valid range, and raises MlsysimError. Scalars and numpy arrays alike."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError


def _array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, bool) or isinstance(value, np.bool_):
        raise MlsysimError(f"{name} must be a number, got {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise MlsysimError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise MlsysimError(f"{name} must be finite, got {value!r}")
    return arr


def positive(name: str, value: Any, unit: str = "") -> np.ndarray:
    """`value` as a float array, every element finite and > 0."""
    arr = _array(name, value)
    if not np.all(arr > 0):
        raise MlsysimError(f"{name} must be > 0{f' [{unit}]' if unit else ''}, got {value!r}")
    return arr


def nonnegative(name: str, value: Any, unit: str = "") -> np.ndarray:
    """`value` as a float array, every element finite and >= 0."""
    arr = _array(name, value)
    if not np.all(arr >= 0):
        raise MlsysimError(f"{name} must be >= 0{f' [{unit}]' if unit else ''}, got {value!r}")
    return arr


def whole(name: str, value: Any, minimum: int = 1) -> np.ndarray:
    """`value` as a float array of whole numbers >= minimum (a count)."""
    arr = _array(name, value)
    if not np.all(arr == np.floor(arr)) or not np.all(arr >= minimum):
        raise MlsysimError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return arr


def within(name: str, value: Any, low: float, high: float, *, open_low: bool = False,
           open_high: bool = False) -> np.ndarray:
    """`value` as a float array with every element in the interval [low, high] (ends open as asked)."""
    arr = _array(name, value)
    ok_low = arr > low if open_low else arr >= low
    ok_high = arr < high if open_high else arr <= high
    if not np.all(ok_low & ok_high):
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        raise MlsysimError(f"{name} must be in {interval}, got {value!r}")
    return arr


def out(value: np.ndarray) -> Any:
    """A 0-d array back to a Python float; arrays stay arrays."""
    return float(value) if np.ndim(value) == 0 else value


def cited(name: str, value: Any, lineage: Any, dimension: str, unit: str = "") -> float:
    """A positive SI float from a number, a cited Value or an assumption record; a cited input
    is recorded in `lineage` (the result then lists it)."""
    if isinstance(value, Record):
        if value.kind != "assumptions":
            raise MlsysimError(f"{name}: {value.ref} is not an assumption record")
        value = value.quantity
    if isinstance(value, Value):
        if value.dimension != dimension:
            raise MlsysimError(f"{name}: {value.path} is a {value.dimension}, not a {dimension.replace('_', ' ')}")
        number = lineage.use(value)
        if not number > 0:
            raise MlsysimError(f"{name}: {value.path} must be > 0, got {number!r}")
        return float(number)
    return float(positive(name, value, unit))
