"""Scenarios from the catalog (catalog/scenarios/), evaluated end to end.

    >>> from mlsysim.evaluate.scenarios import Scenarios, evaluate_scenario
    >>> print(evaluate_scenario("smart_doorbell").scorecard())   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from mlsysim.catalog import Catalog, default_catalog
from mlsysim.errors import MlsysimError
from mlsysim.evaluate.evaluator import SystemEvaluation, SystemEvaluator
from mlsysim.catalog.records import Record
from mlsysim.catalog.registry import Registry

Scenarios = Registry("scenarios")


def scenario_arguments(scenario: Record) -> dict[str, Any]:
    """The SystemEvaluator.evaluate keyword arguments a scenario record stands for."""
    if scenario.kind != "scenarios":
        raise MlsysimError(f"{scenario.ref} is not a scenario")
    layout = scenario.get("parallelism", "auto")
    if not isinstance(layout, str):
        layout = {key: layout[key] for key in layout.keys()}
    training = scenario.mode == "training"
    args: dict[str, Any] = {
        "scenario_name": scenario.name,
        "model_obj": scenario.model,
        "hardware_obj": scenario.get("hardware"),
        "batch_size": scenario.batch_size,
        "precision": scenario.precision,
        "efficiency": scenario.get("efficiency"),
        "fleet_obj": scenario.get("cluster"),
        "duration_days": scenario.get("duration_days"),
        "seq_len": scenario.get("sequence_length"),
        "grid": scenario.get("grid"),
        "datacenter": scenario.get("datacenter"),
        "latency_sla": scenario.get("latency_sla"),
        "step_time_sla": scenario.get("step_time_sla"),
        "power_budget": scenario.get("power_budget"),
        "device_power": scenario.get("device_power"),
        "sleep_power": scenario.get("sleep_power"),
        "inferences_per_second": scenario.get("inferences_per_second"),
    }
    if training:
        args["nodes"] = scenario.get("devices")  # None: the whole cluster
        args["parallelism"] = layout
    return args


def evaluate_scenario(scenario: Record | str, *, catalog: Catalog | None = None,
                      raise_errors: bool = False) -> SystemEvaluation:
    """Evaluate a scenario record (or its id, alias or name) on the three levels."""
    catalog = catalog or default_catalog()
    if isinstance(scenario, str):
        scenario = catalog.get("scenarios", scenario)
    return SystemEvaluator.evaluate(**scenario_arguments(scenario), raise_errors=raise_errors, catalog=catalog)
