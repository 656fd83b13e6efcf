"""The real catalog's nodes, fabrics and clusters agree with the parts they are
built from: a cluster holds as many accelerators as its name says, a node draws
at least what its accelerators do, and its NVLink figure is its accelerator's."""

from __future__ import annotations

import re

import pytest

from mlsysim.catalog import load_catalog
from tests.conftest import REAL_CATALOG

_catalog = load_catalog(REAL_CATALOG)
NODES = _catalog.records("nodes")
CLUSTERS = _catalog.records("clusters")


def _named_size(label: str) -> float:
    """`Frontier_8K` -> 8000, `Research_256` -> 256."""
    match = re.search(r"_(\d+)(K?)$", label)
    assert match, f"cluster {label!r} does not end in its size"
    return float(match.group(1)) * (1000 if match.group(2) else 1)


@pytest.mark.parametrize("cluster", CLUSTERS, ids=lambda c: c.id)
def test_cluster_holds_the_accelerators_its_name_says(cluster):
    """`K` is a thousand while GPU counts are powers of two (8K = 8,192 GPUs),
    hence 2.5%; a wrong node_count or a 4-GPU node would be off by 2x or more."""
    accelerators = cluster.node_count * cluster.node.accelerator_count.si
    assert accelerators == pytest.approx(_named_size(cluster.label), rel=0.025)


@pytest.mark.parametrize("node", [n for n in NODES if n.has("power") and n.accelerator.has("tdp")], ids=lambda n: n.id)
def test_node_power_covers_its_accelerators(node):
    """A node's maximum power includes CPUs, NICs, fans and conversion losses on top
    of its accelerators' TDP: DGX H100 is 10.2 kW for 8 x 700 W of GPUs."""
    gpus = node.accelerator_count.si * node.accelerator.tdp.si
    assert gpus < node.power.si < 3 * gpus, f"{node.id}: {node.power.si / 1e3:.1f} kW vs {gpus / 1e3:.1f} kW of accelerators"


@pytest.mark.parametrize("node", [n for n in NODES if n.accelerator.has("interconnect")], ids=lambda n: n.id)
def test_node_intra_bandwidth_is_its_accelerators_link(node):
    intra, link = node.intra_node_bandwidth, node.accelerator.interconnect.bandwidth
    assert intra.qualifiers.get("direction") == link.qualifiers.get("direction")
    assert intra.si == pytest.approx(link.si, rel=0.01), f"{intra.path} vs {link.path}"


@pytest.mark.parametrize("node", [n for n in NODES if n.has("inter_node_bandwidth")], ids=lambda n: n.id)
def test_node_network_is_one_nic_per_accelerator(node):
    """DGX systems give each GPU its own NIC: 8 x 200 Gbit/s HDR (A100), 8 x 400 Gbit/s
    NDR (H100, B200). 100-800 Gbit/s per accelerator; a GB/s figure filed as
    Gbit/s (or the reverse) lands 8x outside."""
    per_accelerator = node.inter_node_bandwidth.to("Gbit/s").magnitude / node.accelerator_count.si
    assert 100 <= per_accelerator <= 800, f"{node.id}: {per_accelerator:g} Gbit/s per accelerator"


def test_clusters_use_fabrics_no_faster_than_their_nics():
    """A cluster's fabric link cannot outrun the node's NIC (Research_256 puts DGX H100
    nodes on 100 GbE, slower than their 400G NICs, which is allowed)."""
    for cluster in CLUSTERS:
        node = cluster.node
        if node.has("inter_node_bandwidth"):
            nic = node.inter_node_bandwidth.si / node.accelerator_count.si
            assert cluster.fabric.link_bandwidth.si <= nic * 1.0001, cluster.id
