"""The tools `mlsysim mcp` serves, as plain functions over one catalog.

Each returns a JSON-ready dict with the result, `citations` (one card per catalog value the
result used: path, value, unit, source id, title, url, locator, as stated) and `catalog`
(its fingerprint and date). Bad input raises MlsysimError with the place, the problem and
the fix; an infeasible or too-slow system is a result (`status`), not an error.
"""

from __future__ import annotations

from typing import Any

from mlsysim.agent import optimize as optimize_adapter
from mlsysim.agent.citations import catalog_identity, citation, citations_of, json_ready
from mlsysim.catalog import Catalog
from mlsysim.errors import MlsysimError, NotFoundError

STATUS = {0: "ok", 2: "infeasible", 3: "sla_violated"}
# `mlsysim eval`'s defaults for serving a language model: a request's prompt and generated tokens.
PROMPT_TOKENS = 512
OUTPUT_TOKENS = 128
MAX_PLAN_BYTES = 1024 * 1024


def _envelope(tool: str, result: dict[str, Any], catalog: Catalog, status: str = "ok") -> dict[str, Any]:
    """A tool's answer: its result without the raw lineage, the citations of that lineage, the catalog."""
    lineage = result.pop("lineage", [])
    result.pop("catalog", None)
    return json_ready({"tool": tool, "status": status, "result": result,
                       "citations": citations_of(lineage, catalog), "catalog": catalog_identity(catalog)})


def get_schemas(catalog: Catalog, type: str | None = None) -> dict[str, Any]:  # noqa: A002 - the reference's name
    """JSON Schemas: the plan format (ours and the reference's) and each catalog record kind."""
    from mlsysim.agent.schemas import all_schemas, schema

    schemas = all_schemas() if type is None else {type: schema(type)}
    return json_ready({"tool": "get_schemas", "status": "ok", "result": {"schemas": schemas, "names": list(all_schemas())},
                       "citations": [], "catalog": catalog_identity(catalog)})


def evaluate_cluster_yaml(catalog: Catalog, yaml: str, name: str = "plan.yaml") -> dict[str, Any]:
    """The three-level scorecard of a plan given as YAML text (mlsysim's format or the reference's)."""
    from mlsysim.evaluate.evaluator import SystemEvaluator

    args = _plan_args(catalog, yaml, name, notes := [])
    evaluation = SystemEvaluator.evaluate(**args, catalog=catalog)
    result = evaluation.to_dict()
    if notes:
        result["reference_plan_notes"] = notes
    result["scorecard"] = evaluation.scorecard()
    return _envelope("evaluate_cluster_yaml", result, catalog, STATUS.get(evaluation.exit_code, "failed"))


def _plan_args(catalog: Catalog, yaml: str, name: str, notes: list[str]) -> dict[str, Any]:
    """SystemEvaluator.evaluate's keywords from plan text; PlanError lists every problem."""
    from mlsysim.evaluate.plans import load_plan

    if not isinstance(yaml, str) or not yaml.strip():
        raise MlsysimError("yaml: empty; pass the plan file's text, e.g. 'model: Llama3_8B\\nhardware: H100\\n' "
                           "(get_schemas type=plan gives its JSON Schema)")
    data = yaml.encode("utf-8", "surrogatepass")
    if len(data) > MAX_PLAN_BYTES:
        raise MlsysimError(f"yaml: {len(data)} bytes; a plan is a few hundred bytes, at most {MAX_PLAN_BYTES}")
    display = (name or "plan.yaml").strip() or "plan.yaml"
    return load_plan(display, catalog, data=data, notes=notes)


def solve(catalog: Catalog, model: str, hardware: str, batch_size: int = 1, precision: str = "fp16",
          seq_len: int | None = None, output_tokens: int | None = None, tensor_parallel: int = 1,
          efficiency: float | None = None, concurrent: int | None = None, weight_precision: str | None = None,
          kv_precision: str | None = None, host_dispatch: str | None = None, cached_tokens: int = 0,
          chunk_tokens: int | None = None, draft: str | None = None, draft_tokens: int | None = None,
          acceptance_rate: float | None = None, fusion: str | None = None, iteration_overhead: str | None = None,
          request_overhead: str | None = None, dla: bool = False, cuda_graph: bool = False,
          layout: str | None = None) -> dict[str, Any]:
    """MODEL on HARDWARE (an accelerator or a node), as `mlsysim eval MODEL HARDWARE`: a
    decoder LLM is served (prefill then decode, `output_tokens` tokens; a static batch, or
    `concurrent` requests in flight under continuous batching), any other model is one
    roofline forward pass; `host_dispatch` (a cited assumption's name or a time such as '50 us')
    prices an eager front end's host time per operator for such a pass. A static batch takes
    a prefix-cache hit (`cached_tokens`), chunked prefill (`chunk_tokens`) and speculative
    decoding (`draft` model, `draft_tokens`, `acceptance_rate`; result key "speculative").
    `fusion` ("tensorrt") prices a CNN with described layers as TensorRT's fused graph.
    `iteration_overhead` and `request_overhead` (a cited assumption's name or a time) give a
    served LLM's engine host time per iteration and per running request per iteration. `dla`
    spreads a CNN over a module's deep-learning accelerators and its GPU (Jetson Orin).
    `cuda_graph` replays each pass as a captured CUDA graph (each kernel at the cited time per
    kernel of a graph replay, no launch from the host); `layout` ("nchw" or "channels_last")
    takes a CNN's convolution efficiency cited for that tensor layout."""
    from mlsysim.catalog.inputs import quantity_or_name
    from mlsysim.solvers.engine import Engine
    from mlsysim.solvers.serving import ServingModel

    if efficiency is not None and not 0 < efficiency <= 1:
        raise MlsysimError(f"efficiency: {efficiency:g} is not a fraction in (0, 1] of peak compute; write e.g. 0.45, or leave it out for the cited default")
    for field, number in (("batch_size", batch_size), ("tensor_parallel", tensor_parallel), ("seq_len", seq_len),
                          ("output_tokens", output_tokens), ("concurrent", concurrent)):
        if number is not None and number < 1:
            raise MlsysimError(f"{field}: must be a positive whole number, got {number}")
    model_rec = catalog.get("models", model)
    try:
        hw = catalog.get("hardware", hardware)
    except NotFoundError as missing:
        try:
            hw = catalog.get("nodes", hardware)
        except NotFoundError:
            raise missing from None
    serving = model_rec.has("transformer") and model_rec.get("transformer.encoder_decoder", "decoder") != "encoder"
    techniques = {"cached_tokens": cached_tokens, "chunk_tokens": chunk_tokens, "draft": draft,
                  "draft_tokens": draft_tokens, "acceptance_rate": acceptance_rate}
    used = [name for name, value in techniques.items() if value]
    static_only = [name for name in used if name != "chunk_tokens"]
    if used and not serving:
        raise MlsysimError(f"{', '.join(used)}: apply to a served LLM; {model_rec.label} is not served as an LLM; leave them out")
    if static_only and concurrent is not None:
        raise MlsysimError(f"{', '.join(static_only)}: apply to a static batch; leave out concurrent")
    if (draft is None) != (draft_tokens is None) or (draft is None) != (acceptance_rate is None):
        raise MlsysimError("draft, draft_tokens and acceptance_rate go together: the draft model, the tokens it proposes "
                           "per iteration and the fraction the served model keeps (measured for the model pair)")
    if serving and fusion is not None:
        raise MlsysimError(f"fusion: applies to CNNs whose layers the catalog describes; {model_rec.label} is served "
                           "as an LLM; leave it out")
    if serving and dla:
        raise MlsysimError(f"dla: applies to CNNs (a DLA runs convolution, pooling and fully connected layers); "
                           f"{model_rec.label} is served as an LLM, on the GPU alone; leave it out")
    if serving and layout is not None:
        raise MlsysimError(f"layout: applies to a CNN's convolutions; {model_rec.label} is served as an LLM; leave it out")
    if serving and host_dispatch is not None:
        raise MlsysimError(f"host_dispatch: applies to models solved as one forward pass (CNNs, encoders); "
                           f"{model_rec.label} is served as an LLM; leave it out")
    runtime = {name: quantity_or_name(text, "time", name) for name, text in
               (("iteration_overhead", iteration_overhead), ("request_overhead", request_overhead)) if text is not None}
    if runtime and not serving:
        raise MlsysimError(f"{', '.join(runtime)}: apply to a served LLM's engine iterations; {model_rec.label} is solved "
                           "as one forward pass, whose host time is host_dispatch; leave them out")
    if serving:
        server = ServingModel(model_rec, hw, precision=precision, weight_precision=weight_precision,
                              kv_precision=kv_precision, tp=tensor_parallel, efficiency=efficiency,
                              cuda_graph=cuda_graph, **runtime)
        prompt, out = seq_len or PROMPT_TOKENS, output_tokens or OUTPUT_TOKENS
        if concurrent is not None:
            if batch_size != 1:
                raise MlsysimError("batch_size and concurrent do not combine: batch_size is a static batch, concurrent "
                                   "the requests in flight under continuous batching; give one")
            budget = None if chunk_tokens is None else concurrent + chunk_tokens  # a chunk rides each iteration
            cb = server.continuous_batching(concurrent, prompt, out, budget)
            result = server.steady_state_dict(cb, prompt, out)
            feasible = cb.feasible
            result["solver"] = "ServingModel.continuous_batching (steady state)"
        else:
            profile = server.solve(prompt, out, batch_size, cached_tokens, chunk_tokens)
            result = profile.to_dict()
            feasible = profile.feasible
            result["solver"] = "ServingModel (prefill + decode)"
            if draft is not None:
                from mlsysim.solvers.speculative import SpeculativeDecoding

                SpeculativeDecoding.beside(server, catalog.get("models", draft), draft_tokens, acceptance_rate,
                                           efficiency).solve(prompt, out, batch_size).add_to(result)
    else:
        for field, value in (("tensor_parallel", tensor_parallel > 1), ("output_tokens", output_tokens), ("concurrent", concurrent),
                             ("weight_precision", weight_precision), ("kv_precision", kv_precision)):
            if value:
                raise MlsysimError(f"{field}: applies to transformer serving; {model_rec.label} is a {model_rec.architecture} model; leave it out")
        accelerator = hw.accelerator if hw.kind == "nodes" else hw
        encoder = model_rec.has("transformer")
        tokens = (seq_len or min(512, int(model_rec.transformer.context_length.si))) if encoder else seq_len
        dispatch = None if host_dispatch is None else quantity_or_name(host_dispatch, "time", "host_dispatch")
        profile = Engine.solve(model_rec, accelerator, batch_size=batch_size, precision=precision, efficiency=efficiency,
                               seq_len=tokens, host_dispatch=dispatch, fusion=fusion, dla=dla, cuda_graph=cuda_graph,
                               layout=layout)
        result = profile.to_dict()
        feasible = profile.feasible
        result["solver"] = "Engine (roofline of one forward pass)"
    return _envelope("solve", result, catalog, "ok" if feasible else "infeasible")


def optimize(catalog: Catalog, kind: str, plan: str, **options: Any) -> dict[str, Any]:
    """Search a design space from a plan: parallelism (the fastest layout), batching (the largest
    batch meeting a P99 SLA at an arrival rate) or placement (the site minimising cost plus a
    carbon price). `options`: those of optimize_adapter.run (sla_ms, qps, carbon_tax, ...)."""
    optimize_adapter.optimizer(kind)  # an unknown kind, or optimizers missing, before reading the plan
    args = _plan_args(catalog, plan, "plan.yaml", notes := [])
    result = optimize_adapter.run(kind, args, **{k: v for k, v in options.items() if v is not None})
    if notes:
        result["reference_plan_notes"] = notes
    return _envelope("optimize", result, catalog)


def lookup(catalog: Catalog, name: str, kind: str | None = None) -> dict[str, Any]:
    """A catalog record by name (any kind, or `kind/name`, or with `kind`): its fields and every cited value with its citation."""
    if not isinstance(name, str) or not name.strip():
        raise MlsysimError("name: empty; give a record name such as H100, Llama3_8B or Quebec (or kind/name, e.g. hardware/h100_sxm)")
    if kind is not None and kind not in catalog.kinds():
        raise MlsysimError(f"kind: unknown {kind!r}; use one of {', '.join(catalog.kinds())}, or leave it out")
    record = catalog.get(kind, name) if kind else catalog.find(name)
    values = record.values()
    result = {
        "ref": record.ref, "kind": record.kind, "id": record.id, "name": record.name, "label": record.label,
        "aliases": record.aliases, "file": record.file,
        "fields": dict(record.plain_fields),
        "references": {field: f"{k}/{i}" for field, (k, i) in record.references.items()},
        "values": {v.path.partition("#")[2]: {"value": v.value, "unit": v.unit, "source_id": v.source_id} for v in values},
    }
    return json_ready({"tool": "lookup", "status": "ok", "result": result,
                       "citations": [citation(v) for v in values], "catalog": catalog_identity(catalog)})


EXPLAINABLE = ("solve", "evaluate_cluster_yaml", "optimize")


def explain(catalog: Catalog, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The lineage of a result: run `tool` (solve, evaluate_cluster_yaml or optimize) with
    `arguments` and list every cited value it used, one line each (as `eval --explain`), with
    its full citation."""
    runners = {"solve": solve, "evaluate_cluster_yaml": evaluate_cluster_yaml, "optimize": optimize}
    if tool not in runners:
        raise MlsysimError(f"tool: {tool!r} has no lineage to explain; use one of {', '.join(EXPLAINABLE)}")
    if not isinstance(arguments, dict):
        raise MlsysimError("arguments: must be an object of the tool's arguments, e.g. {\"model\": \"Llama3_8B\", \"hardware\": \"H100\"}")
    try:
        answer = runners[tool](catalog, **arguments)
    except TypeError as exc:  # an argument the tool does not take, or one missing
        raise MlsysimError(f"arguments: {exc}; see the {tool} tool's input schema") from None
    cards = answer["citations"]
    lines = []
    for card in cards:
        unit = f" {card['unit']}" if card["unit"] else ""
        where = f", {card['locator']}" if card["locator"] else ""
        lines.append(f"{card['path']} = {card['value']:g}{unit}  [{card['method']}; {card['title']}{where}]")
    result = {"of": tool, "arguments": arguments, "status": answer["status"], "lineage": lines,
              "sources": sorted({c["source_id"] for c in cards})}
    return json_ready({"tool": "explain", "status": "ok", "result": result, "citations": cards, "catalog": answer["catalog"]})
