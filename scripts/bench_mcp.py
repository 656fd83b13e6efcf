"""Speed of `mlsysim mcp` as a client sees it: the SDK's own stdio client starts the server,
initializes, lists the tools, then calls each read-only tool a few times; prints the
start-up time and the best round trip per tool (no target: figures for the record).

    python scripts/bench_mcp.py [--repeat N] [--catalog PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

REPO = Path(__file__).resolve().parent.parent
PLAN = "name: one GPU\nmodel: Llama3_8B\nhardware: H100\nbatch_size: 4\nsequence_length: 1024\nprecision: bf16\n"
CALLS = [
    ("lookup", {"name": "H100"}),
    ("solve", {"model": "Llama3_8B", "hardware": "H100", "batch_size": 8}),
    ("evaluate_cluster_yaml", {"yaml": PLAN}),
    ("evaluate_cluster_yaml", {"yaml": (REPO / "tests/fixtures/reference_plans/example_cluster.yaml").read_text(encoding="utf-8")}),
    ("explain", {"tool": "solve", "arguments": {"model": "Llama3_8B", "hardware": "H100"}}),
    ("get_schemas", {}),
]


async def main(repeat: int, catalog: str | None) -> None:
    args = ["-m", "mlsysim", "mcp"] + (["--catalog", catalog] if catalog else [])
    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(REPO), env=dict(os.environ))
    start = time.perf_counter()
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                ready = time.perf_counter() - start
                listed = await session.list_tools()
                print(f"start-up to initialized: {ready * 1e3:.0f} ms; {len(listed.tools)} tools")
                for i, (name, arguments) in enumerate(CALLS):
                    times, size = [], 0
                    for _ in range(repeat):
                        t0 = time.perf_counter()
                        result = await session.call_tool(name, arguments)
                        times.append(time.perf_counter() - t0)
                        assert not result.is_error, result.content[0].text
                        size = len(result.content[0].text)
                    label = name + (" (reference plan)" if i == 3 else "")
                    print(f"{label:<40} first {times[0] * 1e3:7.1f} ms, best {min(times) * 1e3:7.1f} ms, answer {size / 1e3:.0f} kB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--catalog", default=None)
    ns = parser.parse_args()
    anyio.run(main, ns.repeat, ns.catalog)
