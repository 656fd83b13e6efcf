"""User plans: a YAML file naming a model, a system, a layout, a site and targets.

    # plan.yaml
    name: Llama 3 8B on the research cluster
    model: Llama3_8B
    cluster: Research_256          # or  hardware: H100  (one device, inference)
    devices: 256
    batch_size: 256
    sequence_length: 8192
    precision: bf16
    efficiency: 0.45               # or an assumption name, e.g. MFU_Megatron_1T
    parallelism: {tp: 1, pp: 1, zero: 1, recompute: selective}   # or: auto
    attention_kernel: flashattention2  # optional: price attention at this kernel's figures
    grid: Quebec
    datacenter: Hyperscale
    duration: 30 days
    sla: {step_time: 2 s}

Plans are checked like catalog records: every problem is reported at once as
`plan.yaml:line:col: field: problem; fix`, including names that match no record
(with the closest names) and quantities in the wrong unit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from mlsysim.catalog import Catalog, default_catalog, defaults
from mlsysim.errors import MlsysimError, NotFoundError
from mlsysim.evaluate.evaluator import SystemEvaluation, SystemEvaluator
from mlsysim.evaluate.reference_plans import is_reference_plan, translate
from mlsysim.catalog.loader import translate_errors
from mlsysim.catalog.schemas.common import ATTENTION_KERNELS, Schema, at
from mlsysim.catalog.schemas.hardware import Precision
from mlsysim.catalog.schemas.scenario import ParallelLayout
from provenance.problems import Problem
from provenance.yamlio import Located, read_located


class PlanError(MlsysimError):
    """A plan file has problems; every one is listed."""

    def __init__(self, file: str, problems: list[Problem]):
        self.problems = problems
        count = len(problems)
        lines = "\n".join(str(p) for p in problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in {file}:\n{lines}")


class Targets(Schema):
    step_time: str | None = None
    latency: str | None = None
    power: str | None = None


class Plan(Schema):
    name: str | None = None
    model: str
    hardware: str | None = None
    cluster: str | None = None
    devices: int | None = Field(default=None, ge=1)
    # Unset fields take the defaults `mlsysim eval` and scenarios take (mlsysim/catalog/defaults.py).
    precision: Precision = defaults.PRECISION
    # At most a million sequences: the layout search factors the batch, and far larger
    # batches are input mistakes (a typo'd exponent), not training jobs.
    batch_size: int = Field(default=defaults.BATCH_SIZE, ge=1, le=1_000_000)
    sequence_length: int | None = Field(default=None, ge=1)
    efficiency: float | str | None = defaults.EFFICIENCY  # None: the cited efficiency
    parallelism: ParallelLayout | None = None  # None or "auto": the fastest layout that fits
    # Training: the fused-attention kernel the run uses (its cited figures); None: the default one.
    attention_kernel: Literal[ATTENTION_KERNELS] | None = None  # type: ignore[valid-type]
    grid: str | None = None
    datacenter: str | None = None
    duration: str | None = None
    tokens: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    sla: Targets | None = None
    device_power: str | None = None
    sleep_power: str | None = None
    inferences_per_second: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    _auto_layout = field_validator("parallelism", mode="before")(lambda v: None if v == "auto" else v)

    @model_validator(mode="after")
    def _one_system(self) -> Plan:
        if (self.hardware is None) == (self.cluster is None):
            raise ValueError(at("cluster", "give exactly one of 'cluster' (training on a cluster) or 'hardware' (one device)"))
        if isinstance(self.efficiency, float) and not 0 < self.efficiency <= 1:
            raise ValueError(at("efficiency", f"{self.efficiency:g} is not a fraction in (0, 1]; write e.g. 0.45"))
        return self


_EXAMPLE_UNITS = {"time": "30 days", "power": "100 mW"}


def _quantity(text: str, dimension: str, located: Located, loc: list[str], problems: list[Problem]) -> float | None:
    """'30 days' -> seconds (SI float), or a positioned problem."""
    from mlsysim.catalog.units import UnitError, to_canonical

    number, _, unit = str(text).strip().partition(" ")
    try:
        value = float(number)
    except ValueError:
        problems.append(located.problem(loc, f"{text!r} is not a quantity; write a number and a unit, e.g. '{_EXAMPLE_UNITS[dimension]}'"))
        return None
    try:
        si = to_canonical(value, unit.strip(), dimension)
    except UnitError as exc:
        problems.append(located.problem(loc, f"{exc}"))
        return None
    if si <= 0:
        problems.append(located.problem(loc, f"must be positive, got {text!r}"))
        return None
    return si


def _check_fraction(assumption: Any, located: Located, problems: list[Problem]) -> None:
    """An efficiency named by an assumption must be a dimensionless fraction in (0, 1]
    (a time such as kernel_launch_overhead is not an MFU)."""
    quantity = assumption.quantity if assumption.has("quantity") else None
    if quantity is None or quantity.dimension != "dimensionless":
        what = "no quantity" if quantity is None else f"a {quantity.dimension.replace('_', ' ')} ({quantity.value:g} {quantity.unit})"
        problems.append(located.problem(["efficiency"], f"{assumption.ref} is {what}, not an efficiency; "
                                        "name a dimensionless fraction in (0, 1], e.g. MFU_Megatron_1T, or write e.g. 0.45"))
    elif not 0 < quantity.si <= 1:
        problems.append(located.problem(["efficiency"], f"{assumption.ref} is {quantity.si:g}, not a fraction in (0, 1]"))


def _lookup(kind: str, name: str, located: Located, loc: list[str], catalog: Catalog, problems: list[Problem]) -> Any:
    try:
        return catalog.get(kind, name)
    except NotFoundError as exc:
        problems.append(located.problem(loc, f"{exc}; see `mlsysim zoo`"))
        return None


def load_plan(path: str | os.PathLike[str], catalog: Catalog | None = None, *, data: bytes | None = None,
              notes: list[str] | None = None) -> dict[str, Any]:
    """Read and check a plan file; return SystemEvaluator.evaluate keyword arguments.
    Raises PlanError listing every problem (file:line:col: field: problem; fix).

    `data`, when given, is the plan's text (then `path` only names it in messages). A plan
    in the reference simulator's format is mapped onto this one (reference_plans.py);
    `notes`, when given, receives the choices that mapping made."""
    catalog = catalog or default_catalog()
    path = Path(path)
    display = str(path)
    if data is None and not path.is_file():
        raise MlsysimError(f"{display}: no such plan file")
    located, problems = read_located(path, display, data)
    if located is None:
        raise PlanError(display, problems)
    if not isinstance(located.data, dict):
        raise PlanError(display, [Problem(display, 1, 1, "", "a plan must be a mapping of fields; start with 'model: <name>'")])
    if is_reference_plan(located.data):
        located, problems = translate(located, catalog, notes)
        if located is None:
            raise PlanError(display, problems)
    try:
        plan = Plan.model_validate(located.data)
    except ValidationError as exc:
        # Report the names and quantities that can still be checked alongside the schema problems.
        problems = [*problems, *translate_errors(exc, located, Plan)]
        _check_raw(located, catalog, problems)
        raise PlanError(display, sorted(set(problems))) from None
    args = _resolve(plan, located, catalog, problems)
    if problems:
        raise PlanError(display, sorted(set(problems)))
    args["scenario_name"] = plan.name or path.stem
    return args


_NAMED = {"model": "models", "hardware": "hardware", "cluster": "clusters", "grid": "grids", "datacenter": "datacenters"}


def _check_raw(located: Located, catalog: Catalog, problems: list[Problem]) -> None:
    data = located.data
    for field, kind in _NAMED.items():
        if isinstance(data.get(field), str):
            _lookup(kind, data[field], located, [field], catalog, problems)
    if isinstance(data.get("duration"), str):
        _quantity(data["duration"], "time", located, ["duration"], problems)
    sla = data.get("sla")
    if isinstance(sla, dict):
        for field, dimension in (("step_time", "time"), ("latency", "time"), ("power", "power")):
            if isinstance(sla.get(field), str):
                _quantity(sla[field], dimension, located, ["sla", field], problems)


def _resolve(plan: Plan, located: Located, catalog: Catalog, problems: list[Problem]) -> dict[str, Any]:
    model = _lookup("models", plan.model, located, ["model"], catalog, problems)
    hardware = _lookup("hardware", plan.hardware, located, ["hardware"], catalog, problems) if plan.hardware else None
    cluster = _lookup("clusters", plan.cluster, located, ["cluster"], catalog, problems) if plan.cluster else None
    if cluster is not None and plan.devices is not None:
        from mlsysim.solvers.fleet import fleet_of

        try:
            fleet_of(cluster, plan.devices)
        except MlsysimError as exc:
            problems.append(located.problem(["devices"], str(exc)))
    grid = _lookup("grids", plan.grid, located, ["grid"], catalog, problems) if plan.grid else None
    datacenter = _lookup("datacenters", plan.datacenter, located, ["datacenter"], catalog, problems) if plan.datacenter else None
    efficiency: Any = plan.efficiency
    if isinstance(efficiency, str):
        efficiency = _lookup("assumptions", efficiency, located, ["efficiency"], catalog, problems)
        if efficiency is not None:
            _check_fraction(efficiency, located, problems)
    duration = _quantity(plan.duration, "time", located, ["duration"], problems) if plan.duration else None
    sla = plan.sla or Targets()
    step_sla = _quantity(sla.step_time, "time", located, ["sla", "step_time"], problems) if sla.step_time else None
    latency_sla = _quantity(sla.latency, "time", located, ["sla", "latency"], problems) if sla.latency else None
    power_budget = _quantity(sla.power, "power", located, ["sla", "power"], problems) if sla.power else None
    powers: dict[str, Any] = {}
    for field in ("device_power", "sleep_power"):
        text = getattr(plan, field)
        if text is None:
            powers[field] = None
        elif text.strip()[:1].isdigit():
            powers[field] = _quantity(text, "power", located, [field], problems)
        else:
            powers[field] = _lookup("assumptions", text, located, [field], catalog, problems)
    parallelism = "auto" if plan.parallelism is None else plan.parallelism.model_dump()
    return {
        "model_obj": model,
        "hardware_obj": hardware,
        "batch_size": plan.batch_size,
        "precision": plan.precision,
        "efficiency": efficiency,
        "fleet_obj": cluster,
        "nodes": plan.devices if cluster is not None else 1,
        "duration_days": duration / 86400 if duration is not None else None,
        "seq_len": plan.sequence_length,
        "parallelism": parallelism,
        "grid": grid,
        "datacenter": datacenter,
        "tokens": plan.tokens,
        "step_time_sla": step_sla,
        "latency_sla": latency_sla,
        "power_budget": power_budget,
        "inferences_per_second": plan.inferences_per_second,
        "attention_kernel": plan.attention_kernel,
        **powers,
    }


def evaluate_plan(path: str | os.PathLike[str], *, catalog: Catalog | None = None,
                  raise_errors: bool = False) -> SystemEvaluation:
    """Check a plan file and evaluate it on the three levels."""
    catalog = catalog or default_catalog()
    notes: list[str] = []
    evaluation = SystemEvaluator.evaluate(**load_plan(path, catalog, notes=notes), raise_errors=raise_errors, catalog=catalog)
    if notes:  # a reference-format plan: say what its mapping chose
        evaluation.inputs["reference plan"] = "; ".join(notes)
    return evaluation
