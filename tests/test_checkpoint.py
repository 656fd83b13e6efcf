"""Tests for mlsysim/solvers/checkpoint.py."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim.catalog import default_catalog, load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.checkpoint import (
    CheckpointModel,
    checkpoint_size,
    overhead,
    write_bandwidth,
    write_time,
)
from mlsysim.solvers.reliability import daly_interval, young_interval
from tests.conftest import FIXTURE_CATALOG


def test_trillion_parameter_checkpoint_matches_megatron():
    """Narayanan et al. 2021 (arXiv 2104.04473, Sec. 5.10): the 1-trillion-parameter model "has a
    checkpoint of size 13.8 terabytes"; bf16 weights + 12 B of fp32 Adam state give 14 TB (+1.4%).
    Rajbhandari et al. 2020 via Richards 2025 (Toronto CSC2541): with gradients the training state is
    ~16 TB. At Megatron's measured 273 GB/s a save takes 14e12 / 273e9 = 51.3 s."""
    catalog = default_catalog()
    megatron = catalog.get("assumptions", "checkpoint_size_megatron_1t").quantity.si
    r = CheckpointModel().solve(1e12, mtbf=3 * 3600, filesystem_bandwidth=catalog.get(
        "assumptions", "checkpoint_write_bandwidth_megatron"), catalog=catalog)
    assert r.size == pytest.approx(megatron, rel=0.02)
    assert r.training_state == pytest.approx(16e12)
    assert r.write_time == pytest.approx(14e12 / 273e9)
    paths = {e.path for e in r.lineage.entries()}
    assert "assumptions/adam_optimizer_state_bytes_mixed_precision#quantity" in paths
    assert "assumptions/checkpoint_write_bandwidth_megatron#quantity" in paths


def test_young_optimum_by_hand():
    """Young 1974: delta = 60 s, M = 3600 s gives tau = sqrt(2 x 60 x 3600) = 657.3 s, and to first order
    an overhead of sqrt(2 delta / M) = 18.3%; Daly's exact expected time gives 20.8% there."""
    tau = young_interval(60, 3600)
    assert tau == pytest.approx(657.27, rel=1e-4)
    assert overhead(tau, 60, 3600) == pytest.approx(0.2076, abs=5e-4)
    # small delta/M: the exact overhead approaches the first-order sqrt(2 delta/M)
    small = overhead(young_interval(1, 1e6), 1, 1e6)
    assert small == pytest.approx(math.sqrt(2 / 1e6), rel=0.01)


def test_fleet_mtbf_from_device_mttf():
    """MTBF = per-device MTTF / devices: the catalog's H100 MTTF (Llama 3, Table 5 GPU rows: 79,230 h)
    over 16,384 GPUs is 4.84 h; a 1T checkpoint at Llama 3's 2 TB/s sustained storage takes 7 s."""
    r = CheckpointModel().solve(1e12, devices=16384)
    assert r.mtbf / 3600 == pytest.approx(79230 / 16384, rel=1e-3)
    assert r.write_time == pytest.approx(7.0)
    assert 0 < r.overhead < 0.05 and r.goodput == pytest.approx(1 / (1 + r.overhead))
    assert r.to_dict()["optimizer"] == "adam"


def test_writers_and_filesystem_limit():
    assert write_bandwidth(100, 1e9, 50e9) == 50e9  # the file system caps 100 GB/s of writers
    assert write_bandwidth(10, 1e9, 50e9) == 10e9
    r = CheckpointModel().solve(7e9, mtbf=3600, writers=8, per_writer_bandwidth=2e9, filesystem_bandwidth=100e9)
    assert r.write_bandwidth == 16e9 and r.write_time == pytest.approx(7e9 * 14 / 16e9)
    assert checkpoint_size(7e9, 2, 0) == 14e9 and write_time(14e9, 1e9) == 14
    sgd = CheckpointModel().solve(7e9, mtbf=3600, optimizer="sgd_momentum", precision="fp32")
    assert sgd.size == 7e9 * 8 and sgd.training_state is None


def test_errors():
    with pytest.raises(MlsysimError, match="unknown optimizer 'lion'; valid optimizers: adam, sgd_momentum, none"):
        CheckpointModel().solve(1e9, mtbf=3600, optimizer="lion")
    with pytest.raises(MlsysimError, match="pass mtbf= in seconds or devices="):
        CheckpointModel().solve(1e9)
    with pytest.raises(MlsysimError, match="pass both writers= and per_writer_bandwidth="):
        CheckpointModel().solve(1e9, mtbf=3600, writers=4)
    with pytest.raises(MlsysimError, match="parameters must be > 0"):
        CheckpointModel().solve(-1, mtbf=3600)
    with pytest.raises(MlsysimError, match="adam_optimizer_state_bytes_mixed_precision"):
        CheckpointModel().solve(1e9, mtbf=3600, filesystem_bandwidth=1e9, catalog=load_catalog(FIXTURE_CATALOG))


@settings(max_examples=60, deadline=None)
@given(delta=st.floats(1, 600), m=st.floats(1e4, 1e6), scale=st.floats(1.5, 10))
def test_young_and_daly_intervals_are_near_the_minimum(delta, m, scale):
    """Invariant, for delta/M <= 0.06 (Young's first-order regime): moving the interval a factor >= 1.5
    away from Young's or Daly's optimum costs more time. (At delta = 589 s, M = 3600 s the exact
    optimum already lies more than 1.5x below Young's interval.)"""
    for tau in (young_interval(delta, m), daly_interval(delta, m)):
        best = overhead(tau, delta, m)
        assert overhead(tau * scale, delta, m) > best
        assert overhead(tau / scale, delta, m) > best
