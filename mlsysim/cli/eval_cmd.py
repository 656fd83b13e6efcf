"""`mlsysim eval MODEL HARDWARE ...`: one model on one accelerator (or one node), or on
several side by side (`mlsysim eval Llama3_8B H100 A100`).

`eval` takes a first positional TARGET. A model name is evaluated here; other kinds of
target are dispatched through TARGET_HANDLERS, so later commands (`eval scenario NAME`,
`eval plan.yaml`) plug in without touching this command's options.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from mlsysim.catalog import defaults
from mlsysim.cli.options import CatalogOption, Output, open_catalog
from mlsysim.catalog.display import format_duration, format_number, format_quantity
from mlsysim.cli.console import console, echo, escape
from mlsysim.errors import MlsysimError, OOMError, SLAViolation


@dataclass(frozen=True)
class EvalRequest:
    """Everything `mlsysim eval` was given, for whichever handler the target selects."""

    target: str
    args: list[str]              # the positionals after TARGET
    batch: int
    precision: str
    weight_precision: Optional[str]
    kv_precision: Optional[str]
    seq_len: Optional[int]
    output_tokens: Optional[int]
    tensor_parallel: int
    concurrent: Optional[int]
    efficiency: Optional[float]
    host_dispatch: Optional[str]
    max_latency_ms: Optional[float]
    max_ttft_ms: Optional[float]
    output: Output
    explain: bool
    catalog: Optional[Path]
    cached_tokens: int = 0
    chunk_tokens: Optional[int] = None
    draft: Optional[str] = None
    draft_tokens: Optional[int] = None
    acceptance_rate: Optional[float] = None
    fusion: Optional[str] = None
    iteration_overhead: Optional[str] = None
    request_overhead: Optional[str] = None
    dla: bool = False
    cuda_graph: bool = False
    layout: Optional[str] = None


# TARGET kind -> "module:function" taking an EvalRequest. A kind is "scenario" when
# TARGET is the word `scenario`, "plan" when it ends in .yaml or .yml, else "model".
# To add one: TARGET_HANDLERS["kind"] = "module:function taking an EvalRequest".
TARGET_HANDLERS: dict[str, str] = {
    "model": "mlsysim.cli.eval_cmd:eval_model",
    "scenario": "mlsysim.cli.fleet_eval_cmd:eval_scenario",
    "plan": "mlsysim.cli.fleet_eval_cmd:eval_plan",
}


def target_kind(target: str) -> str:
    if target == "scenario":
        return "scenario"
    if target.lower().endswith((".yaml", ".yml")):
        return "plan"
    return "model"


def _handler(kind: str) -> Callable[[EvalRequest], None]:
    spec = TARGET_HANDLERS.get(kind)
    if spec is None:
        raise MlsysimError(f"`mlsysim eval {kind}` targets are not available in this version; evaluate a model: mlsysim eval MODEL HARDWARE")
    module, _, function = spec.partition(":")
    return getattr(import_module(module), function)


def eval_command(
    target: str = typer.Argument(..., help="A model name (then HARDWARE), `scenario NAME`, or a plan .yaml (ours, or the reference simulator's cluster.yaml)."),
    rest: Optional[list[str]] = typer.Argument(None, metavar="[HARDWARE]...", help="An accelerator or node name; several compare side by side."),
    batch: int = typer.Option(defaults.BATCH_SIZE, "--batch", "-b", min=1, help="Sequences (or samples) per batch."),
    precision: str = typer.Option(defaults.PRECISION, "--precision", "-p", help="Compute precision: fp16, bf16, fp8, int8, int4, fp4, ..."),
    weight_precision: Optional[str] = typer.Option(None, "--weight-precision", help="Weight storage format (default: --precision); also the block-scaled nvfp4 and mxfp4."),
    kv_precision: Optional[str] = typer.Option(None, "--kv-precision", help="KV-cache storage format (default: --precision)."),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", "-s", min=1, help=f"Prompt tokens per sequence (default {defaults.PROMPT_TOKENS} for LLMs)."),
    output_tokens: Optional[int] = typer.Option(None, "--output-tokens", min=1, help=f"Generated tokens per sequence (default {defaults.OUTPUT_TOKENS})."),
    tensor_parallel: int = typer.Option(1, "--tp", min=1, help="Tensor-parallel GPUs (needs an interconnect; a node name as HARDWARE uses the node's)."),
    concurrent: Optional[int] = typer.Option(None, "--concurrent", min=1, help="Continuous batching with this many requests in flight."),
    efficiency: Optional[float] = typer.Option(None, "--efficiency", help="Achieved fraction of peak compute (default: the cited assumption)."),
    host_dispatch: Optional[str] = typer.Option(None, "--host-dispatch", help="Host time per operator of an eager front end: a cited assumption (e.g. host_dispatch_pytorch_eager_cnn) or a time such as '50 us' (single-pass models; default: the host keeps ahead of the GPU)."),
    cached_tokens: int = typer.Option(0, "--cached-tokens", min=0, help="Prompt tokens already in the prefix cache (a shared system prompt, an earlier turn): prefill computes only the rest (LLMs, static batch)."),
    chunk_tokens: Optional[int] = typer.Option(None, "--chunk-tokens", min=1, help="Chunked prefill: at most this many prompt tokens per pass (LLMs; with --concurrent, a chunk rides each iteration beside the decodes)."),
    draft: Optional[str] = typer.Option(None, "--draft", help="Speculative decoding with this draft model on the same GPU (needs --draft-tokens and --acceptance-rate)."),
    draft_tokens: Optional[int] = typer.Option(None, "--draft-tokens", min=1, help="Tokens the draft model proposes per iteration."),
    acceptance_rate: Optional[float] = typer.Option(None, "--acceptance-rate", help="Probability the served model keeps a draft token, in (0, 1] (measured for the model pair and task)."),
    iteration_overhead: Optional[str] = typer.Option(None, "--iteration-overhead", help="LLMs: the serving engine's host time per iteration it does not overlap with the GPU: a cited assumption (e.g. serving_iteration_overhead_vllm) or a time such as '4 ms' (default: none, the engine hides it)."),
    request_overhead: Optional[str] = typer.Option(None, "--request-overhead", help="LLMs: the engine's host time per running request per iteration: a cited assumption (e.g. serving_request_overhead_vllm) or a time such as '80 us' (default: none)."),
    fusion: Optional[str] = typer.Option(None, "--fusion", help="CNNs with described layers (ResNets): 'tensorrt' prices TensorRT's fused graph (batch norm, ReLU and residual add inside the convolutions); default 'none', one kernel per operator."),
    dla: bool = typer.Option(False, "--dla", help="CNNs on a module with deep-learning accelerators beside its GPU (Jetson Orin's DLAs): spread the work over both, their peaks pooled; default the GPU alone."),
    cuda_graph: bool = typer.Option(False, "--cuda-graph", help="Each pass replayed as a captured CUDA graph: every kernel at the cited time per kernel of a graph replay on this accelerator, no launch from the host; default a launch per kernel."),
    layout: Optional[str] = typer.Option(None, "--layout", help="CNNs: tensor layout of the convolutions, 'nchw' (PyTorch's default) or 'channels_last', at the convolution efficiency cited for it; default the default convolution figure."),
    max_latency_ms: Optional[float] = typer.Option(None, "--max-latency-ms", help="SLA on the request latency (LLMs: TTFT + decode); exit 3 if missed."),
    max_ttft_ms: Optional[float] = typer.Option(None, "--max-ttft-ms", help="SLA on the time to first token; exit 3 if missed."),
    output: Output = typer.Option(Output.text, "-o", "--output", help="text or json."),
    explain: bool = typer.Option(False, "--explain", help="List every cited value the result used, with its source."),
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """Roofline and serving estimate of MODEL on HARDWARE (several HARDWARE: side by side,
    `-o json` a list). Exit 2 if it (any of them) does not fit in memory, 3 if a
    --max-*-ms target is missed. Defaults are those of plans and scenarios."""
    if efficiency is not None and not 0 < efficiency <= 1:
        raise MlsysimError(f"--efficiency must be a fraction in (0, 1] of peak compute, got {efficiency:g}; write e.g. 0.45 for 45%")
    for flag, text in (("--precision", precision), ("--weight-precision", weight_precision), ("--kv-precision", kv_precision)):
        if text is not None and not text.strip():
            raise MlsysimError(f"{flag} is empty; give a format such as fp16, bf16, fp8, int8 or int4, or leave {flag} out")
    for flag, limit in (("--max-latency-ms", max_latency_ms), ("--max-ttft-ms", max_ttft_ms)):
        if limit is not None and not (math.isfinite(limit) and limit > 0):
            raise MlsysimError(f"{flag} must be a positive finite number of milliseconds, got {limit:g}")
    if draft is not None and (draft_tokens is None or acceptance_rate is None):
        raise MlsysimError("--draft needs --draft-tokens (tokens proposed per iteration) and --acceptance-rate "
                           "(the fraction the served model keeps, measured for the model pair), e.g. "
                           "--draft Llama3_8B --draft-tokens 4 --acceptance-rate 0.8")
    if draft is None and (draft_tokens is not None or acceptance_rate is not None):
        raise MlsysimError("--draft-tokens and --acceptance-rate apply to speculative decoding; name the draft model with --draft")
    request = EvalRequest(target, list(rest or []), batch, precision, weight_precision, kv_precision, seq_len,
                          output_tokens, tensor_parallel, concurrent, efficiency, host_dispatch, max_latency_ms, max_ttft_ms,
                          output, explain, catalog, cached_tokens, chunk_tokens, draft, draft_tokens, acceptance_rate,
                          fusion, iteration_overhead, request_overhead, dla, cuda_graph, layout)
    _handler(target_kind(target))(request)


def eval_model(req: EvalRequest) -> None:
    """`mlsysim eval MODEL HW [HW2 ...]`: one hardware in full, several side by side."""
    if not req.args:
        raise MlsysimError("usage: mlsysim eval MODEL HARDWARE [HARDWARE ...] (then options); "
                           "give the hardware, e.g. `mlsysim eval Llama3_8B H100`")
    cat = open_catalog(req.catalog)
    model = cat.get("models", req.target)
    hardware = [_hardware(cat, name) for name in req.args]
    outcomes = [_evaluate(req, model, hw) for hw in hardware]
    if len(outcomes) == 1:
        _report_one(req, outcomes[0])
    else:
        _report_many(req, outcomes)


def _hardware(cat: Any, name: str) -> Any:
    """An accelerator, else a node, by name (the accelerator's not-found error if neither)."""
    from mlsysim.errors import NotFoundError

    try:
        return cat.get("hardware", name)
    except NotFoundError as missing:
        try:
            return cat.get("nodes", name)
        except NotFoundError:
            raise missing from None


@dataclass
class _Outcome:
    """One model on one hardware, ready to print alone or as a column of a comparison."""

    model: str                          # the model's display name
    hardware: str                       # the hardware's display name
    setup: str                          # precision, batch, ...: the header's parenthesis
    rows: list[tuple[str, str]]         # the single eval's rows
    cells: dict[str, str]               # the comparison's cells, by row name
    data: dict[str, Any]                # the single eval's JSON
    efficiencies: tuple[float, ...]     # compute, memory, compute given by the user (, routed experts' compute)
    warnings: Any
    lineage: Any
    problem: Optional[MlsysimError]     # does not fit: what and by how much
    checks: list[tuple[str, float, Optional[float]]]  # (what, seconds, limit in ms)
    unpriced: tuple[str, ...] = ()      # fixed costs no cited figure prices here, each with why

    @property
    def fits(self) -> bool:
        return self.problem is None

    @property
    def title(self) -> str:
        """The single eval's header line (rich markup)."""
        return f"[bold]{escape(self.model)}[/] on [bold]{escape(self.hardware)}[/] ({escape(self.setup)})"


def _evaluate(req: EvalRequest, model: Any, hardware: Any) -> _Outcome:
    if model.has("transformer") and model.get("transformer.encoder_decoder", "decoder") != "encoder":
        if req.fusion is not None:
            raise MlsysimError(f"--fusion applies to CNNs whose layers the catalog describes; {model.label} is evaluated "
                               "as LLM serving")
        if req.dla:
            raise MlsysimError(f"--dla applies to CNNs (a DLA runs convolution, pooling and fully connected layers); "
                               f"{model.label} is evaluated as LLM serving, on the GPU alone")
        if req.layout is not None:
            raise MlsysimError(f"--layout applies to a CNN's convolutions; {model.label} is evaluated as LLM serving")
        if req.host_dispatch is not None:
            raise MlsysimError(f"--host-dispatch applies to models evaluated as one forward pass (CNNs, encoders); "
                               f"{model.label} is evaluated as LLM serving, whose engine overhead is ServingModel's "
                               "iteration_overhead")
        return _eval_serving(req, model, hardware)
    for flag, given in (("--iteration-overhead", req.iteration_overhead), ("--request-overhead", req.request_overhead)):
        if given is not None:
            raise MlsysimError(f"{flag} applies to LLM serving (an engine's iterations); {model.label} is evaluated as one "
                               "forward pass, whose host time is --host-dispatch")
    return _eval_engine(req, model, hardware)


def _report_one(req: EvalRequest, o: _Outcome) -> None:
    if req.output is Output.json:
        _echo_json(o.data)
    elif o.fits:  # an infeasible result says what does not fit (below), never a latency
        console.print(o.title, soft_wrap=True)
        _print_rows(o.rows, *o.efficiencies)
        _print_unpriced(o.unpriced)
        _print_warnings(o.warnings)
        if req.explain:
            _print_lineage(o.lineage)
    if o.problem is not None:
        raise o.problem
    for what, seconds, limit in o.checks:
        _check_sla(what, seconds, limit)


def _report_many(req: EvalRequest, outcomes: list[_Outcome]) -> None:
    """Side by side, one column per hardware: the single eval's numbers. Exit 2 if any
    does not fit (naming each), else 3 if any misses a --max-*-ms target, else 0."""
    if req.output is Output.json:
        echo(json.dumps([o.data for o in outcomes], indent=2))
    else:
        from rich.table import Table

        first = outcomes[0]
        console.print(f"[bold]{escape(first.model)}[/] on " + ", ".join(f"[bold]{escape(o.hardware)}[/]" for o in outcomes)
                      + f" ({escape(first.setup)})", soft_wrap=True)
        table = Table(title_justify="left")
        table.add_column("", overflow="fold")
        for o in outcomes:
            o.cells["efficiency (compute / memory)"] = f"{o.efficiencies[0]:.0%} / {o.efficiencies[1]:.0%}"
        names = [name for name in first.cells]
        for o in outcomes:
            widest = max(len(o.cells.get(name, "")) for name in names if name != "fits")
            table.add_column(escape(o.hardware), overflow="fold", min_width=max(widest, len(o.hardware)))
        for name in names:
            table.add_row(escape(name), *(escape(o.cells.get(name, "")) for o in outcomes))
        console.print(table)
        for o in outcomes:
            for text in o.unpriced:
                console.print(f"  Not priced ({escape(o.hardware)}): {escape(text)}", soft_wrap=True)
            for text in o.warnings:
                console.print(f"[yellow]Warning ({escape(o.hardware)}):[/] {escape(text)}", soft_wrap=True)
        source = "compute given, memory bandwidth cited" if first.efficiencies[2] else "cited"
        console.print(f"  (efficiencies {source}; --explain lists the sources)", soft_wrap=True, markup=False)
        if req.explain:
            for o in outcomes:
                console.print(f"\n[bold]{escape(o.hardware)}[/]", end="")
                _print_lineage(o.lineage)
    misfits = [o for o in outcomes if not o.fits]
    if misfits:
        raise OOMError("; ".join(str(o.problem) for o in misfits))
    for o in outcomes:
        for what, seconds, limit in o.checks:
            _check_sla(f"{o.hardware}: {what}", seconds, limit)


def _eval_engine(req: EvalRequest, model: Any, hardware: Any) -> _Outcome:
    from mlsysim.catalog.inputs import quantity_or_name
    from mlsysim.solvers.engine import host_dispatch_overhead, roofline_terms, solve_terms

    if hardware.kind == "nodes":
        hardware = hardware.accelerator
    for flag, value in (("--tp", req.tensor_parallel > 1), ("--concurrent", req.concurrent), ("--output-tokens", req.output_tokens),
                        ("--weight-precision", req.weight_precision), ("--kv-precision", req.kv_precision), ("--max-ttft-ms", req.max_ttft_ms)):
        if value:
            raise MlsysimError(f"{flag} applies to transformer serving; {model.label} is a {model.architecture} model")
    # An encoder is one forward pass over its whole input (default: as serving's prompt).
    encoder = model.has("transformer")
    seq_len = (req.seq_len or min(defaults.PROMPT_TOKENS, int(model.transformer.context_length.si))) if encoder else req.seq_len
    # Engine.solve's roofline; a device that states no memory bandwidth (a microcontroller
    # running from on-chip memory) has no memory roofline, as in plans and scenarios.
    terms = roofline_terms(model, hardware, req.precision, req.efficiency, require_memory=False, fusion=req.fusion,
                           dla=req.dla, cuda_graph=req.cuda_graph, layout=req.layout)
    host = None if req.host_dispatch is None else host_dispatch_overhead(terms.model, terms.hardware,
                                                                           quantity_or_name(req.host_dispatch, "time", "--host-dispatch"))
    p = solve_terms(terms, req.batch, seq_len, host)
    si = p.si
    has_bandwidth = p._terms.hardware.has_bandwidth
    steps = terms.model.steps
    if model.has("ssm"):
        unit = "tokens/s (one decode step of each sequence; recurrent state, no KV cache)"
    elif steps != 1:
        unit = f"images/s ({steps:g} denoising steps, one denoiser pass each; text encoders and decoder not included)"
    elif encoder:
        unit = f"sequences/s (one forward pass of {p.seq_len} tokens; an encoder has no decode and no KV cache)"
    else:
        unit = "samples/s"
    what = f", {p.seq_len} tokens" if encoder else ""
    memory_part = (f", memory {_ms(si['latency_memory'])}{_elementwise(si['latency_elementwise'])}" if has_bandwidth
                   else ", no memory roofline (no bandwidth in the catalog)")
    if p.cache_resident_kernels is not None:
        memory_part += (f" with {p.cache_resident_kernels} of {terms.layers.graph.kernels} kernels' activations held in the "
                        f"{_gb(terms.layers.cache)} L2")
    capacity = si["memory_capacity"]
    memory = f"{_gb(si['memory_usage'])} of {_gb(capacity)}" if capacity else f"{_gb(si['memory_usage'])} (no capacity in the catalog)"
    rows = [
        ("latency", f"{_ms(si['latency'])}  ({p.bottleneck.lower()}-bound: compute {_ms(si['latency_compute'])}"
                    f"{_waves(si['gemm_utilization'])}{memory_part}"
                    + (f"; + {_launch_label(terms.cuda_graph, terms.model.kind == 'transformer')} {_ms(si['latency_overhead'])}" if si["latency_overhead"] else "")
                    + (f"; host dispatch {_ms(si['latency_host'])}" if si["latency_host"] else "") + ")"),
        ("throughput", f"{format_number(si['throughput'])} {unit}"),
        *([("per denoising step", _ms(si["latency"] / steps))] if steps != 1 else []),
        ("arithmetic intensity", f"{format_number(si['arithmetic_intensity'])} FLOP/B"),
        ("MFU / MBU", f"{p.mfu:.1%} / {p.mbu:.1%}" if has_bandwidth else f"{p.mfu:.1%} / -"),
        ("memory", memory),
    ]
    problem = None
    if capacity and si["memory_usage"] > capacity:
        short = si["memory_usage"] - capacity
        problem = OOMError(f"{p.model} does not fit in {p.hardware}'s memory: needs {_gb(si['memory_usage'])}, has "
                           f"{_gb(capacity)} ({_gb(short)} short); try a lower --precision or a smaller --batch")
    cells = {
        "latency": _ms(si["latency"]),
        "bound by": p.bottleneck.lower(),
        "throughput": f"{format_number(si['throughput'])} {unit.split(' (')[0]}",
        "memory": memory,
        "fits": "yes" if problem is None else f"no: {_gb(si['memory_usage'] - capacity)} short",
    }
    layers = terms.layers
    graph = f", {layers.fusion} graph of {layers.graph.kernels} kernels" if layers is not None and layers.fusion != "none" else ""
    graph += ", GPU + DLAs" if req.dla else ""
    graph += f", {req.layout.replace('_', '-')}" if req.layout else ""
    graph += ", replayed as a CUDA graph" if req.cuda_graph else ""
    return _Outcome(p.model, p.hardware, f"{p.precision}, batch {p.batch_size}{what}{graph}", rows, cells, p.to_dict(), (p.compute_efficiency, p.memory_efficiency, p.efficiency_from_user),
                    p.warnings, p.lineage, problem, [("latency", si["latency"], req.max_latency_ms)], p.unpriced)


def _eval_serving(req: EvalRequest, model: Any, hardware: Any) -> _Outcome:
    from mlsysim.catalog.inputs import quantity_or_name
    from mlsysim.solvers.serving import ServingModel

    runtime = {name: quantity_or_name(text, "time", flag) for name, flag, text in
               (("iteration_overhead", "--iteration-overhead", req.iteration_overhead),
                ("request_overhead", "--request-overhead", req.request_overhead)) if text is not None}
    serving = ServingModel(model, hardware, precision=req.precision, weight_precision=req.weight_precision,
                           kv_precision=req.kv_precision, tp=req.tensor_parallel, efficiency=req.efficiency,
                           cuda_graph=req.cuda_graph, **runtime)
    prompt = req.seq_len or defaults.PROMPT_TOKENS
    out = req.output_tokens or defaults.OUTPUT_TOKENS
    kv_per_sequence = _gb(serving.kv_cache_bytes(prompt + out))
    if req.concurrent and req.batch != 1:
        raise MlsysimError("--batch and --concurrent do not combine: --batch is a static batch, --concurrent the requests in flight under continuous batching")
    if req.concurrent and (req.cached_tokens or req.draft):
        raise MlsysimError("--cached-tokens and --draft apply to a static batch (--batch); "
                           "the continuous-batching model (--concurrent) does not include them")
    lineage = serving.lineage
    if req.concurrent:
        # --chunk-tokens under continuous batching: each iteration carries the decodes and a prefill chunk.
        budget = None if req.chunk_tokens is None else req.concurrent + req.chunk_tokens
        cb = serving.continuous_batching(req.concurrent, prompt, out, budget)
        memory, latency, ttft = cb.memory, cb.request_latency, cb.ttft
        result = serving.steady_state_dict(cb, prompt, out)
        warned = cb.warnings
        step_costs = _fixed_costs(serving.decode_step(prompt, req.concurrent), serving.tp, serving.cuda_graph)
        rows = [
            ("time to first token", f"{_ms(cb.ttft)}  " + ("(prefill of one request, no queueing)" if budget is None else
                                    f"({-(-prompt // req.chunk_tokens)} iterations carrying its {req.chunk_tokens}-token chunks, no queueing)")),
            ("iteration (ITL)", _ms(cb.iteration) + _joined("  (each decode step and prefill includes ", step_costs, ")")),
            ("request latency", _ms(cb.request_latency)),
            ("throughput", f"{format_number(cb.tokens_per_second)} tokens/s, {format_number(cb.requests_per_second)} requests/s"),
        ]
        header = f"{cb.concurrent_requests} concurrent requests, prompt {prompt}" \
            + (f" in chunks of {req.chunk_tokens}" if req.chunk_tokens else "") + f", output {out}"
        cells = {"time to first token": _ms(cb.ttft), "inter-token latency": _ms(cb.iteration),
                 "request latency": _ms(cb.request_latency),
                 "throughput": f"{format_number(cb.tokens_per_second)} tokens/s",
                 "KV cache per sequence": kv_per_sequence}
    else:
        r = serving.solve(prompt, out, req.batch, req.cached_tokens, req.chunk_tokens)
        memory, latency, ttft = r.memory, r.latency, r.ttft
        result = r.to_dict()
        warned = r.warnings
        rows = [
            ("time to first token", f"{_ms(r.ttft)}  ({r.prefill.bottleneck.lower()}-bound prefill: compute {_ms(r.prefill.compute)}"
                                    f"{_waves(r.prefill.gemm_utilization)}, "
                                    f"memory {_ms(r.prefill.memory)}{_elementwise(r.prefill.elementwise)}"
                                    + _joined("; + ", _fixed_costs(r.prefill, serving.tp, serving.cuda_graph)) + ")"),
            ("inter-token latency", f"{_ms(r.itl)}  (first {_ms(r.itl_first)}, last {_ms(r.itl_last)}"
                                    + _joined("; each step includes ", _fixed_costs(serving.decode_step(prompt, req.batch), serving.tp, serving.cuda_graph)) + ")"),
            ("request latency", _ms(r.latency)),
            ("throughput", f"{format_number(r.tokens_per_second)} output tokens/s ({format_number(r.decode_tokens_per_second)} while decoding)"),
            ("KV cache", f"{format_quantity(r.kv_cache_per_token, 'information')} per token per sequence"
                         + _window_note(serving)),
            ("largest batch that fits", str(r.max_batch_size)),
        ]
        header = f"batch {req.batch}, prompt {prompt}" + (f" ({req.cached_tokens} cached)" if req.cached_tokens else "") \
            + (f" in chunks of {req.chunk_tokens}" if req.chunk_tokens else "") + f", output {out}"
        cells = {"time to first token": _ms(r.ttft), "inter-token latency": _ms(r.itl), "request latency": _ms(r.latency),
                 "throughput": f"{format_number(r.tokens_per_second)} output tokens/s",
                 "KV cache per sequence": kv_per_sequence, "largest batch that fits": str(r.max_batch_size)}
        if req.draft:
            from mlsysim.solvers.speculative import SpeculativeDecoding

            spec = SpeculativeDecoding.beside(serving, req.draft, req.draft_tokens, req.acceptance_rate,
                                              req.efficiency).solve(prompt, out, req.batch)
            spec.add_to(result)
            lineage = spec.lineage
            warned = tuple(warned) + spec.warnings
            latency = spec.latency
            rows.insert(2, ("speculative decoding", f"{_ms(spec.itl)} per token, {format_number(spec.tokens_per_second)} output "
                            f"tokens/s ({spec.speedup:.3g}x plain decoding's {_ms(spec.plain_itl)}): {req.draft} drafts "
                            f"{req.draft_tokens} tokens ({_ms(spec.draft_time)}), one verification pass ({_ms(spec.verify_time)}) "
                            f"keeps {spec.tokens_per_iteration:.3g} in expectation at acceptance rate {spec.acceptance_rate:g}"))
            cells["speculative ITL"] = _ms(spec.itl)
    precisions = serving.precision if serving.weight_precision == serving.kv_precision == serving.precision else \
        f"compute {serving.precision}, weights {serving.weight_precision}, KV {serving.kv_precision}"
    tp = f", TP {serving.tp}" if serving.tp > 1 else ""
    usable = " usable" if memory.capacity_basis == "usable" else ""  # the capacity the device reports, not the marketed one
    rows.append(("memory per GPU", f"{_gb(memory.weights)} weights + {_gb(memory.kv_cache)} KV cache = {_gb(memory.total)} of {_gb(memory.capacity)}{usable}"))
    cells["memory per GPU"] = f"{_gb(memory.total)} of {_gb(memory.capacity)}{usable}"
    problem = None
    if not memory.fits:
        short = memory.total - memory.capacity
        hint = "a narrower --weight-precision (e.g. int4) or --kv-precision (e.g. fp8)"
        more = "more devices"
        if hardware.kind == "hardware" or serving.tp == 1:
            from mlsysim.solvers.serving import node_hint

            more += f" ({node_hint(hardware if hardware.kind == 'hardware' else hardware.accelerator)})"
        problem = OOMError(f"{serving.m.name} does not fit on {serving.hardware_name}: needs {_gb(memory.total)} per GPU, has "
                           f"{_gb(memory.capacity)}{usable} ({_gb(short)} short); try {hint}, a smaller --batch, or {more}")
    cells["fits"] = "yes" if problem is None else f"no: {_gb(memory.total - memory.capacity)} short"
    graphed = ", replayed as a CUDA graph" if req.cuda_graph else ""
    return _Outcome(serving.m.name, serving.hardware_name, f"{precisions}{tp}; {header}{graphed}", rows, cells, result,
                    (serving.eff.compute, serving.eff.memory, serving.eff.compute_from_user, serving.eff.expert), warned, lineage,
                    problem, [("time to first token", ttft, req.max_ttft_ms), ("request latency", latency, req.max_latency_ms)],
                    serving.unpriced)


def _waves(utilization: float) -> str:
    """How full the weight GEMMs' waves of tiles are, when the tile/wave term applied."""
    return f" with GEMM tile waves {utilization:.0%} full" if utilization < 1.0 else ""


def _elementwise(seconds: float) -> str:
    """The element-wise kernels' share of a transformer pass's memory time, when they move any
    activations in device memory (pass_overheads.activation_traffic)."""
    return f" ({_ms(seconds)} of it element-wise kernels)" if seconds else ""


def _launch_label(cuda_graph: bool, transformer: bool = True) -> str:
    """What a pass's per-kernel fixed time is: launches from the host, or, replayed as a CUDA
    graph, the gaps between kernels and (a transformer's) small operators' fixed run times
    (a CNN's element-wise operators are priced in its roofline, kernel by kernel)."""
    if not cuda_graph:
        return "kernel launches"
    return "kernel gaps and small operators in the graph" if transformer else "kernel gaps in the graph"


def _fixed_costs(p: Any, tp: int, cuda_graph: bool = False) -> list[str]:
    """What a serving pass adds to its roofline: kernel launches (or, in a CUDA graph, gaps and
    small operators), the cast of its 16-bit GEMM inputs below 16 bits, all-reduces and the
    engine's host time."""
    parts = [f"{_launch_label(cuda_graph)} {_ms(p.launch)}"] if p.launch else []
    if p.quantization:
        parts.append(f"casts of GEMM inputs {_ms(p.quantization)}")
    if tp > 1:
        parts.append(f"all-reduce {_ms(p.communication)}" + (f", {_ms(p.communication_latency)} of it fixed latency" if p.communication_latency else ""))
    if p.runtime:
        parts.append(f"engine host time {_ms(p.runtime)}")
    return parts


def _joined(lead: str, parts: list[str], end: str = "") -> str:
    return lead + ", ".join(parts) + end if parts else ""


def _check_sla(what: str, seconds: float, limit_ms: Optional[float]) -> None:
    if limit_ms is not None and seconds * 1e3 > limit_ms:
        raise SLAViolation(f"{what} {_ms(seconds)} exceeds the target of {limit_ms:g} ms (by {_ms(seconds - limit_ms / 1e3)})")


def _window_note(serving: Any) -> str:
    """How sliding-window layers cap a model's KV cache, in words ("" without them)."""
    m = serving.m
    if not m.windowed_share:
        return ""
    after = serving.kv_cache_bytes_per_token() * (1.0 - m.windowed_share)
    return (f" up to {m.window:,.0f} tokens, then {format_quantity(after, 'information')} per token "
            f"({m.windowed_share:.0%} of the layers keep only the last {m.window:,.0f})")


def _ms(seconds: float) -> str:
    return format_duration(seconds)


def _gb(nbytes: float) -> str:
    return format_quantity(nbytes, "information")


def _print_rows(rows: list[tuple[str, str]], compute_eff: float, memory_eff: float, user: bool,
                expert_eff: float = 0.0) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        console.print(f"  {key:<{width}}  {value}", soft_wrap=True, markup=False)
    source = "given" if user else "cited"
    experts = f" (routed experts {expert_eff:.0%} cited)" if expert_eff else ""
    console.print(f"  (efficiencies: compute {compute_eff:.0%} {source}{experts}, memory bandwidth {memory_eff:.0%} cited; "
                  "--explain lists the sources)", soft_wrap=True, markup=False)


def _print_unpriced(unpriced: Any) -> None:
    """Each fixed cost the result leaves out for want of a cited figure, and why."""
    for text in unpriced:
        console.print(f"  Not priced: {text}", soft_wrap=True, markup=False)


def _print_warnings(warnings: Any) -> None:
    """Each violated physical bound of a result, in yellow: never silence."""
    for text in warnings:
        console.print(f"[yellow]Warning:[/] {text}", soft_wrap=True)


def _print_lineage(lineage: Any) -> None:
    console.print("\n[bold]Cited values used[/]")
    for entry in lineage.entries():
        console.print(f"  {entry}  ({entry.source_id})", soft_wrap=True, markup=False)


def _echo_json(data: dict[str, Any]) -> None:
    echo(json.dumps(data, indent=2, sort_keys=False))


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)

