"""Tests for mlsysim/solvers/orchestration.py."""

from __future__ import annotations

import math

import pytest

from mlsysim import Systems
from mlsysim.errors import MlsysimError
from mlsysim.solvers.orchestration import JobClass, OrchestrationModel, erlang_c, mgc_wait


def test_single_server_matches_textbook_queues():
    """Hand-derived textbook values at rho = 0.5, E[S] = 1 s: M/M/1 waits rho / (mu - lambda)
    = 1 s; M/D/1 waits half that (Pollaczek-Khinchine: rho E[S] (1 + cs2) / (2 (1 - rho)) = 0.5 s).
    One 8-GPU job class on an 8-GPU fleet is such a single server."""
    mm1 = OrchestrationModel().solve(8, JobClass(arrival_rate=0.5, gpus=8, mean_duration=1.0))
    assert mm1.slots == 1 and mm1.mean_wait == pytest.approx(1.0)
    assert mm1.utilization == pytest.approx(0.5) and mm1.p_wait == pytest.approx(0.5)
    md1 = OrchestrationModel().solve(8, JobClass(arrival_rate=0.5, gpus=8, mean_duration=1.0, duration_scv=0.0))
    assert md1.mean_wait == pytest.approx(0.5)
    assert md1.mean_turnaround == pytest.approx(1.5)


def test_erlang_c_two_servers():
    """Hand-derived Erlang C for c = 2, A = 1: (A^2/2! x 2/(2-1)) / (1 + A + that) = 1/3; the
    M/M/2 wait is C / (c mu - lambda) = 1/3 s."""
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mgc_wait(1.0, 1.0, 1.0, 2) == pytest.approx(1 / 3)
    assert mgc_wait(2.0, 1.0, 1.0, 2) == math.inf


def test_large_fleet_is_numerically_stable():
    """Erlang C stays a probability at 10,000 servers (the recursion never forms A^c / c!),
    and the pooling effect holds: at the same 95% utilisation a bigger pool waits less."""
    small, big = erlang_c(100, 95.0), erlang_c(10000, 9500.0)
    assert 0 < big < small < 1


def test_job_mix_and_cluster_record():
    """A 64-GPU cluster (Lab_64_H100) running 8-GPU jobs has 8 slots; the load-weighted slot size
    of a mix of 8-GPU (2 h) and 1-GPU (1 h) jobs at equal rates is (8 x 2 + 1 x 1) / 3 GPUs."""
    r = OrchestrationModel().solve(Systems.Clusters.Lab_64_H100, JobClass(1 / 3600, 8, 7200.0))
    assert r.gpus == 64 and r.slots == 8 and r.stable
    assert r.utilization == pytest.approx(8 * 2 / 64)
    mix = OrchestrationModel().solve(64, [JobClass(1 / 3600, 8, 7200.0), JobClass(1 / 3600, 1, 3600.0)])
    assert mix.slot_gpus == pytest.approx(17 / 3)
    assert mix.mean_duration == pytest.approx(5400.0)
    assert mix.utilization == pytest.approx((16 + 1) / 64)


def test_overload_is_unstable():
    r = OrchestrationModel().solve(16, JobClass(arrival_rate=1.0, gpus=8, mean_duration=2.0))
    assert not r.stable and r.mean_wait == math.inf and r.utilization == pytest.approx(1.0)


@pytest.mark.parametrize("make, match", [
    (lambda: JobClass(0, 1, 1.0), "JobClass.arrival_rate must be a positive"),
    (lambda: JobClass(1.0, 0, 1.0), r"JobClass.gpus must be a whole number >= 1"),
    (lambda: JobClass(1.0, 1, 1.0, -1.0), r"JobClass.duration_scv must be >= 0"),
    (lambda: OrchestrationModel().solve(4, JobClass(1.0, 8, 1.0)), "needs 8 GPUs but the fleet has 4"),
    (lambda: OrchestrationModel().solve(0, JobClass(1.0, 1, 1.0)), "fleet must have >= 1 GPU"),
    (lambda: OrchestrationModel().solve(8, []), "jobs must be one or more JobClass"),
])
def test_bad_arguments(make, match):
    with pytest.raises(MlsysimError, match=match):
        make()
