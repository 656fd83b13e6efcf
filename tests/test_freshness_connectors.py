"""provenance/connectors/*: recorded real-shaped payloads of the three live APIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlsysim.catalog.freshness import convert
from provenance.connectors import MissingCredential, ShapeError, azure_retail_prices, connector_for, electricity_maps, gb_carbon_intensity
from provenance.model import CheckPolicy, Plausible
from provenance.strategies import ClaimRef, json_path

FIXTURES = Path(__file__).parent / "fixtures" / "connectors"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def claim(value: float, unit: str, qualifiers: dict | None = None, **policy) -> ClaimRef:
    return ClaimRef("grids/x#carbon_intensity", Path("x.yaml"), ("carbon_intensity",),
                    {"value": value, "unit": unit, "valid_time": "2020", "qualifiers": qualifiers or {}},
                    "s", {"type": "api"}, CheckPolicy(strategy="json_path", plausible=Plausible(min=0, max=2000), **policy))


def test_connectors_are_found_by_host_or_override() -> None:
    assert connector_for("https://api.carbonintensity.org.uk/intensity/date") is gb_carbon_intensity
    assert connector_for("https://prices.azure.com/api/retail/prices?x=1") is azure_retail_prices
    assert connector_for("https://api.electricitymap.org/v3/carbon-intensity/latest?zone=DE") is electricity_maps
    assert connector_for("https://example.org/data.json") is None
    assert connector_for("http://127.0.0.1:8080/em/latest", {"http://127.0.0.1:8080/em/": "electricity_maps"}) is electricity_maps


def test_gb_takes_the_latest_half_hour_with_a_measured_value() -> None:
    doc = gb_carbon_intensity.normalise(payload("gb_carbon_intensity_date.json"))
    assert doc["data"][0]["from"] == "2026-03-20T03:30Z"  # 04:00 and 04:30 have no actual yet
    out = json_path.check(claim(171, "gCO2/kWh", {"basis": "direct"}, json_path="$.data[0].intensity.actual"),
                          payload("gb_carbon_intensity_date.json"), gb_carbon_intensity, convert, "u")
    assert out.result == "changed" and out.guarded
    assert out.proposal == {"value": 164.0, "valid_time": "2026-03-20T03:30Z"}


def test_gb_basis_must_be_direct() -> None:
    out = json_path.check(claim(171, "gCO2/kWh", {"basis": "lifecycle"}, json_path="$.data[0].intensity.actual"),
                          payload("gb_carbon_intensity_date.json"), gb_carbon_intensity, convert, "u")
    assert out.result == "changed" and "direct" in out.message and not out.proposal


def test_gb_without_any_measured_half_hour_is_a_shape_error() -> None:
    doc = payload("gb_carbon_intensity_date.json")
    for row in doc["data"]:
        row["intensity"]["actual"] = None
    with pytest.raises(ShapeError, match="no half-hour"):
        gb_carbon_intensity.normalise(doc)


AZURE_PATH = "$.Items[?(@.armSkuName == 'Standard_ND96isr_H100_v5' && @.armRegionName == 'eastus')].retailPrice"


def test_azure_keeps_only_the_linux_pay_as_you_go_row() -> None:
    doc = azure_retail_prices.normalise(payload("azure_retail_prices_nd96isr_h100_v5.json"))
    assert [r["retailPrice"] for r in doc["Items"]] == [98.32]
    ref = ClaimRef("nodes/n#cloud_price", Path("n.yaml"), ("cloud_price",), {"value": 90.0, "unit": "USD/hour", "valid_time": "2025-01-01"},
                   "s", {"type": "api"}, CheckPolicy(strategy="json_path", json_path=AZURE_PATH, plausible=Plausible(min=10, max=500),
                                                     **{"assert": {"currencyCode": "USD", "unitOfMeasure": "1 Hour"}}))
    out = json_path.check(ref, payload("azure_retail_prices_nd96isr_h100_v5.json"), azure_retail_prices, convert, "u")
    assert out.result == "changed" and out.proposal == {"value": 98.32, "valid_time": "2024-01-01"}


def test_azure_converts_a_multi_hour_unit() -> None:
    doc = payload("azure_retail_prices_nd96isr_h100_v5.json")
    row = dict(doc["Items"][0], unitOfMeasure="10 Hours", retailPrice=983.2)
    ref = ClaimRef("nodes/n#cloud_price", Path("n.yaml"), ("cloud_price",), {"value": 98.32, "unit": "USD/hour"},
                   "s", {"type": "api"}, CheckPolicy(strategy="json_path", json_path=AZURE_PATH))
    out = json_path.check(ref, {**doc, "Items": [row]}, azure_retail_prices, convert, "u")
    assert out.result == "match" and out.observed == pytest.approx(98.32)


def test_azure_two_linux_rows_are_ambiguous() -> None:
    doc = payload("azure_retail_prices_nd96isr_h100_v5.json")
    doc["Items"].append(dict(doc["Items"][0], retailPrice=99.0))
    ref = claim(98.32, "USD/hour", json_path=AZURE_PATH)
    out = json_path.check(ref, doc, azure_retail_prices, convert, "u")
    assert out.result == "missing" and "2 values match" in out.message


def test_azure_paginated_answer_is_refused() -> None:
    doc = payload("azure_retail_prices_nd96isr_h100_v5.json")
    doc["NextPageLink"] = "https://prices.azure.com/api/retail/prices?$skip=100"
    with pytest.raises(ShapeError, match="paginated"):
        azure_retail_prices.normalise(doc)


EM_URL = "https://api.electricitymap.org/v3/carbon-intensity/latest?zone=DE"


def test_electricity_maps_needs_its_token_from_the_environment() -> None:
    with pytest.raises(MissingCredential, match="ELECTRICITYMAPS_TOKEN is not set"):
        electricity_maps.prepare(EM_URL, {}, "ELECTRICITYMAPS_TOKEN")
    url, headers, secret = electricity_maps.prepare(EM_URL, {"ELECTRICITYMAPS_TOKEN": "tok-abc-123"}, "ELECTRICITYMAPS_TOKEN")
    assert headers["auth-token"] == "tok-abc-123" == secret and "tok" not in url


def test_electricity_maps_echoed_zone_and_basis_are_guards() -> None:
    doc = payload("electricity_maps_latest_de.json")
    ok = json_path.check(claim(300, "gCO2e/kWh", {"basis": "lifecycle"}, json_path="$.carbonIntensity"), doc, electricity_maps, convert, EM_URL)
    assert ok.result == "changed" and ok.proposal == {"value": 322.0, "valid_time": "2019-05-21T00:00:00.000Z"}
    wrong_zone = json_path.check(claim(300, "gCO2e/kWh", {"basis": "lifecycle"}, json_path="$.carbonIntensity"),
                                 doc, electricity_maps, convert, EM_URL.replace("DE", "FR"))
    assert wrong_zone.result == "changed" and "asked for zone 'FR'" in wrong_zone.message
    wrong_basis = json_path.check(claim(300, "gCO2e/kWh", {"basis": "direct"}, json_path="$.carbonIntensity"), doc, electricity_maps, convert, EM_URL)
    assert "emissionFactorType is 'lifecycle'" in wrong_basis.message
