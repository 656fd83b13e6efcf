"""Orchestration: how long jobs wait in a GPU cluster's queue, and how busy the fleet is.

Jobs arrive as Poisson streams, one per class i: rate lambda_i [1/s], g_i GPUs each, run time
with mean E[S_i] [s] and squared coefficient of variation cs2_i [1] (1 = exponential, 0 = fixed).
The offered load is a = sum lambda_i g_i E[S_i] busy GPUs; on N GPUs the utilisation is
rho = a / N, and the queue is stable only if rho < 1.

Waiting time is approximated by an M/G/c queue in GPU slots: the fleet is c = floor(N / g)
slots of g GPUs, g the load-weighted GPUs per job (sum lambda_i g_i E[S_i] / sum lambda_i E[S_i]);
the service time is the classes' mixture (mean E[S] = sum lambda_i E[S_i] / Lambda, second moment
sum lambda_i E[S_i]^2 (1 + cs2_i) / Lambda). The M/M/c wait (Erlang C) is scaled by (1 + cs2) / 2:

  W_q ~ (1 + cs2) / 2 x C(c, A) / (c mu - Lambda),   A = Lambda E[S],  mu = 1 / E[S]

exact for c = 1 (Pollaczek-Khinchine) and for exponential service. It ignores fragmentation
(jobs of different sizes that cannot pack), backfilling and priorities: a first-come,
first-served cluster of like-sized jobs is what it describes.

References
----------
Erlang 1917, "Solution of some problems in the theory of probabilities of significance in
automatic telephone exchanges" (the Erlang C delay probability).
Lee & Longton 1959, "Queueing processes associated with airline passenger check-in",
Operational Research Quarterly 10(1) (the (1 + cs2)/2 scaling of the M/M/c wait for M/G/c).
Whitt 1993, "Approximations for the GI/G/m queue", Production and Operations Management 2(2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.results import result_dict


def erlang_c(servers: int, offered: float) -> float:
    """Probability an arrival waits in an M/M/c queue [1]: Erlang C for c = `servers` [1]
    and offered load A = `offered` [Erlang] (arrival rate x mean service time), A < c.
    Computed from Erlang B by the recursion B_k = A B_(k-1) / (k + A B_(k-1)), B_0 = 1,
    then C = B_c / (1 - (A / c)(1 - B_c)), which is stable for large c.

    References
    ----------
    Erlang 1917 (Erlang B and C formulas).
    """
    if servers < 1 or not offered < servers:
        raise MlsysimError(f"erlang_c needs 1 <= servers and offered load < servers, got c={servers}, A={offered}")
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return b / (1.0 - offered / servers * (1.0 - b))


def mgc_wait(arrival_rate: float, mean_service: float, service_scv: float, servers: int) -> float:
    """Mean wait in queue [s] of an M/G/c queue, approximately:
    (1 + cs2) / 2 x C(c, A) / (c / E[S] - lambda), A = lambda E[S].
    `arrival_rate` [1/s], `mean_service` [s], `service_scv` [1] (variance / mean^2), `servers` [1].
    Returns inf when A >= c (unstable).

    References
    ----------
    Lee & Longton 1959, Operational Research Quarterly 10(1); Whitt 1993, Production and
    Operations Management 2(2).
    """
    offered = arrival_rate * mean_service
    if offered >= servers:
        return math.inf
    return (1.0 + service_scv) / 2.0 * erlang_c(servers, offered) / (servers / mean_service - arrival_rate)


@dataclass(frozen=True)
class JobClass:
    """One kind of job: arrival rate [1/s], GPUs per job [1], mean run time [s], and the
    squared coefficient of variation of the run time [1] (1: exponential; 0: all equal)."""

    arrival_rate: float
    gpus: int
    mean_duration: float
    duration_scv: float = 1.0

    def __post_init__(self) -> None:
        for name in ("arrival_rate", "mean_duration"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
                raise MlsysimError(f"JobClass.{name} must be a positive finite number, got {v!r}")
        if isinstance(self.gpus, bool) or not isinstance(self.gpus, int) or self.gpus < 1:
            raise MlsysimError(f"JobClass.gpus must be a whole number >= 1, got {self.gpus!r}")
        v = self.duration_scv
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= 0 and math.isfinite(v)):
            raise MlsysimError(f"JobClass.duration_scv must be >= 0 (variance / mean^2), got {v!r}")


@dataclass(frozen=True)
class OrchestrationResult:
    """Queueing of a job mix on a GPU fleet (SI floats)."""

    gpus: int
    offered_load: float  # [GPUs busy on average, if stable]
    utilization: float  # offered load / GPUs
    stable: bool
    slot_gpus: float  # [1] load-weighted GPUs per job
    slots: int  # [1] floor(GPUs / slot_gpus)
    arrival_rate: float  # [1/s] all classes
    mean_duration: float  # [s]
    duration_scv: float  # [1] of the mixture
    p_wait: float  # [1] probability a job waits (Erlang C); 1 if unstable
    mean_wait: float  # [s] inf if unstable
    mean_turnaround: float  # [s] wait + run
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class OrchestrationModel:
    """Mean queue wait and utilisation of a GPU cluster as functions of fleet size and job mix."""

    def solve(self, fleet: Record | Any | int, jobs: JobClass | Iterable[JobClass]) -> OrchestrationResult:
        """
        fleet  GPUs in the cluster: a count, a cluster record or a Fleet
        jobs   one JobClass or several (arrival rate, GPUs per job, mean duration, duration SCV)
        """
        lineage = Lineage()
        n = _gpus(fleet, lineage)
        classes = (jobs,) if isinstance(jobs, JobClass) else tuple(jobs)
        if not classes or not all(isinstance(j, JobClass) for j in classes):
            raise MlsysimError("jobs must be one or more JobClass(arrival_rate=, gpus=, mean_duration=, duration_scv=)")
        too_big = [j for j in classes if j.gpus > n]
        if too_big:
            raise MlsysimError(f"a job class needs {too_big[0].gpus} GPUs but the fleet has {n}; it can never run")
        lam = sum(j.arrival_rate for j in classes)
        work = sum(j.arrival_rate * j.mean_duration for j in classes)  # [jobs busy]
        load = sum(j.arrival_rate * j.gpus * j.mean_duration for j in classes)  # [GPUs busy]
        es = work / lam
        es2 = sum(j.arrival_rate * j.mean_duration ** 2 * (1.0 + j.duration_scv) for j in classes) / lam
        scv = es2 / es ** 2 - 1.0
        g = load / work
        slots = max(1, int(n // g))
        rho = load / n
        stable = rho < 1.0 and lam * es < slots
        if stable:
            p_wait = erlang_c(slots, lam * es)
            wait = mgc_wait(lam, es, scv, slots)
        else:
            p_wait, wait = 1.0, math.inf
        return OrchestrationResult(n, load, rho, stable, g, slots, lam, es, scv, p_wait, wait, wait + es, lineage)


def _gpus(fleet: Any, lineage: Lineage) -> int:
    if isinstance(fleet, bool):
        raise MlsysimError(f"fleet must be a GPU count, a cluster record or a Fleet, got {fleet!r}")
    if isinstance(fleet, int):
        if fleet < 1:
            raise MlsysimError(f"fleet must have >= 1 GPU, got {fleet}")
        return fleet
    from mlsysim.solvers.fleet import Fleet

    if isinstance(fleet, Record):
        fleet = Fleet.from_cluster(fleet)
    if isinstance(fleet, Fleet):
        lineage.merge(fleet.lineage)
        return fleet.devices
    raise MlsysimError(f"fleet must be a GPU count, a cluster record or a Fleet, got {fleet!r}")
