"""Machine-readable files next to the pages: catalog.json, provenance-map.json
and one shields.io endpoint document per record."""

from __future__ import annotations

import json
from typing import Any

from mlsysim.site.badges import shields_endpoint
from mlsysim.site.views import RecordView, SiteModel


def _dump(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def catalog_json(model: SiteModel, generated: str) -> str:
    """Every record with its plain fields and its cited values (with badges), and every source."""
    records = []
    for view in sorted(model.records.values(), key=lambda v: (v.kind, v.id)):
        claims = view.record.claims
        records.append({
            "kind": view.kind,
            "id": view.id,
            "name": view.name,
            "aliases": view.aliases,
            "group": view.group or None,
            "file": view.file,
            "fields": dict(view.record.plain_fields),
            "values": {
                c.field: {
                    **{k: v for k, v in claims[c.field].items() if k not in ("si", "dimension")},
                    "si_value": c.si, "si_unit": c.si_unit, "badge": c.badge,
                    "last_checked": c.last_checked or None, "last_verified": c.last_verified or None,
                }
                for c in view.claims
            },
        })
    return _dump({"generated": generated, "records": records, "sources": model.catalog.sources})


def provenance_json(model: SiteModel) -> str:
    """The ProvenanceMap (as `mlsysim provenance map -o json`), each entry with its badge."""
    badges = {c.path: c for v in model.records.values() for c in v.claims}
    entries = []
    for entry in model.catalog.provenance.values():
        row = entry.to_dict()
        claim = badges[entry.path]
        row.update(badge=claim.badge, last_checked=claim.last_checked or None, last_verified=claim.last_verified or None)
        entries.append(row)
    return _dump(entries)


def shields_json(view: RecordView) -> str:
    """shields.io endpoint JSON for one record: https://img.shields.io/endpoint?url=<this file's URL>."""
    return _dump(shields_endpoint(view.label, [c.badge for c in view.claims]))
