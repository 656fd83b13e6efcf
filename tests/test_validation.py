"""mlsysim/evaluate/validation.py, the `measurement` record kind and `mlsysim validate`.

Fast tests run on a copy of the fixture catalog with two cited efficiencies and three
measurement records whose expected errors are computed here by hand; one test reads the
bundled catalog's measurements.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The two efficiencies Engine.solve reads, fixed at round numbers for hand arithmetic.
EFFICIENCIES = {
    "assumptions/prefill_compute_efficiency.yaml": """\
id: prefill_compute_efficiency
name: Fixture compute efficiency
dimension: dimensionless
quantity: {value: 50, unit: percent, source: fixture-datasheet}
""",
    "assumptions/gemm_compute_efficiency.yaml": """\
id: gemm_compute_efficiency
name: Fixture GEMM kernel efficiency
dimension: dimensionless
quantity: {value: 50, unit: percent, source: fixture-datasheet}
""",
    "assumptions/decode_memory_bandwidth_efficiency.yaml": """\
id: decode_memory_bandwidth_efficiency
name: Fixture memory-bandwidth efficiency
dimension: dimensionless
quantity: {value: 80, unit: percent, source: fixture-datasheet}
""",
    # The training solver's cited constants, at the values their papers state.
    "assumptions/backward_forward_flops_ratio.yaml": """\
id: backward_forward_flops_ratio
name: Fixture backward/forward FLOPs ratio
dimension: dimensionless
quantity: {value: 2, source: fixture-datasheet}
""",
    "assumptions/adam_optimizer_state_bytes_mixed_precision.yaml": """\
id: adam_optimizer_state_bytes_mixed_precision
name: Fixture Adam state bytes per parameter
dimension: information
quantity: {value: 12, unit: B, source: fixture-datasheet}
""",
    "assumptions/zero3_communication_volume_ratio.yaml": """\
id: zero3_communication_volume_ratio
name: Fixture ZeRO-3 communication volume ratio
dimension: dimensionless
quantity: {value: 1.5, source: fixture-datasheet}
""",
    "assumptions/allreduce_activation_bytes.yaml": """\
id: allreduce_activation_bytes
name: Fixture all-reduce activation bytes
dimension: information
quantity: {value: 2, unit: B, source: fixture-datasheet}
""",
}

LATENCY_ROW = """\
id: fx_cnn_b1_latency
name: Fixture CNN on FX100, batch 1
category: latency
hardware: fx100
devices: 1
model: fixture_cnn
config: {precision: fp16, batch_size: 1}
metric: latency
measured: {value: 0.025, unit: ms, source: fixture-model-card, locator: "Table 9", as_stated: "25 us", method: measured}
"""

THROUGHPUT_ROW = """\
id: fx_cnn_b64_throughput
name: Fixture CNN on FX100, batch 64
category: throughput
hardware: fx100
devices: 1
model: fixture_cnn
config: {precision: fp16, batch_size: 64}
metric: samples_per_s
measured: {value: 50000, unit: 1/s, source: fixture-model-card, method: measured}
"""

UNDER_LOAD_ROW = """\
id: fx_lm_server
name: Fixture LM served at 10 requests/s
category: under_load
hardware: fx100
devices: 1
model: fixture_lm
config: {precision: fp16, prompt_tokens: 512, output_tokens: 128, arrival_rate: 10}
metric: tokens_per_s
measured: {value: 1200, unit: token/s, source: fixture-model-card, method: measured}
"""


@pytest.fixture
def measured_catalog(catalog_copy):
    return catalog_copy({
        **EFFICIENCIES,
        "measurements/fx_cnn_b1_latency.yaml": LATENCY_ROW,
        "measurements/fx_cnn_b64_throughput.yaml": THROUGHPUT_ROW,
        "measurements/fx_lm_server.yaml": UNDER_LOAD_ROW,
    })


def _report(root: Path, category: str | None = None):
    from mlsysim.catalog import load_catalog
    from mlsysim.evaluate.validation import validate

    return validate(load_catalog(root), category)


def _train_row_and_direct(catalog_copy, row, **layout):
    """The runner's result for training `row` on the fixture catalog, and a function solving
    the same job directly with DistributedModel (its layout plus `layout`, recomputation as
    the runner chose it)."""
    from mlsysim import DistributedModel
    from mlsysim.catalog import load_catalog

    root = catalog_copy({**EFFICIENCIES, "measurements/fx_lm_train.yaml": row})
    [result] = _report(root).results
    cat = load_catalog(root)
    [recompute] = [a.split(" = ")[1].split(" ")[0] for a in result.assumed if a.startswith("recompute")]

    def direct(**more):
        return DistributedModel().solve(cat.get("models", "fixture_lm"), cat.get("clusters", "fixture_cluster"),
                                        batch_size=64, precision="fp16",
                                        efficiency=cat.get("assumptions", "gemm_compute_efficiency"), tp=2, pp=2,
                                        devices=16, seq_len=2048, recompute=recompute, **layout, **more)

    return result, direct


def test_a_row_stating_materialised_attention_is_priced_so(catalog_copy):
    """config fused_attention false (attention before FlashAttention) reaches the solver as
    fused_attention=False: the scores' traffic is priced, so the step is slower than the same
    row's with fused attention."""
    result, direct = _train_row_and_direct(catalog_copy, TRAIN_ROW.replace("dp: 4}}", "dp: 4}, fused_attention: false}"))
    unfused, fused = direct(fused_attention=False), direct()
    assert result.status == "ok", result.reason
    assert result.predicted == pytest.approx(unfused.achieved_flops_per_device, rel=1e-12)
    assert unfused.step_time > fused.step_time


# ---------------------------------------------------------------- schema


def test_measured_unit_in_the_wrong_dimension_is_located(catalog_copy):
    """A tokens_per_s figure written in ms is a load error at the unit's line and column."""
    from mlsysim.catalog import check

    bad = THROUGHPUT_ROW.replace("metric: samples_per_s", "metric: tokens_per_s").replace("unit: 1/s", "unit: ms")
    root = catalog_copy({"measurements/fx_cnn_b64_throughput.yaml": bad})
    _, problems = check(root)
    [problem] = [p for p in problems if p.file == "measurements/fx_cnn_b64_throughput.yaml"]
    assert (problem.line, problem.field) == (9, "measured.unit")
    assert "metric tokens_per_s" in problem.message and "token/s" in problem.message


def test_unknown_reference_and_category_are_located(catalog_copy):
    from mlsysim.catalog import check

    bad = LATENCY_ROW.replace("hardware: fx100", "hardware: fx999")
    worse = LATENCY_ROW.replace("category: latency", "category: serving").replace("id: fx_cnn_b1_latency", "id: fx_other")
    root = catalog_copy({"measurements/fx_cnn_b1_latency.yaml": bad, "measurements/fx_other.yaml": worse})
    _, problems = check(root)
    by_file = {p.file: p for p in problems}
    ref = by_file["measurements/fx_cnn_b1_latency.yaml"]
    assert (ref.line, ref.field) == (4, "hardware") and "fx999" in ref.message
    cat = by_file["measurements/fx_other.yaml"]
    assert (cat.line, cat.field) == (3, "category") and "'serving' is not allowed" in cat.message


def test_mfu_above_one_is_rejected(catalog_copy):
    from mlsysim.catalog import check

    row = LATENCY_ROW.replace("metric: latency", "metric: mfu").replace("value: 0.025, unit: ms", "value: 43, unit: ''")
    _, problems = check(catalog_copy({"measurements/fx_cnn_b1_latency.yaml": row}))
    [problem] = problems
    assert problem.field == "measured.value" and "exceeds 100%" in problem.message


def test_a_row_reducing_gradients_in_fp32_is_priced_so(catalog_copy):
    """parallelism grad_reduce_fp32 reaches the solver as grad_reduce_fp32; a row that does
    not state it is priced at the training precision and says so."""
    row = TRAIN_ROW.replace("dp: 4}}", "dp: 4, grad_reduce_fp32: true}}")
    result, direct = _train_row_and_direct(catalog_copy, row, grad_reduce_fp32=True)
    assert result.status == "ok" and result.predicted == pytest.approx(direct().achieved_flops_per_device, rel=1e-12)
    assert not any(a.startswith("grad_reduce_fp32") for a in result.assumed)
    [unstated] = _report(catalog_copy({**EFFICIENCIES, "measurements/fx_lm_train.yaml": TRAIN_ROW})).results
    assert "grad_reduce_fp32 = False (not stated)" in unstated.assumed


def test_a_row_all_reducing_full_gradients_is_priced_so(catalog_copy):
    """parallelism full_grad_allreduce reaches the solver; a ZeRO 1-2 row that does not state
    it is priced with a reduce-scatter and says so; without ZeRO 1-2 it is a load error at
    that field."""
    from mlsysim.catalog import check

    sharded = TRAIN_ROW.replace("dp: 4}}", "dp: 4, zero: 1}}")
    row = sharded.replace("zero: 1}}", "zero: 1, full_grad_allreduce: true}}")
    result, direct = _train_row_and_direct(catalog_copy, row, zero=1, full_grad_allreduce=True)
    assert result.status == "ok" and result.predicted == pytest.approx(direct().achieved_flops_per_device, rel=1e-12)
    assert not any(a.startswith("full_grad_allreduce") for a in result.assumed)
    [unstated] = _report(catalog_copy({**EFFICIENCIES, "measurements/fx_lm_train.yaml": sharded})).results
    assert "full_grad_allreduce = False (not stated)" in unstated.assumed
    [plain] = _report(catalog_copy({**EFFICIENCIES, "measurements/fx_lm_train.yaml": TRAIN_ROW})).results
    assert not any(a.startswith("full_grad_allreduce") for a in plain.assumed)
    _, problems = check(catalog_copy({"measurements/fx_lm_train.yaml": TRAIN_ROW.replace(
        "dp: 4}}", "dp: 4, full_grad_allreduce: true}}")}))
    [problem] = problems
    assert problem.field == "config.parallelism.full_grad_allreduce" and "zero: 1 or 2" in problem.message


def test_a_named_kernel_with_materialised_attention_is_located(catalog_copy):
    """A fused kernel and fused_attention false contradict each other: a load error at the
    config, saying to drop one."""
    from mlsysim.catalog import check

    row = TRAIN_ROW.replace("dp: 4}}", "dp: 4}, attention_kernel: flashattention2, fused_attention: false}")
    _, problems = check(catalog_copy({"measurements/fx_lm_train.yaml": row}))
    [problem] = problems
    assert problem.field == "config.fused_attention" and "drop one of the two" in problem.message


# ---------------------------------------------------------------- runner


def test_hand_computed_errors(measured_catalog):
    """Fixture CNN: 4 GMAC = 8 GFLOP and 25 M fp16 weights (50 MB) per image on FX100
    (1000 TFLOP/s fp16, 4 TB/s), efficiencies 50% and 80%. Batch 1: compute 8e9 / 5e14 =
    16 us, memory 50e6 / 3.2e12 = 15.6 us, so 16 us against 25 us measured: -36%.
    Batch 64: 64 x 8e9 / 5e14 = 1.024 ms, 62,500 images/s against 50,000: +25%."""
    report = _report(measured_catalog)
    by_id = {r.id: r for r in report.results}
    latency, throughput = by_id["fx_cnn_b1_latency"], by_id["fx_cnn_b64_throughput"]
    assert latency.predicted == pytest.approx(16e-6, rel=1e-9)
    assert latency.error == pytest.approx(16 / 25 - 1, rel=1e-9)
    assert throughput.predicted == pytest.approx(62_500, rel=1e-9)
    assert throughput.error == pytest.approx(0.25, rel=1e-9)
    assert latency.to_dict()["predicted"] == pytest.approx(0.016) and latency.to_dict()["unit"] == "ms"


def test_under_load_reaches_the_queueing_model(measured_catalog):
    """The row states precision, lengths and arrival rate, so it goes to
    ServingModel.under_load; the fixture catalog has no launch-overhead assumption, which the
    serving solver needs, so it is refused for that reason (and left out of the statistics).
    The queueing model itself is tested in test_serving.py."""
    report = _report(measured_catalog)
    row = next(r for r in report.results if r.id == "fx_lm_server")
    assert (row.status, row.predicted, row.error) == ("not expressible", None, None)
    assert "kernel_launch_overhead" in row.reason
    overall = report.summary()["overall"]
    assert (overall["count"], overall["expressed"], overall["not_expressible"]) == (3, 2, 1)
    assert overall["median_abs_error"] == pytest.approx((0.36 + 0.25) / 2)
    assert overall["worst"]["id"] == "fx_cnn_b1_latency"
    assert report.summary()["under_load"]["median_abs_error"] is None


def test_under_load_without_an_arrival_rate_is_not_expressible(catalog_copy):
    row = UNDER_LOAD_ROW.replace(", arrival_rate: 10", "")
    cat = catalog_copy({**EFFICIENCIES, "measurements/fx_lm_server.yaml": row})
    result = next(r for r in _report(cat).results if r.id == "fx_lm_server")
    assert result.status == "not expressible" and "request rate" in result.reason, result.reason


def test_category_filter(measured_catalog):
    assert [r.id for r in _report(measured_catalog, "latency").results] == ["fx_cnn_b1_latency"]
    from mlsysim.errors import MlsysimError

    with pytest.raises(MlsysimError, match="unknown category 'serving'"):
        _report(measured_catalog, "serving")


def test_missing_configuration_is_not_expressible_with_the_reason(catalog_copy):
    row = LATENCY_ROW.replace("config: {precision: fp16, batch_size: 1}", "config: {batch_size: 1}")
    report = _report(catalog_copy({**EFFICIENCIES, "measurements/fx_cnn_b1_latency.yaml": row}))
    [result] = report.results
    assert result.status == "not expressible" and "states no precision" in result.reason


# A transformer's training throughput on 16 fixture accelerators.
TRAIN_ROW = """\
id: fx_lm_train
name: Fixture LM training on 16 FX100
category: training
hardware: fx100
devices: 16
cluster: fixture_cluster
model: fixture_lm
config: {precision: fp16, batch_size: 64, sequence_length: 2048, parallelism: {tp: 2, pp: 2, dp: 4}}
metric: tflops_per_gpu
per_device: true
measured: {value: 400, unit: TFLOP/s, source: fixture-model-card, method: measured}
"""


def test_training_row_is_the_public_distributed_model_call(catalog_copy):
    """The runner's training prediction is DistributedModel.solve with the record's layout,
    batch and the cited compute efficiency; fields the source does not state are listed."""
    row = TRAIN_ROW
    result, direct = _train_row_and_direct(catalog_copy, row)
    assert result.status == "ok", result.reason
    assert result.predicted == pytest.approx(direct().achieved_flops_per_device, rel=1e-12)
    assert "microbatch = 1 (not stated)" in result.assumed

    inconsistent = row.replace("dp: 4", "dp: 8")
    [bad] = _report(catalog_copy({"measurements/fx_lm_train.yaml": inconsistent})).results
    assert bad.status == "not expressible" and "does not equal the 16 devices" in bad.reason


# A served LLM's time to first token on the fixture accelerator.
LM_TTFT_ROW = """\
id: fx_lm_ttft
name: Fixture LM first token on FX100
category: latency
hardware: fx100
devices: 1
model: fixture_lm
config: {precision: fp16, batch_size: 1, prompt_tokens: 1024}
metric: ttft
measured: {value: 5, unit: ms, source: fixture-model-card, method: measured}
"""


def test_ttft_row_is_the_public_serving_model_call(catalog_copy):
    from mlsysim import ServingModel
    from mlsysim.catalog import load_catalog

    row = LM_TTFT_ROW
    launch = """\
id: kernel_launch_overhead
name: Fixture launch overhead (applies to another vendor's GPUs)
dimension: time
quantity: {value: 3, unit: microsecond, source: fixture-datasheet, qualifiers: {vendor: NVIDIA}}
"""
    root = catalog_copy({**EFFICIENCIES, "assumptions/kernel_launch_overhead.yaml": launch, "measurements/fx_lm_ttft.yaml": row})
    [result] = _report(root).results
    cat = load_catalog(root)
    direct = ServingModel(cat.get("models", "fixture_lm"), cat.get("hardware", "fx100"), precision="fp16").prefill(1024, 1).time
    assert result.status == "ok" and result.predicted == pytest.approx(direct, rel=1e-12)


def test_a_layout_on_a_served_llm_row_is_not_expressible(catalog_copy):
    """A tensor layout prices a CNN's convolutions; a served LLM row stating one says so rather
    than being priced as if it had not."""
    row = LM_TTFT_ROW.replace("prompt_tokens: 1024}", "prompt_tokens: 1024, layout: nchw}")
    [result] = _report(catalog_copy({**EFFICIENCIES, "measurements/fx_lm_ttft.yaml": row})).results
    assert result.predicted is None and "tensor layout applies to a CNN" in result.reason


def test_an_attention_kernel_on_a_served_llm_row_is_not_expressible(catalog_copy):
    """A named attention kernel is priced in training only; a serving row stating one says so."""
    row = LM_TTFT_ROW.replace("prompt_tokens: 1024}", "prompt_tokens: 1024, attention_kernel: flashattention2}")
    [result] = _report(catalog_copy({**EFFICIENCIES, "measurements/fx_lm_ttft.yaml": row})).results
    assert result.predicted is None and "priced in training only" in result.reason


def test_a_training_row_naming_a_kernel_with_no_figure_is_not_expressible(catalog_copy):
    """A training row that names its attention kernel is priced at that kernel's figures or not
    at all: the fixture accelerator has none for FlashAttention in Triton."""
    row = TRAIN_ROW.replace("parallelism: {tp: 2, pp: 2, dp: 4}}",
                            "parallelism: {tp: 2, pp: 2, dp: 4}, attention_kernel: flashattention_triton}")
    [result] = _report(catalog_copy({**EFFICIENCIES, "measurements/fx_lm_train.yaml": row})).results
    assert result.predicted is None
    assert "no efficiency of flashattention_triton attention is cited for FX100" in result.reason


# ---------------------------------------------------------------- CLI and script


def test_cli_json_shape_and_exit_code(cli, measured_catalog):
    result = cli("validate", "--catalog", str(measured_catalog), "-o", "json")
    assert result.code == 0
    data = json.loads(result.out)
    assert set(data) == {"catalog", "summary", "results"}
    assert set(data["summary"]) == {"latency", "throughput", "under_load", "overall"}
    assert set(data["summary"]["overall"]) == {"count", "expressed", "not_expressible", "median_abs_error", "worst",
                                               "within_10", "within_20", "within_30"}
    row = next(r for r in data["results"] if r["id"] == "fx_cnn_b64_throughput")
    assert row["error"] == pytest.approx(0.25) and row["status"] == "ok" and row["unit"] == "1/s"
    assert {"measured", "predicted", "source", "locator", "as_stated", "reason", "assumed"} <= set(row)


def test_cli_text_tables_and_category(cli, measured_catalog):
    result = cli("validate", "--catalog", str(measured_catalog), "--category", "under_load")
    assert result.code == 0
    assert "fx_lm_server" in result.out and "not expressible" in result.out and "fx_cnn_b1_latency" not in result.out
    assert "Median |error|" in result.out


def test_cli_text_has_a_table_per_category_and_numbered_notes_under_them(cli, measured_catalog):
    """Each category is its own table; a row's reason, remarks and assumptions are a numbered
    note under the tables (the row carries the number), so no column is squeezed to fit them."""
    out = cli("validate", "--catalog", str(measured_catalog)).out
    lines = out.splitlines()
    titles = [line.split()[0] for line in lines if line.split() and line.split()[0] in ("latency", "throughput", "under_load")]
    assert titles == ["latency", "throughput", "under_load"]
    server = next(line for line in lines if "fx_lm_server" in line and "n/e" in line)
    number = server.split("[")[-1].split("]")[0]
    assert any(line.startswith(f"[{number}] fx_lm_server: not expressible: ") for line in lines)
    notes = lines.index(next(line for line in lines if line.startswith("Notes (")))
    assert notes > max(i for i, line in enumerate(lines) if "fx_lm_server" in line and "n/e" in line)


def test_cli_unknown_category_exits_1(cli, measured_catalog):
    result = cli("validate", "--catalog", str(measured_catalog), "--category", "serving")
    assert result.code == 1 and "Error: unknown category 'serving'" in result.err


def test_script_prints_the_same_and_exits_0(measured_catalog):
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "validate.py"), "--catalog", str(measured_catalog), "--json"],
                          capture_output=True, text=True, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["overall"]["count"] == 3


# ---------------------------------------------------------------- the bundled catalog


def test_bundled_catalog_has_40_measurements_in_all_five_categories():
    from mlsysim.catalog import load_catalog

    records = load_catalog(REPO / "catalog").records("measurements")
    assert len(records) >= 40
    assert {r.get("category") for r in records} == {"training", "latency", "throughput", "under_load", "edge"}
    for rec in records:
        claim = rec.claims["measured"]
        assert claim.get("locator") and claim.get("as_stated"), rec.id


def test_an_eager_pytorch_row_is_priced_with_the_cited_host_dispatch():
    """NVIDIA DeepLearningExamples, ResNet-50 v1.5 PyTorch README: V100 16GB mixed precision,
    batch 1, "12.78 ms" average latency in eager PyTorch. The row states
    `execution: pytorch_eager`, so the validator adds the cited host time per operator
    (host_dispatch_pytorch_eager_cnn) and says so; the pass is host-bound."""
    from mlsysim import Engine
    from mlsysim.catalog import load_catalog
    from mlsysim.evaluate.validation import run_one
    from tests.conftest import REAL_CATALOG

    catalog = load_catalog(REAL_CATALOG)
    row = catalog.get("measurements", "dle_resnet50_infer_v100_fp16_b1_latency")
    assert row.get("config")["execution"] == "pytorch_eager"
    result = run_one(row, catalog)
    assert any("host_dispatch_pytorch_eager_cnn" in a for a in result.assumed)
    eager = Engine.solve("resnet50", "v100", precision="fp16", host_dispatch="host_dispatch_pytorch_eager_cnn")
    assert result.predicted == pytest.approx(eager.si["latency"])
    assert eager.bottleneck == "Overhead"
    assert result.measured == pytest.approx(12.78e-3)


def test_a_measured_run_past_the_models_context_is_priced_as_run_and_says_so():
    """TensorRT-LLM's performance page (docs/source/performance.md at 138f96d), L40S FP8,
    "| GPT-J 6B | 32 | 1 | 2048 | 2048 | 757 |": 2,048 + 2,048 tokens on a model trained on
    2,048, from an engine built with --max_input_len 2048 --max_output_len 2048. The run
    happened, so the validator prices it as run (ServingModel.solve past_context=True) and
    lists that among the row's assumptions."""
    from mlsysim import ServingModel
    from mlsysim.catalog import load_catalog
    from mlsysim.evaluate.validation import run_one
    from tests.conftest import REAL_CATALOG

    catalog = load_catalog(REAL_CATALOG)
    row = catalog.get("measurements", "trtllm05_gpt_j_6b_l40s_fp8_b32_tp1_in2048_out2048")
    result = run_one(row, catalog)
    assert result.error is not None
    assert any("past GPT_J_6B's 2,048-token context" in a for a in result.assumed)
    serving = ServingModel("gpt_j_6b", "l40s", precision="fp8", kv_precision="fp8")
    profile = serving.solve(prompt_tokens=2048, output_tokens=2048, batch_size=32, past_context=True)
    assert result.predicted == pytest.approx(profile.tokens_per_second)
    assert result.measured == pytest.approx(757.0)


def test_a_single_step_vllm_row_pays_the_cited_host_time_per_engine_iteration():
    """AMD's rocm/vllm-dev README (ROCm/vllm at 7a292f9, docs/dev-docker/README.md), Latency
    Measurements, Llama 3.1 70B, 128 in / 2048 out: "19088.59" ms at batch 1 and "45216.37"
    ms at batch 128 on 8 MI300X, run with benchmark_latency.py and no --num-scheduler-steps.
    The rows state `engine_loop: vllm_single_step`, so the validator adds vLLM's cited GPU
    bubble per engine iteration (serving_iteration_overhead_vllm, the multi-step scheduling
    RFC's ~4 ms) and its cited time per running request per iteration
    (serving_request_overhead_vllm, 0.08 ms: 20 ms between steps at batch 200 in the
    performance-roadmap RFC, less the 4 ms) to the prefill, which emits the first token, and
    to each of the 2,047 decode steps after it, and says so."""
    from mlsysim import ServingModel
    from mlsysim.catalog import load_catalog
    from mlsysim.evaluate.validation import run_one
    from tests.conftest import REAL_CATALOG

    catalog = load_catalog(REAL_CATALOG)
    row = catalog.get("measurements", "rocmvllm066_llama3_1_70b_mi300x_fp8_tp8_b1_in128_out2048_latency")
    assert row.get("config")["engine_loop"] == "vllm_single_step"
    result = run_one(row, catalog)
    assert any("serving_iteration_overhead_vllm" in a and "serving_request_overhead_vllm" in a for a in result.assumed)
    node = row.get("node")
    looped = ServingModel("llama3_1_70b", node, precision="fp8", kv_precision="fp8", tp=8,
                          iteration_overhead="serving_iteration_overhead_vllm",
                          request_overhead="serving_request_overhead_vllm")
    hidden = ServingModel("llama3_1_70b", node, precision="fp8", kv_precision="fp8", tp=8)
    assert looped.iteration_overhead == pytest.approx(4e-3)
    assert looped.request_overhead == pytest.approx(0.08e-3)
    with_loop = looped.solve(prompt_tokens=128, output_tokens=2048, batch_size=1).latency
    assert result.predicted == pytest.approx(with_loop)
    # One bubble per iteration (the prefill and 2,047 decode steps), and one per-request
    # cost per sequence of each.
    hidden_loop = hidden.solve(prompt_tokens=128, output_tokens=2048, batch_size=1).latency
    assert with_loop - hidden_loop == pytest.approx(2048 * (4e-3 + 0.08e-3), rel=1e-6)
    batch = 128
    wide = catalog.get("measurements", "rocmvllm066_llama3_1_70b_mi300x_fp8_tp8_b128_in128_out2048_latency")
    assert run_one(wide, catalog).predicted == pytest.approx(
        looped.solve(prompt_tokens=128, output_tokens=2048, batch_size=batch).latency)
    added = (looped.solve(prompt_tokens=128, output_tokens=2048, batch_size=batch).latency
             - hidden.solve(prompt_tokens=128, output_tokens=2048, batch_size=batch).latency)
    assert added == pytest.approx(2048 * (4e-3 + batch * 0.08e-3), rel=1e-6)
    assert result.measured == pytest.approx(19.08859)


@pytest.mark.parametrize(("row", "microbatch", "schedule", "interleave", "overlap"), [
    # NVIDIA/Megatron-LM examples/sc21/run_table_1.sh (commit 6985e58): 76B "MBS=2",
    # "--num-layers-per-virtual-pipeline-stage 5" (60 layers / PP 4 / 5 = 3 chunks), "DDP=local".
    ("megatron2021_t1_76_1b", 2, "interleaved", 3, False),
    # 1T: "MBS=1", no virtual-pipeline option (non-interleaved 1F1B), "DDP=local".
    ("megatron2021_t1_1008b", 1, "1f1b", None, False),
    # 1.7B: "MBS=16", "DDP=torch" (PyTorch DDP overlaps the gradient all-reduce with backward).
    ("megatron2021_t1_1_7b", 16, None, None, True),
])
def test_megatron_rows_run_as_the_authors_script_configured_them(row, microbatch, schedule, interleave, overlap):
    """Table 1 of Narayanan et al. 2021 does not state the microbatch or the chunks per
    stage; the authors' run script does, and the validator runs the solver with them
    instead of assuming."""
    from mlsysim.catalog import load_catalog
    from mlsysim.evaluate.validation import run_one
    from tests.conftest import REAL_CATALOG

    catalog = load_catalog(REAL_CATALOG)
    record = catalog.get("measurements", row)
    layout = dict(record.get("config")["parallelism"])
    assert layout["microbatch"] == microbatch and layout["overlap_grad_reduce"] is overlap
    assert layout.get("schedule") == schedule and layout.get("interleave") == interleave
    result = run_one(record, catalog)
    assert not any(a.startswith(("microbatch", "interleave", "overlap_grad_reduce")) for a in result.assumed)
    assert result.status == "ok"


def test_an_edge_decode_rate_row_is_batch_over_the_served_inter_token_latency():
    """NVIDIA TensorRT Edge-LLM 0.4.0 Performance Benchmarks, table 'LLM - Vanilla Decoding':
    Llama-3.1-8B-Instruct, NVFP4, batch 1 on the Jetson AGX Thor: 383 prompt tokens,
    "54.9" generated tokens/s. The row computes in fp4, stores NVFP4 weights and states an
    FP16 KV cache (the runtime's exporter: "Only FP16 KV Cache is supported for now",
    tensorrt_edgellm/onnx_export/llm_export.py), so the validator assumes only the 128 output
    tokens the page does not state, and reads the decode rate of the public ServingModel call."""
    from mlsysim import ServingModel
    from mlsysim.catalog import load_catalog
    from mlsysim.evaluate.validation import run_one
    from tests.conftest import REAL_CATALOG

    catalog = load_catalog(REAL_CATALOG)
    row = catalog.get("measurements", "edgellm04_llama3_1_8b_thor_nvfp4_b1_in383_decode")
    result = run_one(row, catalog)
    assert result.status == "ok" and result.measured == pytest.approx(54.9)
    assert row.config["kv_precision"] == "fp16"
    assert not any(a.startswith("kv_precision") for a in result.assumed)
    assert any(a.startswith("output_tokens = 128") for a in result.assumed)
    served = ServingModel(catalog.get("models", "llama3_1_8b"), catalog.get("hardware", "jetson_agx_thor_t5000"),
                          precision="fp4", weight_precision="nvfp4", kv_precision="fp16").solve(383, 128, 1)
    assert result.predicted == pytest.approx(served.decode_tokens_per_second)


def test_a_row_says_which_fixed_costs_its_prediction_leaves_unpriced(tmp_path):
    """AMD's vLLM latency table (ROCm/vllm docs/dev-docker/README.md at 7a292f9): Llama 3.1 70B
    FP8 on 8 MI300X, batch 1, 128 in / 2048 out, 19,088.59 ms. Its kernel launches are priced at
    the per-kernel time measured on the MI300X (kernel_launch_mi300x); in a catalog without that
    record no cited kernel-launch time applies to the MI300X (the other is NVIDIA's), and the
    row's remarks say the launches are not priced. A row that is not expressible carries no
    such remark."""
    import shutil

    from mlsysim.catalog import load_catalog
    from mlsysim.evaluate.validation import run_one
    from tests.conftest import REAL_CATALOG

    row = "rocmvllm066_llama3_1_70b_mi300x_fp8_tp8_b1_in128_out2048_latency"
    catalog = load_catalog(REAL_CATALOG)
    amd = run_one(catalog.get("measurements", row), catalog)
    assert amd.measured == pytest.approx(19088.59e-3)
    assert not any(r.startswith("not priced: kernel launches") for r in amd.remarks)
    stripped = tmp_path / "catalog"
    shutil.copytree(REAL_CATALOG, stripped)
    (stripped / "assumptions" / "kernel_launch_mi300x.yaml").unlink()
    without = run_one(load_catalog(stripped).get("measurements", row), load_catalog(stripped))
    assert any(r.startswith("not priced: kernel launches") for r in without.remarks)
    assert without.predicted < amd.predicted
    unexpressed = run_one(catalog.get("measurements", "mlperf41_llama2_70b_mi300x1_offline"), catalog)
    assert unexpressed.predicted is None and not any(r.startswith("not priced") for r in unexpressed.remarks)
    nvidia = run_one(catalog.get("measurements", "trtllm061_llama2_7b_h100_fp8_b768_tp1_in128_out128"), catalog)
    assert not any(r.startswith("not priced") for r in nvidia.remarks)
