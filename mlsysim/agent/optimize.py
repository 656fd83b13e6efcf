"""The `optimize` tool's adapter onto the design-space optimizers.

`mlsysim.solvers.optimizers` (ParallelismOptimizer, BatchingOptimizer, PlacementOptimizer)
is imported when a search is asked for, so the server runs, and says clearly what is
missing, in a build without it. A plan is read as `mlsysim optimize parallelism|batching|placement
PLAN.yaml` reads it (mlsysim/cli/optimize_cmd.py), with the same defaults.
"""

from __future__ import annotations

import math
from importlib import import_module
from typing import Any

from mlsysim.errors import MlsysimError

KINDS = ("parallelism", "batching", "placement")
MODULE = "mlsysim.solvers.optimizers"
CLASSES = {"parallelism": "ParallelismOptimizer", "batching": "BatchingOptimizer", "placement": "PlacementOptimizer"}
# Usage defaults, as `mlsysim eval` and `mlsysim optimize batching` have them: a request's
# prompt and generated tokens, and the largest batch tried for a one-pass (non-LLM) model.
PROMPT_TOKENS = 512
OUTPUT_TOKENS = 128
ONE_PASS_MAX_BATCH = 256
SECONDS_PER_DAY = 86400.0


def optimizer(kind: str) -> Any:
    """The optimizer class for `kind`, or MlsysimError saying it is not in this build."""
    if kind not in KINDS:
        raise MlsysimError(f"kind: unknown {kind!r}; use one of {', '.join(KINDS)}")
    try:
        module = import_module(MODULE)
    except ImportError:
        module = None
    found = getattr(module, CLASSES[kind], None)
    if found is None:
        raise MlsysimError(f"kind: {kind}: the {CLASSES[kind]} is not part of this mlsysim build ({MODULE}); "
                           "evaluate a plan with evaluate_cluster_yaml instead, or update mlsysim")
    return found


def _positive(value: float | None, field: str, what: str) -> float | None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise MlsysimError(f"{field}: must be a positive {what}, got {value!r}")
    return value


def run(kind: str, args: dict[str, Any], *, sla_ms: float | None = None, qps: float | None = None,
        carbon_tax: float | None = None, objective: str = "step_time", top_k: int = 5,
        prompt_tokens: int | None = None, output_tokens: int | None = None, replicas: int = 1,
        tensor_parallel: int = 1, max_batch: int | None = None, service_cv: float = 0.0,
        basis: str = "lifecycle", grids: list[str] | None = None, datacenters: list[str] | None = None,
        duration_days: float | None = None) -> dict[str, Any]:
    """Run the `kind` search on a checked plan (`args`: SystemEvaluator.evaluate's keywords, as
    plans.load_plan gives them). Returns the optimizer result's dict, with its `lineage`."""
    cls = optimizer(kind)
    if kind == "parallelism":
        if args["fleet_obj"] is None:
            raise MlsysimError("plan: parallelism needs a training plan on a cluster (`cluster:` in an mlsysim plan, "
                               "or hardware.accelerators > 1 in the reference's); this plan names one device")
        result = cls().solve(args["model_obj"], args["fleet_obj"], args["batch_size"], args["precision"], args["efficiency"],
                             devices=args["nodes"], seq_len=args["seq_len"], objective=objective, top_k=top_k)
    elif kind == "batching":
        from mlsysim.solvers.terms import model_terms

        if qps is None:
            raise MlsysimError("qps: batching needs the arrival rate in requests per second, e.g. 100")
        _positive(qps, "qps", "arrival rate in requests per second")
        _positive(sla_ms, "sla_ms", "P99 latency target in milliseconds")
        sla = sla_ms / 1e3 if sla_ms is not None else args["latency_sla"]
        if sla is None:
            raise MlsysimError("sla_ms: batching needs the P99 latency target: sla_ms, or sla: {latency: '50 ms'} in the plan")
        hardware = args["hardware_obj"] if args["hardware_obj"] is not None else args["fleet_obj"].node
        terms = model_terms(args["model_obj"])
        one_pass = terms.kind != "transformer" or terms.encoder
        efficiency = args["efficiency"] if isinstance(args["efficiency"], float) else None
        result = cls().solve_serving(
            args["model_obj"], hardware, qps, sla, prompt_tokens=prompt_tokens or args["seq_len"] or PROMPT_TOKENS,
            output_tokens=output_tokens or OUTPUT_TOKENS, precision=args["precision"], tp=tensor_parallel, replicas=replicas,
            efficiency=efficiency, max_batch=max_batch if max_batch is not None or not one_pass else ONE_PASS_MAX_BATCH,
            service_cv=service_cv)
    else:
        if carbon_tax is None or not (math.isfinite(carbon_tax) and carbon_tax >= 0):
            raise MlsysimError(f"carbon_tax: placement needs a carbon price in USD per tonne CO2e (0 or more, e.g. 150), got {carbon_tax!r}")
        _positive(duration_days, "duration_days", "number of days")
        days = duration_days if duration_days is not None else args["duration_days"]
        if days is None:
            raise MlsysimError("duration_days: placement needs how long the job runs: duration_days, or duration: '30 days' "
                               "in the plan (ops.duration_days in the reference's)")
        fleet = args["fleet_obj"] if args["fleet_obj"] is not None else args["hardware_obj"]
        result = cls().solve(fleet, days * SECONDS_PER_DAY, carbon_price=carbon_tax, carbon_basis=basis, grids=grids,
                             datacenters=datacenters, devices=args["nodes"] if args["fleet_obj"] is not None else 1)
    data = result.to_dict()
    data["kind"] = kind
    return data
