"""Tests for mlsysim/solvers/weight_streaming.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim.catalog import default_catalog, load_catalog
from mlsysim.errors import InfeasibleError, MlsysimError
from mlsysim.solvers.weight_streaming import (
    WeightStreamingModel,
    balanced_tokens,
    compute_time,
    sram_token_limit,
    step_time,
    streaming_time,
)
from tests.conftest import FIXTURE_CATALOG


def test_cs3_balanced_batch_by_hand():
    """Hand-derived from the catalog's cited CS-3 figures: 125 PFLOP/s fp16 (Tom's Hardware, WSE-3
    launch) and 1.2 Tb/s = 150 GB/s of CS-system I/O (ALCF SC24 Cerebras tutorial). Inference streams
    2 B per parameter once and computes 2 FLOP per parameter per token, so the batch at which compute
    hides the stream is T* = 2 x 125e15 / (2 x 150e9) = 833,333 tokens per step, whatever the model size."""
    catalog = default_catalog()
    cs3 = catalog.get("hardware", "cerebras_cs3")
    for params in (7e9, 70e9, 1e12):
        r = WeightStreamingModel().solve(params, 1000, hardware=cs3, catalog=catalog)
        assert r.stream_bandwidth == pytest.approx(150e9)
        assert r.balanced_tokens == pytest.approx(833_333.3, rel=1e-6)
        assert r.bound == "streaming"
    paths = [e.path for e in r.lineage.entries()]
    assert "assumptions/cerebras_cs_system_io_bandwidth#quantity" in paths
    assert any(p.startswith("hardware/cerebras_cs3#compute.fp16") for p in paths)


def test_step_is_the_longer_of_compute_and_streaming():
    """70B parameters in bf16 over 150 GB/s: t_w = 140e9 / 150e9 = 0.933 s per forward pass; at 1e6
    tokens and 100 PFLOP/s, t_c = 2 x 70e9 x 1e6 / 1e17 = 1.4 s: compute-bound."""
    r = WeightStreamingModel().solve(70e9, 1e6, compute_rate=1e17, stream_bandwidth=150e9)
    assert r.streaming_time == pytest.approx(140e9 / 150e9)
    assert r.compute_time == pytest.approx(1.4)
    assert r.step_time == r.compute_time and r.bound == "compute"
    assert r.throughput == pytest.approx(1e6 / 1.4)
    train = WeightStreamingModel().solve(70e9, 1e6, compute_rate=1e17, stream_bandwidth=150e9, training=True)
    assert train.streamed_bytes == 2 * r.streamed_bytes and train.compute_time == pytest.approx(3 * r.compute_time)


def test_sram_limit_and_errors():
    assert sram_token_limit(44e9, 1e5) == pytest.approx(440_000)
    with pytest.raises(InfeasibleError, match="use at most 440000 tokens per step"):
        WeightStreamingModel().solve(70e9, 5e5, compute_rate=1e17, stream_bandwidth=150e9, sram_capacity=44e9,
                                     activation_bytes_per_token=1e5)
    with pytest.raises(MlsysimError, match="pass hardware="):
        WeightStreamingModel().solve(70e9, 1e3, stream_bandwidth=150e9)
    with pytest.raises(MlsysimError, match="stream_bandwidth must be > 0"):
        WeightStreamingModel().solve(70e9, 1e3, compute_rate=1e17, stream_bandwidth=0)
    with pytest.raises(MlsysimError, match="efficiency must be in"):
        WeightStreamingModel().solve(70e9, 1e3, compute_rate=1e17, stream_bandwidth=1e9, efficiency=1.5)


def test_a_catalog_without_a_stream_bandwidth_says_so():
    fixture = load_catalog(FIXTURE_CATALOG)
    with pytest.raises(MlsysimError, match="no assumption 'cerebras_cs_system_io_bandwidth'; pass stream_bandwidth="):
        WeightStreamingModel().solve(70e9, 1e3, compute_rate=1e17, catalog=fixture)


@settings(max_examples=60, deadline=None)
@given(w=st.floats(1e6, 1e13), bw=st.floats(1e9, 1e13), f=st.floats(1e6, 1e13), p=st.floats(1e12, 1e18))
def test_at_the_balanced_batch_compute_equals_streaming(w, bw, f, p):
    """Invariant: at T*, t_c = t_w; below it the step is the streaming time, above it the compute time."""
    t_star = balanced_tokens(w, bw, f, p)
    tw = streaming_time(w, bw)
    assert compute_time(f, t_star, p) == pytest.approx(tw, rel=1e-9)
    assert step_time(compute_time(f, t_star / 2, p), tw) == pytest.approx(tw)
    assert step_time(compute_time(f, t_star * 2, p), tw) == pytest.approx(2 * tw)
