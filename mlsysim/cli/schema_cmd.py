"""`mlsysim schema --type plan|hardware|models|...`: one JSON Schema, for editors and tools.

The reference simulator's command; `mlsysim catalog schema` gives the record kinds' schemas
too (and writes them into a directory)."""

from __future__ import annotations

import json
from typing import Optional

import typer

from mlsysim.cli.console import echo
from mlsysim.cli.options import Output


def schema_command(
    type: str = typer.Option("plan", "--type", "-t", help="plan (mlsysim eval plan.yaml), reference_plan, hardware, models "
                             "(or workload), grids, nodes, clusters, ..., sources, or all."),  # noqa: A002 - the reference's option
    output: Optional[Output] = typer.Option(None, "-o", "--output", help="Accepted for the reference's scripts; the schema is always JSON."),
) -> None:
    """The JSON Schema of a plan file or of a catalog record kind (default: plan)."""
    from mlsysim.agent.schemas import all_schemas, schema

    body = all_schemas() if type.strip().lower() == "all" else schema(type)
    echo(json.dumps(body, indent=2, sort_keys=True))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_command)
