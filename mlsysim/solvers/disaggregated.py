"""Disaggregated serving: prefill and decode on separate GPU instances.

A prefill instance computes each prompt and sends its KV cache to a decode instance, which
generates the output. The two phases stop interfering (a long prefill no longer stalls the
decode steps of other requests), each can use its own parallelism and GPU count, and the
price is the KV-cache transfer between them, on the link they share. Both instances are
`ServingModel`s (the same roofline, efficiencies and fixed costs as colocated serving):

    TTFT = prefill(batch x prompt) + KV bytes of the batch's prompts / link bandwidth,
    ITL  = the decode instance's step at the batch (a static batch over the output),
    prefill instances per decode instance = (prefill + transfer) / decode time of a batch,
    so that neither pool idles; the output flows at the decode instances' rate.

    >>> from mlsysim import Models, Systems, ServingModel
    >>> prefill = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, precision="fp8", tp=4)
    >>> decode = ServingModel(Models.Language.Llama3_70B, Systems.Nodes.DGX_H100, precision="fp8", tp=4)
    >>> r = DisaggregatedServing(prefill, decode, link=Systems.Nodes.DGX_H100).solve(4096, 512, batch_size=16)
    >>> f"TTFT {r.ttft * 1e3:.0f} ms of which KV transfer {r.kv_transfer * 1e3:.1f} ms"
    'TTFT 2942 ms of which KV transfer 53.7 ms'

References
----------
Zhong et al. 2024, "DistServe: Disaggregating Prefill and Decoding for Goodput-optimized Large
Language Model Serving", OSDI '24, arXiv 2401.09670 (the two phases on separate GPUs; the KV
cache moves between them once per request).
Patel et al. 2024, "Splitwise: Efficient Generative LLM Inference Using Phase Splitting",
ISCA '24, arXiv 2311.18677 (KV-cache transfer over the cluster's InfiniBand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.roofline import cached_kv_elements
from mlsysim.solvers.results import QuantityView, result_dict


def kv_transfer_time(kv_bytes: Any, link_bandwidth: Any, senders: Any) -> Any:
    """Time to move a KV cache from the prefill instance to the decode instance [s]:
    kv_bytes / (senders x link_bandwidth), `kv_bytes` [B] the whole cache of the batch's
    prompts, `link_bandwidth` [B/s] one GPU's link per direction, `senders` [1] the prefill
    instance's GPUs, each sending the shard it holds over its own link at once.

    References
    ----------
    Zhong et al. 2024 (DistServe), arXiv 2401.09670 (KV-cache transmission between the instances).
    """
    return kv_bytes / (senders * link_bandwidth)


@dataclass(frozen=True)
class DisaggregatedProfile(QuantityView):
    """A static batch served disaggregated [s, B, 1/s, 1]."""

    batch_size: int
    prompt_tokens: int
    output_tokens: int
    prefill_time: float        # the prefill instance's pass over the batch [s]
    kv_bytes: float            # KV cache of the batch's prompts, all layers and heads [B]
    kv_transfer: float         # its move to the decode instance [s]
    ttft: float                # prefill + transfer [s]
    itl: float                 # mean decode step of the decode instance [s]
    latency: float             # ttft + (output - 1) x itl [s]
    decode_time: float         # (output - 1) decode steps of the batch [s]
    prefill_instances_per_decode: float  # (prefill + transfer) / decode time: the pools' balance [1]
    tokens_per_second_per_gpu: float     # output tokens per second over both pools' GPUs [1/s]
    lineage: Lineage = field(repr=False)
    warnings: tuple[str, ...] = ()

    UNITS = {"prefill_time": "s", "kv_bytes": "B", "kv_transfer": "s", "ttft": "s", "itl": "s", "latency": "s",
             "decode_time": "s", "prefill_instances_per_decode": "", "tokens_per_second_per_gpu": "1/s"}

    def to_dict(self) -> dict[str, Any]:
        return result_dict(self)


class DisaggregatedServing:
    """A prefill `ServingModel` and a decode `ServingModel` of the same model, joined by a link.

    Parameters
    ----------
    prefill, decode : ServingModel
        The two instances (their accelerator, precision and tensor parallelism may differ).
    link : node record or name, or bandwidth
        What carries the KV cache: a node record (its inter-node bandwidth per accelerator, one
        direction, the NIC each GPU sends through), or one GPU's link bandwidth per direction
        [B/s] (a number, a pint quantity or a cited value).
    """

    def __init__(self, prefill: Any, decode: Any, link: Any):
        if prefill.m.name != decode.m.name:
            raise MlsysimError(f"the prefill instance serves {prefill.m.name} and the decode instance {decode.m.name}; "
                               "both phases must run the same model")
        self.prefill_model, self.decode_model = prefill, decode
        self._lineage = Lineage()
        self._lineage.merge(prefill.lineage)
        self._lineage.merge(decode.lineage)
        self.link_bandwidth = self._link(link, prefill)

    def _link(self, link: Any, prefill: Any) -> float:
        if isinstance(link, str):
            link = inputs.record(link, "nodes", prefill.h.catalog, "link")
        if isinstance(link, Record):
            if link.kind != "nodes" or not link.has("inter_node_bandwidth"):
                raise MlsysimError(f"link: {link.ref} names no inter-node bandwidth; pass a node record that states one, "
                                   "or a bandwidth per GPU and direction in B/s")
            per_node = inputs.per_direction(link.field("inter_node_bandwidth"), self._lineage)
            return per_node / self._lineage.use(link.field("accelerator_count"))
        return inputs.as_si(link, "bandwidth", "link", self._lineage)

    def solve(self, prompt_tokens: int = 512, output_tokens: int = 128, batch_size: int = 1) -> DisaggregatedProfile:
        """A static batch: prefill on one instance, KV transfer, decode on the other."""
        for name, value in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens),
                            ("batch_size", batch_size)):
            inputs.positive_int(value, name)
        p, d = self.prefill_model, self.decode_model
        pre = p.prefill(prompt_tokens, batch_size)
        # The decode instance keeps the cache in its own format; the prefill instance writes that.
        kv_bytes = batch_size * cached_kv_elements(d.m, prompt_tokens) * d.bytes_kv
        transfer = kv_transfer_time(kv_bytes, self.link_bandwidth, p.tp)
        served = d.solve(prompt_tokens, output_tokens, batch_size)
        decode_time = served.latency - served.ttft
        ttft = pre.time + transfer
        latency = ttft + decode_time
        # A decode instance takes a new prefilled batch every decode_time; a prefill instance
        # delivers one every prefill + transfer: that many prefill instances per decode
        # instance keep both pools busy. The output then flows at the decode instances' rate.
        ratio = ttft / decode_time if decode_time > 0 else 1.0
        gpus = p.tp * ratio + d.tp
        rate = batch_size * output_tokens / (decode_time if decode_time > 0 else ttft)
        warned = list(served.warnings)
        if not p.memory(batch_size, prompt_tokens).fits:
            warned.append(f"the prefill instance cannot hold the batch's {prompt_tokens}-token prompts next to the weights")
        if not served.feasible:
            warned.append("the decode instance cannot hold the batch's KV cache next to the weights")
        return DisaggregatedProfile(
            batch_size=batch_size, prompt_tokens=prompt_tokens, output_tokens=output_tokens, prefill_time=pre.time,
            kv_bytes=kv_bytes, kv_transfer=transfer, ttft=ttft, itl=served.itl, latency=latency,
            decode_time=decode_time, prefill_instances_per_decode=ratio,
            tokens_per_second_per_gpu=rate / gpus if gpus else 0.0, lineage=self._lineage, warnings=tuple(warned),
        )
