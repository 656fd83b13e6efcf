"""`mlsysim optimize parallelism|batching|placement PLAN.yaml` through the real entry point:
output, JSON and every exit code (0 ok, 1 bad input, 2 infeasible, 3 SLA missed)."""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import FROZEN_CATALOG

CAT = ("--catalog", str(FROZEN_CATALOG))


@pytest.fixture
def plan(tmp_path):
    def write(text: str, name: str = "plan.yaml"):
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


TRAIN = "model: Llama3_8B\ncluster: Research_256\nbatch_size: 256\nprecision: bf16\nduration: 30 days\n"


def test_parallelism_table_and_rejections(cli, plan) -> None:
    r = cli("optimize", "parallelism", plan(TRAIN), "--top-k", "3", *CAT)
    assert r.code == 0, r.err
    assert "Best layouts by step_time" in r.out
    assert "Rejected:" in r.out and "exceeds the 32 layers" in r.out


def test_parallelism_json(cli, plan) -> None:
    r = cli("optimize", "parallelism", plan(TRAIN), "-o", "json", "--objective", "mfu", *CAT)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["objective"] == "mfu" and len(data["top"]) == 5
    assert data["best"]["mfu"] == max(row["mfu"] for row in data["top"])
    assert data["feasible"] <= data["evaluated"]
    assert any(e["path"].startswith("hardware/h100_sxm#") for e in data["lineage"])


def test_parallelism_that_cannot_fit_exits_2(cli, plan) -> None:
    text = "model: GPT3\ncluster: Research_256\ndevices: 8\nbatch_size: 8\nprecision: bf16\n"
    r = cli("optimize", "parallelism", plan(text), *CAT)
    assert r.code == 2
    assert "Error: no layout of" in r.err and "fits" in r.err and "Traceback" not in r.err


def test_parallelism_needs_a_cluster(cli, plan) -> None:
    r = cli("optimize", "parallelism", plan("model: Llama3_8B\nhardware: H100\n"), *CAT)
    assert r.code == 1
    assert "optimize parallelism needs a training plan with 'cluster:'" in r.err


def test_batching_hand_checkable_resnet(cli, plan) -> None:
    """ResNet-50 on an A100 at 100 requests/s: a batch of 2 waits ln(100)/100 s = 46.05 ms for
    its second request (the P99 of one exponential inter-arrival time), so a 50 ms SLA allows at
    most batch 2 while the sub-millisecond service keeps the queue short."""
    r = cli("optimize", "batching", plan("model: ResNet50\nhardware: A100\nprecision: fp16\n"), "--qps", "100",
            "--sla-ms", "50", "-o", "json", *CAT)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["batch"] == 2
    assert data["points"][1]["formation_p99_s"] == pytest.approx(math.log(100) / 100, rel=1e-9)


def test_batching_sla_missed_exits_3(cli, plan) -> None:
    r = cli("optimize", "batching", plan("model: ResNet50\nhardware: A100\n"), "--qps", "100", "--sla-ms", "0.1", *CAT)
    assert r.code == 3
    assert "Error: no batch meets the P99 SLA of 0.1 ms at 100 requests/s" in r.err


def test_batching_overload_exits_2(cli, plan) -> None:
    r = cli("optimize", "batching", plan("model: Llama3_8B\nhardware: H100\n"), "--qps", "1000", "--sla-ms", "100000",
            "--max-batch", "4", *CAT)
    assert r.code == 2
    assert "1000 requests/s exceeds what 1 replica(s) serve at any batch up to 4" in r.err


def test_batching_llm_reads_the_sla_from_the_plan(cli, plan) -> None:
    r = cli("optimize", "batching", plan("model: Llama3_8B\nhardware: H100\nsla: {latency: 20 s}\n"), "--qps", "2", *CAT)
    assert r.code == 0, r.err
    assert "Largest batch meeting P99 <= 2e+04 ms at 2 requests/s" in r.out


def test_batching_needs_an_sla(cli, plan) -> None:
    r = cli("optimize", "batching", plan("model: ResNet50\nhardware: A100\n"), "--qps", "100", *CAT)
    assert r.code == 1
    assert "give the P99 latency target: --sla-ms N" in r.err


def test_placement_table_and_json(cli, plan) -> None:
    r = cli("optimize", "placement", plan(TRAIN), "--carbon-tax", "150", *CAT)
    assert r.code == 0, r.err
    assert "Sites by cost + 150 USD/t x carbon (lifecycle basis), 30 days" in r.out
    assert "Not compared" in r.out
    r = cli("optimize", "placement", plan(TRAIN), "--carbon-tax", "150", "--basis", "direct", "-o", "json", *CAT)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["carbon_basis"] == "direct"
    assert {o["carbon_basis"] for o in data["ranked"]} == {"direct"}
    totals = [o["total"] for o in data["ranked"]]
    assert totals == sorted(totals)


@pytest.mark.parametrize("args, message", [
    (("--carbon-tax", "-5"), "--carbon-tax must be a finite number >= 0"),
    (("--grids", "Atlantis"), "Atlantis"),
    (("--basis", "scope3"), "carbon_basis must be 'lifecycle' or 'direct'"),
])
def test_placement_bad_input_exits_1(cli, plan, args, message) -> None:
    r = cli("optimize", "placement", plan(TRAIN), *args, *CAT)
    assert r.code == 1
    assert message in r.err and "Traceback" not in r.err


def test_placement_needs_a_duration(cli, plan) -> None:
    r = cli("optimize", "placement", plan("model: Llama3_8B\ncluster: Research_256\nbatch_size: 256\n"), *CAT)
    assert r.code == 1
    assert "give how long the job runs: --days N" in r.err


def test_a_bad_plan_is_exit_1_with_its_location(cli, plan) -> None:
    r = cli("optimize", "parallelism", plan("model: NoSuchModel\ncluster: Research_256\n"), *CAT)
    assert r.code == 1
    assert "plan.yaml:1:8: model:" in r.err


def test_parallelism_candidate_lists(cli, plan) -> None:
    """--tp 1,2 --pp 1-4 --zero 1: 2 x 4 structural sizes, none rejected for divisibility."""
    r = cli("optimize", "parallelism", plan(TRAIN), "--tp", "1,2", "--pp", "1-4", "--zero", "1", "-o", "json", *CAT)
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert {row["tp"] for row in data["top"]} <= {1, 2} and {row["zero"] for row in data["top"]} == {1}
    r = cli("optimize", "parallelism", plan(TRAIN), "--tp", "two", *CAT)
    assert r.code == 1 and "--tp: 'two' is not a whole number" in r.err


def test_roofline_dse_on_numpy_and_dask_agree(cli) -> None:
    args = ("optimize", "roofline", "Llama3_8B", "--hardware", "H100,A100", "--precisions", "fp16,fp8",
            "--batch", "1-64", "--seq", "128,1024", "-o", "json", "--chunk", "50", *CAT)
    local = cli(*args)
    assert local.code == 0, local.err
    distributed = cli(*args, "--dask", "local", "--workers", "2")
    assert distributed.code == 0, distributed.err
    a, b = json.loads(local.out), json.loads(distributed.out)
    assert a["evaluated"] == 3 * 64 * 2 and a["backend"] == "numpy" and b["backend"].startswith("dask")
    assert a["front"] == b["front"]
    assert {row["system"] for row in a["front"]} <= {"H100 @ fp16", "H100 @ fp8", "A100 @ fp16"}


def test_roofline_dse_text_with_progress(cli) -> None:
    r = cli("optimize", "roofline", "Llama3_8B", "--hardware", "H100", "--batch", "1-32", "--progress", *CAT)
    assert r.code == 0, r.err
    assert "Pareto front of 32 configurations" in r.out
    r = cli("optimize", "roofline", "Llama3_8B", "--hardware", "H100", "--seq", "999999", *CAT)
    assert r.code == 1 and "exceeds" in r.err and "context length" in r.err


def test_parallelism_zero_bubble_schedules(cli, plan) -> None:
    r = cli("optimize", "parallelism", plan(TRAIN), "--schedule", "zb-h1,zb-v", "--tp", "1,2", "--pp", "2,4", "--zero", "1",
            "-o", "json", *CAT)
    assert r.code == 0, r.err
    assert {row["schedule"] for row in json.loads(r.out)["top"]} <= {"ZB-H1", "ZB-V"}
    r = cli("optimize", "parallelism", plan(TRAIN), "--schedule", "gpipe", *CAT)
    assert r.code == 1 and "schedule 'gpipe' is not one of 1f1b, interleaved, zb-h1, zb-v" in r.err


MPT = ("model: LLMFoundry_MPT_760M\ncluster: MosaicML_A100_80GB_RoCE_64\ndevices: 8\nbatch_size: 96\n"
       "sequence_length: 8192\nprecision: bf16\nefficiency: null\n")


def test_parallelism_prices_the_plans_attention_kernel(cli, plan) -> None:
    """A training plan's attention_kernel reaches every candidate the optimizer ranks."""
    default = cli("optimize", "parallelism", plan(MPT), "--tp", "1", "--pp", "1", "-o", "json", *CAT)
    triton = cli("optimize", "parallelism", plan(MPT + "attention_kernel: flashattention_triton\n", "triton.yaml"),
                 "--tp", "1", "--pp", "1", "-o", "json", *CAT)
    assert default.code == triton.code == 0, default.err + triton.err
    assert json.loads(triton.out)["best"]["step_time_s"] > json.loads(default.out)["best"]["step_time_s"]


def test_batching_refuses_an_attention_kernel(cli, plan) -> None:
    r = cli("optimize", "batching", plan("model: Llama3_8B\nhardware: H100\nattention_kernel: flashattention3\n"),
            "--qps", "1", "--sla-ms", "500", *CAT)
    assert r.code == 1 and "attention_kernel prices training" in r.err and "Traceback" not in r.err
