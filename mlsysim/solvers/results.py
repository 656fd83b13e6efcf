"""What every solver result shares: SI floats, and one pint view of them.

Solvers compute on floats and return them in SI units (s, B, B/s, FLOP, J, kg, m^3,
USD). A person who wants units asks `result.quantity(name)` (a pint Quantity in the SI
unit) or `result.quantity(name, "ms")` (converted); pint is imported only then. Each
result class lists its fields' SI units in `UNITS`, so the view works the same way for
every solver (PerformanceProfile, TrainingResult, ServingProfile, ReliabilityResult,
SustainabilityResult, EconomicsResult, ...).
"""

from __future__ import annotations

from typing import Any, ClassVar

from mlsysim.catalog.units import Q_
from mlsysim.errors import MlsysimError


class QuantityView:
    """Mixin: `quantity(name, unit=None)` wraps the SI float `name` in its unit."""

    __slots__ = ()
    UNITS: ClassVar[dict[str, str]] = {}

    def si_value(self, name: str) -> Any:
        """The SI float (or None) of field `name`."""
        return getattr(self, name)

    def quantity(self, name: str, unit: str | None = None) -> Any:
        """Field `name` as a pint Quantity in its SI unit, or converted to `unit`."""
        si_unit = self.UNITS.get(name)
        if si_unit is None:
            known = ", ".join(sorted(self.UNITS))
            raise MlsysimError(f"{type(self).__name__} has no quantity {name!r}; it has: {known}")
        value = self.si_value(name)
        if value is None:
            raise MlsysimError(f"{type(self).__name__}.{name} is not available for this result (None)")
        q = Q_(value, si_unit or "dimensionless")
        return q.to(unit) if unit else q


def result_dict(result: Any) -> dict[str, Any]:
    """A dataclass result as JSON-ready data: its fields (SI floats), the catalog it was
    computed from, and the cited values it rests on."""
    out = {name: getattr(result, name) for name in result.__dataclass_fields__ if name != "lineage"}
    out["lineage"] = [entry.to_dict() for entry in result.lineage.entries()]
    out["catalog"] = result.lineage.catalog
    return out
