"""Nodes, fabrics, clusters."""

from __future__ import annotations

from pydantic import Field

from mlsysim.catalog.schemas.common import RecordBase, cited, ref

# A link bandwidth states its direction (per direction, or both directions added together).
LinkBandwidth = cited("bandwidth", qualifiers=("direction",))


class Node(RecordBase):
    accelerator: ref("hardware")
    accelerator_count: cited("dimensionless", integer=True)
    intra_node_bandwidth: LinkBandwidth
    inter_node_bandwidth: LinkBandwidth | None = None
    power: cited("power") | None = None
    unit_cost: cited("currency") | None = None
    cloud_price: cited("price_per_hour") | None = None  # on-demand rental per node-hour (a whole cloud VM)


class Fabric(RecordBase):
    technology: str
    link_bandwidth: LinkBandwidth
    latency: cited("time") | None = None
    oversubscription: cited("dimensionless") | None = None
    port_cost: cited("currency") | None = None


class Cluster(RecordBase):
    """An archetype: node_count is the archetype's definition, not a measurement."""

    node: ref("nodes")
    node_count: int = Field(ge=1, description="Nodes in the archetype (a positive whole number).")
    fabric: ref("fabrics")
    datacenter: ref("datacenters") | None = None
