"""Fleet reliability: failure rates, interruptions, optimal checkpointing and goodput.

Failures are modelled as independent Poisson processes, one per component class, each
with a rate per accelerator-hour taken from a cited fleet observation (by default the
Llama 3 405B pre-training root-cause table). A job on N accelerators for time T sees

  fleet rate          lambda = N x sum of component rates             [1/s]
  fleet MTBF          M = 1 / lambda
  P(>= 1 failure)     1 - exp(-lambda T)
  interruptions       lambda T (expected)

Checkpointing every tau seconds costs delta = checkpoint size / write bandwidth each
time; the optimal interval is Young's sqrt(2 delta M) or Daly's higher-order
correction, and the expected wall-clock time of T_s seconds of work with restart time R is
Daly's  M e^(R/M) (e^((tau + delta)/M) - 1) T_s / tau.  Goodput = T_s / wall-clock.

References
----------
Young 1974, "A first order approximation to the optimum checkpoint interval",
Communications of the ACM 17(9): tau = sqrt(2 delta M).
Daly 2006, "A higher order estimate of the optimum checkpoint interval for restart
dumps", Future Generation Computer Systems 22(3): tau = sqrt(2 delta M)[1 + (1/3)
sqrt(delta/2M) + (1/9)(delta/2M)] - delta for delta < 2M, else M; expected wall time
(Eq. 20).
Llama Team 2024, "The Llama 3 Herd of Models", arXiv 2407.21783, Sec. 3.3.4 and Table 5
(419 unexpected interruptions of a 16,384-GPU job in 54 days, by root cause).
Narayanan et al. 2021, arXiv 2104.04473, Sec. 5.10 (checkpoint size and bandwidths).
Rajbhandari et al. 2020, arXiv 1910.02054 (16-bit weights + K = 12 bytes of fp32 Adam state
per parameter make up a mixed-precision training checkpoint; assumption
adam_optimizer_state_bytes_mixed_precision).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog import Catalog
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.fleet import Fleet, bytes_per_element, fleet_of, optimizer_state_bytes
from mlsysim.solvers.results import QuantityView
from mlsysim.solvers.terms import cited_assumption

# Llama 3 Table 5 root-cause rows (assumption ids), grouped by the table's category column.
LLAMA3_COMPONENTS: dict[str, tuple[str, ...]] = {
    "gpu": (
        "llama3_interruptions_faulty_gpu", "llama3_interruptions_gpu_hbm3", "llama3_interruptions_gpu_sram",
        "llama3_interruptions_gpu_system_processor", "llama3_interruptions_silent_data_corruption",
        "llama3_interruptions_gpu_thermal",
    ),
    "host": (
        "llama3_interruptions_cpu", "llama3_interruptions_io_expansion_board", "llama3_interruptions_power_supply",
        "llama3_interruptions_server_chassis", "llama3_interruptions_ssd", "llama3_interruptions_system_memory",
        "llama3_interruptions_nic",
    ),
    "network": ("llama3_interruptions_network_switch_cable",),
    "maintenance": ("llama3_interruptions_host_maintenance",),
    "software": ("llama3_interruptions_software_bug", "llama3_interruptions_dependency"),
    "unknown": ("llama3_interruptions_nccl_watchdog_timeout",),
}
HARDWARE_COMPONENTS = ("gpu", "host", "network")
LLAMA3_FLEET = "llama3_fleet_size_gpus"
LLAMA3_PERIOD = "llama3_snapshot_period"
DEFAULT_WRITE_BANDWIDTH = "checkpoint_write_bandwidth_megatron"
DEFAULT_READ_BANDWIDTH = "checkpoint_read_bandwidth_megatron"


def component_rates(catalog: Catalog, groups: tuple[str, ...] | None = None,
                    lineage: Lineage | None = None) -> dict[str, float]:
    """Failure rate per accelerator-second of each component class [1/s]: the class's
    interruption count / (fleet accelerators x observation period), from the Llama 3
    Table 5 records of `catalog`. Host and network rates are normalised per accelerator too,
    so they carry that fleet's 8-GPU servers and network design with them."""
    rates, cited = _component_rates(catalog, tuple(groups or LLAMA3_COMPONENTS))
    if lineage is not None:
        lineage.merge(cited)
    return dict(rates)


def _component_rates(catalog: Catalog, groups: tuple[str, ...]) -> tuple[dict[str, float], Lineage]:
    """component_rates, read once per (catalog, component classes)."""
    memo = catalog.derived("component_rates")
    hit = memo.get(groups)
    if hit is not None:
        return hit
    unknown = [g for g in groups if g not in LLAMA3_COMPONENTS]
    if unknown:
        raise MlsysimError(f"unknown component class {unknown[0]!r}; use some of {', '.join(LLAMA3_COMPONENTS)}")
    lineage = Lineage()
    use = lambda ident: lineage.use(cited_assumption(catalog, ident, "failure rates", "reliability solver"))  # noqa: E731
    exposure_s = use(LLAMA3_FLEET) * use(LLAMA3_PERIOD)
    rates = {g: sum(use(rid) for rid in LLAMA3_COMPONENTS[g]) / exposure_s for g in groups}
    memo[groups] = (rates, lineage)
    return rates, lineage


def young_interval(write_time: float, mtbf: float) -> float:
    """Optimal checkpoint interval [s] to first order: tau = sqrt(2 delta M), for a
    checkpoint that takes `write_time` delta [s] to write and a failure every `mtbf` M [s].

    References
    ----------
    Young 1974, "A first order approximation to the optimum checkpoint interval",
    Communications of the ACM 17(9).
    """
    return math.sqrt(2 * write_time * mtbf)


def daly_interval(write_time: float, mtbf: float) -> float:
    """Optimal checkpoint interval [s] to higher order:
    tau = sqrt(2 delta M) [1 + (1/3) sqrt(delta/2M) + (1/9) (delta/2M)] - delta for
    delta < 2M, else M (delta = `write_time` [s], M = `mtbf` [s]; 1/3 and 1/9 are the
    coefficients of Daly's series).

    References
    ----------
    Daly 2006, "A higher order estimate of the optimum checkpoint interval for restart
    dumps", Future Generation Computer Systems 22(3), Eq. 37.
    """
    if write_time >= 2 * mtbf:
        return mtbf
    x = write_time / (2 * mtbf)
    return math.sqrt(2 * write_time * mtbf) * (1 + math.sqrt(x) / 3 + x / 9) - write_time


def expected_wall_time(work: float, interval: float, write_time: float, restart: float, mtbf: float) -> float:
    """Expected wall-clock time [s] to finish `work` [s] of computation checkpointing every
    `interval` [s] (each checkpoint taking `write_time` [s]), with failures at MTBF `mtbf`
    [s] and `restart` [s] to resume after each:
    M e^(R/M) (e^((tau + delta)/M) - 1) work / tau.

    References
    ----------
    Daly 2006, Future Generation Computer Systems 22(3), Eq. 20.
    """
    return mtbf * math.exp(restart / mtbf) * math.expm1((interval + write_time) / mtbf) * work / interval


def checkpoint_bytes(parameters: float, bytes_per_weight: float, optimizer_bytes: float) -> float:
    """Bytes of a training checkpoint [B]: `parameters` [1] x (`bytes_per_weight` [B], the
    weights at the training precision, + `optimizer_bytes` [B], the optimizer state per
    parameter; see fleet.optimizer_state_bytes).

    References
    ----------
    Rajbhandari et al. 2020, arXiv 1910.02054, Sec. 3.1 (2 + 12 bytes per parameter for
    mixed-precision Adam, without the gradients a checkpoint does not keep).
    """
    return parameters * (bytes_per_weight + optimizer_bytes)


@dataclass(slots=True)  # built on every solve: plain slots are the cheapest to build
class ReliabilityResult(QuantityView):
    """A job's exposure to failures and the cost of surviving them (SI floats; `quantity(name)`
    for a pint view)."""

    devices: int
    duration: float  # [s] of useful work the job needs
    failure_rate: float  # [1/s] for the whole job
    component_rates: dict[str, float]  # [1/s] per component class, whole job
    mtbf: float  # [s]
    p_failure: float
    expected_interruptions: float
    checkpoint_size: float  # [B]
    write_time: float  # [s]
    restart_time: float  # [s]
    young_interval: float  # [s]
    daly_interval: float  # [s]
    wall_time: float  # [s] expected, checkpointing at the Daly interval
    goodput: float  # useful work / wall-clock time
    lineage: Lineage

    UNITS = {"duration": "s", "failure_rate": "1/s", "mtbf": "s", "p_failure": "", "expected_interruptions": "",
             "checkpoint_size": "B", "write_time": "s", "restart_time": "s", "young_interval": "s",
             "daly_interval": "s", "wall_time": "s", "goodput": "", "lost_time": "s"}

    @property
    def lost_time(self) -> float:
        """Wall-clock seconds not spent on useful work (checkpoints, rework, restarts)."""
        return self.wall_time - self.duration

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "lineage"}
        out["lost_time"] = self.lost_time
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


@dataclass(frozen=True)
class CheckpointPlan:
    """How a job checkpoints: the checkpoint's size (from the trained `model`, or
    `checkpoint_size` [B] directly), the write and read bandwidths [B/s] (numbers, cited
    values or assumptions; default: Megatron-LM's measured 273 GB/s saves and 1 TB/s loads)
    and the restart time [s] (default: the checkpoint load time, a lower bound)."""

    model: Record | None = None
    checkpoint_size: float | None = None
    precision: str = "bf16"
    write_bandwidth: Any = None
    read_bandwidth: Any = None
    restart_time: float | None = None

    @property
    def memo_key(self) -> tuple[Any, ...] | None:
        return inputs.memo_key(self.model, self.checkpoint_size, self.precision, self.write_bandwidth,
                               self.read_bandwidth, self.restart_time)


class ReliabilityModel:
    """Failure exposure, optimal checkpoint interval and goodput of a training job."""

    def solve(self, fleet: Record | Fleet | int, duration: float, plan: CheckpointPlan | None = None, *,
              components: tuple[str, ...] | None = None, devices: int | None = None,
              catalog: Catalog | None = None, **plan_fields: Any) -> ReliabilityResult:
        """
        fleet            a cluster record, a Fleet, or an accelerator count
        duration [s]     useful work the job needs (failure-free time)
        model            the trained model (checkpoint = parameters x bytes per parameter), or
        checkpoint_size  [B] directly
        write_bandwidth  [B/s] number, cited Value or assumption (default: Megatron-LM's
                         273 GB/s checkpoint saves, Narayanan et al. 2021 Sec. 5.10)
        read_bandwidth   [B/s] for the restart's checkpoint load (default: Megatron-LM's 1 TB/s)
        restart_time [s] default: the checkpoint load time (a lower bound: it leaves out
                         rescheduling and re-initialisation)
        components       component classes to count (default: all of Llama 3 Table 5;
                         HARDWARE_COMPONENTS for GPU, host and network only)
        (model, checkpoint_size, precision, write_bandwidth, read_bandwidth and restart_time
        are the fields of CheckpointPlan; pass them as keywords or as `plan=`.)
        A thin wrapper over `exposure(fleet, plan).over(duration)`.
        """
        if plan is None:
            known = [f.name for f in fields(CheckpointPlan)]
            unknown = [k for k in plan_fields if k not in known]
            if unknown:
                raise MlsysimError(f"unknown argument {unknown[0]!r}; use {', '.join(known)}, components, devices or catalog")
            plan = CheckpointPlan(**plan_fields)
        elif plan_fields:
            raise MlsysimError(f"pass either plan= or its fields ({', '.join(plan_fields)}), not both")
        return exposure(fleet, plan, components=components, devices=devices, catalog=catalog).over(duration)


@dataclass(frozen=True)
class Exposure:
    """A job's failure rate and checkpoint costs: everything ReliabilityModel.solve needs
    but the job's length, read from the catalog once (see `exposure`)."""

    devices: int
    component_rates: dict[str, float]  # [1/s] per component class, whole job
    failure_rate: float  # [1/s]
    mtbf: float  # [s]
    checkpoint_size: float  # [B]
    write_time: float  # [s]
    restart_time: float  # [s]
    young_interval: float  # [s]
    daly_interval: float  # [s]
    lineage: Lineage

    def over(self, duration: float) -> ReliabilityResult:
        """The job needing `duration` seconds of work [s]."""
        if not (inputs._number(duration) and duration > 0 and math.isfinite(duration)):
            raise MlsysimError(f"duration must be positive (and finite) seconds of work, got {duration!r}")
        try:
            wall = expected_wall_time(duration, self.daly_interval, self.write_time, self.restart_time, self.mtbf)
        except OverflowError:
            wall = math.inf
        if not math.isfinite(wall):
            raise MlsysimError(f"devices = {self.devices}: the job's MTBF ({self.mtbf:.3g} s) is so short next to a checkpoint "
                               f"write ({self.write_time:.3g} s) and restart ({self.restart_time:.3g} s) that it never finishes "
                               "(expected wall time overflows); use fewer devices or a faster checkpoint")
        lineage = Lineage()
        lineage.merge(self.lineage)
        return ReliabilityResult(
            devices=self.devices, duration=duration, failure_rate=self.failure_rate,
            component_rates=dict(self.component_rates), mtbf=self.mtbf,
            p_failure=-math.expm1(-self.failure_rate * duration), expected_interruptions=self.failure_rate * duration,
            checkpoint_size=self.checkpoint_size, write_time=self.write_time, restart_time=self.restart_time,
            young_interval=self.young_interval, daly_interval=self.daly_interval, wall_time=wall,
            goodput=duration / wall, lineage=lineage,
        )


def exposure(fleet: Record | Fleet | int, plan: CheckpointPlan | None = None, *, model: Record | None = None,
             components: tuple[str, ...] | None = None, devices: int | None = None,
             catalog: Catalog | None = None) -> Exposure:
    """A job's failure exposure and checkpoint costs (ReliabilityModel.solve's inputs but the
    duration), read once per catalog and distinct inputs: `exposure(...).over(duration)`
    is `ReliabilityModel().solve(...)`. `model=` is short for CheckpointPlan(model=model)."""
    if plan is None:
        plan = CheckpointPlan(model=model)
    elif model is not None:
        raise MlsysimError("pass model= inside the CheckpointPlan, not beside it")
    catalog = inputs.catalog_of(fleet, plan.model, plan.write_bandwidth, plan.read_bandwidth, catalog=catalog)
    groups = tuple(components or LLAMA3_COMPONENTS)
    memo = catalog.derived("exposure")
    key = inputs.memo_key(fleet, devices, plan, groups)
    found = memo.get(key) if key is not None else None
    if found is None:
        found = _read_exposure(catalog, _devices(fleet, devices), plan, groups)
        if key is not None:
            inputs.remember(memo, key, found)
    return found


def _read_exposure(catalog: Catalog, fleet: tuple[int, Lineage], plan: CheckpointPlan,
                   groups: tuple[str, ...]) -> Exposure:
    n, fleet_lineage = fleet
    lineage = Lineage()
    lineage.merge(fleet_lineage)
    rates, cited = _component_rates(catalog, groups)
    lineage.merge(cited)
    per_class = {g: r * n for g, r in rates.items()}
    lam = sum(per_class.values())
    mtbf = 1 / lam
    size = plan.checkpoint_size
    if size is None:
        if plan.model is None:
            raise MlsysimError("pass model= (to size the checkpoint) or checkpoint_size= in bytes")
        model = inputs.record(plan.model, "models", catalog, "model")
        size = checkpoint_bytes(lineage.use(model.parameters), bytes_per_element(plan.precision),
                                optimizer_state_bytes(catalog, plan.precision, lineage))
    else:
        size = inputs.finite_positive(size, "checkpoint_size")
    write_bw = _bandwidth(plan.write_bandwidth, DEFAULT_WRITE_BANDWIDTH, catalog, lineage, "write_bandwidth")
    write = size / write_bw
    restart = plan.restart_time
    if restart is not None:
        restart = inputs.finite_at_least(restart, "restart_time")
    else:
        restart = size / _bandwidth(plan.read_bandwidth, DEFAULT_READ_BANDWIDTH, catalog, lineage, "read_bandwidth")
    return Exposure(n, per_class, lam, mtbf, size, write, restart, young_interval(write, mtbf),
                    daly_interval(write, mtbf), lineage)


def _devices(fleet: Record | Fleet | int, devices: int | None) -> tuple[int, Lineage]:
    if isinstance(fleet, (Record, Fleet)):
        f = fleet_of(fleet, devices)
        return f.devices, f.lineage
    if isinstance(fleet, bool) or not isinstance(fleet, int):
        raise MlsysimError(f"fleet must be a cluster record, a Fleet or an accelerator count, got {fleet!r}")
    if fleet < 1:
        raise MlsysimError(f"accelerator count must be >= 1, got {fleet}")
    return fleet, Lineage()


def _bandwidth(value: Any, default_id: str, catalog: Catalog, lineage: Lineage, what: str) -> float:
    if value is None:
        value = cited_assumption(catalog, default_id, what, "reliability solver")
    return inputs.as_si(value, "bandwidth", what, lineage)
