"""`mlsysim zoo`, `mlsysim show`, `mlsysim provenance map`: read the catalog."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from mlsysim.cli.console import console
from mlsysim.cli.options import CatalogOption, Output, open_catalog
from mlsysim.site.columns import COLUMNS, Column, short
from mlsysim.catalog.records import Record


class ZooKind(str, enum.Enum):
    hardware = "hardware"
    models = "models"
    grids = "grids"
    infra = "infra"
    systems = "systems"
    assumptions = "assumptions"
    scenarios = "scenarios"


_ZOO_KINDS = {
    "hardware": ["hardware"],
    "models": ["models"],
    "grids": ["grids"],
    "infra": ["datacenters", "racks"],
    "systems": ["nodes", "fabrics", "clusters"],
    "assumptions": ["assumptions"],
    "scenarios": ["scenarios"],
}


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


def _table(kind: str, records: list[Record]) -> Table:
    table = Table(title=f"{kind} ({len(records)})", title_justify="left")
    table.add_column("Name", no_wrap=True)
    columns = COLUMNS.get(kind, [])
    for column in columns:
        table.add_column(escape(column.title), justify="right" if column.numeric and column.unit is not None else "left")
    for rec in sorted(records, key=lambda r: (str(r.group or ""), r.label.lower())):
        # Catalog text is data, not rich markup: "[kW]" must print as written.
        table.add_row(escape(rec.label), *[escape(_cell(rec, column)) for column in columns])
    return table


def zoo(kind: ZooKind = typer.Argument(..., help="What to list."), catalog: Optional[Path] = CatalogOption) -> None:
    """Tables of the catalog's records, key specs in SI-derived units (~ marks estimates)."""

    cat = open_catalog(catalog)
    for sub in _ZOO_KINDS[kind.value]:
        console.print(_table(sub, cat.records(sub)))


def show(name: str = typer.Argument(..., help="A record id, alias or name, or kind/id."), catalog: Optional[Path] = CatalogOption) -> None:
    """Every value of one record with its unit, source and where in the source."""

    record = open_catalog(catalog).find(name)
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
        typer.echo(provmap.to_json())
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
    app.add_typer(provenance_app, name="provenance")
