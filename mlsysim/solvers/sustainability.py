"""Energy, carbon and water of a job, operational and (optionally) embodied.

  IT energy        E_IT = accelerator-hours x device power x utilization
  facility energy  E = E_IT x PUE
  carbon           C = E x grid carbon intensity (its basis, lifecycle or direct, is reported)
  water            W = E_IT x WUE (on-site cooling) + E x grid water intensity (off-site, if known)
  embodied carbon  per-accelerator + per-server manufacturing carbon x job time /
                   (replacement period x average usage)

The device power model is the one the LLaMA authors used after Wu et al. (2022):
GPU-hours x the GPU's thermal design power x PUE, i.e. utilization 1 at TDP. A node's
stated system power (host, NICs, fans included) can be used instead.

References
----------
Touvron et al. 2023, "LLaMA", arXiv 2302.13971, Sec. 6 and Table 15 (Wh = GPU-h x GPU
power x PUE; tCO2eq = MWh x carbon intensity).
Wu et al. 2022, "Sustainable AI: Environmental Implications, Challenges and
Opportunities", arXiv 2111.00364.
Patterson et al. 2021, "Carbon Emissions and Large Neural Network Training", arXiv
2104.10350 (energy x PUE x grid intensity; location matters).
Luccioni, Viguier & Ligozat 2023, "Estimating the Carbon Footprint of BLOOM", arXiv
2211.02001, Sec. 4.1 (embodied carbon amortised over replacement period x usage).
The Green Grid 2011, WP#35 "Water Usage Effectiveness (WUE)" (site water / IT energy).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mlsysim.catalog import inputs
from mlsysim.catalog import Catalog
from mlsysim.catalog.records import Record
from mlsysim.errors import MlsysimError
from mlsysim.lineage import Lineage
from mlsysim.solvers.fleet import Fleet, Site, fleet_of, grid_intensity
from mlsysim.solvers.results import QuantityView
from mlsysim.solvers.terms import cited_assumption

EMBODIED_GPU = "embodied_carbon_gpu"
EMBODIED_SERVER = "embodied_carbon_gpu_server"
REPLACEMENT_PERIOD = "hardware_replacement_period_idris"
AVERAGE_USAGE = "hardware_average_usage_idris"
POWER_MODELS = ("tdp", "node")
SECONDS_PER_HOUR = 3600.0


@dataclass(slots=True)  # built on every solve: plain slots are the cheapest to build
class SustainabilityResult(QuantityView):
    """Energy [J], carbon [kg CO2(e)], water [m^3] of one job, with what they rest on
    (SI floats; `quantity(name)` for a pint view)."""

    devices: int
    device_hours: float  # accelerator-hours [h]
    power_model: str
    it_power: float  # [W] average for the whole job
    it_energy: float  # [J]
    pue: float
    facility_energy: float  # [J]
    carbon_intensity: float  # [kg/J]
    carbon_basis: str  # "lifecycle", "direct" or "not stated by the source"
    grid: str  # the grid (or assumption) the intensity comes from
    operational_carbon: float  # [kg]
    embodied_carbon: float | None  # [kg], None when not asked for
    water_onsite: float | None  # [m^3], None when the datacenter states no WUE
    water_offsite: float | None  # [m^3], None when the grid states no water intensity
    lineage: Lineage

    UNITS = {"device_hours": "h", "it_power": "W", "it_energy": "J", "pue": "", "facility_energy": "J",
             "carbon_intensity": "kg/J", "operational_carbon": "kg", "embodied_carbon": "kg", "water_onsite": "m^3",
             "water_offsite": "m^3", "total_carbon": "kg", "water": "m^3"}

    @property
    def total_carbon(self) -> float:
        return self.operational_carbon + (self.embodied_carbon or 0.0)

    @property
    def water(self) -> float | None:
        parts = [w for w in (self.water_onsite, self.water_offsite) if w is not None]
        return sum(parts) if parts else None

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "lineage"}
        out.update(total_carbon=self.total_carbon, water=self.water,
                   catalog=self.lineage.catalog, lineage=[e.to_dict() for e in self.lineage.entries()])
        return out


@dataclass(frozen=True)
class PowerSpec:
    """What the accelerators draw: `power_model` "tdp" (accelerator TDP) or "node" (node
    system power / accelerators), or `device_power` [W] per device (a number or cited value)
    replacing the model; `utilization` the average fraction of it drawn (default 1, as the
    LLaMA / Wu et al. method assumes); `embodied` adds amortised manufacturing carbon.
    `pue` and `carbon_intensity` (numbers or cited values) override the site's."""

    power_model: str = "tdp"
    device_power: Any = None
    utilization: Any = 1.0
    embodied: bool = False
    pue: Any = None
    carbon_intensity: Any = None

    @property
    def memo_key(self) -> tuple[Any, ...] | None:
        return inputs.memo_key(self.power_model, self.device_power, self.utilization, self.embodied, self.pue,
                               self.carbon_intensity)


_SITE_FIELDS = ("grid", "datacenter", "carbon_basis")
_POWER_FIELDS = tuple(f.name for f in fields(PowerSpec))


class SustainabilityModel:
    """Energy, carbon and water of running accelerators for a while somewhere."""

    def solve(self, fleet: Record | Fleet, duration: float | None = None, *, devices: int | None = None,
              device_hours: float | None = None, catalog: Catalog | None = None, **site_and_power: Any) -> SustainabilityResult:
        """
        fleet             a cluster, a Fleet, or a hardware record (then pass devices)
        duration [s]      wall-clock time the accelerators run, or
        device_hours [h]  accelerator-hours directly (as papers report them)
        grid              grid record or name (default: the datacenter's grid); an unknown
                          name is an error
        datacenter        datacenter record or name (default: the cluster's); gives PUE and WUE
        pue               overrides the datacenter's PUE (number or cited assumption)
        carbon_intensity  overrides the grid's intensity [kg/J] (number or cited assumption)
        utilization, power_model, device_power, embodied: see PowerSpec
        A thin wrapper over `power_draw(fleet, ...).over(duration, device_hours)`.
        """
        return power_draw(fleet, devices=devices, catalog=catalog, **site_and_power).over(duration, device_hours)


@dataclass(frozen=True)
class PowerDraw:
    """What a job draws and where, read from the catalog: everything SustainabilityModel.solve
    needs but how long the job runs (see `power_draw`)."""

    devices: int
    power_model: str
    device_power: float  # [W]
    utilization: float
    pue: float
    carbon_intensity: float  # [kg/J]
    carbon_basis: str
    grid: str
    wue: float | None  # [m^3/J] on-site water per IT energy
    water_intensity: float | None  # [m^3/J] off-site water per facility energy
    embodied: tuple[float, float, float, float, float] | None  # per GPU [kg], per server [kg], life [h], usage, servers
    lineage: Lineage

    def over(self, duration: float | None = None, device_hours: float | None = None) -> SustainabilityResult:
        """Energy, carbon and water of drawing this for `duration` seconds (or `device_hours`)."""
        n = self.devices
        hours = _device_hours(n, duration, device_hours)
        it_energy, facility, carbon = operational_footprint(hours, self.device_power, self.utilization, self.pue,
                                                            self.carbon_intensity)
        embodied_kg = None
        if self.embodied is not None:
            embodied_kg = _embodied(self.embodied, n, hours)
        lineage = Lineage()
        lineage.merge(self.lineage)
        return SustainabilityResult(
            devices=n, device_hours=hours, power_model=self.power_model,
            it_power=n * self.device_power * self.utilization, it_energy=it_energy, pue=self.pue,
            facility_energy=facility, carbon_intensity=self.carbon_intensity, carbon_basis=self.carbon_basis,
            grid=self.grid, operational_carbon=carbon, embodied_carbon=embodied_kg,
            water_onsite=self.wue * it_energy if self.wue is not None else None,
            water_offsite=self.water_intensity * facility if self.water_intensity is not None else None,
            lineage=lineage,
        )


def operational_footprint(device_hours: Any, device_power: Any, utilization: Any, pue: Any,
                          carbon_intensity: Any) -> tuple[Any, Any, Any]:
    """IT energy [J], facility energy [J] and operational carbon [kg] of running accelerators.

    Parameters
    ----------
    device_hours : [h] accelerator-hours.
    device_power : [W] power of one accelerator under the power model (TDP, node share, given).
    utilization : [1] average fraction of that power drawn.
    pue : [1] facility power / IT power of the datacenter.
    carbon_intensity : [kg/J] CO2(e) per unit of electricity of the grid.

    Returns
    -------
    E_IT = device_hours x 3600 x device_power x utilization;
    E = E_IT x pue;  C = E x carbon_intensity.  Floats or numpy arrays alike.

    References
    ----------
    Patterson et al. 2021, "Carbon Emissions and Large Neural Network Training", arXiv
    2104.10350 (energy x PUE x grid intensity).
    Touvron et al. 2023, "LLaMA", arXiv 2302.13971, Sec. 6 (GPU-hours x GPU power x PUE).
    """
    it_energy = device_hours * SECONDS_PER_HOUR * device_power * utilization
    facility = it_energy * pue
    return it_energy, facility, facility * carbon_intensity


def power_draw(fleet: Record | Fleet, site: Site | None = None, power: PowerSpec | None = None, *,
               devices: int | None = None, catalog: Catalog | None = None, **fields_: Any) -> PowerDraw:
    """What a job draws and where (SustainabilityModel.solve's inputs but its length), read
    once per catalog and distinct inputs: `power_draw(...).over(duration)` is
    `SustainabilityModel().solve(...)`. The site and power are `site=` / `power=` or their
    fields as keywords (grid, datacenter; power_model, device_power, utilization, embodied,
    pue, carbon_intensity)."""
    unknown = [k for k in fields_ if k not in _SITE_FIELDS + _POWER_FIELDS]
    if unknown:
        raise MlsysimError(f"unknown argument {unknown[0]!r}; use {', '.join(_SITE_FIELDS + _POWER_FIELDS)}")
    if power is None:
        power = PowerSpec(**{k: v for k, v in fields_.items() if k in _POWER_FIELDS})
    site_given = {k: v for k, v in fields_.items() if k in _SITE_FIELDS}
    catalog = inputs.catalog_of(fleet, site_given.get("grid"), site_given.get("datacenter"), power.device_power,
                                power.utilization, power.pue, power.carbon_intensity, catalog=catalog)
    parts = _fleet_parts(fleet, devices)
    hardware, _, cluster, n, _ = parts
    if site is None:
        site = Site.of(catalog=catalog, cluster=cluster, **site_given)
    memo = catalog.derived("power_draw")
    key = inputs.memo_key(hardware, cluster, n, site, power)
    found = memo.get(key) if key is not None else None
    if found is None:
        found = _read_draw(catalog, parts, site, power)
        if key is not None:
            inputs.remember(memo, key, found)
    return found


def _device_power(hardware: Record, node: Record | None, power: PowerSpec, lineage: Lineage) -> tuple[float, str]:
    """[W] per device, and the power model it came from."""
    if power.device_power is not None:
        return inputs.as_si(power.device_power, "power", "device_power", lineage), "given"
    if power.power_model not in POWER_MODELS:
        raise MlsysimError(f"power_model must be 'tdp' or 'node', got {power.power_model!r}")
    if power.power_model == "tdp":
        if not hardware.has("tdp"):
            raise MlsysimError(f"{hardware.label} has no TDP in the catalog ({hardware.file}); use power_model='node' or add a cited tdp")
        return lineage.use(hardware.tdp), "tdp"
    if node is None or not node.has("power"):
        where = node.label if node is not None else hardware.label
        raise MlsysimError(f"{where} has no node system power in the catalog; use power_model='tdp'")
    return lineage.use(node.power) / lineage.use(node.accelerator_count), "node"


def _read_draw(catalog: Catalog, parts: tuple[Record, Record | None, Record | None, int, Lineage], site: Site,
               power: PowerSpec) -> PowerDraw:
    hardware, node, cluster, n, fleet_lineage = parts
    lineage = Lineage()
    lineage.merge(fleet_lineage)
    if power.power_model not in POWER_MODELS:
        raise MlsysimError(f"power_model must be 'tdp' or 'node', got {power.power_model!r}")
    device_power, power_model = _device_power(hardware, node, power, lineage)
    util = inputs.fraction(power.utilization, "utilization", lineage)

    dc, grid = site.datacenter, site.grid
    if power.pue is not None:
        pue_value = inputs.as_si(power.pue, "dimensionless", "pue", lineage)
        if pue_value < 1:
            raise MlsysimError(f"pue must be >= 1 (facility power / IT power), got {pue_value:g}")
    elif dc is not None:
        pue_value = lineage.use(dc.pue)
    else:
        raise MlsysimError("no PUE: pass datacenter= (e.g. 'Hyperscale', 'Enterprise_Avg') or pue=")

    if power.carbon_intensity is not None:
        given = power.carbon_intensity
        cited = given.quantity if isinstance(given, Record) else given
        ci = inputs.as_si(given, "carbon_intensity", "carbon_intensity", lineage)
        cited_value = cited if hasattr(cited, "qualifiers") else None
        basis = (cited_value.qualifiers.get("basis") if cited_value else None) or "not stated by the source"
        grid_label = cited_value.path if cited_value else "user-supplied intensity"
    elif grid is not None:
        intensity, basis, grid_label = grid_intensity(grid, site.carbon_basis)
        ci = lineage.use(intensity)
    else:
        raise MlsysimError("no carbon intensity: pass grid= (e.g. 'US_Avg', 'Quebec'; see `mlsysim zoo grids`)")

    wue = dc.get("wue") if dc is not None else None
    water = grid.get("water_intensity") if grid is not None and power.carbon_intensity is None else None
    return PowerDraw(
        devices=n, power_model=power_model, device_power=device_power, utilization=util, pue=pue_value,
        carbon_intensity=ci, carbon_basis=basis, grid=grid_label,
        wue=lineage.use(wue) if wue is not None else None,
        water_intensity=lineage.use(water) if water is not None else None,
        embodied=_embodied_constants(catalog, lineage, n, node) if power.embodied else None, lineage=lineage,
    )


def _fleet_parts(fleet: Any, devices: int | None) -> tuple[Record, Record | None, Record | None, int, Lineage]:
    """(accelerator, node, cluster, devices, lineage) of a cluster, a Fleet, or bare accelerators."""
    if isinstance(fleet, Record) and fleet.kind == "hardware":
        if devices is None:
            raise MlsysimError(f"pass devices= (how many {fleet.label} accelerators)")
        return fleet, None, None, inputs.positive_int(devices, "devices"), Lineage()
    if not isinstance(fleet, (Record, Fleet)):
        raise MlsysimError(f"expected a cluster, a Fleet or a hardware record, got {fleet!r}")
    f = fleet_of(fleet, devices)
    return f.hardware, f.node, f.cluster, f.devices, f.lineage


def _device_hours(n: int, duration: float | None, device_hours: float | None) -> float:
    if (duration is None) == (device_hours is None):
        raise MlsysimError("pass exactly one of duration= (seconds) or device_hours= (accelerator-hours)")
    if device_hours is not None:
        return inputs.finite_positive(device_hours, "device_hours")
    inputs.finite_positive(duration, "duration (seconds)")
    return n * duration / SECONDS_PER_HOUR


def _embodied_constants(catalog: Catalog, lineage: Lineage, n: int, node: Record | None) -> tuple[float, float, float, float, float]:
    """Per-GPU and per-server manufacturing carbon [kg], replacement period [h], average
    usage, and the servers the job holds (Luccioni et al. 2023)."""
    use = lambda ident: lineage.use(cited_assumption(catalog, ident, "embodied carbon", "sustainability solver"))  # noqa: E731
    per_gpu = use(EMBODIED_GPU)
    per_server = use(EMBODIED_SERVER)
    life_h = use(REPLACEMENT_PERIOD) / SECONDS_PER_HOUR
    usage = use(AVERAGE_USAGE)
    # Without a node record (bare accelerators) there is no server to charge.
    servers = n / lineage.use(node.accelerator_count) if node is not None else 0.0
    return per_gpu, per_server, life_h, usage, servers


def _embodied(constants: tuple[float, float, float, float, float], n: int, hours: float) -> float:
    """Manufacturing carbon [kg] charged to this job: (GPUs x per-GPU [kg] + servers x
    per-server [kg]) x job hours [h] / (replacement period [h] x usage [1]).
    Bare accelerators (no node record) are charged for the GPUs only.

    References
    ----------
    Luccioni, Viguier & Ligozat 2023, "Estimating the Carbon Footprint of BLOOM", arXiv
    2211.02001, Sec. 4.1.
    """
    per_gpu, per_server, life_h, usage, servers = constants
    job_hours = hours / n  # wall-clock hours each accelerator is held
    return (n * per_gpu + servers * per_server) * job_hours / (life_h * usage)
