"""`mlsysim validate`: every published measurement in the catalog against the solvers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from mlsysim.cli.console import console, echo, escape
from mlsysim.cli.options import CatalogOption, Output


def results_tables(report: Any) -> tuple[list[Table], list[str]]:
    """One table per category, one row per measurement: measured, predicted, signed error (or
    "n/e", not expressible), and a note number; the notes (why a row is not expressible, its remarks
    and what was assumed) come back as a list, printed under the tables at the full width of
    the console rather than squeezed into a column."""
    from mlsysim.evaluate.validation import display_number, display_percent

    counts = Counter(r.category for r in report.results)
    tables: dict[str, Table] = {}
    notes: list[str] = []
    for r in report.results:
        table = tables.get(r.category)
        if table is None:
            table = tables[r.category] = Table(title=f"{r.category} ({counts[r.category]})", title_justify="left")
            # The id and metric may fold; the figures and note numbers stay on one line each.
            table.add_column("Id", overflow="fold", min_width=24)
            table.add_column("Metric", overflow="fold")
            table.add_column("Unit", no_wrap=True)
            for header in ("Measured", "Predicted", "Error", "Note"):
                table.add_column(header, justify="right", no_wrap=True)
        marker = ""
        if r.explanation:
            said = f"not expressible: {r.explanation}" if r.error is None else r.explanation
            notes.append(f"[{len(notes) + 1}] {r.id}: {said}")
            marker = f"[{len(notes)}]"
        scale = r.scale
        table.add_row(
            escape(r.id), r.metric, escape(r.display_unit), display_number(r.measured * scale),
            display_number(None if r.predicted is None else r.predicted * scale),
            display_percent(r.error, signed=True) if r.error is not None else "n/e", escape(marker),
        )
    return list(tables.values()), notes


def summary_table(report: Any) -> Table:
    """Per category and overall: rows, expressed, median |error|, worst, share within 10/20/30%."""
    from mlsysim.evaluate.validation import display_percent

    table = Table(title="Summary (signed error = predicted / measured - 1)", title_justify="left")
    for header in ("Category", "Rows", "Expressed", "Not expressible", "Median |error|", "Worst", "Within 10%", "Within 20%", "Within 30%"):
        table.add_column(header, justify="left" if header in ("Category", "Worst") else "right")
    for name, s in report.summary().items():
        worst = f"{s['worst']['id']} ({s['worst']['error']:+.1%})" if s["worst"] else "-"
        table.add_row(name, str(s["count"]), str(s["expressed"]), str(s["not_expressible"]), display_percent(s["median_abs_error"]),
                      escape(worst), display_percent(s["within_10"]), display_percent(s["within_20"]), display_percent(s["within_30"]))
    return table


def render(report: Any, out: Console) -> None:
    tables, notes = results_tables(report)
    for table in tables:
        out.print(table)
    if notes:
        out.print("Notes (n/e: not expressible, and why; remarks; what was assumed)")
        for note in notes:
            out.print(escape(note))
    out.print(summary_table(report))


def validate(
    output: Output = typer.Option(Output.text, "-o", "--output", help="text (tables) or json."),
    catalog: Optional[Path] = CatalogOption,
    category: Optional[str] = typer.Option(None, "--category", help="Only this category: training, latency, throughput, under_load, edge."),
) -> None:
    """Run every published measurement through the solvers and print signed errors."""
    from mlsysim.catalog import default_catalog, load_catalog
    from mlsysim.evaluate.validation import validate as run

    cat = load_catalog(catalog) if catalog else default_catalog()
    report = run(cat, category)
    if output is Output.json:
        echo(json.dumps(report.to_dict(), indent=2))
        return
    render(report, console)


def register(app: typer.Typer) -> None:
    app.command()(validate)
