"""Scaling: compute-optimal training (Chinchilla) and the cost of test-time reasoning.

Training. A dense transformer of N parameters trained on D tokens costs C = k N D FLOP
(k = 6: 2 FLOP per multiply-accumulate, forward plus a backward twice as long). Hoffmann
et al. fit its final loss as

  L(N, D) = E + A / N^alpha + B / D^beta                                   [nats/token]

and minimising L under C = k N D gives the efficient frontier in closed form

  N_opt = G (C/k)^a,  D_opt = G^-1 (C/k)^b,
  G = (alpha A / (beta B))^(1/(alpha+beta)),  a = beta/(alpha+beta),  b = alpha/(alpha+beta).

The rule of thumb D = r N (r ~ 20 tokens per parameter) gives N = sqrt(C / (k r)).

Inference-time (test-time) compute. A request that reasons for s steps of t tokens
generates T = s t tokens after its prompt; with a per-token latency, energy and price that
may depend on the context length c, its time is the prefill time plus the sum over the
generated tokens of latency(c), and likewise for energy and cost; R requests multiply the
energy and the cost (the time is per request).

References
----------
Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv 2203.15556
(Eq. 2 the parametric loss, Eq. 4 its efficient frontier; Chinchilla 70B on 1.4T tokens).
Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv 2001.08361, Sec. 2.1
(C ~ 6 N D).
Besiroglu et al. 2024, "Chinchilla Scaling: A replication attempt", arXiv 2404.10102
(the rounded published coefficients bias the law).
Snell et al. 2024, "Scaling LLM Test-Time Compute Optimally can be More Effective than
Scaling Model Parameters", arXiv 2408.03314; Wei et al. 2022, arXiv 2201.11903
(chain-of-thought reasoning spends generated tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlsysim.catalog import Catalog, inputs
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.results import result_dict
from mlsysim.solvers.checks import cited, nonnegative, out, positive, whole
from mlsysim.solvers.terms import cited_assumption

CHINCHILLA = {
    "E": "chinchilla_loss_irreducible",
    "A": "chinchilla_loss_parameter_coefficient",
    "B": "chinchilla_loss_data_coefficient",
    "alpha": "chinchilla_loss_parameter_exponent",
    "beta": "chinchilla_loss_data_exponent",
}
TOKENS_PER_PARAMETER = "chinchilla_tokens_per_parameter"


def training_compute(parameters: Any, tokens: Any, flop_per_parameter_token: Any = 6.0) -> Any:
    """Training compute C = k N D [FLOP].

    Parameters
    ----------
    parameters : float or array
        N [count].
    tokens : float or array
        D [token].
    flop_per_parameter_token : float
        k [FLOP] (6: forward 2 plus backward 4).

    Returns
    -------
    float or array
        C [FLOP].

    References
    ----------
    Kaplan et al. 2020, Sec. 2.1.
    """
    return out(positive("parameters", parameters) * positive("tokens", tokens, "token")
               * positive("flop_per_parameter_token", flop_per_parameter_token, "FLOP"))


def parametric_loss(parameters: Any, tokens: Any, E: float, A: float, B: float, alpha: float, beta: float) -> Any:
    """Final training loss L(N, D) = E + A / N^alpha + B / D^beta [nats/token].

    Parameters
    ----------
    parameters : float or array
        N [count].
    tokens : float or array
        D [token].
    E, A, B, alpha, beta : float
        Fitted coefficients [dimensionless].

    Returns
    -------
    float or array
        L [nats/token].

    References
    ----------
    Hoffmann et al. 2022, Eq. 2.
    """
    n = positive("parameters", parameters)
    d = positive("tokens", tokens, "token")
    _coefficients(E, A, B, alpha, beta)
    return out(E + A / n**alpha + B / d**beta)


def _coefficients(E: float, A: float, B: float, alpha: float, beta: float) -> None:
    nonnegative("E", E)
    for name, value in (("A", A), ("B", B), ("alpha", alpha), ("beta", beta)):
        positive(name, value)


def compute_optimal_allocation(compute: Any, A: float, B: float, alpha: float, beta: float,
                               flop_per_parameter_token: float = 6.0) -> tuple[Any, Any]:
    """Parameters and tokens minimising L(N, D) under C = k N D (the efficient frontier).

    N_opt = G (C/k)^(beta/(alpha+beta)), D_opt = G^-1 (C/k)^(alpha/(alpha+beta)),
    G = (alpha A / (beta B))^(1/(alpha+beta)). E does not move the optimum.

    Parameters
    ----------
    compute : float or array
        Budget C [FLOP].
    A, B, alpha, beta : float
        Fitted coefficients [dimensionless].
    flop_per_parameter_token : float
        k [FLOP].

    Returns
    -------
    (float or array, float or array)
        N_opt [count], D_opt [token].

    References
    ----------
    Hoffmann et al. 2022, Eq. 4.
    """
    c = positive("compute", compute, "FLOP")
    k = float(positive("flop_per_parameter_token", flop_per_parameter_token, "FLOP"))
    _coefficients(0.0, A, B, alpha, beta)
    g = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    n = g * (c / k) ** (beta / (alpha + beta))
    d = (c / k) ** (alpha / (alpha + beta)) / g
    return out(n), out(d)


def ratio_allocation(compute: Any, tokens_per_parameter: Any, flop_per_parameter_token: float = 6.0) -> tuple[Any, Any]:
    """Split a budget at a fixed token-to-parameter ratio r: N = sqrt(C / (k r)), D = r N.

    Parameters
    ----------
    compute : float or array
        C [FLOP].
    tokens_per_parameter : float or array
        r [token per parameter].
    flop_per_parameter_token : float
        k [FLOP].

    Returns
    -------
    (float or array, float or array)
        N [count], D [token].

    References
    ----------
    Hoffmann et al. 2022 (Chinchilla: 70B parameters on 1.4T tokens, r = 20).
    """
    c = positive("compute", compute, "FLOP")
    r = positive("tokens_per_parameter", tokens_per_parameter)
    k = positive("flop_per_parameter_token", flop_per_parameter_token, "FLOP")
    n = np.sqrt(c / (k * r))
    return out(n), out(r * n)


def reasoning_totals(prompt_tokens: int, generated_tokens: int, per_token: float | Callable[[np.ndarray], Any]) -> float:
    """Sum of a per-token quantity over the generated tokens of one request.

    sum over i = 0 .. T-1 of f(prompt + i): f may be a constant or a function of the context
    length in tokens (e.g. decode latency growing with the KV cache read each step).

    Parameters
    ----------
    prompt_tokens : int
        Context before generation starts [token], >= 0.
    generated_tokens : int
        T [token], >= 1.
    per_token : float or callable
        Seconds, joules or dollars per generated token, or a function mapping an array of
        context lengths [token] to those values.

    Returns
    -------
    float
        The total [s, J or USD as per_token].

    References
    ----------
    Snell et al. 2024 (test-time compute is spent as generated tokens).
    """
    p = int(whole("prompt_tokens", prompt_tokens, 0))
    t = int(whole("generated_tokens", generated_tokens))
    if callable(per_token):
        contexts = np.arange(p, p + t, dtype=float)
        values = np.broadcast_to(np.asarray(per_token(contexts), dtype=float), contexts.shape)
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise MlsysimError("per-token function must return finite values >= 0 for every context length")
        return float(values.sum())
    return float(nonnegative("per_token", per_token)) * t


@dataclass(frozen=True)
class ScalingResult:
    """Compute-optimal model and data for a training budget (SI units: FLOP, tokens, nats)."""

    compute: float  # [FLOP]
    parameters: float  # N_opt of the fitted law [count]
    tokens: float  # D_opt of the fitted law [token]
    loss: float  # predicted at (N_opt, D_opt) [nats/token]
    tokens_per_parameter: float  # D_opt / N_opt
    rule_parameters: float  # N at the rule-of-thumb ratio [count]
    rule_tokens: float  # [token]
    rule_loss: float  # [nats/token]
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class ScalingModel:
    """Chinchilla compute-optimal parameters and tokens for a training budget."""

    def solve(self, compute: float, *, flop_per_parameter_token: float = 6.0,
              catalog: Catalog | None = None) -> ScalingResult:
        """
        compute [FLOP]            training budget C
        flop_per_parameter_token  k in C = k N D (6 for a dense transformer)
        The fitted coefficients and the tokens-per-parameter rule are the catalog's cited
        chinchilla_* assumptions.
        """
        catalog = inputs.catalog_of(catalog=catalog)
        lineage = Lineage()
        c = float(positive("compute", compute, "FLOP"))
        k = float(positive("flop_per_parameter_token", flop_per_parameter_token, "FLOP"))
        co = {name: lineage.use(cited_assumption(catalog, rid, solver="scaling model")) for name, rid in CHINCHILLA.items()}
        ratio = lineage.use(cited_assumption(catalog, TOKENS_PER_PARAMETER, solver="scaling model"))
        n, d = compute_optimal_allocation(c, co["A"], co["B"], co["alpha"], co["beta"], k)
        rn, rd = ratio_allocation(c, ratio, k)
        return ScalingResult(
            compute=c, parameters=float(n), tokens=float(d), loss=float(parametric_loss(n, d, **co)),
            tokens_per_parameter=float(d / n), rule_parameters=float(rn), rule_tokens=float(rd),
            rule_loss=float(parametric_loss(rn, rd, **co)), lineage=lineage,
        )


@dataclass(frozen=True)
class InferenceScalingResult:
    """Time, energy and cost of reasoning with test-time compute (SI units, USD)."""

    requests: int
    tokens_per_request: int  # generated [token]
    total_tokens: int  # generated by all requests [token]
    time_per_request: float  # [s] prefill + sequential decode
    energy: float | None  # [J] all requests, None without a per-token energy
    cost: float | None  # [USD] all requests, None without a per-token price
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class InferenceScalingModel:
    """What reasoning (tokens per step x steps x requests) costs in time, energy and money."""

    def solve(self, tokens_per_step: int, steps: int, *, latency_per_token: Any,
              requests: int = 1, prompt_tokens: int = 0, prefill_time: float = 0.0,
              energy_per_token: Any = None, cost_per_token: Any = None) -> InferenceScalingResult:
        """
        tokens_per_step, steps   generated tokens per request = tokens_per_step x steps
        latency_per_token [s]    constant, cited value, or function of the context length
        requests                 independent requests (energy and cost scale with them)
        prompt_tokens            context before the first generated token
        prefill_time [s]         time to first token, added once per request
        energy_per_token [J]     constant, cited value or function of the context length
        cost_per_token [USD]     constant, cited value or function of the context length
        """
        lineage = Lineage()
        t = int(whole("tokens_per_step", tokens_per_step)) * int(whole("steps", steps))
        r = int(whole("requests", requests))
        prefill = float(nonnegative("prefill_time", prefill_time, "s"))

        def per(value: Any, name: str, dimension: str, unit: str) -> Any:
            return value if callable(value) else cited(name, value, lineage, dimension, unit)

        time = prefill + reasoning_totals(prompt_tokens, t, per(latency_per_token, "latency_per_token", "time", "s"))
        energy = None if energy_per_token is None else r * reasoning_totals(
            prompt_tokens, t, per(energy_per_token, "energy_per_token", "energy", "J"))
        cost = None if cost_per_token is None else r * reasoning_totals(
            prompt_tokens, t, per(cost_per_token, "cost_per_token", "currency", "USD"))
        return InferenceScalingResult(requests=r, tokens_per_request=t, total_tokens=r * t, time_per_request=time,
                                      energy=energy, cost=cost, lineage=lineage)
