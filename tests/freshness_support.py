"""A small catalog whose sources are served by a local HTTP server, for the checker tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pytest_httpserver import HTTPServer

FIXTURES = Path(__file__).parent / "fixtures"

DATASHEET = """<!doctype html><html><head><title>FX100 datasheet</title></head><body>
<h1>Fixture FX100</h1><table>
<tr><th>GPU Memory</th><td>80GB HBM3</td></tr>
<tr><th>Memory bandwidth</th><td>4TB/s</td></tr>
</table></body></html>"""

MODEL_CARD = "<html><body><p>Fixture model card: 1.2 billion parameters.</p></body></html>"
GRID_CSV = "region,year,intensity\nXX,2023,400\n"

AZURE_PATH = "$.Items[?(@.armSkuName == 'Standard_ND96isr_H100_v5' && @.armRegionName == 'eastus')].retailPrice"
TOKEN = "em-secret-Zq8v2Lk9"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / "connectors" / name).read_text())


def sources_yaml(base: str) -> str:
    return f"""\
fixture-datasheet:
  title: Fixture Accelerator Datasheet
  publisher: Fixture Corp
  type: datasheet
  url: {base}/datasheet.html
fixture-model-card:
  title: Fixture Model Card
  publisher: Fixture Labs
  type: model_card
  url: {base}/model-card.html
fixture-grid-data:
  title: Fixture Grid Dataset
  publisher: Fixture Energy Agency
  type: dataset
  url: {base}/grid.csv
gb-live:
  title: Local stand-in for the GB Carbon Intensity API
  publisher: Test
  type: api
  url: {base}/gb/intensity/date
  check: {{json_path: "$.data[0].intensity.actual", plausible: {{min: 0, max: 1000}}, on_change: apply}}
price-api:
  title: Local stand-in for the Azure Retail Prices API
  publisher: Test
  type: api
  url: {base}/azure/prices
  check: {{json_path: "{AZURE_PATH}", assert: {{currencyCode: USD, unitOfMeasure: 1 Hour}}, plausible: {{min: 10, max: 500}}, on_change: apply, cadence_days: 7}}
em-live:
  title: Local stand-in for Electricity Maps
  publisher: Test
  type: api
  url: {base}/em/latest?zone=DE
  access: {{auth: "env:ELECTRICITYMAPS_TOKEN"}}
  check: {{json_path: "$.carbonIntensity", assert: {{zone: DE}}, plausible: {{min: 0, max: 1500}}, on_change: apply}}
"""


LIVE_GRID = """\
id: live_grid
name: Live grid
region: GB
carbon_intensity:
  value: 171
  unit: gCO2/kWh
  source: gb-live
  valid_time: "2026-03-20T00:00Z"
  qualifiers: {basis: direct}
"""

EM_GRID = """\
id: em_grid
name: Electricity Maps grid
region: DE
carbon_intensity: {value: 300, unit: gCO2e/kWh, source: em-live, valid_time: "2019-01-01T00:00:00.000Z", qualifiers: {basis: lifecycle}}
"""

NODE_PRICE = """\
cloud_price: {value: 90, unit: USD/hour, source: price-api, valid_time: "2023-01-01"}  # per VM-hour
"""


def build_catalog(root: Path, server: HTTPServer) -> Path:
    """Copy the fixture catalog to root, point its sources at the server and add live values."""
    shutil.copytree(FIXTURES / "catalog", root)
    base = server.url_for("").rstrip("/")
    (root / "sources.yaml").write_text(sources_yaml(base), encoding="utf-8")
    (root / "grids" / "live_grid.yaml").write_text(LIVE_GRID, encoding="utf-8")
    (root / "grids" / "em_grid.yaml").write_text(EM_GRID, encoding="utf-8")
    node = root / "systems" / "nodes" / "fixture_node.yaml"
    node.write_text(node.read_text(encoding="utf-8") + NODE_PRICE, encoding="utf-8")
    # A quote with enough words around its number to recognise the number changing.
    hw = root / "hardware" / "cloud" / "fx100.yaml"
    hw.write_text(hw.read_text(encoding="utf-8").replace('as_stated: "4TB/s"', 'as_stated: "Memory bandwidth 4TB/s"'), encoding="utf-8")
    # A derived per-GPU price fed by the node's live VM price.
    hw.write_text(hw.read_text(encoding="utf-8") + (
        'cloud_price: {value: 11.25, unit: USD/hour, source: price-api, method: derived, '
        'derived_from: ["nodes/fixture_node#cloud_price"], formula: "VM price / 8", check: {strategy: none}}\n'), encoding="utf-8")
    return root


def serve_all(server: HTTPServer, *, datasheet: str = DATASHEET, azure: dict | None = None, gb: dict | None = None,
              em: dict | None = None, etag: str | None = None) -> None:
    """Answer every source of the test catalog (permanent handlers)."""
    headers = {"ETag": etag} if etag else {}
    server.expect_request("/datasheet.html").respond_with_data(datasheet, content_type="text/html; charset=utf-8", headers=headers)
    server.expect_request("/model-card.html").respond_with_data(MODEL_CARD, content_type="text/html")
    server.expect_request("/grid.csv").respond_with_data(GRID_CSV, content_type="text/csv")
    server.expect_request("/gb/intensity/date").respond_with_json(gb or payload("gb_carbon_intensity_date.json"))
    server.expect_request("/azure/prices").respond_with_json(azure or payload("azure_retail_prices_nd96isr_h100_v5.json"))
    server.expect_request("/em/latest").respond_with_json(em or payload("electricity_maps_latest_de.json"))


def connector_env(server: HTTPServer) -> str:
    base = server.url_for("").rstrip("/")
    return f"{base}/gb/=gb_carbon_intensity,{base}/azure/=azure_retail_prices,{base}/em/=electricity_maps"


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
