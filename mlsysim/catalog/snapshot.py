"""Pinned catalog snapshots: one JSON file holding a validated catalog.

A snapshot is to a catalog directory what a CODATA edition is to the
measurements behind it: results computed from it can be reproduced after the
catalog moves on. `mlsysim catalog snapshot -o FILE` writes one; every command's
`--catalog` accepts it in place of a directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlsysim.errors import CatalogError
from provenance.atomic import write_text_atomic
from provenance.problems import Problem

FORMAT = "mlsysim-catalog-snapshot"
VERSION = 1
# Record fields whose pairs are tuples in memory; JSON stores them as lists.
_PAIR_FIELDS = ("positions", "refs")


def snapshot_document(snapshot: dict[str, Any], date: str) -> dict[str, Any]:
    """The JSON document for a validated catalog snapshot."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": snapshot["fingerprint"],
        "date": date,
        "records": snapshot["records"],
        "sources": snapshot["sources"],
        "source_positions": snapshot["source_positions"],
    }


def write_snapshot(path: Path, snapshot: dict[str, Any], date: str) -> None:
    """Write a snapshot atomically (the file is whole or absent)."""
    text = json.dumps(snapshot_document(snapshot, date), indent=1, ensure_ascii=False)
    write_text_atomic(path, text + "\n")


def _problem(path: Path, message: str) -> CatalogError:
    return CatalogError([Problem(str(path), 1, 1, "", message)])


def read_snapshot(path: Path) -> dict[str, Any]:
    """A snapshot as `scan` returns one, from a file `write_snapshot` wrote."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _problem(path, f"not a readable catalog snapshot ({exc}); write one with `mlsysim catalog snapshot -o FILE`") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _problem(path, f"not a catalog snapshot (no \"format\": \"{FORMAT}\"); pass a catalog directory or a file written by `mlsysim catalog snapshot`")
    if doc.get("version") != VERSION:
        raise _problem(path, f"snapshot version {doc.get('version')!r} is not {VERSION}, which this mlsysim reads; write it again with `mlsysim catalog snapshot`")
    missing = [k for k in ("fingerprint", "date", "records", "sources", "source_positions") if k not in doc]
    if missing:
        raise _problem(path, f"snapshot lacks {', '.join(missing)}; write it again with `mlsysim catalog snapshot`")
    for record in doc["records"]:
        for field in _PAIR_FIELDS:
            record[field] = {k: tuple(v) if isinstance(v, list) else v for k, v in record.get(field, {}).items()}
    positions = {k: tuple(v) for k, v in doc["source_positions"].items()}
    return {
        "fingerprint": doc["fingerprint"],
        "date": doc["date"],
        "records": doc["records"],
        "sources": doc["sources"],
        "source_positions": positions,
        "problems": [],
    }
