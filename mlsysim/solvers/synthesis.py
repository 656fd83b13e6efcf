"""Synthesis: the accelerator a latency or throughput target requires (the inverse roofline).

The forward roofline gives a pass's time as max(FLOPs / (peak x e_c), bytes / (bandwidth x e_m)).
Both terms must fit in the time available, so a target time t needs at least

  peak      >= FLOPs / (t x e_c)              [FLOP/s]
  bandwidth >= bytes / (t x e_m)              [B/s]
  capacity  >= resident bytes                 [B]

and, for the ideal roofline, these three together are also sufficient. A throughput target
of r samples/s for a batch of b is a time target t = b / r. Real kernels add launch
overhead and tile/wave quantization; `SynthesisSolver` therefore also runs the forward
`Engine.solve` on every catalog accelerator that has the precision, and says which meet
the target (the forward solve, with those effects, is the judge).

References
----------
Williams, Waterman & Patterson 2009, "Roofline: An Insightful Visual Performance Model
for Multicore Architectures", Communications of the ACM 52(4), doi:10.1145/1498765.1498785.
Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv 2001.08361, Table 1
(forward FLOPs per token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage


def _positive(value: Any, name: str, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise MlsysimError(f"{name} must be a positive finite number [{unit}], got {value!r}")
    return float(value)


def required_peak(flops: Any, target_time: Any, efficiency: Any) -> Any:
    """Peak compute [FLOP/s] a pass of `flops` [FLOP] needs to finish its compute in
    `target_time` [s] at `efficiency` [1] of peak: FLOPs / (t x e_c).

    References
    ----------
    Williams et al. 2009, "Roofline", doi:10.1145/1498765.1498785 (inverted).
    """
    return flops / (target_time * efficiency)


def required_bandwidth(bytes_moved: Any, target_time: Any, efficiency: Any) -> Any:
    """Memory bandwidth [B/s] a pass moving `bytes_moved` [B] needs to finish its memory
    traffic in `target_time` [s] at `efficiency` [1] of peak: bytes / (t x e_m).

    References
    ----------
    Williams et al. 2009, "Roofline", doi:10.1145/1498765.1498785 (inverted).
    """
    return bytes_moved / (target_time * efficiency)


def target_time_for_throughput(batch: Any, throughput: Any) -> Any:
    """Time per pass [s] that delivers `throughput` [samples/s] with `batch` [samples] per
    pass: t = batch / throughput."""
    return batch / throughput


@dataclass(frozen=True)
class Candidate:
    """One catalog accelerator checked against the target by the forward roofline."""

    hardware: str
    latency: float  # [s] forward Engine.solve latency
    peak: float  # [FLOP/s]
    bandwidth: float  # [B/s]
    capacity: float  # [B]
    meets_latency: bool
    fits: bool

    @property
    def meets(self) -> bool:
        return self.meets_latency and self.fits

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["meets"] = self.meets
        return out


@dataclass(frozen=True)
class SynthesisResult:
    """The minimum accelerator for a target (SI floats) and the catalog parts that meet it."""

    model: str
    batch_size: int
    seq_len: int
    precision: str
    target_latency: float  # [s]
    flops: float  # [FLOP] per pass
    bytes_moved: float  # [B] per pass
    required_peak: float  # [FLOP/s] dense, at `precision`
    required_bandwidth: float  # [B/s]
    required_capacity: float  # [B]
    required_intensity: float  # [FLOP/B] required peak / required bandwidth (the balance point)
    compute_efficiency: float
    memory_efficiency: float
    candidates: tuple[Candidate, ...]  # fastest first
    lineage: Lineage

    @property
    def meeting(self) -> tuple[str, ...]:
        """Names of the catalog accelerators that meet the target and fit the model."""
        return tuple(c.hardware for c in self.candidates if c.meets)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("lineage", "candidates")}
        out["candidates"] = [c.to_dict() for c in self.candidates]
        out["meeting"] = list(self.meeting)
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


class SynthesisSolver:
    """The peak compute, bandwidth and capacity a latency or throughput target requires."""

    def solve(self, model: Record | str, *, target_latency: float | None = None, target_throughput: float | None = None,
              batch_size: int = 1, precision: str = "fp16", seq_len: int | None = None,
              efficiency: float | None = None, hardware: Any = None) -> SynthesisResult:
        """
        model              a model record (or its name)
        target_latency     [s] per pass, or
        target_throughput  [samples/s] (sequences or inferences): t = batch_size / throughput
        batch_size, precision, seq_len, efficiency: as `Engine.solve`
        hardware           accelerators to check (records or names); default every catalog
                           accelerator with a dense peak at `precision` and a memory bandwidth
        """
        from mlsysim.catalog import inputs
        from mlsysim.solvers.convolution import resnet_graph
        from mlsysim.solvers.engine import roofline_terms, solve_terms
        from mlsysim.solvers.roofline import BYTES_PER_ELEMENT, check_precision, pass_cost
        from mlsysim.solvers.pass_overheads import activation_tables
        from mlsysim.solvers.terms import PrecisionUnavailable, efficiencies, model_terms

        def _check_count(name: str, value: Any) -> int:
            return inputs.positive_int(value, name)

        if (target_latency is None) == (target_throughput is None):
            raise MlsysimError("give exactly one of target_latency [s] or target_throughput [samples/s]")
        batch = _check_count("batch_size", batch_size)
        if target_latency is not None:
            t = _positive(target_latency, "target_latency", "s")
        else:
            t = target_time_for_throughput(batch, _positive(target_throughput, "target_throughput", "samples/s"))
        precision = check_precision(precision)
        m = model_terms(model)
        catalog = inputs.catalog_of(model)
        eff = efficiencies(catalog, efficiency)
        tokens = 1 if (seq_len is None or m.kind == "per_inference") else _check_count("seq_len", seq_len)
        if m.context and tokens > m.context:
            raise MlsysimError(f"seq_len {tokens} exceeds {m.name}'s context length of {m.context:g} tokens")
        nbytes = BYTES_PER_ELEMENT[precision]
        flops, moved, resident = pass_cost(m, batch, tokens, 0.0, nbytes, nbytes)
        if m.resnet is not None:  # a CNN with described layers: the bytes its kernels move, none kept in an L2
            moved = resnet_graph(m.resnet).bytes_moved(batch, nbytes)
        # A transformer's kernels read and write their activations, none kept in an L2 either.
        traffic = activation_tables(m, precision, catalog)
        moved += sum(traffic.bytes(batch * tokens))
        peak = required_peak(flops, t, eff.compute)
        bw = required_bandwidth(moved, t, eff.memory)
        lineage = Lineage()
        lineage.merge(m.lineage)
        lineage.merge(eff.lineage)
        lineage.merge(traffic.lineage)

        if hardware is None:
            hardware = catalog.records("hardware")
        candidates = []
        for hw in hardware:
            try:
                terms = roofline_terms(model, hw, precision, efficiency)
                h = terms.hardware
            except PrecisionUnavailable:
                continue
            except MlsysimError:
                if isinstance(hw, Record):
                    continue  # a device without memory figures cannot be judged
                raise
            p = solve_terms(terms, batch, None if m.kind == "per_inference" else tokens)
            candidates.append(Candidate(h.name, p.si["latency"], h.peak, h.bandwidth, h.capacity,
                                        p.si["latency"] <= t, p.feasible))
        candidates.sort(key=lambda c: (c.latency, c.hardware))
        return SynthesisResult(m.name, batch, tokens, precision, t, flops, moved, peak, bw, resident, peak / bw,
                               eff.compute, eff.memory, tuple(candidates), lineage)
