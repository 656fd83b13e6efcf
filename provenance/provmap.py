"""The ProvenanceMap: every numeric constant -> its claim, source and SI value."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProvenanceEntry:
    """One constant: where it lives, what it is, and who says so."""

    path: str  # e.g. "hardware/h100_sxm#memory.bandwidth"
    value: float
    unit: str
    si_value: float
    si_unit: str
    claim: Mapping[str, Any]  # the claim's fields as written (locator, as_stated, qualifiers, method, ...)
    source_id: str
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def record(self) -> str:
        return self.path.split("#", 1)[0]

    @property
    def field(self) -> str:
        return self.path.split("#", 1)[1]

    @property
    def method(self) -> str:
        return self.claim.get("method", "stated")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "value": self.value,
            "unit": self.unit,
            "si_value": self.si_value,
            "si_unit": self.si_unit,
            "claim": dict(self.claim),
            "source_id": self.source_id,
            "source": dict(self.source),
        }


class ProvenanceMap(Mapping[str, ProvenanceEntry]):
    """Claim path -> ProvenanceEntry, in a stable (sorted) order."""

    def __init__(self, entries: Iterable[ProvenanceEntry]):
        self._entries = {e.path: e for e in sorted(entries, key=lambda e: e.path)}

    def __getitem__(self, path: str) -> ProvenanceEntry:
        return self._entries[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def for_record(self, record: str) -> list[ProvenanceEntry]:
        """Entries of one record, e.g. `hardware/h100_sxm`."""
        prefix = record + "#"
        return [e for p, e in self._entries.items() if p.startswith(prefix)]

    def cited_by(self, source_id: str) -> list[ProvenanceEntry]:
        return [e for e in self._entries.values() if e.source_id == source_id]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps([e.to_dict() for e in self._entries.values()], indent=indent, sort_keys=True, default=str)
