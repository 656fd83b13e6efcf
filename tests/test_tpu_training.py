"""Training on a TPU v5p slice: its collectives over the ICI 3D torus, and the "mlp_input"
recomputation (MaxText's save_dot_except_mlpwi remat policy) that its published Llama 2 70B
recipe uses."""

from __future__ import annotations

import json

import pytest

from mlsysim import DistributedModel
from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.evaluate.validation import run_one
from mlsysim.solvers.distributed import activation_bytes_per_layer
from mlsysim.solvers.fleet import fleet_of
from mlsysim.solvers.training_sync import ring_collective_time
from mlsysim.solvers.transformer import TransformerShape, mlp_input_projections

# Llama 2 70B: hidden 8192, 64 query and 8 KV heads of 128, gated MLP 28672, 80 layers.
H, KV, FFN, LAYERS = 8192, 8 * 128, 28672, 80


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _solve(catalog, recompute: str):
    return DistributedModel().solve(
        catalog.get("models", "llama2_70b"), catalog.get("clusters", "google_tpu_v5p_slice_6144"), batch_size=2048,
        precision="bf16", efficiency=catalog.get("assumptions", "gemm_compute_efficiency"), devices=512, zero=3,
        microbatch=4, recompute=recompute, overlap_param_gather=True, seq_len=4096, efficiency_mode="first_principles")


def test_a_v5p_slice_prices_an_all_gather_as_googles_torus_formula(catalog):
    """A collective inside the slice runs on every axis of the 3D torus at once.

    Google's v5p page: 1,200 GB/s of bidirectional ICI per chip over a 3D torus, 6,144 chips
    in the largest slice, 50 Gbit/s of data-center network per chip. Google DeepMind's
    scaling book, Part 3 ('Sharded Matrices'): an AllGather takes bytes / (bidirectional ICI
    bandwidth per axis x number of axes); Part 2 gives v5p 2e11 B/s bidirectional per link,
    one link pair per axis. A ring over the per-chip bandwidth each way gives the same time.
    """
    fleet = fleet_of(catalog.get("clusters", "google_tpu_v5p_slice_6144"), 512)
    assert (fleet.per_node, fleet.nodes) == (6144, 1)
    assert fleet.intra_bw == pytest.approx(600e9)
    assert fleet.inter_bw_per_device == pytest.approx(50e9 / 8)
    volume = 140e9  # Llama 2 70B's bf16 weights
    scaling_book = volume / (2e11 * 3)
    assert ring_collective_time(volume, 512, fleet.intra_bw, 0.0) == pytest.approx(scaling_book, rel=0.01)


def test_mlp_input_projections_are_the_gate_and_up_weights():
    """Gate and up projections: 2 x h x ffn per dense layer; one input of h elements per MLP."""
    shape = TransformerShape(layers=LAYERS, hidden=H, heads=64, kv_heads=8, head_dim=128, ffn=FFN, vocab=32000,
                             context=4096, gated=True, tied=False, bias=False, layernorm=False,
                             learned_positions=False, encoder=False)
    assert mlp_input_projections(shape) == (LAYERS * 2 * H * FFN, 0.0, LAYERS * H)
    moe = TransformerShape(layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128, ffn=14336, vocab=32000,
                           context=4096, gated=True, tied=False, bias=False, layernorm=False,
                           learned_positions=False, encoder=False, experts_total=8, experts_active=2)
    assert mlp_input_projections(moe) == (0.0, 32 * 2 * 2 * 4096 * 14336, 32 * 2 * 4096)


def test_mlp_input_keeps_the_named_outputs():
    """MaxText's save_dot_except_mlpwi keeps query_proj, key_proj, value_proj, out_proj and
    mlpwo (and the scanned layer's input): 2 bytes each."""
    s, b, t = 4096, 4, 8
    kept = activation_bytes_per_layer(s, b, H, 64, 1, "mlp_input", False, KV)
    assert kept == pytest.approx(2 * s * b * (4 * H + 2 * KV))
    split = activation_bytes_per_layer(s, b, H, 64, t, "mlp_input", False, KV)
    assert split == pytest.approx(2 * s * b * (3 * H + (H + 2 * KV) / t))
    assert activation_bytes_per_layer(s, b, H, 64, t, "mlp_input", True, KV) == pytest.approx(kept / t)
    with pytest.raises(MlsysimError, match="kv_width"):
        activation_bytes_per_layer(s, b, H, 64, 1, "mlp_input", False)


def test_mlp_input_recomputes_attention_and_the_mlp_input_projections(catalog):
    """Its extra work over selective recomputation is one more forward pass of the gate and
    up GEMMs (2 FLOPs per weight per token); it sits between selective and full in time and
    in memory."""
    selective, mlp_input, full = (_solve(catalog, mode) for mode in ("selective", "mlp_input", "full"))
    tokens = 2048 * 4096
    extra = mlp_input.hardware_flops_per_step - selective.hardware_flops_per_step
    assert extra == pytest.approx(tokens * 2 * LAYERS * 2 * H * FFN)
    assert selective.step_time < mlp_input.step_time < full.step_time
    assert full.memory_activations < mlp_input.memory_activations < selective.memory_activations
    assert mlp_input.mfu == pytest.approx(selective.mfu * selective.step_time / mlp_input.step_time)


def test_maxtexts_llama2_70b_run_fits_and_is_expressible(catalog):
    """MaxText's tiering page (docs/reference/models/tiering.md at 20a91e1, v5p Gold table):
    Llama 2 70B on 512 chips, BF16, 4,096 tokens, 65.4% MFU; its recipe keeps 4 sequences per
    chip under save_dot_except_mlpwi. The step fits the 95 GiB the chip can allocate only with
    that policy's partial recomputation, not with selective recomputation."""
    assert _solve(catalog, "mlp_input").feasible
    assert not _solve(catalog, "selective").feasible
    row = run_one(catalog.get("measurements", "maxtext_llama2_70b_tpu_v5p_512"), catalog)
    assert row.status == "ok" and row.measured == pytest.approx(0.654)
    assert not any("does not fit" in remark for remark in row.remarks)


def test_tpu_v5_gemms_run_at_xlas_measured_matmul_efficiency(catalog):
    """JAX's Pallas TPU matmul guide (docs/pallas/tpu/matmul.ipynb at 1082251, 'XLA matmul'
    cell): jnp.matmul in bf16 on a TPU v5e reached 9.1275%, 84.3307% and 92.2960% of its
    197 TFLOP/s peak at 1024, 4096 and 8192 cubed; the median, 84.33%, is what a v5p
    training step's GEMMs run at in first principles."""
    from statistics import median

    from mlsysim.solvers.kernel_efficiency import scoped_efficiency
    from mlsysim.solvers.terms import hardware_terms

    published = median([9.1275, 84.3307, 92.2960]) / 100
    for chip in ("tpu_v5e", "tpu_v5p"):
        value = scoped_efficiency(hardware_terms(catalog.get("hardware", chip), "bf16"), "gemm")
        assert value.si == pytest.approx(published, rel=1e-4)
    step = _solve(catalog, "mlp_input")
    assert "assumptions/gemm_efficiency_tpu_v5_16bit_median#quantity" in step.lineage
    assert "assumptions/gemm_compute_efficiency#quantity" not in step.lineage


def test_a_plan_trains_on_the_tpu_slice_and_says_why_it_has_no_energy(cli, tmp_path):
    """A plan on the TPU v5p slice states its ZeRO-3 prefetch (overlap_param_gather) and the
    partial recomputation; Google publishes no TDP for the v5p, so the scorecard gives the
    step and says why energy, carbon and cost are not computed instead of failing."""
    plan = tmp_path / "tpu.yaml"
    plan.write_text("model: Llama2_70B\ncluster: TPU_v5p_6144\ndevices: 512\nprecision: bf16\nbatch_size: 2048\n"
                    "sequence_length: 4096\nparallelism: {zero: 3, microbatch: 4, recompute: mlp_input, "
                    "overlap_param_gather: true}\ngrid: Quebec\nduration: 30 days\n", encoding="utf-8")
    r = cli("eval", str(plan), "-o", "json")
    assert r.code == 0, r.err
    card = json.loads(r.out)
    assert card["passed"] and card["feasibility"]["status"] == "PASS"
    assert card["macro"]["status"] == "SKIPPED" and "no TDP" in card["macro"]["summary"]
    expected = _solve(load_catalog(), "mlp_input")
    assert card["performance"]["metrics"]["step_time_s"] == pytest.approx(expected.step_time)


def test_a_v5e_pod_prices_ici_inside_and_the_data_center_network_across():
    """Google's v5e page: 256 chips per pod on a 2D torus, 400 GB/s of bidirectional ICI per
    chip, 6.4 Tbit/s of data-center network per pod. The scaling book (Part 2: v5e 1e11 B/s
    bidirectional per link; Part 3: AllGather = bytes / (bidirectional bandwidth x axes))
    gives a pod-wide all-gather over both axes the time a ring over 200 GB/s each way gives."""
    fleet = fleet_of(load_catalog().get("clusters", "google_tpu_v5e_16_pods"), 512)
    assert (fleet.per_node, fleet.nodes) == (256, 2)
    assert fleet.intra_bw == pytest.approx(200e9)
    assert fleet.inter_bw_per_device == pytest.approx(6.4e12 / 8 / 256)
    volume = 16e9
    assert ring_collective_time(volume, 256, fleet.intra_bw, 0.0) == pytest.approx(volume / (1e11 * 2), rel=0.01)


def test_hybrid_sharding_keeps_zero3_inside_each_pod_and_all_reduces_across():
    """Hybrid sharding (PyTorch FSDP's HYBRID_SHARD, MaxText's FSDP over ICI with data
    parallelism over the data-center network): ZeRO-3 over the 256 chips of each v5e pod,
    one copy per pod, and each chip's gradient shard all-reduced with its copies across pods
    once per step. On one pod it is plain ZeRO-3."""
    from mlsysim.solvers.roofline import ring_allreduce_time

    catalog = load_catalog()
    model, cluster = catalog.get("models", "llama3_8b"), catalog.get("clusters", "google_tpu_v5e_16_pods")
    dm = DistributedModel()

    def solve(devices: int, hybrid: bool):
        return dm.solve(model, cluster, batch_size=2 * devices, precision="bf16", devices=devices, zero=3,
                        microbatch=2, recompute="full", seq_len=8192, shard_within_node=hybrid)

    one_pod = solve(256, True)
    assert one_pod.step_time == solve(256, False).step_time
    four_pods, flat = solve(1024, True), solve(1024, False)
    assert four_pods.memory_optimizer == pytest.approx(one_pod.memory_optimizer)
    assert flat.memory_optimizer == pytest.approx(one_pod.memory_optimizer / 4)
    fleet = fleet_of(cluster, 1024)
    shard = four_pods.memory_gradients  # each chip's 1/256 of the bf16 gradients
    assert four_pods.dp_comm_time - one_pod.dp_comm_time == pytest.approx(
        ring_allreduce_time(shard, 4, fleet.inter_bw_per_device), rel=1e-6)
    assert four_pods.step_time < flat.step_time  # ZeRO-3 across pods gathers every layer over the slow network
    with pytest.raises(MlsysimError, match="zero: 3"):
        dm.solve(model, cluster, batch_size=512, precision="bf16", devices=256, zero=1, shard_within_node=True)


def test_a_tensor_parallel_group_on_the_torus_says_it_is_priced_at_the_whole_chips_bandwidth(cli, tmp_path):
    """The scaling book (Part 3): a collective over fewer mesh axes gets that many axes' ICI
    bandwidth, not the chip's whole. A TP group on a v5p slice is priced at the whole chip's,
    and the result, the scorecard and the JSON say so; a ZeRO-3 step over every chip of a
    sub-slice of whole cubes (all three axes) does not carry the remark."""
    from mlsysim.solvers.distributed import TORUS_GROUP_UNPRICED

    catalog = load_catalog()
    model, cluster = catalog.get("models", "llama2_70b"), catalog.get("clusters", "google_tpu_v5p_slice_6144")
    tp4 = DistributedModel().solve(model, cluster, batch_size=2048, precision="bf16", devices=512, seq_len=4096,
                                   tp=4, zero=1, recompute="full")
    assert tp4.unpriced == (TORUS_GROUP_UNPRICED,)
    assert _solve(catalog, "mlp_input").unpriced == ()
    plan = tmp_path / "tp.yaml"
    plan.write_text("model: Llama2_70B\ncluster: TPU_v5p_6144\ndevices: 512\nprecision: bf16\nbatch_size: 2048\n"
                    "sequence_length: 4096\nparallelism: {tp: 4, zero: 1, recompute: full}\n", encoding="utf-8")
    r = cli("eval", str(plan), "-o", "json")
    assert r.code == 0, r.err
    assert f"not priced: {TORUS_GROUP_UNPRICED}" in json.loads(r.out)["performance"]["notes"]
