"""The real catalog's grids and datacenters: carbon intensities, electricity prices,
PUE and WUE within physical and market bounds, each with its vintage and basis.

Bounds (why these numbers):
- carbon intensity 0-1200 gCO2e/kWh on either basis: a hydro grid emits ~0 directly
  (Québec 0.36 g/kWh), the most coal-heavy national grids ~900-1000 on a lifecycle basis.
- electricity price 0.01-0.60 USD/kWh: large-power tariffs in hydro provinces sit
  at a few US cents; 2022 European crisis prices reached ~0.40-0.50 for industry.
- PUE 1.0-2.5 (facility / IT power; Uptime's survey average is ~1.58) and WUE
  0-3 L/kWh (hyperscalers report 0.2-0.5; evaporative cooling in hot climates ~2).
"""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from tests.conftest import FIXTURE_CATALOG, REAL_CATALOG

_catalog = load_catalog(REAL_CATALOG)
GRIDS = _catalog.records("grids")
PRICED = [g for g in GRIDS if g.has("electricity_price")]


CARBON = [(g, path) for g in GRIDS for path in ("carbon_intensity_lifecycle", "carbon_intensity_direct") if g.has(path)]


@pytest.mark.parametrize(("grid", "path"), CARBON, ids=lambda x: x if isinstance(x, str) else x.id)
def test_carbon_intensity_is_plausible_and_dated(grid, path):
    ci = grid.field(path)
    assert 0 <= ci.to("gCO2e/kWh").magnitude <= 1200, ci.path
    assert ci.qualifiers["basis"] == path.rsplit("_", 1)[1]
    assert int(str(ci.valid_time)[:4]) >= 2015, f"{ci.path}: vintage {ci.valid_time} is too old to model today's grid"


def test_every_grid_states_its_carbon_intensity_in_the_new_form():
    """The bundled catalog writes one field per basis; the old single `carbon_intensity`
    (basis in a qualifier) is only read for older catalogs."""
    for grid in GRIDS:
        assert not grid.has("carbon_intensity"), f"{grid.id}: move carbon_intensity to carbon_intensity_<basis>"
        assert grid.has("carbon_intensity_lifecycle") or grid.has("carbon_intensity_direct"), grid.id


@pytest.mark.parametrize("basis", ["lifecycle", "direct"])
def test_one_aggregator_per_basis(basis):
    """Values on one basis come from one dataset, so that a column of the zoo compares
    like with like (aggregators of the same basis disagree by 10-15% between them)."""
    aggregators = {g.field(f"carbon_intensity_{basis}").qualifiers["aggregator"] for g in GRIDS if g.has(f"carbon_intensity_{basis}")}
    assert len(aggregators) == 1, f"{basis}: {sorted(aggregators)}"


def test_lifecycle_exceeds_direct_where_a_grid_has_both():
    """A lifecycle figure adds construction, fuel supply and (for hydro) reservoir
    emissions to what the plants emit, so it cannot be lower than the direct one:
    Hydro-Québec's direct 0.36 g/kWh against Electricity Maps' 35 gCO2e/kWh lifecycle."""
    both = [g for g in GRIDS if g.has("carbon_intensity_lifecycle") and g.has("carbon_intensity_direct")]
    assert {"quebec", "us_avg"} <= {g.id for g in both}
    for g in both:
        assert g.carbon_intensity_lifecycle.si >= g.carbon_intensity_direct.si, g.id


def test_the_field_reference_grids_resolve():
    """The grids the field reference (MLSys-im 0.3.0, infrastructure/data/grids.yaml) names."""
    names = ["China_Avg", "EU_Avg", "France", "Germany", "Iceland", "India_Avg", "Iowa", "Norway", "Poland", "Quebec", "Texas", "US_Avg"]
    for name in names:
        assert _catalog.get("grids", name).kind == "grids"


def test_carbon_intensity_path_reads_both_forms():
    from mlsysim.catalog.schemas.infra import carbon_intensity_path

    quebec, poland = _catalog.get("grids", "quebec"), _catalog.get("grids", "poland")
    assert carbon_intensity_path(quebec) == "carbon_intensity_lifecycle"
    assert carbon_intensity_path(quebec, "direct") == "carbon_intensity_direct"
    assert carbon_intensity_path(poland, "direct") is None
    assert carbon_intensity_path(_catalog.get("grids", "eu_avg")) == "carbon_intensity_direct"
    fixture = load_catalog(FIXTURE_CATALOG).get("grids", "fixture_grid")  # old one-field form, basis lifecycle
    assert carbon_intensity_path(fixture) == "carbon_intensity"
    assert carbon_intensity_path(fixture, "lifecycle") == "carbon_intensity"
    assert carbon_intensity_path(fixture, "direct") is None
    with pytest.raises(ValueError, match="basis must be one of"):
        carbon_intensity_path(quebec, "operational")


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


def _grid(**fields):
    from mlsysim.catalog.schemas.infra import Grid

    return Grid.model_validate({"id": "g", "name": "G", "region": "X", **fields})


def _ci(basis, **extra):
    claim = {"value": 30, "unit": "gCO2e/kWh", "source": "s", "valid_time": 2024,
             "qualifiers": {"basis": basis, "aggregator": "Electricity Maps"}}
    claim.update(extra)
    return claim


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "a grid needs carbon_intensity_lifecycle or carbon_intensity_direct"),
    ({"carbon_intensity_direct": _ci("lifecycle")}, r"needs qualifiers: \{basis: direct\}"),
    ({"carbon_intensity_lifecycle": _ci("lifecycle", qualifiers={"basis": "lifecycle"})}, r"needs qualifiers: \{aggregator"),
    ({"carbon_intensity_lifecycle": _ci("lifecycle", valid_time=None)}, "needs 'valid_time'"),
    ({"carbon_intensity": _ci("direct"), "carbon_intensity_lifecycle": _ci("lifecycle")}, "not both"),
    ({"carbon_intensity": _ci("operational")}, r"needs qualifiers: \{basis: lifecycle\} or \{basis: direct\}"),
])
def test_grid_schema_refuses_mixed_or_unlabelled_carbon(fields, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        _grid(**fields)


def test_grid_schema_accepts_either_basis_alone_and_the_old_form():
    assert _grid(carbon_intensity_direct=_ci("direct")).carbon_intensity_direct.value == 30
    assert _grid(carbon_intensity_lifecycle=_ci("lifecycle")).carbon_intensity_lifecycle.value == 30
    assert _grid(carbon_intensity=_ci("direct")).carbon_intensity.qualifiers["basis"] == "direct"
