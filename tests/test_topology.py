"""Tests for mlsysim/solvers/topology.py."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim.errors import MlsysimError
from mlsysim.solvers.topology import (
    TOPOLOGIES,
    TopologyModel,
    alltoall_bandwidth,
    dragonfly,
    fat_tree,
    rail_optimized,
    ring,
    torus,
)

B = 50e9  # a link's bandwidth per direction [B/s], arbitrary


def test_tpu_v4_4x4x4_cube_by_hand():
    """Jouppi et al. 2023 (TPU v4, arXiv 2304.01433): the 4x4x4 block of a 3D torus. By hand (Dally &
    Towles 2004, Ch. 3): 64 chips, 6 links each; a cut across one dimension of 4 with wrap-around cuts
    2 links in each of the 16 rings: bisection 32 b; diameter 2 + 2 + 2 = 6; mean distance per ring of 4
    is (0 + 1 + 2 + 1)/4 = 1, so 3 x 64/63 = 3.048 hops between distinct chips."""
    r = TopologyModel().solve("torus", dims=(4, 4, 4), link_bandwidth=B)
    assert r.endpoints == 64
    assert r.bisection_bandwidth == pytest.approx(32 * B)
    assert r.diameter == 6
    assert r.average_hops == pytest.approx(3 * 64 / 63)
    assert r.injection_bandwidth == pytest.approx(6 * B)
    assert r.allreduce_bandwidth == pytest.approx(2 * B)
    # all-to-all: min(6b, 4 x 63 x 32b / 64^2) = 1.97 b: bisection-bound
    assert r.alltoall_bandwidth == pytest.approx(4 * 63 * 32 * B / 64**2)


def test_ring_by_hand():
    """Ring of 8: distances 1,2,3,4,3,2,1 -> mean 16/7, diameter 4, bisection 2 links."""
    m = ring(8, B)
    assert m.average_hops == pytest.approx(16 / 7) and m.diameter == 4 and m.bisection_bandwidth == 2 * B
    odd = ring(5, B)  # distances 1,2,2,1
    assert odd.average_hops == pytest.approx(6 / 4) and odd.diameter == 2
    assert torus((2,), B).bisection_bandwidth == B  # two endpoints share one link


def test_fat_tree_by_hand():
    """Leiserson 1985 fat tree as a two-level folded Clos of radix-64 switches, 1024 hosts: 32 hosts per
    leaf, so 31 of the 1023 peers are 2 links away and the rest 4. Full bisection n b / 2; oversubscribed
    3:1 it is a third of that, and all-to-all falls to 4 x 1023 x (1024 b / 6) / 1024^2 = 0.666 b."""
    full = fat_tree(1024, 64, B)
    assert full.diameter == 4
    assert full.average_hops == pytest.approx((2 * 31 + 4 * 992) / 1023)
    assert full.bisection_bandwidth == pytest.approx(512 * B)
    assert full.alltoall_bandwidth == pytest.approx(B)
    over = TopologyModel().solve("fat-tree", endpoints=1024, radix=64, oversubscription=3, link_bandwidth=B)
    assert over.bisection_bandwidth == pytest.approx(1024 * B / 6)
    assert over.alltoall_bandwidth == pytest.approx(4 * 1023 / 1024**2 * 1024 * B / 6)
    assert fat_tree(48, 64, B).average_hops == 2.0 and fat_tree(48, 64, B).diameter == 2
    assert fat_tree(65536, 64, B).diameter == 6  # 2 x 32^3 = 65,536 hosts in three levels


def test_dragonfly_by_hand():
    """Kim et al. 2008 balanced dragonfly, a = 2p = 2h with the most groups g = a h + 1: p = h = 16,
    a = 32 (radix-63 routers) gives g = 513 and 32 x 16 x 513 = 262,656 hosts, one global link per pair
    of groups (m = 1), so a packet to another group usually needs a local hop at each end: 5 - 2/a."""
    m = dragonfly(513, 32, 16, 16, B)
    assert m.endpoints == 262_656
    assert m.diameter == 5
    n = m.endpoints
    expected = (2 * 15 + 3 * 31 * 16 + (5 - 2 / 32) * (n - 1 - 15 - 496)) / (n - 1)
    assert m.average_hops == pytest.approx(expected)
    assert m.bisection_bandwidth == pytest.approx(256 * 257 * B)


def test_rail_optimized_by_hand():
    """32 nodes of 8 GPUs on 8 rails, 50 GB/s NIC, 450 GB/s NVLink: of 255 peers, 7 are 1 hop away, 31
    two and 217 three; all-to-all moves 7/256 of the data over NVLink and 248/256 over the NIC."""
    m = rail_optimized(32, 8, 50e9, 450e9)
    assert m.average_hops == pytest.approx((7 + 2 * 31 + 3 * 217) / 255)
    assert m.diameter == 3 and m.allreduce_bandwidth == 50e9
    assert m.alltoall_bandwidth == pytest.approx((255 / 256) / ((248 / 256) / 50e9))


def test_unknown_topology_lists_the_valid_ones():
    with pytest.raises(MlsysimError, match="unknown topology 'hypercube'; valid topologies: " + ", ".join(TOPOLOGIES)):
        TopologyModel().solve("hypercube", link_bandwidth=B)
    with pytest.raises(MlsysimError, match="needs dims="):
        TopologyModel().solve("torus", link_bandwidth=B)
    with pytest.raises(MlsysimError, match="radix must be even"):
        fat_tree(100, 33, B)
    with pytest.raises(MlsysimError, match="groups must be <= "):
        dragonfly(100, 4, 2, 2, B)
    with pytest.raises(MlsysimError, match="link_bandwidth must be > 0"):
        TopologyModel().solve("ring", endpoints=8, link_bandwidth=-1)


def test_collective_times():
    r = TopologyModel().solve("ring", endpoints=8, link_bandwidth=B)
    assert r.allreduce_time(1e9) == pytest.approx(2 * 7 / 8 * 1e9 / (2 * B))
    assert r.alltoall_time(1e9) == pytest.approx(7 / 8 * 1e9 / r.alltoall_bandwidth)
    assert r.to_dict()["topology"] == "ring"


@settings(max_examples=60, deadline=None)
@given(dims=st.lists(st.integers(1, 12), min_size=1, max_size=3).filter(lambda d: math.prod(d) >= 2))
def test_torus_invariants(dims):
    """Invariants: 1 <= mean hops <= diameter; all-to-all never beats injection; bisection <= n/2 x injection."""
    m = torus(tuple(dims), B)
    assert 1 - 1e-12 <= m.average_hops <= m.diameter + 1e-12
    assert m.alltoall_bandwidth <= m.injection_bandwidth + 1e-6
    assert m.bisection_bandwidth <= m.endpoints / 2 * m.injection_bandwidth + 1e-6


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 100000), radix=st.sampled_from([8, 16, 32, 64]), r=st.floats(1, 8))
def test_fat_tree_invariants(n, radix, r):
    m = fat_tree(n, radix, B, r)
    assert 2 <= m.average_hops <= m.diameter + 1e-9
    assert m.alltoall_bandwidth == pytest.approx(alltoall_bandwidth(n, B, n * B / (2 * r)))
