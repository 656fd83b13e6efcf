"""Queueing delay and tail latency of a pool of identical servers (replicas).

Requests arrive as a Poisson process of rate lambda [1/s] and are served first come,
first served by c servers, each at rate mu = 1 / mean service time [1/s]:

  utilization           rho = lambda / (c mu)                      (stable only if rho < 1)
  Erlang C              P(wait) = B / (1 - rho (1 - B)),  B = Erlang B(c, a = lambda / mu)
  M/M/c mean wait       W_q = P(wait) / (c mu - lambda)
  M/M/c wait tail       P(W_q > t) = P(wait) exp(-(c mu - lambda) t)   (exact)
  M/M/c sojourn tail    P(T > t), T = W_q + S with S ~ Exp(mu) independent of W_q (exact)
  M/G/c mean wait       W_q ~ W_q(M/M/c) (c_a^2 + c_s^2) / 2             (Allen-Cunneen)
  G/G/1 mean wait       W_q ~ rho / (1 - rho) (c_a^2 + c_s^2) / 2 / mu   (Kingman)

References
----------
Erlang 1917, "Solution of some problems in the theory of probabilities of significance in
automatic telephone exchanges", Elektroteknikeren 13 (the delay formula, Erlang C).
Kingman 1961, "The single server queue in heavy traffic", Proc. Cambridge Philosophical
Society 57(4): 902-904.
Allen 1990, "Probability, Statistics, and Queueing Theory with Computer Science
Applications", 2nd ed., Academic Press (the Allen-Cunneen G/G/c approximation).
Harchol-Balter 2013, "Performance Modeling and Design of Computer Systems: Queueing Theory
in Action", Cambridge University Press, Ch. 14 (M/M/k, Erlang C) and Ch. 24 (M/G/k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlsysim.errors import InfeasibleError
from mlsysim.lineage import Lineage
from mlsysim.solvers.results import result_dict
from mlsysim.solvers.checks import nonnegative, out, positive, whole, within

QUANTILES = (0.5, 0.95, 0.99)


def utilization(arrival_rate: Any, service_rate: Any, servers: Any = 1) -> Any:
    """Server utilization rho = lambda / (c mu).

    Parameters
    ----------
    arrival_rate : float or array
        Mean request arrival rate lambda [1/s].
    service_rate : float or array
        Service rate of one server mu = 1 / mean service time [1/s].
    servers : int or array
        Number of identical servers c [count].

    Returns
    -------
    float or array
        rho [dimensionless]; the queue is stable only when rho < 1.

    References
    ----------
    Harchol-Balter 2013, Ch. 14.
    """
    lam = positive("arrival_rate", arrival_rate, "1/s")
    mu = positive("service_rate", service_rate, "1/s")
    c = whole("servers", servers)
    return out(lam / (c * mu))


def erlang_c(arrival_rate: Any, service_rate: Any, servers: Any = 1) -> Any:
    """Probability an arriving request must wait in an M/M/c queue (Erlang C).

    Erlang B is built by its stable recurrence B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))
    with offered load a = lambda / mu; then C = B / (1 - rho (1 - B)). An unstable queue
    (rho >= 1) waits with probability 1.

    Parameters
    ----------
    arrival_rate : float or array
        lambda [1/s].
    service_rate : float or array
        mu per server [1/s].
    servers : int or array
        c [count].

    Returns
    -------
    float or array
        P(wait) [dimensionless, 0..1].

    References
    ----------
    Erlang 1917; Harchol-Balter 2013, Sec. 14.5 (the Erlang-C formula).
    """
    lam = positive("arrival_rate", arrival_rate, "1/s")
    mu = positive("service_rate", service_rate, "1/s")
    c = whole("servers", servers)
    return out(_erlang_c(lam, mu, c))


def _erlang_c(lam: np.ndarray, mu: np.ndarray, c: np.ndarray) -> np.ndarray:
    a = lam / mu
    rho = a / c
    a, c, rho = np.broadcast_arrays(a, c, rho)
    b = np.ones_like(a, dtype=float)
    for k in range(1, int(np.max(c)) + 1):
        b = np.where(k <= c, a * b / (k + a * b), b)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = b / (1 - rho * (1 - b))
    return np.where(rho < 1, p, 1.0)


def _decay(lam: np.ndarray, mu: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Rate of the waiting time's exponential tail, c mu - lambda [1/s] (<= 0 if unstable)."""
    return c * mu - lam


def mmc_mean_wait(arrival_rate: Any, service_rate: Any, servers: Any = 1) -> Any:
    """Mean time in queue of an M/M/c queue: W_q = P(wait) / (c mu - lambda).

    Parameters
    ----------
    arrival_rate : float or array
        lambda [1/s].
    service_rate : float or array
        mu per server [1/s].
    servers : int or array
        c [count].

    Returns
    -------
    float or array
        W_q [s]; infinite where rho >= 1.

    References
    ----------
    Erlang 1917; Harchol-Balter 2013, Sec. 14.5.
    """
    lam = positive("arrival_rate", arrival_rate, "1/s")
    mu = positive("service_rate", service_rate, "1/s")
    c = whole("servers", servers)
    return out(_mmc_mean_wait(lam, mu, c))


def _mmc_mean_wait(lam: np.ndarray, mu: np.ndarray, c: np.ndarray) -> np.ndarray:
    theta = _decay(lam, mu, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = _erlang_c(lam, mu, c) / theta
    return np.where(theta > 0, w, np.inf)


def mmc_wait_quantile(p: Any, arrival_rate: Any, service_rate: Any, servers: Any = 1) -> Any:
    """The p-quantile of the M/M/c waiting time (exact).

    P(W_q > t) = C exp(-(c mu - lambda) t), so the quantile is 0 when p <= 1 - C (that share
    of requests does not wait at all) and ln(C / (1 - p)) / (c mu - lambda) above it.

    Parameters
    ----------
    p : float or array
        Quantile level, in (0, 1) [dimensionless].
    arrival_rate, service_rate : float or array
        lambda, mu per server [1/s].
    servers : int or array
        c [count].

    Returns
    -------
    float or array
        Waiting time [s] that a fraction p of requests do not exceed; infinite if rho >= 1.

    References
    ----------
    Harchol-Balter 2013, Sec. 14.5 (the waiting time of M/M/k given that a request waits is
    exponential with rate k mu - lambda).
    """
    q = within("p", p, 0.0, 1.0, open_low=True, open_high=True)
    lam = positive("arrival_rate", arrival_rate, "1/s")
    mu = positive("service_rate", service_rate, "1/s")
    c = whole("servers", servers)
    return out(_exp_tail_quantile(q, _erlang_c(lam, mu, c), _decay(lam, mu, c)))


def _exp_tail_quantile(q: np.ndarray, p_wait: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Quantile of a wait that is 0 with probability 1 - p_wait, else Exp(theta)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(p_wait / (1 - q)) / theta
    t = np.where(q <= 1 - p_wait, 0.0, t)
    return np.where(theta > 0, t, np.inf)


def mmc_sojourn_survival(t: Any, arrival_rate: Any, service_rate: Any, servers: Any = 1) -> Any:
    """P(T > t) for the response (sojourn) time T = W_q + S of an M/M/c queue (exact).

    With C = P(wait), theta = c mu - lambda and the request's own service S ~ Exp(mu)
    independent of its wait,

      P(T > t) = (1 - C) e^(-mu t) + C (theta e^(-mu t) - mu e^(-theta t)) / (theta - mu),

    whose last term is (1 + mu t) e^(-mu t) when theta = mu. For c = 1 it reduces to
    e^(-(mu - lambda) t): the M/M/1 response time is exponential with mean 1 / (mu - lambda).

    Parameters
    ----------
    t : float or array
        Time [s], >= 0.
    arrival_rate, service_rate : float or array
        lambda, mu per server [1/s].
    servers : int or array
        c [count].

    Returns
    -------
    float or array
        Survival probability [dimensionless]; 1 where rho >= 1.

    References
    ----------
    Harchol-Balter 2013, Ch. 14 (M/M/k response time = queueing time + service time).
    """
    tt = nonnegative("t", t, "s")
    lam = positive("arrival_rate", arrival_rate, "1/s")
    mu = positive("service_rate", service_rate, "1/s")
    c = whole("servers", servers)
    return out(_sojourn_survival(tt, lam, mu, c))


def _sojourn_survival(t: np.ndarray, lam: np.ndarray, mu: np.ndarray, c: np.ndarray) -> np.ndarray:
    p_wait = _erlang_c(lam, mu, c)
    theta = _decay(lam, mu, c)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        close = np.abs(theta - mu) <= 1e-9 * mu
        hypo = np.where(close, (1 + mu * t) * np.exp(-mu * t),
                        (theta * np.exp(-mu * t) - mu * np.exp(-theta * t)) / np.where(close, 1.0, theta - mu))
        s = (1 - p_wait) * np.exp(-mu * t) + p_wait * hypo
    return np.where(theta > 0, np.clip(s, 0.0, 1.0), 1.0)


def mmc_sojourn_quantile(p: Any, arrival_rate: Any, service_rate: Any, servers: Any = 1) -> Any:
    """The p-quantile of the M/M/c response time T = W_q + S (exact, solved by bisection).

    Solves P(T > t) = 1 - p for t (see `mmc_sojourn_survival`), which decreases in t.

    Parameters
    ----------
    p : float or array
        Quantile level, in (0, 1).
    arrival_rate, service_rate : float or array
        lambda, mu per server [1/s].
    servers : int or array
        c [count].

    Returns
    -------
    float or array
        Response time [s] that a fraction p of requests do not exceed; infinite if rho >= 1.

    References
    ----------
    Harchol-Balter 2013, Ch. 14.
    """
    q = within("p", p, 0.0, 1.0, open_low=True, open_high=True)
    lam = positive("arrival_rate", arrival_rate, "1/s")
    mu = positive("service_rate", service_rate, "1/s")
    c = whole("servers", servers)
    return out(_sojourn_quantile(q, lam, mu, c))


def _sojourn_quantile(q: np.ndarray, lam: np.ndarray, mu: np.ndarray, c: np.ndarray) -> np.ndarray:
    q, lam, mu, c = np.broadcast_arrays(q, lam, mu, c)
    theta = _decay(lam, mu, c)
    stable = theta > 0
    slow = np.where(stable, np.minimum(mu, np.where(stable, theta, 1.0)), 1.0)
    # Bracket the root: start from a multiple of the slower rate's mean and double the
    # upper end until the survival there has fallen below 1 - p.
    hi = (2.0 - np.log1p(-q)) / slow
    for _ in range(60):
        above = _sojourn_survival(hi, lam, mu, c) > 1 - q
        if not np.any(above & stable):
            break
        hi = np.where(above, hi * 2, hi)
    lo = np.zeros_like(hi)
    for _ in range(200):
        mid = (lo + hi) / 2
        above = _sojourn_survival(mid, lam, mu, c) > 1 - q
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
        if np.all(hi - lo <= 1e-13 * hi):
            break
    return np.where(stable, (lo + hi) / 2, np.inf)


def allen_cunneen_wait(arrival_rate: Any, service_rate: Any, servers: Any = 1, service_cv: Any = 1.0,
                       arrival_cv: Any = 1.0) -> Any:
    """Mean queueing time of a G/G/c queue by the Allen-Cunneen approximation.

    W_q ~ W_q(M/M/c) (c_a^2 + c_s^2) / 2, with c_a, c_s the coefficients of variation
    (standard deviation / mean) of the inter-arrival and service times. Exact for M/M/c
    (both 1) and, with c = 1 and Poisson arrivals, equal to the Pollaczek-Khinchine mean
    wait of M/G/1.

    Parameters
    ----------
    arrival_rate, service_rate : float or array
        lambda, mu per server [1/s].
    servers : int or array
        c [count].
    service_cv : float or array
        c_s [dimensionless, >= 0]; 0 for deterministic service, 1 for exponential.
    arrival_cv : float or array
        c_a [dimensionless, >= 0]; 1 for Poisson arrivals.

    Returns
    -------
    float or array
        W_q [s]; infinite where rho >= 1.

    References
    ----------
    Allen 1990 (Allen-Cunneen approximation); Harchol-Balter 2013, Ch. 24.
    """
    lam = positive("arrival_rate", arrival_rate, "1/s")
    mu = positive("service_rate", service_rate, "1/s")
    c = whole("servers", servers)
    cs = nonnegative("service_cv", service_cv)
    ca = nonnegative("arrival_cv", arrival_cv)
    return out(_mmc_mean_wait(lam, mu, c) * (ca**2 + cs**2) / 2)


def kingman_wait(arrival_rate: Any, service_rate: Any, service_cv: Any = 1.0, arrival_cv: Any = 1.0) -> Any:
    """Mean queueing time of a single G/G/1 server by Kingman's formula.

    W_q ~ rho / (1 - rho) x (c_a^2 + c_s^2) / 2 x 1 / mu, the heavy-traffic approximation
    (exact for M/M/1 and, with c_a = 1, for M/G/1).

    Parameters
    ----------
    arrival_rate, service_rate : float or array
        lambda, mu [1/s].
    service_cv, arrival_cv : float or array
        Coefficients of variation of service and inter-arrival times [dimensionless, >= 0].

    Returns
    -------
    float or array
        W_q [s]; infinite where rho >= 1.

    References
    ----------
    Kingman 1961.
    """
    lam = positive("arrival_rate", arrival_rate, "1/s")
    mu = positive("service_rate", service_rate, "1/s")
    cs = nonnegative("service_cv", service_cv)
    ca = nonnegative("arrival_cv", arrival_cv)
    rho = lam / mu
    with np.errstate(divide="ignore"):
        w = rho / (1 - rho) * (ca**2 + cs**2) / 2 / mu
    return out(np.where(rho < 1, w, np.inf))


@dataclass(frozen=True)
class TailLatencyResult:
    """Queueing delay and latency percentiles of c servers under Poisson load (SI units)."""

    arrival_rate: float  # [1/s]
    service_time: float  # [s] mean, one request on one server
    servers: int
    service_cv: float
    utilization: float
    p_wait: float  # probability a request queues at all
    mean_wait: float  # [s]
    mean_latency: float  # [s] wait + service
    p50_latency: float  # [s]
    p95_latency: float  # [s]
    p99_latency: float  # [s]
    p99_wait: float  # [s]
    method: str  # "M/M/c exact" or "M/G/c Allen-Cunneen (approximate)"
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class TailLatencyModel:
    """Mean and tail latency of a pool of replicas serving Poisson traffic."""

    def solve(self, arrival_rate: float, service_time: float, servers: int = 1,
              service_cv: float = 1.0) -> TailLatencyResult:
        """
        arrival_rate [1/s]  mean request rate offered to the pool
        service_time [s]    mean time one server takes for one request
        servers             identical servers (replicas) sharing one FCFS queue
        service_cv          coefficient of variation of the service time (1: exponential,
                            exact M/M/c; otherwise Allen-Cunneen for the mean wait, and the
                            waiting time's exponential tail scaled to that mean, plus the mean
                            service time, for the percentiles: approximate)

        Raises InfeasibleError when the pool is overloaded (utilization >= 1).
        """
        lam = float(positive("arrival_rate", arrival_rate, "1/s"))
        s = float(positive("service_time", service_time, "s"))
        c = int(whole("servers", servers))
        cv = float(nonnegative("service_cv", service_cv))
        mu = 1 / s
        rho = lam / (c * mu)
        if rho >= 1:
            need = int(np.floor(lam / mu)) + 1
            raise InfeasibleError(
                f"queue is unstable: utilization {rho:.3g} >= 1 ({lam:g}/s offered to {c} server(s) of "
                f"{mu:g}/s each); use at least {need} servers or a shorter service time"
            )
        lam_a, mu_a, c_a = np.asarray(lam), np.asarray(mu), np.asarray(float(c))
        p_wait = float(_erlang_c(lam_a, mu_a, c_a))
        theta = c * mu - lam
        if cv == 1.0:
            method = "M/M/c exact"
            wait = float(_mmc_mean_wait(lam_a, mu_a, c_a))
            pct = [float(_sojourn_quantile(np.asarray(q), lam_a, mu_a, c_a)) for q in QUANTILES]
            p99_wait = float(_exp_tail_quantile(np.asarray(0.99), np.asarray(p_wait), np.asarray(theta)))
        else:
            method = "M/G/c Allen-Cunneen (approximate)"
            factor = (1 + cv**2) / 2
            wait = float(_mmc_mean_wait(lam_a, mu_a, c_a)) * factor
            rate = np.asarray(theta / factor)  # conditional wait stays exponential, mean scaled
            waits = [float(_exp_tail_quantile(np.asarray(q), np.asarray(p_wait), rate)) for q in QUANTILES]
            pct = [w + s for w in waits]
            p99_wait = waits[-1]
        return TailLatencyResult(
            arrival_rate=lam, service_time=s, servers=c, service_cv=cv, utilization=rho, p_wait=p_wait,
            mean_wait=wait, mean_latency=wait + s, p50_latency=pct[0], p95_latency=pct[1], p99_latency=pct[2],
            p99_wait=p99_wait, method=method, lineage=Lineage(),
        )

