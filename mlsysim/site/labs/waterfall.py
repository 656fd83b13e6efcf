"""The optimization waterfall: how far each optimization moves LLM serving, step by step,
computed by the solvers at build time.

For one model on one accelerator, a static batch of `PROMPT_TOKENS` in and
`OUTPUT_TOKENS` out is solved with `ServingModel.solve` after each cumulative step:

1. baseline: 16-bit weights, KV cache and compute (fp16, else bf16), one sequence; for a
   mixture of experts, every token computed by every expert (the dense model of the same
   parameters), so that the next step shows what routing buys;
2. MoE: each token routed to its model's `experts_active` of `experts_total` experts;
3. precision: compute, weights and KV cache in fp8 (else int8) where the accelerator has a
   cited dense peak for it;
4. batching: the largest batch whose KV cache fits next to the weights
   (`ServingModel.max_batch_size`);
5. fusion and 6. speculative decoding: "not expressible" where the catalog lacks the cited
   input the step needs (it says which), never a made-up factor.

Each step names the cited values and assumption records it rests on (id and source).
The prompt and output lengths are the scenario, not literature values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mlsysim.catalog.records import Record, Value
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.site.labs.explorer import assumption_id, citation
from mlsysim.solvers.gemm_waves import wave_quantization
from mlsysim.solvers.kernel_efficiency import TRANSFORMER_KERNELS, kernel_efficiency_values
from mlsysim.solvers.pass_overheads import kernel_launch_value, launch_overhead
from mlsysim.solvers.plausibility import on_chip_memory
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT
from mlsysim.solvers.serving import ServingModel
from mlsysim.solvers.terms import KERNEL_LAUNCH, cited_assumption, model_terms
from mlsysim.solvers.transformer import TransformerShape, matmul_weights_per_token, weight_gemms

PROMPT_TOKENS = 512
OUTPUT_TOKENS = 128
BASE_PRECISIONS = ("fp16", "bf16")
LOW_PRECISIONS = ("fp8", "int8")
SPECULATIVE_REFERENCE = ("Leviathan, Kalman & Matias 2023, \"Fast Inference from Transformers via Speculative "
                         "Decoding\", arXiv 2211.17192")


@dataclass
class Step:
    """One bar of the waterfall: the configuration after this step and what the solver returns for it."""

    key: str
    label: str
    expressible: bool
    config: str = ""
    tokens_per_second: float | None = None   # output tokens/s of the whole batch
    request_latency: float | None = None     # seconds from prompt to last token
    itl: float | None = None                 # mean inter-token latency [s]
    ttft: float | None = None                # [s]
    batch: int | None = None
    why: str = ""
    rests_on: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("key", "label", "expressible", "config", "tokens_per_second",
                                               "request_latency", "itl", "ttft", "batch", "why", "rests_on")}


def _cite(value: Value, what: str) -> dict[str, Any]:
    entry = citation(value, value.path)
    entry["what"] = what
    return entry


def _assumption(catalog: Any, ident: str, what: str) -> dict[str, Any]:
    entry = citation(cited_assumption(catalog, ident), ident)
    entry["what"] = what
    return entry


_KERNEL_WHAT = {"gemm": "weight-GEMM", "attention": "attention", "memory": "memory-bandwidth"}


def _efficiencies(serving: ServingModel) -> list[dict[str, Any]]:
    """The cited efficiencies `serving`'s passes are priced at (`kernel_efficiency.kernel_efficiency_values`
    for its accelerator and precision), one entry per record, saying which kernel classes use it."""
    uses: dict[str, list[str]] = {}
    values: dict[str, Value] = {}
    for kernel, value in kernel_efficiency_values(serving.h).items():
        if kernel not in TRANSFORMER_KERNELS:
            continue
        ident = value.path.split("/", 1)[1].split("#", 1)[0]
        values[ident] = value
        uses.setdefault(ident, []).append(_KERNEL_WHAT[kernel])
    out = []
    for ident, value in values.items():
        entry = citation(value, ident)
        entry["what"] = f"{' and '.join(uses[ident])} efficiency at {serving.precision}"
        out.append(entry)
    return out


def _every_expert(serving: ServingModel, record: Record) -> None:
    """Make `serving` compute every routed expert for every token (experts_active =
    experts_total): the dense model with the same parameters. The terms are counted by the
    same transformer functions the catalog reader uses, under their own memo key."""
    shape = TransformerShape.from_record(record, Lineage())
    dense = replace(shape, experts_active=shape.experts_total)
    weights = matmul_weights_per_token(dense)
    m = replace(serving.m, experts_active=shape.experts_total, matmul_flops=2.0 * weights,
                gemms=tuple((g.outputs, g.weights / weights, g.split) for g in weight_gemms(dense)),
                ref=serving.m.ref + "#every-expert")
    serving.m = m
    serving.waves = wave_quantization(m, serving.h, serving.tp)
    serving.launch = launch_overhead(m, serving.h)


def _fill(step: Step, profile: Any) -> Step:
    step.tokens_per_second = profile.tokens_per_second
    step.request_latency = profile.latency
    step.itl = profile.itl
    step.ttft = profile.ttft
    step.batch = profile.batch_size
    return step


def _base_precision(hardware: Record) -> str | None:
    """The 16-bit format the baseline runs in: fp16, else bf16, whichever the record has a peak for."""
    return next((p for p in BASE_PRECISIONS if f"compute.{p}" in hardware.claims), None)


def waterfall(model: Record, hardware: Record) -> list[Step]:
    """The steps for `model` on `hardware` (both from one catalog); raises MlsysimError when
    the pair cannot be served at all (no 16-bit peak, weights that do not fit, ...)."""
    catalog = model._catalog
    m = model_terms(model)
    base = _base_precision(hardware)
    if base is None:
        raise MlsysimError(f"{hardware.label} has no dense fp16 or bf16 peak in the catalog")
    moe = bool(m.moe_layers)
    hw_base = [_cite(hardware.field(f"compute.{base}"), f"dense {base} peak"),
               _cite(hardware.field("memory.bandwidth"), "memory bandwidth")]
    steps: list[Step] = []

    # One solver per precision: the routed model is solved first, then (for a mixture of
    # experts) the same solver is switched to computing every expert for the baseline.
    serving = ServingModel(model, hardware, precision=base)
    efficiency = _efficiencies(serving)
    routed = serving.solve(PROMPT_TOKENS, OUTPUT_TOKENS, 1)
    if moe:
        _every_expert(serving, model)
    profile = serving.solve(PROMPT_TOKENS, OUTPUT_TOKENS, 1) if moe else routed
    if not profile.feasible:
        raise MlsysimError(f"{model.label}'s {base} weights do not fit in one {hardware.label}")
    baseline = Step("baseline", "Baseline", True,
                    f"{base} weights, KV cache and compute; batch 1"
                    + ("; every expert computed for every token (the dense model of the same parameters)" if moe else ""),
                    why="One sequence decodes token by token: each step reads every weight"
                        + (" of every expert" if moe else "") + ", so the step is bound by memory bandwidth.",
                    rests_on=hw_base + efficiency)
    steps.append(_fill(baseline, profile))

    # MoE routing.
    if moe:
        active, total = model.field("transformer.experts_active"), model.field("transformer.experts_total")
        steps.append(_fill(Step(
            "moe", "Mixture of experts", True,
            f"each token routed to {active.si:g} of {total.si:g} experts",
            why=f"A decode step of one sequence reads and computes only the {active.si:g} routed experts of each "
                "MoE layer instead of all of them (roofline.weight_bytes_read).",
            rests_on=[_cite(active, "experts per token"), _cite(total, "experts per layer")] + efficiency), routed))
        serving = ServingModel(model, hardware, precision=base)
    else:
        steps.append(Step("moe", "Mixture of experts", False, why=(
            f"{model.label} is a dense model (its record has no experts): routing does not apply to it, and "
            "turning it into a mixture of experts would be another model. Pick an MoE model (Mixtral, DeepSeek-V3, "
            "Qwen3-235B-A22B, ...) to see this step.")))

    # Precision.
    low = next((p for p in LOW_PRECISIONS if f"compute.{p}" in hardware.claims), None)
    if low is None:
        steps.append(Step("precision", "Lower precision", False, why=(
            f"{hardware.label} has no cited dense fp8 or int8 peak in the catalog, so a lower-precision pass "
            "has no compute roof to run against (another precision's peak is never substituted).")))
    else:
        serving = ServingModel(model, hardware, precision=low)
        profile = serving.solve(PROMPT_TOKENS, OUTPUT_TOKENS, 1)
        steps.append(_fill(Step(
            "precision", "Lower precision", True, f"{low} weights, KV cache and compute",
            why=f"{BYTES_PER_ELEMENT[low]:g} instead of {BYTES_PER_ELEMENT[base]:g} bytes per weight and per cached "
                f"token shrink the memory time of a decode step; the {low} peak raises the compute roof. Accuracy "
                "is not modelled here.",
            rests_on=[_cite(hardware.field(f"compute.{low}"), f"dense {low} peak")] + _efficiencies(serving)), profile))

    # Batching.
    largest = serving.max_batch_size(PROMPT_TOKENS + OUTPUT_TOKENS)
    if largest < 2:
        steps.append(Step("batching", "Batching", False, why=(
            f"No second sequence's KV cache fits next to the weights in {hardware.label}'s memory "
            f"({largest} fits), so batching cannot raise throughput here.")))
    else:
        profile = serving.solve(PROMPT_TOKENS, OUTPUT_TOKENS, largest)
        steps.append(_fill(Step(
            "batching", "Batching", True,
            f"batch {largest}: the most sequences whose KV cache fits next to the weights",
            why="A decode step reads the weights once for the whole batch, so more sequences share each read "
                "until the step turns compute-bound or memory runs out; each request waits longer.",
            rests_on=[_cite(hardware.field("memory.capacity"), "memory capacity (largest batch)")]
            + _efficiencies(serving)),
            profile))

    # Fusion.
    launch = serving.launch.seconds
    if launch:
        last = next(s for s in reversed(steps) if s.expressible)
        share = launch / last.itl
        why = (f"The solver charges every pass {m.kernels:g} kernels × the cited launch overhead = "
               f"{launch * 1e6:.4g} µs ({share:.1%} of the last decode step). Fusing kernels or capturing the pass "
               "in a CUDA graph removes part of that, but the catalog has no cited figure for the kernels or the "
               "launch cost left after fusion, so the step is not computed; the charge above bounds it. The other "
               "saving of fusion, activations kept on chip, is not computed either: the roofline charges every "
               "kernel's activation traffic (activation_traffic), and no cited figure says which kernels a given "
               "engine fuses.")
        rests = [_assumption(catalog, assumption_id(kernel_launch_value(hardware)), "per-kernel launch overhead")]
    else:
        why = (f"No cited kernel-launch overhead applies to {hardware.label} (the catalog's null-kernel figure is for "
               f"{cited_assumption(catalog, KERNEL_LAUNCH).qualifiers.get('vendor', 'another vendor')} GPUs, and no "
               "per-kernel time is cited for this accelerator), and no cited figure says which kernels a given engine "
               "fuses, so the activation traffic fusion would save (activation_traffic) is not removed either.")
        rests = []
    steps.append(Step("fusion", "Kernel fusion", False, why=why, rests_on=rests))

    # Speculative decoding.
    steps.append(Step("speculative", "Speculative decoding", False, why=(
        "A draft model proposes γ tokens and the target verifies them in one pass, so each target pass "
        "yields (1 − α^(γ+1)) / (1 − α) tokens in expectation, α the rate at which the target accepts the "
        f"draft's tokens ({SPECULATIVE_REFERENCE}). The catalog holds no cited acceptance rate for "
        f"{model.label} with any draft model, and α depends on the pair and the text, so the step is not "
        "computed.")))
    return steps


def waterfall_data(catalog: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Every (LLM, accelerator) pair the waterfall can show: an index (models, the accelerators
    each can be shown on, every citation once, the scenario) and, per model id, its cases
    (accelerator id -> steps, each naming its citations by key in the index's `cites`)."""
    models = []
    for record in catalog.records("models"):
        try:
            m = model_terms(record)
        except MlsysimError:
            continue
        if m.kind != "transformer" or m.encoder or (m.context and m.context < PROMPT_TOKENS + OUTPUT_TOKENS):
            continue
        models.append(record)
    hardware = [h for h in catalog.records("hardware")
                if str(h.get("tier", "")) == "cloud" and not on_chip_memory(h)
                and "memory.bandwidth" in h.claims and "memory.capacity" in h.claims
                and any(f"compute.{p}" in h.claims for p in BASE_PRECISIONS)]
    hardware.sort(key=lambda r: r.name.lower())
    models.sort(key=lambda r: r.name.lower())
    per_model: dict[str, dict[str, Any]] = {}
    cites: dict[str, dict[str, Any]] = {}  # every citation once; steps name them by key
    for model in models:
        cases: dict[str, Any] = {}
        weights = model_terms(model).params_total
        for hw in hardware:
            # Weights alone larger than the memory: the pair cannot be served (waterfall would say so).
            if weights * BYTES_PER_ELEMENT[_base_precision(hw)] > hw.si("memory.capacity"):
                continue
            try:
                steps = waterfall(model, hw)
            except MlsysimError:
                continue
            rows = []
            for step in steps:
                row = step.to_dict()
                keys = []
                for c in row.pop("rests_on"):
                    key = f"{c['id']}|{c['what']}"
                    cites.setdefault(key, c)
                    keys.append(key)
                row["rests_on"] = keys
                rows.append(row)
            cases[hw.id] = rows
        if cases:
            per_model[model.id] = cases
    index = {
        "catalog": {k: v for k, v in dict(catalog.identity).items() if k in ("fingerprint", "date")},
        "scenario": {"prompt_tokens": PROMPT_TOKENS, "output_tokens": OUTPUT_TOKENS},
        "models": [{"id": r.id, "name": r.label, "title": r.name, "hardware": list(per_model[r.id])}
                   for r in models if r.id in per_model],
        "hardware": [{"id": r.id, "name": r.label, "title": r.name} for r in hardware
                     if any(r.id in cases for cases in per_model.values())],
        "cites": cites,
    }
    return index, per_model
