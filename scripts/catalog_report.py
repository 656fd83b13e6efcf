"""How the catalog is cited: records per kind, values per method, per source type
and per authority (primary vs secondary), the primary share of each kind's values,
and every value marked estimated.

    python scripts/catalog_report.py [--catalog DIR] [--json]

The counts go into the closing note of the zoo issue; `--json` gives the same
figures for machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from mlsysim.catalog import Catalog, load_catalog
from mlsysim.errors import MlsysimError


def summarize(catalog: Catalog) -> dict[str, Any]:
    """Counts and the list of estimated values, as plain data (sorted, stable)."""
    values = [v for r in catalog.records() for v in r.values()]
    cited = {v.source_id for v in values}

    def source_field(value: Any, name: str, default: str) -> str:
        return str(catalog.sources.get(value.source_id, {}).get(name, default))

    estimated = [
        {"path": v.path, "value": v.value, "unit": v.unit, "source": v.source_id, "note": " ".join(str(v.note).split())}
        for v in values
        if v.method == "estimated"
    ]
    return {
        "records": dict(sorted(Counter(r.kind for r in catalog.records()).items())),
        "values": len(values),
        "values_by_method": dict(sorted(Counter(v.method for v in values).items())),
        "values_by_source_type": dict(sorted(Counter(source_field(v, "type", "?") for v in values).items())),
        "values_by_authority": dict(sorted(Counter(source_field(v, "authority", "primary") for v in values).items())),
        "authority_by_kind": _authority_by_kind(catalog, source_field),
        "sources": len(catalog.sources),
        "sources_cited": len(cited & set(catalog.sources)),
        "sources_uncited": sorted(set(catalog.sources) - cited),
        "sources_by_type": dict(sorted(Counter(str(s.get("type", "?")) for s in catalog.sources.values()).items())),
        "sources_by_authority": dict(sorted(Counter(str(s.get("authority", "primary")) for s in catalog.sources.values()).items())),
        "estimated": sorted(estimated, key=lambda e: e["path"]),
    }


def _authority_by_kind(catalog: Catalog, source_field: Any) -> dict[str, dict[str, Any]]:
    """Per record kind: values citing primary and secondary sources, and the primary share."""
    out: dict[str, dict[str, Any]] = {}
    for record in catalog.records():
        counts = out.setdefault(record.kind, {"primary": 0, "secondary": 0})
        for value in record.values():
            counts["primary" if source_field(value, "authority", "primary") == "primary" else "secondary"] += 1
    for counts in out.values():
        total = counts["primary"] + counts["secondary"]
        counts["primary_share"] = round(counts["primary"] / total, 4) if total else None
    return dict(sorted(out.items()))


def render(summary: dict[str, Any]) -> str:
    """The summary as the plain-text report people read."""
    lines: list[str] = []

    def table(title: str, counts: dict[str, int]) -> None:
        lines.append(f"{title} (total {sum(counts.values())})")
        width = max((len(k) for k in counts), default=0)
        lines.extend(f"  {k:<{width}}  {n:>5}" for k, n in counts.items())
        lines.append("")

    table("Records per kind", summary["records"])
    table("Values per method", summary["values_by_method"])
    table("Values per source type", summary["values_by_source_type"])
    table("Values per source authority", summary["values_by_authority"])
    by_kind = summary["authority_by_kind"]
    lines.append("Primary share per kind (values citing a primary source / all values)")
    width = max((len(k) for k in by_kind), default=0)
    for kind, c in by_kind.items():
        share = "-" if c["primary_share"] is None else f"{100 * c['primary_share']:.0f}%"
        lines.append(f"  {kind:<{width}}  {share:>5}  ({c['primary']} primary, {c['secondary']} secondary)")
    lines.append("")
    lines.append(f"Sources: {summary['sources']} listed, {summary['sources_cited']} cited by at least one value")
    if summary["sources_uncited"]:
        lines.append(f"  not cited by any value: {', '.join(summary['sources_uncited'])}")
    lines.append("")
    table("Sources per type", summary["sources_by_type"])
    table("Sources per authority", summary["sources_by_authority"])
    lines.append(f"Estimated values ({len(summary['estimated'])})")
    for e in summary["estimated"]:
        unit = f" {e['unit']}" if e["unit"] else ""
        lines.append(f"  {e['path']} = {e['value']:g}{unit} [{e['source']}]")
        lines.append(f"      {e['note']}")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", type=Path, default=None, help="catalog directory (default: the bundled one)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog(args.catalog)
    except MlsysimError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    summary = summarize(catalog)
    sys.stdout.write(json.dumps(summary, indent=2) + "\n" if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
