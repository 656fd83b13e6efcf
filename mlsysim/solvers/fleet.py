"""A cluster (or a slice of it) read once into plain numbers for the fleet solvers.

The distributed-training, reliability, sustainability and economics solvers all
need the same facts about a fleet: how many accelerators, how many per node,
how fast they talk inside a node and across the fabric. `Fleet.from_cluster`
reads them from the catalog once, noting each cited value in a Lineage, so the
solvers themselves compute on floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import Catalog
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.catalog.records import Record, Value
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT, check_precision

# Bytes per element of each numeric format (a definition of the format, not a measurement).
def bytes_per_element(precision: str) -> float:
    """Bytes one element occupies in `precision` (a definition; see roofline.BYTES_PER_ELEMENT)."""
    return BYTES_PER_ELEMENT[check_precision(precision)]


def peak_compute(hardware: Record, precision: str, lineage: Lineage) -> float:
    """Dense peak [FLOP/s] of `hardware` at `precision`; a clear error when the catalog lacks it."""
    bytes_per_element(precision)
    if not hardware.has(f"compute.{precision}"):
        known = ", ".join(hardware.compute.keys()) if hardware.has("compute") else "none"
        raise MlsysimError(
            f"{hardware.label} has no dense {precision} peak in the catalog ({hardware.file}); "
            f"precisions it has: {known}"
        )
    return lineage.use(hardware.field(f"compute.{precision}"))


def unidirectional(value: Value, lineage: Lineage) -> float:
    """A link bandwidth [B/s] per direction: a figure stated as bidirectional (duplex
    total, e.g. NVLink's 900 GB/s) is halved, as its `direction` qualifier says."""
    si = lineage.use(value)
    return si / 2 if value.qualifiers.get("direction") == "bidirectional" else si


def resolve_fraction(value: Any, lineage: Lineage, what: str) -> float:
    """A fraction given as a float (the user's own figure), a cited Value, or an
    assumption record (whose `quantity` is cited). Returns it as a float in (0, 1]."""
    if type(value) is float and 0 < value <= 1:  # the common case, checked first
        return value
    if isinstance(value, Record):
        if value.kind != "assumptions":
            raise MlsysimError(f"{what}: {value.ref} is not an assumption record; pass a number or an assumption")
        value = value.quantity
    if isinstance(value, Value):
        frac = lineage.use(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        frac = float(value)
    else:
        raise MlsysimError(f"{what} must be a number in (0, 1] or a cited assumption, got {value!r}")
    if not 0 < frac <= 1:
        raise MlsysimError(f"{what} must be in (0, 1], got {frac:g}; write e.g. 0.45 for 45%")
    return frac


@dataclass(frozen=True)
class Fleet:
    """The accelerators a job uses, as numbers.

    devices                 accelerators in the job
    per_node                accelerators per node
    nodes                   nodes the job spans (ceil(devices / per_node))
    intra_bw [B/s]          per-accelerator bandwidth inside a node, per direction
    node_inter_bw [B/s]     per-node injection bandwidth into the fabric, per direction,
                            after oversubscription
    inter_latency [s]       fabric one-way latency (alpha of the alpha-beta model)
    """

    cluster: Record | None
    node: Record | None
    hardware: Record
    devices: int
    per_node: int
    nodes: int
    intra_bw: float
    node_inter_bw: float
    inter_latency: float
    lineage: Lineage = field(compare=False, repr=False)

    @property
    def inter_bw_per_device(self) -> float:
        """Each accelerator's share of its node's fabric bandwidth [B/s], when all of them talk at once."""
        return self.node_inter_bw / self.per_node

    @classmethod
    def from_cluster(cls, cluster: Record, devices: int | None = None) -> Fleet:
        key = (id(cluster._data), devices)
        hit = _FLEETS.get(key)
        if hit is None:
            hit = cls._read(cluster, devices)
            if len(_FLEETS) > 256:
                _FLEETS.clear()
            _FLEETS[key] = hit  # the Fleet holds the cluster record, so its id is not reused
        return hit

    @classmethod
    def _read(cls, cluster: Record, devices: int | None) -> Fleet:
        """Read a cluster record. `devices` (default: all of them) is how many
        accelerators the job uses; it may not exceed the cluster's.

        The per-node fabric bandwidth is the node's NIC bandwidth, capped by one fabric
        port (`link_bandwidth`) per accelerator (the rail-optimised layout of DGX-class
        reference designs), divided by the fabric's oversubscription. A node that states
        no NIC bandwidth is given one port.
        """
        if cluster.kind != "clusters":
            raise MlsysimError(f"{cluster.ref} is not a cluster; pass e.g. Systems.Clusters.Research_256")
        lineage = Lineage()
        node = cluster.node
        fabric = cluster.fabric
        hardware = node.accelerator
        per_node = int(round(lineage.use(node.accelerator_count)))
        total = per_node * cluster.node_count
        if devices is None:
            devices = total
        devices = _positive_int(devices, "devices")
        if devices > total:
            raise MlsysimError(
                f"{cluster.label} has {total} accelerators ({cluster.node_count} nodes x {per_node}); "
                f"the job asks for {devices}. Use a larger cluster or fewer devices"
            )
        intra = unidirectional(node.intra_node_bandwidth, lineage)
        link = unidirectional(fabric.link_bandwidth, lineage)
        if node.has("inter_node_bandwidth"):
            node_bw = min(unidirectional(node.inter_node_bandwidth, lineage), per_node * link)
        else:
            node_bw = link
        if fabric.has("oversubscription"):
            node_bw /= lineage.use(fabric.oversubscription)
        latency = lineage.use(fabric.latency) if fabric.has("latency") else 0.0
        nodes = -(-devices // per_node)
        return cls(cluster, node, hardware, devices, per_node, nodes, intra, node_bw, latency, lineage)


_FLEETS: dict[tuple[Any, ...], Fleet] = {}
_BY_IDENTITY = frozenset((Fleet, Catalog))


def record_of(value: Any, kind: str, catalog: Any) -> Record | None:
    """A record of `kind` from a Record or a name; an unknown name is an error listing the closest."""
    if value is None or isinstance(value, Record):
        if isinstance(value, Record) and value.kind != kind:
            raise MlsysimError(f"{value.ref} is not a {kind} record")
        return value
    if isinstance(value, str):
        key = (id(catalog), kind, value)
        hit = _NAMED.get(key)
        if hit is None:
            hit = _NAMED[key] = (catalog, catalog.get(kind, value))  # the catalog is kept so its id is not reused
        return hit[1]
    raise MlsysimError(f"expected a {kind} record or its name, got {value!r}")


_NAMED: dict[tuple[int, str, str], tuple[Any, Record]] = {}


def field_of(record: Record, path: str) -> Any:
    """`record.field(path)` (a cited Value or a referenced Record), or None when the record
    has no such field; memoised per record, because reading a field builds a new object
    each time and the fleet solvers read the same few fields on every call."""
    key = (id(record._data), path)
    hit = _FIELDS.get(key)
    if hit is None:
        hit = _FIELDS[key] = (record, record.field(path) if record.has(path) else None)  # record kept alive: ids stay unique
    return hit[1]


_FIELDS: dict[tuple[int, str], tuple[Record, Any]] = {}


def assumption(catalog: Any, ident: str) -> Value:
    """The cited quantity of assumption `ident`, looked up once per catalog."""
    key = (id(catalog), ident)
    hit = _ASSUMPTIONS.get(key)
    if hit is None:
        hit = _ASSUMPTIONS[key] = catalog.get("assumptions", ident).quantity
    return hit


_ASSUMPTIONS: dict[tuple[int, str], Value] = {}


_BY_VALUE = frozenset((int, float, bool, type(None), str))


def inputs_key(*values: Any) -> tuple[Any, ...] | None:
    """A cache key for a solver's inputs, or None when one cannot be keyed safely.

    Records, cited Values, Fleets and catalogs are keyed by identity (the caller keeps
    them alive next to the cached entry, so an id is never reused while it is cached);
    strings and None by value; numbers by type and value (so True is not 1); tuples of
    those by value.
    """
    key: list[Any] = []
    append = key.append
    for value in values:
        kind = type(value)
        if kind in _BY_VALUE:
            append(value if kind is str or value is None else (kind, value))
        elif kind is Record:
            append(id(value._data))
        elif kind is Value:
            append(id(value._claim))
        elif kind in _BY_IDENTITY:
            append(id(value))
        elif kind is tuple and all(type(v) in _BY_VALUE for v in value):
            append((kind, tuple((type(v), v) for v in value)))
        else:
            return None
    return tuple(key)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise MlsysimError(f"{what} must be a positive whole number, got {value!r}")
    return int(value)
