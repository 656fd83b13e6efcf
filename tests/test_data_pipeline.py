"""Tests for mlsysim/solvers/data_pipeline.py."""

from __future__ import annotations

import pytest

from mlsysim import Assumptions, Models, Systems
from mlsysim.errors import MlsysimError
from mlsysim.solvers.data_pipeline import (
    DataModel,
    TransformationModel,
    data_demand,
    overlapped_step_time,
    prep_time_per_step,
    stall_factor,
)


def test_pure_functions():
    """Hand-derived (Mohan et al. 2021, arXiv 2007.06775: with prefetching, fetch and prep
    overlap the GPU step, so a stall is the excess of the slower stage): 110 kB per sample at
    10,000 samples/s is 1.1 GB/s; from a 0.5 GB/s disk the job runs 2.2x slower; 24 samples of
    5 ms CPU work on 4 cores take 30 ms."""
    assert data_demand(110e3, 1e4) == pytest.approx(1.1e9)
    assert stall_factor(1.1e9, 0.5e9) == pytest.approx(2.2)
    assert stall_factor(0.4e9, 0.5e9) == 1.0
    assert prep_time_per_step(5e-3, 24, 4) == pytest.approx(0.030)
    assert overlapped_step_time(0.030, 0.020) == 0.030


def test_fetch_stall_and_cache():
    """Same job: 2.2x stall without a cache; with 60% of bytes from DRAM the uncached demand is
    0.44 GB/s, under the disk's 0.5, so no stall. A slower network path becomes the bottleneck."""
    r = DataModel().solve(110e3, storage_bandwidth=0.5e9, samples_per_second=1e4)
    assert r.stalled and r.stall_factor == pytest.approx(2.2) and r.bottleneck == "storage"
    assert r.achieved_samples_per_second == pytest.approx(1e4 / 2.2)
    cached = DataModel().solve(110e3, storage_bandwidth=0.5e9, samples_per_second=1e4, cache_hit_fraction=0.6)
    assert not cached.stalled and cached.utilization == pytest.approx(0.88)
    net = DataModel().solve(110e3, storage_bandwidth=2e9, network_bandwidth=1.25e9, samples_per_step=256, step_time=0.02)
    assert net.bottleneck == "network" and net.samples_per_second == pytest.approx(12800)
    assert net.stall_factor == pytest.approx(110e3 * 12800 / 1.25e9)


def test_demand_from_a_training_result_and_cited_bandwidth():
    """A DistributedModel result supplies global batch / step time; a cited assumption supplies
    the storage bandwidth and appears in the lineage."""
    from mlsysim.solvers.distributed import DistributedModel

    t = DistributedModel().solve(Models.Language.GPT3, Systems.Clusters.Lab_64_H100, 512,
                                 efficiency=Assumptions.MFU_Megatron_1T, tp=8, pp=8, seq_len=2048,
                                 recompute="full")
    bw = Assumptions.get("checkpoint_storage_bandwidth_sustained")
    r = DataModel().solve(2048 * 2, storage_bandwidth=bw, training=t)
    assert r.samples_per_second == pytest.approx(512 / t.step_time)
    assert not r.stalled  # 4 kB token sequences are a trickle
    assert any("checkpoint_storage_bandwidth_sustained" in e.path for e in r.lineage.entries())


def test_prep_stall():
    """24 samples x 5 ms on 4 cores = 30 ms of prep against a 20 ms step: CPU-bound, the
    accelerators are busy 2/3 of the time, and 6 cores would keep up (24 x 5 ms / 20 ms)."""
    r = TransformationModel().solve(5e-3, 24, 4, 0.020)
    assert r.bottleneck == "cpu"
    assert r.accelerator_utilization == pytest.approx(2 / 3)
    assert r.slowdown == pytest.approx(1.5)
    assert r.cores_needed == pytest.approx(6.0)
    ok = TransformationModel().solve(5e-3, 24, 8, 0.020)
    assert ok.bottleneck == "accelerator" and ok.accelerator_utilization == 1.0


@pytest.mark.parametrize("kwargs, match", [
    ({"storage_bandwidth": 0, "samples_per_second": 1}, r"storage_bandwidth must be a positive finite number \[B/s\]"),
    ({"storage_bandwidth": 1e9}, "give the demand one way"),
    ({"storage_bandwidth": 1e9, "samples_per_second": 1, "step_time": 1}, "give the demand one way"),
    ({"storage_bandwidth": 1e9, "samples_per_second": 1, "cache_hit_fraction": 1.0}, r"cache_hit_fraction must be in \[0, 1\)"),
    ({"storage_bandwidth": 1e9, "samples_per_step": 8}, r"step_time must be a positive"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(MlsysimError, match=match):
        DataModel().solve(1e5, **kwargs)


def test_bad_transformation_arguments():
    with pytest.raises(MlsysimError, match=r"cores must be a positive finite number \[1\]"):
        TransformationModel().solve(1e-3, 8, 0, 0.1)
