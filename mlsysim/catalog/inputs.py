"""The one input layer: every number a person hands a solver passes through here.

A solver input is a plain number (the user's own figure), a cited `Value`, an
assumption record (whose `quantity` is cited), or a pint Quantity. `as_si` turns any
of them into an SI float of the right dimension and notes the cited ones in a Lineage;
`positive_int`, `whole_at_least`, `fraction`, `finite_positive`, `finite_at_least` and
`parallel_degree` check the plain ones. Every error
names the parameter, what it got and the valid range.

`catalog_of` finds the catalog a call's records come from (each record knows its
catalog), refuses records from two catalogs in one call, and falls back to the default
catalog only when nothing in the call names one: this module and the registries are the
only places below the CLI that pick the default catalog.

`memo_key` turns inputs into a hashable key for a catalog's `derived()` memo: records by
(kind, id), cited values by claim path, numbers by (type, value). Never by object identity.
"""

from __future__ import annotations

import math
import operator
from typing import Any

from mlsysim.catalog import Catalog, default_catalog
from mlsysim.catalog.records import Record, Value
from mlsysim.catalog.units import DIMENSIONS, UnitError, to_canonical
from mlsysim.errors import MlsysimError
from mlsysim.errors import MixedCatalogsError
from mlsysim.lineage import Lineage

DIRECTIONS = ("unidirectional", "bidirectional")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    if isinstance(value, Record):
        return value.ref
    if isinstance(value, Value):
        return value.path
    return repr(value)


def as_si(value: Any, dimension: str, name: str, lineage: Lineage | None = None, *, positive: bool = True) -> float:
    """`value` as an SI float of `dimension` (see mlsysim/catalog/units.py for the
    canonical units: s, W, B/s, kg/J, ...).

    Accepted: a number (already in the canonical SI unit), a cited `Value`, an assumption
    record (its cited `quantity`), or a pint Quantity. A cited value is noted in `lineage`.
    With `positive` (the default) the result must be finite and > 0.
    """
    if isinstance(value, Record):
        if value.kind != "assumptions":
            raise MlsysimError(f"{name}: {value.ref} is a {value.kind} record, not an assumption; "
                               f"pass a number in {_unit(dimension)} or a cited assumption")
        value = value.quantity
    if isinstance(value, Value):
        if value.dimension != dimension:
            raise MlsysimError(f"{name}: {value.path} is a {value.dimension.replace('_', ' ')}, "
                               f"not a {dimension.replace('_', ' ')}")
        si = lineage.use(value) if lineage is not None else value.si
    elif _number(value):
        si = float(value)
    elif hasattr(value, "magnitude") and hasattr(value, "units"):
        try:
            si = to_canonical(float(value.magnitude), f"{value.units:~}" or "dimensionless", dimension)
        except UnitError as exc:
            raise MlsysimError(f"{name}: {exc}") from None
    else:
        raise MlsysimError(f"{name} must be a number in {_unit(dimension)}, a cited value or an assumption, got {value!r}")
    if positive and not (si > 0 and math.isfinite(si)):
        raise MlsysimError(f"{name} must be a finite number > 0 (in {_unit(dimension)}), got {si!r}")
    return si


_TYPED_EXAMPLES = {"time": "50 us"}


def quantity_or_name(text: str, dimension: str, name: str) -> float | str:
    """Text a person or agent typed: '50 us' (a number and a unit) -> SI float of `dimension`;
    any text that does not start with a number is returned stripped, as a record's name."""
    number, _, unit = text.strip().partition(" ")
    try:
        value = float(number)
    except ValueError:
        return text.strip()
    if not unit.strip():
        example = _TYPED_EXAMPLES.get(dimension, f"1 {_unit(dimension)}")
        raise MlsysimError(f"{name}: {text!r} has no unit; write a number and a unit, e.g. '{example}', "
                           "or give a cited assumption's name")
    try:
        return to_canonical(value, unit.strip(), dimension)
    except UnitError as exc:
        raise MlsysimError(f"{name}: {exc}") from None


def _unit(dimension: str) -> str:
    info = DIMENSIONS.get(dimension)
    unit = info.canonical_unit if info is not None else ""
    return unit or "units of 1"


def finite_positive(value: Any, name: str) -> float:
    """A plain number that is finite and > 0, as a float."""
    if not _number(value) or not (value > 0 and math.isfinite(value)):
        raise MlsysimError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def positive_int(value: Any, name: str) -> int:
    """A whole number >= 1 as an int. Integers only (Python or numpy); a float, even 8.0,
    and a bool are refused, because a count typed as one is usually a mistake."""
    if type(value) is int and value >= 1:  # the common case, first
        return value
    try:
        whole = operator.index(value) if not isinstance(value, bool) else None
    except TypeError:
        whole = None
    if whole is None or whole < 1:
        raise MlsysimError(f"{name} must be a whole number >= 1, got {value!r}")
    return whole


def whole_at_least(value: Any, name: str, least: int = 0) -> int:
    """A whole number >= `least` as an int (a count that may be zero, e.g. cached tokens).
    Integers only, as in `positive_int`; a NaN, an infinity or a bool is refused."""
    if type(value) is int and value >= least:
        return value
    try:
        whole = operator.index(value) if not isinstance(value, bool) else None
    except TypeError:
        whole = None
    if whole is None or whole < least:
        raise MlsysimError(f"{name} must be a whole number >= {least}, got {value!r}")
    return whole


def finite_at_least(value: Any, name: str, least: float = 0.0) -> float:
    """A plain number that is finite and >= `least`, as a float (NaN and infinities refused)."""
    if not _number(value) or not (math.isfinite(value) and value >= least):
        raise MlsysimError(f"{name} must be a finite number >= {least:g}, got {value!r}")
    return float(value)


def parallel_degree(value: Any, name: str, counts: dict[str, float], replicable: tuple[str, ...] = ()) -> int:
    """A parallelism degree (TP, CP, EP) that splits each of `counts` (e.g. {"attention heads": 32})
    evenly: it must divide every count, except that a count named in `replicable` may instead
    divide the degree (the parts are then replicated, as KV heads are under GQA). The error
    names the parameter and lists the valid degrees."""
    degree = positive_int(value, name)

    def fits(d: int) -> bool:
        for what, count in counts.items():
            whole = int(count)
            if whole < 1 or whole != count:
                continue  # not a whole count: nothing to split evenly
            if whole % d and not (what in replicable and d % whole == 0):
                return False
        return True

    if not fits(degree):
        sizes = [int(c) for c in counts.values() if c >= 1 and int(c) == c]
        top = max(sizes) if sizes else 1
        valid = [d for d in range(1, top + 1) if fits(d)]
        what = ", ".join(f"{count:g} {label}" for label, count in counts.items())
        raise MlsysimError(f"{name} = {degree} does not split the model evenly ({what}); "
                           f"use one of {', '.join(map(str, valid))}")
    return degree


def fraction(value: Any, name: str, lineage: Lineage | None = None) -> float:
    """A fraction in (0, 1]: a number, a cited Value or an assumption, as a float."""
    if type(value) is float and 0.0 < value <= 1.0:  # the common case, first
        return value
    frac = as_si(value, "dimensionless", name, lineage, positive=False)
    if not 0.0 < frac <= 1.0:
        raise MlsysimError(f"{name} must be in (0, 1], got {frac:g}; write e.g. 0.45 for 45%")
    return frac


def per_direction(value: Value, lineage: Lineage | None = None) -> float:
    """A link bandwidth per direction [B/s], read the one way every solver reads it.

    The catalog schema requires every interconnect bandwidth to say, in its `direction`
    qualifier, whether the source quotes one direction ("unidirectional") or both
    directions added together ("bidirectional", e.g. NVLink 4's 900 GB/s); the latter is
    halved. A claim without the qualifier (one built outside the catalog) is an error,
    never a guess.
    """
    direction = value.qualifiers.get("direction")
    if direction == "unstated":
        raise MlsysimError(f"{value.path}: its source does not say whether {value.value:g} {value.unit} counts one direction "
                           "or both, so no per-direction bandwidth can be derived from it; pass the link bandwidth explicitly")
    if direction not in DIRECTIONS:
        raise MlsysimError(f"{value.path}: a link bandwidth needs qualifiers.direction "
                           f"(unidirectional or bidirectional), got {direction!r}")
    si = lineage.use(value) if lineage is not None else value.si
    return si / 2.0 if direction == "bidirectional" else si


def catalog_of(*values: Any, catalog: Catalog | None = None) -> Catalog:
    """The catalog the records and cited values in `values` were loaded from.

    `catalog`, when given, must be that catalog too. Records from two catalogs in one call
    are an error (a test catalog's cluster priced with the bundled catalog's grid gives a
    number that belongs to neither). When nothing names a catalog (only names or numbers
    were given), the default catalog is used.
    """
    found = catalog
    for value in values:
        kind = type(value)
        if kind is Record or kind is Value:
            owner = value._catalog
        else:
            owner = getattr(value, "catalog", None)
            if not isinstance(owner, Catalog):
                continue
        if owner is None or owner is found:
            continue
        if found is None:
            found = owner
        else:
            raise MixedCatalogsError(
                f"{_describe(value)} comes from the catalog at {getattr(owner, 'root', '?')}, but this call's other "
                f"inputs come from the catalog at {getattr(found, 'root', '?')} (another Catalog instance); "
                "look every record up in one catalog (catalog.get(...)) or pass that catalog= to the solver"
            )
    return found if found is not None else default_catalog()


def record(value: Any, kind: str, catalog: Catalog, name: str | None = None) -> Record | None:
    """A record of `kind` from a Record of `catalog` or a name looked up in it; None stays None."""
    if value is None:
        return None
    if type(value) is Record:
        if value.kind != kind:
            raise MlsysimError(f"{name or kind}: {value.ref} is not a {kind} record")
        if value._catalog is not catalog:
            catalog_of(value, catalog=catalog)  # raises, naming both catalogs
        return value
    if isinstance(value, str):
        return catalog.get(kind, value)
    raise MlsysimError(f"{name or kind} must be a {kind} record or its name, got {value!r}")


_PLAIN = frozenset((int, float, bool, str, type(None)))


def memo_key(*values: Any) -> tuple[Any, ...] | None:
    """A hashable key for inputs of one catalog's memo, or None when one cannot be keyed.

    Records are keyed by (kind, id), cited values by claim path, numbers by type and value
    (so True is not 1), strings and None by value, tuples element-wise. The caller has
    checked (catalog_of) that every record belongs to the catalog whose memo is used.
    """
    key: list[Any] = []
    for value in values:
        kind = type(value)
        if kind in _PLAIN:
            key.append(value if kind is str or value is None else (kind, value))
        elif kind is Record:
            data = value._data
            key.append((data["kind"], data["id"]))
        elif kind is Value:
            key.append(value.path)
        elif kind is tuple:
            inner = memo_key(*value)
            if inner is None:
                return None
            key.append((tuple, inner))
        else:
            memo = getattr(value, "memo_key", None)
            if memo is None:
                return None
            key.append(memo)
    return tuple(key)


# Entries one memo of a catalog keeps for keys that include a person's own numbers (an
# efficiency, a duration): a loop over many values must not grow it without bound.
MEMO_LIMIT = 4096


def remember(memo: dict[Any, Any], key: Any, value: Any) -> Any:
    """memo[key] = value, clearing the memo first when it holds MEMO_LIMIT entries."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value
