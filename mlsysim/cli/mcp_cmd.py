"""`mlsysim mcp`: serve the mlsysim tools to an MCP client (Claude Desktop, an IDE, an agent) over stdio."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlsysim.cli.options import CatalogOption, open_catalog
from mlsysim.errors import MlsysimError


def mcp_command(catalog: Optional[Path] = CatalogOption) -> None:
    """Run the MCP server on stdin/stdout (tools: get_schemas, evaluate_cluster_yaml, solve,
    optimize, lookup, explain). Configure your client to start `mlsysim mcp`; see the README."""
    try:
        from mlsysim.agent.mcp_server import serve
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "mcp":
            raise
        raise MlsysimError("the MCP server needs the `mcp` package (the official Model Context Protocol SDK, 2.x); "
                           "install it: pip install 'mcp>=2.3'") from None
    serve(open_catalog(catalog))


def register(app: typer.Typer) -> None:
    app.command("mcp")(mcp_command)
