"""Machine-readable files next to the pages: catalog.json, provenance-map.json
and one shields.io endpoint document per record."""

from __future__ import annotations

import json
from typing import Any

from mlsysim.site.badges import shields_endpoint
from mlsysim.site.views import RecordView, SiteModel, ZooPage


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


def _zoo_value(cell: Any, col: Any) -> tuple[Any, str]:
    """A table cell's number in the column's display unit (or as stated when the column has none)."""
    claim = cell.claim
    if cell.number is not None:
        return cell.number, col.unit or ""
    return claim.value, claim.unit


def zoo_csv(zoo: ZooPage) -> str:
    """One zoo table as CSV: numbers in the column's unit (named in the header), the row's status last."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["id", "name", "group"]
    for col in zoo.columns:
        if col.numeric and col.unit is None:
            header += [col.header, f"{col.header} unit"]
        else:
            header.append(f"{col.header} [{col.unit}]" if col.numeric and col.unit else col.header)
    writer.writerow([*header, "status"])
    for view in (v for g in zoo.groups for v in g.records):
        row: list[Any] = [view.id, view.name, view.group]
        for col, cell in zip(zoo.columns, view.cells):
            if col.numeric:
                number, unit = _zoo_value(cell, col) if cell.claim else ("", "")
                row += [_csv_number(number)] + ([unit] if col.unit is None else [])
            else:
                row.append(cell.text)
        writer.writerow([*row, view.status or ""])
    return buffer.getvalue()


def _csv_number(value: Any) -> str:
    if value == "" or value is None:
        return ""
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def zoo_json(zoo: ZooPage, generated: str) -> str:
    """One zoo table as JSON: each cell's number in its display unit, with SI value, badge and source."""
    records = []
    for view in (v for g in zoo.groups for v in g.records):
        values, text = {}, {}
        for col, cell in zip(zoo.columns, view.cells):
            if cell.claim is not None:
                number, unit = _zoo_value(cell, col)
                c = cell.claim
                values[col.header] = {"value": number, "unit": unit, "si_value": c.si, "si_unit": c.si_unit,
                                      "badge": c.badge, "source": c.source.id, "field": c.field}
            elif cell.text:
                text[col.header] = cell.text
        records.append({"id": view.id, "name": view.name, "group": view.group or None, "page": view.href,
                        "status": view.status, "values": values, "fields": text})
    columns = [{"header": c.header, "unit": c.unit, "field": c.path} for c in zoo.columns]
    return _dump({"kind": zoo.kind, "title": zoo.title, "generated": generated, "columns": columns, "records": records})


def compare_data(model: SiteModel) -> str:
    """What the compare page draws, per kind: the fields in display order and every record's values
    for people (engineering units, badge, tooltip). A script file, so the page works from file://
    (where browsers refuse to fetch JSON); the object is plain JSON."""
    from mlsysim.site.labels import SPEC_FIELDS, label

    kinds: dict[str, Any] = {}
    for kind in model.kinds:
        views = model.of_kind(kind)
        seen: dict[str, int] = {}
        for view in views:
            for claim in view.claims:
                seen[claim.field] = seen.get(claim.field, 0) + 1
        spec = [p for p in SPEC_FIELDS.get(kind, ())]
        order = spec + sorted((p for p in seen if p not in spec), key=lambda p: (-seen[p], p))
        records = {}
        for view in views:
            values: dict[str, list[str]] = {}
            for item in view.spec:
                if item.claim is None:
                    values[item.path] = [item.text, "", ""]
            for claim in view.claims:
                values[claim.field] = [claim.display, claim.badge, claim.detail]
            records[view.id] = {"name": view.name, "label": view.label, "href": view.href, "group": view.group,
                                "status": view.status, "values": values}
        fields = [[p, label(p)] for p in order if any(p in r["values"] for r in records.values())]
        kinds[kind] = {"fields": fields, "records": records}
    from mlsysim.site.badges import BADGE_STYLES

    data = {"kinds": kinds, "symbols": {word: style.symbol for word, style in BADGE_STYLES.items()}}
    text = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return "// generated by mlsysim site build: the compare page's data\nwindow.MLSYSIM_COMPARE = " + text + ";\n"
