"""The scorecard: one system judged at three levels.

  1. Feasibility  does it fit? (memory per device, a valid parallel layout, the power budget)
  2. Performance  is it fast enough? (training step time or inference latency against an SLA)
  3. Macro        what does it cost the world? (energy, carbon, water, money, failures)

`SystemEvaluator.evaluate(...)` composes the fleet solvers (distributed training,
reliability, sustainability, economics) and a single-device roofline, and returns a
`SystemEvaluation` that prints as a scorecard and serialises to JSON. With
raise_errors=True a failed level raises OOMError / InfeasibleError (feasibility) or
SLAViolation (performance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import Catalog, default_catalog
from mlsysim.errors import InfeasibleError, MlsysimError, OOMError, SLAViolation
from mlsysim.lineage import Lineage
from mlsysim.records import Record, Value

PASS, FAIL, WARNING, SKIPPED = "PASS", "FAIL", "WARNING", "SKIPPED"
DEFAULT_GRID = "us_avg"
DEFAULT_DATACENTER = "enterprise_average"


@dataclass
class EvaluationLevel:
    """One level of the scorecard: a status, a one-line summary and the numbers behind it."""

    level_name: str
    status: str
    summary: str
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level_name, "status": self.status, "summary": self.summary,
                "metrics": dict(self.metrics), "notes": list(self.notes)}


@dataclass
class SystemEvaluation:
    """The three-level scorecard of one scenario."""

    scenario_name: str
    feasibility: EvaluationLevel
    performance: EvaluationLevel
    macro: EvaluationLevel
    inputs: dict[str, Any] = field(default_factory=dict)
    lineage: Lineage = field(default_factory=Lineage, repr=False)
    results: dict[str, Any] = field(default_factory=dict, repr=False)  # the solver results behind the levels

    @property
    def levels(self) -> tuple[EvaluationLevel, EvaluationLevel, EvaluationLevel]:
        return (self.feasibility, self.performance, self.macro)

    @property
    def passed_all(self) -> bool:
        return all(level.status in (PASS, SKIPPED, WARNING) for level in self.levels)

    @property
    def exit_code(self) -> int:
        """0 all good, 2 physically infeasible, 3 an SLA missed (the CLI's exit codes)."""
        if self.feasibility.status == FAIL:
            return 2
        if self.performance.status == FAIL:
            return 3
        return 0

    def scorecard(self) -> str:
        """The scorecard as text, one block per level."""
        width = 72
        rule = "=" * width
        lines = [rule, f"mlsysim system evaluation: {self.scenario_name}"]
        for key, value in self.inputs.items():
            lines.append(f"  {key}: {value}")
        for i, level in enumerate(self.levels, 1):
            lines.append("-" * width)
            lines.append(f"Level {i}: {level.level_name} [{level.status}]")
            lines.append(f"  {level.summary}")
            for name, value in level.metrics.items():
                lines.append(f"    {name}: {_show(value)}")
            for note in level.notes:
                lines.append(f"  note: {note}")
        lines.append(rule)
        lines.append(f"{len(self.lineage)} cited values used; see to_dict()['lineage'] or --explain")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario_name,
            "inputs": dict(self.inputs),
            "passed": self.passed_all,
            "feasibility": self.feasibility.to_dict(),
            "performance": self.performance.to_dict(),
            "macro": self.macro.to_dict(),
            "lineage": [e.to_dict() for e in self.lineage.entries()],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def raise_for_status(self) -> SystemEvaluation:
        """Raise OOMError / InfeasibleError or SLAViolation if a level failed."""
        if self.feasibility.status == FAIL:
            error = OOMError if self.feasibility.metrics.get("failed_check") == "memory" else InfeasibleError
            raise error(f"{self.scenario_name}: {self.feasibility.summary}")
        if self.performance.status == FAIL:
            raise SLAViolation(f"{self.scenario_name}: {self.performance.summary}")
        return self


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _seconds(value: Any, lineage: Lineage, what: str) -> float | None:
    """A time limit given as seconds, a cited Value, or None."""
    if value is None:
        return None
    if isinstance(value, Value):
        if value.dimension != "time":
            raise MlsysimError(f"{what}: {value.path} is a {value.dimension}, not a time")
        return lineage.use(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise MlsysimError(f"{what} must be a positive number of seconds or a cited time, got {value!r}")


def _watts(value: Any, lineage: Lineage, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, Record):
        value = value.quantity
    if isinstance(value, Value):
        if value.dimension != "power":
            raise MlsysimError(f"{what}: {value.path} is a {value.dimension}, not a power")
        return lineage.use(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise MlsysimError(f"{what} must be a positive number of watts or a cited power, got {value!r}")


class SystemEvaluator:
    """Builds a SystemEvaluation from a model, hardware or a cluster, and constraints."""

    @staticmethod
    def evaluate(scenario_name: str, model_obj: Record, hardware_obj: Record | None = None, batch_size: int = 1,
                 precision: str = "fp16", efficiency: Any = None, fleet_obj: Record | None = None, nodes: int = 1,
                 duration_days: float | None = None, *, seq_len: int | None = None, parallelism: Any = "auto",
                 grid: Any = None, datacenter: Any = None, tokens: float | None = None,
                 step_time_sla: Any = None, latency_sla: Any = None, power_budget: Any = None,
                 device_power: Any = None, sleep_power: Any = None, inferences_per_second: float | None = None,
                 raise_errors: bool = False, catalog: Catalog | None = None) -> SystemEvaluation:
        """
        scenario_name      a label for the scorecard
        model_obj          the model record
        hardware_obj       the accelerator (single-device inference), or the cluster's
                           accelerator when fleet_obj is given
        batch_size         sequences per step (training) or samples per inference
        precision          e.g. "bf16", "fp16", "int8"
        efficiency         achieved fraction of peak compute: a number or a cited assumption
                           (training default: Megatron-LM's 52% of peak, mfu_megatron_1t;
                           inference default: 1.0, i.e. the peak-rate lower bound on latency)
        fleet_obj          a cluster: the job trains on it
        nodes              accelerators the job uses when fleet_obj is given (the reference
                           tool's name; 1 means a single device)
        duration_days      how long the job runs (training: wall-clock days on the fleet)
        parallelism        "auto" (fastest layout that fits), a Parallelism, or a dict of its fields
        grid, datacenter   where it runs; defaults: the cluster's datacenter, else US_Avg and
                           the industry-average data center (stated on the scorecard)
        tokens             training tokens (instead of, or to check against, duration_days)
        step_time_sla, latency_sla [s], power_budget [W]   numbers or cited values
        device_power, sleep_power [W], inferences_per_second   duty-cycled device power
        """
        catalog = catalog or _current_catalog()
        lineage = Lineage()
        if fleet_obj is not None and nodes != 1:
            evaluation = _evaluate_training(
                scenario_name, model_obj, hardware_obj, batch_size, precision, efficiency, fleet_obj, nodes,
                duration_days, seq_len, parallelism, grid, datacenter, tokens, step_time_sla, catalog, lineage,
            )
        else:
            if hardware_obj is None:
                if fleet_obj is None:
                    raise MlsysimError("pass hardware_obj= (one accelerator) or fleet_obj= (a cluster)")
                hardware_obj = fleet_obj.node.accelerator
            evaluation = _evaluate_inference(
                scenario_name, model_obj, hardware_obj, batch_size, precision, efficiency, seq_len, latency_sla,
                power_budget, device_power, sleep_power, inferences_per_second, grid, datacenter, duration_days,
                catalog, lineage,
            )
        return evaluation.raise_for_status() if raise_errors else evaluation


# ---------------------------------------------------------------------------- training


def _evaluate_training(name, model, hardware, batch, precision, efficiency, cluster, nodes, duration_days,
                       seq_len, parallelism, grid, datacenter, tokens, step_sla, catalog, lineage) -> SystemEvaluation:
    from mlsysim.solvers.distributed import DistributedModel, Parallelism, solve_setup
    from mlsysim.solvers.fleet import Fleet

    notes: list[str] = []
    fleet = Fleet.from_cluster(cluster, nodes)
    if hardware is not None and hardware != fleet.hardware:
        notes.append(f"hardware {hardware.label} differs from {cluster.label}'s accelerator {fleet.hardware.label}; the cluster's is used")
    if efficiency is None:
        efficiency = catalog.get("assumptions", "mfu_megatron_1t")
        notes.append("efficiency: Megatron-LM's 52% of peak (assumption mfu_megatron_1t); pass efficiency= to change it")
    solver = DistributedModel()
    setup = solver.setup(model, fleet, precision=precision, efficiency=efficiency, seq_len=seq_len)
    lineage.merge(setup.lineage)
    inputs = {"model": model.label, "cluster": f"{cluster.label} ({fleet.devices} x {fleet.hardware.label})",
              "global batch": f"{batch} sequences x {int(setup.seq)} tokens", "precision": precision,
              "efficiency": f"{setup.efficiency:.3g} of peak"}
    feasibility = EvaluationLevel("Feasibility", PASS, "")
    try:
        if parallelism == "auto" or parallelism is None:
            result = _best_layout(solver, model, fleet, batch, precision, efficiency, seq_len)
            inputs["parallelism"] = "auto (fastest layout that fits)"
        else:
            par = parallelism if isinstance(parallelism, Parallelism) else Parallelism(**dict(parallelism))
            result = solve_setup(setup, par, batch)
            inputs["parallelism"] = "as given"
    except OOMError as exc:  # no layout fits at all
        feasibility = EvaluationLevel("Feasibility", FAIL, str(exc), {"failed_check": "memory"})
        return SystemEvaluation(name, feasibility, _skipped("Performance", "not evaluated: infeasible"),
                                _skipped("Macro", "not evaluated: infeasible"), inputs, lineage)
    except MlsysimError as exc:
        feasibility = EvaluationLevel("Feasibility", FAIL, f"invalid parallel layout: {exc}", {"failed_check": "parallelism"})
        return SystemEvaluation(name, feasibility, _skipped("Performance", "not evaluated: invalid layout"),
                                _skipped("Macro", "not evaluated: invalid layout"), inputs, lineage)

    layout = f"TP{result.tp} x PP{result.pp} x CP{result.cp} x DP{result.dp}, microbatch {result.microbatch}, " \
             f"interleave {result.interleave}, ZeRO-{result.zero}, recompute {result.recompute}"
    mem = {
        "layout": layout,
        "memory_per_device_GB": result.memory_total / 1e9,
        "memory_capacity_GB": result.memory_capacity / 1e9,
        "weights_GB": result.memory_weights / 1e9,
        "gradients_GB": result.memory_gradients / 1e9,
        "optimizer_GB": result.memory_optimizer / 1e9,
        "activations_GB": result.memory_activations / 1e9,
    }
    if result.feasible:
        feasibility = EvaluationLevel("Feasibility", PASS,
                                      f"{layout}; {result.memory_total / 1e9:.1f} / {result.memory_capacity / 1e9:.0f} GB per device", mem, notes)
    else:
        mem["failed_check"] = "memory"
        feasibility = EvaluationLevel("Feasibility", FAIL,
                                      f"out of memory: {result.memory_total / 1e9:.1f} GB needed per device, "
                                      f"{result.memory_capacity / 1e9:.0f} GB available ({layout})", mem, notes)

    sla = _seconds(step_sla, lineage, "step_time_sla")
    perf_metrics = {
        "step_time_s": result.step_time,
        "compute_s": result.compute_time,
        "exposed_tp_comm_s": result.tp_comm_time,
        "exposed_pp_comm_s": result.pp_comm_time,
        "exposed_cp_comm_s": result.cp_comm_time,
        "exposed_dp_comm_s": result.dp_comm_time,
        "bubble_s": result.bubble_time,
        "bubble_fraction": result.bubble_fraction,
        "achieved_TFLOPs_per_device": result.achieved_flops_per_device / 1e12,
        "mfu": result.mfu,
        "tokens_per_second": result.tokens_per_second,
    }
    status = PASS
    summary = f"step {result.step_time:.3g} s, MFU {result.mfu:.1%}, {result.tokens_per_second:,.0f} tokens/s"
    if sla is not None:
        perf_metrics["step_time_sla_s"] = sla
        if result.step_time > sla:
            status = FAIL
            summary += f"; misses the {sla:g} s step-time target"
        else:
            summary += f"; meets the {sla:g} s step-time target"
    performance = EvaluationLevel("Performance", status, summary, perf_metrics)
    evaluation = SystemEvaluation(name, feasibility, performance, _skipped("Macro", "no duration_days or tokens given"),
                                  inputs, lineage, {"training": result})
    if not result.feasible:
        evaluation.macro = _skipped("Macro", "not evaluated: infeasible")
        return evaluation
    if duration_days is None and tokens is None:
        return evaluation
    evaluation.macro = _training_macro(result, model, fleet, duration_days, tokens, grid, datacenter, cluster, catalog,
                                       lineage, performance)
    return evaluation


def _best_layout(solver, model, fleet, batch, precision, efficiency, seq_len):
    key = (id(model._catalog), model.ref, fleet.cluster.ref, fleet.devices, batch, precision,
           efficiency.ref if isinstance(efficiency, Record) else getattr(efficiency, "path", efficiency), seq_len)
    hit = _BEST.get(key)
    if hit is None:
        hit = solver.search(model, fleet, batch, precision, efficiency, seq_len=seq_len).best(raise_errors=True)
        if len(_BEST) > 128:
            _BEST.clear()
        _BEST[key] = hit
    return hit


_BEST: dict[tuple[Any, ...], Any] = {}
_MACRO: dict[tuple[Any, ...], Any] = {}
_CATALOGS: dict[Any, Catalog] = {}


def _current_catalog() -> Catalog:
    """The default catalog, memoised by $MLSYSIM_CATALOG (resolving the path each call is slow)."""
    import os

    key = os.environ.get("MLSYSIM_CATALOG")
    hit = _CATALOGS.get(key)
    if hit is None:
        hit = _CATALOGS[key] = default_catalog()
    return hit


def _training_macro(result, model, fleet, duration_days, tokens, grid, datacenter, cluster, catalog, lineage, performance):
    from mlsysim.solvers.economics import EconomicsModel
    from mlsysim.solvers.reliability import ReliabilityModel
    from mlsysim.solvers.sustainability import SustainabilityModel

    notes = []
    grid, datacenter = _site(grid, datacenter, cluster, catalog, notes)
    key = (id(catalog), model.ref, fleet.cluster.ref, fleet.devices, result.tokens_per_second, duration_days, tokens,
           grid.ref, datacenter.ref)
    cached = _MACRO.get(key)
    if cached is None:
        work = result.time_to_train(tokens) if tokens is not None else duration_days * 86400
        rel = ReliabilityModel().solve(fleet, work, model=model, catalog=catalog)
        wall = rel.wall_time if tokens is not None else duration_days * 86400
        trained = result.tokens_per_second * wall * rel.goodput
        sus = SustainabilityModel().solve(fleet, wall, grid=grid, datacenter=datacenter, embodied=True, catalog=catalog)
        try:
            econ = EconomicsModel().solve(fleet, wall, grid=grid, datacenter=datacenter, tokens=trained, energy=sus,
                                          catalog=catalog)
        except MlsysimError as exc:
            econ = exc
        if len(_MACRO) > 256:
            _MACRO.clear()
        cached = _MACRO[key] = (rel, wall, trained, sus, econ)
    rel, wall, trained, sus, econ = cached
    lineage.merge(rel.lineage)
    lineage.merge(sus.lineage)
    performance.metrics.update({
        "expected_interruptions": rel.expected_interruptions,
        "fleet_mtbf_h": rel.mtbf / 3600,
        "checkpoint_interval_min": rel.daly_interval / 60,
        "goodput": rel.goodput,
        "tokens_trained": trained,
        "wall_clock_days": wall / 86400,
    })
    metrics = {
        "duration_days": wall / 86400,
        "it_energy_MWh": sus.it_energy / 3.6e9,
        "facility_energy_MWh": sus.facility_energy / 3.6e9,
        "pue": sus.pue,
        "grid": sus.grid,
        "carbon_basis": sus.carbon_basis,
        "operational_carbon_t": sus.operational_carbon / 1000,
        "embodied_carbon_t": (sus.embodied_carbon or 0.0) / 1000,
        "water_m3": sus.water,
    }
    summary = f"{sus.facility_energy / 3.6e9:,.1f} MWh, {sus.total_carbon / 1000:,.1f} tCO2e ({sus.carbon_basis}, {sus.grid})"
    status = PASS
    if isinstance(econ, MlsysimError):
        status = WARNING
        notes.append(f"cost not computed: {econ}")
    else:
        lineage.merge(econ.lineage)
        metrics.update({
            "currency": econ.currency,
            "price_years": econ.price_years,
            "capex": econ.capex,
            "amortised_capex": econ.amortised_capex,
            "maintenance": econ.maintenance,
            "energy_cost": econ.energy_cost,
            "run_cost": econ.run_cost,
            "cost_per_million_tokens": econ.cost_per_million_tokens,
            "cloud_rental_cost": econ.cloud_cost,
        })
        notes.extend(econ.notes)
        summary += f", {econ.run_cost:,.0f} {econ.currency} for the run"
    return EvaluationLevel("Macro", status, summary, metrics, notes)


def _site(grid, datacenter, cluster, catalog, notes):
    """The grid and datacenter a job runs at: given, the cluster's, or stated defaults."""
    from mlsysim.solvers.fleet import record_of

    grid_rec = record_of(grid, "grids", catalog)
    dc_rec = record_of(datacenter, "datacenters", catalog)
    if dc_rec is None and cluster is not None and cluster.has("datacenter"):
        dc_rec = cluster.datacenter
    if dc_rec is None:
        dc_rec = _default(catalog, "datacenters", DEFAULT_DATACENTER)
        notes.append(f"datacenter: {dc_rec.label} (default; pass datacenter= to change it)")
    if grid_rec is None and dc_rec.has("grid"):
        grid_rec = dc_rec.grid
    if grid_rec is None:
        grid_rec = _default(catalog, "grids", DEFAULT_GRID)
        notes.append(f"grid: {grid_rec.label} (default; pass grid= to change it)")
    return grid_rec, dc_rec


def _default(catalog: Catalog, kind: str, ident: str) -> Record:
    key = (id(catalog), kind, ident)
    hit = _DEFAULTS.get(key)
    if hit is None:
        hit = _DEFAULTS[key] = catalog.get(kind, ident)
    return hit


_DEFAULTS: dict[tuple[int, str, str], Record] = {}


def _skipped(level: str, why: str) -> EvaluationLevel:
    return EvaluationLevel(level, SKIPPED, why)


# ---------------------------------------------------------------------------- inference


def _evaluate_inference(name, model, hardware, batch, precision, efficiency, seq_len, latency_sla, power_budget,
                        device_power, sleep_power, rate, grid, datacenter, duration_days, catalog, lineage):
    from mlsysim.solvers.fleet import record_of, resolve_fraction

    notes = []
    if efficiency is None:
        eff = 1.0
        notes.append("efficiency 1.0: latency at the device's peak rate (a lower bound; no cited efficiency given)")
    else:
        eff = resolve_fraction(efficiency, lineage, "efficiency")
    run = device_inference(model, hardware, batch, precision, eff, seq_len, lineage)
    inputs = {"model": model.label, "hardware": hardware.label, "batch": batch, "precision": precision,
              "efficiency": f"{eff:.3g} of peak"}
    mem = {"weights_MB": run["weight_bytes"] / 1e6}
    status, summary = PASS, ""
    capacity = run["capacity"]
    if capacity is not None:
        mem["memory_capacity_MB"] = capacity / 1e6
        if run["weight_bytes"] > capacity:
            status = FAIL
            mem["failed_check"] = "memory"
            summary = f"out of memory: weights need {run['weight_bytes'] / 1e6:.3g} MB, the device has {capacity / 1e6:.3g} MB"
        else:
            summary = f"weights {run['weight_bytes'] / 1e6:.3g} MB of {capacity / 1e6:.3g} MB"
    else:
        summary = f"weights {run['weight_bytes'] / 1e6:.3g} MB (the catalog states no memory capacity for {hardware.label})"
        notes.append(f"memory feasibility not checked: {hardware.label} has no memory capacity in the catalog")

    power = _watts(device_power, lineage, "device_power")
    if power is None and hardware.has("tdp"):
        power = lineage.use(hardware.tdp)
    budget = _watts(power_budget, lineage, "power_budget")
    latency = run["latency"]
    avg_power = None
    if power is not None:
        if rate is not None:
            duty = min(1.0, rate * latency)
            idle = _watts(sleep_power, lineage, "sleep_power") or 0.0
            avg_power = power * duty + idle * (1 - duty)
            mem["duty_cycle"] = duty
        else:
            avg_power = power
        mem["average_power_mW"] = avg_power * 1e3
        mem["energy_per_inference_mJ"] = power * latency * 1e3
    if budget is not None:
        mem["power_budget_mW"] = budget * 1e3
        if avg_power is None:
            notes.append(f"power budget not checked: no power figure for {hardware.label}")
        elif avg_power > budget and status == PASS:
            status = FAIL
            mem["failed_check"] = "power"
            summary = f"over the power budget: {avg_power * 1e3:.4g} mW average vs {budget * 1e3:.4g} mW"
        elif status == PASS:
            summary += f"; {avg_power * 1e3:.4g} mW average, within the {budget * 1e3:.4g} mW budget"
    feasibility = EvaluationLevel("Feasibility", status, summary, mem, notes)

    sla = _seconds(latency_sla, lineage, "latency_sla")
    metrics = {"latency_ms": latency * 1e3, "compute_bound_ms": run["compute_time"] * 1e3,
               "memory_bound_ms": run["memory_time"] * 1e3 if run["memory_time"] is not None else None,
               "bottleneck": run["bottleneck"], "throughput_per_s": batch / latency}
    pstatus = PASS
    psummary = f"{latency * 1e3:.4g} ms per batch of {batch} ({run['bottleneck']}-bound)"
    if sla is not None:
        metrics["latency_sla_ms"] = sla * 1e3
        if latency > sla:
            pstatus = FAIL
            psummary += f"; misses the {sla * 1e3:g} ms deadline"
        else:
            psummary += f"; meets the {sla * 1e3:g} ms deadline"
    performance = EvaluationLevel("Performance", pstatus, psummary, metrics)
    macro = _skipped("Macro", "single device: pass duration_days and grid= for energy and carbon")
    if duration_days is not None and avg_power is not None:
        from mlsysim.solvers.sustainability import SustainabilityModel

        mnotes: list[str] = []
        grid_rec = record_of(grid, "grids", catalog)
        if grid_rec is None:
            grid_rec = catalog.get("grids", DEFAULT_GRID)
            mnotes.append(f"grid: {grid_rec.label} (default; pass grid= to change it)")
        dc_rec = record_of(datacenter, "datacenters", catalog)
        if dc_rec is None:
            mnotes.append("PUE 1: a single device outside a data center has no facility overhead")
        sus = SustainabilityModel().solve(hardware, duration_days * 86400, devices=1, grid=grid_rec, datacenter=dc_rec,
                                          pue=None if dc_rec is not None else 1.0, device_power=avg_power,
                                          catalog=catalog)
        lineage.merge(sus.lineage)
        macro = EvaluationLevel(
            "Macro", PASS,
            f"{sus.facility_energy / 3.6e6:.4g} kWh, {sus.operational_carbon:.4g} kg CO2 over {duration_days:g} days ({sus.carbon_basis}, {sus.grid})",
            {"energy_kWh": sus.facility_energy / 3.6e6, "carbon_kg": sus.operational_carbon, "carbon_basis": sus.carbon_basis,
             "grid": sus.grid}, mnotes)
    return SystemEvaluation(name, feasibility, performance, macro, inputs, lineage, {"inference": run})


def device_inference(model: Record, hardware: Record, batch: int, precision: str, efficiency: float,
                     seq_len: int | None, lineage: Lineage) -> dict[str, Any]:
    """Roofline latency [s] of one batch on one device (Williams et al. 2009): the larger of
    compute time (FLOPs / (peak x efficiency)) and weight-streaming time (weight bytes /
    memory bandwidth; skipped when the catalog states no bandwidth, e.g. for MCUs whose
    weights sit in on-chip memory)."""
    from mlsysim.solvers.fleet import bytes_per_element, peak_compute
    from mlsysim.solvers.transformer import TransformerShape, forward_flops_per_token

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise MlsysimError(f"batch_size must be a whole number >= 1, got {batch!r}")
    if model.has("flops_per_inference"):
        flops = lineage.use(model.flops_per_inference) * batch
    elif model.has("transformer"):
        shape = TransformerShape.fromrecord_of(model, lineage)
        tokens = float(seq_len) if seq_len else shape.context
        flops = forward_flops_per_token(shape, tokens) * tokens * batch
    else:
        raise MlsysimError(f"{model.label} states neither FLOPs per inference nor a transformer architecture ({model.file})")
    peak = peak_compute(hardware, precision, lineage)
    weight_bytes = lineage.use(model.parameters) * bytes_per_element(precision)
    compute = flops / (peak * efficiency)
    memory = weight_bytes / lineage.use(hardware.memory.bandwidth) if hardware.has("memory.bandwidth") else None
    latency = max(compute, memory or 0.0)
    capacity = lineage.use(hardware.memory.capacity) if hardware.has("memory.capacity") else None
    return {"latency": latency, "compute_time": compute, "memory_time": memory, "flops": flops,
            "weight_bytes": weight_bytes, "capacity": capacity,
            "bottleneck": "compute" if memory is None or compute >= memory else "memory"}
