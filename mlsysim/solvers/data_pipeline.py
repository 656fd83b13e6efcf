"""Data pipeline: is a training job starved by storage, network or CPU preprocessing?

Fetch. A job that takes `samples_per_step` samples every `step_time` seconds consumes

  demand = bytes per sample x samples per second                           [B/s]

of which a fraction h is served from a DRAM cache and the rest must come over every data path
on the way (local storage read bandwidth, the network to remote storage): the supply is the
slowest path's bandwidth, each path carrying demand x (1 - h). With the next batch prefetched
while the accelerators compute (fetch and compute overlap), the step takes
max(step time, data time), so the job runs slower by the stall factor

  max(1, demand x (1 - h) / supply)                                        [1].

Prep. CPU preprocessing (decode, augmentation, tokenization) of t_cpu seconds per sample on c
cores takes t_cpu x samples per step / c per step (perfectly parallel cores, an upper bound
on the pool's speed); overlapped with the accelerator step, the step takes the max of the
two, and the accelerators are busy step time / that max.

References
----------
Mohan, Phanishayee, Raniwala & Chidambaram 2021, "Analyzing and Mitigating Data Stalls in DNN
Training", Proc. VLDB Endowment, arXiv 2007.06775 (fetch stalls and prep stalls; DRAM caching of the
dataset; prefetching overlaps data loading with the GPU step).
Murray et al. 2021, "tf.data: A Machine Learning Data Processing Framework", Proc. VLDB Endowment,
arXiv 2101.12127 (pipelined, parallel input preprocessing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.results import result_dict


def data_demand(bytes_per_sample: Any, samples_per_second: Any) -> Any:
    """Input bytes the accelerators consume per second [B/s] = bytes per sample [B] x
    samples per second [1/s].

    References
    ----------
    Mohan et al. 2021, arXiv 2007.06775.
    """
    return bytes_per_sample * samples_per_second


def stall_factor(demand: Any, supply: Any) -> Any:
    """How much slower the job runs than its compute allows [1]: max(1, demand / supply),
    demand and supply in [B/s], fetch overlapped with compute (prefetching).

    References
    ----------
    Mohan et al. 2021, arXiv 2007.06775 (fetch stalls).
    """
    ratio = demand / supply
    return ratio if ratio > 1.0 else 1.0


def prep_time_per_step(seconds_per_sample: Any, samples_per_step: Any, cores: Any) -> Any:
    """CPU preprocessing time of one step [s] = CPU seconds per sample [s] x samples per step [1]
    / cores [1], with the samples spread evenly over the cores.

    References
    ----------
    Mohan et al. 2021, arXiv 2007.06775 (prep stalls); Murray et al. 2021, arXiv 2101.12127.
    """
    return seconds_per_sample * samples_per_step / cores


def overlapped_step_time(stage_a: Any, stage_b: Any) -> Any:
    """Step time [s] of two pipelined stages [s] that overlap (prefetch): the slower one."""
    return stage_a if stage_a > stage_b else stage_b


def _positive(value: Any, name: str, unit: str, lineage: Lineage | None = None) -> float:
    if isinstance(value, Record):
        value = value.quantity
    if isinstance(value, Value) and lineage is not None:
        return _positive(lineage.use(value), name, unit)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise MlsysimError(f"{name} must be a positive finite number [{unit}], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class DataResult:
    """Data demand against supply for one training job (SI floats)."""

    samples_per_second: float  # [1/s] the accelerators' demand
    demand: float  # [B/s] before the cache
    uncached_demand: float  # [B/s] after the cache
    supply: float  # [B/s] slowest path
    bottleneck: str  # name of the slowest path
    path_bandwidths: dict[str, float]  # [B/s]
    utilization: float  # uncached demand / supply (> 1: stalled)
    stalled: bool
    stall_factor: float  # [1] step time with fetch / step time without, >= 1
    achieved_samples_per_second: float  # [1/s]
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "lineage"}
        out["path_bandwidths"] = dict(self.path_bandwidths)
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


class DataModel:
    """Storage and network supply against the accelerators' data demand (fetch stalls)."""

    def solve(self, bytes_per_sample: float, *, storage_bandwidth: Any, network_bandwidth: Any = None,
              samples_per_second: float | None = None, samples_per_step: float | None = None,
              step_time: float | None = None, training: Any = None, cache_hit_fraction: float = 0.0) -> DataResult:
        """
        bytes_per_sample     [B] stored size of one training sample
        storage_bandwidth    [B/s] read bandwidth of the storage feeding the job (number, cited
                             Value or assumption record)
        network_bandwidth    [B/s] of the network path to that storage, if remote (optional)
        the demand, one of:  samples_per_second [1/s]; samples_per_step [1] with step_time [s];
                             or training= a DistributedModel result (global batch / step time)
        cache_hit_fraction   [1] in [0, 1): fraction of the bytes served from a DRAM cache
        """
        lineage = Lineage()
        size = _positive(bytes_per_sample, "bytes_per_sample", "B", lineage)
        rate = _demand_rate(samples_per_second, samples_per_step, step_time, training, lineage)
        if isinstance(cache_hit_fraction, bool) or not isinstance(cache_hit_fraction, (int, float)) \
                or not 0 <= cache_hit_fraction < 1:
            raise MlsysimError(f"cache_hit_fraction must be in [0, 1), got {cache_hit_fraction!r}")
        paths = {"storage": _positive(storage_bandwidth, "storage_bandwidth", "B/s", lineage)}
        if network_bandwidth is not None:
            paths["network"] = _positive(network_bandwidth, "network_bandwidth", "B/s", lineage)
        bottleneck = min(paths, key=lambda k: paths[k])
        supply = paths[bottleneck]
        demand = data_demand(size, rate)
        uncached = demand * (1.0 - cache_hit_fraction)
        factor = stall_factor(uncached, supply)
        return DataResult(rate, demand, uncached, supply, bottleneck, paths, uncached / supply, factor > 1.0, factor,
                          rate / factor, lineage)


def _demand_rate(samples_per_second: Any, samples_per_step: Any, step_time: Any, training: Any, lineage: Lineage) -> float:
    given = [samples_per_second is not None, samples_per_step is not None or step_time is not None, training is not None]
    if sum(given) != 1:
        raise MlsysimError("give the demand one way: samples_per_second, or samples_per_step with step_time, or training=")
    if samples_per_second is not None:
        return _positive(samples_per_second, "samples_per_second", "1/s")
    if training is not None:
        if not (hasattr(training, "global_batch") and hasattr(training, "step_time")):
            raise MlsysimError(f"training must be a DistributedModel result (global_batch, step_time), got {training!r}")
        if hasattr(training, "lineage"):
            lineage.merge(training.lineage)
        return _positive(training.global_batch, "training.global_batch", "1") / _positive(training.step_time, "training.step_time", "s")
    return _positive(samples_per_step, "samples_per_step", "1") / _positive(step_time, "step_time", "s")


@dataclass(frozen=True)
class TransformationResult:
    """CPU preprocessing against the accelerator step (SI floats)."""

    prep_time: float  # [s] CPU time per step, spread over the cores
    accelerator_step_time: float  # [s]
    step_time: float  # [s] overlapped: max of the two
    bottleneck: str  # "cpu" or "accelerator"
    accelerator_utilization: float  # accelerator step / step time
    slowdown: float  # step time / accelerator step time, >= 1
    cores_needed: float  # [1] cores that would make prep no slower than the accelerator step
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class TransformationModel:
    """CPU preprocessing time per step against the accelerator step time (prep stalls)."""

    def solve(self, cpu_seconds_per_sample: float, samples_per_step: float, cores: float,
              accelerator_step_time: float) -> TransformationResult:
        """
        cpu_seconds_per_sample  [s] CPU time to decode and augment one sample on one core
        samples_per_step        [1] samples the CPUs prepare per step (per node, for a per-node CPU pool)
        cores                   [1] CPU cores preprocessing in parallel
        accelerator_step_time   [s] the step without data stalls
        """
        lineage = Lineage()
        per_sample = _positive(cpu_seconds_per_sample, "cpu_seconds_per_sample", "s", lineage)
        n = _positive(samples_per_step, "samples_per_step", "1")
        c = _positive(cores, "cores", "1")
        t_acc = _positive(accelerator_step_time, "accelerator_step_time", "s", lineage)
        t_prep = prep_time_per_step(per_sample, n, c)
        step = overlapped_step_time(t_prep, t_acc)
        return TransformationResult(t_prep, t_acc, step, "cpu" if t_prep > t_acc else "accelerator", t_acc / step,
                                    step / t_acc, per_sample * n / t_acc, lineage)
