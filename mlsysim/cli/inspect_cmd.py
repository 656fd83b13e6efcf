"""`mlsysim zoo`, `mlsysim show`, `mlsysim provenance map`: read the catalog."""

from __future__ import annotations

import csv
import enum
import io
import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from mlsysim.cli.console import console, echo, escape
from mlsysim.cli.options import CatalogOption, Output, open_catalog
from mlsysim.site.columns import COLUMNS, Column, short
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError


_ZOO_KINDS = {
    "hardware": ["hardware"],
    "models": ["models"],
    "grids": ["grids"],
    "infra": ["datacenters", "racks"],
    "systems": ["nodes", "fabrics", "clusters"],
    "assumptions": ["assumptions"],
    "scenarios": ["scenarios"],
    "measurements": ["measurements"],
}
# Words people type for a zoo, and the zoo they mean.
_ZOO_SYNONYMS = {"gpus": "hardware", "gpu": "hardware", "accelerators": "hardware", "devices": "hardware",
                 "model": "models", "grid": "grids", "nodes": "systems", "clusters": "systems", "fabrics": "systems",
                 "datacenters": "infra", "racks": "infra", "scenario": "scenarios", "measurement": "measurements"}


class TableOutput(str, enum.Enum):
    """How a table command prints: for people, or for machines."""

    text = "text"
    json = "json"
    csv = "csv"


def _zoo_kind(word: str) -> str:
    key = word.strip().lower()
    if key in _ZOO_KINDS:
        return key
    if key in _ZOO_SYNONYMS:
        return _ZOO_SYNONYMS[key]
    raise MlsysimError(f"no zoo named {word!r}; choose one of {', '.join(_ZOO_KINDS)}")


def _cell(record: Record, column: Column) -> str:
    """One zoo cell, from the same column definitions the zoo site uses; ~ marks estimates."""
    if column.ref is not None:
        return record.field(column.ref).label if record.has(column.ref) else ""
    if column.path is not None:
        claim = record.claims.get(column.path)
        if claim is None:
            return ""
        shown = column.shown(record)
        text = short(shown) if shown is not None else f"{claim['value']:g}" + (f" {claim['unit']}" if claim.get("unit") else "")
        return f"~{text}" if claim.get("method") == "estimated" else text
    return "" if column.text is None else str(column.text(record))


def _sorted(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (str(r.group or ""), r.label.lower()))


def _table(kind: str, records: list[Record]) -> Table:
    table = Table(title=f"{kind} ({len(records)})", title_justify="left")
    columns = COLUMNS.get(kind, [])
    rows = [(escape(rec.label), *[escape(_cell(rec, column)) for column in columns]) for rec in _sorted(records)]
    # Names wrap; numbers never do, and their column is never narrower than its widest
    # number. The unit goes on a second header line so headers stay narrow too.
    table.add_column("Name", overflow="fold", min_width=10)
    for i, column in enumerate(columns, start=1):
        numeric = column.numeric and column.unit is not None
        widest = max((len(row[i]) for row in rows), default=0)
        header = escape(column.header) + ("\n" + escape(f"[{column.unit}]") if column.unit else "")
        header_width = max(len(line) for line in f"{column.header}\n[{column.unit}]".split("\n"))
        table.add_column(header, justify="right" if numeric else "left", no_wrap=column.numeric,
                         min_width=max(widest, header_width) if column.numeric else min(max(widest, 4), 8), overflow="fold")
    for row in rows:
        # Catalog text is data, not rich markup: "[kW]" must print as written.
        table.add_row(*row)
    return table


def _print_table(table: Table) -> None:
    """Print a table whole: if the terminal is narrower than its numbers need, the
    lines run past the edge rather than a number being cut."""
    needed = sum(column.min_width or 1 for column in table.columns) + 3 * len(table.columns) + 1
    if needed > console.width:
        from rich.console import Console

        natural = Console(width=10_000).measure(table).maximum
        Console(width=natural, highlight=False, file=console.file).print(table)
    else:
        console.print(table)


def _rows(kind: str, records: list[Record]) -> list[dict[str, Any]]:
    """Machine rows: each column's value in its display unit (numbers as numbers)."""
    out = []
    for rec in _sorted(records):
        row: dict[str, Any] = {"kind": kind, "id": rec.id, "name": rec.label}
        for column in COLUMNS.get(kind, []):
            if column.path is not None and column.path in rec.claims:
                shown = column.shown(rec)
                claim = rec.claims[column.path]
                row[column.title] = shown if shown is not None else claim["value"]
                if claim.get("method") == "estimated":
                    row[f"{column.title} (estimated)"] = True
            else:
                row[column.title] = _cell(rec, column) if column.path is None else None
        out.append(row)
    return out


def _print_rows(rows: list[dict[str, Any]], output: TableOutput) -> None:
    if output is TableOutput.json:
        echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    headers = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=headers, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    echo(buffer.getvalue(), nl=False)


def zoo(
    kind: str = typer.Argument(..., help=f"What to list: {', '.join(_ZOO_KINDS)}."),
    output: TableOutput = typer.Option(TableOutput.text, "-o", "--output", help="text (tables), json or csv."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Tables of the catalog's records, key specs in SI-derived units (~ marks estimates)."""
    zoo_kind = _zoo_kind(kind)
    cat = open_catalog(catalog)
    if output is not TableOutput.text:
        _print_rows([row for sub in _ZOO_KINDS[zoo_kind] for row in _rows(sub, cat.records(sub))], output)
        return
    for sub in _ZOO_KINDS[zoo_kind]:
        _print_table(_table(sub, cat.records(sub)))


def search(
    text: str = typer.Argument(..., help="Part of a name, alias, id, vendor or family."),
    output: TableOutput = typer.Option(TableOutput.text, "-o", "--output", help="text, json or csv."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Find records by name, alias, id, vendor or family; best matches first."""
    from mlsysim.catalog.search import search_records

    hits = search_records(open_catalog(catalog), text)
    rows = [{"kind": r.kind, "id": r.id, "name": r.label, "aliases": ", ".join(r.aliases), "match": why} for r, why in hits]
    if output is not TableOutput.text:
        _print_rows(rows, output)
        return
    if not rows:
        raise MlsysimError(f"nothing in the catalog matches {text!r}; try a shorter word, or `mlsysim zoo hardware` to browse")
    table = Table(title=f"{len(rows)} match{'es' if len(rows) != 1 else ''} for {escape(text)!r}", title_justify="left")
    for header in ("Kind", "Id", "Name", "Aliases", "Matched"):
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(escape(str(row[k])) for k in ("kind", "id", "name", "aliases", "match")))
    console.print(table)


def show(
    name: str = typer.Argument(..., help="A record id, alias or name, or kind/id."),
    output: TableOutput = typer.Option(TableOutput.text, "-o", "--output", help="text (cards), json or csv."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Every value of one record with its unit, source and where in the source."""

    record = open_catalog(catalog).find(name)
    if output is not TableOutput.text:
        rows = [{"path": v.path, "value": v.value, "unit": v.unit, "si_value": v.si, "si_unit": v.si_unit, "method": v.method,
                 "qualifiers": json.dumps(v.qualifiers, sort_keys=True) if output is TableOutput.csv else v.qualifiers,
                 "source_id": v.source_id, "source_title": v.source.get("title", ""), "url": v.source.get("url", ""),
                 "source_file": v.source.get("path", ""), "locator": v.locator or "", "as_stated": v.as_stated or "", "note": " ".join((v.note or "").split())}
                for v in record.values()]
        _print_rows(rows, output)
        return
    console.print(f"[bold]{escape(record.name)}[/]  ({record.ref}, {escape(record.file)})", soft_wrap=True)
    if record.aliases:
        console.print(f"aliases: {', '.join(record.aliases)}", soft_wrap=True, markup=False)
    for value in record.values():
        console.print(_card(value), soft_wrap=True, markup=False)


def _card(value: Any) -> str:
    """An astropy-style card: the value, what it means, and who says so where."""
    unit = f" {value.unit}" if value.unit else ""
    conditions = [value.method, *(f"{k}={v}" for k, v in value.qualifiers.items())]
    if value.valid_time is not None:
        conditions.append(f"valid {value.valid_time}")
    lines = [f"\n  {value.path.split('#', 1)[1]} = {value.value:g}{unit}   [{'; '.join(conditions)}]"]
    where = f", {value.locator}" if value.locator else ""
    lines.append(f"      source: {value.source.get('title', value.source_id)} ({value.source_id}){where}")
    if value.as_stated:
        lines.append(f"      as stated: {value.as_stated}")
    if value.claim.get("derived_from"):
        lines.append(f"      derived: {value.claim['formula']} from {', '.join(value.claim['derived_from'])}")
    if value.note:
        lines.append(f"      note: {' '.join(value.note.split())}")
    return "\n".join(lines)


provenance_app = typer.Typer(help="The ProvenanceMap: every constant, its claim and source.", no_args_is_help=True)


@provenance_app.command("map")
def provenance_map(
    output: Output = typer.Option(Output.text, "-o", "--output", help="text (a table) or json."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Every numeric constant of every record with its source."""

    provmap = open_catalog(catalog).provenance
    if output is Output.json:
        echo(provmap.to_json())
        return
    table = Table(title=f"{len(provmap)} cited values", title_justify="left")
    for header in ("Path", "Value", "Method", "Source"):
        table.add_column(header, overflow="fold")
    for entry in provmap.values():
        unit = f" {entry.unit}" if entry.unit else ""
        table.add_row(*(escape(text) for text in (entry.path, f"{entry.value:g}{unit}", entry.method, entry.source_id)))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(zoo)
    app.command()(show)
    app.command()(search)
    app.add_typer(provenance_app, name="provenance")
