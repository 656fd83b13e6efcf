"""Readers for the fleet solvers: a cluster (or a slice of it), its site, and the cited
training constants, lowered once per catalog into plain numbers.

The distributed-training, reliability, sustainability and economics solvers all need
the same facts about a fleet: how many accelerators, how many per node, how fast they
talk inside a node and across the fabric. `Fleet.from_cluster` reads them once per
(catalog, cluster, devices), noting each cited value in a Lineage, and keeps them in the
cluster's catalog (`Catalog.derived`), so the solvers compute on floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog import Catalog
from mlsysim.catalog.grids import CARBON_FIELDS, carbon_intensity_path
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT, check_precision
from mlsysim.solvers.terms import cited_assumption

# Assumption records of literature constants the training solvers read (catalog/assumptions/).
ADAM_STATE_BYTES = "adam_optimizer_state_bytes_mixed_precision"
BACKWARD_FORWARD = "backward_forward_flops_ratio"


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


def optimizer_state_bytes(catalog: Catalog, precision: str, lineage: Lineage) -> float:
    """Optimizer-state bytes per parameter [B] of Adam when training at `precision`.

    Mixed precision (16-bit or narrower weights) keeps K bytes per parameter: an fp32 copy of
    the weights plus the fp32 momentum and variance (ZeRO's K, the cited assumption
    adam_optimizer_state_bytes_mixed_precision). Training in fp32 (or wider) keeps no
    separate fp32 copy, so it needs K less one fp32 element.

    References
    ----------
    Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
    Models", SC'20, arXiv 1910.02054, Sec. 3.1.
    """
    k = lineage.use(cited_assumption(catalog, ADAM_STATE_BYTES, "optimizer-state memory", "training solver"))
    master_copy = BYTES_PER_ELEMENT["fp32"]
    return k if bytes_per_element(precision) < master_copy else k - master_copy


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
    torus                   the node's link is a torus (TPU ICI, its `topology` qualifier): a
                            group along fewer of its axes than the node reaches less than intra_bw
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
    torus: bool = False

    @property
    def catalog(self) -> Catalog:
        """The catalog the cluster (and so every term here) came from."""
        return self.hardware._catalog

    @property
    def memo_key(self) -> tuple[Any, ...]:
        """What identifies this fleet within its catalog (for `inputs.memo_key`)."""
        return ("fleet", self.cluster.id if self.cluster is not None else None, self.devices)

    @property
    def inter_bw_per_device(self) -> float:
        """Each accelerator's share of its node's fabric bandwidth [B/s], when all of them talk at once."""
        return self.node_inter_bw / self.per_node

    @classmethod
    def from_cluster(cls, cluster: Record, devices: int | None = None) -> Fleet:
        """A cluster record read into a Fleet, once per (cluster, devices) in the cluster's catalog."""
        if not isinstance(cluster, Record) or cluster.kind != "clusters":
            where = cluster.ref if isinstance(cluster, Record) else repr(cluster)
            raise MlsysimError(f"{where} is not a cluster; pass e.g. Systems.Clusters.Research_256")
        memo = cluster._catalog.derived("fleets")
        key = (cluster._data["id"], inputs.memo_key(devices))
        fleet = memo.get(key)
        if fleet is None:
            fleet = memo[key] = cls._read(cluster, devices)
        return fleet

    @classmethod
    def _read(cls, cluster: Record, devices: int | None) -> Fleet:
        """Read a cluster record. `devices` (default: all of them) is how many
        accelerators the job uses; it may not exceed the cluster's.

        The per-node fabric bandwidth is the node's NIC bandwidth, capped by one fabric
        port (`link_bandwidth`) per accelerator (the rail-optimised layout of DGX-class
        reference designs), divided by the fabric's oversubscription. A node that states
        no NIC bandwidth is given one port. Every link bandwidth is taken per direction
        (`inputs.per_direction`), as its `direction` qualifier says.
        """
        lineage = Lineage()
        node = cluster.node
        fabric = cluster.fabric
        hardware = node.accelerator
        per_node = int(round(lineage.use(node.accelerator_count)))
        total = per_node * cluster.node_count
        devices = total if devices is None else inputs.positive_int(devices, "devices")
        if devices > total:
            raise MlsysimError(
                f"{cluster.label} has {total} accelerators ({cluster.node_count} nodes x {per_node}); "
                f"the job asks for {devices}. Use a larger cluster or fewer devices"
            )
        intra = inputs.per_direction(node.intra_node_bandwidth, lineage)
        link = inputs.per_direction(fabric.link_bandwidth, lineage)
        if node.has("inter_node_bandwidth"):
            node_bw = min(inputs.per_direction(node.inter_node_bandwidth, lineage), per_node * link)
        else:
            node_bw = link
        if fabric.has("oversubscription"):
            node_bw /= lineage.use(fabric.oversubscription)
        latency = lineage.use(fabric.latency) if fabric.has("latency") else 0.0
        nodes = -(-devices // per_node)
        torus = "torus" in str(node.intra_node_bandwidth.qualifiers.get("topology", ""))
        return cls(cluster, node, hardware, devices, per_node, nodes, intra, node_bw, latency, lineage, torus)


def fleet_of(fleet: Record | Fleet, devices: int | None = None) -> Fleet:
    """A Fleet from itself (devices must then be None or its own count) or a cluster record."""
    if isinstance(fleet, Fleet):
        if devices is not None and devices != fleet.devices:
            raise MlsysimError(f"devices={devices!r} but the Fleet given has {fleet.devices}; pass the cluster instead")
        return fleet
    return Fleet.from_cluster(fleet, devices)


@dataclass(frozen=True)
class Site:
    """Where and for how long a job runs: a grid (carbon intensity, electricity price,
    water), a datacenter (PUE, WUE) and, when known, the wall-clock duration [s].

    Build it with `Site.of(grid=..., datacenter=..., cluster=..., catalog=...)`, which looks
    names up in the catalog and fills what is not given from the cluster's datacenter and
    that datacenter's grid.
    """

    grid: Record | None = None
    datacenter: Record | None = None
    duration: float | None = None
    carbon_basis: str = "lifecycle"  # which of the grid's intensities: "lifecycle" or "direct"

    @property
    def memo_key(self) -> tuple[Any, ...]:
        return ("site", inputs.memo_key(self.grid, self.datacenter, self.duration), self.carbon_basis)

    @classmethod
    def of(cls, *, grid: Any = None, datacenter: Any = None, cluster: Record | None = None,
           duration: float | None = None, carbon_basis: str = "lifecycle", catalog: Catalog) -> Site:
        """The site of a job: given names or records (looked up in `catalog`), else the
        cluster's datacenter and that datacenter's grid; either may stay None."""
        grid_rec = inputs.record(grid, "grids", catalog, "grid")
        dc = inputs.record(datacenter, "datacenters", catalog, "datacenter")
        if dc is None and cluster is not None and cluster.has("datacenter"):
            dc = cluster.datacenter
        if grid_rec is None and dc is not None and dc.has("grid"):
            grid_rec = dc.grid
        if duration is not None:
            duration = inputs.finite_positive(duration, "duration")
        if carbon_basis not in CARBON_FIELDS:
            raise MlsysimError(f"carbon_basis must be one of {', '.join(CARBON_FIELDS)}, got {carbon_basis!r}")
        return cls(grid_rec, dc, duration, carbon_basis)


def grid_intensity(grid: Record, basis: str = "lifecycle") -> tuple[Any, str, str]:
    """A grid's cited carbon intensity on `basis` (lifecycle or direct: never the other
    one in its place), that basis, and the label results show, e.g. "Quebec (CA-QC, 2024)"."""
    path = carbon_intensity_path(grid, basis)
    if path is None:
        has = [b for b in CARBON_FIELDS if carbon_intensity_path(grid, b) is not None]
        raise MlsysimError(f"{grid.label} states no {basis} carbon intensity; it has {' and '.join(has) or 'none'}: "
                           f"pass carbon_basis='{has[0]}'" if has else f"{grid.label} states no carbon intensity")
    intensity = grid.field(path)
    year = intensity.valid_time
    label = f"{grid.label} ({grid.region}" + (f", {year})" if year else ")")
    return intensity, intensity.qualifiers.get("basis", "not stated by the source"), label
