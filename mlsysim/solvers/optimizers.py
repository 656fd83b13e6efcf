"""Optimizers over the solvers: the fastest parallel layout, the largest batch within a tail
latency SLA, and the cheapest place to run once carbon has a price.

ParallelismOptimizer   every (TP, PP, CP, microbatch, interleaved schedule, ZeRO stage,
                       recomputation) of a training job, each evaluated by DistributedModel;
                       the best by step time or MFU, the ranked top k, and why the others
                       were rejected (degrees that do not divide, memory that does not fit)
BatchingOptimizer      the largest static batch whose P99 latency at a Poisson arrival rate
                       meets an SLA, through the queueing model (TailLatencyModel) with the
                       batch service time of ServingModel (or any service-time function)
PlacementOptimizer     the grid (region) and datacenter minimising run cost + carbon price x
                       operational carbon, each site with its own electricity price, PUE and
                       carbon intensity, on one carbon basis (lifecycle or direct) for all

References
----------
Narayanan et al. 2021, arXiv 2104.04473 (the layouts and schedules searched); Rajbhandari et
al. 2020, arXiv 1910.02054 (ZeRO stages); Harchol-Balter 2013, "Performance Modeling and
Design of Computer Systems", Ch. 14 (M/M/c) and Sec. 11.1 (the Erlang distribution of a sum
of exponential inter-arrival times); Patterson et al. 2021, arXiv 2104.10350 (location
and the carbon of training); Nordhaus 2017, PNAS 114(7) (a carbon price on emissions).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import InfeasibleError, MlsysimError, OOMError, SLAViolation
from mlsysim.lineage import Lineage

__all__ = ["ParallelismOptimizer", "ParallelismResult", "BatchingOptimizer", "BatchingResult", "BatchPoint",
           "PlacementOptimizer", "PlacementResult", "PlacementOption", "erlang_quantile", "batch_p99_latency"]

OBJECTIVES = {"step_time": "min", "mfu": "max"}
PIPELINED = ("1f1b", "interleaved")  # the schedules DistributedModel.search evaluates (v = 1 is 1F1B)
OOM = "does not fit in device memory"
KG_PER_TONNE = 1e3


def _divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def _reason_key(message: str) -> str:
    """A rejection message with its numbers blanked, to count layouts rejected for the same reason."""
    return re.sub(r"\d+(?:\.\d+)?", "N", message.split(";")[0])


# ---------------------------------------------------------------------------- parallelism


@dataclass
class ParallelismResult:
    """The best layout (a full TrainingResult), the top k in rank order, and every rejected
    layout with its reason.

    evaluated   layouts tried (structural combinations x ZeRO stages x recomputation modes)
    feasible    layouts that divide the job and fit in memory
    rejected    reason (numbers blanked) -> count of layouts
    examples    reason -> the first rejected layout's full message and layout
    """

    best: Any
    top: list[Any]
    objective: str
    evaluated: int
    feasible: int
    rejected: dict[str, int]
    examples: dict[str, dict[str, Any]]
    lineage: Lineage = field(repr=False, default_factory=Lineage)

    @staticmethod
    def layout_of(r: Any) -> dict[str, Any]:
        schedule = getattr(r, "schedule", "interleaved")
        if schedule in ("interleaved", "1f1b"):
            schedule = "1F1B" if r.interleave == 1 else f"interleaved x{r.interleave}"
        else:
            schedule = schedule.upper()
        return {"tp": r.tp, "pp": r.pp, "cp": r.cp, "dp": r.dp, "microbatch": r.microbatch,
                "interleave": r.interleave, "schedule": schedule, "zero": r.zero, "recompute": r.recompute}

    def to_dict(self) -> dict[str, Any]:
        def row(r: Any) -> dict[str, Any]:
            return {**self.layout_of(r), "step_time_s": r.step_time, "mfu": r.mfu, "tokens_per_second": r.tokens_per_second,
                    "memory_per_device_bytes": r.memory_total, "memory_capacity_bytes": r.memory_capacity}

        return {"objective": self.objective, "best": row(self.best), "top": [row(r) for r in self.top],
                "evaluated": self.evaluated, "feasible": self.feasible, "rejected": dict(self.rejected),
                "examples": self.examples, "catalog": self.lineage.catalog,
                "lineage": [e.to_dict() for e in self.lineage.entries()]}


class ParallelismOptimizer:
    """The best parallel layout of a training job on a cluster.

    >>> best = ParallelismOptimizer().solve(Models.Language.Llama3_8B, Systems.Clusters.Research_256,
    ...                                     batch_size=256).best        # doctest: +SKIP

    Candidates (None = every value that can divide the job): tp over the divisors of the
    accelerators per node, pp over the divisors of the device count, cp as given (default
    (1,)), microbatch over the divisors of the per-replica batch up to
    `LayoutSpace.max_microbatch`, every ZeRO stage and recomputation mode, and the pipeline
    schedules: "1f1b" and "interleaved" (v model chunks per stage from `interleave`, default
    `LayoutSpace.interleave`; v = 1 is 1F1B) by default, plus the zero-bubble "zb-h1" and
    "zb-v" when asked for. Each structural layout is checked by `DistributedModel.solve`
    (whose error says why it does not divide the job); the valid 1F1B/interleaved ones are
    evaluated at once by `DistributedModel.search` (the same step model, vectorised), the
    zero-bubble ones by `DistributedModel.solve`; those that do not fit are counted with
    their memory, and the top k are solved again in full. `attention_kernel` prices fused
    attention at that kernel's cited figures in every candidate (`DistributedModel.solve`).
    """

    def solve(self, model: Record, cluster: Any, batch_size: int, precision: str = "bf16", efficiency: Any = None, *,
              devices: int | None = None, seq_len: int | None = None, objective: str = "step_time", top_k: int = 5,
              tp: Iterable[int] | None = None, pp: Iterable[int] | None = None, cp: Iterable[int] | None = None,
              microbatch: Iterable[int] | None = None, interleave: Iterable[int] | None = None,
              zero: Iterable[int] | None = None, recompute: Iterable[str] | None = None,
              schedule: Iterable[str] | None = None, sequence_parallel: bool | None = None,
              allreduce: str | None = None, attention_kernel: str | None = None) -> ParallelismResult:
        from mlsysim.solvers.distributed import DistributedModel, LayoutSpace, training_terms
        from mlsysim.solvers.training_layout import SCHEDULES

        if objective not in OBJECTIVES:
            raise MlsysimError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        top_k = inputs.positive_int(top_k, "top_k")
        batch = inputs.positive_int(batch_size, "batch_size (global batch, in sequences)")
        terms = training_terms(model, cluster, devices=devices, precision=precision, efficiency=efficiency, seq_len=seq_len,
                               attention_kernel=attention_kernel)
        defaults = LayoutSpace()
        n, per_node = int(terms.devices), int(terms.fleet.per_node)
        tps = _candidates(tp, _divisors(per_node), "tp")
        pps = _candidates(pp, _divisors(n), "pp")
        cps = _candidates(cp, defaults.cp, "cp")
        schedules = tuple(schedule) if schedule is not None else PIPELINED
        for name in schedules:
            if name not in SCHEDULES:
                raise MlsysimError(f"schedule {name!r} is not one of {', '.join(SCHEDULES)}")
        ivs = _candidates(interleave, defaults.interleave, "interleave")
        if "interleaved" not in schedules:
            ivs = (1,)
        elif "1f1b" not in schedules:
            ivs = tuple(v for v in ivs if v > 1) or ivs
        elif 1 not in ivs:
            ivs = (1, *ivs)
        bubble_free = tuple(name for name in schedules if name not in PIPELINED)
        vectorised = any(name in PIPELINED for name in schedules)
        zeros = _candidates(zero, defaults.zero, "zero", low=0)
        modes = tuple(recompute) if recompute is not None else defaults.recompute
        sp = defaults.sequence_parallel if sequence_parallel is None else bool(sequence_parallel)
        ar = defaults.allreduce if allreduce is None else allreduce
        mbs_given = _candidates(microbatch, None, "microbatch") if microbatch is not None else None
        per_structure = len(zeros) * len(modes)

        solver = DistributedModel()
        rejected: Counter[str] = Counter()
        examples: dict[str, dict[str, Any]] = {}
        valid: dict[str, set[int]] = {"tp": set(), "pp": set(), "cp": set(), "microbatch": set(), "interleave": set()}
        structures = 0
        shapes: list[dict[str, int]] = []  # valid (tp, pp, cp, microbatch), for the zero-bubble schedules
        for t in tps:
            for p in pps:
                for c in cps:
                    split = t * p * c
                    dp = n // split if n % split == 0 else 0
                    if mbs_given is not None:
                        mbs = mbs_given
                    elif dp and batch % dp == 0:
                        mbs = tuple(b for b in _divisors(batch // dp) if b <= defaults.max_microbatch)
                    else:
                        mbs = (1,)
                    for b in mbs:
                        if bubble_free:
                            shapes.append({"tp": t, "pp": p, "cp": c, "microbatch": b})
                        for v in (ivs if vectorised else ()):
                            structures += 1
                            layout = {"tp": t, "pp": p, "cp": c, "microbatch": b, "interleave": v}
                            try:
                                solver.solve(model, cluster, batch, precision, efficiency, devices=devices, seq_len=seq_len,
                                             attention_kernel=attention_kernel,
                                             zero=zeros[0], recompute=modes[0], sequence_parallel=sp, allreduce=ar, **layout)
                            except OOMError:
                                pass
                            except MlsysimError as exc:
                                key = _reason_key(str(exc))
                                rejected[key] += per_structure
                                examples.setdefault(key, {"layout": layout, "message": str(exc)})
                                continue
                            for name, value in layout.items():
                                valid[name].add(value)
        extra: list[Any] = []  # full results of the zero-bubble schedules that divide the job
        smallest_extra = math.inf
        extra_tried = 0
        for shape in shapes:
            for name in bubble_free:
                for z in zeros:
                    for mode in modes:
                        extra_tried += 1
                        try:
                            r = solver.solve(model, cluster, batch, precision, efficiency, devices=devices, seq_len=seq_len,
                                             attention_kernel=attention_kernel,
                                             zero=z, recompute=mode, sequence_parallel=sp, allreduce=ar, schedule=name,
                                             **shape)
                        except MlsysimError as exc:
                            key = _reason_key(str(exc))
                            rejected[key] += 1
                            examples.setdefault(key, {"layout": {**shape, "schedule": name}, "message": str(exc)})
                            continue
                        if r.feasible:
                            extra.append(r)
                        else:
                            rejected[OOM] += 1
                            smallest_extra = min(smallest_extra, r.memory_total)
        evaluated = structures * per_structure + extra_tried
        if not all(valid.values()) and not extra and smallest_extra == math.inf:
            raise InfeasibleError(f"no parallel layout divides the job ({n} devices, global batch {batch}): "
                                  + "; ".join(e["message"] for e in examples.values()))
        if not all(valid.values()):  # only zero-bubble layouts divide the job
            return self._rank(extra, [], None, objective, top_k, evaluated, rejected, examples, smallest_extra,
                              terms, solver, (model, cluster, batch, precision, efficiency, devices, seq_len, sp, ar,
                                          attention_kernel))
        space = LayoutSpace(tp=tuple(sorted(valid["tp"])), pp=tuple(sorted(valid["pp"])), cp=tuple(sorted(valid["cp"])),
                            microbatch=tuple(sorted(valid["microbatch"])), interleave=tuple(sorted(valid["interleave"])),
                            zero=zeros, recompute=modes, sequence_parallel=sp, allreduce=ar)
        found = solver.search(model, cluster, batch, precision, efficiency, devices=devices, seq_len=seq_len, space=space,
                              attention_kernel=attention_kernel)
        return self._rank(extra, [found.table], found, objective, top_k, evaluated, rejected, examples, smallest_extra,
                          terms, solver, (model, cluster, batch, precision, efficiency, devices, seq_len, sp, ar,
                                          attention_kernel))

    @staticmethod
    def _rank(extra: list[Any], tables: list[dict[str, Any]], found: Any, objective: str, top_k: int, evaluated: int,
              rejected: Counter[str], examples: dict[str, dict[str, Any]], smallest_extra: float, terms: Any,
              solver: Any, job: tuple[Any, ...]) -> ParallelismResult:
        """Rank the vectorised table's fitting rows and the zero-bubble results together; solve
        the table's top rows again in full."""
        import numpy as np

        model, cluster, batch, precision, efficiency, devices, seq_len, sp, ar, attention_kernel = job
        sign = 1.0 if OBJECTIVES[objective] == "min" else -1.0
        ranked: list[tuple[float, int, Any]] = [(sign * getattr(r, objective), i, r) for i, r in enumerate(extra)]
        smallest = smallest_extra
        fitting = len(extra)
        for table in tables:
            fits = table["feasible"]
            fitting += int(fits.sum())
            oom = int((~fits).sum())
            if oom:
                rejected[OOM] += oom
                smallest = min(smallest, float(table["memory_total"][~fits].min()))
            score = np.where(fits, sign * table[objective], np.inf)
            order = np.argsort(score, kind="stable")[:min(top_k, int(fits.sum()))]
            ranked.extend((float(score[i]), len(extra) + int(i), ("row", table, int(i))) for i in order)
        if smallest < math.inf:
            examples.setdefault(OOM, {"layout": None, "message": (
                f"the smallest of these needs {smallest / 1e9:.1f} GB per device; "
                f"the device has {terms.capacity / 1e9:.1f} GB")})
        if not fitting:
            raise OOMError(f"no layout of {evaluated} fits: " + examples[OOM]["message"]
                           + "; use more devices, a smaller batch or a shorter sequence")
        ranked.sort(key=lambda item: (item[0], item[1]))
        top = []
        for _, _, item in ranked[:top_k]:
            if isinstance(item, tuple):
                _, table, i = item
                layout = {name: int(table[name][i]) for name in ("tp", "pp", "cp", "microbatch", "interleave", "zero")}
                item = solver.solve(model, cluster, batch, precision, efficiency, devices=devices, seq_len=seq_len,
                                    attention_kernel=attention_kernel,
                                    recompute=str(table["recompute"][i]), sequence_parallel=sp, allreduce=ar, **layout)
            top.append(item)
        return ParallelismResult(top[0], top, objective, evaluated, fitting, dict(rejected), examples, terms.lineage)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _candidates(given: Iterable[int] | None, default: Any, name: str, low: int = 1) -> tuple[int, ...]:
    values = tuple(default) if given is None else tuple(given)
    if not values:
        raise MlsysimError(f"{name}: no candidates; give at least one value")
    for v in values:
        if type(v) is not int or v < low:
            raise MlsysimError(f"{name} candidates must be whole numbers >= {low}, got {v!r}")
    return values


# ---------------------------------------------------------------------------- batching


def _poisson_cdf(k: int, mean: float) -> float:
    """P(N < k) for N ~ Poisson(mean): sum over n < k of e^-mean mean^n / n!."""
    if mean <= 0:
        return 1.0
    log_mean = math.log(mean)
    return math.fsum(math.exp(n * log_mean - mean - math.lgamma(n + 1)) for n in range(k))


def erlang_quantile(p: float, k: int, rate: float) -> float:
    """The p-quantile [s] of the sum of k independent exponential times of rate `rate` [1/s]
    (Erlang(k, rate)): the time until k more Poisson arrivals. 0 for k = 0.

    P(T <= t) = 1 - sum_{n<k} e^(-rate t) (rate t)^n / n!, solved for t by bisection to
    floating-point precision (the bracket halves until its midpoint equals an end).

    References
    ----------
    Harchol-Balter 2013, Sec. 11.1 (the Poisson process: the time of the k-th arrival is
    Erlang-k).
    """
    if k == 0:
        return 0.0
    if not 0 < p < 1:
        raise MlsysimError(f"quantile level must be in (0, 1), got {p!r}")
    lo, hi = 0.0, k / rate
    while 1 - _poisson_cdf(k, rate * hi) < p:
        lo, hi = hi, hi * 2
    while True:
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            return hi
        if 1 - _poisson_cdf(k, rate * mid) < p:
            lo = mid
        else:
            hi = mid


def batch_p99_latency(batch: int, arrival_rate: float, service_time: float, replicas: int = 1,
                      service_cv: float = 1.0) -> tuple[float, float, Any]:
    """P99 latency [s] of a request served in static batches of `batch`, with Poisson
    arrivals of `arrival_rate` [1/s] to `replicas` servers each taking `service_time` [s]
    per batch. Returns (P99, P99 of the batch-formation wait, TailLatencyResult).

    A batch leaves for the queue once `batch` requests have arrived, so batches arrive at
    rate lambda / b; their queue is solved by TailLatencyModel (M/M/c exact for service_cv 1,
    else M/G/c by Allen-Cunneen), treating batch arrivals as Poisson: their inter-arrival
    times are Erlang-b, less variable (c_a^2 = 1/b), so this overstates the wait. The first
    request of a batch waits for b - 1 more arrivals, an Erlang(b - 1, lambda) time, whose
    99th percentile is added to the queue's P99 response time:

        P99 ~ Erlang_q99(b - 1, lambda) + P99_response(lambda / b, S(b), c).

    Adding the two 99th percentiles bounds the 99th percentile of the sum of these two
    independent parts from above.

    Raises InfeasibleError when the batches arrive faster than the replicas serve them.

    References
    ----------
    Harchol-Balter 2013, Ch. 14 (M/M/c) and Sec. 11.1; Allen 1990 (Allen-Cunneen).
    """
    from mlsysim.solvers.queueing import TailLatencyModel

    formation = erlang_quantile(QUANTILE, batch - 1, arrival_rate)
    queue = TailLatencyModel().solve(arrival_rate / batch, service_time, replicas, service_cv)
    return formation + queue.p99_latency, formation, queue


QUANTILE = 0.99  # the P99 the SLA is stated on


@dataclass(frozen=True)
class BatchPoint:
    """One batch size: its service time, P99 latency and whether it is stable and meets the SLA."""

    batch: int
    service_time: float  # [s] one batch on one replica
    p99_latency: float  # [s], inf when unstable
    formation_p99: float  # [s]
    utilization: float  # [1]
    throughput: float  # [1/s] requests per second the replicas can serve at this batch
    stable: bool
    meets_sla: bool


@dataclass
class BatchingResult:
    """The largest batch meeting the P99 SLA and every batch size tried."""

    batch: int
    p99_latency: float  # [s]
    sla: float  # [s]
    arrival_rate: float  # [1/s]
    replicas: int
    max_batch: int
    points: list[BatchPoint]
    lineage: Lineage = field(repr=False, default_factory=Lineage)

    @property
    def best(self) -> BatchPoint:
        return next(p for p in self.points if p.batch == self.batch)

    def to_dict(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"batch": self.batch, "p99_latency_s": self.p99_latency, "sla_s": self.sla,
                "arrival_rate_per_s": self.arrival_rate, "replicas": self.replicas, "max_batch": self.max_batch,
                "points": [{"batch": p.batch, "service_time_s": p.service_time, "p99_latency_s": clean(p.p99_latency),
                            "formation_p99_s": p.formation_p99, "utilization": clean(p.utilization),
                            "throughput_per_s": p.throughput, "stable": p.stable, "meets_sla": p.meets_sla}
                           for p in self.points],
                "catalog": self.lineage.catalog, "lineage": [e.to_dict() for e in self.lineage.entries()]}


class BatchingOptimizer:
    """The largest static batch whose P99 latency meets an SLA at a given arrival rate.

    `solve(service_time, ...)` takes any service-time function S(b) [s]; `solve_serving`
    builds S(b) from ServingModel (prefill + decode of a batch of b requests) and caps the
    batch at the most sequences whose KV cache fits next to the weights.
    """

    def solve(self, service_time: Callable[[int], float], arrival_rate: float, sla: float, *, max_batch: int,
              replicas: int = 1, service_cv: float = 1.0, lineage: Lineage | None = None) -> BatchingResult:
        """
        service_time  S(b) [s]: time one replica takes to serve a batch of b requests
        arrival_rate  Poisson arrivals [requests/s] to the whole pool
        sla           P99 latency target [s] (arrival to completion)
        max_batch     largest batch to consider (memory)
        replicas      servers sharing one queue of batches
        Raises SLAViolation (exit 3) when no batch meets the SLA, InfeasibleError (exit 2)
        when no batch keeps up with the arrivals.
        """
        lam = inputs.finite_positive(arrival_rate, "arrival_rate (requests/s)")
        target = inputs.finite_positive(sla, "sla (P99 latency, s)")
        largest = inputs.positive_int(max_batch, "max_batch")
        c = inputs.positive_int(replicas, "replicas")
        points = []
        for b in range(1, largest + 1):
            # The formation wait alone grows with b (Erlang(b - 1) quantiles increase in b):
            # once it exceeds the SLA, no larger batch can meet it.
            if erlang_quantile(QUANTILE, b - 1, lam) > target:
                break
            s = float(service_time(b))
            if not (math.isfinite(s) and s > 0):
                raise MlsysimError(f"service time of a batch of {b} must be a positive number of seconds, got {s!r}")
            rho = lam / b * s / c
            if rho >= 1:
                points.append(BatchPoint(b, s, math.inf, math.nan, rho, c * b / s, False, False))
                continue
            p99, formation, _ = batch_p99_latency(b, lam, s, c, service_cv)
            points.append(BatchPoint(b, s, p99, formation, rho, c * b / s, True, p99 <= target))
        good = [p for p in points if p.meets_sla]
        if not good:
            if not points:
                raise SLAViolation(f"no batch meets the P99 SLA of {target * 1e3:.4g} ms: even a batch of 1 cannot")
            stable = [p for p in points if p.stable]
            if not stable:
                fastest = max(points, key=lambda p: p.throughput)
                raise InfeasibleError(
                    f"{lam:g} requests/s exceeds what {c} replica(s) serve at any batch up to {largest} "
                    f"(at most {fastest.throughput:.4g} requests/s, at batch {fastest.batch}); add replicas or "
                    "allow a larger batch")
            closest = min(stable, key=lambda p: p.p99_latency)
            raise SLAViolation(
                f"no batch meets the P99 SLA of {target * 1e3:.4g} ms at {lam:g} requests/s: the lowest P99 is "
                f"{closest.p99_latency * 1e3:.4g} ms (batch {closest.batch}); relax the SLA, add replicas or "
                "use faster hardware")
        best = max(good, key=lambda p: p.batch)
        return BatchingResult(best.batch, best.p99_latency, target, lam, c, largest, points,
                              lineage if lineage is not None else Lineage())

    def solve_serving(self, model: Any, hardware: Any, arrival_rate: float, sla: float, *, prompt_tokens: int | None = None,
                      output_tokens: int | None = None, precision: str = "fp16", tp: int = 1, replicas: int = 1,
                      efficiency: float | None = None, max_batch: int | None = None,
                      service_cv: float = 0.0) -> BatchingResult:
        """`solve` with S(b) = ServingModel(model, hardware, precision, tp=tp).solve(prompt_tokens,
        output_tokens, b).latency and max_batch = the most sequences whose KV cache fits.
        service_cv defaults to 0: every batch of the same prompt and output lengths takes the
        same time (M/D/c, by Allen-Cunneen); pass 1 for the exponential-service bound."""
        from mlsysim.solvers.serving import ServingModel
        from mlsysim.solvers.terms import model_terms

        catalog = inputs.catalog_of(model, hardware)
        terms = model_terms(inputs.record(model, "models", catalog, "model"))
        if terms.kind != "transformer" or terms.encoder:
            return self._solve_engine(model, hardware, arrival_rate, sla, precision, efficiency, max_batch, replicas,
                                      service_cv)
        if prompt_tokens is None or output_tokens is None:
            raise MlsysimError("prompt_tokens and output_tokens are required to serve a language model "
                               "(the request's prompt length and generated tokens)")
        serving = ServingModel(model, hardware, precision, tp=tp, efficiency=efficiency)
        fits = serving.max_batch_size(prompt_tokens + output_tokens)
        if fits < 1:
            raise OOMError(f"{serving.m.name} does not fit on {serving.hardware_name}: no request's KV cache fits "
                           "next to the weights; use tensor parallelism or a larger device")
        cap = fits if max_batch is None else min(inputs.positive_int(max_batch, "max_batch"), fits)

        def latency(b: int) -> float:
            return serving.solve(prompt_tokens, output_tokens, b).latency

        return self.solve(latency, arrival_rate, sla, max_batch=cap, replicas=replicas, service_cv=service_cv,
                          lineage=serving.lineage)

    def _solve_engine(self, model: Any, hardware: Any, arrival_rate: float, sla: float, precision: str,
                      efficiency: float | None, max_batch: int | None, replicas: int, service_cv: float) -> BatchingResult:
        """A model without token-by-token decode (a CNN, an encoder): S(b) = one forward pass of
        b inputs (Engine.solve), batches up to `max_batch` (required) that fit in memory."""
        from mlsysim.solvers.engine import Engine

        if max_batch is None:
            raise MlsysimError("max_batch is required for a model served in one forward pass; give the largest batch to try")
        largest = inputs.positive_int(max_batch, "max_batch")
        profiles = {}
        for b in range(1, largest + 1):
            profile = Engine.solve(model, hardware, batch_size=b, precision=precision, efficiency=efficiency)
            if not profile.feasible:
                break
            profiles[b] = profile
        if not profiles:
            raise OOMError("not even a batch of 1 fits in the device's memory")
        lineage = next(iter(profiles.values())).lineage
        return self.solve(lambda b: profiles[b].si["latency"], arrival_rate, sla, max_batch=max(profiles),
                          replicas=replicas, service_cv=service_cv, lineage=lineage)


# ---------------------------------------------------------------------------- placement


@dataclass(frozen=True)
class PlacementOption:
    """One site: its costs [USD], carbon [kg] on `carbon_basis`, and cost + carbon price x carbon."""

    grid: str
    datacenter: str
    region: str
    run_cost: float
    energy_cost: float
    operational_carbon: float
    carbon_cost: float
    total: float
    carbon_basis: str
    electricity_price: float  # [USD/J]
    carbon_intensity: float  # [kg/J]
    pue: float


@dataclass
class PlacementResult:
    best: PlacementOption
    ranked: list[PlacementOption]
    carbon_price: float  # [USD per tonne]
    carbon_basis: str
    skipped: dict[str, str]  # "grid @ datacenter" -> why it was not compared
    lineage: Lineage = field(repr=False, default_factory=Lineage)

    def to_dict(self) -> dict[str, Any]:
        return {"best": self.best.__dict__, "ranked": [o.__dict__ for o in self.ranked],
                "carbon_price_usd_per_tonne": self.carbon_price, "carbon_basis": self.carbon_basis,
                "skipped": dict(self.skipped), "catalog": self.lineage.catalog,
                "lineage": [e.to_dict() for e in self.lineage.entries()]}


class PlacementOptimizer:
    """The grid and datacenter where a job costs least once its carbon is priced.

    total = run cost (amortised capex + maintenance + facility energy x the grid's
            electricity price, EconomicsModel) + carbon price x operational carbon
            (facility energy x the grid's intensity on `carbon_basis`, SustainabilityModel)

    Candidates: every datacenter paired with its own grid, and every datacenter that names no
    grid paired with each candidate grid. All sites are compared on one carbon basis
    (lifecycle or direct, never one in place of the other); a grid without an intensity on
    that basis or without an electricity price is skipped, with the reason.

    References
    ----------
    Patterson et al. 2021, arXiv 2104.10350 (location and carbon); Nordhaus 2017, "Revisiting
    the social cost of carbon", PNAS 114(7) (pricing emissions per tonne of CO2).
    """

    def solve(self, fleet: Any, duration: float, *, carbon_price: float = 0.0, carbon_basis: str = "lifecycle",
              grids: Iterable[Any] | None = None, datacenters: Iterable[Any] | None = None,
              devices: int | None = None, catalog: Any = None, **power: Any) -> PlacementResult:
        """
        fleet          a cluster (or Fleet, or hardware record with devices=)
        duration [s]   how long the job holds the hardware
        carbon_price   [USD per tonne of CO2(e)], >= 0
        carbon_basis   "lifecycle" or "direct"
        grids, datacenters  candidates (names or records; default every one in the catalog)
        power          utilization, power_model, ... (see PowerSpec)
        """
        from mlsysim.solvers.economics import EconomicsModel
        from mlsysim.solvers.fleet import Fleet

        if not (inputs._number(carbon_price) and 0 <= carbon_price < math.inf):
            raise MlsysimError(f"carbon_price must be a finite number >= 0 USD per tonne, got {carbon_price!r}")
        if carbon_basis not in ("lifecycle", "direct"):
            raise MlsysimError(f"carbon_basis must be 'lifecycle' or 'direct', got {carbon_basis!r}")
        duration = inputs.finite_positive(duration, "duration (seconds)")
        cat = catalog if catalog is not None else (fleet.catalog if isinstance(fleet, Fleet) else inputs.catalog_of(fleet))
        grid_records = [inputs.record(g, "grids", cat, "grid") for g in grids] if grids is not None else list(cat.records("grids"))
        dc_records = ([inputs.record(d, "datacenters", cat, "datacenter") for d in datacenters]
                      if datacenters is not None else list(cat.records("datacenters")))
        if not grid_records or not dc_records:
            raise MlsysimError("placement: no candidate grids or datacenters; give at least one of each")
        pairs = []
        grid_ids = {g.id for g in grid_records}
        for dc in dc_records:
            own = dc.ref_id("grid") if dc.has("grid") else None
            if own is not None:
                if grids is None or own in grid_ids:
                    pairs.append((dc.grid, dc))
            else:
                pairs.extend((g, dc) for g in grid_records)
        if not pairs:
            raise MlsysimError("placement: none of the datacenters is on any of the candidate grids; "
                               "add a grid-less datacenter (e.g. Hyperscale) or the datacenters' grids")
        options, skipped = [], {}
        lineage = Lineage()
        for grid, dc in pairs:
            label = f"{grid.id} @ {dc.id}"
            try:
                econ = EconomicsModel().solve(fleet, duration, devices=devices, grid=grid, datacenter=dc, catalog=cat,
                                              carbon_basis=carbon_basis, **power)
            except MlsysimError as exc:
                if isinstance(exc, InfeasibleError):
                    raise
                skipped[label] = str(exc)
                continue
            sus = econ.sustainability
            if sus.carbon_basis != carbon_basis:
                skipped[label] = (f"{grid.label} states its carbon intensity on the basis "
                                  f"'{sus.carbon_basis}', not '{carbon_basis}'; not comparable")
                continue
            lineage.merge(econ.lineage)
            carbon_cost = carbon_price * sus.operational_carbon / KG_PER_TONNE
            options.append(PlacementOption(
                grid=grid.id, datacenter=dc.id, region=str(grid.get("region") or ""), run_cost=econ.run_cost,
                energy_cost=econ.energy_cost, operational_carbon=sus.operational_carbon, carbon_cost=carbon_cost,
                total=econ.run_cost + carbon_cost, carbon_basis=sus.carbon_basis,
                electricity_price=econ.energy_cost / sus.facility_energy, carbon_intensity=sus.carbon_intensity,
                pue=sus.pue))
        if not options:
            raise MlsysimError(f"placement: no site could be compared on the {carbon_basis} basis: "
                               + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
        ranked = sorted(options, key=lambda o: (o.total, o.grid, o.datacenter))
        return PlacementResult(ranked[0], ranked, float(carbon_price), carbon_basis, skipped, lineage)
