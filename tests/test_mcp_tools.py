"""The MCP tools as plain functions (mlsysim/agent/tools.py), their schemas
(mlsysim/agent/schemas.py) and `mlsysim schema --type ...`, the reference's alias of
`mlsysim catalog schema`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest

from mlsysim.agent import tools
from mlsysim.agent.citations import json_ready
from mlsysim.agent.schemas import all_schemas, schema
from mlsysim.catalog import load_catalog
from mlsysim.catalog.schema_export import json_schemas
from mlsysim.errors import MlsysimError
from provenance.yamlio import read_located
from tests.conftest import FROZEN_CATALOG, REPO

EXAMPLE = Path(__file__).parent / "fixtures" / "reference_plans" / "example_cluster.yaml"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(FROZEN_CATALOG)


def _yaml(path: Path) -> object:
    located, problems = read_located(path, str(path))
    assert located is not None, problems
    return located.data


def _readme_plan(tmp_path: Path) -> Path:
    """The plan example in the README's scorecard section (the ```yaml block starting `# plan.yaml`)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("# plan.yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "plan.yaml"
    path.write_text(block, encoding="utf-8")
    return path


def test_plan_schema_accepts_the_readme_plan_and_refuses_a_typo(tmp_path):
    plan = schema("plan")
    jsonschema.Draft202012Validator.check_schema(plan)
    data = _yaml(_readme_plan(tmp_path))
    jsonschema.validate(data, plan)
    with pytest.raises(jsonschema.ValidationError, match="batch_sise"):
        jsonschema.validate({**data, "batch_sise": 4}, plan)
    jsonschema.validate({**data, "parallelism": "auto"}, plan)


def test_reference_plan_schema_accepts_the_reference_readme_example():
    ref = schema("reference_plan")
    jsonschema.Draft202012Validator.check_schema(ref)
    jsonschema.validate(_yaml(EXAMPLE), ref)
    assert "assert" in ref["$defs"]["ReferenceConstraints"]["properties"]  # the reference's key, not ours


def test_schema_names_cover_plans_and_every_record_kind():
    names = list(all_schemas())
    assert names[:2] == ["plan", "reference_plan"] and set(json_schemas()) <= set(names)
    assert schema("workload") == schema("models") == schema("model")
    with pytest.raises(MlsysimError, match="unknown schema type 'gadget'; use one of plan, reference_plan, hardware"):
        schema("gadget")


def test_cli_schema_type_is_the_alias_of_catalog_schema(cli):
    alias = cli("schema", "--type", "hardware")
    original = cli("catalog", "schema", "--kind", "hardware")
    assert alias.code == original.code == 0
    assert json.loads(alias.out) == json.loads(original.out)
    plan = cli("schema")  # the reference's default: the plan
    assert plan.code == 0 and json.loads(plan.out)["title"].startswith("mlsysim plan")
    assert set(json.loads(cli("schema", "--type", "all", "-o", "json").out)) == set(all_schemas())


def test_cli_schema_unknown_type_is_exit_1(cli):
    result = cli("schema", "--type", "gizmo")
    assert result.code == 1 and "unknown schema type 'gizmo'" in result.err and not result.out


def test_lookup_cites_every_value_of_the_record(catalog):
    answer = tools.lookup(catalog, "Quebec", kind="grids")
    record = catalog.get("grids", "Quebec")
    assert answer["result"]["ref"] == record.ref
    assert [c["path"] for c in answer["citations"]] == [v.path for v in record.values()]
    for card, value in zip(answer["citations"], record.values()):
        assert card["source_id"] == value.source_id and card["title"] == catalog.sources[value.source_id]["title"]
        assert card["url"] == catalog.sources[value.source_id].get("url") and card["locator"] == value.locator
    assert answer["catalog"] == {"fingerprint": catalog.fingerprint, "date": catalog.date}


def test_solve_cites_exactly_the_lineage_of_the_solver_result(catalog):
    from mlsysim.solvers.engine import Engine

    answer = tools.solve(catalog, "ResNet50", "A100", batch_size=32)
    profile = Engine.solve(catalog.get("models", "ResNet50"), catalog.get("hardware", "A100"), batch_size=32)
    assert [c["path"] for c in answer["citations"]] == [e.path for e in profile.lineage.entries()]
    assert answer["result"]["values"]["latency"] == {"value": pytest.approx(profile.si["latency"]), "unit": "s"}
    assert "lineage" not in answer["result"]


def test_solve_refuses_serving_options_for_a_cnn(catalog):
    with pytest.raises(MlsysimError, match="tensor_parallel: applies to transformer serving; ResNet50 is a"):
        tools.solve(catalog, "ResNet50", "A100", tensor_parallel=2)


def test_an_oversized_model_is_an_infeasible_result_not_an_error(catalog):
    answer = tools.solve(catalog, "Llama3_1_405B", "H100")
    assert answer["status"] == "infeasible" and answer["result"]["feasible"] is False and answer["citations"]


def test_explain_lists_one_line_per_cited_value(catalog):
    answer = tools.explain(catalog, "evaluate_cluster_yaml", {"yaml": EXAMPLE.read_text(encoding="utf-8")})
    assert answer["result"]["status"] == "sla_violated"
    assert len(answer["result"]["lineage"]) == len(answer["citations"]) > 0
    assert answer["result"]["sources"] == sorted({c["source_id"] for c in answer["citations"]})
    with pytest.raises(MlsysimError, match="tool: 'lookup' has no lineage to explain"):
        tools.explain(catalog, "lookup", {"name": "H100"})


def test_optimize_checks_its_kind_first(catalog):
    with pytest.raises(MlsysimError, match="kind: unknown 'speed'; use one of parallelism, batching, placement"):
        tools.optimize(catalog, "speed", EXAMPLE.read_text(encoding="utf-8"))


def test_answers_are_strict_json():
    data = json_ready({"a": (1, float("inf")), "b": float("nan"), "c": {"d": Path("x")}})
    assert data == {"a": [1, "inf"], "b": "nan", "c": {"d": "x"}}
    json.dumps(data, allow_nan=False)
    assert math.isfinite(json_ready(2.5))


def test_solve_with_concurrent_requests_matches_continuous_batching(catalog):
    from mlsysim.solvers.serving import ServingModel

    answer = tools.solve(catalog, "Llama3_8B", "H100", concurrent=16, kv_precision="fp8")
    cb = ServingModel(catalog.get("models", "Llama3_8B"), catalog.get("hardware", "H100"), kv_precision="fp8").continuous_batching(16, 512, 128)
    assert answer["result"]["concurrent_requests"] == 16 and answer["result"]["kv_precision"] == "fp8"
    assert answer["result"]["tokens_per_second"] == pytest.approx(cb.tokens_per_second)
    assert "hardware/h100_sxm#memory.bandwidth" in {c["path"] for c in answer["citations"]}
    with pytest.raises(MlsysimError, match="batch_size and concurrent do not combine"):
        tools.solve(catalog, "Llama3_8B", "H100", batch_size=4, concurrent=16)
    with pytest.raises(MlsysimError, match="concurrent: applies to transformer serving"):
        tools.solve(catalog, "ResNet50", "A100", concurrent=4)


def test_solve_prices_an_eager_host_for_a_cnn_and_refuses_it_for_an_llm(catalog):
    """The MCP solve tool takes host_dispatch as `mlsysim eval --host-dispatch` does: a cited
    assumption's name or a typed time; the answer cites the assumption it used."""
    from mlsysim.agent import tools

    named = tools.solve(catalog, "ResNet50", "V100", host_dispatch="host_dispatch_pytorch_eager_cnn")
    assert named["result"]["values"]["latency_host"]["value"] == pytest.approx(174 * 76.47e-6, rel=1e-3)
    assert named["result"]["bottleneck"] == "Overhead"
    typed = tools.solve(catalog, "ResNet50", "V100", host_dispatch="50 us")
    assert typed["result"]["values"]["latency_host"]["value"] == pytest.approx(174 * 50e-6)
    with pytest.raises(MlsysimError, match="host_dispatch"):
        tools.solve(catalog, "Llama3_8B", "H100", host_dispatch="50 us")
    with pytest.raises(MlsysimError, match="no unit"):
        tools.solve(catalog, "ResNet50", "V100", host_dispatch="50")


def test_solve_spreads_a_cnn_over_a_jetson_orins_dlas_and_refuses_an_llm(catalog):
    """The MCP solve tool's `dla` is `mlsysim eval --dla`: the answer cites the DLA peak it added
    (hardware/jetson_agx_orin_64gb#compute_dla.int8, half of the DLA README's 105 sparse TOPs),
    and an LLM, which a DLA cannot run, is refused."""
    from mlsysim.solvers.engine import Engine

    answer = tools.solve(catalog, "ResNet50", "JetsonAGXOrin", batch_size=64, precision="int8", dla=True)
    assert "hardware/jetson_agx_orin_64gb#compute_dla.int8" in [c["path"] for c in answer["citations"]]
    profile = Engine.solve(catalog.get("models", "ResNet50"), catalog.get("hardware", "JetsonAGXOrin"), batch_size=64,
                           precision="int8", dla=True)
    assert answer["result"]["values"]["latency"]["value"] == pytest.approx(profile.si["latency"])
    with pytest.raises(MlsysimError, match="dla: applies to CNNs"):
        tools.solve(catalog, "Llama3_8B", "JetsonAGXOrin", precision="int8", dla=True)


def test_solve_takes_a_cuda_graph_and_a_convolution_layout(catalog):
    """The MCP solve tool's `cuda_graph` and `layout` are `mlsysim eval --cuda-graph --layout`:
    the answer cites the graph time per kernel and the NCHW convolution figure it used, and a
    layout for an LLM is refused."""
    answer = tools.solve(catalog, "ResNet50", "H200", batch_size=32, cuda_graph=True, layout="nchw")
    cited = [c["path"] for c in answer["citations"]]
    assert "assumptions/kernel_time_in_cuda_graph_hopper#quantity" in cited
    assert "assumptions/conv_efficiency_hopper_fp16_nchw#quantity" in cited
    served = tools.solve(catalog, "Llama3_8B", "H200", precision="bf16", cuda_graph=True)
    assert "assumptions/kernel_time_in_cuda_graph_hopper#quantity" in [c["path"] for c in served["citations"]]
    with pytest.raises(MlsysimError, match="layout: applies to a CNN"):
        tools.solve(catalog, "Llama3_8B", "H200", layout="nchw")


def test_solve_prices_a_serving_engines_host_time_and_refuses_it_for_a_cnn(catalog):
    """The MCP solve tool takes iteration_overhead and request_overhead as `mlsysim eval` does:
    vLLM 0.5's single-step loop, about 4 ms per iteration (vllm-project/vllm issue 6854) and
    0.08 ms per running request (issue 6801), named or typed; each decode step of a batch of
    8 takes 4 + 8 x 0.08 = 4.64 ms longer, and the answer cites the records it used."""
    plain = tools.solve(catalog, "Llama3_8B", "H100", batch_size=8)
    named = tools.solve(catalog, "Llama3_8B", "H100", batch_size=8, iteration_overhead="serving_iteration_overhead_vllm",
                        request_overhead="serving_request_overhead_vllm")
    assert named["result"]["itl_s"] - plain["result"]["itl_s"] == pytest.approx(4.64e-3, rel=1e-9)
    cited = {c["path"] for c in named["citations"]}
    assert "assumptions/serving_request_overhead_vllm#quantity" in cited
    typed = tools.solve(catalog, "Llama3_8B", "H100", batch_size=8, iteration_overhead="4 ms", request_overhead="80 us")
    assert typed["result"]["itl_s"] == pytest.approx(named["result"]["itl_s"], rel=1e-9)
    with pytest.raises(MlsysimError, match="request_overhead: apply to a served LLM"):
        tools.solve(catalog, "ResNet50", "V100", request_overhead="80 us")


def test_solve_speculative_decoding_cites_both_models(catalog):
    answer = tools.solve(catalog, "Llama3_70B", "H200", precision="fp8", draft="Llama3_8B", draft_tokens=4,
                         acceptance_rate=0.8)
    paths = {c["path"] for c in answer["citations"]}
    assert {"models/llama3_70b#transformer.layers", "models/llama3_8b#transformer.layers"} <= paths
    assert answer["result"]["speculative"]["tokens_per_iteration"] == pytest.approx(3.3616)
    assert "lineage" not in answer["result"]["speculative"]


def test_solve_serving_techniques_refused_where_they_do_not_apply(catalog):
    with pytest.raises(MlsysimError, match="go together"):
        tools.solve(catalog, "Llama3_70B", "H200", precision="fp8", draft="Llama3_8B")
    with pytest.raises(MlsysimError, match="chunk_tokens: apply to a served LLM"):
        tools.solve(catalog, "ResNet50", "H100", chunk_tokens=4)
    with pytest.raises(MlsysimError, match="leave out concurrent"):
        tools.solve(catalog, "Llama3_8B", "H100", concurrent=8, cached_tokens=100)
