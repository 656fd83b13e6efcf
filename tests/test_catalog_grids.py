"""The real catalog's grids and datacenters: carbon intensities, electricity prices,
PUE and WUE within physical and market bounds, each with its vintage and basis.

Bounds (why these numbers):
- carbon intensity 0-1200 gCO2e/kWh: a hydro grid emits ~0 directly (Québec
  0.36 g/kWh), the most coal-heavy national grids ~900-1000 on a lifecycle basis.
- electricity price 0.01-0.60 USD/kWh: large-power tariffs in hydro provinces sit
  at a few US cents; 2022 European crisis prices reached ~0.40-0.50 for industry.
- PUE 1.0-2.5 (facility / IT power; Uptime's survey average is ~1.58) and WUE
  0-3 L/kWh (hyperscalers report 0.2-0.5; evaporative cooling in hot climates ~2).
"""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from tests.conftest import REAL_CATALOG

_catalog = load_catalog(REAL_CATALOG)
GRIDS = _catalog.records("grids")
PRICED = [g for g in GRIDS if g.has("electricity_price")]


@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: g.id)
def test_carbon_intensity_is_plausible_and_dated(grid):
    ci = grid.carbon_intensity
    assert 0 <= ci.to("gCO2e/kWh").magnitude <= 1200, ci.path
    assert ci.qualifiers["basis"] in ("lifecycle", "direct")
    assert int(str(ci.valid_time)[:4]) >= 2015, f"{ci.path}: vintage {ci.valid_time} is too old to model today's grid"


def test_the_issue_seed_markets_have_prices():
    """Cost models need a price for the U.S. average, the two big U.S. data-centre
    states, and the cheap-hydro and expensive-European ends of the range."""
    assert {"us_avg", "california", "texas_ercot", "quebec", "germany"} <= {g.id for g in PRICED}


@pytest.mark.parametrize("grid", PRICED, ids=lambda g: g.id)
def test_electricity_price_is_plausible_with_currency_year_and_sector(grid):
    price = grid.electricity_price
    assert 0.01 <= price.to("USD/kWh").magnitude <= 0.60, price.path
    assert price.valid_time is not None, f"{price.path}: say which year the price is for"
    assert "sector" in price.qualifiers, f"{price.path}: say which customer sector (industrial, commercial, ...)"


@pytest.mark.parametrize("grid", [g for g in PRICED if g.electricity_price.method == "derived"], ids=lambda g: g.id)
def test_converted_prices_cite_an_exchange_rate_of_their_year(grid):
    """A price stated in EUR or CAD becomes USD only through a cited exchange rate
    for the same year (units.py refuses EUR: there is no silent conversion)."""
    price = grid.electricity_price
    rates = [p for p in price.claim["derived_from"] if p.startswith("assumptions/") and ("usd" in p or "cad" in p)]
    assert rates, f"{price.path} is derived but cites no exchange rate"
    for path in rates:
        rate = _catalog.find(path.split("#")[0])
        assert str(rate.quantity.valid_time) == str(price.valid_time), f"{path} is for {rate.quantity.valid_time}, the price for {price.valid_time}"


@pytest.mark.parametrize("dc", _catalog.records("datacenters"), ids=lambda d: d.id)
def test_datacenter_efficiency_is_plausible(dc):
    assert 1.0 <= dc.pue.si <= 2.5
    if dc.has("wue"):
        assert 0 <= dc.wue.to("L/kWh").magnitude <= 3
