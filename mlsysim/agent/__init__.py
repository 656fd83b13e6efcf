"""Tools for agents: the MCP server (`mlsysim mcp`) and what it serves.

A layer above `evaluate` and `site`, below `cli`: `tools` holds the tool functions as plain
Python (dicts in, JSON-ready dicts out, MlsysimError on bad input), every result carrying
the citations of the catalog values it used and the catalog's fingerprint; `mcp_server`
exposes them over the Model Context Protocol with the official `mcp` SDK.
"""
