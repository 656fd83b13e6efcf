"""Tests for mlsysim/evaluator.py (the three-level scorecard)."""

from __future__ import annotations

import json

import pytest

from mlsysim import Assumptions, Hardware, Models, Systems
from mlsysim.errors import MlsysimError, OOMError, SLAViolation
from mlsysim.evaluator import SystemEvaluator


def test_seed_call():
    """The reference tool's call shape works as is."""
    ev = SystemEvaluator.evaluate(scenario_name="seed", model_obj=Models.Language.Llama3_8B,
                                  hardware_obj=Hardware.Cloud.H100, batch_size=256, precision="bf16",
                                  efficiency=0.45, fleet_obj=Systems.Clusters.Research_256, nodes=256,
                                  duration_days=30.0)
    assert ev.feasibility.status == "PASS"
    assert ev.performance.status == "PASS"
    assert ev.macro.status in ("PASS", "WARNING")
    assert ev.macro.metrics["duration_days"] == pytest.approx(30)
    assert ev.macro.metrics["operational_carbon_t"] > 0
    card = ev.scorecard()
    assert "Level 1: Feasibility [PASS]" in card and "Level 3: Macro" in card
    assert "grid: US_Avg (default" in card
    data = json.loads(ev.to_json())
    assert data["performance"]["metrics"]["mfu"] == pytest.approx(ev.performance.metrics["mfu"])
    assert data["lineage"] and all("source_id" in e for e in data["lineage"])


def test_grid_changes_the_scorecard():
    args = dict(scenario_name="x", model_obj=Models.Language.Llama3_8B, batch_size=256, precision="bf16",
                efficiency=0.45, fleet_obj=Systems.Clusters.Research_256, nodes=256, duration_days=30.0,
                datacenter="Hyperscale")
    us = SystemEvaluator.evaluate(**args, grid="US_Avg")
    qc = SystemEvaluator.evaluate(**args, grid="Quebec")
    assert qc.macro.metrics["operational_carbon_t"] < us.macro.metrics["operational_carbon_t"] / 100


def test_raise_errors_oom_and_sla():
    with pytest.raises(OOMError, match="no layout fits"):
        SystemEvaluator.evaluate("big", Models.Language.Llama3_1_405B, None, 8, "bf16", 0.5,
                                 Systems.Clusters.Research_256, 8, raise_errors=True)
    with pytest.raises(SLAViolation, match="misses the 0.001 s step-time target"):
        SystemEvaluator.evaluate("slow", Models.Language.Llama3_8B, None, 256, "bf16", 0.45,
                                 Systems.Clusters.Research_256, 256, step_time_sla=0.001, raise_errors=True)
    with pytest.raises(SLAViolation, match="misses the 0.001 ms deadline"):
        SystemEvaluator.evaluate("av", Models.Vision.YOLOv8_Nano if hasattr(Models.Vision, "YOLOv8_Nano") else Models.get("yolov8_nano"),
                                 Hardware.get("jetson_orin_nx"), 1, "int8", latency_sla=1e-6, raise_errors=True)


def test_invalid_layout_fails_feasibility():
    ev = SystemEvaluator.evaluate("bad", Models.Language.Llama3_8B, None, 256, "bf16", 0.45,
                                  Systems.Clusters.Research_256, 256, parallelism={"tp": 3})
    assert ev.feasibility.status == "FAIL"
    assert "not divisible by TP x PP x CP = 3 x 1 x 1" in ev.feasibility.summary
    assert ev.exit_code == 2


def test_power_budget_with_duty_cycle():
    args = dict(scenario_name="bell", model_obj=Models.get("wake_vision"), hardware_obj=Hardware.get("esp32_s3"),
                batch_size=1, precision="int8", device_power=Assumptions.ESP32_S3_Awake_Power,
                sleep_power=Assumptions.ESP32_S3_Sleep_Power, power_budget=0.1)
    duty = SystemEvaluator.evaluate(**args, inferences_per_second=1)
    assert duty.feasibility.status == "PASS"
    assert duty.feasibility.metrics["average_power_mW"] < 1
    always_on = SystemEvaluator.evaluate(**args)  # 105 mW awake > 100 mW
    assert always_on.feasibility.status == "FAIL"
    assert "over the power budget" in always_on.feasibility.summary


def test_needs_a_system():
    with pytest.raises(MlsysimError, match="pass hardware_obj="):
        SystemEvaluator.evaluate("none", Models.Language.Llama3_8B)
