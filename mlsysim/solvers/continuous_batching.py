"""KV-cache allocation under continuous batching: static reservation versus paging.

A serving engine holds each running sequence's keys and values in a KV budget M [B] at k
bytes per token. How it allocates that memory decides how many sequences run at once:

  static (max-length reservation)  each sequence reserves S_max tokens up front;
                                   waste per sequence = S_max - S (internal fragmentation)
  paged (PagedAttention)           each sequence holds ceil(S / b) blocks of b tokens;
                                   waste per sequence = ceil(S / b) b - S < b, and
                                   (b - 1) / 2 tokens on average (~ b / 2)
  concurrency                      N = floor(M / (k x tokens held per sequence))
  throughput                       N tokens per iteration / t_iter(N)   [token/s]

With one token generated per running sequence per iteration (decode), a larger N raises
throughput for as long as the iteration time grows more slowly than N.

References
----------
Kwon et al. 2023, "Efficient Memory Management for Large Language Model Serving with
PagedAttention", SOSP '23, arXiv 2309.06180 (Sec. 3: reservation and fragmentation waste
of contiguous allocation; Sec. 4: blocks of a fixed number of tokens, waste bounded by one
block per sequence). The authors' announcement (vLLM blog, 2023-06-20) sums it up:
existing systems waste 60-80% of KV memory, vLLM under 4%.
Yu et al. 2022, "Orca: A Distributed Serving System for Transformer-Based Generative
Models", OSDI '22 (iteration-level scheduling: continuous batching).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlsysim.errors import InfeasibleError, MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.checks import cited, out, positive, whole


def paged_tokens(length: Any, block_size: Any) -> Any:
    """Tokens of KV memory a sequence holds under paging: ceil(S / b) x b.

    Parameters
    ----------
    length : int or array
        Tokens the sequence has (prompt + generated so far) [token], >= 1.
    block_size : int or array
        Tokens per KV block b [token], >= 1.

    Returns
    -------
    float or array
        Allocated tokens [token].

    References
    ----------
    Kwon et al. 2023, Sec. 4.2 (blocks are allocated on demand, one at a time).
    """
    s = whole("length", length)
    b = whole("block_size", block_size)
    return out(np.ceil(s / b) * b)


def paged_waste(length: Any, block_size: Any) -> Any:
    """Unused tokens in a sequence's last block: ceil(S / b) b - S, in [0, b - 1].

    Parameters
    ----------
    length : int or array
        Tokens of the sequence [token].
    block_size : int or array
        Tokens per block [token].

    Returns
    -------
    float or array
        Wasted token slots [token].

    References
    ----------
    Kwon et al. 2023, Sec. 4.2 (waste is bounded by one block per sequence).
    """
    return out(np.asarray(paged_tokens(length, block_size)) - whole("length", length))


def expected_paged_waste(block_size: Any) -> Any:
    """Mean unused slots of the last block when a sequence's length modulo b is uniform:
    (b - 1) / 2 tokens (b / 2 in the continuous limit).

    Parameters
    ----------
    block_size : int or array
        Tokens per block b [token].

    Returns
    -------
    float or array
        Expected waste per sequence [token].

    References
    ----------
    Kwon et al. 2023, Sec. 4.2.
    """
    b = whole("block_size", block_size)
    return out((b - 1) / 2)


def static_waste(length: Any, max_length: Any) -> Any:
    """Unused tokens of a max-length reservation: S_max - S.

    Parameters
    ----------
    length : float or array
        Tokens the sequence actually uses (or the mean) [token].
    max_length : int or array
        Tokens reserved per sequence S_max [token].

    Returns
    -------
    float or array
        Wasted token slots [token].

    References
    ----------
    Kwon et al. 2023, Sec. 3.1 (reserved and internal-fragmentation slots).
    """
    s = positive("length", length, "token")
    m = whole("max_length", max_length)
    if np.any(s > m):
        raise MlsysimError(f"length must be <= max_length ({max_length!r}), got {length!r}")
    return out(m - s)


def max_concurrency(kv_budget: Any, kv_bytes_per_token: Any, tokens_per_sequence: Any) -> Any:
    """Sequences that fit in a KV budget: floor(M / (k x tokens held per sequence)).

    Parameters
    ----------
    kv_budget : float or array
        Memory for the KV cache M [B].
    kv_bytes_per_token : float or array
        KV bytes one token occupies across all layers k [B/token].
    tokens_per_sequence : float or array
        Tokens of KV memory one sequence holds [token] (S_max when static; S + waste when paged).

    Returns
    -------
    float or array
        Whole sequences [count].
    """
    m = positive("kv_budget", kv_budget, "B")
    k = positive("kv_bytes_per_token", kv_bytes_per_token, "B")
    t = positive("tokens_per_sequence", tokens_per_sequence, "token")
    # Round-off must not drop an exact fit by one sequence.
    return out(np.floor(m / (k * t) * (1 + 1e-12)))


def waste_fraction(used_tokens: Any, held_tokens: Any) -> Any:
    """Share of allocated KV memory holding no token state: 1 - used / held.

    Parameters
    ----------
    used_tokens : float or array
        Tokens with state [token].
    held_tokens : float or array
        Tokens allocated [token], >= used_tokens.

    Returns
    -------
    float or array
        Fraction wasted [dimensionless, 0..1].

    References
    ----------
    Kwon et al. 2023, Fig. 2 (KV memory usage of existing systems and vLLM).
    """
    u = positive("used_tokens", used_tokens, "token")
    h = positive("held_tokens", held_tokens, "token")
    if np.any(u > h * (1 + 1e-12)):
        raise MlsysimError(f"used_tokens must be <= held_tokens, got {used_tokens!r} > {held_tokens!r}")
    return out(np.clip(1 - u / h, 0.0, 1.0))


def decode_throughput(concurrency: Any, iteration_time: Any) -> Any:
    """Tokens per second when each of N running sequences emits one token per iteration:
    N / t_iter [token/s].

    Parameters
    ----------
    concurrency : int or array
        Running sequences N [count], >= 1.
    iteration_time : float or array
        Time of one decode iteration at that N [s].

    Returns
    -------
    float or array
        Throughput [token/s].

    References
    ----------
    Yu et al. 2022 (iteration-level scheduling); Kwon et al. 2023, Sec. 6.
    """
    n = whole("concurrency", concurrency)
    t = positive("iteration_time", iteration_time, "s")
    return out(n / t)


@dataclass(frozen=True)
class ContinuousBatchingResult:
    """Concurrency, waste and throughput of static and paged KV allocation (SI units)."""

    kv_budget: float  # [B]
    kv_bytes_per_token: float  # [B/token]
    max_length: int  # [token] reserved per sequence by the static allocator
    mean_length: float  # [token] actually used per sequence
    block_size: int  # [token] per paged block
    static_concurrency: int
    paged_concurrency: int
    static_waste_fraction: float
    paged_waste_fraction: float
    static_throughput: float | None  # [token/s], None without an iteration-time function
    paged_throughput: float | None  # [token/s]
    lineage: Lineage

    @property
    def concurrency_gain(self) -> float:
        """Paged over static concurrency (inf when static fits none)."""
        return self.paged_concurrency / self.static_concurrency if self.static_concurrency else float("inf")

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "lineage"}
        out["concurrency_gain"] = self.concurrency_gain
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


class ContinuousBatchingModel:
    """How many sequences a KV budget holds, static versus paged, and what that buys."""

    def solve(self, kv_budget: Any, kv_bytes_per_token: Any, max_length: int, block_size: int,
              mean_length: float | None = None, max_batch: int | None = None,
              iteration_time: Callable[[int], float] | None = None) -> ContinuousBatchingResult:
        """
        kv_budget [B]           memory left for the KV cache (number, cited value or assumption)
        kv_bytes_per_token [B]  KV bytes per token across all layers (number or cited value)
        max_length [token]      context each sequence may reach; the static allocator reserves it
        block_size [token]      tokens per paged block
        mean_length [token]     tokens a sequence actually holds on average (default max_length);
                                paged sequences hold it plus the expected last-block waste
        max_batch               scheduler cap on running sequences (default: none)
        iteration_time          function of the running-sequence count -> seconds per decode
                                iteration; gives the throughput of each allocator
        """
        lineage = Lineage()
        m = cited("kv_budget", kv_budget, lineage, "information", "B")
        k = cited("kv_bytes_per_token", kv_bytes_per_token, lineage, "information", "B")
        s_max = int(whole("max_length", max_length))
        b = int(whole("block_size", block_size))
        mean = float(s_max if mean_length is None else positive("mean_length", mean_length, "token"))
        if mean > s_max:
            raise MlsysimError(f"mean_length must be <= max_length ({s_max}), got {mean_length!r}")
        cap = None if max_batch is None else int(whole("max_batch", max_batch))
        held = mean + float(expected_paged_waste(b))
        static_n = int(max_concurrency(m, k, s_max))
        paged_n = int(max_concurrency(m, k, held))
        if cap is not None:
            static_n, paged_n = min(static_n, cap), min(paged_n, cap)
        if paged_n < 1:
            raise InfeasibleError(
                f"the KV budget ({m:.4g} B) holds no sequence of {held:.4g} tokens at {k:.4g} B/token; "
                "give more memory or shorter sequences"
            )
        throughputs: list[float | None] = [None, None]
        if iteration_time is not None:
            for i, n in enumerate((static_n, paged_n)):
                if n >= 1:
                    t = iteration_time(n)
                    throughputs[i] = float(decode_throughput(n, t))
                else:
                    throughputs[i] = 0.0
        return ContinuousBatchingResult(
            kv_budget=m, kv_bytes_per_token=k, max_length=s_max, mean_length=mean, block_size=b,
            static_concurrency=static_n, paged_concurrency=paged_n,
            static_waste_fraction=float(waste_fraction(mean, s_max)),
            paged_waste_fraction=float(waste_fraction(mean, held)),
            static_throughput=throughputs[0], paged_throughput=throughputs[1], lineage=lineage,
        )
