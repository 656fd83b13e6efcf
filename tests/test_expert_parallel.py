"""Expert parallelism in the training model (mlsysim/solvers/distributed.py): routed experts
split over EP ranks, their all-to-alls, and their gradients synchronised over the smaller
expert data-parallel group. Mixtral 8x7B (32 layers, hidden 4096, 8 experts of FFN 14336,
top-2; Jiang et al. 2024, arXiv 2401.04088, Table 1) on the 1K-GPU DGX H100 cluster."""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.distributed import DistributedModel, training_terms
from tests.conftest import FROZEN_CATALOG

LAYOUT = dict(tp=4, pp=1, zero=1, microbatch=1, recompute="selective", sequence_parallel=True, seq_len=4096)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(FROZEN_CATALOG)


@pytest.fixture(scope="module")
def mixtral(catalog):
    return catalog.get("models", "Mixtral_8x7B"), catalog.get("clusters", "training_1k")


def solve(mixtral, ep, **extra):
    model, cluster = mixtral
    return DistributedModel().solve(model, cluster, 1024, "bf16", **{**LAYOUT, **extra}, ep=ep)


def test_routed_experts_are_split_over_the_ep_ranks(mixtral):
    """Routed experts: 32 layers x 8 experts x 3 x 4096 x 14336 = 45.10B parameters; the
    rest (attention, embeddings, routers, norms) stays whole on every EP rank. Weights per
    GPU at TP 4 in bf16: (dense + routed / EP) / 4 x 2 bytes."""
    model, cluster = mixtral
    terms = training_terms(model, cluster, precision="bf16", seq_len=4096)
    assert terms.routed_params == 32 * 8 * 3 * 4096 * 14336
    dense = terms.params - terms.routed_params
    for ep in (1, 2, 8):
        r = solve(mixtral, ep)
        assert r.ep == ep
        assert r.memory_weights == pytest.approx((dense + terms.routed_params / ep) / 4 * 2, rel=1e-12)
    # ZeRO-1 shards the optimizer state over the ranks holding the same weights: the experts'
    # over (DP x CP) / EP, so its size per GPU does not change with EP.
    assert solve(mixtral, 8).memory_optimizer == pytest.approx(solve(mixtral, 1).memory_optimizer, rel=1e-9)


def test_all_to_all_time_per_microbatch(mixtral):
    """EP 2 at TP 4 spans 8 GPUs, one DGX H100: per MoE layer and pass, two all-to-alls of the
    rank's tokens (4096 / TP 4 = 1024, x top-2) x 4096 x 2 bytes, half of them leaving the
    GPU, over NVLink at the bus bandwidth; forward and backward (selective recomputation
    reruns no MoE layer): 32 layers x 2 passes x 2 all-to-alls."""
    model, cluster = mixtral
    terms = training_terms(model, cluster, precision="bf16", seq_len=4096)
    r = solve(mixtral, 2)
    one = 0.5 * 1024 * 2 * 4096 * 2 / terms.intra_bw
    assert r.ep_comm_time == pytest.approx(r.microbatches * 32 * 2 * 2 * one, rel=1e-12)
    assert r.exposed_communication_time == pytest.approx(
        r.tp_comm_time + r.cp_comm_time + r.pp_comm_time + r.dp_comm_time + r.ep_comm_time)
    # EP 8 leaves the node (4 x 8 = 32 GPUs): the fabric's bandwidth and latency.
    assert solve(mixtral, 8).ep_comm_time > 10 * r.ep_comm_time


def test_the_token_dispatcher_moves_each_tokens_k_copies_there_and_back():
    """Megatron-Core's all-to-all dispatcher (token_dispatcher.py at d98e8a6) permutes each
    token's k copies into expert order (read and write k h), unpermutes the k expert outputs
    into one (read k h, write h) and, when a rank holds more than one expert, sorts the
    received tokens by local expert and restores them (two more reads and writes of k h).
    Qwen3-30B-A3B: hidden 2048, top-8."""
    from mlsysim.solvers.distributed import moe_dispatch_elements_per_token

    assert moe_dispatch_elements_per_token(2048, 8, 0) == 2 * 8 * 2048 + 9 * 2048
    assert moe_dispatch_elements_per_token(2048, 8, 1) == 2 * 8 * 2048 + 9 * 2048 + 4 * 8 * 2048


def test_moe_dispatch_time_per_microbatch(catalog, mixtral):
    """Mixtral at TP 4: each rank routes 4096 / 4 = 1024 tokens per microbatch through all 32
    MoE layers in the forward and backward pass, 16-bit hidden states at the achieved memory
    bandwidth. EP 2 leaves each rank 4 of the 8 experts, so the tokens are also sorted by
    local expert; EP 1 does not sort. The time is part of the compute time; a dense model
    has none."""
    model, cluster = mixtral
    terms = training_terms(model, cluster, precision="bf16", seq_len=4096)
    for ep, per_token in ((1, 2 * 2 * 4096 + 3 * 4096), (2, 2 * 2 * 4096 + 3 * 4096 + 4 * 2 * 4096)):
        r = solve(mixtral, ep)
        per_microbatch = 1024 * 2 * per_token * 32 * 2 / terms.mem_bw
        assert r.moe_dispatch_time == pytest.approx(r.microbatches * per_microbatch, rel=1e-12)
        assert r.moe_dispatch_time < r.compute_time
    full = solve(mixtral, 2, recompute="full")
    assert full.moe_dispatch_time == pytest.approx(1.5 * solve(mixtral, 2).moe_dispatch_time, rel=1e-12)
    dense = DistributedModel().solve(catalog.get("models", "Llama3_8B"), cluster, 1024, "bf16", **LAYOUT)
    assert dense.moe_dispatch_time == 0.0


def test_expert_gradients_sync_over_the_smaller_group(mixtral):
    """With EP, each GPU holds 1/EP of the routed experts' gradients and sums them only with
    the ranks holding the same experts: the data-parallel time falls."""
    ones = [solve(mixtral, ep).dp_comm_time for ep in (1, 2, 8)]
    assert ones[0] > ones[1] > ones[2]
    assert solve(mixtral, 1).ep_comm_time == 0.0


def test_ep_one_is_the_layout_without_ep(mixtral):
    model, cluster = mixtral
    plain = DistributedModel().solve(model, cluster, 1024, "bf16", **LAYOUT)
    assert plain.ep == 1 and plain.step_time == solve(mixtral, 1).step_time


def test_ep_refused_where_it_cannot_apply(catalog, mixtral):
    with pytest.raises(MlsysimError, match="does not divide the 8 experts"):
        solve(mixtral, 3)
    dense = catalog.get("models", "Llama3_8B")
    with pytest.raises(MlsysimError, match="needs a mixture-of-experts model"):
        DistributedModel().solve(dense, mixtral[1], 1024, "bf16", **LAYOUT, ep=2)
    with pytest.raises(MlsysimError, match="parallelism ep"):
        solve(mixtral, 0)


def test_search_tries_the_ep_sizes_it_is_given(mixtral):
    model, cluster = mixtral
    found = DistributedModel().search(model, cluster, 1024, "bf16", seq_len=4096, tp=(4,), pp=(1,), zero=(1,),
                                      recompute=("selective",), ep=(1, 2, 8), microbatch=(1,))
    assert set(found.table["ep"]) == {1, 2, 8}
    best = found.best()
    assert best.ep in (1, 2, 8)
    assert best.step_time == pytest.approx(solve(mixtral, best.ep, sequence_parallel=True).step_time, rel=1e-9)


def test_a_plan_states_ep_and_the_scorecard_shows_it(cli, tmp_path):
    plan = tmp_path / "moe.yaml"
    plan.write_text("model: Mixtral_8x7B\ncluster: Training_1K\nprecision: bf16\nbatch_size: 1024\n"
                    "sequence_length: 4096\nparallelism: {tp: 4, pp: 1, ep: 8, zero: 1, recompute: selective, "
                    "sequence_parallel: true}\n", encoding="utf-8")
    r = cli("eval", str(plan))
    assert r.code == 0, r.err
    assert "TP4 x PP1 x CP1 x DP256 (EP8 within DP)" in r.out and "exposed_ep_comm_s" in r.out
