"""The roofline: the time of a piece of work bounded by compute and by memory traffic.

Pure float arithmetic (it also works element-wise on numpy arrays, except `max`,
which callers pick: the builtin for scalars, `numpy.maximum` for sweeps).

References
----------
Williams, Waterman & Patterson 2009, "Roofline: An Insightful Visual Performance
Model for Multicore Architectures", Communications of the ACM 52(4), doi:10.1145/1498765.1498785.
"""

from __future__ import annotations

from mlsysim.errors import MlsysimError

# Storage size of one element in each numeric format [bytes]. These are definitions
# of the formats (IEEE 754 binary16 is 16 bits, OCP FP8 is 8 bits, ...), not
# literature measurements, so they live here rather than in the catalog.
BYTES_PER_ELEMENT: dict[str, float] = {
    "fp64": 8.0,
    "fp64_tensor": 8.0,  # FP64 on tensor cores: same storage as fp64
    "fp32": 4.0,
    "tf32": 4.0,  # computed with a 10-bit mantissa, stored as fp32
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "fp6": 0.75,
    "fp4": 0.5,
    "int4": 0.5,
}

PRECISIONS = tuple(BYTES_PER_ELEMENT)


def check_precision(precision: str, what: str = "precision") -> str:
    """The canonical name of a numeric format, or a clear error listing the known ones."""
    name = precision.strip().lower() if isinstance(precision, str) else precision
    if name not in BYTES_PER_ELEMENT:
        raise MlsysimError(f"{what}: unknown numeric format {precision!r}; use one of {', '.join(PRECISIONS)}")
    return name


def compute_time(flops: float, peak: float, efficiency: float) -> float:
    """Time to execute `flops` [FLOP] at `peak` [FLOP/s] x `efficiency` [1]: [s]."""
    return flops / (peak * efficiency)


def memory_time(bytes_moved: float, bandwidth: float, efficiency: float) -> float:
    """Time to move `bytes_moved` [B] at `bandwidth` [B/s] x `efficiency` [1]: [s]."""
    return bytes_moved / (bandwidth * efficiency)


def ridge_point(peak: float, bandwidth: float) -> float:
    """Arithmetic intensity [FLOP/B] at which compute and memory take equal time:
    peak [FLOP/s] / bandwidth [B/s]. Work below it is memory-bound, above it compute-bound."""
    return peak / bandwidth


def ring_allreduce_time(message_bytes: float, devices: float, link_bandwidth: float) -> float:
    """Bandwidth term of a ring all-reduce of `message_bytes` [B] over `devices` [1]
    GPUs, each sending at `link_bandwidth` [B/s] per direction: each device sends
    and receives 2 (p - 1) / p of the message. Returns [s]; 0 for a single device.

    References
    ----------
    Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of
    workstations", J. Parallel Distrib. Comput. 69(2), doi:10.1016/j.jpdc.2008.09.002.
    """
    return 2.0 * (devices - 1.0) / devices * message_bytes / link_bandwidth
