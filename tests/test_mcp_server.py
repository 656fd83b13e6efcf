"""`mlsysim mcp` end to end: the official SDK's own client (stdio_client + ClientSession)
starts the server as a subprocess over stdio, lists its tools and calls each one."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import anyio  # noqa: E402  (a dependency of mcp)
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from mlsysim.catalog import load_catalog  # noqa: E402
from tests.conftest import FROZEN_CATALOG, REPO  # noqa: E402

TOOLS = {"get_schemas", "evaluate_cluster_yaml", "solve", "optimize", "lookup", "explain"}
EXAMPLE = Path(__file__).parent / "fixtures" / "reference_plans" / "example_cluster.yaml"
PLAN = "name: one GPU\nmodel: Llama3_8B\nhardware: H100\nbatch_size: 4\nsequence_length: 1024\nprecision: bf16\n"
CARD = {"path", "value", "unit", "source_id", "title", "url", "locator"}


def _with_server(body: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """Start `python -m mlsysim mcp --catalog <frozen snapshot>` and run body(session) against it."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mlsysim", "mcp", "--catalog", str(FROZEN_CATALOG)], cwd=str(REPO),
        env={"MLSYSIM_CACHE_DIR": os.environ["MLSYSIM_CACHE_DIR"]},
    )

    async def main() -> Any:
        with open(os.devnull, "w") as errlog:  # the server's stderr (which catalog it loaded)
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await body(session)

    return anyio.run(main)


def _json(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    data = json.loads(result.content[0].text)
    assert result.structured_content == data
    return data


def _cited(answer: dict[str, Any], fingerprint: str) -> None:
    """Every answer states the catalog it came from; each citation card is complete."""
    assert answer["catalog"]["fingerprint"] == fingerprint
    for card in answer["citations"]:
        assert CARD <= set(card), card
        assert card["source_id"] and card["title"] and card["path"].count("#") == 1


@pytest.fixture(scope="module")
def fingerprint() -> str:
    return load_catalog(FROZEN_CATALOG).fingerprint


def test_lists_the_six_tools_with_input_schemas():
    listed = _with_server(lambda s: s.list_tools())
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == TOOLS
    optimize = tools["optimize"].input_schema
    assert optimize["properties"]["kind"]["enum"] == ["parallelism", "batching", "placement"]
    assert {"plan", "sla_ms", "qps", "carbon_tax"} <= set(optimize["properties"]) and optimize["required"] == ["kind", "plan"]
    assert tools["solve"].input_schema["properties"]["batch_size"]["minimum"] == 1
    assert all(t.description for t in listed.tools)


def test_every_tool_answers_with_the_citations_of_what_it_used(fingerprint):
    async def calls(s: ClientSession) -> dict[str, Any]:
        return {
            "schemas": _json(await s.call_tool("get_schemas", {"type": "plan"})),
            "solve": _json(await s.call_tool("solve", {"model": "Llama3_8B", "hardware": "H100", "batch_size": 2})),
            "plan": _json(await s.call_tool("evaluate_cluster_yaml", {"yaml": PLAN})),
            "reference": _json(await s.call_tool("evaluate_cluster_yaml", {"yaml": EXAMPLE.read_text(encoding="utf-8")})),
            "lookup": _json(await s.call_tool("lookup", {"name": "H100"})),
            "explain": _json(await s.call_tool("explain", {"tool": "solve", "arguments": {"model": "Llama3_8B", "hardware": "H100", "batch_size": 2}})),
        }

    got = _with_server(calls)
    for answer in got.values():
        _cited(answer, fingerprint)
    assert got["schemas"]["result"]["schemas"]["plan"]["properties"]["model"]["type"] == "string"
    assert got["schemas"]["citations"] == []  # a schema rests on no catalog value
    solve = got["solve"]
    assert solve["status"] == "ok" and solve["result"]["batch_size"] == 2 and solve["result"]["ttft_s"] > 0
    used = {c["path"] for c in solve["citations"]}
    assert "hardware/h100_sxm#memory.bandwidth" in used and "hardware/h100_sxm#compute.fp16" in used
    bandwidth = next(c for c in solve["citations"] if c["path"] == "hardware/h100_sxm#memory.bandwidth")
    assert bandwidth["url"].startswith("https://") and bandwidth["locator"]
    assert got["plan"]["status"] == "ok" and got["plan"]["result"]["feasibility"]["status"] == "PASS"
    assert got["plan"]["citations"]
    reference = got["reference"]
    assert reference["status"] == "sla_violated" and any("Lab_64_H100" in n for n in reference["result"]["reference_plan_notes"])
    assert {"hardware/h100_sxm#memory.capacity", "hardware/h100_sxm#memory.capacity_usable"} & {c["path"] for c in reference["citations"]}
    lookup = got["lookup"]
    assert lookup["result"]["ref"] == "hardware/h100_sxm"
    assert {c["path"] for c in lookup["citations"]} == {f"hardware/h100_sxm#{f}" for f in lookup["result"]["values"]}
    explain = got["explain"]
    assert explain["citations"] == solve["citations"]
    assert len(explain["result"]["lineage"]) == len(solve["citations"])
    assert any(line.startswith("hardware/h100_sxm#memory.bandwidth = ") for line in explain["result"]["lineage"])


def _error(result: Any) -> str:
    assert result.is_error
    text = result.content[0].text
    assert "Traceback" not in text and 'File "' not in text
    return text


def test_bad_inputs_come_back_as_clear_tool_errors():
    async def calls(s: ClientSession) -> list[str]:
        return [
            _error(await s.call_tool("solve", {"model": "Llama3_8Bx", "hardware": "H100"})),
            _error(await s.call_tool("solve", {"model": "Llama3_8B", "hardware": "H100", "batch_size": 0})),
            _error(await s.call_tool("solve", {"model": "Llama3_8B", "hardware": "H100", "efficiency": 1.5})),
            _error(await s.call_tool("evaluate_cluster_yaml", {"yaml": "model: Llama3_8B\nhardware: H100\nbatch_sise: 4\n", "name": "mine.yaml"})),
            _error(await s.call_tool("evaluate_cluster_yaml", {"yaml": EXAMPLE.read_text(encoding="utf-8").replace("accelerators: 64", "accelerators: 64\n  fabric_bandwidth: 100 GB/s")})),
            _error(await s.call_tool("evaluate_cluster_yaml", {"yaml": "  "})),
            _error(await s.call_tool("lookup", {"name": "H100", "kind": "gadgets"})),
            _error(await s.call_tool("explain", {"tool": "solve", "arguments": {"model": "Llama3_8B"}})),
        ]

    unknown, batch, efficiency, typo, fabric, empty, kind, missing = _with_server(calls)
    assert "no models record named 'Llama3_8Bx'; closest: Llama3_8B" in unknown
    assert "batch_size: must be a positive whole number, got 0" in batch
    assert "efficiency: 1.5 is not a fraction in (0, 1]" in efficiency
    assert "mine.yaml:3:1: batch_sise: unknown field 'batch_sise'; did you mean 'batch_size'?" in typo
    assert "plan.yaml:12:" in fabric and "hardware.fabric_bandwidth: not supported" in fabric
    assert "yaml: empty; pass the plan file's text" in empty
    assert "kind: unknown 'gadgets'; use one of" in kind
    assert "arguments:" in missing and "hardware" in missing


def test_optimize_answers_or_says_the_optimizers_are_missing(fingerprint):
    """Until mlsysim.solvers.optimizers exists the tool says so plainly; once it does, each
    search answers with the citations of what it used."""
    try:
        from mlsysim.solvers import optimizers  # noqa: F401
        present = True
    except ImportError:
        present = False
    cluster = EXAMPLE.read_text(encoding="utf-8")  # 64 x H100, 14 days in Quebec
    one_gpu = "model: Llama3_8B\nhardware: H100\nprecision: fp16\n"

    async def calls(s: ClientSession) -> list[Any]:
        return [await s.call_tool("optimize", {"kind": "parallelism", "plan": cluster, "top_k": 2}),
                await s.call_tool("optimize", {"kind": "batching", "plan": one_gpu, "sla_ms": 20000, "qps": 1}),
                await s.call_tool("optimize", {"kind": "placement", "plan": cluster, "carbon_tax": 150, "grids": ["Quebec", "Iowa", "Poland"]}),
                await s.call_tool("optimize", {"kind": "placement", "plan": one_gpu, "carbon_tax": 150})]

    parallelism, batching, placement, no_duration = _with_server(calls)
    if present:
        for result in (parallelism, batching, placement):
            answer = _json(result)
            _cited(answer, fingerprint)
            assert answer["citations"]
        assert _json(parallelism)["result"]["best"]["tp"] * _json(parallelism)["result"]["best"]["pp"] >= 1
        assert _json(batching)["result"]["batch"] >= 1
        assert {o["grid"] for o in _json(placement)["result"]["ranked"]} <= {"quebec", "iowa", "poland"}
        assert "duration_days: placement needs how long the job runs" in _error(no_duration)
    else:
        for kind, result in zip(("Parallelism", "Batching", "Placement", "Placement"), (parallelism, batching, placement, no_duration)):
            assert f"{kind}Optimizer is not part of this mlsysim build" in _error(result)
