"""Live connectors: what the checker must know about one real API.

A connector adds the API's own rules to the generic `json_path` strategy:
how to authenticate (a key read from the environment, never from the catalog),
which rows of a response are eligible, what unit the values are in, what time
they describe, and the semantic guards the API's answer must pass. One small
module per API; each documents the response shape it expects and has a
recorded real-shaped payload under tests/fixtures/connectors/.

Interface of a connector module:
    NAME: str
    HOSTS: tuple[str, ...]
    prepare(url, environ, auth_var) -> (url, headers, secret or None)   may raise MissingCredential
    normalise(document) -> document   may raise ShapeError (the answer is unusable)
    unit(document, row) -> str | None   pint unit of the values
    valid_time(document, row) -> str | None
    guards(url, document, row, qualifiers) -> list[str]   problems; empty when the answer is the one asked for
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from types import ModuleType
from urllib.parse import urlsplit


class ConnectorError(Exception):
    """Base of connector errors; messages never contain a secret."""


class MissingCredential(ConnectorError):
    """The API needs a key from an environment variable that is not set."""


class ShapeError(ConnectorError):
    """The response is not the shape the connector documents, or has no usable row."""


_MODULES = ("gb_carbon_intensity", "azure_retail_prices", "electricity_maps")


def connector_for(url: str, overrides: Mapping[str, str] | None = None) -> ModuleType | None:
    """The connector module for the API at url, or None for a generic JSON source.

    `overrides` maps a URL prefix to a connector name, so that a local test
    server can stand in for the real API.
    """
    for prefix, name in (overrides or {}).items():
        if url.startswith(prefix):
            if name not in _MODULES:
                raise ValueError(f"unknown connector {name!r}; use one of {', '.join(_MODULES)}")
            return import_module(f"provenance.connectors.{name}")
    host = (urlsplit(url).hostname or "").lower()
    for name in _MODULES:
        module = import_module(f"provenance.connectors.{name}")
        if host in module.HOSTS:
            return module
    return None


def token(environ: Mapping[str, str], auth_var: str | None, api: str) -> str:
    """The key named by `access.auth: env:VAR`, or MissingCredential saying how to provide it."""
    if not auth_var:
        raise MissingCredential(f"{api} needs a key: add 'access: {{auth: env:VAR_NAME}}' to the source")
    value = environ.get(auth_var, "").strip()
    if not value:
        raise MissingCredential(f"{auth_var} is not set; export it (or add it as a CI secret) to check this {api} source")
    return value
