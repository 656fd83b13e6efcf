"""The scorecard: one system judged at three levels.

  1. Feasibility  does it fit? (memory per device, a valid parallel layout, the power budget)
  2. Performance  is it fast enough? (training step time or inference latency against an SLA)
  3. Macro        what does it cost the world? (energy, carbon, water, money, failures)

`SystemEvaluator.evaluate(...)` composes the fleet solvers (distributed training,
reliability, sustainability, economics) or, for one device, Engine.solve's roofline
(mlsysim/solvers/engine.py), and returns a `SystemEvaluation` that prints as a scorecard
and serialises to JSON. With raise_errors=True a failed level raises OOMError /
InfeasibleError (feasibility) or SLAViolation (performance).

Speed: the solvers read the catalog once per (model, cluster, precision, site) into
float terms (distributed.training_terms, reliability.exposure, sustainability.power_draw,
economics.prices), memoised on the catalog the records came from; a call does the
arithmetic that depends on its own inputs, and a level's text is formatted only when
read. The fastest-layout search ("auto") is memoised per input in the same catalog, since
it evaluates every layout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from mlsysim.catalog import defaults
from mlsysim.catalog import inputs as check
from mlsysim.catalog import Catalog
from mlsysim.catalog.display import format_number
from mlsysim.catalog.records import Record
from mlsysim.errors import InfeasibleError, MlsysimError, OOMError, SLAViolation
from mlsysim.lineage import Lineage
from mlsysim.solvers.cnn_training import CNNTrainingModel
from mlsysim.solvers.distributed import DistributedModel, Job, Layout, layout_of, train, training_terms
from mlsysim.solvers.economics import prices
from mlsysim.solvers.engine import PerformanceProfile, RooflineTerms, roofline_terms, solve_terms
from mlsysim.solvers.fleet import Fleet
from mlsysim.solvers.reliability import exposure
from mlsysim.solvers.roofline import BYTES_PER_ELEMENT
from mlsysim.solvers.sustainability import SustainabilityModel, power_draw
from mlsysim.solvers.terms import COMPUTE_EFFICIENCY, cited_assumption, model_terms

PASS, FAIL, WARNING, SKIPPED = "PASS", "FAIL", "WARNING", "SKIPPED"
DEFAULT_GRID = "us_avg"
DEFAULT_DATACENTER = "enterprise_average"
SECONDS_PER_DAY = 86400.0
JOULES_PER_MWH = 3.6e9
JOULES_PER_KWH = 3.6e6


class EvaluationLevel:
    """One level of the scorecard: a status, a one-line summary and the numbers behind it.

    The status is decided when the level is made; the summary, metrics and notes may be
    given, or built by `build` (returning all three) the first time one of them is read:
    formatting a scorecard costs more than computing it, and most callers read a few numbers.
    """

    __slots__ = ("level_name", "status", "_summary", "_metrics", "_notes", "_build")

    def __init__(self, level_name: str, status: str, summary: str = "", metrics: dict[str, Any] | None = None,
                 notes: list[str] | None = None, *, build: Callable[[], tuple[str, dict[str, Any], list[str]]] | None = None):
        self.level_name = level_name
        self.status = status
        self._summary = summary
        self._metrics = {} if metrics is None else metrics
        self._notes = [] if notes is None else notes
        self._build = build

    def _built(self) -> None:
        if self._build is not None:
            build, self._build = self._build, None
            self._summary, self._metrics, self._notes = build()

    @property
    def summary(self) -> str:
        self._built()
        return self._summary

    @property
    def metrics(self) -> dict[str, Any]:
        self._built()
        return self._metrics

    @property
    def notes(self) -> list[str]:
        self._built()
        return self._notes

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level_name, "status": self.status, "summary": self.summary,
                "metrics": dict(self.metrics), "notes": list(self.notes)}

    def __repr__(self) -> str:
        return f"EvaluationLevel({self.level_name!r}, {self.status!r}, {self.summary!r})"


class SystemEvaluation:
    """The three-level scorecard of one scenario.

    `inputs` (what was evaluated, as text) and `lineage` (every cited value used) are
    assembled when first read, from the parts the solvers returned.
    """

    __slots__ = ("scenario_name", "feasibility", "performance", "macro", "results", "_inputs", "_lineage")

    def __init__(self, scenario_name: str, feasibility: EvaluationLevel, performance: EvaluationLevel,
                 macro: EvaluationLevel, inputs: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
                 lineage: Lineage | tuple[Lineage, ...] | None = None, results: dict[str, Any] | None = None):
        self.scenario_name = scenario_name
        self.feasibility = feasibility
        self.performance = performance
        self.macro = macro
        self.results = {} if results is None else results  # the solver results behind the levels
        self._inputs = {} if inputs is None else inputs
        self._lineage = Lineage() if lineage is None else lineage

    @property
    def inputs(self) -> dict[str, Any]:
        if callable(self._inputs):
            self._inputs = self._inputs()
        return self._inputs

    @property
    def lineage(self) -> Lineage:
        if isinstance(self._lineage, tuple):
            merged = Lineage()
            for part in self._lineage:
                merged.merge(part)
            self._lineage = merged
        return self._lineage

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
                if value is not None:  # a metric that does not apply (e.g. no memory roofline): its note says why
                    lines.append(f"    {name}: {_show(value)}")
            for note in level.notes:
                lines.append(f"  note: {note}")
        lines.append(rule)
        lines.append(f"{len(self.lineage)} cited values used (`--explain` lists them)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario_name,
            "inputs": dict(self.inputs),
            "passed": self.passed_all,
            "feasibility": self.feasibility.to_dict(),
            "performance": self.performance.to_dict(),
            "macro": self.macro.to_dict(),
            "catalog": self.lineage.catalog,
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

    def __repr__(self) -> str:
        return (f"SystemEvaluation({self.scenario_name!r}, feasibility={self.feasibility.status}, "
                f"performance={self.performance.status}, macro={self.macro.status})")


def _show(value: Any) -> str:
    """A metric for people: four significant figures, thousands separators, no exponent."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return str(value)


def _optional(value: Any, dimension: str, lineage: Lineage, what: str) -> float | None:
    """A limit given as a number, a cited value or an assumption (see inputs.as_si), or None."""
    return None if value is None else check.as_si(value, dimension, what, lineage)


@dataclass(frozen=True)
class Constraints:
    """What the scorecard checks a system against, and the duty cycle of a device:
    step_time_sla, latency_sla [s], power_budget [W] (numbers or cited values);
    device_power, sleep_power [W] and inferences_per_second for a duty-cycled device."""

    step_time_sla: Any = None
    latency_sla: Any = None
    power_budget: Any = None
    device_power: Any = None
    sleep_power: Any = None
    inferences_per_second: float | None = None


@dataclass(slots=True)
class Request:
    """One scorecard request: what runs (`job`: the model, the cluster or device, batch,
    precision, efficiency, sequence), how it is split (`parallelism`), where and how long it
    runs (grid, datacenter, duration_days, tokens) and what it must meet (`constraints`)."""

    name: str
    job: Job
    catalog: Catalog
    hardware: Record | None = None
    parallelism: Any = "auto"
    grid: Any = None
    datacenter: Any = None
    duration_days: float | None = None
    tokens: float | None = None
    constraints: Constraints = Constraints()


NO_CONSTRAINTS = Constraints()


class SystemEvaluator:
    """Builds a SystemEvaluation from a model, hardware or a cluster, and constraints."""

    @staticmethod
    def evaluate(scenario_name: str, model_obj: Record, hardware_obj: Record | None = None,
                 batch_size: int = defaults.BATCH_SIZE, precision: str = defaults.PRECISION,
                 efficiency: Any = defaults.EFFICIENCY, fleet_obj: Record | None = None, nodes: int = 1,
                 duration_days: float | None = None, *, seq_len: int | None = None, parallelism: Any = "auto",
                 grid: Any = None, datacenter: Any = None, tokens: float | None = None,
                 step_time_sla: Any = None, latency_sla: Any = None, power_budget: Any = None,
                 device_power: Any = None, sleep_power: Any = None, inferences_per_second: float | None = None,
                 attention_kernel: str | None = None, raise_errors: bool = False,
                 catalog: Catalog | None = None) -> SystemEvaluation:
        """
        scenario_name      a label for the scorecard
        model_obj          the model record
        hardware_obj       the accelerator (single-device inference), or the cluster's
                           accelerator when fleet_obj is given
        batch_size         sequences per step (training) or samples per inference
        precision          e.g. "bf16", "fp16", "int8"
        efficiency         achieved fraction of peak compute: a number or a cited assumption
                           (training default: Megatron-LM's 52% of peak, mfu_megatron_1t;
                           inference default: 1.0, compute at the peak rate; memory traffic
                           always uses Engine's cited bandwidth efficiency)
        fleet_obj          a cluster: the job trains on it
        nodes              accelerators the job uses when fleet_obj is given (the reference
                           tool's name; 1 means a single device)
        duration_days      how long the job runs (training: wall-clock days on the fleet)
        seq_len            tokens per sequence (training default: the model's context;
                           one device: Engine.solve's default of 1, a decode-like step)
        parallelism        "auto" (fastest layout that fits), a Parallelism, or a dict of its fields
        grid, datacenter   where it runs; defaults: the cluster's datacenter, else US_Avg and
                           the industry-average data center (stated on the scorecard)
        tokens             training tokens (instead of, or to check against, duration_days)
        step_time_sla, latency_sla [s], power_budget [W]   numbers or cited values
        device_power, sleep_power [W], inferences_per_second   duty-cycled device power
        attention_kernel   training of a transformer: price fused attention at the figures cited
                           for this kernel ("flashattention2", "flashattention3",
                           "flashattention_triton"); default: the accelerator's default figure
        """
        limits = (step_time_sla, latency_sla, power_budget, device_power, sleep_power, inferences_per_second)
        constraints = NO_CONSTRAINTS if limits == (None,) * len(limits) else Constraints(*limits)
        catalog = check.catalog_of(model_obj, hardware_obj, fleet_obj, grid, datacenter, efficiency, catalog=catalog)
        training = fleet_obj is not None and nodes != 1
        if not training and hardware_obj is None:
            if fleet_obj is None:
                raise MlsysimError("pass hardware_obj= (one accelerator) or fleet_obj= (a cluster)")
            hardware_obj = fleet_obj.node.accelerator
        if attention_kernel is not None and not training:
            raise MlsysimError(f"attention_kernel {attention_kernel!r} prices training on a cluster; one device's "
                               "inference takes the accelerator's default attention figure: leave it out")
        job = Job(model_obj, fleet_obj if training else hardware_obj, batch_size, precision, efficiency, seq_len,
                  nodes if training else None, attention_kernel)
        request = Request(scenario_name, job, catalog, hardware_obj, parallelism, grid, datacenter, duration_days,
                            tokens, constraints)
        return SystemEvaluator.evaluate_request(request, raise_errors=raise_errors)

    @staticmethod
    def evaluate_request(request: Request, raise_errors: bool = False) -> SystemEvaluation:
        """The scorecard of a Request (what `evaluate` builds from its keywords)."""
        training = isinstance(request.job.fleet, Record) and request.job.fleet.kind == "clusters"
        evaluation = _evaluate_training(request) if training else _evaluate_inference(request)
        return evaluation.raise_for_status() if raise_errors else evaluation


# ---------------------------------------------------------------------------- training


def _evaluate_training(sc: Request) -> SystemEvaluation:
    name, job, catalog = sc.name, sc.job, sc.catalog
    model, cluster, batch, precision = job.model, job.fleet, job.batch_size, job.precision
    notes: list[str] = []
    fleet = Fleet.from_cluster(cluster, job.devices)
    hardware = sc.hardware
    if hardware is not None and hardware != fleet.hardware:
        notes.append(f"hardware {hardware.label} differs from {cluster.label}'s accelerator {fleet.hardware.label}; the cluster's is used")
    if model_terms(model).resnet is not None:
        if job.attention_kernel is not None:
            raise MlsysimError(f"attention_kernel {job.attention_kernel!r}: {model.label} is a ResNet, which has no "
                               "attention; leave it out")
        return _evaluate_cnn_training(sc, fleet, notes)
    efficiency = job.efficiency
    if efficiency is None:
        efficiency = _default(catalog, "assumptions", "gemm_compute_efficiency")
        notes.append("efficiency: first principles, the cited dense-GEMM kernel efficiency (the one scoped to "
                     "the accelerator and precision where the catalog has it, else assumption "
                     "gemm_compute_efficiency) with bubble, communication and recomputation modelled; "
                     "pass a measured end-to-end MFU (e.g. mfu_megatron_1t) to apply it as is")
    setup = training_terms(model, fleet, precision=precision, efficiency=efficiency, seq_len=job.seq_len,
                           attention_kernel=job.attention_kernel)
    layout_given: list[str] = []

    def inputs() -> dict[str, Any]:
        shown = {"model": model.label, "cluster": f"{cluster.label} ({fleet.devices} x {fleet.hardware.label})",
                 "global batch": f"{batch} sequences x {int(setup.seq)} tokens", "precision": precision,
                 "efficiency": f"{setup.efficiency:.3g} of peak ({setup.efficiency_mode.replace('_', ' ')})"}
        if job.attention_kernel is not None:
            shown["attention kernel"] = job.attention_kernel
        if layout_given:
            shown["parallelism"] = layout_given[0]
        return shown

    # A malformed layout (unknown field, wrong type) is bad input and raises; a layout
    # that does not divide the cluster is a feasibility failure on the scorecard.
    parallelism = sc.parallelism
    auto = parallelism is None or (isinstance(parallelism, str) and parallelism == "auto")
    layout = None if auto else _parallelism(parallelism)
    try:
        if layout is None:
            # The job on the Fleet read above (it holds the device count) at the efficiency resolved above.
            result = _best_layout(replace(job, fleet=fleet, efficiency=efficiency, devices=None))
            layout_given.append("auto (fastest layout that fits)")
        else:
            result = train(setup, layout, batch)
            layout_given.append("as given")
    except OOMError as exc:  # no layout fits at all
        feasibility = EvaluationLevel("Feasibility", FAIL, str(exc), {"failed_check": "memory"})
        return SystemEvaluation(name, feasibility, _skipped("Performance", "not evaluated: infeasible"),
                                _skipped("Macro", "not evaluated: infeasible"), inputs, (setup.lineage,))
    except MlsysimError as exc:
        feasibility = EvaluationLevel("Feasibility", FAIL, f"invalid parallel layout: {exc}", {"failed_check": "parallelism"})
        return SystemEvaluation(name, feasibility, _skipped("Performance", "not evaluated: invalid layout"),
                                _skipped("Macro", "not evaluated: invalid layout"), inputs, (setup.lineage,))

    feasibility = EvaluationLevel("Feasibility", PASS if result.feasible else FAIL,
                                  build=lambda: _training_feasibility(result, notes))
    cited = Lineage()  # values the caller passed as citations (an SLA)
    sla = _optional(sc.constraints.step_time_sla, "time", cited, "step_time_sla")
    missed = sla is not None and result.step_time > sla
    macro_parts: list[Any] = []  # (reliability, wall, trained): what the macro level adds to performance
    performance = EvaluationLevel("Performance", FAIL if missed else PASS,
                                  build=lambda: _training_performance(result, sla, macro_parts))
    if not result.feasible:
        macro = _skipped("Macro", "not evaluated: infeasible")
        lineage: tuple[Lineage, ...] = (setup.lineage, cited)
    elif sc.duration_days is None and sc.tokens is None:
        macro = _skipped("Macro", "no duration_days or tokens given")
        lineage = (setup.lineage, cited)
    else:
        macro, parts = _training_macro(sc, result.tokens_per_second, fleet, macro_parts, sc.tokens)
        lineage = (setup.lineage, cited, *parts)
    return SystemEvaluation(name, feasibility, performance, macro, inputs, lineage, {"training": result})


def _evaluate_cnn_training(sc: Request, fleet: Fleet, notes: list[str]) -> SystemEvaluation:
    """The scorecard of data-parallel CNN training (CNNTrainingModel on the cluster's devices)."""
    job = sc.job
    model, cluster, batch = job.model, job.fleet, job.batch_size
    if job.efficiency is not None:
        notes.append("efficiency: not applied; CNNTrainingModel prices each kernel at the cited efficiency of its "
                     "class (convolutions, element-wise kernels) on this accelerator")
    auto = sc.parallelism is None or (isinstance(sc.parallelism, str) and sc.parallelism == "auto")
    if not auto:
        notes.append("parallelism: data parallel over every device (CNNTrainingModel); the layout given is not used")

    def inputs() -> dict[str, Any]:
        return {"model": model.label, "cluster": f"{cluster.label} ({fleet.devices} x {fleet.hardware.label})",
                "global batch": f"{batch} samples", "precision": job.precision,
                "parallelism": f"data parallel over {fleet.devices} devices"}

    try:
        result = CNNTrainingModel.solve(model, cluster, batch, job.precision, devices=fleet.devices)
    except MlsysimError as exc:
        feasibility = EvaluationLevel("Feasibility", FAIL, f"invalid job: {exc}", {"failed_check": "batch"})
        return SystemEvaluation(sc.name, feasibility, _skipped("Performance", "not evaluated: invalid job"),
                                _skipped("Macro", "not evaluated: invalid job"), inputs, (fleet.lineage,))
    layout = f"DP{result.devices}, microbatch {result.microbatch}"
    feasibility = EvaluationLevel("Feasibility", PASS if result.feasible else FAIL,
                                  build=lambda: _training_feasibility(result, notes, layout))
    cited = Lineage()
    sla = _optional(sc.constraints.step_time_sla, "time", cited, "step_time_sla")
    macro_parts: list[Any] = []
    performance = EvaluationLevel("Performance", FAIL if sla is not None and result.step_time > sla else PASS,
                                  build=lambda: _cnn_training_performance(result, sla, macro_parts))
    lineage: tuple[Lineage, ...] = (result.lineage, cited)
    if not result.feasible:
        macro = _skipped("Macro", "not evaluated: infeasible")
    elif sc.duration_days is None:
        macro = _skipped("Macro", "no duration_days given (a CNN trains on samples, not tokens)")
    else:
        macro, parts = _training_macro(sc, result.samples_per_second, fleet, macro_parts, None, per_token=False)
        lineage += parts
    return SystemEvaluation(sc.name, feasibility, performance, macro, inputs, lineage, {"training": result})


def _cnn_training_performance(result: Any, sla: float | None, macro_parts: list[Any]) -> tuple[str, dict[str, Any], list[str]]:
    metrics = {
        "step_time_s": result.step_time,
        "forward_s": result.forward_time,
        "backward_s": result.backward_time,
        "kernel_launches_s": result.launch_time,
        "update_s": result.update_time,
        "exposed_dp_comm_s": result.dp_comm_time,
        "achieved_TFLOPs_per_device": result.achieved_flops_per_device / 1e12,
        "mfu": result.mfu,
        "samples_per_second": result.samples_per_second,
    }
    summary = f"step {result.step_time:.3g} s, MFU {result.mfu:.1%}, {result.samples_per_second:,.0f} samples/s"
    summary = _step_target(summary, metrics, result.step_time, sla, macro_parts, "samples")
    return summary, metrics, [f"not priced: {why}" for why in result.unpriced]


def _layout(result: Any) -> str:
    experts = ""
    if result.ep > 1:
        folded = result.expert_tp == 1 and result.tp > 1
        how = [f"EP{result.ep} within {'TP x DP, whole experts' if folded else 'DP'}"]
        if result.ep_dispatch != "all_to_all":
            how.append(f"{result.ep_dispatch} dispatch")
        if result.ep_overlap:
            how.append("all-to-all beside compute")
        experts = f" ({', '.join(how)})"
    return (f"TP{result.tp} x PP{result.pp} x CP{result.cp} x DP{result.dp}{experts}, microbatch {result.microbatch}, "
            f"interleave {result.interleave}, ZeRO-{result.zero}, recompute {result.recompute}{_recomputed(result)}")


def _recomputed(result: Any) -> str:
    """How many layers per model chunk a partial full recomputation covers, in words."""
    n = result.recompute_layers
    return "" if n is None else f" ({n} layer{'s' if n != 1 else ''} per model chunk)"


def _training_feasibility(result: Any, notes: list[str], layout: str | None = None) -> tuple[str, dict[str, Any], list[str]]:
    """Level 1 of a training run: its memory per device against the capacity, under `layout`
    (default: the transformer layout's description)."""
    layout = layout or _layout(result)
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
        return f"{layout}; {result.memory_total / 1e9:.1f} / {result.memory_capacity / 1e9:.0f} GB per device", mem, notes
    mem["failed_check"] = "memory"
    return (f"out of memory: {result.memory_total / 1e9:.1f} GB needed per device, "
            f"{result.memory_capacity / 1e9:.0f} GB available ({layout})"), mem, notes


def _training_performance(result: Any, sla: float | None, macro_parts: list[Any]) -> tuple[str, dict[str, Any], list[str]]:
    metrics = {
        "step_time_s": result.step_time,
        "compute_s": result.compute_time,
        "fp8_quantization_s": result.quantization_time,
        "moe_dispatch_s": result.moe_dispatch_time,
        "exposed_tp_comm_s": result.tp_comm_time,
        "exposed_pp_comm_s": result.pp_comm_time,
        "exposed_cp_comm_s": result.cp_comm_time,
        "exposed_dp_comm_s": result.dp_comm_time,
        "exposed_ep_comm_s": result.ep_comm_time,
        "bubble_s": result.bubble_time,
        "bubble_fraction": result.bubble_fraction,
        "update_s": result.update_time,
        "achieved_TFLOPs_per_device": result.achieved_flops_per_device / 1e12,
        "mfu": result.mfu,
        "tokens_per_second": result.tokens_per_second,
    }
    summary = f"step {result.step_time:.3g} s, MFU {result.mfu:.1%}, {result.tokens_per_second:,.0f} tokens/s"
    notes = [f"not priced: {why}" for why in result.unpriced]
    return _step_target(summary, metrics, result.step_time, sla, macro_parts, "tokens"), metrics, notes


def _step_target(summary: str, metrics: dict[str, Any], step_time: float, sla: float | None, macro_parts: list[Any],
                 unit: str) -> str:
    """`summary` with the step-time target met or missed, and `metrics` (updated in place)
    with the target and, where the macro level ran, the failures and the `unit`s trained."""
    if sla is not None:
        metrics["step_time_sla_s"] = sla
        summary += f"; {'misses' if step_time > sla else 'meets'} the {sla:g} s step-time target"
    if macro_parts:
        rel, wall, trained = macro_parts
        metrics.update({
            "expected_interruptions": rel.expected_interruptions,
            "fleet_mtbf_h": rel.mtbf / 3600,
            "checkpoint_interval_min": rel.daly_interval / 60,
            "goodput": rel.goodput,
            f"{unit}_trained": trained,
            "wall_clock_days": wall / SECONDS_PER_DAY,
        })
    return summary


def _parallelism(given: Any) -> Layout:
    """A Layout from itself or a dict of its fields (validated once per distinct dict)."""
    if isinstance(given, Layout):
        return given
    items = given if type(given) is dict else dict(given)
    try:
        return layout_of(**items)  # memoised by value and type: {"tp": True} does not reuse {"tp": 1}
    except TypeError:  # an unknown field or an unhashable value: let Layout say what is wrong with it
        return Layout.from_mapping(items)


def _best_layout(job: Job) -> Any:
    """The fastest layout that fits, from a search over every valid one (memoised per input
    in the job's catalog: a search costs milliseconds; everything else on this path, microseconds)."""
    catalog = check.catalog_of(job.model, job.fleet, job.efficiency)
    memo = catalog.derived("best_layout")
    key = check.memo_key(job.model, job.fleet, job.batch_size, job.precision, job.efficiency, job.seq_len,
                         job.attention_kernel)
    best = memo.get(key) if key is not None else None
    if best is None:
        best = DistributedModel().search(job.model, job.fleet, job.batch_size, job.precision, job.efficiency,
                                         seq_len=job.seq_len, attention_kernel=job.attention_kernel).best(raise_errors=True)
        if key is not None:
            check.remember(memo, key, best)
    return best


def _training_macro(sc: Request, rate: float, fleet: Fleet, macro_parts: list[Any], amount: float | None,
                    per_token: bool = True) -> tuple[EvaluationLevel, tuple[Lineage, ...]]:
    """Level 3 of a training run at `rate` units (tokens, or a CNN's samples) per second of
    work: failures, energy, carbon, water and cost, over `amount` units (None: the scenario's
    duration_days); returns the level and the lineages it rests on. Adds (reliability, wall
    time, units trained) to `macro_parts` for the performance level. `per_token` False: the
    units are not tokens, so no cost per million tokens."""
    site_notes, exposed, draw, priced = _fleet_terms(sc.catalog, fleet, sc.job.model, sc.grid, sc.datacenter)
    if isinstance(draw, MlsysimError):
        return _skipped("Macro", f"energy, carbon and cost not computed: {draw}"), ()
    notes = list(site_notes)
    days = sc.duration_days
    work = amount / rate if amount is not None else days * SECONDS_PER_DAY
    rel = exposed.over(work)
    wall = rel.wall_time if amount is not None else days * SECONDS_PER_DAY
    trained = rate * wall * rel.goodput
    macro_parts.extend((rel, wall, trained))
    sus = draw.over(wall)
    econ: Any = priced
    if not isinstance(priced, MlsysimError):
        try:
            econ = priced.cost(wall, trained if per_token else None, sus)
        except MlsysimError as exc:
            econ = exc
    failed = isinstance(econ, MlsysimError)
    level = EvaluationLevel("Macro", WARNING if failed else PASS, build=lambda: _macro_level(wall, sus, econ, notes))
    return level, (rel.lineage, sus.lineage) if failed else (rel.lineage, sus.lineage, econ.lineage)


def _fleet_terms(catalog: Catalog, fleet: Fleet, model: Record, grid: Any, datacenter: Any) -> tuple[Any, ...]:
    """The site's notes and the reliability, sustainability and economics solvers' catalog
    terms for a training run (what ReliabilityModel / SustainabilityModel /
    EconomicsModel.solve read), once per (fleet, model, site) in the catalog; the prices are
    an MlsysimError when the catalog lacks one, and so is the power draw."""
    memo = catalog.derived("scorecard_fleet_terms")
    key = check.memo_key(fleet, model, grid, datacenter)
    hit = memo.get(key) if key is not None else None
    if hit is not None:
        return hit
    notes: list[str] = []
    grid_rec, dc_rec = _site(grid, datacenter, fleet.cluster, catalog, notes)
    terms: list[Any] = [tuple(notes), exposure(fleet, model=model, catalog=catalog)]
    try:
        terms.append(power_draw(fleet, grid=grid_rec, datacenter=dc_rec, embodied=True, catalog=catalog))
    except MlsysimError as exc:  # e.g. an accelerator whose vendor publishes no TDP
        terms.append(exc)
    try:
        terms.append(prices(fleet, grid=grid_rec, datacenter=dc_rec, catalog=catalog))
    except MlsysimError as exc:
        terms.append(exc)
    if key is not None:
        check.remember(memo, key, tuple(terms))
    return tuple(terms)


def _macro_level(wall: float, sus: Any, econ: Any, notes: list[str]) -> tuple[str, dict[str, Any], list[str]]:
    metrics = {
        "duration_days": wall / SECONDS_PER_DAY,
        "it_energy_MWh": sus.it_energy / JOULES_PER_MWH,
        "facility_energy_MWh": sus.facility_energy / JOULES_PER_MWH,
        "pue": sus.pue,
        "grid": sus.grid,
        "carbon_basis": sus.carbon_basis,
        "operational_carbon_t": sus.operational_carbon / 1000,
        "embodied_carbon_t": (sus.embodied_carbon or 0.0) / 1000,
        "water_m3": sus.water,
    }
    summary = f"{sus.facility_energy / JOULES_PER_MWH:,.1f} MWh, {sus.total_carbon / 1000:,.1f} tCO2e ({sus.carbon_basis}, {sus.grid})"
    if isinstance(econ, MlsysimError):
        notes.append(f"cost not computed: {econ}")
    else:
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
    return summary, metrics, notes


def _site(grid: Any, datacenter: Any, cluster: Record | None, catalog: Catalog, notes: list[str]) -> tuple[Record, Record]:
    """The grid and datacenter a job runs at: given, the cluster's, or stated defaults."""
    grid_rec = check.record(grid, "grids", catalog, "grid")
    dc_rec = check.record(datacenter, "datacenters", catalog, "datacenter")
    if dc_rec is None and cluster is not None:
        dc_rec = cluster.get("datacenter")
    if dc_rec is None:
        dc_rec = _default(catalog, "datacenters", DEFAULT_DATACENTER)
        notes.append(f"datacenter: {dc_rec.label} (default; pass datacenter= to change it)")
    if grid_rec is None:
        grid_rec = dc_rec.get("grid")
    if grid_rec is None:
        grid_rec = _default(catalog, "grids", DEFAULT_GRID)
        notes.append(f"grid: {grid_rec.label} (default; name a grid to change it)")
    return grid_rec, dc_rec


def _default(catalog: Catalog, kind: str, ident: str) -> Record:
    """A record the scorecard defaults to, looked up once per catalog."""
    memo = catalog.derived("scorecard_defaults")
    hit = memo.get((kind, ident))
    if hit is None:
        hit = memo[(kind, ident)] = catalog.get(kind, ident)
    return hit


def _skipped(level: str, why: str) -> EvaluationLevel:
    return EvaluationLevel(level, SKIPPED, why)


# ---------------------------------------------------------------------------- inference


def _evaluate_inference(sc: Request) -> SystemEvaluation:
    job, catalog, limits = sc.job, sc.catalog, sc.constraints
    model, hardware, batch, precision = job.model, job.fleet, job.batch_size, job.precision
    cited = Lineage()  # values passed as citations (efficiency, powers, SLA)
    # No efficiency given: the cited one, as `mlsysim eval` (mlsysim/catalog/defaults.py).
    eff = None if job.efficiency is None else check.fraction(job.efficiency, "efficiency", cited)
    run = device_inference(model, hardware, batch, precision, eff, job.seq_len)
    terms = run._terms
    h_terms = terms.hardware
    if eff is None and not h_terms.has_bandwidth:  # _run_lineages drops the efficiencies' lineage: keep the compute one
        cited.use(cited_assumption(catalog, COMPUTE_EFFICIENCY))
    latency = run.si["latency"]
    resident = run.si["memory_usage"]
    capacity = h_terms.capacity if h_terms.has_capacity else None

    power = _optional(limits.device_power, "power", cited, "device_power")
    if power is None and (tdp := hardware.get("tdp")) is not None:
        power = cited.use(tdp)
    budget = _optional(limits.power_budget, "power", cited, "power_budget")
    duty = avg_power = None
    rate = limits.inferences_per_second
    if power is not None:
        if rate is not None:
            duty = min(1.0, rate * latency)
            idle = _optional(limits.sleep_power, "power", cited, "sleep_power") or 0.0
            avg_power = power * duty + idle * (1 - duty)
        else:
            avg_power = power
    feasible = (capacity is None or resident <= capacity) and not (
        budget is not None and avg_power is not None and avg_power > budget)
    device = _Device(hardware, job.efficiency is None, terms.model.params_total * BYTES_PER_ELEMENT[run.precision],
                     resident, capacity, h_terms.has_bandwidth, power, duty, avg_power, budget, latency,
                     h_terms.capacity_basis)
    feasibility = EvaluationLevel("Feasibility", PASS if feasible else FAIL, build=device.feasibility)

    sla = _optional(limits.latency_sla, "time", cited, "latency_sla")
    performance = EvaluationLevel("Performance", FAIL if sla is not None and latency > sla else PASS,
                                  build=lambda: _device_performance(run, batch, sla, h_terms.has_bandwidth))
    macro = _skipped("Macro", "single device: give a duration (and a grid) for energy and carbon")
    lineage: tuple[Lineage, ...] = (*_run_lineages(run), cited)
    if sc.duration_days is not None and avg_power is not None:
        macro, sus_lineage = _device_macro(sc, avg_power)
        lineage = (*lineage, sus_lineage)

    def inputs() -> dict[str, Any]:
        shown = {"model": model.label, "hardware": hardware.label, "batch": batch, "precision": precision,
                 "efficiency": f"{run.compute_efficiency:.3g} of peak" + (" (cited)" if eff is None else "")}
        if run.seq_len > 1:
            shown["sequence"] = f"{run.seq_len} tokens"
        return shown

    return SystemEvaluation(sc.name, feasibility, performance, macro, inputs, lineage, {"inference": run})


def _device_macro(sc: Request, avg_power: float) -> tuple[EvaluationLevel, Lineage]:
    """Level 3 of one device: energy and carbon of drawing `avg_power` [W] for the scenario's days."""
    catalog, days = sc.catalog, sc.duration_days
    notes: list[str] = []
    grid_rec = check.record(sc.grid, "grids", catalog, "grid")
    if grid_rec is None:
        grid_rec = _default(catalog, "grids", DEFAULT_GRID)
        notes.append(f"grid: {grid_rec.label} (default; name a grid to change it)")
    dc_rec = check.record(sc.datacenter, "datacenters", catalog, "datacenter")
    if dc_rec is None:
        notes.append("PUE 1: a single device outside a data center has no facility overhead")
    sus = SustainabilityModel().solve(sc.job.fleet, days * SECONDS_PER_DAY, devices=1, grid=grid_rec, datacenter=dc_rec,
                                      pue=None if dc_rec is not None else 1.0, device_power=avg_power,
                                      catalog=catalog)
    kwh = sus.facility_energy / JOULES_PER_KWH
    level = EvaluationLevel(
        "Macro", PASS,
        f"{kwh:.4g} kWh, {sus.operational_carbon:.4g} kg CO2 over {days:g} days ({sus.carbon_basis}, {sus.grid})",
        {"energy_kWh": kwh, "carbon_kg": sus.operational_carbon, "carbon_basis": sus.carbon_basis, "grid": sus.grid},
        notes)
    return level, sus.lineage


@dataclass(slots=True)
class _Device:
    """The numbers behind a one-device feasibility level, for building its text on demand."""

    hardware: Record
    default_efficiency: bool
    weight_bytes: float  # [B]
    resident: float  # [B] weights + KV cache
    capacity: float | None  # [B]
    has_bandwidth: bool
    power: float | None  # [W] awake
    duty: float | None
    avg_power: float | None  # [W]
    budget: float | None  # [W]
    latency: float  # [s]
    capacity_basis: str = "marketed"  # "usable" | "marketed" | "none" (solvers.terms.memory_capacity)

    def feasibility(self) -> tuple[str, dict[str, Any], list[str]]:
        label = self.hardware.label
        notes = []
        if self.default_efficiency:
            notes.append(f"efficiency: none given, so the cited compute efficiency (assumption {COMPUTE_EFFICIENCY}), "
                         "as `mlsysim eval` uses")
        mem: dict[str, Any] = {"weights_MB": self.weight_bytes / 1e6}
        status, resident, capacity = PASS, self.resident, self.capacity
        need = "weights" if resident == self.weight_bytes else "weights and KV cache"
        if capacity is not None:
            mem["memory_capacity_MB"] = capacity / 1e6
            mem["memory_capacity_basis"] = self.capacity_basis
            if self.capacity_basis == "usable":
                notes.append(f"memory capacity: the usable figure {label} reports (memory.capacity_usable), "
                             "not the marketed one")
            if resident > capacity:
                status = FAIL
                mem["failed_check"] = "memory"
                summary = f"out of memory: {need} need {resident / 1e6:.3g} MB, the device has {capacity / 1e6:.3g} MB"
            else:
                summary = f"{need} {resident / 1e6:.3g} MB of {capacity / 1e6:.3g} MB"
        else:
            summary = f"{need} {resident / 1e6:.3g} MB (the catalog states no memory capacity for {label})"
            notes.append(f"memory feasibility not checked: {label} has no memory capacity in the catalog")
        if resident != self.weight_bytes:
            mem["memory_MB"] = resident / 1e6
        avg_power, budget = self.avg_power, self.budget
        if avg_power is not None:
            if self.duty is not None:
                mem["duty_cycle"] = self.duty
            mem["average_power_mW"] = avg_power * 1e3
            mem["energy_per_inference_mJ"] = self.power * self.latency * 1e3
        if budget is not None:
            mem["power_budget_mW"] = budget * 1e3
            if avg_power is None:
                notes.append(f"power budget not checked: no power figure for {label}")
            elif avg_power > budget and status == PASS:
                mem["failed_check"] = "power"
                summary = f"over the power budget: {avg_power * 1e3:.4g} mW average vs {budget * 1e3:.4g} mW"
            elif status == PASS:
                summary += f"; {avg_power * 1e3:.4g} mW average, within the {budget * 1e3:.4g} mW budget"
        if not self.has_bandwidth:
            notes.append(f"no memory roofline: the catalog states no memory bandwidth for {label} "
                         "(weights are read from on-chip memory)")
        return summary, mem, notes


def _device_performance(run: Any, batch: int, sla: float | None, has_bandwidth: bool) -> tuple[str, dict[str, Any], list[str]]:
    si = run.si
    latency = si["latency"]
    bottleneck = run.bottleneck.lower()
    metrics = {"latency_ms": latency * 1e3, "compute_bound_ms": si["latency_compute"] * 1e3,
               "memory_bound_ms": si["latency_memory"] * 1e3 if has_bandwidth else None,
               "bottleneck": bottleneck, "throughput_per_s": batch / latency}
    if si["latency_overhead"]:
        metrics["fixed_overhead_ms"] = si["latency_overhead"] * 1e3
    each = f", {run.seq_len} tokens each" if run.seq_len > 1 else ""
    summary = f"{latency * 1e3:.4g} ms per batch of {batch}{each} ({bottleneck}-bound)"
    if sla is not None:
        metrics["latency_sla_ms"] = sla * 1e3
        if latency > sla:
            summary += f"; misses the {sla * 1e3:g} ms deadline"
        else:
            summary += f"; meets the {sla * 1e3:g} ms deadline"
    return summary, metrics, []


def _run_lineages(run: PerformanceProfile) -> tuple[Lineage, ...]:
    """The cited values a device_inference result rests on: all of the profile's, but the
    memory-bandwidth efficiency only when there is a memory roofline to apply it to."""
    terms: RooflineTerms = run._terms
    keep_eff = terms.hardware.has_bandwidth
    return tuple(part for part in run.lineage_parts if keep_eff or part is not terms.efficiencies.lineage)


def device_inference(model: Record, hardware: Record, batch: int, precision: str, efficiency: float | None,
                     seq_len: int | None) -> PerformanceProfile:
    """One batch on one device through the single-device solver (the roofline of
    Engine.solve, mlsysim/solvers/engine.py; Williams et al. 2009): latency = max(FLOPs /
    (peak x efficiency), bytes moved / (bandwidth x cited bandwidth efficiency)), the
    weight GEMMs' FLOPs stretched by their tile/wave quantization where it applies.

    A transformer processes `seq_len` tokens per sequence (default 1: one decode-like
    step, as Engine.solve); a model with a cited FLOP count per inference, one inference
    per batch element. A device whose record states no memory bandwidth (a
    microcontroller running from on-chip memory) has no memory roofline; one that states
    no capacity is not checked for fit. `efficiency` None: the cited compute efficiency
    (mlsysim/catalog/defaults.py). Returns the PerformanceProfile (its terms in `_terms`)."""
    return solve_terms(roofline_terms(model, hardware, precision, efficiency, require_memory=False), batch, seq_len)
