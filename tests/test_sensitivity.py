"""Tests for mlsysim/solvers/sensitivity.py."""

from __future__ import annotations

import math

import pytest

from mlsysim import Assumptions, Engine, Hardware, Models, Systems
from mlsysim.errors import MlsysimError
from mlsysim.solvers.sensitivity import SensitivitySolver, binding_term, elasticities, log_elasticity


def test_log_elasticity_of_a_power_law_is_its_exponent():
    """Hand-derived: for f(x) = c x^k, d ln f / d ln x = k exactly (the central log
    difference is exact for a power law)."""
    assert log_elasticity(lambda x: 3.0 * x ** -1.5, 7.0) == pytest.approx(-1.5, rel=1e-12)
    assert log_elasticity(lambda x: 2.0, 7.0) == 0.0


def test_pure_roofline_memory_bound_is_minus_one_in_bandwidth():
    """Williams et al. 2009 (doi:10.1145/1498765.1498785): below the ridge point the time is
    bytes / bandwidth, so d ln T / d ln bandwidth = -1 and d ln T / d ln peak = 0.
    Numbers: 1 GFLOP and 1 GB moved on 1 PFLOP/s, 3 TB/s (intensity 1 << ridge 333)."""
    def t(x):
        return max(1e9 / x["peak"], 1e9 / x["bandwidth"])
    e = elasticities(t, {"peak": 1e15, "bandwidth": 3e12})
    assert e["bandwidth"] == pytest.approx(-1.0, rel=1e-9)
    assert e["peak"] == pytest.approx(0.0, abs=1e-12)
    assert binding_term(e) == "bandwidth"


def test_decode_step_is_bandwidth_bound():
    """A batch-1 decode step of Llama 3 8B on an H100 is memory-bound: its elasticity with
    respect to memory bandwidth is ~ -1, diluted only by the fixed kernel-launch overhead:
    hand-derived, d ln (t_mem + t_ovh) / d ln BW = -t_mem / (t_mem + t_ovh); w.r.t. peak
    compute it is 0, and the roofline memory time alone has elasticity exactly -1."""
    model, hw = Models.Language.Llama3_8B, Hardware.Cloud.H100
    base = Engine.solve(model=model, hardware=hw, batch_size=1, precision="fp16")
    r = SensitivitySolver().solve(model, hw, batch_size=1, precision="fp16")
    assert r.binding == "memory_bandwidth" and r.feasible
    expected = -base.si["latency_memory"] / base.si["latency"]
    assert r.elasticities["memory_bandwidth"] == pytest.approx(expected, rel=1e-6)
    assert -1.0 <= r.elasticities["memory_bandwidth"] < -0.5
    assert r.elasticities["peak_compute"] == pytest.approx(0.0, abs=1e-9)
    assert r.elasticities["memory_capacity"] == 0.0
    assert r.value == pytest.approx(base.si["latency"])
    mem = SensitivitySolver().solve(model, hw, batch_size=1, precision="fp16", quantity="latency_memory")
    assert mem.elasticities["memory_bandwidth"] == pytest.approx(-1.0, rel=1e-9)
    # the record was not changed by the perturbations
    assert Engine.solve(model=model, hardware=hw, batch_size=1, precision="fp16").si == base.si
    d = r.to_dict()
    assert d["binding"] == "memory_bandwidth" and d["lineage"]


def test_large_prefill_is_compute_bound():
    """2048-token prefill of Llama 3 8B: its GEMMs' and attention's intensity is far above the
    H100's ridge, so the binding term is peak compute; only the element-wise kernels'
    activation traffic answers to the bandwidth (-t_elementwise / latency)."""
    r = SensitivitySolver().solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, batch_size=1, seq_len=2048)
    base = Engine.solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, batch_size=1, seq_len=2048)
    assert r.binding == "peak_compute"
    assert r.elasticities["memory_bandwidth"] == pytest.approx(-base.si["latency_elementwise"] / base.si["latency"],
                                                               rel=1e-6)
    assert -1.0 <= r.elasticities["peak_compute"] < -0.5


def test_model_that_does_not_fit_is_capacity_bound():
    """Llama 3 70B in fp16 (~141 GB of weights) does not fit in an H100's 80 GB."""
    r = SensitivitySolver().solve(Models.Language.Llama3_70B, Hardware.Cloud.H100, batch_size=1)
    assert not r.feasible and r.binding == "memory_capacity"
    assert r.memory_usage > r.memory_capacity


def test_training_step_has_interconnect_elasticities():
    """GPT-3 on 64 H100s with TP 8 x PP 8: the step is mostly compute; the tensor-parallel
    all-reduces ride the intra-node links, so their elasticity is negative and the sum of
    the time-share elasticities stays within [-1, 0]. First-principles mode (the default):
    a measured end-to-end MFU already contains the communication, so nothing is left to vary."""
    r = SensitivitySolver().training(Models.Language.GPT3, Systems.Clusters.Lab_64_H100, 512,
                                     tp=8, pp=8, seq_len=2048, recompute="full")
    e = r.elasticities
    assert r.binding == "peak_compute" and r.feasible
    assert e["interconnect_bandwidth_intra_node"] < 0
    assert -1.0 - 1e-6 <= sum(e.values()) <= 0.0


@pytest.mark.parametrize("kwargs, match", [
    ({"quantity": "power"}, "quantity must be one of"),
    ({"rel_step": 0.0}, r"rel_step must be in \(0, 0.5\]"),
    ({"rel_step": 2.0}, r"rel_step must be in \(0, 0.5\]"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(MlsysimError, match=match):
        SensitivitySolver().solve(Models.Language.Llama3_8B, Hardware.Cloud.H100, **kwargs)


def test_bad_point():
    with pytest.raises(MlsysimError, match="positive finite input"):
        log_elasticity(math.exp, -1.0)
