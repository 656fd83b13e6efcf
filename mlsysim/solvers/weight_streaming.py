"""Weight streaming on a wafer-scale engine: weights in external memory, activations on wafer.

Under weight streaming (Cerebras MemoryX + SwarmX) the model's weights do not live on the
wafer: every step they stream in, layer by layer, from external memory, while activations
stay in on-wafer SRAM. Streaming overlaps compute, so a step takes the longer of the two:

  streaming time   t_w = streamed bytes / stream bandwidth          (W x passes / B_w)
  compute time     t_c = FLOP per token x tokens / compute rate     (k N x T / P)
  step time        t   = max(t_c, t_w)
  balanced tokens  T*  = t_w P / (k N)       (compute just hides the stream)
  SRAM limit       T  <= SRAM capacity / activation bytes per token

Below T* the wafer waits on the stream (streaming-bound); above it the stream is hidden.
T* is independent of model size: T* = bytes per parameter x passes x P / (k B_w).

References
----------
Lie 2022, "Cerebras Architecture Deep Dive: First Look Inside the HW/SW Co-Design for Deep
Learning", Hot Chips 34 (weight streaming: MemoryX, SwarmX, activations on wafer).
Cerebras Systems 2021, "Weight Streaming Execution" (whitepaper; weights stream layer by
layer, latency hidden by pipelining).
Kaplan et al. 2020, arXiv 2001.08361, Sec. 2.1 (forward pass ~2N FLOP per token, training ~6N).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlsysim.catalog import Catalog, inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import InfeasibleError, MlsysimError, NotFoundError
from mlsysim.lineage import Lineage
from mlsysim.solvers.results import result_dict
from mlsysim.solvers.checks import cited, out, positive
from mlsysim.solvers.fleet import bytes_per_element, peak_compute

DEFAULT_STREAM_BANDWIDTH = "cerebras_cs_system_io_bandwidth"


def streaming_time(streamed_bytes: Any, stream_bandwidth: Any) -> Any:
    """Time to stream the weights of one step onto the wafer: t_w = bytes / B_w.

    Parameters
    ----------
    streamed_bytes : float or array
        Weight bytes that cross the link in one step [B] (weights x passes).
    stream_bandwidth : float or array
        External memory -> wafer bandwidth [B/s].

    Returns
    -------
    float or array
        t_w [s].

    References
    ----------
    Lie 2022 (Hot Chips 34).
    """
    return out(positive("streamed_bytes", streamed_bytes, "B") / positive("stream_bandwidth", stream_bandwidth, "B/s"))


def compute_time(flop_per_token: Any, tokens: Any, compute_rate: Any) -> Any:
    """Time the wafer computes one step: t_c = FLOP per token x tokens / P.

    Parameters
    ----------
    flop_per_token : float or array
        Work per token of the step [FLOP] (~2N forward, ~6N training).
    tokens : float or array
        Tokens processed in the step (batch x sequence) [token].
    compute_rate : float or array
        Sustained compute rate P [FLOP/s] (peak x efficiency).

    Returns
    -------
    float or array
        t_c [s].

    References
    ----------
    Kaplan et al. 2020, Sec. 2.1.
    """
    f = positive("flop_per_token", flop_per_token, "FLOP")
    t = positive("tokens", tokens, "token")
    p = positive("compute_rate", compute_rate, "FLOP/s")
    return out(f * t / p)


def step_time(compute: Any, streaming: Any) -> Any:
    """Step time with streaming overlapped by compute: max(t_c, t_w) [s].

    Parameters
    ----------
    compute, streaming : float or array
        t_c and t_w [s].

    Returns
    -------
    float or array
        Step time [s].

    References
    ----------
    Lie 2022 (weight loads pipelined behind the previous layer's compute).
    """
    return out(np.maximum(positive("compute", compute, "s"), positive("streaming", streaming, "s")))


def balanced_tokens(streamed_bytes: Any, stream_bandwidth: Any, flop_per_token: Any, compute_rate: Any) -> Any:
    """Tokens per step at which compute exactly hides the weight stream:
    T* = (bytes / B_w) x P / FLOP per token.

    Parameters
    ----------
    streamed_bytes : float or array
        Weight bytes streamed per step [B].
    stream_bandwidth : float or array
        [B/s].
    flop_per_token : float or array
        [FLOP].
    compute_rate : float or array
        [FLOP/s].

    Returns
    -------
    float or array
        T* [token]; fewer tokens per step leave the wafer waiting on the stream.

    References
    ----------
    Lie 2022 (Hot Chips 34).
    """
    tw = np.asarray(streaming_time(streamed_bytes, stream_bandwidth))
    f = positive("flop_per_token", flop_per_token, "FLOP")
    p = positive("compute_rate", compute_rate, "FLOP/s")
    return out(tw * p / f)


def sram_token_limit(sram_capacity: Any, activation_bytes_per_token: Any) -> Any:
    """Most tokens whose activations fit on the wafer: SRAM / activation bytes per token.

    Parameters
    ----------
    sram_capacity : float or array
        On-wafer memory available to activations [B].
    activation_bytes_per_token : float or array
        Activation bytes one token keeps on the wafer [B].

    Returns
    -------
    float or array
        Token limit [token].

    References
    ----------
    Lie 2022 (activations stay in on-wafer SRAM under weight streaming).
    """
    return out(positive("sram_capacity", sram_capacity, "B") / positive(
        "activation_bytes_per_token", activation_bytes_per_token, "B"))


@dataclass(frozen=True)
class WeightStreamingResult:
    """A weight-streamed step on a wafer: its time, bound and the balancing batch (SI units)."""

    parameters: float
    tokens: float  # [token] per step
    streamed_bytes: float  # [B] per step
    stream_bandwidth: float  # [B/s]
    compute_rate: float  # [FLOP/s] peak x efficiency
    compute_time: float  # [s]
    streaming_time: float  # [s]
    step_time: float  # [s]
    bound: str  # "compute" or "streaming"
    throughput: float  # [token/s]
    balanced_tokens: float  # [token] per step where compute = streaming
    sram_token_limit: float | None  # [token], None without activation size
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class WeightStreamingModel:
    """One training or inference step of a model whose weights stream onto a wafer."""

    def solve(self, parameters: float, tokens: float, *, hardware: Record | None = None,
              precision: str = "fp16", compute_rate: Any = None, efficiency: float = 1.0,
              stream_bandwidth: Any = None, sram_capacity: Any = None,
              activation_bytes_per_token: float | None = None, training: bool = False,
              catalog: Catalog | None = None) -> WeightStreamingResult:
        """
        parameters             model parameters N [count]
        tokens                 tokens per step (batch x sequence) [token]
        hardware               wafer-scale hardware record: its compute.<precision> peak and
                               memory.capacity (SRAM) are read unless given below
        precision              weight and compute format (bytes per parameter follow from it)
        compute_rate [FLOP/s]  overrides the hardware peak (number or cited value)
        efficiency             fraction of the peak sustained, in (0, 1]
        stream_bandwidth [B/s] number, cited value or assumption (default: the catalog's
                               cerebras_cs_system_io_bandwidth; an error if it has none)
        sram_capacity [B]      overrides the hardware's memory capacity
        activation_bytes_per_token [B]  gives the SRAM token limit (infeasible above it)
        training               True: ~6N FLOP per token and weights streamed twice (forward
                               and backward); False: ~2N and once
        """
        lineage = Lineage()
        n = float(positive("parameters", parameters))
        t = float(positive("tokens", tokens, "token"))
        eff = float(positive("efficiency", efficiency))
        if eff > 1:
            raise MlsysimError(f"efficiency must be in (0, 1], got {efficiency!r}")
        if compute_rate is None:
            if hardware is None:
                raise MlsysimError("pass hardware= (a wafer-scale hardware record) or compute_rate= in FLOP/s")
            peak = peak_compute(hardware, precision, lineage)
        else:
            peak = cited("compute_rate", compute_rate, lineage, "compute_rate", "FLOP/s")
        rate = peak * eff
        if sram_capacity is None and hardware is not None:
            cap_value = hardware.field("memory.capacity")
            sram = lineage.use(cap_value) if cap_value is not None else None
        elif sram_capacity is not None:
            sram = cited("sram_capacity", sram_capacity, lineage, "information", "B")
        else:
            sram = None
        bw = self._stream_bandwidth(stream_bandwidth, catalog, lineage)
        passes = 2.0 if training else 1.0
        flop_per_token = (6.0 if training else 2.0) * n
        streamed = n * bytes_per_element(precision) * passes
        tc = float(compute_time(flop_per_token, t, rate))
        tw = float(streaming_time(streamed, bw))
        limit = None
        if activation_bytes_per_token is not None:
            if sram is None:
                raise MlsysimError("activation_bytes_per_token needs sram_capacity= or a hardware record with memory.capacity")
            limit = float(sram_token_limit(sram, activation_bytes_per_token))
            if t > limit:
                raise InfeasibleError(
                    f"{t:.4g} tokens per step keep {t * activation_bytes_per_token:.4g} B of activations on a wafer "
                    f"with {sram:.4g} B; use at most {int(limit)} tokens per step"
                )
        step = max(tc, tw)
        return WeightStreamingResult(
            parameters=n, tokens=t, streamed_bytes=streamed, stream_bandwidth=bw, compute_rate=rate,
            compute_time=tc, streaming_time=tw, step_time=step, bound="compute" if tc >= tw else "streaming",
            throughput=t / step, balanced_tokens=float(balanced_tokens(streamed, bw, flop_per_token, rate)),
            sram_token_limit=limit, lineage=lineage,
        )

    @staticmethod
    def _stream_bandwidth(value: Any, catalog: Catalog | None, lineage: Lineage) -> float:
        if value is not None:
            return cited("stream_bandwidth", value, lineage, "bandwidth", "B/s")
        catalog = inputs.catalog_of(catalog=catalog)
        try:
            record = catalog.get("assumptions", DEFAULT_STREAM_BANDWIDTH)
        except NotFoundError:
            raise MlsysimError(
                f"stream_bandwidth: the catalog has no assumption {DEFAULT_STREAM_BANDWIDTH!r}; "
                "pass stream_bandwidth= in B/s (number or cited value)"
            ) from None
        return cited("stream_bandwidth", record, lineage, "bandwidth", "B/s")
