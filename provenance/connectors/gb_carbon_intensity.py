"""GB Carbon Intensity API (National Energy System Operator, no key).

Docs: https://carbon-intensity.github.io/api-definitions (CC BY 4.0).
The national intensity "includes CO2 emissions related to electricity generation
only" (large metered power stations, interconnector imports, transmission and
distribution losses): an operational, direct-combustion basis, in gCO2/kWh.

Response shape of GET /intensity, /intensity/date and /intensity/date/{date}:

    {"data": [{"from": "2018-01-20T12:00Z", "to": "2018-01-20T12:30Z",
               "intensity": {"forecast": 266, "actual": 263, "index": "moderate"}}, ...]}

`actual` (estimated from metered generation) is null for half-hours that have
not closed yet. `normalise` keeps only the most recent half-hour that has an
actual value, so a claim's json_path is `$.data[0].intensity.actual` and its
valid_time is that half-hour's start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provenance.connectors import ShapeError

NAME = "GB Carbon Intensity API"
HOSTS = ("api.carbonintensity.org.uk",)
BASIS = "direct"  # generation-only CO2: operational emission factors, no life-cycle share


def prepare(url: str, environ: Mapping[str, str], auth_var: str | None) -> tuple[str, dict[str, str], str | None]:
    return url, {"Accept": "application/json"}, None


def normalise(document: Any) -> Any:
    rows = document.get("data") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise ShapeError("expected {'data': [...]} from the Carbon Intensity API")
    measured = []
    for row in rows:
        if not (isinstance(row, dict) and isinstance(row.get("from"), str) and isinstance(row.get("intensity"), dict)):
            raise ShapeError("a 'data' row lacks 'from' or 'intensity'")
        actual = row["intensity"].get("actual")
        if isinstance(actual, (int, float)) and not isinstance(actual, bool):
            measured.append(row)
    if not measured:
        raise ShapeError("no half-hour in the answer has an 'actual' (measured) intensity yet")
    latest = max(measured, key=lambda r: r["from"])  # ISO-8601 UTC strings sort in time order
    return {"data": [latest]}


def unit(document: Any, row: Any) -> str | None:
    return "gCO2/kWh"


def valid_time(document: Any, row: Any) -> str | None:
    return document["data"][0]["from"]


def guards(url: str, document: Any, row: Any, qualifiers: Mapping[str, str]) -> list[str]:
    basis = qualifiers.get("basis")
    if basis is not None and basis != BASIS:
        return [f"the API's intensity is on a {BASIS} (generation-only CO2) basis, but the claim says basis: {basis}"]
    return []
