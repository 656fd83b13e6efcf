"""Lineage: the cited values a solver result rests on.

Solvers read every catalog number through a Lineage, so a result can always
list its inputs (path, value, unit, source) and is never less traceable than they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlsysim.catalog.records import Value
from mlsysim.errors import MixedCatalogsError


@dataclass(frozen=True)
class LineageEntry:
    path: str
    value: float
    unit: str
    source_id: str
    source_title: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "value": self.value,
            "unit": self.unit,
            "source_id": self.source_id,
            "source_title": self.source_title,
            "method": self.method,
        }

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.path} = {self.value:g}{unit}  [{self.method}; {self.source_title}]"


class Lineage:
    """Collects the cited values used while computing one result."""

    __slots__ = ("_used", "_catalog")

    def __init__(self) -> None:
        self._used: dict[str, Value] = {}
        self._catalog: Any = None

    def use(self, value: Value) -> float:
        """Record `value` as an input and return its SI float.

        Every value of one result must come from one catalog: a record of a test
        catalog priced with the bundled catalog's grid is a silent error, so it is refused.
        """
        catalog = value._catalog
        if catalog is not None and catalog is not self._catalog:
            self._adopt(catalog, value.path)
        self._used[value.path] = value
        return value.si

    def _adopt(self, catalog: Any, path: str) -> None:
        if self._catalog is not None:
            raise MixedCatalogsError(
                f"{path} comes from the catalog {catalog!r}, but this result already rests on {self._catalog!r}; "
                "take every record of one call from the same catalog (load_catalog(...) once and look them up there)"
            )
        self._catalog = catalog

    def merge(self, other: Lineage) -> None:
        if other._catalog is not None and other._catalog is not self._catalog:
            self._adopt(other._catalog, next(iter(other._used), "a merged input"))
        self._used.update(other._used)

    @property
    def catalog(self) -> dict[str, str] | None:
        """The identity (fingerprint, date, root) of the catalog every input came from."""
        return self._catalog.identity if self._catalog is not None else None

    def entries(self) -> list[LineageEntry]:
        return [
            LineageEntry(v.path, v.value, v.unit, v.source_id, v.source.get("title", v.source_id), v.method)
            for v in sorted(self._used.values(), key=lambda v: v.path)
        ]

    def __len__(self) -> int:
        return len(self._used)

    def __contains__(self, path: str) -> bool:
        return path in self._used
