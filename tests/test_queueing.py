"""Tests for mlsysim/solvers/queueing.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim.errors import InfeasibleError, MlsysimError
from mlsysim.solvers.queueing import (
    TailLatencyModel,
    allen_cunneen_wait,
    erlang_c,
    kingman_wait,
    mmc_mean_wait,
    mmc_sojourn_quantile,
    mmc_sojourn_survival,
    mmc_wait_quantile,
    utilization,
)


def test_mm1_response_time_is_exponential():
    """Hand-derived M/M/1 (Harchol-Balter 2013, Ch. 14): P(wait) = rho, W_q = rho / (mu - lambda),
    response time T ~ Exp(mu - lambda), so E[T] = 1/(mu - lambda) and the p-quantile is
    -ln(1 - p) / (mu - lambda). lambda = 8/s, mu = 10/s: E[T] = 0.5 s, P99 = ln(100)/2 s."""
    assert erlang_c(8, 10, 1) == pytest.approx(0.8)
    assert mmc_mean_wait(8, 10, 1) + 1 / 10 == pytest.approx(1 / (10 - 8))
    result = TailLatencyModel().solve(8, 0.1, 1)
    assert result.mean_latency == pytest.approx(0.5, rel=1e-12)
    assert result.p99_latency == pytest.approx(math.log(100) / 2, rel=1e-9)
    assert result.p50_latency == pytest.approx(math.log(2) / 2, rel=1e-9)
    assert result.method == "M/M/c exact"
    for t in (0.0, 0.1, 1.0, 3.0):
        assert mmc_sojourn_survival(t, 8, 10, 1) == pytest.approx(math.exp(-2 * t), rel=1e-9)


def test_erlang_c_textbook_values():
    """Erlang C by hand: c = 3 servers, offered load a = 2 Erlang: B(3, 2) = (8/6) / (1 + 2 + 2 + 8/6)
    = 4/19, C = B / (1 - (2/3)(1 - B)) = 4/9. M/M/2 textbook closed form (Gross & Harris; Harchol-Balter
    2013 Ch. 14): L_q = 2 rho^3 / (1 - rho^2), so at lambda = mu = 1, rho = 1/2: W_q = L_q / lambda = 1/3."""
    assert erlang_c(2.0, 1.0, 3) == pytest.approx(4 / 9, rel=1e-12)
    assert mmc_mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3, rel=1e-12)
    rho = 0.8
    assert mmc_mean_wait(2 * rho, 1.0, 2) * 2 * rho == pytest.approx(2 * rho**3 / (1 - rho**2), rel=1e-12)


def test_wait_quantile_is_zero_for_requests_that_do_not_wait():
    """M/M/c: a fraction 1 - C of requests never waits, so quantiles below it are 0; above it,
    ln(C / (1 - p)) / (c mu - lambda)."""
    c = erlang_c(2.0, 1.0, 3)  # 4/9
    assert mmc_wait_quantile(0.5, 2.0, 1.0, 3) == 0.0
    assert mmc_wait_quantile(0.99, 2.0, 1.0, 3) == pytest.approx(math.log(c / 0.01) / 1.0, rel=1e-12)


def test_mg1_pollaczek_khinchine():
    """M/D/1 (Pollaczek-Khinchine, Kingman 1961 exact case): W_q = rho / (2 mu (1 - rho)).
    rho = 0.5, mu = 1: W_q = 0.5 s, half the M/M/1 wait of 1 s."""
    assert kingman_wait(0.5, 1.0, service_cv=0.0) == pytest.approx(0.5)
    assert allen_cunneen_wait(0.5, 1.0, 1, service_cv=0.0) == pytest.approx(0.5)
    assert allen_cunneen_wait(0.5, 1.0, 1, service_cv=1.0) == pytest.approx(mmc_mean_wait(0.5, 1.0, 1))
    result = TailLatencyModel().solve(0.5, 1.0, 1, service_cv=0.0)
    assert result.mean_wait == pytest.approx(0.5)
    assert "approximate" in result.method


def test_unstable_queue_is_infeasible_and_names_the_fix():
    with pytest.raises(InfeasibleError, match=r"utilization 1\.2 >= 1.*at least 2 servers"):
        TailLatencyModel().solve(12, 0.1, 1)
    assert mmc_mean_wait(12, 10, 1) == math.inf
    assert mmc_sojourn_quantile(0.5, 12, 10, 1) == math.inf


@pytest.mark.parametrize("kwargs, match", [
    ({"arrival_rate": 0, "service_time": 1}, r"arrival_rate must be > 0"),
    ({"arrival_rate": 1, "service_time": float("nan")}, r"service_time must be finite"),
    ({"arrival_rate": 1, "service_time": 1, "servers": 2.5}, r"servers must be a whole number >= 1"),
    ({"arrival_rate": 1, "service_time": 1, "service_cv": -1}, r"service_cv must be >= 0"),
])
def test_bad_arguments_name_the_parameter(kwargs, match):
    with pytest.raises(MlsysimError, match=match):
        TailLatencyModel().solve(**kwargs)


def test_arrays_broadcast():
    lam = np.array([1.0, 2.0, 2.5])
    w = mmc_mean_wait(lam, 1.0, 3)
    assert w.shape == (3,) and np.all(np.diff(w) > 0)
    assert utilization(lam, 1.0, 3)[1] == pytest.approx(2 / 3)
    assert np.allclose(erlang_c(2.0, 1.0, np.array([3, 4, 5])), [erlang_c(2.0, 1.0, k) for k in (3, 4, 5)])


def test_to_dict_is_plain():
    d = TailLatencyModel().solve(50, 0.01, 4).to_dict()
    assert d["servers"] == 4 and d["lineage"] == [] and 0 < d["utilization"] < 1


loads = st.floats(0.01, 0.98)
servers = st.integers(1, 64)


@settings(max_examples=60, deadline=None)
@given(rho=loads, c=servers, p=st.floats(0.01, 0.999))
def test_percentiles_are_ordered_and_bounded(rho, c, p):
    """Invariants: 0 <= P(wait) <= 1; T = W + S >= S and >= W, so T_p >= max(S_p, W_p); by the union
    bound P(T > a + b) <= P(W > a) + P(S > b), so T_p <= W_h + S_h with h = (1 + p)/2; the survival
    at the quantile is 1 - p."""
    mu = 1.0
    lam = rho * c * mu
    pw = erlang_c(lam, mu, c)
    assert 0 <= pw <= 1
    t = mmc_sojourn_quantile(p, lam, mu, c)
    h = (1 + p) / 2
    low = max(-math.log1p(-p) / mu, mmc_wait_quantile(p, lam, mu, c))
    high = -math.log1p(-h) / mu + mmc_wait_quantile(h, lam, mu, c)
    assert low * (1 - 1e-9) <= t <= high * (1 + 1e-9)
    assert mmc_sojourn_survival(t, lam, mu, c) == pytest.approx(1 - p, rel=1e-6, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(rho=st.floats(0.05, 0.95), c=st.integers(1, 32))
def test_more_servers_at_the_same_load_per_server_wait_less(rho, c):
    """Pooling: at equal utilization, c + 1 servers queue less than c (Erlang C decreases)."""
    assert erlang_c(rho * (c + 1), 1.0, c + 1) <= erlang_c(rho * c, 1.0, c) + 1e-12
