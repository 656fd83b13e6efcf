"""`mlsysim zoo`, `mlsysim show`, `mlsysim provenance map`: read the catalog."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from mlsysim.cli.console import console
from mlsysim.records import Record

CatalogOption = typer.Option(None, "--catalog", help="Catalog directory (default: $MLSYSIM_CATALOG or the bundled one).")


class ZooKind(str, enum.Enum):
    hardware = "hardware"
    models = "models"
    grids = "grids"
    infra = "infra"
    systems = "systems"
    assumptions = "assumptions"
    scenarios = "scenarios"


class Format(str, enum.Enum):
    text = "text"
    json = "json"


def _num(record: Record, path: str, scale: float = 1.0, digits: int = 4) -> str:
    """A cited value converted from SI by `scale`, or blank; estimates are marked with ~."""
    if path not in record._data["claims"]:
        return ""
    claim = record._data["claims"][path]
    number = claim["si"] / scale
    shown = f"{number:,.0f}" if abs(number) >= 10 ** digits else f"{number:.{digits}g}"
    return f"~{shown}" if claim.get("method") == "estimated" else shown


def _stated(record: Record, path: str) -> str:
    claim = record._data["claims"].get(path)
    if claim is None:
        return ""
    unit = f" {claim['unit']}" if claim.get("unit") else ""
    return f"{claim['value']:g}{unit}"


Column = tuple[str, Callable[[Record], Any]]

_COLUMNS: dict[str, list[Column]] = {
    "hardware": [
        ("Tier", lambda r: r.group),
        ("Vendor", lambda r: r.vendor),
        ("Year", lambda r: str(r.release_year)),
        ("FP16 TFLOP/s", lambda r: _num(r, "compute.fp16", 1e12)),
        ("BF16 TFLOP/s", lambda r: _num(r, "compute.bf16", 1e12)),
        ("FP8 TFLOP/s", lambda r: _num(r, "compute.fp8", 1e12)),
        ("INT8 TOPS", lambda r: _num(r, "compute.int8", 1e12)),
        ("Memory", lambda r: _stated(r, "memory.capacity")),
        ("BW GB/s", lambda r: _num(r, "memory.bandwidth", 1e9)),
        ("TDP W", lambda r: _num(r, "tdp", 1.0)),
    ],
    "models": [
        ("Family", lambda r: r.group),
        ("Arch", lambda r: r.architecture),
        ("Params (B)", lambda r: _num(r, "parameters", 1e9)),
        ("Active (B)", lambda r: _num(r, "active_parameters", 1e9)),
        ("Layers", lambda r: _num(r, "transformer.layers") or _num(r, "ssm.layers")),
        ("Hidden", lambda r: _num(r, "transformer.hidden_size") or _num(r, "ssm.d_model")),
        ("Heads/KV", lambda r: f"{_num(r, 'transformer.heads')}/{_num(r, 'transformer.kv_heads') or _num(r, 'transformer.heads')}" if r.has("transformer") else ""),
        ("Context", lambda r: _num(r, "transformer.context_length")),
        ("GFLOP/inference", lambda r: _num(r, "flops_per_inference", 1e9)),
    ],
    "grids": [
        ("Region", lambda r: r.region),
        ("gCO2e/kWh", lambda r: _num(r, "carbon_intensity", 1 / 3.6e9)),
        ("Basis", lambda r: r.carbon_intensity.qualifiers.get("basis", "")),
        ("Year", lambda r: str(r.carbon_intensity.valid_time or "")),
        ("Price USD/kWh", lambda r: _num(r, "electricity_price", 1 / 3.6e6)),
    ],
    "datacenters": [("PUE", lambda r: _num(r, "pue")), ("WUE L/kWh", lambda r: _num(r, "wue", 1e-3 / 3.6e6)), ("Grid", lambda r: r.get("grid").label if r.has("grid") else "")],
    "racks": [("Power kW", lambda r: _num(r, "power", 1e3)), ("Cooling", lambda r: r.get("cooling") or "")],
    "nodes": [
        ("Accelerator", lambda r: r.accelerator.label),
        ("Count", lambda r: _num(r, "accelerator_count")),
        ("Intra GB/s", lambda r: _num(r, "intra_node_bandwidth", 1e9)),
        ("Inter Gbit/s", lambda r: _num(r, "inter_node_bandwidth", 1.25e8)),
        ("Power kW", lambda r: _num(r, "power", 1e3)),
    ],
    "fabrics": [
        ("Technology", lambda r: r.technology),
        ("Link Gbit/s", lambda r: _num(r, "link_bandwidth", 1.25e8)),
        ("Latency us", lambda r: _num(r, "latency", 1e-6)),
        ("Oversub.", lambda r: _num(r, "oversubscription")),
    ],
    "clusters": [
        ("Node", lambda r: r.node.label),
        ("Nodes", lambda r: str(r.node_count)),
        ("Accelerators", lambda r: f"{r.node_count * r.node.accelerator_count.si:g}"),
        ("Fabric", lambda r: r.fabric.label),
        ("Datacenter", lambda r: r.get("datacenter").label if r.has("datacenter") else ""),
    ],
    "scenarios": [
        ("Application", lambda r: r.application),
        ("Mode", lambda r: r.mode),
        ("Model", lambda r: r.model.label),
        ("System", lambda r: (r.cluster.label if r.has("cluster") else r.hardware.label) if (r.has("cluster") or r.has("hardware")) else ""),
        ("Latency SLA ms", lambda r: _num(r, "latency_sla", 1e-3)),
        ("Power budget W", lambda r: _num(r, "power_budget")),
    ],
    "assumptions": [
        ("Value", lambda r: _stated(r, "quantity")),
        ("Method", lambda r: r.quantity.method),
        ("Source", lambda r: r.quantity.source_id),
    ],
}

_ZOO_KINDS = {
    "hardware": ["hardware"],
    "models": ["models"],
    "grids": ["grids"],
    "infra": ["datacenters", "racks"],
    "systems": ["nodes", "fabrics", "clusters"],
    "assumptions": ["assumptions"],
    "scenarios": ["scenarios"],
}


def _table(kind: str, records: list[Record]) -> Table:
    table = Table(title=f"{kind} ({len(records)})", title_justify="left")
    table.add_column("Name", no_wrap=True)
    for header, _ in _COLUMNS[kind]:
        table.add_column(header, justify="right" if any(c in header for c in "/0123456789") or header in ("Count", "Nodes", "Layers", "Hidden", "Context", "PUE", "Year") else "left")
    for rec in sorted(records, key=lambda r: (str(r.group or ""), r.label.lower())):
        table.add_row(rec.label, *[str(getter(rec)) for _, getter in _COLUMNS[kind]])
    return table


def zoo(kind: ZooKind = typer.Argument(..., help="What to list."), catalog: Optional[Path] = CatalogOption) -> None:
    """Tables of the catalog's records, key specs in SI-derived units (~ marks estimates)."""
    from mlsysim.catalog import load_catalog

    cat = load_catalog(catalog)
    for sub in _ZOO_KINDS[kind.value]:
        console.print(_table(sub, cat.records(sub)))


def show(name: str = typer.Argument(..., help="A record id, alias or name, or kind/id."), catalog: Optional[Path] = CatalogOption) -> None:
    """Every value of one record with its unit, source and where in the source."""
    from mlsysim.catalog import load_catalog

    record = load_catalog(catalog).find(name)
    console.print(f"[bold]{record.name}[/]  ({record.ref}, {record.file})", soft_wrap=True)
    if record.aliases:
        console.print(f"aliases: {', '.join(record.aliases)}", soft_wrap=True)
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
    output: Format = typer.Option(Format.text, "-o", "--output", help="text (a table) or json."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Every numeric constant of every record with its source."""
    from mlsysim.catalog import load_catalog

    provmap = load_catalog(catalog).provenance
    if output is Format.json:
        typer.echo(provmap.to_json())
        return
    table = Table(title=f"{len(provmap)} cited values", title_justify="left")
    for header in ("Path", "Value", "Method", "Source"):
        table.add_column(header, overflow="fold")
    for entry in provmap.values():
        unit = f" {entry.unit}" if entry.unit else ""
        table.add_row(entry.path, f"{entry.value:g}{unit}", entry.method, entry.source_id)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(zoo)
    app.command()(show)
    app.add_typer(provenance_app, name="provenance")
