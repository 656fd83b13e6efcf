"""Tests for mlsysim/solvers/economics.py."""

from __future__ import annotations

import pytest

from mlsysim.catalog import load_catalog
from mlsysim.errors import MlsysimError
from mlsysim.solvers.economics import EconomicsModel
from tests import fleet_catalog

MONTH = 30 * 86400


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLSYSIM_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield load_catalog(fleet_catalog.build(tmp_path_factory.mktemp("fleet")))


def test_tco_of_a_month(catalog):
    cluster = catalog.get("clusters", "research_256")
    r = EconomicsModel().solve(cluster, MONTH, grid="test_priced_grid", datacenter="Hyperscale", tokens=1e12, catalog=catalog)
    assert r.currency == "USD"
    assert r.price_years["capex"] == 2026 and r.price_years["electricity"] == 2024
    assert r.capex == pytest.approx(256 * 30000)  # DGX H100 has no cited unit cost: accelerators only
    assert any("accelerators only" in n for n in r.notes)
    assert r.amortised_capex == pytest.approx(r.capex * MONTH / (6 * 365.25 * 86400))
    assert r.maintenance == pytest.approx(r.capex * 0.10 * MONTH / (365.25 * 86400))
    assert r.energy_cost == pytest.approx(r.sustainability.facility_energy / 3.6e6 * 0.1)
    assert r.run_cost == pytest.approx(r.amortised_capex + r.maintenance + r.energy_cost)
    assert r.cost_per_million_tokens == pytest.approx(r.run_cost / 1e6)


def test_node_unit_cost_is_preferred(catalog):
    r = EconomicsModel().solve(catalog.get("clusters", "test_selene_a100"), MONTH, grid="test_priced_grid",
                               datacenter="Hyperscale", catalog=catalog)
    assert r.capex == pytest.approx(192 * 199000)
    assert r.price_years["capex"] == 2020


def test_missing_price_is_a_clear_error(catalog):
    with pytest.raises(MlsysimError, match=r"grid test_unpriced_grid has no electricity_price in the catalog \(grids/test_unpriced_grid.yaml\)"):
        EconomicsModel().solve(catalog.get("clusters", "research_256"), MONTH, grid="test_unpriced_grid",
                               datacenter="Hyperscale", catalog=catalog)


def test_prices_are_solve_without_the_length(catalog):
    from mlsysim.solvers.economics import prices
    from mlsysim.solvers.sustainability import SustainabilityModel

    cluster = catalog.get("clusters", "research_256")
    site = {"grid": "test_priced_grid", "datacenter": "Hyperscale", "catalog": catalog}
    p = prices(cluster, **site)
    assert p is prices(cluster, **site)
    energy = SustainabilityModel().solve(cluster, MONTH, **site)
    assert p.cost(MONTH, 1e12, energy).to_dict() == EconomicsModel().solve(cluster, MONTH, tokens=1e12, **site).to_dict()
    with pytest.raises(MlsysimError, match="tokens must be positive"):
        p.cost(MONTH, -1.0, energy)
