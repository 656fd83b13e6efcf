"""The `optimize` tool's adapter onto the design-space optimizers.

`mlsysim.solvers.optimizers` (ParallelismOptimizer, BatchingOptimizer, PlacementOptimizer)
is imported when a search is asked for, so the server runs, and says clearly what is
missing, in a build without it. The calls follow the reference simulator's documented
`optimize` commands (its `mlsysim optimize parallelism|batching|placement cluster.yaml`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from mlsysim.errors import MlsysimError

KINDS = ("parallelism", "batching", "placement")
MODULE = "mlsysim.solvers.optimizers"
CLASSES = {"parallelism": "ParallelismOptimizer", "batching": "BatchingOptimizer", "placement": "PlacementOptimizer"}


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


def run(kind: str, args: dict[str, Any], *, sla_ms: float | None = None, qps: float | None = None,
        carbon_tax: float | None = None) -> dict[str, Any]:
    """Run the `kind` search on a checked plan (`args`: SystemEvaluator.evaluate's keywords, as
    plans.load_plan gives them). Returns the optimizer result as a dict with its `lineage`."""
    cls = optimizer(kind)
    fleet, hardware = args.get("fleet_obj"), args.get("hardware_obj")
    if kind == "parallelism":
        if fleet is None:
            raise MlsysimError("plan: parallelism needs a cluster (`cluster:` in an mlsysim plan, or hardware.accelerators > 1 in the reference's)")
        result = cls().solve(model=args["model_obj"], fleet=fleet, batch_size=args["batch_size"], precision=args["precision"],
                             efficiency=args["efficiency"], devices=args.get("nodes"), seq_len=args.get("seq_len"))
    elif kind == "batching":
        for field, value in (("sla_ms", sla_ms), ("qps", qps)):
            if value is None or not value > 0:
                raise MlsysimError(f"{field}: batching needs a positive {'P99 latency target in milliseconds' if field == 'sla_ms' else 'arrival rate in queries per second'}")
        device = hardware if hardware is not None else fleet.node.accelerator
        replicas = args.get("nodes") or 1
        result = cls().solve(model=args["model_obj"], hardware=device, seq_len=args.get("seq_len"), sla_latency_ms=sla_ms,
                             arrival_rate_qps=qps, num_replicas=replicas, precision=args["precision"], efficiency=args["efficiency"])
    else:
        if fleet is None:
            raise MlsysimError("plan: placement needs a cluster (`cluster:` in an mlsysim plan, or hardware.accelerators > 1 in the reference's)")
        if carbon_tax is None or carbon_tax < 0:
            raise MlsysimError("carbon_tax: placement needs a carbon price in USD per tonne CO2e (0 or more), e.g. 150")
        if args.get("duration_days") is None:
            raise MlsysimError("plan: placement needs how long the job runs (`duration: 30 days`, or ops.duration_days in the reference's plan)")
        result = cls().solve(fleet=fleet, duration_days=args["duration_days"], carbon_tax_per_ton=carbon_tax, mfu=args["efficiency"])
    data = result.to_dict() if hasattr(result, "to_dict") else dict(vars(result))
    data.setdefault("kind", kind)
    return data
