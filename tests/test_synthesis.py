"""Tests for mlsysim/solvers/synthesis.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlsysim import Engine, Hardware, Models
from mlsysim.errors import MlsysimError
from mlsysim.solvers.engine import roofline_terms, solve_terms
from mlsysim.solvers.pass_overheads import activation_tables
from mlsysim.solvers.roofline import compute_time, memory_time
from mlsysim.solvers.synthesis import SynthesisSolver, required_bandwidth, required_peak
from mlsysim.solvers.terms import model_terms


def test_pure_inverse_round_trips_with_the_forward_roofline():
    """Williams et al. 2009 (doi:10.1145/1498765.1498785): t = F / (P e); inverting for P
    and feeding it back must give t again (hand-derived: 2e12 FLOP in 5 ms at 50% needs
    2e12 / (0.005 x 0.5) = 8e14 FLOP/s)."""
    p = required_peak(2e12, 0.005, 0.5)
    assert p == pytest.approx(8e14, rel=1e-12)
    assert compute_time(2e12, p, 0.5) == pytest.approx(0.005, rel=1e-12)
    w = required_bandwidth(1.6e10, 0.005, 0.8)
    assert w == pytest.approx(4e12, rel=1e-12)
    assert memory_time(1.6e10, w, 0.8) == pytest.approx(0.005, rel=1e-12)


def test_engine_round_trip_on_synthesised_accelerator():
    """Round trip through Engine's own roofline: an accelerator with exactly the required
    peak and bandwidth (on a copy of the A100's terms, whose bytes take the generic cited
    memory efficiency the requirement assumes) has memory time = compute time =
    the target for a model without GEMM tiling terms (MobileNetV2, a per-inference FLOP
    count), and a memory time equal to the target for Llama 3 8B decode and for ResNet-50
    (its kernels priced one at a time: the required figures are then necessary, not
    sufficient, and its tiled compute time is at least the target; the requirement sends
    every activation through memory, so the copy is given no L2 to keep them in)."""
    for model, batch in ((Models.Vision.MobileNetV2, 32), (Models.Vision.ResNet50, 32), (Models.Language.Llama3_8B, 4)):
        target = 2e-3
        r = SynthesisSolver().solve(model, target_latency=target, batch_size=batch, hardware=[])
        m = model_terms(model)
        t = roofline_terms(model, Hardware.Cloud.A100, "fp16")
        t = replace(t, hardware=replace(t.hardware, peak=r.required_peak, bandwidth=r.required_bandwidth))
        if t.layers is not None:
            t = replace(t, layers=replace(t.layers, cache=0.0, _memo={}))
        t = replace(t, activations=activation_tables(m, "fp16", t.hardware.catalog))
        p = solve_terms(t, batch, None)
        assert p.si["latency_memory"] == pytest.approx(target, rel=1e-12)
        assert p.si["flops"] == pytest.approx(r.flops) and p.si["bytes_moved"] == pytest.approx(r.bytes_moved)
        assert p.si["memory_usage"] == pytest.approx(r.required_capacity)
        if m.resnet is not None:
            assert p.si["latency_compute"] >= target * (1 - 1e-12)
        elif m.kind == "per_inference":
            assert p.si["latency_compute"] == pytest.approx(target, rel=1e-12)


def test_catalog_candidates_are_judged_by_the_forward_solve():
    """Llama 3 8B batch-1 decode in 10 ms: the H100 (forward latency ~6.3 ms) meets it,
    the A100 40GB (~12 ms) does not; every candidate's verdict matches Engine.solve."""
    r = SynthesisSolver().solve(Models.Language.Llama3_8B, target_latency=0.010, batch_size=1)
    assert "H100" in r.meeting and "A100_40GB" not in r.meeting
    h100 = Engine.solve(model=Models.Language.Llama3_8B, hardware=Hardware.Cloud.H100, batch_size=1)
    c = next(c for c in r.candidates if c.hardware == "H100")
    assert c.latency == pytest.approx(h100.si["latency"])
    for c in r.candidates:
        if c.meets:
            assert c.peak >= r.required_peak and c.bandwidth >= r.required_bandwidth * 0.999
            assert c.capacity >= r.required_capacity
    assert r.to_dict()["meeting"] == list(r.meeting)


def test_throughput_target_is_a_latency_target():
    """1000 samples/s at batch 8 is 8 ms per pass (t = b / r)."""
    a = SynthesisSolver().solve(Models.Language.Llama3_8B, target_throughput=1000, batch_size=8, hardware=[])
    b = SynthesisSolver().solve(Models.Language.Llama3_8B, target_latency=0.008, batch_size=8, hardware=[])
    assert a.target_latency == pytest.approx(0.008)
    assert a.required_peak == pytest.approx(b.required_peak) and a.required_bandwidth == pytest.approx(b.required_bandwidth)


@pytest.mark.parametrize("kwargs, match", [
    ({}, "exactly one of target_latency"),
    ({"target_latency": 1.0, "target_throughput": 1.0}, "exactly one of"),
    ({"target_latency": -1.0}, r"target_latency must be a positive finite number \[s\]"),
    ({"target_throughput": 0}, r"target_throughput must be a positive"),
    ({"target_latency": 1.0, "batch_size": 0}, "batch_size must be a whole number >= 1"),
    ({"target_latency": 1.0, "precision": "fp7"}, "unknown numeric format"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(MlsysimError, match=match):
        SynthesisSolver().solve(Models.Language.Llama3_8B, **kwargs)
