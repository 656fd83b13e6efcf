"""JSON Schemas of everything a person or an agent writes for mlsysim: plan files (ours and
the reference simulator's) and catalog records of each kind."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from mlsysim.errors import MlsysimError

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Names people reach for (the reference's `--type workload`, singular kinds) -> a schema name.
ALIASES = {"workload": "models", "model": "models", "grid": "grids", "node": "nodes", "cluster": "clusters",
           "datacenter": "datacenters", "fabric": "fabrics", "scenario": "scenarios", "assumption": "assumptions",
           "source": "sources", "reference-plan": "reference_plan", "mlsys-plan": "reference_plan"}


def _plan_schemas() -> dict[str, dict[str, Any]]:
    from mlsysim.evaluate.plans import Plan
    from mlsysim.evaluate.reference_plans import ReferencePlan

    plan = Plan.model_json_schema()
    plan.update({"$schema": DRAFT, "title": "mlsysim plan (mlsysim eval plan.yaml)",
                 "description": "A model on one device (hardware) or a cluster, its layout, site and targets; "
                                "quantities are strings with units, e.g. '30 days', '2 s', '700 W'."})
    # `parallelism: auto` (the fastest layout that fits) is read before validation.
    plan["properties"]["parallelism"]["anyOf"].append({"const": "auto"})
    ref = ReferencePlan.model_json_schema(by_alias=True)
    ref.update({"$schema": DRAFT, "title": "reference simulator plan (MLSys·im 0.3.0 cluster.yaml), as mlsysim reads it",
                "description": "Mapped onto the mlsysim plan field by field; see mlsysim/evaluate/reference_plans.py."})
    return {"plan": plan, "reference_plan": ref}


@cache
def _built() -> dict[str, dict[str, Any]]:
    from mlsysim.catalog.schema_export import json_schemas

    return {**_plan_schemas(), **json_schemas()}


def all_schemas() -> dict[str, dict[str, Any]]:
    """name -> JSON Schema: `plan`, `reference_plan`, then each catalog record kind and `sources`.
    Built once per process (they depend on the code, not the catalog); each call gets its own copy."""
    return copy.deepcopy(_built())


def schema_names() -> list[str]:
    return list(all_schemas())


def schema(name: str) -> dict[str, Any]:
    """One schema by name (or a name people use for it, e.g. `workload` for models)."""
    schemas = all_schemas()
    key = name.strip().lower().replace(" ", "_")
    key = ALIASES.get(key, ALIASES.get(key.replace("_", "-"), key))
    if key not in schemas and key + "s" in schemas:
        key += "s"
    if key not in schemas:
        raise MlsysimError(f"unknown schema type {name!r}; use one of {', '.join(schemas)}")
    return schemas[key]
