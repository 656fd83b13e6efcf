"""Total cost of ownership of a job, against renting the same accelerators.

  capex            nodes x node unit cost (or accelerators x accelerator unit cost)
                   + fabric ports x port cost, where the catalog states them
  amortised capex  capex x job time / amortisation period
  maintenance      capex x annual maintenance ratio x job time / year
  energy           facility energy x the grid's electricity price
  cost of the run  amortised capex + maintenance + energy
  per 1M tokens    cost of the run / tokens x 10^6
  cloud rental     accelerator-hours x the accelerator's cited on-demand hourly price

Every result states its currency and the year each price describes, because prices
from different years are not directly comparable.

References
----------
Barroso, Hölzle & Ranganathan 2018, "The Datacenter as a Computer", 3rd ed., Ch. 6
(capital amortisation plus operating cost per unit of work).
Patterson et al. 2021, arXiv 2104.10350 (energy and cost of training at a given site).
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog import Catalog
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.fleet import Fleet, Site, fleet_of
from mlsysim.solvers.results import QuantityView
from mlsysim.solvers.sustainability import SustainabilityModel, SustainabilityResult
from mlsysim.solvers.terms import cited_assumption

MAINTENANCE_RATIO = "maintenance_cost_ratio"
AMORTISATION = "hardware_replacement_period_idris"
CURRENCY = "USD"
JULIAN_YEAR = 365.25 * 86400  # [s], the year pint and astropy define
SECONDS_PER_HOUR = 3600.0
PER_MILLION = 1e6


@dataclass(slots=True)  # built on every solve: plain slots are the cheapest to build
class EconomicsResult(QuantityView):
    """Costs of one job in `currency` (floats; `quantity(name)` for a pint view);
    `price_years` says which year each price describes."""

    currency: str
    price_years: dict[str, Any]
    capex: float
    capex_basis: str  # what the capex counts
    amortisation_period: float  # [s]
    amortised_capex: float
    maintenance: float
    energy_cost: float
    run_cost: float
    tokens: float | None
    cost_per_million_tokens: float | None
    cloud_cost: float | None  # renting the same accelerator-hours, when a cited price exists
    cloud_price_per_hour: float | None  # per accelerator
    notes: tuple[str, ...]
    sustainability: SustainabilityResult
    lineage: Lineage = field(repr=False)

    UNITS = {"capex": "USD", "amortisation_period": "s", "amortised_capex": "USD", "maintenance": "USD",
             "energy_cost": "USD", "run_cost": "USD", "tokens": "", "cost_per_million_tokens": "USD",
             "cloud_cost": "USD", "cloud_price_per_hour": "USD"}

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("lineage", "sustainability")}
        out["notes"] = list(self.notes)
        out["lineage"] = [e.to_dict() for e in self.lineage.entries()]
        out["catalog"] = self.lineage.catalog
        return out


class EconomicsModel:
    """Cost of running a job on owned hardware, and the cloud-rental alternative."""

    def solve(self, fleet: Record | Fleet, duration: float, *, devices: int | None = None, grid: Any = None,
              datacenter: Any = None, tokens: float | None = None, amortisation: Any = None,
              maintenance_ratio: Any = None, energy: SustainabilityResult | None = None,
              catalog: Catalog | None = None, **power: Any) -> EconomicsResult:
        """
        fleet              a cluster (or Fleet), or a hardware record with devices=
        duration [s]       wall-clock time the job holds the accelerators
        grid, datacenter   where it runs (electricity price, PUE); unknown names are errors
        tokens             tokens the job processes (for the cost per million tokens)
        amortisation       period [s] (number or cited assumption; default: the 6-year
                           replacement period IDRIS gave for BLOOM's hardware)
        maintenance_ratio  annual maintenance / capex (default: the cited estimate)
        energy             a SustainabilityResult for the same job, to reuse (else computed,
                           with `power` = pue, utilization, power_model: see PowerSpec)
        """
        catalog = inputs.catalog_of(fleet, grid, datacenter, catalog=catalog)
        if energy is None:
            energy = SustainabilityModel().solve(fleet, duration, devices=devices, grid=grid, datacenter=datacenter,
                                                 catalog=catalog, **power)
        elif power:
            raise MlsysimError(f"pass either energy= or the power model ({', '.join(power)}), not both")
        return prices(fleet, devices=devices, grid=grid, datacenter=datacenter, amortisation=amortisation,
                      maintenance_ratio=maintenance_ratio, catalog=catalog).cost(duration, tokens, energy)


@dataclass(frozen=True)
class Prices:
    """The prices of a job's hardware, site and upkeep, read from the catalog: everything
    EconomicsModel.solve needs but the job's time, tokens and energy (see `prices`)."""

    capex: float
    capex_basis: str
    amortisation_period: float  # [s]
    maintenance_ratio: float  # per year
    electricity_price: float  # [USD/J]
    cloud_price_per_hour: float | None  # per accelerator
    price_years: dict[str, Any]
    notes: tuple[str, ...]
    lineage: Lineage

    def cost(self, duration: float, tokens: float | None, energy: SustainabilityResult) -> EconomicsResult:
        """The cost of holding the hardware for `duration` seconds [s] while drawing `energy`."""
        duration = inputs.finite_positive(duration, "duration (seconds)")
        if tokens is not None:
            if not (inputs._number(tokens) and 0 < tokens < math.inf):
                raise MlsysimError(f"tokens must be positive (and finite), got {tokens!r}")
        lineage = Lineage()
        lineage.merge(energy.lineage)
        lineage.merge(self.lineage)
        amortised = self.capex * duration / self.amortisation_period
        maintenance = self.capex * self.maintenance_ratio * duration / JULIAN_YEAR
        energy_cost = energy.facility_energy * self.electricity_price
        run = amortised + maintenance + energy_cost
        per_m = None
        if tokens is not None:
            per_m = run / tokens * PER_MILLION
        rate = self.cloud_price_per_hour
        return EconomicsResult(
            currency=CURRENCY, price_years=dict(self.price_years), capex=self.capex, capex_basis=self.capex_basis,
            amortisation_period=self.amortisation_period, amortised_capex=amortised, maintenance=maintenance,
            energy_cost=energy_cost, run_cost=run, tokens=tokens, cost_per_million_tokens=per_m,
            cloud_cost=rate * energy.device_hours if rate is not None else None, cloud_price_per_hour=rate,
            notes=self.notes, sustainability=energy, lineage=lineage,
        )


def prices(fleet: Record | Fleet, *, devices: int | None = None, grid: Any = None, datacenter: Any = None,
           amortisation: Any = None, maintenance_ratio: Any = None, catalog: Catalog | None = None) -> Prices:
    """EconomicsModel.solve's inputs (same meaning) read into Prices, once per catalog and
    distinct inputs."""
    catalog = inputs.catalog_of(fleet, grid, datacenter, amortisation, maintenance_ratio, catalog=catalog)
    hardware, node, cluster, n, nodes = _parts(fleet, devices)
    site = Site.of(grid=grid, datacenter=datacenter, cluster=cluster, catalog=catalog)
    memo = catalog.derived("prices")
    key = inputs.memo_key(hardware, cluster, n, site, amortisation, maintenance_ratio)
    found = memo.get(key) if key is not None else None
    if found is None:
        found = _read_prices(catalog, (hardware, node, cluster, n, nodes), site, amortisation, maintenance_ratio)
        if key is not None:
            inputs.remember(memo, key, found)
    return found


def _read_prices(catalog: Catalog, parts: tuple[Record, Record | None, Record | None, int, int], site: Site,
                 amortisation: Any, maintenance_ratio: Any) -> Prices:
    hardware, node, cluster, n, nodes = parts
    lineage = Lineage()
    years: dict[str, Any] = {}
    notes: list[str] = []
    fabric = cluster.fabric if cluster is not None else None
    capex, basis = _capex(hardware, node, fabric, n, nodes, lineage, years, notes)
    period = _amount(amortisation, AMORTISATION, catalog, lineage, "time", "amortisation")
    ratio = _amount(maintenance_ratio, MAINTENANCE_RATIO, catalog, lineage, "dimensionless", "maintenance_ratio")
    grid_rec = site.grid
    if grid_rec is None:
        raise MlsysimError("no electricity price: pass grid= (see `mlsysim zoo grids`)")
    price = grid_rec.get("electricity_price")
    if price is None:
        raise MlsysimError(
            f"grid {grid_rec.label} has no electricity_price in the catalog ({grid_rec.file}); "
            "add a cited price to that record or choose a grid that has one"
        )
    price_si = lineage.use(price)
    years["electricity"] = price.valid_time

    cloud_rate = None
    cloud_price = hardware.get("cloud_price")
    if cloud_price is not None:
        cloud_rate = lineage.use(cloud_price) * SECONDS_PER_HOUR
        years["cloud_price"] = cloud_price.valid_time
    else:
        notes.append(f"no cloud-rental comparison: {hardware.label} has no cited cloud_price")
    return Prices(capex, basis, period, ratio, price_si, cloud_rate, years, tuple(notes), lineage)


def _parts(fleet: Any, devices: int | None) -> tuple[Record, Record | None, Record | None, int, int]:
    if isinstance(fleet, Record) and fleet.kind == "hardware":
        return fleet, None, None, inputs.positive_int(devices, "devices") if devices is not None else 0, 0
    f = fleet_of(fleet, devices)
    return f.hardware, f.node, f.cluster, f.devices, f.nodes


def _capex(hardware: Record, node: Record | None, fabric: Record | None, n: int, nodes: int,
           lineage: Lineage, years: dict[str, Any], notes: list[str]) -> tuple[float, str]:
    node_cost = node.get("unit_cost") if node is not None else None
    if node_cost is not None:
        capex = nodes * lineage.use(node_cost)
        basis = f"{nodes} x {node.label} node"
        years["capex"] = node_cost.valid_time
    elif (device_cost := hardware.get("unit_cost")) is not None:
        capex = n * lineage.use(device_cost)
        basis = f"{n} x {hardware.label} accelerator"
        years["capex"] = device_cost.valid_time
        if node is not None:
            notes.append(f"{node.label} has no cited unit cost: capex counts the accelerators only (no host, chassis or NICs)")
    else:
        raise MlsysimError(
            f"no unit cost for {hardware.label}" + (f" or {node.label}" if node is not None else "")
            + " in the catalog; add a cited unit_cost to compute capital cost"
        )
    port_cost = fabric.get("port_cost") if fabric is not None else None
    if port_cost is not None:
        capex += n * lineage.use(port_cost)
        basis += f" + {n} x {fabric.label} port"
        years["fabric"] = port_cost.valid_time
    elif fabric is not None:
        notes.append(f"{fabric.label} has no cited port cost: network capex is not included")
    return capex, basis


def _amount(value: Any, default_id: str, catalog: Catalog, lineage: Lineage, dimension: str, what: str) -> float:
    if value is None:
        value = cited_assumption(catalog, default_id, what, "economics solver")
    return inputs.as_si(value, dimension, what, lineage)
