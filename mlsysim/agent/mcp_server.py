"""`mlsysim mcp`: the tools of mlsysim.agent.tools over the Model Context Protocol (stdio).

Built on the official `mcp` SDK (MCPServer). One catalog is loaded when the server starts
and every tool answers from it, stating its fingerprint. A tool's bad input comes back as
an MCP tool error (`is_error`) whose text gives the place, the problem and the fix, never a
traceback; an infeasible system or a missed target is a result with a `status`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import Field

from mlsysim import __version__
from mlsysim.agent import tools
from mlsysim.catalog import Catalog
from mlsysim.errors import InfeasibleError, MlsysimError, SLAViolation
from provenance.problems import ProvenanceError

INSTRUCTIONS = (
    "mlsysim: analytical ML-systems estimates over a cited catalog. Every number a tool returns rests on "
    "catalog values listed in `citations` (source id, title, url, locator), and `catalog` names the catalog's "
    "fingerprint. Start with lookup (a record), solve (a model on an accelerator), evaluate_cluster_yaml "
    "(a plan: get_schemas type=plan gives its format) and explain (the lineage of a result)."
)

Answer = dict[str, Any]
# Bounds stated in the input schemas for clients, and checked by the tools themselves, so a
# value out of range comes back as place, problem and fix rather than a validation dump.
AT_LEAST_ONE: dict[str, Any] = {"minimum": 1}
POSITIVE: dict[str, Any] = {"exclusiveMinimum": 0}
NOT_NEGATIVE: dict[str, Any] = {"minimum": 0}
FRACTION: dict[str, Any] = {"exclusiveMinimum": 0, "maximum": 1}


def build_server(catalog: Catalog) -> Any:
    """An MCPServer serving the mlsysim tools over `catalog`."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("mlsysim", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    def answer(fn: Callable[..., Answer], **kwargs: Any) -> Answer:
        try:
            return fn(catalog, **kwargs)
        except InfeasibleError as exc:
            raise ToolError(f"infeasible: {exc}") from None
        except SLAViolation as exc:
            raise ToolError(f"SLA violated: {exc}") from None
        except (MlsysimError, ProvenanceError) as exc:
            raise ToolError(str(exc)) from None
        except Exception as exc:  # a bug, not bad input: still a clear message, no traceback
            raise ToolError(f"internal error: {type(exc).__name__}: {exc}; this is a bug in mlsysim, please report it "
                            "with the arguments that caused it") from None

    @server.tool()
    def get_schemas(
        type: Annotated[str | None, Field(description="One schema: plan, reference_plan, hardware, models, grids, nodes, "
                                          "clusters, ... (default: all of them).")] = None,
    ) -> Answer:
        """JSON Schemas of mlsysim's plan format (and the reference simulator's, which it also reads) and of each catalog record kind."""
        return answer(tools.get_schemas, type=type)

    @server.tool()
    def evaluate_cluster_yaml(
        yaml: Annotated[str, Field(description="The plan file's YAML text: mlsysim's format (model, cluster or hardware, "
                                   "devices, batch_size, ...) or the reference simulator's (version, workload, hardware, ops, constraints).")],
        name: Annotated[str, Field(description="A file name for the plan, used in error messages.")] = "plan.yaml",
    ) -> Answer:
        """The three-level scorecard of a plan: feasibility (does it fit), performance (is it fast enough), macro
        (energy, carbon, cost). status is ok, infeasible or sla_violated."""
        return answer(tools.evaluate_cluster_yaml, yaml=yaml, name=name)

    @server.tool()
    def solve(
        model: Annotated[str, Field(description="A catalog model, e.g. Llama3_8B, ResNet50.")],
        hardware: Annotated[str, Field(description="A catalog accelerator (e.g. H100) or node (e.g. DGX_H100).")],
        batch_size: Annotated[int, Field(json_schema_extra=AT_LEAST_ONE, description="Sequences (or samples) per batch.")] = 1,
        precision: Annotated[str, Field(description="Compute precision: fp16, bf16, fp8, int8, int4, fp4, ...")] = "fp16",
        seq_len: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="Prompt tokens per sequence (LLM default 512).")] = None,
        output_tokens: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="Generated tokens per sequence (LLM default 128).")] = None,
        tensor_parallel: Annotated[int, Field(json_schema_extra=AT_LEAST_ONE, description="Tensor-parallel GPUs (LLM serving).")] = 1,
        efficiency: Annotated[float | None, Field(json_schema_extra=FRACTION, description="Achieved fraction of peak compute (default: the cited assumption).")] = None,
        concurrent: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="LLM serving: requests in flight under continuous batching (instead of a static batch_size).")] = None,
        weight_precision: Annotated[str | None, Field(description="LLM serving: weight storage format (default: precision).")] = None,
        kv_precision: Annotated[str | None, Field(description="LLM serving: KV-cache storage format (default: precision).")] = None,
        host_dispatch: Annotated[str | None, Field(description="One-pass models (CNNs, encoders): host time per operator of an eager front end, a cited assumption's name (e.g. host_dispatch_pytorch_eager_cnn) or a time such as '50 us' (default: the host keeps ahead of the GPU).")] = None,
        cached_tokens: Annotated[int, Field(ge=0, description="LLM static batch: prompt tokens already in the prefix cache; prefill computes only the rest.")] = 0,
        chunk_tokens: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="LLM static batch: chunked prefill, at most this many prompt tokens per pass.")] = None,
        draft: Annotated[str | None, Field(description="LLM static batch: speculative decoding with this catalog model as the draft, on the same accelerator (needs draft_tokens and acceptance_rate).")] = None,
        draft_tokens: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="Speculative decoding: tokens the draft proposes per iteration.")] = None,
        acceptance_rate: Annotated[float | None, Field(json_schema_extra=FRACTION, description="Speculative decoding: probability the served model keeps a draft token (measured for the model pair).")] = None,
        fusion: Annotated[str | None, Field(description="CNNs with described layers (ResNets): 'tensorrt' prices TensorRT's fused graph (batch norm, ReLU and residual add inside the convolutions); default 'none', one kernel per operator.")] = None,
        iteration_overhead: Annotated[str | None, Field(description="LLM serving: the engine's host time per iteration it does not overlap with the GPU, a cited assumption's name (e.g. serving_iteration_overhead_vllm) or a time such as '4 ms' (default: none).")] = None,
        request_overhead: Annotated[str | None, Field(description="LLM serving: the engine's host time per running request per iteration, a cited assumption's name (e.g. serving_request_overhead_vllm) or a time such as '80 us' (default: none).")] = None,
        dla: Annotated[bool, Field(description="CNNs on a module with deep-learning accelerators beside its GPU (Jetson Orin's DLAs): spread the work over both, their peaks pooled (default false: the GPU alone).")] = False,
        cuda_graph: Annotated[bool, Field(description="Each pass replayed as a captured CUDA graph: every kernel at the cited time per kernel of a graph replay on this accelerator, no launch from the host (default false: a launch per kernel).")] = False,
        layout: Annotated[Literal["nchw", "channels_last"] | None, Field(description="CNNs: tensor layout of the convolutions, 'nchw' (PyTorch's default) or 'channels_last', at the convolution efficiency cited for it (default: the default convolution figure).")] = None,
    ) -> Answer:
        """A model on one accelerator or node, as `mlsysim eval MODEL HARDWARE`: LLM serving (TTFT, inter-token
        latency, throughput, memory) or one roofline forward pass for other models."""
        return answer(tools.solve, model=model, hardware=hardware, batch_size=batch_size, precision=precision,
                      seq_len=seq_len, output_tokens=output_tokens, tensor_parallel=tensor_parallel, efficiency=efficiency,
                      concurrent=concurrent, weight_precision=weight_precision, kv_precision=kv_precision,
                      host_dispatch=host_dispatch, cached_tokens=cached_tokens, chunk_tokens=chunk_tokens, draft=draft,
                      draft_tokens=draft_tokens, acceptance_rate=acceptance_rate, fusion=fusion,
                      iteration_overhead=iteration_overhead, request_overhead=request_overhead, dla=dla,
                      cuda_graph=cuda_graph, layout=layout)

    @server.tool()
    def optimize(
        kind: Annotated[Literal["parallelism", "batching", "placement"], Field(
            description="parallelism: the fastest (TP, PP, CP, microbatch, ZeRO, recompute) layout that fits; batching: the "
                        "largest batch meeting a P99 latency SLA at an arrival rate; placement: the grid and datacenter "
                        "minimising run cost plus a carbon price.")],
        plan: Annotated[str, Field(description="The plan's YAML text (as for evaluate_cluster_yaml).")],
        sla_ms: Annotated[float | None, Field(json_schema_extra=POSITIVE, description="batching: the P99 latency target [ms] (default: the plan's sla.latency).")] = None,
        qps: Annotated[float | None, Field(json_schema_extra=POSITIVE, description="batching: the Poisson arrival rate [requests/s] (required).")] = None,
        prompt_tokens: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="batching: prompt tokens per request (default: the plan's sequence_length, else 512).")] = None,
        output_tokens: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="batching: generated tokens per request (default 128).")] = None,
        replicas: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="batching: servers sharing the queue (default 1).")] = None,
        tensor_parallel: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="batching: tensor-parallel GPUs per replica (default 1).")] = None,
        max_batch: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="batching: the largest batch to try (default: what fits).")] = None,
        service_cv: Annotated[float | None, Field(json_schema_extra=NOT_NEGATIVE, description="batching: coefficient of variation of a batch's service time (0 deterministic, the default; 1 exponential).")] = None,
        carbon_tax: Annotated[float | None, Field(json_schema_extra=NOT_NEGATIVE, description="placement: the carbon price [USD per tonne CO2e] (required).")] = None,
        basis: Annotated[Literal["lifecycle", "direct"] | None, Field(description="placement: the grids' carbon basis (default lifecycle).")] = None,
        grids: Annotated[list[str] | None, Field(description="placement: candidate grids (default: every grid).")] = None,
        datacenters: Annotated[list[str] | None, Field(description="placement: candidate datacenters (default: every one).")] = None,
        duration_days: Annotated[float | None, Field(json_schema_extra=POSITIVE, description="placement: how long the job runs [days] (default: the plan's duration).")] = None,
        objective: Annotated[Literal["step_time", "mfu"] | None, Field(description="parallelism: rank by the fastest step (default) or the highest MFU.")] = None,
        top_k: Annotated[int | None, Field(json_schema_extra=AT_LEAST_ONE, description="parallelism: how many ranked layouts to return (default 5).")] = None,
    ) -> Answer:
        """Search a design space from a plan, as `mlsysim optimize parallelism|batching|placement PLAN.yaml`."""
        return answer(tools.optimize, kind=kind, plan=plan, sla_ms=sla_ms, qps=qps, prompt_tokens=prompt_tokens,
                      output_tokens=output_tokens, replicas=replicas, tensor_parallel=tensor_parallel, max_batch=max_batch,
                      service_cv=service_cv, carbon_tax=carbon_tax, basis=basis, grids=grids, datacenters=datacenters,
                      duration_days=duration_days, objective=objective, top_k=top_k)

    @server.tool()
    def lookup(
        name: Annotated[str, Field(description="A record's name, id or alias (H100, Llama3_8B, Quebec), or kind/id (hardware/h100_sxm).")],
        kind: Annotated[str | None, Field(description="The record kind, when a name is ambiguous: hardware, models, grids, ...")] = None,
    ) -> Answer:
        """A catalog record: its fields and every cited value with its citation (source, url, locator, as stated)."""
        return answer(tools.lookup, name=name, kind=kind)

    @server.tool()
    def explain(
        tool: Annotated[Literal["solve", "evaluate_cluster_yaml", "optimize"], Field(description="The tool whose result to explain.")],
        arguments: Annotated[dict[str, Any], Field(description="That tool's arguments, e.g. {\"model\": \"Llama3_8B\", \"hardware\": \"H100\"}.")],
    ) -> Answer:
        """The lineage of a result: every cited catalog value it rests on, one line each (as `mlsysim eval --explain`), with full citations."""
        return answer(tools.explain, tool=tool, arguments=arguments)

    return server


def serve(catalog: Catalog) -> None:
    """Serve the tools over stdio until the client closes the connection."""
    build_server(catalog).run("stdio")
