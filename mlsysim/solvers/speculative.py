"""Speculative decoding: a small draft model proposes tokens, the served model verifies them.

Each iteration the draft model decodes `draft_tokens` (gamma) tokens one by one; the target
model then runs one pass over those gamma tokens plus one (a prefill-like pass of gamma + 1 new
tokens over the cached context), accepts the longest prefix the rejection sampler keeps and
adds one token of its own. With each draft token accepted independently with probability
alpha (the acceptance rate, a property of the draft/target pair and the text), an iteration
yields (1 - alpha^(gamma + 1)) / (1 - alpha) tokens in expectation (`expected_tokens`), and
the output distribution is exactly the target's. The pass times come from the two
`ServingModel`s (the same roofline, efficiencies and fixed costs as plain decoding), so the
speed-up is what the hardware gives, not the paper's cost-ratio approximation.

    >>> from mlsysim import Models, Hardware, ServingModel
    >>> target = ServingModel(Models.Language.Llama3_70B, Hardware.Cloud.H200, precision="fp8")
    >>> draft = ServingModel(Models.Language.Llama3_8B, Hardware.Cloud.H200, precision="fp8")
    >>> r = SpeculativeDecoding(target, draft, draft_tokens=4, acceptance_rate=0.8).solve(1024, 256)
    >>> f"{r.tokens_per_iteration:.2f} tokens per iteration, ITL {r.itl * 1e3:.2f} ms ({r.speedup:.2f}x)"
    '3.36 tokens per iteration, ITL 11.46 ms (2.13x)'

References
----------
Leviathan, Kalman and Matias 2023, "Fast Inference from Transformers via Speculative
Decoding", ICML 2023, arXiv 2211.17192 (the expected tokens per iteration).
Chen et al. 2023, "Accelerating Large Language Model Decoding with Speculative Sampling",
arXiv 2302.01318 (the same scheme: draft K tokens, score them in one target pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.results import QuantityView, result_dict


def expected_tokens(acceptance_rate: Any, draft_tokens: Any) -> Any:
    """Tokens one speculative iteration yields in expectation [1]:

    E = (1 - alpha^(gamma + 1)) / (1 - alpha),

    for `draft_tokens` gamma [1] each accepted with probability `acceptance_rate` alpha [1]
    (independently); gamma + 1 when alpha = 1 (every draft token kept, plus the target's own).

    References
    ----------
    Leviathan et al. 2023, arXiv 2211.17192 (expected tokens per iteration).
    """
    if acceptance_rate == 1.0:
        return draft_tokens + 1.0
    return (1.0 - acceptance_rate ** (draft_tokens + 1.0)) / (1.0 - acceptance_rate)


@dataclass(frozen=True)
class SpeculativeProfile(QuantityView):
    """A static batch decoded speculatively [s, 1/s, 1]. `itl` is the mean time per output
    token; `plain_itl` the target's own decode step over the same context, for comparison."""

    batch_size: int
    prompt_tokens: int
    output_tokens: int
    draft_tokens: int
    acceptance_rate: float
    tokens_per_iteration: float   # expected tokens an iteration yields [1]
    iteration: float              # draft steps + the target's verification pass, mean over the output [s]
    draft_time: float             # the draft's gamma decode steps of one iteration [s]
    verify_time: float            # the target's pass over gamma + 1 tokens [s]
    ttft: float                   # both models prefill the prompt [s]
    itl: float                    # iteration / tokens per iteration [s]
    plain_itl: float              # the target decoding alone, one token per step [s]
    latency: float                # ttft + (output - 1) x itl [s]
    tokens_per_second: float      # batch x output / latency [1/s]
    memory_fits: bool             # both models' weights and KV caches fit on the target's GPUs
    lineage: Lineage = field(repr=False)
    warnings: tuple[str, ...] = ()

    UNITS = {"iteration": "s", "draft_time": "s", "verify_time": "s", "ttft": "s", "itl": "s", "plain_itl": "s",
             "latency": "s", "tokens_per_second": "1/s", "tokens_per_iteration": "", "acceptance_rate": ""}

    @property
    def speedup(self) -> float:
        """Time per token of plain decoding over that of speculative decoding [1]."""
        return self.plain_itl / self.itl

    def to_dict(self) -> dict[str, Any]:
        return {**result_dict(self), "speedup": self.speedup}

    def add_to(self, result: dict[str, Any]) -> None:
        """Put this profile under `result["speculative"]`, and its lineage (the target's values
        and the draft's) in place of the result's own, so both models' inputs are cited."""
        spec = self.to_dict()
        result["lineage"] = spec.pop("lineage")
        spec.pop("catalog")
        result["speculative"] = spec


class SpeculativeDecoding:
    """A target `ServingModel` decoding with a draft `ServingModel` on the same GPUs.

    Parameters
    ----------
    target, draft : ServingModel
        The served model and the small model that proposes tokens; both on the same
        accelerator (the draft usually unsharded, tp 1: its steps are latency-bound).
    draft_tokens : int
        gamma, tokens the draft proposes per iteration [1].
    acceptance_rate : float or assumption record
        alpha, the probability that the target keeps a draft token [1], in [0, 1]: measured
        for a draft/target pair on a task (e.g. Leviathan et al. 2023, Table 3), never
        derived here.
    """

    def __init__(self, target: Any, draft: Any, draft_tokens: int, acceptance_rate: Any):
        self.target, self.draft = target, draft
        if target.h.name != draft.h.name:
            raise MlsysimError(f"the draft runs on {draft.h.name} and the target on {target.h.name}; "
                               "speculative decoding here runs both on the target's GPUs")
        self.gamma = inputs.positive_int(draft_tokens, "draft_tokens")
        self._lineage = Lineage()
        self._lineage.merge(target.lineage)
        self._lineage.merge(draft.lineage)
        if isinstance(acceptance_rate, (int, float)) and acceptance_rate == 0:
            raise MlsysimError("acceptance_rate 0 keeps no draft token: speculative decoding then only adds the "
                               "draft's time; pass a rate in (0, 1]")
        self.alpha = inputs.fraction(acceptance_rate, "acceptance_rate", self._lineage)

    @classmethod
    def beside(cls, target: Any, draft_model: Any, draft_tokens: int, acceptance_rate: Any,
               efficiency: Any = None) -> SpeculativeDecoding:
        """`draft_model` (a record or name) drafting on the target's accelerator, unsharded, in
        the target's compute precision and storage formats."""
        from mlsysim.solvers.serving import ServingModel

        draft = ServingModel(draft_model, target.h.record, precision=target.precision,
                             weight_precision=target.weight_precision, kv_precision=target.kv_precision,
                             efficiency=efficiency)
        return cls(target, draft, draft_tokens, acceptance_rate)

    def iteration(self, context: float, batch_size: int = 1) -> tuple[float, float]:
        """(draft time, verification time) [s] of one iteration at `context` cached tokens:
        gamma draft decode steps at context, ..., context + gamma - 1, then one target pass of
        gamma + 1 new tokens per sequence over `context` cached ones."""
        draft = sum(self.draft._pass(float(batch_size), 1.0, context + i).time for i in range(self.gamma))
        verify = self.target._pass(float(batch_size), float(self.gamma + 1), context).time
        return draft, verify

    def solve(self, prompt_tokens: int = 512, output_tokens: int = 128, batch_size: int = 1) -> SpeculativeProfile:
        """A static batch: both models prefill the prompt, then iterations until `output_tokens`.

        The iteration is priced at the mean context of the output, prompt + output / 2 (pass
        times are linear in the context, so this is the mean over the output to first order);
        ITL = iteration / E (`expected_tokens`); TTFT = target prefill + draft prefill (the
        draft needs the prompt's KV cache too).
        """
        for name, value in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens),
                            ("batch_size", batch_size)):
            inputs.positive_int(value, name)
        t = self.target
        if t.m.context and prompt_tokens + output_tokens + self.gamma > t.m.context:
            raise MlsysimError(f"prompt + output + draft tokens = {prompt_tokens + output_tokens + self.gamma} exceeds "
                               f"{t.m.name}'s context length of {t.m.context:g} tokens")
        mean_context = prompt_tokens + output_tokens / 2.0
        draft_time, verify_time = self.iteration(mean_context, batch_size)
        iteration = draft_time + verify_time
        per_iteration = expected_tokens(self.alpha, float(self.gamma))
        itl = iteration / per_iteration
        ttft = t.prefill(prompt_tokens, batch_size).time + self.draft.prefill(prompt_tokens, batch_size).time
        latency = ttft + (output_tokens - 1) * itl
        plain = t._pass(float(batch_size), 1.0, mean_context).time
        tokens = prompt_tokens + output_tokens + self.gamma
        target_memory = t.memory(batch_size, tokens)
        draft_memory = self.draft.memory(batch_size, tokens)
        fits = target_memory.total + draft_memory.total <= target_memory.capacity
        warned: list[str] = []
        if not fits:
            warned.append(f"the target and draft models with their KV caches need "
                          f"{(target_memory.total + draft_memory.total) / 1e9:.4g} GB per GPU, more than the "
                          f"{target_memory.capacity / 1e9:.4g} GB there")
        if itl >= plain:
            warned.append(f"speculation is slower than plain decoding here ({itl * 1e3:.4g} vs {plain * 1e3:.4g} ms "
                          "per token): the draft's steps and the wider verification pass cost more than the "
                          "accepted tokens save")
        return SpeculativeProfile(
            batch_size=batch_size, prompt_tokens=prompt_tokens, output_tokens=output_tokens, draft_tokens=self.gamma,
            acceptance_rate=self.alpha, tokens_per_iteration=per_iteration, iteration=iteration,
            draft_time=draft_time, verify_time=verify_time, ttft=ttft, itl=itl, plain_itl=plain, latency=latency,
            tokens_per_second=batch_size * output_tokens / latency, memory_fits=fits, lineage=self._lineage,
            warnings=tuple(warned),
        )
