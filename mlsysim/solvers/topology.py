"""Network topologies: bisection bandwidth, hop counts and collective bandwidth per GPU.

Conventions. n endpoints (GPUs/chips); b a link's bandwidth in one direction [B/s]; a
bisection bandwidth is one direction's bandwidth across the worst cut of the endpoints into
equal halves; hops count links on a minimal path between two distinct endpoints, averaged
over all ordered pairs. Collective bandwidths are per endpoint:

  all-reduce  bus bandwidth B_ar: an all-reduce of S bytes takes 2 (n-1)/n x S / B_ar
  all-to-all  B_a2a: sending S bytes (S/n to each peer) takes (n-1)/n x S / B_a2a, and it is
              limited by the endpoint's injection bandwidth and by the bisection, across
              which n S / 4 bytes must flow: B_a2a = min(injection, 4 (n-1) B_bis / n^2)

  ring        injection 2b; bisection 2b; diameter floor(n/2); all-reduce on the two
              directed rings, B_ar = 2b
  torus       k_1 x ... x k_D with wrap-around; diameter sum floor(k_i/2); bisection cuts the
              longest dimension: 2 (n / k_max) b (one link per ring when k_max = 2);
              all-reduce as per-dimension rings one dimension after another (TPU), B_ar = 2b
  fat tree    folded Clos of radix-k switches, hosts at injection b, oversubscription r at
              the leaves: bisection n b / (2 r); two hosts whose lowest common switch is at
              level l are 2l links apart; B_ar = b (a ring embeds in the tree)
  rail-opt.   nodes of g GPUs on NVLink (bandwidth b_in), GPU i of every node on rail switch i
              (NIC bandwidth b): bisection n b / 2; same node 1 hop (NVLink), same rail 2,
              other rail 3 (NVLink then rail); B_ar = min(b_in, b)
  dragonfly   g groups of a routers with p hosts each and h global links per router, groups
              all-to-all by global links: bisection = global links across the halves x b;
              hops 2 (same router), 3 (same group), 3 + 2(1 - min(1, m/a)) between groups
              with m = a h / (g - 1) global links per pair of groups

References
----------
Leiserson 1985, "Fat-trees: Universal networks for hardware-efficient supercomputing",
IEEE Trans. Computers C-34(10).
Dally & Towles 2004, "Principles and Practices of Interconnection Networks", Morgan
Kaufmann, Ch. 3 (bisection, diameter and average distance of tori and rings) and Ch. 5.
Kim, Dally, Scott & Abts 2008, "Technology-Driven, Highly-Scalable Dragonfly Topology",
ISCA '08.
Jouppi et al. 2023, "TPU v4: An Optically Reconfigurable Supercomputer for Machine
Learning with Hardware Support for Embeddings", ISCA '23, arXiv 2304.01433 (3D torus of
4x4x4 blocks; collectives along torus dimensions).
Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of
workstations", J. Parallel Distrib. Comput. 69(2) (ring all-reduce moves 2 (n-1)/n x S).
NVIDIA 2023, "NCCL tests: performance" (bus bandwidth convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.results import result_dict
from mlsysim.solvers.checks import cited, positive, whole

TOPOLOGIES = ("ring", "torus", "fat_tree", "rail_optimized", "dragonfly")


class TopologyMetrics(NamedTuple):
    """What one topology offers each endpoint (SI floats)."""

    endpoints: int
    diameter: float  # [links]
    average_hops: float  # [links] over ordered pairs of distinct endpoints
    bisection_bandwidth: float  # [B/s] one direction
    injection_bandwidth: float  # [B/s] per endpoint, all its links, one direction
    allreduce_bandwidth: float  # [B/s] bus bandwidth per endpoint
    alltoall_bandwidth: float  # [B/s] per endpoint


def alltoall_bandwidth(endpoints: int, injection: float, bisection: float) -> float:
    """Per-endpoint all-to-all bandwidth: min(injection, 4 (n-1) B_bis / n^2).

    Half of every endpoint's data crosses the bisection: n S / 4 bytes each way for S bytes
    per endpoint, against (n-1)/n x S leaving each endpoint.

    Parameters
    ----------
    endpoints : int
        n [count], >= 2.
    injection : float
        Per-endpoint injection bandwidth [B/s].
    bisection : float
        Bisection bandwidth, one direction [B/s].

    Returns
    -------
    float
        [B/s] per endpoint.

    References
    ----------
    Dally & Towles 2004, Sec. 3.3 (bisection bound on uniform traffic).
    """
    n = int(whole("endpoints", endpoints, 2))
    inj = float(positive("injection", injection, "B/s"))
    bis = float(positive("bisection", bisection, "B/s"))
    return min(inj, 4 * (n - 1) * bis / n**2)


def _ring_mean_distance(k: int) -> float:
    """Mean of min(d, k - d) over all k positions d (0 included) of a ring of k."""
    return k / 4 if k % 2 == 0 else (k * k - 1) / (4 * k)


def ring(endpoints: int, link_bandwidth: float) -> TopologyMetrics:
    """A bidirectional ring of n endpoints.

    Parameters
    ----------
    endpoints : int
        n [count], >= 2.
    link_bandwidth : float
        b per link per direction [B/s].

    Returns
    -------
    TopologyMetrics

    References
    ----------
    Dally & Towles 2004, Ch. 3 (the ring is the 1-D torus); Patarasuk & Yuan 2009.
    """
    return torus((endpoints,), link_bandwidth)


def torus(dims: tuple[int, ...], link_bandwidth: float) -> TopologyMetrics:
    """A k_1 x ... x k_D torus (wrap-around in every dimension).

    Diameter sum floor(k_i / 2); mean distance sum_i mean_ring(k_i) x n / (n - 1) with
    mean_ring(k) = k/4 (even k) or (k^2 - 1)/(4k) (odd k); bisection across the longest
    dimension 2 (n / k_max) b (wrap-around doubles the cut; k_max = 2 has one link per ring).
    All-reduce as per-dimension bidirectional rings, one dimension at a time: B_ar = 2b.

    Parameters
    ----------
    dims : tuple of int
        Extent of each dimension [count], each >= 1, product >= 2.
    link_bandwidth : float
        b per link per direction [B/s].

    Returns
    -------
    TopologyMetrics

    References
    ----------
    Dally & Towles 2004, Ch. 3; Jouppi et al. 2023 (TPU v4 3D torus).
    """
    if not dims:
        raise MlsysimError("dims must name at least one dimension, e.g. (4, 4, 4)")
    ks = [int(whole(f"dims[{i}]", k)) for i, k in enumerate(dims)]
    b = float(positive("link_bandwidth", link_bandwidth, "B/s"))
    n = math.prod(ks)
    if n < 2:
        raise MlsysimError(f"a torus needs at least 2 endpoints, got dims {tuple(dims)!r}")
    links = sum(2 if k > 2 else (1 if k == 2 else 0) for k in ks)
    kmax = max(ks)
    bisection = (2 if kmax > 2 else 1) * (n // kmax) * b
    diameter = float(sum(k // 2 for k in ks))
    average = sum(_ring_mean_distance(k) for k in ks) * n / (n - 1)
    injection = links * b
    allreduce = 2 * b if kmax > 2 else b
    return TopologyMetrics(n, diameter, average, bisection, injection, allreduce,
                           alltoall_bandwidth(n, injection, bisection))


def fat_tree(endpoints: int, radix: int, injection_bandwidth: float, oversubscription: float = 1.0) -> TopologyMetrics:
    """A folded-Clos fat tree of radix-k switches (k/2 ports down, k/2 up below the top).

    Levels L: the fewest with n <= 2 (k/2)^L (one switch when n <= k). Hosts whose lowest
    common switch is at level l are 2l links apart; P(lowest common level <= l) =
    ((k/2)^l - 1) / (n - 1) below the top. Bisection n b / (2 r) for oversubscription r
    (downlink : uplink bandwidth at the leaves). A ring embeds with one uplink crossing per
    leaf, so all-reduce runs at the injection bandwidth: B_ar = b.

    Parameters
    ----------
    endpoints : int
        Hosts n [count], >= 2.
    radix : int
        Switch ports k [count], even, >= 4.
    injection_bandwidth : float
        b per host per direction [B/s].
    oversubscription : float
        r >= 1 (1: full bisection).

    Returns
    -------
    TopologyMetrics

    References
    ----------
    Leiserson 1985; Dally & Towles 2004, Sec. 9.
    """
    n = int(whole("endpoints", endpoints, 2))
    k = int(whole("radix", radix, 4))
    if k % 2:
        raise MlsysimError(f"radix must be even (k/2 ports down, k/2 up), got {radix!r}")
    b = float(positive("injection_bandwidth", injection_bandwidth, "B/s"))
    r = float(positive("oversubscription", oversubscription))
    if r < 1:
        raise MlsysimError(f"oversubscription must be >= 1 (1 = full bisection), got {oversubscription!r}")
    half = k // 2
    if n <= k:
        levels, average = 1, 2.0
    else:
        levels = 1
        while n > 2 * half**levels:
            levels += 1
        below = 0.0  # P(lowest common switch at a level < l)
        average = 0.0
        for level in range(1, levels):
            upto = (half**level - 1) / (n - 1)
            average += 2 * level * (upto - below)
            below = upto
        average += 2 * levels * (1 - below)
    bisection = n * b / (2 * r)
    return TopologyMetrics(n, float(2 * levels), average, bisection, b, b, alltoall_bandwidth(n, b, bisection))


def rail_optimized(nodes: int, gpus_per_node: int, nic_bandwidth: float, intra_node_bandwidth: float) -> TopologyMetrics:
    """Rail-optimised cluster: GPU i of every node on rail switch i, NVLink inside a node.

    Hops: same node 1 (NVLink), same rail 2 (NIC, rail switch, NIC), other rail 3 (NVLink to
    the peer's rail, then the rail). Bisection across nodes n b / 2 (non-blocking rails).
    All-to-all: intra-node share (g-1)/n over NVLink, inter-node share (n-g)/n over the NIC,
    in parallel. All-reduce ring crosses nodes through each GPU's NIC: B_ar = min(b_in, b).

    Parameters
    ----------
    nodes : int
        Nodes [count], >= 1 (with g x nodes >= 2).
    gpus_per_node : int
        g [count], >= 1; also the number of rails.
    nic_bandwidth : float
        b per GPU NIC per direction [B/s].
    intra_node_bandwidth : float
        b_in per GPU into the node's NVLink fabric per direction [B/s].

    Returns
    -------
    TopologyMetrics

    References
    ----------
    NVIDIA DGX SuperPOD reference architecture (rail-optimised compute fabric);
    Dally & Towles 2004, Ch. 3 (bisection).
    """
    m = int(whole("nodes", nodes))
    g = int(whole("gpus_per_node", gpus_per_node))
    b = float(positive("nic_bandwidth", nic_bandwidth, "B/s"))
    bin_ = float(positive("intra_node_bandwidth", intra_node_bandwidth, "B/s"))
    n = m * g
    if n < 2:
        raise MlsysimError("a rail-optimised cluster needs at least 2 GPUs")
    same_node, same_rail = g - 1, m - 1
    other = n - 1 - same_node - same_rail
    average = (1 * same_node + 2 * same_rail + 3 * other) / (n - 1)
    diameter = 1.0 if m == 1 else (2.0 if g == 1 else 3.0)
    if m == 1:
        bisection = n / 2 * bin_
        a2a = bin_
        allreduce = bin_
        injection = bin_
    else:
        bisection = n * b / 2
        # time for S bytes: max((g-1)/n S / b_in, (n-g)/n S / b); bandwidth = (n-1)/n S / time
        t = max((g - 1) / n / bin_, (n - g) / n / b)
        a2a = (n - 1) / n / t
        allreduce = min(bin_, b)
        injection = b
    return TopologyMetrics(n, diameter, average, bisection, injection, allreduce, a2a)


def dragonfly(groups: int, routers_per_group: int, hosts_per_router: int, global_links_per_router: int,
              link_bandwidth: float) -> TopologyMetrics:
    """A dragonfly: groups of routers, all-to-all inside a group and between groups.

    Global links per pair of groups m = a h / (g - 1) (>= 1 needed). Bisection: with groups
    split into halves, (g/2)(g/2) pairs (floor/ceil for odd g) x m links x b. Hops (minimal
    routing): same router 2, same group 3, other group 3 + 2 (1 - min(1, m/a)) (a local hop
    at each end unless the router holds a link to the other group). Diameter 5 (3 with
    m >= a). All-reduce at the injection bandwidth b (a ring embeds through local links).

    Parameters
    ----------
    groups : int
        g [count], >= 2.
    routers_per_group : int
        a [count], >= 1.
    hosts_per_router : int
        p [count], >= 1.
    global_links_per_router : int
        h [count], >= 1.
    link_bandwidth : float
        b per link per direction (host, local and global alike) [B/s].

    Returns
    -------
    TopologyMetrics

    References
    ----------
    Kim et al. 2008, Sec. 3 (a = 2p = 2h balances the dragonfly; g <= a h + 1).
    """
    g = int(whole("groups", groups, 2))
    a = int(whole("routers_per_group", routers_per_group))
    p = int(whole("hosts_per_router", hosts_per_router))
    h = int(whole("global_links_per_router", global_links_per_router))
    b = float(positive("link_bandwidth", link_bandwidth, "B/s"))
    if a * h < g - 1:
        raise MlsysimError(
            f"groups must be <= routers_per_group x global_links_per_router + 1 = {a * h + 1} "
            f"so that every pair of groups has a global link, got {groups!r}"
        )
    m = a * h / (g - 1)
    n = g * a * p
    same_router, same_group = p - 1, (a - 1) * p
    other = n - 1 - same_router - same_group
    direct = min(1.0, m / a)
    remote = 3 + 2 * (1 - direct)
    average = (2 * same_router + 3 * same_group + remote * other) / (n - 1)
    diameter = 3.0 if direct >= 1 else 5.0
    bisection = (g // 2) * (g - g // 2) * m * b
    return TopologyMetrics(n, diameter, average, bisection, b, b, alltoall_bandwidth(n, b, bisection))


@dataclass(frozen=True)
class TopologyResult:
    """A topology's hop counts and bandwidths per endpoint (SI units)."""

    topology: str
    endpoints: int
    diameter: float  # [links]
    average_hops: float  # [links]
    bisection_bandwidth: float  # [B/s] one direction
    injection_bandwidth: float  # [B/s] per endpoint
    allreduce_bandwidth: float  # [B/s] bus bandwidth per endpoint
    alltoall_bandwidth: float  # [B/s] per endpoint
    lineage: Lineage

    def allreduce_time(self, size: float) -> float:
        """Bandwidth term of an all-reduce of `size` bytes [s]: 2 (n-1)/n x S / B_ar."""
        s = float(positive("size", size, "B"))
        return 2 * (self.endpoints - 1) / self.endpoints * s / self.allreduce_bandwidth

    def alltoall_time(self, size: float) -> float:
        """Bandwidth term of an all-to-all of `size` bytes per endpoint [s]: (n-1)/n x S / B_a2a."""
        s = float(positive("size", size, "B"))
        return (self.endpoints - 1) / self.endpoints * s / self.alltoall_bandwidth

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class TopologyModel:
    """Hop counts, bisection and collective bandwidth of a named topology."""

    def solve(self, topology: str, *, link_bandwidth: Any, endpoints: int | None = None,
              dims: tuple[int, ...] | None = None, radix: int | None = None, oversubscription: float = 1.0,
              nodes: int | None = None, gpus_per_node: int | None = None, intra_node_bandwidth: Any = None,
              groups: int | None = None, routers_per_group: int | None = None, hosts_per_router: int | None = None,
              global_links_per_router: int | None = None) -> TopologyResult:
        """
        topology              one of ring, torus, fat_tree, rail_optimized, dragonfly
        link_bandwidth [B/s]  per link per direction (fat tree: per host; rail: per GPU NIC);
                              number, cited value or assumption
        ring: endpoints | torus: dims, e.g. (4, 4, 4) | fat_tree: endpoints, radix,
        oversubscription | rail_optimized: nodes, gpus_per_node, intra_node_bandwidth |
        dragonfly: groups, routers_per_group, hosts_per_router, global_links_per_router
        """
        name = str(topology).strip().lower().replace("-", "_").replace(" ", "_")
        if name not in TOPOLOGIES:
            raise MlsysimError(f"unknown topology {topology!r}; valid topologies: {', '.join(TOPOLOGIES)}")
        lineage = Lineage()
        b = cited("link_bandwidth", link_bandwidth, lineage, "bandwidth", "B/s")

        def need(value: Any, what: str) -> Any:
            if value is None:
                raise MlsysimError(f"topology {name!r} needs {what}=")
            return value

        if name == "ring":
            m = ring(need(endpoints, "endpoints"), b)
        elif name == "torus":
            m = torus(tuple(need(dims, "dims")), b)
        elif name == "fat_tree":
            m = fat_tree(need(endpoints, "endpoints"), need(radix, "radix"), b, oversubscription)
        elif name == "rail_optimized":
            inner = cited("intra_node_bandwidth", need(intra_node_bandwidth, "intra_node_bandwidth"), lineage,
                          "bandwidth", "B/s")
            m = rail_optimized(need(nodes, "nodes"), need(gpus_per_node, "gpus_per_node"), b, inner)
        else:
            m = dragonfly(need(groups, "groups"), need(routers_per_group, "routers_per_group"),
                          need(hosts_per_router, "hosts_per_router"),
                          need(global_links_per_router, "global_links_per_router"), b)
        return TopologyResult(name, m.endpoints, m.diameter, m.average_hops, m.bisection_bandwidth,
                              m.injection_bandwidth, m.allreduce_bandwidth, m.alltoall_bandwidth, lineage)
