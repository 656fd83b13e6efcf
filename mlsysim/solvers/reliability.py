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
Rajbhandari et al. 2019, arXiv 1910.02054 (16-bit weights + 12 bytes of fp32 Adam state
per parameter make up a mixed-precision training checkpoint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlsysim.catalog import Catalog, default_catalog
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.catalog.records import Record, Value
from mlsysim.solvers.fleet import (
    Fleet,
    assumption,
    bytes_per_element,
    field_of,
    inputs_key,
)

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


def component_rates(catalog: Catalog | None = None, groups: tuple[str, ...] | None = None,
                    lineage: Lineage | None = None) -> dict[str, float]:
    """Failure rate per accelerator-second of each component class [1/s]: the class's
    interruption count / (fleet accelerators x observation period), from the Llama 3
    Table 5 records. Host and network rates are normalised per accelerator too, so they
    carry that fleet's 8-GPU servers and network design with them."""
    catalog = catalog or default_catalog()
    rates, cited = _component_rates(catalog, tuple(groups or LLAMA3_COMPONENTS))
    if lineage is not None:
        lineage.merge(cited)
    return dict(rates)


def _component_rates(catalog: Catalog, groups: tuple[str, ...]) -> tuple[dict[str, float], Lineage]:
    """component_rates, read once per (catalog, component classes)."""
    key = (id(catalog), groups)
    hit = _RATES.get(key)
    if hit is not None:
        return hit[1], hit[2]
    unknown = [g for g in groups if g not in LLAMA3_COMPONENTS]
    if unknown:
        raise MlsysimError(f"unknown component class {unknown[0]!r}; use some of {', '.join(LLAMA3_COMPONENTS)}")
    lineage = Lineage()
    exposure = lineage.use(assumption(catalog, LLAMA3_FLEET)) * lineage.use(assumption(catalog, LLAMA3_PERIOD))
    rates = {
        g: sum(lineage.use(assumption(catalog, rid)) for rid in LLAMA3_COMPONENTS[g]) / exposure
        for g in groups
    }
    _RATES[key] = (catalog, rates, lineage)  # the catalog is kept so its id is not reused
    return rates, lineage


_RATES: dict[tuple[int, tuple[str, ...]], tuple[Catalog, dict[str, float], Lineage]] = {}


def young_interval(write_time: float, mtbf: float) -> float:
    """Young 1974: optimal checkpoint interval [s] = sqrt(2 delta M)."""
    return math.sqrt(2 * write_time * mtbf)


def daly_interval(write_time: float, mtbf: float) -> float:
    """Daly 2006: sqrt(2 delta M) [1 + (1/3) sqrt(delta/2M) + (1/9) (delta/2M)] - delta
    for delta < 2M, else M [s]."""
    if write_time >= 2 * mtbf:
        return mtbf
    x = write_time / (2 * mtbf)
    return math.sqrt(2 * write_time * mtbf) * (1 + math.sqrt(x) / 3 + x / 9) - write_time


def expected_wall_time(work: float, interval: float, write_time: float, restart: float, mtbf: float) -> float:
    """Daly 2006, Eq. 20: expected wall-clock time [s] to finish `work` seconds of
    computation checkpointing every `interval` seconds, with failures at MTBF `mtbf`
    and `restart` seconds to resume after each."""
    return mtbf * math.exp(restart / mtbf) * math.expm1((interval + write_time) / mtbf) * work / interval


def checkpoint_bytes(parameters: float, precision: str = "bf16") -> float:
    """Bytes of a training checkpoint: weights at the training precision plus fp32 Adam
    state (master weights, two moments: 12 bytes per parameter; 8 in pure fp32 training,
    which needs no master copy) (Rajbhandari et al. 2019)."""
    elem = bytes_per_element(precision)
    return parameters * (elem + (12.0 if elem < 4 else 8.0))


@dataclass(slots=True)  # built on every solve: plain slots are the cheapest to build
class ReliabilityResult:
    """A job's exposure to failures and the cost of surviving them (SI units)."""

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

    @property
    def lost_time(self) -> float:
        """Wall-clock seconds not spent on useful work (checkpoints, rework, restarts)."""
        return self.wall_time - self.duration

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "lineage"}
        out["lost_time"] = self.lost_time
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        return out


class ReliabilityModel:
    """Failure exposure, optimal checkpoint interval and goodput of a training job."""

    def solve(self, fleet: Record | Fleet | int, duration: float, *, model: Record | None = None,
              checkpoint_size: float | None = None, precision: str = "bf16",
              write_bandwidth: Any = None, read_bandwidth: Any = None, restart_time: float | None = None,
              components: tuple[str, ...] | None = None, devices: int | None = None,
              catalog: Catalog | None = None) -> ReliabilityResult:
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
        """
        return exposure(fleet, model=model, checkpoint_size=checkpoint_size, precision=precision,
                        write_bandwidth=write_bandwidth, read_bandwidth=read_bandwidth, restart_time=restart_time,
                        components=components, devices=devices, catalog=catalog).over(duration)


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
        if not duration > 0:
            raise MlsysimError(f"duration must be positive seconds of work, got {duration!r}")
        wall = expected_wall_time(duration, self.daly_interval, self.write_time, self.restart_time, self.mtbf)
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


def exposure(fleet: Record | Fleet | int, *, model: Record | None = None, checkpoint_size: float | None = None,
             precision: str = "bf16", write_bandwidth: Any = None, read_bandwidth: Any = None,
             restart_time: float | None = None, components: tuple[str, ...] | None = None,
             devices: int | None = None, catalog: Catalog | None = None) -> Exposure:
    """ReliabilityModel.solve's inputs (same meaning) read into an Exposure, once per
    distinct inputs: `exposure(...).over(duration)` is `ReliabilityModel().solve(...)`."""
    catalog = catalog or default_catalog()
    inputs = (catalog, fleet, devices, model, checkpoint_size, precision, write_bandwidth, read_bandwidth,
              restart_time, components)
    key = inputs_key(*inputs)
    hit = _EXPOSURES.get(key) if key is not None else None
    if hit is not None:
        return hit[1]
    found = _read_exposure(*inputs)
    if key is not None:
        if len(_EXPOSURES) > 512:
            _EXPOSURES.clear()
        _EXPOSURES[key] = (inputs, found)  # the inputs are kept so their ids are not reused
    return found


_EXPOSURES: dict[tuple[Any, ...], tuple[tuple[Any, ...], Exposure]] = {}


def _read_exposure(catalog: Catalog, fleet: Record | Fleet | int, devices: int | None, model: Record | None,
                   checkpoint_size: float | None, precision: str, write_bandwidth: Any, read_bandwidth: Any,
                   restart_time: float | None, components: tuple[str, ...] | None) -> Exposure:
    lineage = Lineage()
    n = _devices(fleet, devices, lineage)
    rates, cited = _component_rates(catalog, tuple(components or LLAMA3_COMPONENTS))
    lineage.merge(cited)
    per_class = {g: r * n for g, r in rates.items()}
    lam = sum(per_class.values())
    mtbf = 1 / lam
    if checkpoint_size is None:
        if model is None:
            raise MlsysimError("pass model= (to size the checkpoint) or checkpoint_size= in bytes")
        checkpoint_size = checkpoint_bytes(lineage.use(field_of(model, "parameters") or model.parameters), precision)
    write_bw = _bandwidth(write_bandwidth, DEFAULT_WRITE_BANDWIDTH, catalog, lineage, "write_bandwidth")
    write = checkpoint_size / write_bw
    if restart_time is None:
        restart_time = checkpoint_size / _bandwidth(read_bandwidth, DEFAULT_READ_BANDWIDTH, catalog, lineage, "read_bandwidth")
    return Exposure(n, per_class, lam, mtbf, checkpoint_size, write, restart_time, young_interval(write, mtbf),
                    daly_interval(write, mtbf), lineage)


def _devices(fleet: Record | Fleet | int, devices: int | None, lineage: Lineage) -> int:
    if isinstance(fleet, bool):
        raise MlsysimError(f"fleet must be a cluster or an accelerator count, got {fleet!r}")
    if isinstance(fleet, int):
        if fleet < 1:
            raise MlsysimError(f"accelerator count must be >= 1, got {fleet}")
        return fleet
    if isinstance(fleet, Record):
        fleet = Fleet.from_cluster(fleet, devices)
    if isinstance(fleet, Fleet):
        lineage.merge(fleet.lineage)
        return fleet.devices
    raise MlsysimError(f"fleet must be a cluster record, a Fleet or an accelerator count, got {fleet!r}")


def _bandwidth(value: Any, default_id: str, catalog: Catalog, lineage: Lineage, what: str) -> float:
    if value is None:
        value = assumption(catalog, default_id)
    if isinstance(value, Record):
        value = value.quantity
    if isinstance(value, Value):
        if value.dimension != "bandwidth":
            raise MlsysimError(f"{what}: {value.path} is a {value.dimension}, not a bandwidth")
        return lineage.use(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise MlsysimError(f"{what} must be a positive bandwidth in B/s or a cited assumption, got {value!r}")
