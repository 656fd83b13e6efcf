"""Tests for mlsysim/evaluate/scenarios.py, mlsysim/evaluate/plans.py and `mlsysim eval` (mlsysim/cli/fleet_eval_cmd.py)."""

from __future__ import annotations

import json

import pytest

from mlsysim.evaluate.plans import PlanError, load_plan
from mlsysim.evaluate.scenarios import Scenarios, evaluate_scenario


@pytest.mark.parametrize("name", ["smart_doorbell", "autonomous_vehicle", "frontier_llm_training"])
def test_lighthouse_scenarios_evaluate(name):
    ev = evaluate_scenario(name)
    assert ev.feasibility.status == "PASS"
    assert ev.performance.status == "PASS"
    assert len(ev.lineage) > 3


def test_scenario_registry():
    assert Scenarios.SmartDoorbell.id == "smart_doorbell"
    assert Scenarios.FrontierTraining.cluster.id == "frontier_8k"


def test_frontier_scenario_uses_its_layout():
    ev = evaluate_scenario("frontier_llm_training")
    assert ev.feasibility.metrics["layout"].startswith("TP8 x PP16 x CP1 x DP64")
    assert ev.performance.metrics["expected_interruptions"] > 10


def test_cli_scenario(cli):
    result = cli("eval", "scenario", "SmartDoorbell")
    assert result.code == 0
    assert "Level 1: Feasibility [PASS]" in result.out
    result = cli("eval", "scenario", "autonomous_vehicle", "-o", "json")
    assert result.code == 0
    assert json.loads(result.out)["performance"]["metrics"]["latency_sla_ms"] == 10
    result = cli("eval", "scenario", "frontier", "--explain")
    assert result.code == 1
    assert "no scenarios record named 'frontier'" in result.err


def test_cli_explain_lists_sources(cli):
    result = cli("eval", "scenario", "smart_doorbell", "--explain")
    assert result.code == 0
    assert "assumptions/esp32_s3_devkit_awake_power#quantity = 105 mW" in result.out


PLAN = """name: research run
model: Llama3_8B
cluster: Research_256
batch_size: 256
sequence_length: 8192
precision: bf16
efficiency: 0.45
parallelism: {tp: 1, pp: 1, zero: 1, recompute: selective}
grid: Quebec
datacenter: Hyperscale
duration: 30 days
"""


def test_plan_runs(tmp_path, cli):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    args = load_plan(plan)
    assert args["duration_days"] == pytest.approx(30)
    assert args["grid"].id == "quebec"
    result = cli("eval", str(plan))
    assert result.code == 0, result.err
    assert "Quebec (CA-QC" in result.out


def test_plan_sla_miss_exits_3(tmp_path, cli):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN + "sla: {step_time: 1 ms}\n")
    result = cli("eval", str(plan))
    assert result.code == 3
    assert "misses the 0.001 s step-time target" in result.out


def test_plan_infeasible_exits_2(tmp_path, cli):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("Llama3_8B", "Llama3_1_405B").replace("batch_size: 256", "batch_size: 256"))
    result = cli("eval", str(plan))
    assert result.code == 2
    assert "Feasibility [FAIL]" in result.out


def test_plan_problems_are_positioned(tmp_path, cli):
    plan = tmp_path / "bad.yaml"
    plan.write_text("model: Llama3_8X\ncluster: Research_256\ngrid: Atlantis\nduration: 30 GB\nparallelism: {tp: 1, ppp: 2}\n")
    with pytest.raises(PlanError) as info:
        load_plan(plan)
    text = str(info.value)
    assert "4 problems in" in text
    assert f"{plan}:1:8: model: no models record named 'Llama3_8X'; closest: Llama3_8B" in text
    assert f"{plan}:3:7: grid: no grids record named 'Atlantis'" in text
    assert f"{plan}:4:11: duration: 'GB' is not a time; write e.g. 'hour'" in text
    assert f"{plan}:5:22: parallelism.ppp: unknown field 'ppp'; did you mean 'pp'?" in text
    result = cli("eval", str(plan))
    assert result.code == 1
    assert "Error: 4 problems in" in result.err and "Traceback" not in result.err


MPT_PLAN = """name: MPT-760M with FSDP
model: LLMFoundry_MPT_760M
cluster: MosaicML_A100_80GB_RoCE_64
devices: 8
batch_size: 96
sequence_length: 8192
precision: bf16
efficiency: null
parallelism: {tp: 1, pp: 1, zero: 3, microbatch: 6, recompute: none, overlap_grad_reduce: true, overlap_param_gather: true}
"""


def test_a_plan_names_its_attention_kernel(tmp_path, cli):
    """A plan's attention_kernel reaches the training solver and the scorecard's inputs; a
    misspelt one is a positioned problem; one the accelerator has no figure for, or a number
    for every kernel beside it, is a clear error, not a stand-in."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(MPT_PLAN + "attention_kernel: flashattention_triton\n")
    triton = cli("eval", str(plan))
    plan.write_text(MPT_PLAN)
    default = cli("eval", str(plan))
    assert triton.code == default.code == 0, triton.err + default.err
    assert "attention kernel: flashattention_triton" in triton.out and "attention kernel" not in default.out
    assert "167,249 tokens/s" in triton.out and "233,361 tokens/s" in default.out

    plan.write_text(MPT_PLAN + "attention_kernel: triton\n")
    with pytest.raises(PlanError, match="attention_kernel"):
        load_plan(plan)
    plan.write_text(MPT_PLAN.replace("MosaicML_A100_80GB_RoCE_64", "Lab_64_H100")
                    + "attention_kernel: flashattention_triton\n")
    hopper = cli("eval", str(plan))
    assert hopper.code == 1 and "no efficiency of flashattention_triton attention is cited for H100" in hopper.err
    plan.write_text(MPT_PLAN.replace("efficiency: null", "efficiency: 0.5") + "attention_kernel: flashattention2\n")
    both = cli("eval", str(plan))
    assert both.code == 1 and "pass one or the other" in both.err and "Traceback" not in both.err


def test_the_attention_kernel_is_refused_where_it_prices_nothing() -> None:
    """One device's inference and a ResNet's training take no named attention kernel."""
    from mlsysim import Hardware, Models, Systems
    from mlsysim.errors import MlsysimError
    from mlsysim.evaluate.evaluator import SystemEvaluator

    with pytest.raises(MlsysimError, match="prices training on a cluster"):
        SystemEvaluator.evaluate("one device", Models.Language.Llama3_8B, Hardware.H100,
                                 attention_kernel="flashattention3")
    with pytest.raises(MlsysimError, match="is a ResNet, which has no attention"):
        SystemEvaluator.evaluate("cnn", Models.Vision.ResNet50, fleet_obj=Systems.Clusters.Lab_64_A100, nodes=8,
                                 batch_size=2048, attention_kernel="flashattention2")


def test_plan_needs_one_system(tmp_path):
    plan = tmp_path / "p.yaml"
    plan.write_text("model: Llama3_8B\n")
    with pytest.raises(PlanError, match="give exactly one of 'cluster'"):
        load_plan(plan)


def test_cli_bad_target(cli, tmp_path):
    result = cli("eval", "scenario")
    assert result.code == 1
    assert "name the scenario: mlsysim eval scenario NAME" in result.err
    result = cli("eval", "scenario", "no_such_scenario")
    assert result.code == 1
    assert "no scenarios record named 'no_such_scenario'" in result.err
    result = cli("eval", str(tmp_path / "missing.yaml"))
    assert result.code == 1
    assert "no such plan file" in result.err


def test_scenario_records_are_validated(catalog_copy, cli):
    root = catalog_copy({"scenarios/bad.yaml": "id: bad\nname: Bad\napplication: x\nmode: training\nmodel: fixture_lm\n"
                                              "hardware: fx100\nlatency_sla: {value: 10, unit: GB, source: fixture-datasheet}\n"})
    result = cli("catalog", "validate", "--catalog", str(root))
    assert result.code == 1
    assert "scenarios/bad.yaml:7:32: latency_sla.unit: 'GB' is not a time; write e.g. 'hour'" in result.out + result.err
    root = catalog_copy({"scenarios/bad.yaml": "id: bad\nname: Bad\napplication: x\nmode: inference\nmodel: fixture_lm\nhardware: fx999\n"})
    result = cli("catalog", "validate", "--catalog", str(root))
    assert "scenarios/bad.yaml:6:11: hardware: no hardware record with id 'fx999'" in result.out + result.err
