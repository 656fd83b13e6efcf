"""Diffusion models: one denoiser pass per sampling step (Engine.solve, sweep, the schema).

FLUX.1 [dev]: the flow transformer of black-forest-labs/flux at 802fb47 (src/flux/util.py,
configs['flux-dev']: hidden 3,072, 19 double- and 38 single-stream blocks) costs 37.19 TMAC
per step at 1024x1024 with 512 text tokens (the record's formula), and the reference CLI
samples 50 steps (src/flux/cli.py: num_steps = 4 if name == "flux-schnell" else 50)."""

from __future__ import annotations

import pytest

from mlsysim import Engine, Hardware, Models
from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.terms import model_terms


def test_flux_costs_fifty_denoiser_passes() -> None:
    flux = Models.get("FLUX1_Dev")
    terms = model_terms(flux)
    assert terms.steps == 50 and terms.matmul_flops == pytest.approx(37.19e12 * 2)
    p = Engine.solve(flux, Hardware.Cloud.H100, precision="bf16")
    one_step = 2 * 37.19e12 / (Hardware.Cloud.H100.compute.bf16.si * p.compute_efficiency)
    assert p.bottleneck == "Compute"
    assert p.si["latency"] == pytest.approx(50 * one_step, rel=1e-9)
    assert p.si["flops"] == pytest.approx(50 * 2 * 37.19e12)
    # 12B parameters in bf16 read once per step.
    assert p.si["bytes_moved"] == pytest.approx(50 * 12e9 * 2)
    assert p.to_dict()["denoising_steps"] == 50
    assert p.mfu == pytest.approx(p.compute_efficiency, rel=1e-9)


def test_sweep_rows_equal_the_solves() -> None:
    flux = Models.get("FLUX1_Dev")
    table = Engine.sweep(flux, [Hardware.Cloud.H100], batch_sizes=[1, 4], precisions=["bf16"])
    for i, batch in enumerate((1, 4)):
        p = Engine.solve(flux, Hardware.Cloud.H100, batch_size=batch, precision="bf16")
        assert table["latency"][i] == pytest.approx(p.si["latency"], rel=1e-12)
        assert table["flops"][i] == pytest.approx(p.si["flops"], rel=1e-12)


def test_a_model_without_step_flops_says_what_is_missing() -> None:
    with pytest.raises(MlsysimError, match="flops_per_step with denoising_steps"):
        Engine.solve(Models.get("SDXL"), Hardware.Cloud.H100, precision="bf16")


DIFFUSION = "models/generative_vision/fixture_diffusion.yaml"
RECORD = """id: fixture_diffusion
name: Fixture diffusion
family: generative_vision
architecture: diffusion
parameters: {value: 1, unit: billion, source: fixture-model-card}
"""


def test_schema_needs_both_step_fields(catalog_copy) -> None:
    from mlsysim.catalog import check

    step = "flops_per_step: {value: 2, unit: TFLOP, source: fixture-model-card, qualifiers: {convention: FLOP}}\n"
    steps = "denoising_steps: {value: 20, source: fixture-model-card}\n"
    _, problems = check(catalog_copy({DIFFUSION: RECORD + step}))
    assert len(problems) == 1 and "denoising_steps: a diffusion model's cost needs both flops_per_step and " \
        "denoising_steps (the FLOPs of one denoiser pass and the sampler's step count)" in str(problems[0])
    assert str(problems[0]).startswith(DIFFUSION)
    root = catalog_copy({DIFFUSION: RECORD + step + steps})
    assert [str(p) for p in check(root)[1]] == []
    model = load_catalog(root).get("models", "fixture_diffusion")
    assert model_terms(model).steps == 20 and model_terms(model).matmul_flops == 2e12
    _, problems = check(catalog_copy({DIFFUSION: RECORD + step.replace("convention: FLOP", "convention: MAC") + steps}))
    assert any("disagrees with convention MAC" in str(p) for p in problems)
