"""Where a grid record keeps its carbon intensity on each basis.

Lifecycle and direct intensities are different quantities (a grid's lifecycle figure
counts the manufacture of its plants; direct counts combustion only), so each has
its own field and nothing ever reads one in place of the other. Kept apart from the
schemas so solvers can read grids without importing pydantic.
"""

from __future__ import annotations

from typing import Any

CARBON_BASES: tuple[str, ...] = ("lifecycle", "direct")
CARBON_FIELDS: dict[str, str] = {basis: f"carbon_intensity_{basis}" for basis in CARBON_BASES}
LEGACY_CARBON_FIELD = "carbon_intensity"  # one figure whose `basis` qualifier says which


def carbon_intensity_path(record: Any, basis: str | None = None) -> str | None:
    """The field of a grid record holding its carbon intensity on `basis`.

    `record` is a catalog Record of kind grids (anything with `has(path)` and
    `field(path)`). basis 'lifecycle' or 'direct' gives that basis only (a record
    in the old one-field form answers when its `basis` qualifier matches); None
    gives lifecycle when the grid has it, else direct, else the old one-field form.
    Returns None when the grid has no figure on that basis.
    """
    if basis is not None and basis not in CARBON_BASES:
        raise ValueError(f"basis must be one of {', '.join(CARBON_BASES)} or None, got {basis!r}")
    for b in (basis,) if basis else CARBON_BASES:
        if record.has(CARBON_FIELDS[b]):
            return CARBON_FIELDS[b]
    if record.has(LEGACY_CARBON_FIELD):
        legacy_basis = record.field(LEGACY_CARBON_FIELD).qualifiers.get("basis")
        if basis is None or legacy_basis == basis:
            return LEGACY_CARBON_FIELD
    return None
