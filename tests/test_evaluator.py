"""Tests for mlsysim/evaluate/evaluator.py (the three-level scorecard)."""

from __future__ import annotations

import json

import pytest

from mlsysim import Assumptions, Hardware, Models, Systems
from mlsysim.errors import MlsysimError, OOMError, SLAViolation
from mlsysim.evaluate.evaluator import SystemEvaluator


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
    # Lifecycle, the default basis (Electricity Maps 2024): Quebec ~ 30, US ~ 380 gCO2e/kWh.
    assert qc.macro.metrics["operational_carbon_t"] < us.macro.metrics["operational_carbon_t"] / 5


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


def test_one_device_is_engine_solve():
    """The scorecard's single-device path is Engine.solve's roofline (one model of a device)."""
    from mlsysim import Engine

    for model, hw, batch, precision, seq in [(Models.Language.Llama3_8B, Hardware.Cloud.H100, 4, "fp16", 512),
                                             (Models.Language.Llama3_8B, Hardware.Cloud.H100, 1, "fp16", None),
                                             (Models.get("resnet50"), Hardware.get("T4"), 32, "int8", None)]:
        ev = SystemEvaluator.evaluate("one", model, hw, batch, precision, 0.5, seq_len=seq)
        engine = Engine.solve(model, hw, batch_size=batch, precision=precision, efficiency=0.5, seq_len=seq)
        assert ev.performance.metrics["latency_ms"] == engine.si["latency"] * 1e3
        assert ev.performance.metrics["bottleneck"] == engine.bottleneck.lower()
        assert ev.results["inference"].si == engine.si
        paths = {e.path for e in ev.lineage.entries()}
        assert {e.path for e in engine.lineage.entries()} <= paths


def test_one_device_without_memory_figures():
    """A microcontroller whose record states no memory bandwidth runs from on-chip memory:
    compute-bound, no memory roofline, and the bandwidth efficiency is not listed as used."""
    ev = SystemEvaluator.evaluate("bell", Models.get("wake_vision"), Hardware.get("esp32_s3"), 1, "int8")
    assert ev.performance.metrics["memory_bound_ms"] is None
    assert ev.performance.metrics["bottleneck"] == "compute"
    assert any("no memory roofline" in n for n in ev.feasibility.notes)
    assert not any("memory_bandwidth_efficiency" in e.path for e in ev.lineage.entries())
    oom = SystemEvaluator.evaluate("big", Models.Language.Llama3_70B, Hardware.Cloud.H100, 1, "fp16")
    assert oom.feasibility.status == "FAIL" and oom.exit_code == 2
    assert "out of memory: weights and KV cache need" in oom.feasibility.summary


def test_levels_are_the_same_however_they_are_read():
    """Summaries and metrics are built on first read; reading order does not change them."""
    args = ("x", Models.Language.Llama3_8B, None, 256, "bf16", 0.45, Systems.Clusters.Research_256, 256, 3.0)
    first = SystemEvaluator.evaluate(*args)
    card = first.scorecard()
    second = SystemEvaluator.evaluate(*args)
    assert second.macro.metrics["run_cost"] == first.macro.metrics["run_cost"]
    assert second.to_dict() == first.to_dict()
    assert second.scorecard() == card
    assert "expected_interruptions" in second.performance.metrics
    assert repr(second).startswith("SystemEvaluation('x', feasibility=PASS")


def test_macro_terms_follow_the_site():
    base = {"scenario_name": "x", "model_obj": Models.Language.Llama3_8B, "batch_size": 256, "precision": "bf16",
            "efficiency": 0.45, "fleet_obj": Systems.Clusters.Research_256, "nodes": 256, "duration_days": 30.0}
    default = SystemEvaluator.evaluate(**base)
    hyperscale = SystemEvaluator.evaluate(**base, datacenter="Hyperscale")
    again = SystemEvaluator.evaluate(**base)
    assert hyperscale.macro.metrics["pue"] < default.macro.metrics["pue"] == again.macro.metrics["pue"]
    assert "datacenter: Enterprise_Avg (default" in " ".join(again.macro.notes)
    assert not any(n.startswith("datacenter:") for n in hyperscale.macro.notes)


def test_unknown_parallelism_field_is_a_clear_error():
    from mlsysim import MlsysimError, Models, SystemEvaluator, Systems

    with pytest.raises(MlsysimError, match="parallelism: unknown field 'tensor_parallel'; did you mean"):
        SystemEvaluator.evaluate(scenario_name="typo", model_obj=Models.Language.Llama3_8B, fleet_obj=Systems.Clusters.Research_256,
                                 nodes=256, batch_size=256, precision="bf16", parallelism={"tensor_parallel": 8})
