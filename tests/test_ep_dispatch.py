"""How a mixture of experts' tokens reach their experts: one flat all-to-all, or a
hierarchical dispatcher (DeepEP, HybridEP) that sends each token over the fabric once per
remote node holding any of its experts and forwards it over NVLink there; and where the
expert-parallel ranks come from (the data-parallel group, or TP x DP x CP when each rank
holds whole experts: Megatron-Core's MoE parallel folding)."""

from __future__ import annotations

from math import comb

import pytest

from mlsysim import DistributedModel
from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.distributed import Layout, hierarchical_dispatch_copies


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_copies_over_the_fabric_count_remote_nodes_holding_an_expert():
    """k distinct experts of E spread evenly over n nodes: a node holds none of them with
    probability C(E - E/n, k) / C(E, k)."""
    assert hierarchical_dispatch_copies(128, 8, 1.0) == 0.0
    assert hierarchical_dispatch_copies(8, 2, 2.0) == pytest.approx(1 - comb(4, 2) / comb(8, 2))
    assert hierarchical_dispatch_copies(128, 8, 4.0) == pytest.approx(3 * (1 - comb(96, 8) / comb(128, 8)))
    # Fewer experts off a node than k (6 of 12 off each of two nodes, k = 8): the other node is
    # always reached.
    assert hierarchical_dispatch_copies(12, 8, 2.0) == pytest.approx(1.0)
    # Never more than a flat all-to-all's k (n - 1) / n copies.
    for n in (2.0, 4.0, 8.0):
        assert hierarchical_dispatch_copies(128, 8, n) <= 8 * (n - 1) / n


def _solve(catalog, dispatch: str, devices: int, ep: int):
    return DistributedModel().solve(
        catalog.get("models", "qwen3_30b_a3b"), catalog.get("clusters", "dgx_h100_superpod_su"), batch_size=1024,
        precision="fp8", efficiency=catalog.get("assumptions", "gemm_compute_efficiency"), devices=devices, ep=ep,
        microbatch=1, zero=1, seq_len=4096, efficiency_mode="first_principles", ep_dispatch=dispatch)


def test_inside_a_node_both_dispatchers_cost_the_same(catalog):
    flat, hierarchical = _solve(catalog, "all_to_all", 8, 8), _solve(catalog, "hierarchical", 8, 8)
    assert hierarchical.ep_comm_time == pytest.approx(flat.ep_comm_time, rel=1e-12) and flat.ep_comm_time > 0


def test_across_nodes_a_hierarchical_dispatch_sends_less_over_the_fabric(catalog):
    """EP 16 over two DGX H100 nodes: Qwen3-30B-A3B routes each token to 8 of 128 experts, so a
    flat all-to-all sends 4 of its copies to the other node and DeepEP or HybridEP about one."""
    flat, hierarchical = _solve(catalog, "all_to_all", 16, 16), _solve(catalog, "hierarchical", 16, 16)
    assert hierarchical.ep_comm_time < flat.ep_comm_time / 2
    assert hierarchical.step_time < flat.step_time


def test_an_unknown_dispatcher_is_refused():
    with pytest.raises(MlsysimError, match="ep_dispatch must be one of all_to_all, hierarchical"):
        Layout(ep_dispatch="deepep")


def _folded(catalog, ep: int, expert_tp):
    return DistributedModel().solve(
        catalog.get("models", "qwen3_235b_a22b"), catalog.get("clusters", "dgx_h100_superpod_su"), batch_size=512,
        precision="fp8", efficiency=catalog.get("assumptions", "gemm_compute_efficiency"), devices=256, tp=2, pp=8,
        ep=ep, expert_tp=expert_tp, microbatch=1, zero=1, seq_len=4096, sequence_parallel=True,
        efficiency_mode="first_principles")


def test_whole_experts_draw_the_expert_ranks_from_tensor_and_data_parallel_ranks(catalog):
    """Qwen3-235B-A22B on 256 H100s at TP 2, PP 8 (DP 16): EP 32 needs the TP ranks too, which
    Megatron-Core allows with expert_tensor_parallel_size 1 (Megatron-Bridge's 26.04.01 H100
    recipe). Each rank then holds 128 / 32 whole experts per layer, the same routed weights as
    EP 16 with the experts split over TP 2, and a MoE layer's MLP runs no TP collective."""
    with pytest.raises(MlsysimError, match="expert_tp: 1"):
        _folded(catalog, 32, None)
    folded, split = _folded(catalog, 32, 1), _folded(catalog, 16, None)
    assert folded.memory_weights == pytest.approx(split.memory_weights, rel=1e-12)
    assert folded.tp_comm_time < split.tp_comm_time


def test_expert_tp_is_whole_experts_or_the_layouts_tp():
    with pytest.raises(MlsysimError, match="expert_tp must be 1"):
        Layout(tp=4, expert_tp=2)
    assert Layout(tp=4, expert_tp=1).expert_tp == 1 and Layout(tp=4, expert_tp=4).expert_tp == 4


def test_overlapped_all_to_alls_hide_behind_compute_no_more(catalog):
    """Megatron-Core's --overlap-moe-expert-parallel-comm (Megatron-Bridge's moe_a2a_overlap)
    runs one microbatch's dispatch and combine beside another's compute: the exposed expert
    all-to-all time is what exceeds the compute, max(0, t_ep - t_compute), per microbatch."""
    common = dict(batch_size=1024, precision="fp8", efficiency=catalog.get("assumptions", "gemm_compute_efficiency"),
                  devices=16, ep=16, microbatch=1, zero=1, seq_len=4096, efficiency_mode="first_principles")
    model, cluster = catalog.get("models", "qwen3_30b_a3b"), catalog.get("clusters", "dgx_h100_superpod_su")
    exposed = DistributedModel().solve(model, cluster, **common)
    hidden = DistributedModel().solve(model, cluster, ep_overlap=True, **common)
    assert exposed.ep_comm_time > 0
    assert hidden.ep_comm_time == pytest.approx(max(0.0, exposed.ep_comm_time - exposed.compute_time), abs=1e-12)
    assert hidden.step_time < exposed.step_time
