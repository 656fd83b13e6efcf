"""Where the catalog and the cache live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlsysim.errors import CatalogError
from provenance.problems import Problem

SOURCES_FILE = "sources.yaml"
_PACKAGE = Path(__file__).resolve().parent.parent


def bundled_catalog() -> Path:
    """The catalog shipped in the wheel, or the checkout's catalog/ in a source tree."""
    shipped = _PACKAGE / "_data" / "catalog"
    return shipped if shipped.is_dir() else _PACKAGE.parent / "catalog"


def bundled_templates() -> Path:
    shipped = _PACKAGE / "_data" / "site_templates"
    return shipped if shipped.is_dir() else _PACKAGE.parent / "site_templates"


@dataclass(frozen=True)
class CatalogLocation:
    """Which catalog a command uses, and why (said on stderr and in JSON output)."""

    path: Path
    how: str  # "--catalog", "MLSYSIM_CATALOG", "working directory" or "bundled"

    def __str__(self) -> str:
        reason = {
            "--catalog": "given with --catalog",
            "MLSYSIM_CATALOG": "from $MLSYSIM_CATALOG",
            "working directory": "the nearest catalog to the working directory",
            "bundled": "the catalog bundled with mlsysim",
        }[self.how]
        return f"{self.path} ({reason})"


def nearest_catalog(start: Path) -> Path | None:
    """The catalog a person standing in `start` means, as git finds `.git`: `start` or its
    nearest parent that holds sources.yaml itself, or a `catalog/` folder holding one."""
    for folder in (start, *start.parents):
        if (folder / SOURCES_FILE).is_file():
            return folder
        if (folder / "catalog" / SOURCES_FILE).is_file():
            return folder / "catalog"
    return None


def locate_catalog(explicit: str | os.PathLike[str] | None = None) -> CatalogLocation:
    """The catalog to use (a directory or a snapshot file): an explicit argument, else
    $MLSYSIM_CATALOG, else the nearest catalog to the working directory, else the bundled one."""
    if explicit is not None and not str(explicit).strip():
        raise CatalogError([Problem("--catalog", 1, 1, "", "an empty catalog path; pass a catalog directory or snapshot file, or leave --catalog out")])
    if explicit:
        return CatalogLocation(Path(explicit).expanduser().resolve(), "--catalog")
    if setting := os.environ.get("MLSYSIM_CATALOG"):
        return CatalogLocation(Path(setting).expanduser().resolve(), "MLSYSIM_CATALOG")
    try:
        here = Path.cwd()
    except OSError:  # the working directory was removed
        here = None
    found = nearest_catalog(here) if here is not None else None
    if found is not None:
        return CatalogLocation(found.resolve(), "working directory")
    return CatalogLocation(bundled_catalog(), "bundled")


def catalog_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The path of `locate_catalog(explicit)`."""
    return locate_catalog(explicit).path


def cache_dir() -> Path:
    """$MLSYSIM_CACHE_DIR, else $XDG_CACHE_HOME/mlsysim, else ~/.cache/mlsysim."""
    if explicit := os.environ.get("MLSYSIM_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mlsysim"



def discover(root: Path) -> list[Path]:
    """Every record file below a catalog root, sorted (sources.yaml is not a record)."""
    return sorted(p for p in root.rglob("*.yaml") if p.name != SOURCES_FILE and p.is_file())
