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


# Clusters whose name does not state their size.
UNNAMED_SIZES = {"DgxH100SuperPodSU": 256}  # one DGX SuperPOD scalable unit: 32 DGX H100 x 8


def _named_size(label: str) -> float:
    """`Frontier_8K` -> 8000, `Research_256` -> 256, `Meta_GenAI_H100_24K_RoCE` -> 24000
    (the last `_<digits>[K]` token; `H100` is a part name, not a size)."""
    if label in UNNAMED_SIZES:
        return UNNAMED_SIZES[label]
    sizes = re.findall(r"_(\d+)(K?)(?=_|$)", label)
    assert sizes, f"cluster {label!r} does not state its size"
    number, kilo = sizes[-1]
    return float(number) * (1000 if kilo else 1)


@pytest.mark.parametrize("cluster", CLUSTERS, ids=lambda c: c.id)
def test_cluster_holds_the_accelerators_its_name_says(cluster):
    """`K` is a thousand while GPU counts are powers of two (8K = 8,192 GPUs, 24K =
    24,576), hence 2.5%; a wrong node_count or a 4-GPU node would be off by 2x or more."""
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


# Nodes whose sources give fewer fabric links than GPUs.
HALF_A_LINK_PER_GPU = {"jeanzay_a100_80gb_opa"}


@pytest.mark.parametrize("node", [n for n in NODES if n.has("inter_node_bandwidth")], ids=lambda n: n.id)
def test_node_network_is_one_nic_per_accelerator(node):
    """DGX systems give each GPU its own NIC: 8 x 200 Gbit/s HDR (A100), 8 x 400 Gbit/s
    NDR (H100, B200): 100-800 Gbit/s per accelerator. Google's TPU v5p page gives its
    data-center network per chip: 50 Gbit/s. Jean Zay's A100 nodes have 4 Omni-Path links
    of 100 Gbit/s for 8 GPUs (BLOOM's training README: "4 OmniPath links"): 50 Gbit/s. A
    GB/s figure filed as Gbit/s (or the reverse) lands 8x outside."""
    per_accelerator = node.inter_node_bandwidth.to("Gbit/s").magnitude / node.accelerator_count.si
    low, high = (25, 100) if node.accelerator.get("vendor") == "Google" else (100, 800)
    if node.id in HALF_A_LINK_PER_GPU:
        low, high = 25, 100
    assert low <= per_accelerator <= high, f"{node.id}: {per_accelerator:g} Gbit/s per accelerator"


def test_clusters_use_fabrics_no_faster_than_their_nics():
    """A cluster's fabric link cannot outrun the node's NIC (Research_256 puts DGX H100
    nodes on 100 GbE, slower than their 400G NICs, which is allowed)."""
    for cluster in CLUSTERS:
        node = cluster.node
        if node.has("inter_node_bandwidth"):
            # Fewer links than GPUs: one link may carry more than a GPU's share of the node's.
            links = node.accelerator_count.si / 2 if node.id in HALF_A_LINK_PER_GPU else node.accelerator_count.si
            nic = node.inter_node_bandwidth.si / links
            assert cluster.fabric.link_bandwidth.si <= nic * 1.0001, cluster.id


REFERENCE_SYSTEMS = {
    # The field reference's names (PyPI mlsysim 0.3.0, systems/registry.py) that must resolve.
    "fabrics": ["Ethernet_10G", "Ethernet_100G", "Ethernet_400G", "Ethernet_800G", "Ethernet_1P6T", "RoCE_100G",
                "RoCE_400G", "InfiniBand_EDR", "InfiniBand_HDR", "InfiniBand_NDR", "InfiniBand_XDR",
                "InfiniBand_NDR_Oversub2to1", "InfiniBand_NDR_Oversub4to1"],
    "nodes": ["DGX_H100", "DGX_A100", "DGX_B200", "Workstation_M3Max", "Kempner_H100_4GPU", "GrandTeton_H100",
              "Server_8x_MI300X"],
    "clusters": ["Research_256", "Lab_64_H100", "Training_512_H100", "Production_2K", "Training_1K",
                 "Training_1K_A100", "Frontier_8K", "Training_10K", "Reference_25K_H100", "Kempner_H100_384",
                 "Mega_100K", "Lab_64_A100", "DgxH100SuperPodSU", "Meta_RSC_A100_16K", "Meta_GenAI_H100_24K_RoCE",
                 "Meta_GenAI_H100_24K_IB", "Training_1K_B200", "Meta_Llama3_16K_H100"],
    "datacenters": ["Quebec_Hydro", "Norway_Hydro", "US_Hyperscale", "EU_Average", "France_Nuclear",
                    "Iowa_Reference", "Poland_Coal"],
}


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k, names in REFERENCE_SYSTEMS.items() for n in names])
def test_the_field_reference_names_resolve(kind, name):
    record = _catalog.get(kind, name)
    assert record.kind == kind
    for value in record.values():
        assert value.source_id in _catalog.sources, value.path


def test_oversubscribed_archetypes_divide_what_the_plain_fabric_gives():
    plain = _catalog.get("fabrics", "InfiniBand_NDR")
    for name, ratio in (("InfiniBand_NDR_Oversub2to1", 2), ("InfiniBand_NDR_Oversub4to1", 4)):
        fabric = _catalog.get("fabrics", name)
        assert fabric.link_bandwidth.si == plain.link_bandwidth.si
        assert fabric.oversubscription.si == ratio


def test_meta_24k_clusters_hold_24576_gpus_on_400g_per_gpu():
    """Llama 3 paper (arXiv 2407.21783, Sec. 3.3.1): eight pods of 3,072 GPUs, 400 Gbps
    interconnects between GPUs on both the RoCE and the InfiniBand cluster."""
    for name in ("Meta_GenAI_H100_24K_RoCE", "Meta_GenAI_H100_24K_IB"):
        cluster = _catalog.get("clusters", name)
        assert cluster.node_count * cluster.node.accelerator_count.si == 8 * 3072
        assert cluster.fabric.link_bandwidth.to("Gbit/s").magnitude == pytest.approx(400)
