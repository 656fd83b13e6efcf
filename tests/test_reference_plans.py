"""`mlsysim eval cluster.yaml` on plans in the reference simulator's format (MLSys·im 0.3.0):
mapped onto mlsysim's plan (mlsysim/evaluate/reference_plans.py), or refused field by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.evaluate.plans import PlanError, evaluate_plan, load_plan
from mlsysim.evaluate.reference_plans import is_reference_plan
from tests.conftest import FROZEN_CATALOG

EXAMPLE = Path(__file__).parent / "fixtures" / "reference_plans" / "example_cluster.yaml"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(FROZEN_CATALOG)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(text, encoding="utf-8")
    return path


SINGLE = """\
version: "1.0"
name: one H100
workload: {name: Llama3_8B, batch_size: 8, seq_len: 1024}
hardware: {name: H100, precision: FP16, efficiency: 0.45}
"""


def test_detects_the_reference_format_by_its_workload_and_hardware_blocks():
    assert is_reference_plan({"version": "1.0", "workload": {"name": "x"}, "hardware": {"name": "H100"}})
    assert not is_reference_plan({"model": "Llama3_8B", "hardware": "H100"})
    assert not is_reference_plan(["workload", "hardware"])


def test_the_reference_readme_example_maps_to_the_smallest_h100_cluster_holding_64(catalog):
    """The reference README's example_cluster.yaml: Llama3_70B, 64 x H100, Quebec, 14 days,
    performance.latency <= 50 ms. 64 H100s: the catalog's Lab_64_H100 (8 nodes x 8)."""
    notes: list[str] = []
    args = load_plan(EXAMPLE, catalog, notes=notes)
    assert args["scenario_name"] == "Llama-3 70B training audit"
    assert args["model_obj"].id == "llama3_70b"
    assert args["fleet_obj"].id == "lab_64_h100" and args["nodes"] == 64
    assert args["batch_size"] == 4096 and args["precision"] == "fp16"
    assert args["grid"].id == "quebec" and args["duration_days"] == pytest.approx(14.0)
    assert args["step_time_sla"] == pytest.approx(0.050) and args["latency_sla"] is None
    assert args["efficiency"] is None  # not given: mlsysim's cited default, not the reference's 0.5
    said = " ".join(notes)
    assert "Lab_64_H100" in said and "50 GB/s" in said and "step time" in said and "0.5" in said


def test_the_example_evaluates_and_misses_its_50_ms_target_exit_3(cli):
    """A 70B training step on 64 GPUs takes seconds, not 50 ms: the SLA fails, exit 3 (as the reference's)."""
    result = cli("eval", str(EXAMPLE), "--catalog", str(FROZEN_CATALOG), "-o", "json")
    assert result.code == 3, result.err
    data = json.loads(result.out)
    assert data["performance"]["status"] == "FAIL"
    assert data["performance"]["metrics"]["step_time_sla_s"] == pytest.approx(0.05)
    assert "Lab_64_H100" in data["inputs"]["reference plan"]
    assert data["lineage"] and data["catalog"]["fingerprint"] == load_catalog(FROZEN_CATALOG).fingerprint


def test_one_accelerator_maps_to_hardware_and_equals_the_same_mlsysim_plan(tmp_path, catalog):
    ref = load_plan(_write(tmp_path, SINGLE), catalog)
    ours_path = tmp_path / "ours.yaml"
    ours_path.write_text("name: one H100\nmodel: Llama3_8B\nhardware: H100\nbatch_size: 8\nsequence_length: 1024\n"
                         "precision: fp16\nefficiency: 0.45\n", encoding="utf-8")
    ours = load_plan(ours_path, catalog)
    assert ref == ours
    assert ref["hardware_obj"].id == "h100_sxm" and ref["fleet_obj"] is None


def test_single_device_latency_assert_becomes_the_latency_target(tmp_path, catalog):
    text = SINGLE + "constraints:\n  assert:\n    - {metric: performance.latency, max: 20.0}\n    - {metric: performance.latency, max: 5.0}\n"
    args = load_plan(_write(tmp_path, text), catalog)
    assert args["latency_sla"] == pytest.approx(0.005)  # the tighter of two bounds
    evaluation = evaluate_plan(_write(tmp_path, text), catalog=catalog)
    assert evaluation.performance.metrics["latency_sla_ms"] == pytest.approx(5.0)


def test_node_count_times_accelerators_per_node_picks_a_cluster_with_that_many_per_node(tmp_path, catalog):
    text = SINGLE.replace("hardware: {name: H100, precision: FP16, efficiency: 0.45}",
                          "hardware: {name: H100, node_count: 16, accelerators_per_node: 8}")
    args = load_plan(_write(tmp_path, text), catalog)
    fleet = args["fleet_obj"]
    per_node = int(round(fleet.node.accelerator_count.si))
    assert args["nodes"] == 128 and per_node == 8 and per_node * fleet.node_count >= 128
    smaller = [c for c in catalog.records("clusters") if c.node.accelerator.id == "h100_sxm"
               and int(round(c.node.accelerator_count.si)) == 8 and 128 <= 8 * c.node_count < 8 * fleet.node_count]
    assert not smaller


@pytest.mark.parametrize("hardware, field, message", [
    ("{name: H100, accelerators: 64, fabric_bandwidth: 100 GB/s}", "hardware.fabric_bandwidth", "not supported"),
    ("{name: H100, accelerators: 64, intra_node_bw: 450 GB/s}", "hardware.intra_node_bw", "not supported"),
    ("{name: H100, node_count: 4}", "hardware.node_count", "needs hardware.accelerators_per_node"),
    ("{name: H100, accelerators: 30, node_count: 4, accelerators_per_node: 8}", "hardware.accelerators", "disagrees"),
    ("{name: H100, accelerators: 10000000}", "hardware.name", "no catalog cluster"),
    ("{name: H100x}", "hardware.name", "closest: H100"),
    ("{name: H100, precision: fp9}", "hardware.precision", "fp16"),
    ("{name: H100, efficiency: 1.5}", "hardware.efficiency", "less than or equal to 1"),
    ("{name: H100, accelerator: 8}", "hardware.accelerator", "did you mean 'accelerators'"),
])
def test_unsupported_or_wrong_hardware_fields_are_named_at_their_line(tmp_path, catalog, hardware, field, message):
    text = SINGLE.replace("{name: H100, precision: FP16, efficiency: 0.45}", hardware)
    with pytest.raises(PlanError) as info:
        load_plan(_write(tmp_path, text), catalog)
    lines = [str(p) for p in info.value.problems]
    hit = [line for line in lines if f": {field}: " in line and message in line]
    assert hit, lines
    assert hit[0].startswith(f"{tmp_path / 'cluster.yaml'}:4:")  # the hardware line


@pytest.mark.parametrize("workload, field, message", [
    ("{name: 'hf://meta-llama/Llama-3-8B'}", "workload.name", "not supported"),
    ("{name: Llama3_8Bx}", "workload.name", "closest: Llama3_8B"),
    ("{name: Llama3_8B, batch_size: 0}", "workload.batch_size", "greater than or equal to 1"),
])
def test_workload_problems_are_named_at_their_line(tmp_path, catalog, workload, field, message):
    text = SINGLE.replace("{name: Llama3_8B, batch_size: 8, seq_len: 1024}", workload)
    with pytest.raises(PlanError) as info:
        load_plan(_write(tmp_path, text), catalog)
    lines = [str(p) for p in info.value.problems]
    assert any(f":3:" in line and f": {field}: " in line and message in line for line in lines), lines
    assert len(lines) == 1, lines  # one problem, said once


@pytest.mark.parametrize("constraint, message", [
    ("{metric: macro.tco_usd, max: 5}", "not supported as a constraint"),
    ("{metric: performance.latency, min: 3}", "not supported: mlsysim checks upper bounds"),
    ("{metric: performance.step_latency, max: 3}", "not supported as a constraint on one accelerator"),
    ("{metric: performance.latency, max: -1}", "positive number of milliseconds"),
])
def test_constraints_mlsysim_cannot_check_are_refused(tmp_path, catalog, constraint, message):
    with pytest.raises(PlanError) as info:
        load_plan(_write(tmp_path, SINGLE + f"constraints:\n  assert:\n    - {constraint}\n"), catalog)
    lines = [str(p) for p in info.value.problems]
    assert any(":7:" in line and "constraints.assert.0" in line and message in line for line in lines), lines


def test_region_and_duration_map_to_grid_and_duration(tmp_path, catalog):
    args = load_plan(_write(tmp_path, SINGLE + "ops: {region: Norway, duration_days: 2.5}\n"), catalog)
    assert args["grid"].id == "norway" and args["duration_days"] == pytest.approx(2.5)
    with pytest.raises(PlanError, match=r"cluster.yaml:5:\d+: ops.region: no grids record named 'Narnia'"):
        load_plan(_write(tmp_path, SINGLE + "ops: {region: Narnia}\n"), catalog)


def test_version_is_required_as_in_the_reference(tmp_path, catalog):
    with pytest.raises(PlanError, match=r"version: required field"):
        load_plan(_write(tmp_path, SINGLE.replace('version: "1.0"\n', "")), catalog)


def test_bad_reference_plan_through_the_cli_is_exit_1_without_traceback(tmp_path, cli):
    path = _write(tmp_path, SINGLE.replace("H100,", "H100, fabric_bandwidth: 1 GB/s,"))
    result = cli("eval", str(path), "--catalog", str(FROZEN_CATALOG))
    assert result.code == 1
    assert "hardware.fabric_bandwidth: not supported" in result.err and "Traceback" not in result.err
