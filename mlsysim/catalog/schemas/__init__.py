"""Record kinds: where their files live and which schema validates them."""

from __future__ import annotations

import typing
from dataclasses import dataclass

from pydantic import BaseModel

from mlsysim.catalog.schemas.assumption import Assumption
from mlsysim.catalog.schemas.common import CitedValue, RecordBase, Ref
from mlsysim.catalog.schemas.hardware import Hardware
from mlsysim.catalog.schemas.infra import Datacenter, Grid, Rack
from mlsysim.catalog.schemas.measurement import Measurement
from mlsysim.catalog.schemas.scenario import Scenario
from mlsysim.catalog.schemas.systems import Cluster, Fabric, Node
from mlsysim.catalog.schemas.workload import Workload


@dataclass(frozen=True)
class Kind:
    name: str  # used in claim paths: "<name>/<id>#field"
    directory: str  # below catalog/
    schema: type[RecordBase]
    group_field: str | None = None  # hardware by tier, models by family


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("hardware", "hardware", Hardware, "tier"),
        Kind("models", "models", Workload, "family"),
        Kind("grids", "grids", Grid),
        Kind("datacenters", "infra/datacenters", Datacenter),
        Kind("racks", "infra/racks", Rack),
        Kind("nodes", "systems/nodes", Node),
        Kind("fabrics", "systems/fabrics", Fabric),
        Kind("clusters", "systems/clusters", Cluster),
        Kind("assumptions", "assumptions", Assumption),
        Kind("scenarios", "scenarios", Scenario),
        Kind("measurements", "measurements", Measurement),
    )
}


def references(schema: type[BaseModel]) -> dict[str, str]:
    """Top-level fields of a schema that name another record: field -> kind."""
    found = {}
    for name, info in schema.model_fields.items():
        for meta in [*info.metadata, *_annotated_metadata(info.annotation)]:
            if isinstance(meta, Ref):
                found[name] = meta.kind
    return found


def _annotated_metadata(annotation: object) -> list[object]:
    """Metadata of Annotated types inside an Optional (`ref("grids") | None`)."""
    out: list[object] = []
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Annotated:
            out.extend(arg.__metadata__)
    return out


__all__ = ["KINDS", "CitedValue", "Kind", "RecordBase", "references"]
