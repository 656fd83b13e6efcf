"""Tests for mlsysim/solvers/reliability.py."""

from __future__ import annotations

import math

import pytest

from mlsysim import Models, Systems
from mlsysim.catalog import default_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.reliability import (
    HARDWARE_COMPONENTS,
    ReliabilityModel,
    checkpoint_bytes,
    daly_interval,
    expected_wall_time,
    young_interval,
)

SNAPSHOT = 54 * 86400


def test_llama3_interruptions_from_component_rates():
    """Llama Team 2024, "The Llama 3 Herd of Models", arXiv 2407.21783, Sec. 3.3.4: 16,384 H100
    GPUs over a 54-day snapshot had 419 unexpected interruptions. Target: within a factor 1.5.

    The component rates come from the same paper's Table 5, so with every root-cause class the
    prediction reproduces 419 by construction (this checks the per-accelerator scaling and the
    period arithmetic). With hardware classes only (GPU, host, network: 268 + 21 + 35) it is
    324, an error of -22.7% (factor 1.29), the part a hardware failure model explains.
    No rate measured on another fleet is checked here: the candidate, Meta's RSC-1/RSC-2 node
    failure rates (Kokolis et al. 2024, arXiv 2410.21680), could not be read from the paper's
    own text with the project's search tools, so no catalog value cites it."""
    everything = ReliabilityModel().solve(16384, SNAPSHOT, model=Models.Language.Llama3_1_405B)
    assert everything.expected_interruptions == pytest.approx(419, rel=1e-9)
    hardware = ReliabilityModel().solve(16384, SNAPSHOT, model=Models.Language.Llama3_1_405B, components=HARDWARE_COMPONENTS)
    assert hardware.expected_interruptions == pytest.approx(324, rel=1e-9)
    assert 1 / 1.5 <= hardware.expected_interruptions / 419 <= 1.5
    assert everything.mtbf / 3600 == pytest.approx(54 * 24 / 419)  # the paper's ~3 hours


def test_scaling_with_devices_and_time():
    small = ReliabilityModel().solve(Systems.Clusters.Research_256, 86400, model=Models.Language.Llama3_8B)
    big = ReliabilityModel().solve(Systems.Clusters.Frontier_8K, 86400, model=Models.Language.Llama3_8B)
    assert big.failure_rate == pytest.approx(small.failure_rate * 8192 / 256)
    assert big.p_failure > small.p_failure
    assert small.p_failure == pytest.approx(-math.expm1(-small.expected_interruptions))
    assert big.goodput < small.goodput < 1


def test_checkpoint_size_matches_megatron_1t():
    """Narayanan et al. 2021, arXiv 2104.04473, Sec. 5.10: the trillion-parameter model has a
    13.8 TB checkpoint. 16-bit weights + 12 bytes of fp32 Adam state (Rajbhandari et al. 2020,
    the cited assumption) give 14 TB (+1.4%)."""
    from mlsysim.lineage import Lineage
    from mlsysim.solvers.fleet import bytes_per_element, optimizer_state_bytes

    adam = optimizer_state_bytes(default_catalog(), "bf16", Lineage())
    assert adam == 12
    assert checkpoint_bytes(1e12, bytes_per_element("bf16"), adam) / 1e12 == pytest.approx(13.8, rel=0.02)
    # Training in fp32 keeps no separate fp32 copy of the weights: 8 bytes of moments.
    assert optimizer_state_bytes(default_catalog(), "fp32", Lineage()) == 8


def test_young_and_daly():
    """Young 1974: sqrt(2 delta M). Daly 2006: higher-order correction, and M when delta >= 2M."""
    assert young_interval(60, 3600) == pytest.approx(math.sqrt(2 * 60 * 3600))
    d = daly_interval(60, 3600)
    x = 60 / 7200
    assert d == pytest.approx(math.sqrt(2 * 60 * 3600) * (1 + math.sqrt(x) / 3 + x / 9) - 60)
    assert daly_interval(8000, 3600) == 3600
    # No failures in sight: wall time tends to work x (1 + delta / tau).
    assert expected_wall_time(1000, 100, 10, 0, 1e12) == pytest.approx(1100, rel=1e-6)


def test_bad_inputs():
    with pytest.raises(MlsysimError, match="pass model="):
        ReliabilityModel().solve(8, 3600)
    with pytest.raises(MlsysimError, match="unknown component class 'gpus'"):
        ReliabilityModel().solve(8, 3600, checkpoint_size=1e9, components=("gpus",))
    with pytest.raises(MlsysimError, match="is a information, not a bandwidth|not a bandwidth"):
        ReliabilityModel().solve(8, 3600, checkpoint_size=1e9,
                                 write_bandwidth=default_catalog().get("assumptions", "checkpoint_size_megatron_1t"))


def test_exposure_is_solve_without_the_length():
    """exposure(...) reads the catalog once; .over(duration) is ReliabilityModel.solve."""
    from mlsysim.solvers.reliability import exposure

    e = exposure(Systems.Clusters.Frontier_8K, model=Models.Language.Llama3_70B)
    assert e is exposure(Systems.Clusters.Frontier_8K, model=Models.Language.Llama3_70B)
    for days in (1.0, 30.0):
        solved = ReliabilityModel().solve(Systems.Clusters.Frontier_8K, days * 86400, model=Models.Language.Llama3_70B)
        assert e.over(days * 86400).to_dict() == solved.to_dict()
    with pytest.raises(MlsysimError, match="duration must be positive"):
        e.over(0)
