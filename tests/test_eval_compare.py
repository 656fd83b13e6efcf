"""`mlsysim eval MODEL HW1 HW2 ...` side by side, and one set of defaults for `eval`,
plans and scenarios (mlsysim/catalog/defaults.py): the same question asked three ways
gives the same number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlsysim.catalog import defaults
from mlsysim.catalog.display import format_duration, format_quantity


def _single(cli, *args: str) -> dict:
    r = cli("eval", *args, "-o", "json")
    assert r.code in (0, 2), r.err
    return json.loads(r.out)


def _table_row(text: str, name: str) -> list[str]:
    """The cells of one row of the comparison table (after the row name)."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] == name:
            return cells[1:]
    raise AssertionError(f"no row {name!r} in:\n{text}")


def test_compare_llm_has_a_column_per_hardware_with_the_single_numbers(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "A100", "--batch", "2")
    assert r.code == 0, r.err
    assert "Llama3_8B on H100, A100 (fp16; batch 2, prompt 512, output 128)" in r.out
    singles = [_single(cli, "Llama3_8B", hw, "--batch", "2") for hw in ("H100", "A100")]
    assert _table_row(r.out, "time to first token") == [format_duration(s["ttft_s"]) for s in singles]
    assert _table_row(r.out, "inter-token latency") == [format_duration(s["itl_s"]) for s in singles]
    assert _table_row(r.out, "largest batch that fits") == [str(s["max_batch_size"]) for s in singles]
    assert _table_row(r.out, "fits") == ["yes", "yes"]
    per_sequence = [format_quantity(s["kv_cache_bytes_per_token"] * (512 + 128), "information") for s in singles]
    assert _table_row(r.out, "KV cache per sequence") == per_sequence
    # The two GPUs differ: a table of one column repeated would not pass.
    assert singles[0]["ttft_s"] < singles[1]["ttft_s"]


def test_compare_json_is_the_list_of_single_objects(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "A100", "-o", "json")
    assert r.code == 0, r.err
    listed = json.loads(r.out)
    assert [d["hardware"] for d in listed] == ["H100", "A100"]
    for data, hw in zip(listed, ("H100", "A100")):
        assert data == _single(cli, "Llama3_8B", hw)


def test_compare_exit_2_when_any_does_not_fit_and_says_by_how_much(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "T4")
    assert r.code == 2
    fits = _table_row(r.out, "fits")
    assert fits[0] == "yes" and fits[1].startswith("no: ") and fits[1].endswith(" short")
    assert "Llama3_8B does not fit on T4: needs" in r.err and "H100" not in r.err.split("Error:")[1].split("try")[0]
    # JSON too: the list is printed, and the exit code is the same.
    j = cli("eval", "Llama3_8B", "H100", "T4", "-o", "json")
    assert j.code == 2 and [d["feasible"] for d in json.loads(j.out)] == [True, False]


def test_compare_exit_3_when_any_misses_a_target(cli) -> None:
    ttft = [_single(cli, "Llama3_8B", hw)["ttft_s"] for hw in ("H100", "A100")]
    between = (ttft[0] + ttft[1]) / 2 * 1e3
    r = cli("eval", "Llama3_8B", "H100", "A100", "--max-ttft-ms", f"{between:.6f}")
    assert r.code == 3
    assert "A100: time to first token" in r.err


def test_compare_cnn_uses_the_engine_columns(cli) -> None:
    r = cli("eval", "ResNet50", "T4", "A100", "--batch", "8")
    assert r.code == 0, r.err
    singles = [_single(cli, "ResNet50", hw, "--batch", "8") for hw in ("T4", "A100")]
    assert _table_row(r.out, "latency") == [format_duration(s["values"]["latency"]["value"]) for s in singles]


def test_compare_unknown_hardware_is_exit_1_with_names(cli) -> None:
    r = cli("eval", "Llama3_8B", "H100", "H1OO")
    assert r.code == 1
    assert "no hardware record named 'H1OO'" in r.err


# ---------------------------------------------------------------- one set of defaults


def test_plans_scenarios_and_evaluate_read_the_defaults_module() -> None:
    import inspect

    from mlsysim.catalog.schemas.scenario import Scenario
    from mlsysim.evaluate.evaluator import SystemEvaluator
    from mlsysim.evaluate.plans import Plan

    assert Plan.model_fields["precision"].default == Scenario.model_fields["precision"].default == defaults.PRECISION
    assert Plan.model_fields["batch_size"].default == Scenario.model_fields["batch_size"].default == defaults.BATCH_SIZE
    assert Plan.model_fields["efficiency"].default is Scenario.model_fields["efficiency"].default is None
    params = inspect.signature(SystemEvaluator.evaluate).parameters
    assert (params["precision"].default, params["batch_size"].default, params["efficiency"].default) == (
        defaults.PRECISION, defaults.BATCH_SIZE, defaults.EFFICIENCY)


def _plan(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_wakevision_on_esp32_one_number_three_ways(cli, tmp_path: Path) -> None:
    """The smart doorbell (catalog/scenarios/smart_doorbell.yaml: WakeVision, ESP32_S3, int8,
    batch 1, no efficiency) asked as a scenario, as a plan and as `eval`: one latency."""
    scenario = cli("eval", "scenario", "SmartDoorbell", "-o", "json")
    assert scenario.code == 0, scenario.err
    by_scenario = json.loads(scenario.out)["performance"]["metrics"]["latency_ms"] / 1e3
    plan = cli("eval", str(_plan(tmp_path, "model: WakeVision\nhardware: ESP32_S3\nprecision: int8\n")), "-o", "json")
    assert plan.code == 0, plan.err
    by_plan = json.loads(plan.out)["performance"]["metrics"]["latency_ms"] / 1e3
    direct = cli("eval", "WakeVision", "ESP32_S3", "--precision", "int8", "-o", "json")
    assert direct.code == 0, direct.err  # it used to fail: "no memory.bandwidth"
    by_eval = json.loads(direct.out)["values"]["latency"]["value"]
    assert by_eval == pytest.approx(by_scenario, rel=1e-12) and by_eval == pytest.approx(by_plan, rel=1e-12)


def test_unset_fields_give_the_same_number_as_eval(cli, tmp_path: Path) -> None:
    """A plan naming only model and hardware takes eval's precision and cited efficiency
    (it used to take bf16 and the device's peak)."""
    plan = cli("eval", str(_plan(tmp_path, "model: ResNet50\nhardware: T4\n")), "-o", "json")
    assert plan.code == 0, plan.err
    data = json.loads(plan.out)
    assert data["inputs"]["precision"] == defaults.PRECISION
    assert data["inputs"]["efficiency"].endswith("(cited)")
    direct = _single(cli, "ResNet50", "T4")
    assert direct["compute_efficiency_source"] == "catalog"
    assert direct["values"]["latency"]["value"] == pytest.approx(data["performance"]["metrics"]["latency_ms"] / 1e3, rel=1e-12)
