"""JSON Schemas of the record kinds, for editors (yaml-language-server) and tools."""

from __future__ import annotations

from typing import Any

from mlsysim.catalog.schemas import KINDS
from provenance.model import Source


def json_schemas() -> dict[str, dict[str, Any]]:
    """kind -> JSON Schema (draft 2020-12), plus `sources` for sources.yaml."""
    out = {}
    for name, kind in KINDS.items():
        schema = kind.schema.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"mlsysim {name} record"
        out[name] = schema
    source = Source.model_json_schema()
    out["sources"] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mlsysim sources.yaml",
        "type": "object",
        "additionalProperties": {"$ref": "#/$defs/Source"},
        "$defs": {**source.pop("$defs", {}), "Source": source},
    }
    return out
