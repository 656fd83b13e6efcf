"""Finding records by what people remember of them: part of a name, an alias, an id,
a vendor or a family ("llama", "nvidia", "tpu")."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from mlsysim.catalog.crosscheck import normalize_name

if TYPE_CHECKING:
    from mlsysim.catalog import Catalog
    from mlsysim.catalog.records import Record

_FIELDS = ("vendor", "family", "tier", "architecture", "region", "technology")


def search_records(catalog: Catalog, text: str, limit: int = 50) -> list[tuple[Record, str]]:
    """Records matching `text`, best first, each with what matched.

    Exact names rank first, then names starting with the text, then names or fields
    containing it (ignoring case and punctuation), then close spellings.
    """
    wanted = normalize_name(text)
    if not wanted:
        return []
    scored: list[tuple[int, str, Record, str]] = []
    for record in catalog.records():
        names = [record.id, record.name, *record.aliases]
        fields = [(f, str(record.get(f))) for f in _FIELDS if record.has(f) and isinstance(record.get(f), str)]
        best = None
        for name in names:
            key = normalize_name(name)
            rank = 0 if key == wanted else 1 if key.startswith(wanted) else 2 if wanted in key else None
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, f"name {name!r}")
        for field, value in fields:
            if best is None and wanted in normalize_name(value):
                best = (3, f"{field} {value!r}")
        if best is None:
            close = difflib.get_close_matches(wanted, [normalize_name(n) for n in names], n=1, cutoff=0.85)
            if close:
                best = (4, "similar spelling")
        if best is not None:
            scored.append((best[0], record.label.lower(), record, best[1]))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [(record, why) for _, _, record, why in scored[:limit]]
