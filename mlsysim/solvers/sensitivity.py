"""Sensitivity: which hardware term a result is bound by, as elasticities.

The elasticity of a result T with respect to an input x is d ln T / d ln x: the
percentage change of T per percent change of x. A memory-bound roofline step has
elasticity -1 with respect to memory bandwidth (twice the bandwidth, half the time)
and 0 with respect to peak compute; a fixed overhead in T dilutes both towards 0.
The elasticities are taken by central finite differences in log space on copies of the
float inputs (records are never changed), so any function of positive floats can be
analysed; `SensitivitySolver` applies it to `Engine.solve` (one accelerator) and to
`DistributedModel.solve` (a cluster, where the interconnect bandwidths enter).

References
----------
Williams, Waterman & Patterson 2009, "Roofline: An Insightful Visual Performance Model
for Multicore Architectures", Communications of the ACM 52(4), doi:10.1145/1498765.1498785.
Saltelli et al. 2008, "Global Sensitivity Analysis: The Primer", Wiley
(local, derivative-based sensitivity measures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage

# Hardware terms an Engine solve depends on (names of HardwareTerms fields -> result names).
ENGINE_TERMS = {"peak": "peak_compute", "bandwidth": "memory_bandwidth", "capacity": "memory_capacity"}
# Terms of a distributed training solve (TrainingTerms fields -> result names).
TRAINING_TERMS = {"peak": "peak_compute", "capacity": "memory_capacity",
                  "intra_bw": "interconnect_bandwidth_intra_node", "inter_bw": "interconnect_bandwidth_inter_node"}


def log_elasticity(f: Callable[[float], float], x: float, rel_step: float = 1e-3) -> float:
    """Elasticity d ln f / d ln x [1] of a positive function at `x` > 0, by a central
    difference in log space:  (ln f(x e^h) - ln f(x e^-h)) / (2 h),  h = `rel_step`.

    Parameters
    ----------
    f : callable, float -> float, positive where evaluated.
    x : point [any unit], > 0.
    rel_step : h, the log-space half step [1], in (0, 0.5].

    The truncation error is O(h^2) times the third log-derivative; at a kink (a
    roofline's ridge) it returns the average of the one-sided slopes.

    References
    ----------
    Saltelli et al. 2008, "Global Sensitivity Analysis: The Primer", Wiley.
    """
    if not (isinstance(rel_step, (int, float)) and 0 < rel_step <= 0.5):
        raise MlsysimError(f"rel_step must be in (0, 0.5] (a log-space step), got {rel_step!r}")
    if not (isinstance(x, (int, float)) and x > 0 and math.isfinite(x)):
        raise MlsysimError(f"elasticity needs a positive finite input, got {x!r}")
    up, down = f(x * math.exp(rel_step)), f(x * math.exp(-rel_step))
    if not (up > 0 and down > 0):
        raise MlsysimError(f"elasticity needs a positive result on both sides of x = {x:g}, got {down!r} and {up!r}")
    return (math.log(up) - math.log(down)) / (2.0 * rel_step)


def elasticities(f: Callable[[Mapping[str, float]], float], inputs: Mapping[str, float],
                 rel_step: float = 1e-3) -> dict[str, float]:
    """Elasticity [1] of f(inputs) with respect to each named input, the others held:
    for each name k, d ln f / d ln inputs[k] by `log_elasticity`. Infinite or zero
    inputs (a term the system lacks) are skipped. `f` receives a new dict every call."""
    base = dict(inputs)
    out: dict[str, float] = {}
    for name, x in base.items():
        if not (x > 0 and math.isfinite(x)):
            continue
        out[name] = log_elasticity(lambda v, k=name: f({**base, k: v}), x, rel_step)
    return out


def binding_term(elastic: Mapping[str, float], threshold: float = 1e-6) -> str | None:
    """The input whose elasticity is largest in magnitude (the one a 1% improvement helps
    most), or None if every |elasticity| is below `threshold` [1]."""
    if not elastic:
        return None
    name = max(elastic, key=lambda k: abs(elastic[k]))
    return name if abs(elastic[name]) >= threshold else None


@dataclass(frozen=True)
class SensitivityResult:
    """Elasticities d ln(result) / d ln(term) [1] of one solve, SI floats.

    `binding` names the term with the largest |elasticity|; when the baseline does not fit
    in memory it is "memory_capacity" (no small change of the other terms makes it run).
    `value` is the analysed result at the baseline (e.g. latency [s])."""

    quantity: str
    value: float
    elasticities: dict[str, float]
    binding: str | None
    feasible: bool
    memory_usage: float  # [B] resident per device
    memory_capacity: float  # [B] per device
    rel_step: float
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "lineage"}
        out["elasticities"] = dict(self.elasticities)
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


_ENGINE_QUANTITIES = ("latency", "throughput", "latency_compute", "latency_memory")


class SensitivitySolver:
    """Elasticities of a roofline or training result with respect to the hardware terms."""

    def solve(self, model: Record | str, hardware: Record | str, batch_size: int = 1, precision: str = "fp16", *,
              seq_len: int | None = None, efficiency: float | None = None, quantity: str = "latency",
              rel_step: float = 1e-3) -> SensitivityResult:
        """Elasticities of `Engine.solve(model, hardware, batch_size, precision)`'s `quantity`
        ("latency", "throughput", "latency_compute", "latency_memory") with respect to the
        accelerator's peak compute, memory bandwidth and memory capacity.

        Each term is perturbed on a copy of the accelerator's float terms (the record is not
        touched) and the same roofline (`engine.solve_terms`) is solved again. Latency's
        elasticities are -t_compute/latency (compute-bound) or -t_memory/latency (memory-bound),
        and a transformer's element-wise kernels answer to the bandwidth even in a compute-bound
        pass (-t_elementwise/latency): a step with fixed launch overhead is less than fully
        bound by either. Capacity never
        changes the roofline time, so its elasticity is 0; a pass that does not fit is bound by it.
        """
        from mlsysim.solvers.engine import roofline_terms, solve_terms

        if quantity not in _ENGINE_QUANTITIES:
            raise MlsysimError(f"quantity must be one of {', '.join(_ENGINE_QUANTITIES)}, got {quantity!r}")
        t = roofline_terms(model, hardware, precision, efficiency)
        h = t.hardware
        base = solve_terms(t, batch_size, seq_len)

        def run(terms: Mapping[str, float]) -> float:
            return solve_terms(replace(t, hardware=replace(h, **terms)), batch_size, seq_len).si[quantity]

        inputs = {field: getattr(h, field) for field in ENGINE_TERMS}
        found = {ENGINE_TERMS[k]: v for k, v in elasticities(run, inputs, rel_step).items()}
        lineage = base.lineage
        return _result(quantity, base.si[quantity], found, base.feasible, base.si["memory_usage"], h.capacity,
                       rel_step, lineage)

    def training(self, model: Record, fleet: Any, batch_size: int, precision: str = "bf16", *, efficiency: Any = None,
                 quantity: str = "step_time", rel_step: float = 1e-3, **layout: Any) -> SensitivityResult:
        """Elasticities of `DistributedModel().solve(...)`'s `quantity` (default the step
        time [s]) with respect to per-device peak compute, memory capacity and the intra-node
        and inter-node interconnect bandwidths per device. `layout` takes the solve's parallel
        layout keywords (tp, pp, microbatch, zero, ...)."""
        from mlsysim.solvers.distributed import _layout_from, train, training_terms

        setup = training_terms(model, fleet, devices=layout.pop("devices", None), precision=precision,
                               efficiency=efficiency, seq_len=layout.pop("seq_len", None))
        par = _layout_from(layout.pop("tp", 1), layout.pop("pp", 1), layout)
        base = train(setup, par, batch_size)
        if not hasattr(base, quantity) or not isinstance(getattr(base, quantity), float):
            raise MlsysimError(f"quantity {quantity!r} is not a number of the training result; use e.g. step_time")

        def run(terms: Mapping[str, float]) -> float:
            changed = dict(terms)
            if "peak" in changed:
                changed["rate"] = changed["peak"] * setup.efficiency
            return getattr(train(replace(setup, **changed), par, batch_size), quantity)

        inputs = {field: getattr(setup, field) for field in TRAINING_TERMS}
        found = {TRAINING_TERMS[k]: v for k, v in elasticities(run, inputs, rel_step).items()}
        return _result(quantity, getattr(base, quantity), found, base.feasible,
                       base.memory_total, setup.capacity, rel_step, setup.lineage)

    def of(self, function: Callable[[Mapping[str, float]], float], inputs: Mapping[str, float], *,
           quantity: str = "result", rel_step: float = 1e-3, lineage: Lineage | None = None) -> SensitivityResult:
        """Elasticities of any positive function of named positive floats (e.g. a pure
        roofline function of peak and bandwidth); `feasible` is True and capacity unknown (nan)."""
        value = function(dict(inputs))
        found = elasticities(function, inputs, rel_step)
        return _result(quantity, value, found, True, math.nan, math.nan, rel_step, lineage or Lineage())


def _result(quantity: str, value: float, found: dict[str, float], feasible: bool, usage: float, capacity: float,
            rel_step: float, lineage: Lineage) -> SensitivityResult:
    binding = binding_term(found) if feasible else "memory_capacity"
    return SensitivityResult(quantity, float(value), found, binding, bool(feasible), float(usage), float(capacity),
                             rel_step, lineage)
