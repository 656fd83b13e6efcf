"""Tests for mlsysim/solvers/scaling.py."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.scaling import (
    InferenceScalingModel,
    ScalingModel,
    compute_optimal_allocation,
    parametric_loss,
    ratio_allocation,
    reasoning_totals,
    training_compute,
)
from tests.conftest import FIXTURE_CATALOG

CHINCHILLA = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
BUDGET = 6 * 70e9 * 1.4e12  # Chinchilla's training compute by C = 6 N D: 5.88e23 FLOP


def test_chinchilla_rule_reproduces_chinchilla():
    """Hoffmann et al. 2022 (as summarised by Epoch AI, 2024): Chinchilla, 70B parameters on 1.4
    trillion tokens, 20 tokens per parameter. At its budget C = 6 x 70e9 x 1.4e12 = 5.88e23 FLOP the
    20-tokens-per-parameter rule gives back exactly 70B and 1.4T; the fitted law predicts a loss of
    1.69 + 406.4 / (7e10)^0.34 + 410.7 / (1.4e12)^0.28 = 1.69 + 0.0835 + 0.1632 = 1.9366 nats (by hand)."""
    r = ScalingModel().solve(BUDGET)
    assert r.rule_parameters == pytest.approx(70e9, rel=1e-12)
    assert r.rule_tokens == pytest.approx(1.4e12, rel=1e-12)
    assert r.rule_loss == pytest.approx(1.9366, abs=5e-5)
    # the law's own optimum is lower-loss and more data-hungry than the rule (Besiroglu et al. 2024)
    assert r.loss < r.rule_loss and r.tokens_per_parameter > 20
    assert training_compute(r.parameters, r.tokens) == pytest.approx(BUDGET)
    paths = {e.path for e in r.lineage.entries()}
    assert "assumptions/chinchilla_loss_parameter_exponent#quantity" in paths
    assert "assumptions/chinchilla_tokens_per_parameter#quantity" in paths


def test_frontier_exponents():
    """Hoffmann et al. 2022, Eq. 4: N_opt grows as C^(beta/(alpha+beta)) = C^0.452 with the fitted
    exponents (0.28 / 0.62), D_opt as C^0.548."""
    n1, d1 = compute_optimal_allocation(1e21, **{k: v for k, v in CHINCHILLA.items() if k != "E"})
    n2, d2 = compute_optimal_allocation(1e23, **{k: v for k, v in CHINCHILLA.items() if k != "E"})
    assert math.log(n2 / n1, 100) == pytest.approx(0.28 / 0.62)
    assert math.log(d2 / d1, 100) == pytest.approx(0.34 / 0.62)
    n, d = ratio_allocation(1.2e21, 20)
    assert n == pytest.approx(math.sqrt(1.2e21 / 120)) and d == pytest.approx(20 * n)


@settings(max_examples=50, deadline=None)
@given(c=st.floats(1e18, 1e27), factor=st.floats(1.05, 20))
def test_the_closed_form_is_the_iso_flop_minimum(c, factor):
    """Invariant: moving N away from N_opt either way along C = 6 N D raises the loss."""
    coeffs = {k: v for k, v in CHINCHILLA.items() if k != "E"}
    n, d = compute_optimal_allocation(c, **coeffs)
    best = parametric_loss(n, d, **CHINCHILLA)
    for m in (n * factor, n / factor):
        assert parametric_loss(m, c / (6 * m), **CHINCHILLA) > best


def test_catalog_without_the_coefficients_is_a_clear_error():
    with pytest.raises(MlsysimError, match="chinchilla_loss"):
        ScalingModel().solve(1e23, catalog=load_catalog(FIXTURE_CATALOG))
    with pytest.raises(MlsysimError, match="compute must be > 0"):
        ScalingModel().solve(0)


def test_reasoning_cost_by_hand():
    """8 steps of 250 tokens = 2000 generated tokens; at 20 ms per token after a 0.5 s prefill a request
    takes 0.5 + 40 = 40.5 s; 100 requests at 2 J and 1e-5 USD per token spend 400 kJ and 2 USD."""
    r = InferenceScalingModel().solve(250, 8, latency_per_token=0.02, requests=100, prefill_time=0.5,
                                      energy_per_token=2.0, cost_per_token=1e-5)
    assert r.tokens_per_request == 2000 and r.total_tokens == 200_000
    assert r.time_per_request == pytest.approx(40.5)
    assert r.energy == pytest.approx(400e3) and r.cost == pytest.approx(2.0)
    assert r.to_dict()["lineage"] == []


def test_latency_growing_with_context():
    """A per-token latency a + b c over contexts p .. p+T-1 sums to T a + b (T p + T(T-1)/2)."""
    a, b, p, t = 0.01, 1e-6, 1000, 500
    total = reasoning_totals(p, t, lambda c: a + b * c)
    assert total == pytest.approx(t * a + b * (t * p + t * (t - 1) / 2))
    r = InferenceScalingModel().solve(100, 5, latency_per_token=lambda c: a + b * c, prompt_tokens=p)
    assert r.time_per_request == pytest.approx(total) and r.energy is None and r.cost is None
    with pytest.raises(MlsysimError, match="finite values >= 0"):
        reasoning_totals(0, 10, lambda c: -c)
    with pytest.raises(MlsysimError, match="steps must be a whole number >= 1"):
        InferenceScalingModel().solve(100, 0, latency_per_token=0.01)
