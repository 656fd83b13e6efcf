"""`mlsysim optimize parallelism|batching|placement PLAN.yaml`: the optimizers on a plan.

The plan is ours (`mlsysim.evaluate.plans`: model, cluster or hardware, batch, precision,
grid, datacenter, duration, sla). Exit codes: 0 ok, 1 bad input, 2 physically infeasible
(nothing fits or keeps up), 3 SLA missed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

import typer

from mlsysim.cli.console import console, echo, escape
from mlsysim.cli.options import CatalogOption, Output, open_catalog
from mlsysim.errors import MlsysimError

app = typer.Typer(help="Search layouts, batch sizes and sites for a plan (exit 2 infeasible, 3 SLA missed).",
                  no_args_is_help=True)

PlanArgument = typer.Argument(..., help="A plan .yaml (see `mlsysim eval PLAN.yaml`).")
OutputOption = typer.Option(Output.text, "-o", "--output", help="text or json.")


def _load(plan: Path, catalog: Optional[Path]) -> dict[str, Any]:
    from mlsysim.evaluate.plans import load_plan

    return load_plan(plan, open_catalog(catalog))


def _json(data: dict[str, Any]) -> None:
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    echo(json.dumps(clean(data), default=str))


def _positive(value: Optional[float], flag: str) -> Optional[float]:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise MlsysimError(f"{flag} must be a positive finite number, got {value:g}")
    return value


def _ints(text: Optional[str], flag: str) -> Optional[list[int]]:
    """'1,2,4' -> [1, 2, 4]; a range 'A-B' gives every whole number from A to B."""
    if text is None:
        return None
    values: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        low, dash, high = part.partition("-")
        try:
            if dash:
                values.extend(range(int(low), int(high) + 1))
            else:
                values.append(int(part))
        except ValueError:
            raise MlsysimError(f"{flag}: {part!r} is not a whole number; write e.g. {flag} 1,2,4 or {flag} 1-16") from None
    if not values:
        raise MlsysimError(f"{flag}: no values; write e.g. {flag} 1,2,4")
    return values


@app.command("parallelism")
def parallelism(
    plan: Path = PlanArgument,
    objective: str = typer.Option("step_time", "--objective", help="step_time (fastest step) or mfu (highest MFU)."),
    top_k: int = typer.Option(5, "--top-k", min=1, help="How many ranked layouts to list."),
    tp: Optional[str] = typer.Option(None, "--tp", help="Tensor-parallel sizes to try, e.g. 1,2,4,8 (default: divisors of GPUs per node)."),
    pp: Optional[str] = typer.Option(None, "--pp", help="Pipeline sizes to try (default: divisors of the device count)."),
    cp: Optional[str] = typer.Option(None, "--cp", help="Context-parallel sizes to try (default: 1)."),
    zero: Optional[str] = typer.Option(None, "--zero", help="ZeRO stages to try (default: 0,1,2,3)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="Pipeline schedules to try: 1f1b,interleaved (default), zb-h1, zb-v."),
    output: Output = OutputOption,
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """The fastest parallel layout (TP, PP, CP, microbatch, schedule, ZeRO, recomputation)
    of the plan's training job on its cluster, the runners-up, and why the rest were rejected."""
    from mlsysim.solvers.optimizers import ParallelismOptimizer, ParallelismResult

    args = _load(plan, catalog)
    if args["fleet_obj"] is None:
        raise MlsysimError(f"{plan}: optimize parallelism needs a training plan with 'cluster:' (this plan names one device)")
    result = ParallelismOptimizer().solve(args["model_obj"], args["fleet_obj"], args["batch_size"], args["precision"],
                                          args["efficiency"], devices=args["nodes"], seq_len=args["seq_len"],
                                          attention_kernel=args["attention_kernel"], objective=objective, top_k=top_k,
                                          tp=_ints(tp, "--tp"), pp=_ints(pp, "--pp"), cp=_ints(cp, "--cp"),
                                          zero=_ints(zero, "--zero"),
                                          schedule=[x.strip() for x in schedule.split(",") if x.strip()] if schedule else None)
    if output == Output.json:
        _json(result.to_dict())
        return
    from rich.table import Table

    table = Table(title=f"Best layouts by {objective} ({result.feasible} of {result.evaluated} fit)")
    for col in ("#", "tp", "pp", "cp", "dp", "mb", "schedule", "zero", "recompute", "step time", "MFU", "GB/device"):
        table.add_column(col, justify="right" if col not in ("schedule", "recompute") else "left")
    for i, r in enumerate(result.top, 1):
        lay = ParallelismResult.layout_of(r)
        table.add_row(str(i), *(str(lay[k]) for k in ("tp", "pp", "cp", "dp", "microbatch", "schedule", "zero", "recompute")),
                      f"{r.step_time:.4g} s", f"{r.mfu:.1%}", f"{r.memory_total / 1e9:.1f}")
    console.print(table)
    if result.rejected:
        console.print("Rejected:", markup=False)
        for reason, count in sorted(result.rejected.items(), key=lambda kv: -kv[1]):
            example = result.examples[reason]["message"]
            console.print(f"  {count} layouts: {escape(example)}", highlight=False, soft_wrap=True)


@app.command("batching")
def batching(
    plan: Path = PlanArgument,
    sla_ms: Optional[float] = typer.Option(None, "--sla-ms", help="P99 latency target [ms] (default: the plan's sla.latency)."),
    qps: float = typer.Option(..., "--qps", help="Poisson arrival rate [requests/s]."),
    prompt_tokens: int = typer.Option(512, "--prompt-tokens", min=1, help="Prompt tokens per request (LLMs)."),
    output_tokens: int = typer.Option(128, "--output-tokens", min=1, help="Generated tokens per request (LLMs)."),
    replicas: int = typer.Option(1, "--replicas", min=1, help="Servers sharing the queue."),
    tp: int = typer.Option(1, "--tp", min=1, help="Tensor-parallel GPUs per replica (needs a node as hardware)."),
    max_batch: Optional[int] = typer.Option(None, "--max-batch", min=1, help="Largest batch to try (default: what fits; 256 for one-pass models)."),
    service_cv: float = typer.Option(0.0, "--service-cv", min=0.0, help="Coefficient of variation of a batch's service time (0: deterministic, 1: exponential)."),
    output: Output = OutputOption,
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """The largest batch whose P99 latency meets the SLA at --qps requests/s (exit 3 if none does)."""
    from mlsysim.solvers.optimizers import BatchingOptimizer
    from mlsysim.solvers.terms import model_terms

    _positive(sla_ms, "--sla-ms")
    _positive(qps, "--qps")
    args = _load(plan, catalog)
    if args["attention_kernel"] is not None:
        raise MlsysimError(f"{plan}: attention_kernel prices training; optimize batching serves the model at the "
                           "accelerator's default attention figure, so leave it out of a serving plan")
    sla = sla_ms / 1e3 if sla_ms is not None else args["latency_sla"]
    if sla is None:
        raise MlsysimError("give the P99 latency target: --sla-ms N, or sla: {latency: '50 ms'} in the plan")
    hardware = args["hardware_obj"]
    if hardware is None:
        hardware = args["fleet_obj"].node
    one_pass = model_terms(args["model_obj"]).kind != "transformer" or model_terms(args["model_obj"]).encoder
    result = BatchingOptimizer().solve_serving(
        args["model_obj"], hardware, qps, sla, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
        precision=args["precision"], tp=tp, replicas=replicas,
        efficiency=args["efficiency"] if isinstance(args["efficiency"], float) else None,
        max_batch=max_batch if max_batch is not None or not one_pass else 256, service_cv=service_cv)
    if output == Output.json:
        _json(result.to_dict())
        return
    best = result.best
    console.print(f"Largest batch meeting P99 <= {sla * 1e3:.4g} ms at {qps:g} requests/s: {result.batch}", markup=False)
    console.print(f"  P99 latency {best.p99_latency * 1e3:.4g} ms (batch formation {best.formation_p99 * 1e3:.4g} ms), "
                  f"service {best.service_time * 1e3:.4g} ms per batch, utilisation {best.utilization:.1%}, "
                  f"capacity {best.throughput:.4g} requests/s", markup=False, highlight=False)
    console.print(f"  batches tried: 1..{len(result.points)} of at most {result.max_batch}", markup=False)


@app.command("placement")
def placement(
    plan: Path = PlanArgument,
    carbon_tax: float = typer.Option(0.0, "--carbon-tax", "--carbon-price", help="Carbon price [USD per tonne CO2e]."),
    basis: str = typer.Option("lifecycle", "--basis", help="Carbon basis for every site: lifecycle or direct."),
    duration_days: Optional[float] = typer.Option(None, "--days", help="How long the job runs [days] (default: the plan's duration)."),
    grids: Optional[str] = typer.Option(None, "--grids", help="Comma-separated candidate grids (default: all)."),
    datacenters: Optional[str] = typer.Option(None, "--datacenters", help="Comma-separated candidate datacenters (default: all)."),
    top_k: int = typer.Option(10, "--top-k", min=1, help="How many ranked sites to list."),
    output: Output = OutputOption,
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """The grid and datacenter minimising run cost + carbon price x operational carbon."""
    from mlsysim.solvers.optimizers import PlacementOptimizer

    if not (math.isfinite(carbon_tax) and carbon_tax >= 0):
        raise MlsysimError(f"--carbon-tax must be a finite number >= 0 USD per tonne, got {carbon_tax:g}")
    _positive(duration_days, "--days")
    args = _load(plan, catalog)
    days = duration_days if duration_days is not None else args["duration_days"]
    if days is None:
        raise MlsysimError("give how long the job runs: --days N, or duration: '30 days' in the plan")
    fleet = args["fleet_obj"] if args["fleet_obj"] is not None else args["hardware_obj"]
    split = lambda text: [s.strip() for s in text.split(",") if s.strip()] if text else None  # noqa: E731
    result = PlacementOptimizer().solve(fleet, days * 86400, carbon_price=carbon_tax, carbon_basis=basis,
                                        grids=split(grids), datacenters=split(datacenters),
                                        devices=args["nodes"] if args["fleet_obj"] is not None else 1)
    if output == Output.json:
        _json(result.to_dict())
        return
    from rich.table import Table

    table = Table(title=f"Sites by cost + {carbon_tax:g} USD/t x carbon ({basis} basis), {days:g} days")
    for col in ("#", "grid", "datacenter", "region", "PUE", "run cost", "carbon (t)", "carbon cost", "total"):
        table.add_column(col, justify="left" if col in ("grid", "datacenter", "region") else "right")
    for i, o in enumerate(result.ranked[:top_k], 1):
        table.add_row(str(i), escape(o.grid), escape(o.datacenter), escape(o.region), f"{o.pue:.3g}",
                      f"${o.run_cost:,.0f}", f"{o.operational_carbon / 1e3:,.1f}", f"${o.carbon_cost:,.0f}", f"${o.total:,.0f}")
    console.print(table)
    if result.skipped:
        console.print(f"Not compared ({len(result.skipped)}):", markup=False)
        for site, why in result.skipped.items():
            console.print(f"  {escape(site)}: {escape(why)}", highlight=False, soft_wrap=True)


@app.command("roofline")
def roofline(
    model: str = typer.Argument(..., help="A model name (see `mlsysim zoo models`)."),
    hardware: str = typer.Option(..., "--hardware", help="Comma-separated accelerators, e.g. H100,A100."),
    precisions: str = typer.Option("fp16", "--precisions", help="Comma-separated precisions, e.g. fp16,fp8."),
    batch: str = typer.Option("1-256", "--batch", help="Batch sizes: a list and/or ranges, e.g. 1-256 or 1,8,64."),
    seq: str = typer.Option("512", "--seq", help="Sequence lengths: a list and/or ranges, e.g. 128,512,2048."),
    dask: Optional[str] = typer.Option(None, "--dask", help="Run on Dask: 'local' (a LocalCluster) or a scheduler address."),
    workers: int = typer.Option(2, "--workers", min=1, help="LocalCluster workers (with --dask local)."),
    chunk: int = typer.Option(1_000_000, "--chunk", min=1, help="Rows per chunk."),
    progress: bool = typer.Option(False, "--progress", help="Show a progress bar (on stderr)."),
    top_k: int = typer.Option(10, "--top-k", min=1, help="How many front rows to print (text output)."),
    output: Output = OutputOption,
    catalog: Optional[Path] = CatalogOption,
) -> None:
    """The Pareto front (lowest latency, highest throughput, fits in memory) of MODEL over
    hardware x precision x batch x sequence length: the DSE on numpy, or on Dask with --dask."""
    from mlsysim.solvers.dse import DSE, roofline_space

    cat = open_catalog(catalog)
    names = [h.strip() for h in hardware.split(",") if h.strip()]
    records = []
    for name in names:
        try:
            records.append(cat.get("hardware", name))
        except MlsysimError:
            records.append(cat.get("nodes", name))
    space, rm = roofline_space(cat.get("models", model), records, [p.strip() for p in precisions.split(",") if p.strip()],
                               _ints(batch, "--batch"), _ints(seq, "--seq"))
    dse = DSE(space, {"latency": "min", "throughput": "max"}, ["memory_usage <= memory_capacity"], model=rm, chunk_size=chunk)
    bar = None
    callback = None
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from mlsysim.cli.console import err_console

        bar = Progress(TextColumn("searching"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
                       TimeRemainingColumn(), console=err_console, transient=True)
        task = bar.add_task("search", total=space.size)
        bar.start()

        def callback(done: int, total: int) -> None:
            bar.update(task, completed=done)

    try:
        front = dse.run(dask, workers=workers, progress=callback)
    finally:
        if bar is not None:
            bar.stop()
    if output == Output.json:
        data = front.to_dict()
        for row in data["front"]:
            row["system"] = rm.labels[row["system"]]
        _json(data)
        return
    from rich.table import Table

    table = Table(title=f"{escape(model)}: Pareto front of {front.evaluated:,} configurations "
                        f"({front.feasible:,} fit; {len(front)} on the front; {front.backend})")
    for col in ("system", "batch", "seq", "latency", "throughput", "GB", "MFU"):
        table.add_column(col, justify="left" if col == "system" else "right")
    rows = front.rows()
    step = max(1, len(rows) // top_k)
    for row in rows[::step][:top_k]:
        table.add_row(escape(rm.labels[row["system"]]), str(row["batch_size"]), str(row["seq_len"]),
                      f"{row['latency'] * 1e3:.4g} ms", f"{row['throughput']:,.4g}/s", f"{row['memory_usage'] / 1e9:.1f}",
                      f"{row['mfu']:.1%}")
    console.print(table)
