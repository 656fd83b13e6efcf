"""Citations of the catalog values a result used, for agents: what each value is, who says so, where."""

from __future__ import annotations

import math
from typing import Any

from mlsysim.catalog import Catalog
from mlsysim.catalog.records import Value


def citation(value: Value) -> dict[str, Any]:
    """One cited value as a citation card: path, value, unit, source id, title, url (or, for a
    source that is a file in the catalog, source_file), locator, as stated."""
    source = value.source
    return {
        "path": value.path,
        "value": value.value,
        "unit": value.unit,
        "si_value": value.si,
        "si_unit": value.si_unit,
        "method": value.method,
        "source_id": value.source_id,
        "title": source.get("title", value.source_id),
        "url": source.get("url"),
        "source_file": source.get("path"),
        "locator": value.locator,
        "as_stated": value.as_stated,
        "authority": source.get("authority"),
        "retrieved": None if source.get("retrieved") is None else str(source["retrieved"]),
    }


def citations_of(lineage_entries: list[dict[str, Any]], catalog: Catalog) -> list[dict[str, Any]]:
    """The citation card of each lineage entry (as `LineageEntry.to_dict()` gives them), from `catalog`."""
    cards = []
    for entry in lineage_entries:
        path = entry["path"]
        record, _, field = path.partition("#")
        kind, _, ident = record.partition("/")
        cards.append(citation(catalog.get(kind, ident).field(field)))
    return cards


def catalog_identity(catalog: Catalog) -> dict[str, str]:
    """The fingerprint and date of `catalog`, as every tool result states them."""
    return {"fingerprint": catalog.fingerprint, "date": catalog.date}


def json_ready(data: Any) -> Any:
    """`data` as strict JSON values: tuples as lists, non-finite floats as strings ("inf"), other objects as str."""
    if isinstance(data, dict):
        return {str(k): json_ready(v) for k, v in data.items()}
    if isinstance(data, (list, tuple, set)):
        return [json_ready(v) for v in data]
    if isinstance(data, float):
        return data if math.isfinite(data) else str(data)
    if data is None or isinstance(data, (bool, int, str)):
        return data
    if hasattr(data, "item"):  # numpy scalars
        return json_ready(data.item())
    return str(data)
