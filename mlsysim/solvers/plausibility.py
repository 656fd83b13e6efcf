"""Physical bounds every inference result is checked against.

A prediction that breaks one of them is not silently returned: the check yields a
warning string, which the result carries in its `warnings` list and the CLI prints
(text and JSON). The bounds are definitions, not literature figures:

- achieved compute rate <= the accelerator's dense peak at the precision;
- achieved memory traffic rate <= its memory bandwidth;
- a decode step is never shorter than one read of the weights each device holds at
  that bandwidth (every output token needs every weight once).

One bound is empirical, and cited: a per-device token rate, scaled by the parameters each
token reads, above the fastest published one (`token_rate_warnings`, catalog assumption
`public_record_token_rate_per_device`) is beyond anything any public system has reached.

References
----------
Williams, Waterman & Patterson 2009, "Roofline", doi:10.1145/1498765.1498785 (both roofs).
Pope et al. 2022, "Efficiently Scaling Transformer Inference", arXiv 2211.05102
(a decode step reads all weights: the memory-bandwidth floor of per-token latency).
"""

from __future__ import annotations

# Relative slack for float round-off when a time equals its bound exactly [1].
_SLACK = 1e-9


def bound_warnings(flops: float, bytes_moved: float, seconds: float, peak: float, bandwidth: float,
                   weight_bytes: float = 0.0, what: str = "the pass") -> list[str]:
    """Warnings for a piece of work that breaks a physical bound (empty if none).

    Parameters
    ----------
    flops : [FLOP] work of the pass on one device.
    bytes_moved : [B] memory traffic of the pass on one device.
    seconds : [s] predicted time of the pass.
    peak : [FLOP/s] dense peak of the device at the precision.
    bandwidth : [B/s] memory bandwidth of the device (inf: no memory roof stated).
    weight_bytes : [B] weights the device reads per decode step (0: not a decode step).
    what : how the warning names the pass.

    Returns
    -------
    One sentence per violated bound: flops / seconds > peak, bytes / seconds > bandwidth,
    seconds < weight_bytes / bandwidth.
    """
    out: list[str] = []
    if not seconds > 0:
        return [f"{what} takes {seconds!r} s: a time must be positive"]
    if flops / seconds > peak * (1 + _SLACK):
        out.append(f"{what} runs at {flops / seconds / 1e12:.4g} TFLOP/s, above the device's peak of "
                   f"{peak / 1e12:.4g} TFLOP/s: physically impossible")
    if bytes_moved / seconds > bandwidth * (1 + _SLACK):
        out.append(f"{what} moves {bytes_moved / seconds / 1e12:.4g} TB/s, above the memory bandwidth of "
                   f"{bandwidth / 1e12:.4g} TB/s: physically impossible")
    if weight_bytes and seconds * (1 + _SLACK) < weight_bytes / bandwidth:
        out.append(f"{what} takes {seconds * 1e3:.4g} ms, less than one read of the {weight_bytes / 1e9:.4g} GB of "
                   f"weights at {bandwidth / 1e12:.4g} TB/s ({weight_bytes / bandwidth * 1e3:.4g} ms)")
    return out


def token_rate_warnings(tokens_per_second: float, params_per_token: float, record_rate: float,
                        record_params: float, record: str = "the fastest published system",
                        what: str = "the result") -> list[str]:
    """A warning when a per-device token rate, scaled by the parameters each token reads, is
    above the fastest published one (empty if not).

    Parameters
    ----------
    tokens_per_second : [1/s] predicted output tokens per second on one device.
    params_per_token : [1] parameters one token reads (a mixture of experts: the active ones).
    record_rate : [1/s] the fastest published per-device output-token rate.
    record_params : [1] parameters per token of the model that record was set with.
    record : how the warning names the record.
    what : how the warning names the result.

    Returns
    -------
    One sentence when tokens_per_second x params_per_token > record_rate x record_params
    (parameter-tokens per second: half the matmul FLOP rate, so models of different sizes
    compare on the same scale).
    """
    if not (params_per_token > 0 and record_params > 0 and record_rate > 0):
        return []
    scaled = tokens_per_second * params_per_token
    bound = record_rate * record_params
    if scaled <= bound * (1 + _SLACK):
        return []
    return [f"{what}: {tokens_per_second:.4g} tokens/s per device for a {params_per_token / 1e9:.3g}B-parameter model "
            f"is {scaled / bound:.3g}x the fastest published rate ({record}: {record_rate:.5g} tokens/s per device for "
            f"{record_params / 1e9:.3g}B parameters, scaled by parameters per token); no public system has reached it"]


def on_chip_memory(hardware_record: object) -> bool:
    """Whether an accelerator's catalog memory figures are on-chip SRAM (the qualifier
    `memory_kind: on-chip SRAM` on memory.bandwidth), not off-chip DRAM/HBM."""
    claims = getattr(hardware_record, "claims", {})
    quals = (claims.get("memory.bandwidth") or {}).get("qualifiers") or {}
    return "on-chip sram" in str(quals.get("memory_kind", "")).lower()
