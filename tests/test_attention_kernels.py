"""Fused-attention kernels as a training input: figures scoped to FlashAttention-2, -3 or
FlashAttention written in Triton (qualifier `implementation`), the CUDA kernels' figures the
defaults, the Triton ones only where a caller or a measurement names them.

The Triton figures derive from the FlashAttention-2 paper (Dao 2023, arXiv 2307.08691),
Section 4.1: "FlashAttention-2 is around 1.3-1.5x faster than FlashAttention in Triton in the
forward pass and around 2x faster in the backward pass", applied to its A100 figure (the lower
end of the abstract's "50-73% of the theoretical maximum FLOPs/s on A100"): 50% / 1.5 and 50% / 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlsysim import DistributedModel
from mlsysim.errors import MlsysimError
from mlsysim.solvers.kernel_efficiency import ATTENTION_KERNELS, attention_kernel_values, kernel_efficiency_values
from mlsysim.solvers.terms import hardware_terms

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def catalog():
    from mlsysim.catalog import load_catalog

    return load_catalog(REPO / "catalog")


def test_the_solvers_kernel_list_is_the_catalogs_qualifier_enum() -> None:
    """terms keeps its own copy so that a solve does not import the schemas."""
    from mlsysim.catalog.schemas.common import ATTENTION_KERNELS as SCHEMA_KERNELS

    assert ATTENTION_KERNELS == SCHEMA_KERNELS


def test_the_cuda_flashattention_figures_stay_the_defaults(catalog) -> None:
    """The A100 keeps FlashAttention-2's 50% and Hopper FlashAttention-3's 75% as its default
    attention figure; the Triton records never fill the default slot."""
    a100 = kernel_efficiency_values(hardware_terms(catalog.get("hardware", "a100_sxm_80gb"), "bf16"))["attention"]
    h100 = kernel_efficiency_values(hardware_terms(catalog.get("hardware", "h100_sxm"), "bf16"))["attention"]
    assert a100.qualifiers["implementation"] == "flashattention2" and a100.si == pytest.approx(0.50)
    assert h100.qualifiers["implementation"] == "flashattention3" and h100.si == pytest.approx(0.75)


def test_the_triton_kernel_on_the_a100_takes_its_derived_figures(catalog) -> None:
    forward, backward = attention_kernel_values(hardware_terms(catalog.get("hardware", "a100_sxm_40gb"), "bf16"),
                                                "flashattention_triton")
    assert forward.si == pytest.approx(0.50 / 1.5, rel=1e-3)
    assert backward is not None and backward.si == pytest.approx(0.50 / 2)
    assert forward.qualifiers["implementation"] == backward.qualifiers["implementation"] == "flashattention_triton"


def test_a_kernel_with_no_figure_on_the_accelerator_is_an_error_not_a_stand_in(catalog) -> None:
    h100 = hardware_terms(catalog.get("hardware", "h100_sxm"), "bf16")
    with pytest.raises(MlsysimError, match="no efficiency of flashattention_triton attention is cited for H100 at bf16"):
        attention_kernel_values(h100, "flashattention_triton")
    with pytest.raises(MlsysimError, match="'flash' is not one of flashattention2, flashattention3"):
        attention_kernel_values(h100, "flash")


def _step(catalog, **kernel) -> float:
    model, cluster = catalog.get("models", "llmfoundry_mpt_760m"), catalog.get("clusters", "mosaicml_a100_80gb_roce")
    return DistributedModel().solve(model, cluster, batch_size=96, devices=8, zero=3, microbatch=6, seq_len=8192,
                                    recompute="none", **kernel).step_time


def test_distributed_model_prices_attention_at_the_named_kernels_figures(catalog) -> None:
    """Naming FlashAttention-2 on the A100 changes nothing (it is the default); naming the
    Triton kernel slows the step, and the result's lineage names its two figures."""
    default = _step(catalog)
    assert _step(catalog, attention_kernel="flashattention2") == pytest.approx(default, rel=1e-12)
    triton = _step(catalog, attention_kernel="flashattention_triton")
    assert triton > default * 1.2  # at 8,192 tokens attention is a large share of a 760M model's step
    result = DistributedModel().solve(catalog.get("models", "llmfoundry_mpt_760m"),
                                      catalog.get("clusters", "mosaicml_a100_80gb_roce"), batch_size=96, devices=8,
                                      zero=3, microbatch=6, seq_len=8192, attention_kernel="flashattention_triton")
    used = {str(entry) for entry in result.lineage.entries()}
    assert any("attention_efficiency_a100_flashattention_triton" in e for e in used)
    assert any("attention_backward_efficiency_a100_flashattention_triton" in e for e in used)


def test_a_named_kernel_and_a_number_for_every_kernel_conflict(catalog) -> None:
    with pytest.raises(MlsysimError, match="pass one or the other"):
        _step(catalog, attention_kernel="flashattention2", efficiency=0.5)


def test_the_layout_search_prices_every_candidate_at_the_named_kernel(catalog) -> None:
    """search() lowers the job once, with the named kernel's figures, for every layout it tries."""
    model, cluster = catalog.get("models", "llmfoundry_mpt_760m"), catalog.get("clusters", "mosaicml_a100_80gb_roce")
    default = DistributedModel().search(model, cluster, 96, devices=8, seq_len=8192).best()
    triton = DistributedModel().search(model, cluster, 96, devices=8, seq_len=8192,
                                       attention_kernel="flashattention_triton").best()
    assert triton.step_time > default.step_time


def test_the_parallelism_optimizer_ranks_layouts_at_the_named_kernel(catalog) -> None:
    """optimize parallelism prices every candidate, and the re-solved top ones, at the named kernel."""
    from mlsysim.solvers.optimizers import ParallelismOptimizer

    model, cluster = catalog.get("models", "llmfoundry_mpt_760m"), catalog.get("clusters", "mosaicml_a100_80gb_roce")
    default = ParallelismOptimizer().solve(model, cluster, 96, devices=8, seq_len=8192, tp=[1], pp=[1]).best
    triton = ParallelismOptimizer().solve(model, cluster, 96, devices=8, seq_len=8192, tp=[1], pp=[1],
                                          attention_kernel="flashattention_triton").best
    assert triton.step_time > default.step_time


def test_hopper_keeps_flashattention3_as_its_default_and_names_flashattention2_at_35_percent(catalog) -> None:
    """Of two CUDA FlashAttention versions cited for one accelerator, the later is its default,
    whatever the records' ids; the earlier serves where a caller names it: FlashAttention-2 on
    the H100 at the 35% the FlashAttention-3 paper's abstract states ("FlashAttention-2 achieving
    only 35% utilization on the H100 GPU")."""
    for hw in ("h100_sxm", "h200"):
        h = hardware_terms(catalog.get("hardware", hw), "bf16")
        assert kernel_efficiency_values(h)["attention"].qualifiers["implementation"] == "flashattention3"
        forward, backward = attention_kernel_values(h, "flashattention2")
        assert forward.si == pytest.approx(0.35) and backward is None


def test_a_named_fused_kernel_and_unfused_attention_conflict(catalog) -> None:
    with pytest.raises(MlsysimError, match="names a fused-attention kernel, but fused_attention=False"):
        _step(catalog, attention_kernel="flashattention2", fused_attention=False)
