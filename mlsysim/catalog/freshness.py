"""Glue between the catalog and the domain-agnostic freshness checker.

The checker (provenance.checker) knows claims and sources, not GPUs. This module
hands it the catalog's claims (with where each is written), a pint unit
converter from mlsysim's own registry, and a validator that loads the catalog
with the proposed edits applied, so that no edit that breaks a record is ever
written.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlsysim.catalog import Catalog
from provenance.model import CheckPolicy, effective_policy
from provenance.strategies import ClaimRef


def claim_refs(catalog: Catalog) -> list[ClaimRef]:
    """Every cited value of the catalog, with its file, key path, source and effective check policy."""
    refs = []
    for record in catalog.records():
        file = catalog.root / record.file
        for value in record.values():
            source = catalog.sources.get(value.source_id, {})
            claim = value.claim
            policy = effective_policy(
                source.get("type", "webpage"),
                CheckPolicy.model_validate(source["check"]) if source.get("check") else None,
                CheckPolicy.model_validate(claim["check"]) if claim.get("check") else None,
            )
            refs.append(ClaimRef(
                path=value.path,
                file=file,
                keys=tuple(value.path.split("#", 1)[1].split(".")),
                claim=claim,
                source_id=value.source_id,
                source=source,
                policy=policy,
            ))
    return refs


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """value [from_unit] in to_unit, with the project's unit registry; ValueError when impossible.

    from_unit may carry a factor, as APIs do ("USD/(10 hour)" for a price per 10 hours).
    """
    from mlsysim.catalog.units import UnitError, registry

    try:
        ureg = registry()
        source = value * ureg.parse_expression(from_unit) if from_unit else ureg.Quantity(value, "dimensionless")
        return float(source.to(to_unit or "dimensionless").magnitude)
    except UnitError:
        raise
    except Exception as exc:  # pint raises several unrelated types
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


COPY_PREFIX = "mlsysim-freshness-"
STALE_AFTER = 3600.0  # seconds; a validation copy lives for seconds, so an hour-old one was left by a killed run


def remove_stale_copies(max_age: float = STALE_AFTER) -> list[Path]:
    """Delete catalog copies that killed runs left in the temp directory (ours by prefix, old by age)."""
    from provenance.lock import remove_stale_temp_dirs

    return remove_stale_temp_dirs(COPY_PREFIX, max_age)


def validator(root: Path) -> Any:
    """A callable: {path: new text} -> problems of the catalog with those texts in place."""

    def validate(staged: Mapping[Path, str]) -> list[str]:
        from mlsysim.catalog import cache
        from mlsysim.catalog import check

        with tempfile.TemporaryDirectory(prefix=COPY_PREFIX) as tmp:
            copy = Path(tmp) / "catalog"
            shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".*.tmp", "verification.json"))
            for path, text in staged.items():
                target = copy / Path(path).resolve().relative_to(root.resolve())
                target.write_text(text, encoding="utf-8")
            try:
                _, problems = check(copy)
            finally:
                try:
                    cache._cache_file(copy).unlink()  # the throw-away copy's cache entry
                except OSError:
                    pass
        return [str(p) for p in problems]

    return validate
