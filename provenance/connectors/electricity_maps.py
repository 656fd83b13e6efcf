"""Electricity Maps API v3 (key required: `access.auth: env:ELECTRICITYMAPS_TOKEN`).

Docs: https://docs.electricitymaps.com/ . The key travels in the `auth-token`
header, is read from the environment only, and is redacted from everything the
checker writes. Without the key the check is `skipped`, never a CI failure.

Response shape of GET /v3/carbon-intensity/latest?zone=DE[&emissionFactorType=direct]:

    {"zone": "DE", "carbonIntensity": 322, "datetime": "2019-05-21T00:00:00.000Z",
     "updatedAt": "2022-04-07T15:32:21.002Z", "emissionFactorType": "lifecycle",
     "isEstimated": false, "temporalGranularity": "hourly"}

(estimated values also carry "estimationMethod").

in gCO2eq/kWh. Guards: the zone echoed back must be the zone asked for, and the
emission-factor type echoed back must be the claim's `qualifiers.basis`
(Electricity Maps says `lifecycle` or `direct`, the catalog's own words).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from provenance.connectors import ShapeError, token

NAME = "Electricity Maps API"
HOSTS = ("api.electricitymap.org", "api.electricitymaps.com", "api-access.electricitymaps.com")


def prepare(url: str, environ: Mapping[str, str], auth_var: str | None) -> tuple[str, dict[str, str], str | None]:
    key = token(environ, auth_var, NAME)
    return url, {"Accept": "application/json", "auth-token": key}, key


def normalise(document: Any) -> Any:
    if not isinstance(document, dict) or "zone" not in document or "carbonIntensity" not in document:
        raise ShapeError("expected an object with 'zone' and 'carbonIntensity' from Electricity Maps")
    return document


def unit(document: Any, row: Any) -> str | None:
    return "gCO2e/kWh"


def valid_time(document: Any, row: Any) -> str | None:
    when = document.get("datetime")
    return when if isinstance(when, str) else None


def guards(url: str, document: Any, row: Any, qualifiers: Mapping[str, str]) -> list[str]:
    problems = []
    asked = parse_qs(urlsplit(url).query).get("zone", [None])[0]
    if asked is not None and document.get("zone") != asked:
        problems.append(f"asked for zone {asked!r}, the API answered for {document.get('zone')!r}")
    basis = qualifiers.get("basis")
    echoed = document.get("emissionFactorType")
    if basis is not None and echoed != basis:
        problems.append(f"the API's emissionFactorType is {echoed!r}, but the claim says basis: {basis}")
    return problems
