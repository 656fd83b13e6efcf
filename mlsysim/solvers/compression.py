"""Compression: quantization and pruning, their size and their speed through the roofline.

Quantizing weights to b_w bits stores P x b_w / 8 bytes; quantizing activations too (b_a bits)
lets the matrix multiplies run at the hardware's b_a-bit peak. Pruning removes weights:

  structured (whole rows, heads, channels), sparsity s:  P (1 - s) dense weights and (1 - s)
      of the weight-matmul FLOPs: smaller and faster on any hardware;
  N:M semi-structured (2:4): n of every m weights kept; stored as the kept values plus a
      log2(m)-bit position index each; the weight matmuls run at the hardware's sparse
      tensor-core peak (`compute_sparse.<precision>`) where the catalog has one, else at the
      dense peak doing the full dense work (no speedup). Vendors state the sparse peak in
      dense-equivalent FLOP/s (the skipped zeros counted), so the dense matmul FLOPs are
      charged at it: at most a 2x compute speedup;
  unstructured, sparsity s: no compute speedup on dense hardware (the zeros are still
      multiplied); storage shrinks only if stored sparse, as kept values plus a 1-bit-per-weight
      presence bitmask, and a memory-bound pass then reads fewer bytes.

The pass time is the weight matmuls' roofline plus the attention's (each the larger of its
compute and its traffic) plus the cited kernel-launch overhead (as Engine.solve, without its
GEMM wave term, which is the same for both and not cited for other precisions); speedup = baseline time / compressed time. The accuracy change is never
modelled: it is read from cited published results (catalog/assumptions/compression_accuracy_*)
for the same model, bit widths and pruning pattern, and is None with a reason otherwise.

References
----------
Williams, Waterman & Patterson 2009, "Roofline", doi:10.1145/1498765.1498785.
Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks", arXiv 2104.08378 (2:4 sparsity
on Sparse Tensor Cores: half the weights kept, with position metadata).
Frantar & Alistarh 2023, "SparseGPT", arXiv 2301.00774; Frantar et al. 2022, "GPTQ",
arXiv 2210.17323; Xiao et al. 2022, "SmoothQuant", arXiv 2211.10438 (the methods behind the
cited accuracy results).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage

PRUNING = ("none", "structured", "2:4", "unstructured")
ACCURACY_PREFIX = "compression_accuracy_"
# Compute precision of the matrix multiplies for each activation bit width when the weights
# are no wider (integer formats: W8A8 runs INT8 tensor-core GEMMs, W4A4 INT4).
_INT_COMPUTE = {8: "int8", 4: "int4"}


def quantized_bytes(params: Any, bits: Any) -> Any:
    """Storage of `params` [1] weights at `bits` [bit] each: params x bits / 8 [B]
    (per-group scales and zero points are not counted)."""
    return params * bits / 8.0


def nm_sparse_bytes(params: Any, n: Any, m: Any, value_bits: Any) -> Any:
    """Storage [B] of `params` weights pruned to n:m (n kept of every m) and compressed:
    params x (n / m) x (value_bits + log2 m) / 8; each kept value carries the log2(m)-bit
    index of its position in its group of m (2:4 at 16 bits: 9 bits per weight, not 16).

    References
    ----------
    Mishra et al. 2021, "Accelerating Sparse Deep Neural Networks", arXiv 2104.08378.
    """
    return params * (n / m) * (value_bits + math.log2(m)) / 8.0


def bitmask_sparse_bytes(params: Any, density: Any, value_bits: Any) -> Any:
    """Storage [B] of `params` weights of which a fraction `density` [1] is kept, stored as
    the kept values plus a presence bitmask of 1 bit per weight: params x (density x
    value_bits + 1) / 8. Smaller than dense only when density < 1 - 1 / value_bits."""
    return params * (density * value_bits + 1.0) / 8.0


def roofline_pass_time(dense_flops: Any, dense_peak: Any, sparse_flops: Any, sparse_peak: Any, bytes_moved: Any,
                       bandwidth: Any, compute_efficiency: Any, memory_efficiency: Any, overhead: Any = 0.0,
                       other_flops: Any = 0.0, other_bytes: Any = 0.0) -> Any:
    """Time of one pass [s] whose weight matmuls and other (attention) kernels each take their
    own roofline, one after the other:
    max((dense FLOPs / dense peak + sparse FLOPs / sparse peak) / compute efficiency,
        bytes / (bandwidth x memory efficiency))
    + max(other FLOPs / (dense peak x compute efficiency), other bytes / (bandwidth x memory
    efficiency)) + fixed overhead. `bytes_moved` is the matmuls' traffic (the weights read),
    `other_bytes` the rest (KV cache); a model whose work is not split keeps it all in the
    first class. FLOPs [FLOP], peaks [FLOP/s], bytes [B], bandwidth [B/s], efficiencies [1],
    overhead [s].

    References
    ----------
    Williams et al. 2009, "Roofline", doi:10.1145/1498765.1498785 (`roofline.kernel_roofline_time`).
    """
    t_compute = (dense_flops / dense_peak + sparse_flops / sparse_peak) / compute_efficiency
    t_memory = bytes_moved / (bandwidth * memory_efficiency)
    t_other = max(other_flops / (dense_peak * compute_efficiency), other_bytes / (bandwidth * memory_efficiency))
    return max(t_compute, t_memory) + t_other + overhead


@dataclass(frozen=True)
class AccuracyChange:
    """A cited accuracy result for exactly this case, or None and why there is none."""

    recovery: float | None  # compressed score / baseline score [1]
    metric: str | None
    reference: str | None  # the assumption record's id
    qualifiers: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def delta(self) -> float | None:
        """Relative change of the score [1]: recovery - 1 (e.g. -0.016 = 1.6% lower)."""
        return None if self.recovery is None else self.recovery - 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"recovery": self.recovery, "delta": self.delta, "metric": self.metric, "reference": self.reference,
                "qualifiers": dict(self.qualifiers), "reason": self.reason}


@dataclass(frozen=True)
class CompressionResult:
    """Size and roofline speed of a compressed model on one accelerator (SI floats)."""

    model: str
    hardware: str
    weight_bits: int
    activation_bits: int
    pruning: str
    sparsity: float
    compute_precision: str
    baseline_precision: str
    params_kept: float  # [1]
    size_baseline: float  # [B] weights at the baseline precision
    size_compressed: float  # [B]
    compression_ratio: float  # size_baseline / size_compressed
    latency_baseline: float  # [s]
    latency_compressed: float  # [s]
    speedup: float
    bottleneck: str  # of the compressed pass: "Compute" or "Memory"
    sparse_peak_used: bool  # the weight matmuls ran at the cited sparse tensor-core peak
    fits: bool  # compressed weights + KV cache within memory capacity
    accuracy: AccuracyChange
    lineage: Lineage

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("lineage", "accuracy")}
        out["accuracy"] = self.accuracy.to_dict()
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


def _bits(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 32:
        raise MlsysimError(f"{name} must be a whole number of bits in [1, 32], got {value!r}")
    return value


class CompressionModel:
    """Quantization and pruning: model size, roofline speedup and the cited accuracy change."""

    def solve(self, model: Record | str, hardware: Record | str, *, weight_bits: int = 16, activation_bits: int = 16,
              pruning: str = "none", sparsity: float | None = None, stored_sparse: bool = False,
              batch_size: int = 1, seq_len: int | None = None, baseline_precision: str = "fp16",
              compute_precision: str | None = None, efficiency: float | None = None) -> CompressionResult:
        """
        model, hardware     catalog records (or names)
        weight_bits         bits per stored weight value [bit], 1..32
        activation_bits     bits of the activations and KV cache [bit]; 16 keeps the baseline
                            precision's compute; 8 and 4 (with weights no wider) run the
                            matmuls at the hardware's int8 / int4 peak
        pruning             "none", "structured", "2:4" or "unstructured"
        sparsity            fraction of weights removed [1] in [0, 1) (structured, unstructured);
                            2:4 is 0.5 by definition
        stored_sparse       unstructured only: store kept values + bitmask instead of dense
        compute_precision   override the precision the matmuls run at (e.g. "fp8")
        """
        from mlsysim.catalog import inputs
        from mlsysim.solvers.roofline import BYTES_PER_ELEMENT, check_precision, gemm_bytes, gemm_flops, pass_cost
        from mlsysim.solvers.kernel_efficiency import kernel_efficiency_values
        from mlsysim.solvers.pass_overheads import activation_traffic, launch_overhead
        from mlsysim.solvers.terms import compute_efficiency, hardware_terms, model_terms

        def _check_count(name: str, value: Any) -> int:
            return inputs.positive_int(value, name)

        wb, ab = _bits(weight_bits, "weight_bits"), _bits(activation_bits, "activation_bits")
        if pruning not in PRUNING:
            raise MlsysimError(f"pruning must be one of {', '.join(PRUNING)}, got {pruning!r}")
        s = _sparsity(pruning, sparsity)
        if stored_sparse and pruning != "unstructured":
            raise MlsysimError("stored_sparse applies to pruning='unstructured' only (2:4 is always stored compressed)")
        base_prec = check_precision(baseline_precision, "baseline_precision")
        base_bits = BYTES_PER_ELEMENT[base_prec] * 8
        if compute_precision is not None:
            prec = check_precision(compute_precision, "compute_precision")
        elif ab >= base_bits:
            prec = base_prec
        elif ab in _INT_COMPUTE and wb <= ab:
            prec = _INT_COMPUTE[ab]
        else:
            raise MlsysimError(
                f"activation_bits={ab} with weight_bits={wb}: no integer matmul precision follows; "
                f"use activation_bits 16, 8 or 4 with weights no wider, or pass compute_precision="
            )
        batch = _check_count("batch_size", batch_size)
        m = model_terms(model)
        tokens = 1 if (seq_len is None or m.kind == "per_inference") else _check_count("seq_len", seq_len)
        catalog = inputs.catalog_of(model, hardware)
        h0 = hardware_terms(hardware, base_prec)
        h = hardware_terms(hardware, prec)
        lineage = Lineage()
        for part in (m.lineage, h0.lineage, h.lineage):
            lineage.merge(part)
        # One compute figure for every FLOP (the cited generic one, or the caller's); the bytes
        # of each precision at the memory figure cited for this accelerator and precision, as
        # Engine.solve prices them.
        compute = compute_efficiency(catalog, efficiency, lineage)
        memory0 = lineage.use(kernel_efficiency_values(h0)["memory"])
        memory = lineage.use(kernel_efficiency_values(h)["memory"])

        # Baseline: dense weights and activations at the baseline precision.
        nb = BYTES_PER_ELEMENT[base_prec]
        flops, moved0, resident0 = pass_cost(m, batch, tokens, 0.0, nb, nb)
        gemm = gemm_flops(m, batch, tokens) if m.kind != "per_inference" else flops
        over0, over = launch_overhead(m, h0), launch_overhead(m, h)
        lineage.merge(over.lineage)
        other = flops - gemm
        # A CNN's traffic is one class with its matmuls; a transformer's splits into the weights
        # its GEMMs read and the KV cache its attention moves.
        weights0 = moved0 if m.kind == "per_inference" else gemm_bytes(m, batch, tokens, nb)
        # A transformer's kernels also read and write their activations (Engine.solve's traffic).
        traffic0 = activation_traffic(m, h0, bytes_per_weight=nb)
        lineage.merge(traffic0.lineage)
        weights0, other0, elementwise0, moved0 = traffic0.joined(batch * tokens, weights0, moved0)
        t0 = roofline_pass_time(gemm, h0.peak, 0.0, 1.0, weights0, h0.bandwidth, compute, memory0, over0.seconds,
                                other, other0) + elementwise0 / (h0.bandwidth * memory0)

        # Compressed weights: kept parameters, bytes per original parameter, and the matmul FLOPs.
        params = m.params_total
        sparse_flops, sparse_peak, used_sparse = 0.0, 1.0, False
        dense_gemm = gemm
        if pruning == "structured":
            kept = params * (1.0 - s)
            size = quantized_bytes(kept, wb)
            dense_gemm = gemm * (1.0 - s)
        elif pruning == "2:4":
            kept = params * 0.5
            size = nm_sparse_bytes(params, 2.0, 4.0, wb)
            path = f"compute_sparse.{prec}"
            record = h.record
            if path in record.claims:
                sparse_peak = lineage.use(record.field(path))
                sparse_flops, dense_gemm, used_sparse = gemm, 0.0, True
        elif pruning == "unstructured":
            kept = params * (1.0 - s)
            size = bitmask_sparse_bytes(params, 1.0 - s, wb) if stored_sparse else quantized_bytes(params, wb)
        else:
            kept = params
            size = quantized_bytes(params, wb)
        size0 = quantized_bytes(params, base_bits)
        kv_bytes = ab / 8.0
        # pass_cost charges weights at bytes-per-parameter x parameters: the average storage per parameter.
        _, moved, resident = pass_cost(m, batch, tokens, 0.0, size / params, kv_bytes)
        weights = moved if m.kind == "per_inference" else gemm_bytes(m, batch, tokens, size / params)
        traffic = activation_traffic(m, h, bytes_per_weight=size / params)
        lineage.merge(traffic.lineage)
        weights, other_bytes, elementwise, moved = traffic.joined(batch * tokens, weights, moved)
        t = roofline_pass_time(dense_gemm, h.peak, sparse_flops, sparse_peak, weights, h.bandwidth,
                               compute, memory, over.seconds, other, other_bytes) + elementwise / (h.bandwidth * memory)
        t_c = ((dense_gemm + other) / h.peak + sparse_flops / sparse_peak) / compute
        t_m = moved / (h.bandwidth * memory)
        accuracy = _accuracy(catalog, model, wb, ab, pruning, lineage)
        return CompressionResult(
            m.name, h.name, wb, ab, pruning, s, prec, base_prec, kept, size0, size, size0 / size, t0, t, t0 / t,
            "Compute" if t_c > t_m else "Memory", used_sparse, resident <= h.capacity, accuracy, lineage,
        )


def _sparsity(pruning: str, sparsity: Any) -> float:
    if pruning == "2:4":
        if sparsity not in (None, 0.5):
            raise MlsysimError(f"2:4 pruning removes exactly half the weights; sparsity must be 0.5 or omitted, got {sparsity!r}")
        return 0.5
    if pruning == "none":
        if sparsity not in (None, 0, 0.0):
            raise MlsysimError(f"sparsity={sparsity!r} needs pruning='structured' or 'unstructured'")
        return 0.0
    if sparsity is None or isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
        raise MlsysimError(f"sparsity must be a fraction of weights removed in [0, 1) for {pruning} pruning, got {sparsity!r}")
    return float(sparsity)


def _accuracy(catalog: Any, model: Record | str, wb: int, ab: int, pruning: str, lineage: Lineage) -> AccuracyChange:
    """The cited accuracy result for this model and compression case, if the catalog has one."""
    catalog = inputs.catalog_of(model, catalog=catalog)
    model_id = model.id if isinstance(model, Record) else catalog.get("models", model).id
    if pruning == "none" and wb >= 16 and ab >= 16:
        return AccuracyChange(1.0, None, None, {}, "no compression: the weights and activations keep 16 bits or more")
    wanted = {"model": model_id, "weight_bits": str(wb), "activation_bits": str(ab), "pruning": pruning}
    for record in catalog.records("assumptions"):
        if not record.id.startswith(ACCURACY_PREFIX):
            continue
        value = record.quantity
        q = value.qualifiers
        if all(str(q.get(k)) == v for k, v in wanted.items()):
            return AccuracyChange(lineage.use(value), q.get("metric"), record.id, dict(q))
    return AccuracyChange(
        None, None, None, {},
        f"unknown: no cited result for {model_id} with {wb}-bit weights, {ab}-bit activations, pruning {pruning} "
        f"(accuracy results are read from catalog/assumptions/{ACCURACY_PREFIX}*.yaml, never extrapolated)",
    )
