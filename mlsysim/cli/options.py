"""Options and choices several commands share."""

from __future__ import annotations

import enum

import typer

CatalogOption = typer.Option(None, "--catalog", help="Catalog directory or snapshot file (default: $MLSYSIM_CATALOG or the bundled one).")


class Output(str, enum.Enum):
    """How a command prints its result."""

    text = "text"
    json = "json"
