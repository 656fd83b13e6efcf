"""Options and choices several commands share."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mlsysim.catalog import Catalog

def _catalog_path(text: str) -> Path:
    """--catalog's value as a Path; an empty one is refused (Path("") would mean the working directory)."""
    if not str(text).strip():
        raise typer.BadParameter("an empty catalog path; pass a catalog directory or snapshot file, or leave --catalog out",
                                 param_hint="'--catalog'")
    return Path(text)


CatalogOption = typer.Option(None, "--catalog", parser=_catalog_path, help="Catalog directory or snapshot file (default: $MLSYSIM_CATALOG or the bundled one).")


class Output(str, enum.Enum):
    """How a command prints its result."""

    text = "text"
    json = "json"


def open_catalog(option: str | os.PathLike[str] | None) -> Catalog:
    """Load the catalog a command works on, saying on stderr which one and why."""
    from mlsysim.catalog import load_catalog
    from mlsysim.catalog.paths import locate_catalog
    from mlsysim.cli.console import err_console

    location = locate_catalog(option)
    err_console.print(f"catalog: {location}", style="dim", markup=False, highlight=False, soft_wrap=True)
    return load_catalog(location.path)
