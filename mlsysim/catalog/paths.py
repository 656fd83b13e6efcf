"""Where the catalog and the cache live."""

from __future__ import annotations

import os
from pathlib import Path

from mlsysim.errors import CatalogError
from provenance.problems import Problem

_PACKAGE = Path(__file__).resolve().parent.parent


def bundled_catalog() -> Path:
    """The catalog shipped in the wheel, or the checkout's catalog/ in a source tree."""
    shipped = _PACKAGE / "_data" / "catalog"
    return shipped if shipped.is_dir() else _PACKAGE.parent / "catalog"


def bundled_templates() -> Path:
    shipped = _PACKAGE / "_data" / "site_templates"
    return shipped if shipped.is_dir() else _PACKAGE.parent / "site_templates"


def catalog_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The catalog to use (a directory or a snapshot file): an explicit argument, else
    $MLSYSIM_CATALOG, else the bundled one."""
    if explicit is not None and not str(explicit).strip():
        raise CatalogError([Problem("--catalog", 1, 1, "", "an empty catalog path; pass a catalog directory or snapshot file, or leave --catalog out")])
    chosen = explicit or os.environ.get("MLSYSIM_CATALOG")
    return Path(chosen).expanduser().resolve() if chosen else bundled_catalog()


def cache_dir() -> Path:
    """$MLSYSIM_CACHE_DIR, else $XDG_CACHE_HOME/mlsysim, else ~/.cache/mlsysim."""
    if explicit := os.environ.get("MLSYSIM_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlsysim"


SOURCES_FILE = "sources.yaml"


def discover(root: Path) -> list[Path]:
    """Every record file below a catalog root, sorted (sources.yaml is not a record)."""
    return sorted(p for p in root.rglob("*.yaml") if p.name != SOURCES_FILE and p.is_file())
