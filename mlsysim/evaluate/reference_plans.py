"""Plans in the reference simulator's format (Harvard MLSys·im 0.3.0, `mlsysim eval cluster.yaml`).

    # example_cluster.yaml (the reference's README, "3. Infrastructure as Code")
    version: "1.0"
    name: "Llama-3 70B training audit"
    workload: {name: Llama3_70B, batch_size: 4096}
    hardware: {name: H100, accelerators: 64}
    ops: {region: Quebec, duration_days: 14.0}
    constraints:
      assert:
        - {metric: performance.latency, max: 50.0}

A file is in this format when it has a `workload` mapping and a `hardware` mapping
(`is_reference_plan`); `translate` maps it onto mlsysim's plan fields (mlsysim/evaluate/plans.py),
and every later problem is reported at the reference field it came from.

Field by field (reference -> mlsysim):

    version                          checked to be a string, otherwise unused (as in the reference)
    name                             name
    workload.name                    model (a catalog name; `hf://` ids and YAML paths are not supported)
    workload.batch_size              batch_size
    workload.seq_len                 sequence_length (the reference's eval ignores it; mlsysim uses it)
    hardware.name                    hardware, when the plan has one accelerator; else the accelerator
                                     of the cluster below
    hardware.accelerators,           the accelerator count N (node_count x accelerators_per_node when
    hardware.node_count,             both are given; they must agree with `accelerators`). N > 1
    hardware.accelerators_per_node   trains on `cluster:` the smallest catalog cluster built from that
                                     accelerator (with that many per node, when given) holding N, and
                                     `devices: N`; the reference instead builds an uncited fleet on a
                                     default 50 GB/s fabric. The choice is stated in the result.
    hardware.intra_node_bw,          not supported: link bandwidths come from cited cluster records
    hardware.fabric_bandwidth        (error; write an mlsysim plan naming a cluster instead)
    hardware.precision               precision (lower-cased)
    hardware.efficiency              efficiency (absent: mlsysim's cited default, not the reference's 0.5)
    ops.region                       grid (the reference's eval ignores it; mlsysim prices energy there)
    ops.duration_days                duration
    constraints.assert[i]            `performance.latency` max [ms] -> sla.latency on one accelerator,
                                     sla.step_time on a cluster; `performance.step_latency` max [ms]
                                     -> sla.step_time. Other metrics and `min` bounds are not supported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, ValidationError

from mlsysim.catalog import Catalog
from mlsysim.catalog.loader import translate_errors
from mlsysim.catalog.schemas.common import Schema
from mlsysim.errors import NotFoundError
from provenance.problems import Problem
from provenance.yamlio import Located

REFERENCE = "the reference simulator (MLSys·im 0.3.0)"
WRITE_OURS = "write an mlsysim plan instead (`mlsysim schema --type plan`)"


class ReferenceWorkload(Schema):
    name: str = Field(description="A model name of the catalog, e.g. Llama3_8B.")
    batch_size: int = Field(default=1, ge=1, le=1_000_000)
    seq_len: int | None = Field(default=None, ge=1, description="Tokens per sequence.")


class ReferenceHardware(Schema):
    name: str = Field(description="An accelerator name of the catalog, e.g. H100.")
    accelerators: int | None = Field(default=None, ge=1)
    node_count: int | None = Field(default=None, ge=1)
    accelerators_per_node: int | None = Field(default=None, ge=1)
    intra_node_bw: Any = Field(default=None, description="Not supported: link bandwidths come from cited cluster records.")
    fabric_bandwidth: Any = Field(default=None, description="Not supported: link bandwidths come from cited cluster records.")
    precision: str = "fp16"
    efficiency: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)


class ReferenceOps(Schema):
    region: str | None = Field(default=None, description="A grid of the catalog, e.g. Quebec.")
    duration_days: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class ReferenceAssert(Schema):
    metric: str
    max: float | None = Field(default=None, allow_inf_nan=False)
    min: float | None = Field(default=None, allow_inf_nan=False)


class ReferenceConstraints(Schema):
    model_config = {**Schema.model_config, "populate_by_name": True}

    asserts: list[ReferenceAssert] = Field(default_factory=list, alias="assert")


class ReferencePlan(Schema):
    """The reference simulator's plan file (its `MlsysPlanSchema`), as mlsysim reads it."""

    version: str
    name: str
    workload: ReferenceWorkload
    hardware: ReferenceHardware
    ops: ReferenceOps | None = None
    constraints: ReferenceConstraints | None = None


def is_reference_plan(data: Any) -> bool:
    """True when `data` (a parsed YAML document) is a plan in the reference's format."""
    return isinstance(data, dict) and isinstance(data.get("workload"), dict) and isinstance(data.get("hardware"), dict)


class TranslatedPlan(Located):
    """An mlsysim plan made from a reference plan: problems found in it are placed at the
    reference field each mlsysim field came from, and named by that field."""

    def __init__(self, original: Located, data: dict[str, Any], origin: dict[tuple[str, ...], tuple[Any, ...]]):
        super().__init__(original.file, data, {})
        self._original = original
        self._origin = origin

    def _map(self, loc: Sequence[str | int]) -> list[str | int]:
        path = tuple(loc)
        for end in range(len(path), 0, -1):
            found = self._origin.get(path[:end])
            if found is not None:
                return [*found, *path[end:]]
        return list(path)

    def position(self, loc: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        return self._original.position(self._map(loc), key=key)

    def problem(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        return self._original.problem(self._map(loc), message, key=key)


def translate(located: Located, catalog: Catalog, notes: list[str] | None = None) -> tuple[TranslatedPlan | None, list[Problem]]:
    """The mlsysim plan a reference plan describes, and every problem found on the way.

    `notes`, when given, receives one line per choice the mapping made that the reference
    would have made otherwise (the cluster picked, a default that differs). Returns
    (None, problems) when the file cannot be mapped at all.
    """
    notes = [] if notes is None else notes
    try:
        ref = ReferencePlan.model_validate(located.data)
    except ValidationError as exc:
        return None, sorted(set(translate_errors(exc, located, ReferencePlan)))
    problems: list[Problem] = []
    data: dict[str, Any] = {"name": ref.name}
    origin: dict[tuple[str, ...], tuple[Any, ...]] = {("name",): ("name",)}

    def put(field: str, value: Any, *where: Any) -> None:
        data[field] = value
        origin[(field,)] = tuple(where)

    wl, hw = ref.workload, ref.hardware
    if wl.name.startswith("hf://") or wl.name.lower().endswith((".yaml", ".yml")):
        problems.append(located.problem(["workload", "name"], f"{wl.name!r}: not supported: mlsysim evaluates catalog models only "
                                        "(no Hugging Face import, no model YAML); name one from `mlsysim zoo models`"))
        return None, problems
    put("model", wl.name, "workload", "name")
    put("batch_size", wl.batch_size, "workload", "batch_size")
    if wl.seq_len is not None:
        put("sequence_length", wl.seq_len, "workload", "seq_len")
    else:
        notes.append("workload.seq_len not given: the reference's schema says 2048 but its eval does not use it; "
                     "mlsysim uses its own default sequence (shown above)")
    put("precision", hw.precision.strip().lower(), "hardware", "precision")
    if hw.efficiency is not None:
        put("efficiency", hw.efficiency, "hardware", "efficiency")
    else:
        notes.append(f"hardware.efficiency not given: {REFERENCE} assumes 0.5; mlsysim uses its cited default efficiency")
    for field in ("intra_node_bw", "fabric_bandwidth"):
        if getattr(hw, field) is not None:
            problems.append(located.problem(["hardware", field], f"not supported: mlsysim takes link bandwidths from cited "
                                            f"cluster records, not from the plan; remove hardware.{field}, or {WRITE_OURS} "
                                            "naming a cluster (`mlsysim zoo clusters`)"))
    devices, count_at = _accelerators(hw, located, problems)
    if devices == 1:
        put("hardware", hw.name, "hardware", "name")
    elif devices is not None:
        cluster = _cluster_for(hw, devices, catalog, located, problems)
        if cluster is not None:
            put("cluster", cluster.id, "hardware", "name")
            put("devices", devices, *count_at)
            total = int(round(cluster.node.accelerator_count.si)) * cluster.node_count
            notes.append(f"hardware {hw.name} x {devices}: {REFERENCE} builds an uncited fleet on a default 50 GB/s fabric; "
                         f"mlsysim trains on {devices} of the {total} accelerators of the catalog cluster {cluster.label} "
                         "(its cited nodes and fabric), the smallest one of that accelerator holding them")
    if ref.ops is not None:
        if ref.ops.region is not None:
            put("grid", ref.ops.region, "ops", "region")
        if ref.ops.duration_days is not None:
            put("duration", f"{ref.ops.duration_days!r} days", "ops", "duration_days")
    if ref.constraints is not None:
        sla, sla_origin = _targets(ref.constraints.asserts, devices, located, problems, notes)
        if sla:
            data["sla"] = sla
            origin.update({("sla", k): v for k, v in sla_origin.items()})
    return TranslatedPlan(located, data, origin), problems


def _accelerators(hw: ReferenceHardware, located: Located, problems: list[Problem]) -> tuple[int | None, tuple[str, ...]]:
    """The plan's accelerator count, as the reference derives it, and the field that gave it."""
    if hw.node_count is not None and hw.accelerators_per_node is None:
        problems.append(located.problem(["hardware", "node_count"], "needs hardware.accelerators_per_node as well "
                                        "(the accelerators are node_count x accelerators_per_node)"))
        return None, ()
    if hw.node_count is not None and hw.accelerators_per_node is not None:
        total = hw.node_count * hw.accelerators_per_node
        if hw.accelerators is not None and hw.accelerators != total:
            problems.append(located.problem(["hardware", "accelerators"], f"{hw.accelerators} disagrees with node_count x "
                                            f"accelerators_per_node = {total}; make them agree or give only one"))
            return None, ()
        return total, ("hardware", "node_count")
    if hw.accelerators is not None:
        return hw.accelerators, ("hardware", "accelerators")
    return 1, ("hardware", "name")


def _cluster_for(hw: ReferenceHardware, devices: int, catalog: Catalog, located: Located, problems: list[Problem]) -> Any:
    """The smallest catalog cluster of hw's accelerator (and per-node count, when given) holding `devices`."""
    try:
        accelerator = catalog.get("hardware", hw.name)
    except NotFoundError as exc:
        problems.append(located.problem(["hardware", "name"], f"{exc}; see `mlsysim zoo`"))
        return None
    fits = []
    for cluster in catalog.records("clusters"):
        node = cluster.node
        per_node = int(round(node.accelerator_count.si))
        if node.accelerator != accelerator:
            continue
        if hw.accelerators_per_node is not None and per_node != hw.accelerators_per_node:
            continue
        if per_node * cluster.node_count >= devices:
            fits.append((per_node * cluster.node_count, cluster.id, cluster))
    if fits:
        return min(fits, key=lambda f: f[:2])[2]
    per_node = f" with {hw.accelerators_per_node} per node" if hw.accelerators_per_node is not None else ""
    problems.append(located.problem(["hardware", "name"], f"no catalog cluster of {accelerator.label}{per_node} holds {devices} "
                                    f"accelerators, and mlsysim trains only on cited clusters; use fewer accelerators, "
                                    f"or {WRITE_OURS} naming a cluster (`mlsysim zoo clusters`)"))
    return None


_SLA_OF = {"performance.latency": ("latency", "step_time"), "performance.step_latency": (None, "step_time")}


def _targets(asserts: list[ReferenceAssert], devices: int | None, located: Located, problems: list[Problem],
             notes: list[str]) -> tuple[dict[str, str], dict[str, tuple[Any, ...]]]:
    """`constraints.assert` as mlsysim SLA targets (milliseconds, as the reference's metrics)."""
    sla: dict[str, str] = {}
    origin: dict[str, tuple[Any, ...]] = {}
    limits: dict[str, float] = {}
    cluster = devices is not None and devices > 1
    for i, item in enumerate(asserts):
        where = ["constraints", "assert", i]
        fields = _SLA_OF.get(item.metric)
        target = None if fields is None else fields[1 if cluster else 0]
        if target is None:
            supported = "performance.latency or performance.step_latency" if cluster else "performance.latency"
            problems.append(located.problem([*where, "metric"], f"{item.metric!r}: not supported as a constraint on "
                                            f"{'a cluster' if cluster else 'one accelerator'}; mlsysim checks a max on {supported} "
                                            "(milliseconds); remove it or use one of those"))
            continue
        if item.min is not None:
            problems.append(located.problem([*where, "min"], "not supported: mlsysim checks upper bounds on latency; "
                                            "remove min, or give max"))
        if item.max is None:
            if item.min is None:
                problems.append(located.problem([*where, "metric"], "no bound; give max (milliseconds)"))
            continue
        if item.max <= 0:
            problems.append(located.problem([*where, "max"], f"must be a positive number of milliseconds, got {item.max:g}"))
            continue
        if target in limits and limits[target] <= item.max:
            continue  # the tighter bound of two on one metric decides
        limits[target] = item.max
        sla[target] = f"{item.max!r} ms"
        origin[target] = (*where, "max")
        if cluster and item.metric == "performance.latency":
            notes.append(f"constraints.assert[{i}]: performance.latency on a cluster is checked against the training "
                         f"step time (the reference's performance.step_latency)")
    return sla, origin
