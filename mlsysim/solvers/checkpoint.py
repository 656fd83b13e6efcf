"""Checkpoints: how big, how long to write, how often, and what they cost a training job.

  size        S = N x (weight bytes + optimizer-state bytes) per parameter   [B]
              (mixed-precision Adam: 2 + 12; its in-memory training state adds 2 B of
              gradients, 16 B in all, but gradients are not saved)
  write time  delta = S / min(writers x per-writer bandwidth, file-system limit)   [s]
  interval    Young: tau = sqrt(2 delta M); Daly: higher-order correction         [s]
  overhead    wall / work - 1 = M e^(R/M) (e^((tau + delta)/M) - 1) / tau - 1
              (checkpoint writes, lost work and restarts, per unit of useful work)

References
----------
Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter
Models", SC '20, arXiv 1910.02054 (2 + 2 + 12 bytes per parameter for mixed-precision Adam).
Young 1974, "A first order approximation to the optimum checkpoint interval", CACM 17(9).
Daly 2006, "A higher order estimate of the optimum checkpoint interval for restart dumps",
Future Generation Computer Systems 22(3) (Eq. 20: expected wall time).
Narayanan et al. 2021, arXiv 2104.04473, Sec. 5.10 (a 13.8 TB checkpoint of a 1T model).
Llama Team 2024, arXiv 2407.21783, Sec. 3.3.1 (storage fabric throughput).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlsysim.catalog import Catalog, inputs
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.checks import cited, nonnegative, out, positive, whole
from mlsysim.solvers.fleet import bytes_per_element
from mlsysim.solvers.terms import cited_assumption
from mlsysim.solvers.reliability import daly_interval, young_interval

ADAM_STATE = "adam_optimizer_state_bytes_mixed_precision"
ADAM_TRAINING_STATE = "adam_mixed_precision_model_state_bytes"
DEFAULT_FILESYSTEM = "checkpoint_storage_bandwidth_sustained"
DEFAULT_DEVICE_MTTF = "gpu_mttf_h100_llama3"
OPTIMIZERS = ("adam", "sgd_momentum", "none")


def checkpoint_size(parameters: Any, weight_bytes: Any, optimizer_bytes: Any) -> Any:
    """Bytes of a checkpoint: S = N (w + s).

    Parameters
    ----------
    parameters : float or array
        N [count].
    weight_bytes : float or array
        Bytes per parameter of the saved weights w [B] (2 for bf16).
    optimizer_bytes : float or array
        Bytes per parameter of the saved optimizer state s [B] (12 for mixed-precision Adam).

    Returns
    -------
    float or array
        S [B].

    References
    ----------
    Rajbhandari et al. 2020, Sec. 3.1.
    """
    n = positive("parameters", parameters)
    w = positive("weight_bytes", weight_bytes, "B")
    s = nonnegative("optimizer_bytes", optimizer_bytes, "B")
    return out(n * (w + s))


def write_bandwidth(writers: Any, per_writer_bandwidth: Any, filesystem_bandwidth: Any) -> Any:
    """Aggregate checkpoint bandwidth: min(writers x per-writer bandwidth, file-system limit).

    Parameters
    ----------
    writers : int or array
        Processes writing shards in parallel [count].
    per_writer_bandwidth : float or array
        Bandwidth one writer reaches [B/s].
    filesystem_bandwidth : float or array
        What the storage system sustains for the whole job [B/s].

    Returns
    -------
    float or array
        [B/s].

    References
    ----------
    Llama Team 2024, Sec. 3.3.1 (a shared fabric's sustained throughput bounds the job).
    """
    w = whole("writers", writers)
    b = positive("per_writer_bandwidth", per_writer_bandwidth, "B/s")
    f = positive("filesystem_bandwidth", filesystem_bandwidth, "B/s")
    return out(np.minimum(w * b, f))


def write_time(size: Any, bandwidth: Any) -> Any:
    """Time to write a checkpoint: delta = S / bandwidth [s].

    Parameters
    ----------
    size : float or array
        S [B].
    bandwidth : float or array
        Aggregate write bandwidth [B/s].

    Returns
    -------
    float or array
        delta [s].
    """
    return out(positive("size", size, "B") / positive("bandwidth", bandwidth, "B/s"))


def overhead(interval: Any, write: Any, mtbf: Any, restart: Any = 0.0) -> Any:
    """Time lost per unit of useful work when checkpointing every tau seconds (Daly 2006, Eq. 20):

    wall / work - 1 = M e^(R/M) (e^((tau + delta)/M) - 1) / tau - 1.

    To first order in (tau + delta)/M it is delta/tau + (tau + delta)/(2M) + R/M, minimised by
    Young's tau = sqrt(2 delta M).

    Parameters
    ----------
    interval : float or array
        tau, useful work between checkpoints [s].
    write : float or array
        delta, checkpoint write time [s].
    mtbf : float or array
        M, mean time between failures of the job [s].
    restart : float or array
        R, time to resume after a failure [s].

    Returns
    -------
    float or array
        Overhead fraction [dimensionless].

    References
    ----------
    Daly 2006, Eq. 20; Young 1974.
    """
    tau = positive("interval", interval, "s")
    d = nonnegative("write", write, "s")
    m = positive("mtbf", mtbf, "s")
    r = nonnegative("restart", restart, "s")
    return out(m * np.exp(r / m) * np.expm1((tau + d) / m) / tau - 1)


@dataclass(frozen=True)
class CheckpointResult:
    """Size, write time, optimal interval and overhead of checkpointing a job (SI units)."""

    parameters: float
    optimizer: str
    size: float  # [B] saved per checkpoint
    training_state: float | None  # [B] weights + gradients + optimizer state in memory (Adam only)
    write_bandwidth: float  # [B/s] aggregate
    write_time: float  # [s]
    mtbf: float  # [s] of the whole job
    restart_time: float  # [s]
    young_interval: float  # [s]
    daly_interval: float  # [s]
    overhead: float  # lost time per unit of useful work at the Daly interval
    lineage: Lineage

    @property
    def goodput(self) -> float:
        """Useful work / wall-clock time at the Daly interval."""
        return 1 / (1 + self.overhead)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "lineage"}
        out["goodput"] = self.goodput
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


class CheckpointModel:
    """How big a training checkpoint is, how long it takes to write, and how often to take it."""

    def solve(self, parameters: float, *, mtbf: Any = None, devices: int | None = None, device_mttf: Any = None,
              precision: str = "bf16", optimizer: str = "adam", writers: int | None = None,
              per_writer_bandwidth: Any = None, filesystem_bandwidth: Any = None, restart_time: float | None = None,
              catalog: Catalog | None = None) -> CheckpointResult:
        """
        parameters                 model parameters N
        mtbf [s]                   mean time between failures of the whole job, or
        devices                    accelerators (MTBF = per-device MTTF / devices; MTTF from
                                   device_mttf= or the catalog's gpu_mttf_h100_llama3)
        precision                  format of the saved weights
        optimizer                  adam (mixed precision: fp32 master + 2 moments, a cited
                                   assumption), sgd_momentum (one fp32 buffer) or none
        writers, per_writer_bandwidth [B/s]  parallel shard writers and what each reaches
        filesystem_bandwidth [B/s] the storage system's limit (default: the catalog's
                                   checkpoint_storage_bandwidth_sustained)
        restart_time [s]           default: one checkpoint read at the write bandwidth
        """
        catalog = inputs.catalog_of(catalog=catalog)
        lineage = Lineage()
        n = float(positive("parameters", parameters))
        name = str(optimizer).lower()
        if name not in OPTIMIZERS:
            raise MlsysimError(f"unknown optimizer {optimizer!r}; valid optimizers: {', '.join(OPTIMIZERS)}")
        weight = bytes_per_element(precision)
        training_state = None
        if name == "adam":
            state = lineage.use(cited_assumption(catalog, ADAM_STATE, solver="checkpoint model"))
            training_state = n * lineage.use(cited_assumption(catalog, ADAM_TRAINING_STATE, solver="checkpoint model"))
        elif name == "sgd_momentum":
            state = bytes_per_element("fp32")
        else:
            state = 0.0
        size = float(checkpoint_size(n, weight, state))
        limit = cited("filesystem_bandwidth", filesystem_bandwidth if filesystem_bandwidth is not None
                      else cited_assumption(catalog, DEFAULT_FILESYSTEM, solver="checkpoint model"), lineage, "bandwidth", "B/s")
        if (writers is None) != (per_writer_bandwidth is None):
            raise MlsysimError("pass both writers= and per_writer_bandwidth= (or neither: the file-system limit)")
        if writers is not None:
            per = cited("per_writer_bandwidth", per_writer_bandwidth, lineage, "bandwidth", "B/s")
            bw = float(write_bandwidth(writers, per, limit))
        else:
            bw = limit
        delta = float(write_time(size, bw))
        m = self._mtbf(mtbf, devices, device_mttf, catalog, lineage)
        restart = delta if restart_time is None else float(nonnegative("restart_time", restart_time, "s"))
        tau = daly_interval(delta, m)
        return CheckpointResult(
            parameters=n, optimizer=name, size=size, training_state=training_state, write_bandwidth=bw,
            write_time=delta, mtbf=m, restart_time=restart, young_interval=young_interval(delta, m),
            daly_interval=tau, overhead=float(overhead(tau, delta, m, restart)), lineage=lineage,
        )

    @staticmethod
    def _mtbf(mtbf: Any, devices: int | None, device_mttf: Any, catalog: Catalog, lineage: Lineage) -> float:
        if mtbf is not None:
            if devices is not None:
                raise MlsysimError("pass mtbf= (the whole job's) or devices=, not both")
            return cited("mtbf", mtbf, lineage, "time", "s")
        if devices is None:
            raise MlsysimError("pass mtbf= in seconds or devices= (with the per-device MTTF from the catalog)")
        d = int(whole("devices", devices))
        mttf = cited("device_mttf", device_mttf if device_mttf is not None else cited_assumption(catalog, DEFAULT_DEVICE_MTTF, solver="checkpoint model"),
                     lineage, "time", "s")
        return mttf / d

