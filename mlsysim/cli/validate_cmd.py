"""`mlsysim validate`: every published measurement in the catalog against the solvers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from mlsysim.cli.console import console, echo, escape
from mlsysim.cli.options import CatalogOption, Output


def results_table(report: Any) -> Table:
    """One row per measurement: measured, predicted, signed error, or why it is not expressible."""
    from mlsysim.evaluate.validation import display_number, display_percent

    table = Table(title=f"Measurements ({len(report.results)})", title_justify="left")
    for header, justify in (("Id", "left"), ("Category", "left"), ("Metric", "left"), ("Unit", "left"),
                            ("Measured", "right"), ("Predicted", "right"), ("Error", "right"), ("Remarks", "left")):
        table.add_column(header, justify=justify, overflow="fold", no_wrap=header == "Id")
    for r in report.results:
        scale = r.scale
        table.add_row(
            escape(r.id), r.category, r.metric, escape(r.display_unit), display_number(r.measured * scale),
            display_number(None if r.predicted is None else r.predicted * scale),
            display_percent(r.error, signed=True) if r.error is not None else "not expressible", escape(r.explanation),
        )
    return table


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
    out.print(results_table(report))
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
