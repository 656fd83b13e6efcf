"""Recomputing only some layers in full (Megatron-LM's --recompute-method block
--recompute-num-layers N): the first N layers of each model chunk keep only their input and
run their forward again in the backward pass; the others keep every activation."""

from __future__ import annotations

import pytest

from mlsysim import DistributedModel
from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.distributed import Layout


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _solve(catalog, pp: int = 1, interleave: int | None = None, **recompute):
    return DistributedModel().solve(
        catalog.get("models", "llama3_8b"), catalog.get("clusters", "dgx_h100_superpod_su"), batch_size=128,
        precision="fp8", efficiency=catalog.get("assumptions", "gemm_compute_efficiency"), devices=8, pp=pp,
        interleave=interleave, microbatch=1, seq_len=8192, efficiency_mode="first_principles", **recompute)


def test_recomputing_every_layer_of_the_chunk_is_full_recomputation(catalog):
    """Llama 3 8B has 32 layers: recomputing 32 of them (or more) is recomputing all."""
    full = _solve(catalog, recompute="full")
    for n in (32, 40):
        every = _solve(catalog, recompute="full", recompute_layers=n)
        assert every.step_time == pytest.approx(full.step_time, rel=1e-12)
        assert every.memory_activations == pytest.approx(full.memory_activations, rel=1e-12)
        assert every.hardware_flops_per_step == pytest.approx(full.hardware_flops_per_step, rel=1e-12)


def test_the_recomputed_share_of_the_work_and_memory_is_n_over_the_layers(catalog):
    """5 of 32 layers: the extra forward FLOPs are 5/32 of full recomputation's, and the kept
    activations are 5/32 of the way from keeping everything to keeping only layer inputs (plus
    the one layer being recomputed)."""
    none, full = _solve(catalog, recompute="none"), _solve(catalog, recompute="full")
    five = _solve(catalog, recompute="full", recompute_layers=5)
    assert five.recompute == "full" and five.recompute_layers == 5
    extra = five.hardware_flops_per_step - none.hardware_flops_per_step
    assert extra == pytest.approx(5 / 32 * (full.hardware_flops_per_step - none.hardware_flops_per_step), rel=1e-9)
    assert none.step_time < five.step_time < full.step_time
    assert full.memory_activations < five.memory_activations < none.memory_activations


def test_the_count_is_per_model_chunk(catalog):
    """With 2 stages of 2 chunks (8 layers each), 2 layers per chunk is a quarter of them: the
    same share as 8 of 32 layers without pipelining."""
    none = _solve(catalog, pp=2, interleave=2, recompute="none")
    full = _solve(catalog, pp=2, interleave=2, recompute="full")
    two = _solve(catalog, pp=2, interleave=2, recompute="full", recompute_layers=2)
    extra = two.hardware_flops_per_step - none.hardware_flops_per_step
    assert extra == pytest.approx(0.25 * (full.hardware_flops_per_step - none.hardware_flops_per_step), rel=1e-9)


def test_recompute_layers_needs_full_recomputation():
    with pytest.raises(MlsysimError, match="set recompute: full"):
        Layout(recompute="selective", recompute_layers=4)
    with pytest.raises(MlsysimError, match="recompute_layers"):
        Layout(recompute="full", recompute_layers=0)


def test_the_h100_llama3_8b_row_states_the_recipes_partial_recomputation(catalog):
    """Megatron-Bridge 25.11, DGX-H100 table, row LLAMA3_8B (8 GPUs, FP8-CS, FSDP 1, MBS 1):
    14,451 tokens/s per GPU; the H100 FP8-CS preset sets recompute_num_layers 5."""
    from mlsysim.evaluate.validation import OK, run_one

    row = run_one(catalog.get("measurements", "mbridge2511_llama3_8b_dgx_h100_8gpu_fp8"), catalog)
    assert row.status == OK and row.measured == pytest.approx(14451)
    layout = catalog.get("measurements", "mbridge2511_llama3_8b_dgx_h100_8gpu_fp8").plain_fields["config"]["parallelism"]
    assert (layout["recompute"], layout["recompute_layers"], layout["zero"]) == ("full", 5, 3)
