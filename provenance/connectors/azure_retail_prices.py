"""Azure Retail Prices API (Microsoft, no key).

Docs: https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices
Prices in USD are Microsoft's retail prices; a VM's price is per VM-hour.

Response shape of GET https://prices.azure.com/api/retail/prices?$filter=...:

    {"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
     "Items": [{"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": 98.32, "unitPrice": 98.32,
                "armRegionName": "eastus", "location": "US East", "effectiveStartDate": "2023-...T00:00:00Z",
                "meterId": "...", "meterName": "ND96isr H100 v5", "productId": "...", "skuId": "...",
                "productName": "Virtual Machines NDsr H100 v5 Series", "skuName": "ND96isr H100 v5",
                "serviceName": "Virtual Machines", "serviceId": "...", "serviceFamily": "Compute",
                "unitOfMeasure": "1 Hour", "type": "Consumption", "isPrimaryMeterRegion": true,
                "armSkuName": "Standard_ND96isr_H100_v5"}, ...],
     "NextPageLink": null, "Count": 1}

One SKU in one region comes back as several rows: Linux and Windows (same
meterName, "Windows" in productName), Spot and Low Priority meters, and
reservations. `normalise` drops Windows, Spot, Low Priority and non-Consumption
rows; the claim's json_path must then select exactly one row. A paginated
answer (NextPageLink set) is refused: the filter is too broad to be sure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from provenance.connectors import ShapeError

NAME = "Azure Retail Prices API"
HOSTS = ("prices.azure.com",)
_HOURS = re.compile(r"^\s*(\d+)\s+hours?\s*$", re.I)


def prepare(url: str, environ: Mapping[str, str], auth_var: str | None) -> tuple[str, dict[str, str], str | None]:
    return url, {"Accept": "application/json"}, None


def _excluded(row: Mapping[str, Any]) -> bool:
    product, meter, sku = (str(row.get(k, "")) for k in ("productName", "meterName", "skuName"))
    return (
        "windows" in product.lower()
        or any("spot" in s.lower() or "low priority" in s.lower() for s in (meter, sku))
        or row.get("type") != "Consumption"
    )


def normalise(document: Any) -> Any:
    if not isinstance(document, dict) or not isinstance(document.get("Items"), list):
        raise ShapeError("expected {'Items': [...]} from the Azure Retail Prices API")
    if document.get("NextPageLink"):
        raise ShapeError("the answer is paginated (NextPageLink is set); narrow the $filter so one page holds it")
    return {**document, "Items": [r for r in document["Items"] if isinstance(r, dict) and not _excluded(r)]}


def unit(document: Any, row: Any) -> str | None:
    if not isinstance(row, dict):
        return None
    m = _HOURS.match(str(row.get("unitOfMeasure", "")))
    currency = row.get("currencyCode")
    if not m or not isinstance(currency, str) or not currency.isalpha():
        return None
    hours = int(m.group(1))
    return f"{currency}/hour" if hours == 1 else f"{currency}/({hours} hour)"


def valid_time(document: Any, row: Any) -> str | None:
    start = row.get("effectiveStartDate") if isinstance(row, dict) else None
    return start[:10] if isinstance(start, str) and len(start) >= 10 else None


def guards(url: str, document: Any, row: Any, qualifiers: Mapping[str, str]) -> list[str]:
    if not isinstance(row, dict):
        return ["the selected value is not inside a price row"]
    return [f"row has type {row.get('type')!r}, not 'Consumption' (pay-as-you-go)"] if row.get("type") != "Consumption" else []
