"""Tests for mlsysim/solvers/responsible.py."""

from __future__ import annotations

import pytest

from mlsysim import Models
from mlsysim.errors import MlsysimError
from mlsysim.solvers.responsible import (
    ResponsibleEngineeringModel,
    ghost_clipping_bytes,
    overhead_factor,
    per_example_gradient_bytes,
)


def test_per_example_gradients_match_opacus_bert_measurement():
    """Ullah, Zhang, Bullock & Mironov 2024, "Enabling Fast Gradient Clipping and Ghost Clipping
    in Opacus" (PyTorch blog), Fine-Tuning BERT table: ~7.6M trainable parameters, B = 32, peak
    memory 236 MB with PyTorch SGD and 1,142 MB with DP-SGD, an increase of 906 MB. Predicted:
    32 x 7.6e6 x 4 B = 972.8 MB (fp32 per-example gradients). Target: within 10% (+7.4%)."""
    predicted = per_example_gradient_bytes(32, 7.6e6, 4.0)
    assert predicted == pytest.approx(972.8e6)
    assert predicted == pytest.approx((1142 - 236) * 1e6, rel=0.10)


def test_cited_overhead_factor():
    """Same table, B = 128: 0.55 s per iteration with PyTorch SGD, 0.68 s with DP-SGD and 0.67 s
    with Ghost Clipping: overhead factors 0.68/0.55 = 1.236 and 0.67/0.55 = 1.218."""
    r = ResponsibleEngineeringModel().solve(trainable_params=7.6e6, batch_size=128, step_time=0.55)
    assert r.compute_overhead == pytest.approx(0.68 / 0.55, rel=1e-9)
    assert r.step_time == pytest.approx(0.68, rel=1e-9)
    assert any("dpsgd_opacus_bert_step_time_vanilla_b128" in e.path for e in r.lineage.entries())
    g = ResponsibleEngineeringModel().solve(trainable_params=7.6e6, batch_size=128, layers=3, clipping="ghost")
    assert g.compute_overhead == pytest.approx(0.67 / 0.55, rel=1e-9)
    assert overhead_factor(0.68, 0.55) == pytest.approx(1.2364, rel=1e-4)


def test_ghost_clipping_memory_is_per_example_norms():
    """Hand-derived: ghost clipping stores one norm per example per layer, B x L x 4 B: for
    Llama 3 8B (32 blocks) at batch 8, 1 kB, against 8 x 8.03e9 x 4 B = 257 GB of per-example
    gradients for vanilla clipping of every parameter."""
    m = Models.Language.Llama3_8B
    g = ResponsibleEngineeringModel().solve(m, batch_size=8, clipping="ghost")
    assert g.layers == 32 and g.extra_memory == pytest.approx(ghost_clipping_bytes(8, 32, 4.0)) == 1024
    v = ResponsibleEngineeringModel().solve(m, batch_size=8, base_memory=60e9, capacity=80e9)
    assert v.extra_memory == pytest.approx(8 * v.trainable_params * 4)
    assert 250e9 < v.extra_memory < 270e9
    assert v.fits is False
    assert v.to_dict()["lineage"]


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0, "trainable_params": 1e6}, "batch_size must be a whole number >= 1"),
    ({"batch_size": 8}, "pass model= or trainable_params="),
    ({"batch_size": 8, "trainable_params": 1e6, "clipping": "fast"}, "clipping must be one of vanilla, ghost"),
    ({"batch_size": 8, "trainable_params": 1e6, "clipping": "ghost"}, "ghost clipping needs the layer count"),
    ({"batch_size": 8, "trainable_params": -1.0}, r"trainable_params must be a positive finite number \[1\]"),
    ({"batch_size": 8, "trainable_params": 1e6, "step_time": 0}, r"step_time must be a positive"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(MlsysimError, match=match):
        ResponsibleEngineeringModel().solve(**kwargs)
